//! `dns-up` against a real PowerDNS: zone creation, answers checked with `dig`, idempotence,
//! ownership of records, conflicts and adoption.

use crate::support::Boma;
use crate::support::powerdns::{API_KEY, PowerDns};

fn catalog(api: &str, services: &[(&str, &str)]) -> String {
    let mut text = format!(
        "version = 1\n[secrets]\npdns = {{ env = \"PDNS_KEY\" }}\n\
         [dns]\nprovider = \"powerdns\"\nzone = \"example.org\"\ncredentials = \"pdns\"\nurl = \"{api}\"\n\
         [[dns.records]]\nname = \"@\"\ntype = \"TXT\"\nvalues = [\"v=spf1 -all\"]\n\
         [hosts.indri]\naddress = \"indri.tail.ts.net\"\nip = \"100.64.0.1\"\n"
    );
    for (name, ip) in services {
        let host = format!("h{}", name);
        text.push_str(&format!(
            "[hosts.{host}]\naddress = \"{host}.tail.ts.net\"\nip = \"{ip}\"\n[services.{name}]\nhost = \"{host}\"\nupstream = \"http://127.0.0.1:80\"\nnames = [\"{name}.example.org\"]\n"
        ));
    }
    text
}

fn assert_no_key(runs: &[&crate::support::Run]) {
    for run in runs {
        assert!(
            !run.stdout.contains(API_KEY) && !run.stderr.contains(API_KEY),
            "the API key was printed"
        );
    }
}

#[test]
fn sync_creates_the_zone_serves_answers_and_converges() {
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    let boma = Boma::new()
        .catalog(&catalog(
            &pdns.api,
            &[("app", "192.0.2.10"), ("wiki", "192.0.2.11")],
        ))
        .env("PDNS_KEY", API_KEY);

    let missing = boma.run_with(["dns-preview"]);
    missing
        .code(2)
        .stderr_has("powerdns: zone `example.org` does not exist")
        .stderr_has("--create-zone");

    let first = boma.run_with(["-v", "dns-up", "--create-zone"]);
    first
        .success()
        .stderr_has("applied 6 changes")
        .stderr_has("powerdns: POST /api/v1/servers/localhost/zones -> 201");
    assert_eq!(
        first.stderr.matches("PATCH").count(),
        1,
        "one PATCH for the whole change set:\n{}",
        first.stderr
    );
    assert_eq!(pdns.dig("app.example.org", "A"), ["192.0.2.10"]);
    assert_eq!(pdns.dig("example.org", "TXT"), ["\"v=spf1 -all\""]);
    assert_eq!(
        pdns.dig("_boma.app.example.org", "TXT"),
        ["\"heritage=boma types=A\""]
    );

    let second = boma.run_with(["-v", "dns-up"]);
    second
        .success()
        .stderr_has("no changes for zone example.org");
    assert!(
        !second.stderr.contains("PATCH"),
        "an unchanged run sends no write:\n{}",
        second.stderr
    );
    assert_eq!(
        second.stderr.matches("powerdns: GET").count(),
        1,
        "the zone is read in one request"
    );
    assert_no_key(&[&missing, &first, &second]);
}

#[test]
fn foreign_records_are_kept_conflicts_need_adopt_and_removed_services_go() {
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    let boma = Boma::new()
        .catalog(&catalog(&pdns.api, &[("app", "192.0.2.10")]))
        .env("PDNS_KEY", API_KEY);
    boma.run_with(["dns-up", "--create-zone"]).success();
    pdns.add_foreign("example.org", "legacy", "A", "198.51.100.7");
    pdns.add_foreign("example.org", "wiki", "A", "198.51.100.8");

    boma.run_with(["dns-preview", "--exit-code"])
        .success()
        .stdout_has("no changes");

    let boma = boma.file(
        "services.toml",
        catalog(&pdns.api, &[("app", "192.0.2.10"), ("wiki", "192.0.2.11")]),
    );
    let conflict = boma.run_with(["dns-up"]);
    conflict
        .code(2)
        .stdout_has("! wiki.example.org A: held by a record boma does not own (198.51.100.8)")
        .stderr_has("--adopt");
    assert_eq!(
        pdns.dig("wiki.example.org", "A"),
        ["198.51.100.8"],
        "nothing changed"
    );

    boma.run_with(["dns-up", "--adopt"]).success();
    assert_eq!(pdns.dig("wiki.example.org", "A"), ["192.0.2.11"]);

    let boma = boma.file(
        "services.toml",
        catalog(&pdns.api, &[("wiki", "192.0.2.11")]),
    );
    boma.run_with(["dns-preview"])
        .success()
        .stdout_has("- A 300 192.0.2.10")
        .stdout_has("- TXT 300 heritage=boma types=A");
    boma.run_with(["dns-up"]).success();
    assert!(
        pdns.dig("app.example.org", "A").is_empty(),
        "the removed service's record is gone"
    );
    assert_eq!(
        pdns.dig("legacy.example.org", "A"),
        ["198.51.100.7"],
        "a record boma never created is left alone"
    );
}

#[test]
fn purge_deletes_what_nobody_declared() {
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    let boma = Boma::new()
        .catalog(&catalog(&pdns.api, &[("app", "192.0.2.10")]))
        .env("PDNS_KEY", API_KEY);
    boma.run_with(["dns-up", "--create-zone"]).success();
    pdns.add_foreign("example.org", "legacy", "A", "198.51.100.7");
    let purging =
        catalog(&pdns.api, &[("app", "192.0.2.10")]).replace("url = ", "purge = true\nurl = ");
    let boma = boma.file("services.toml", purging);
    boma.run_with(["dns-up"])
        .success()
        .stderr_has("applied 1 changes");
    assert!(pdns.dig("legacy.example.org", "A").is_empty());
    assert_eq!(pdns.dig("app.example.org", "A"), ["192.0.2.10"]);
}

#[test]
fn wrong_key_names_provider_request_and_status() {
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    let boma = Boma::new()
        .catalog(&catalog(&pdns.api, &[]))
        .env("PDNS_KEY", "wrong-key-value");
    let run = boma.run_with(["dns-preview"]);
    run.code(2).stderr_has(
        "powerdns: GET /api/v1/servers/localhost/zones/example.org. failed: status 401",
    );
    assert!(!run.stderr.contains("wrong-key-value"));
}
