//! `dns-up` against a real PowerDNS: zone creation, answers checked with `dig`, idempotence,
//! ownership in rrset comments, conflicts and adoption, two catalogs sharing a zone, and the
//! migration of the previous release's marker records.

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
        .stderr_has("applied 3 changes")
        .stderr_has("powerdns: POST /api/v1/servers/localhost/zones -> 201");
    assert_eq!(
        first.stderr.matches("PATCH").count(),
        1,
        "one PATCH for the whole change set:\n{}",
        first.stderr
    );
    assert_eq!(pdns.dig("app.example.org", "A"), ["192.0.2.10"]);
    assert_eq!(pdns.dig("example.org", "TXT"), ["\"v=spf1 -all\""]);
    assert!(
        pdns.dig("_boma.app.example.org", "TXT").is_empty(),
        "ownership is a comment, not a marker record"
    );
    assert_eq!(
        pdns.comments(),
        [
            "app.example.org A boma heritage=boma v=2 owner=boma",
            "example.org TXT boma heritage=boma v=2 owner=boma",
            "wiki.example.org A boma heritage=boma v=2 owner=boma",
        ]
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
    let removal = boma.run_with(["dns-preview"]);
    removal
        .success()
        .stdout_has("- A 300 192.0.2.10")
        .stdout_has("0 to create, 0 to update, 1 to delete, 2 unchanged");
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
        .stderr_has("applied 1 change to");
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

/// A catalog owned by `owner` with services `(name, ip)` in example.org.
fn owned_catalog(api: &str, owner: &str, services: &[(&str, &str)], extra: &str) -> String {
    catalog(api, services).replace("[dns]\n", &format!("[dns]\nowner = \"{owner}\"\n{extra}"))
}

#[test]
fn two_catalogs_share_a_zone_without_touching_each_others_records() {
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    pdns.create_zone("example.org");
    let team_a = Boma::new()
        .catalog(&owned_catalog(
            &pdns.api,
            "team-a",
            &[("app", "192.0.2.10")],
            "",
        ))
        .env("PDNS_KEY", API_KEY);
    team_a.run_with(["dns-up"]).success();
    // Team B declares its own service, and (by mistake) team A's name and apex TXT too.
    let team_b = Boma::new()
        .catalog(&owned_catalog(
            &pdns.api,
            "team-b",
            &[("wiki", "192.0.2.20"), ("app", "192.0.2.99")],
            "purge = true\n",
        ))
        .env("PDNS_KEY", API_KEY);
    let conflict = team_b.run_with(["dns-up", "--adopt"]);
    conflict
        .code(2)
        .stdout_has("! app.example.org A: held by owner `team-a` (192.0.2.10); another catalog's record is never taken over")
        .stderr_has("(owner `team-a`)")
        .stderr_has("remove the name from the catalog of `team-a`");
    assert_eq!(pdns.dig("app.example.org", "A"), ["192.0.2.10"]);

    // Without the clash, team B writes its name, and neither its purge nor team A's next run
    // deletes the other's records.
    let team_b = team_b.file(
        "services.toml",
        owned_catalog(
            &pdns.api,
            "team-b",
            &[("wiki", "192.0.2.20")],
            "purge = true\n",
        )
        .replace(
            "values = [\"v=spf1 -all\"]",
            "values = [\"v=spf1 mx -all\"]",
        )
        .replace("name = \"@\"", "name = \"b\""),
    );
    team_b.run_with(["dns-up"]).success();
    let again = team_a.run_with(["dns-preview", "--exit-code"]);
    again.success().stdout_has("no changes");
    assert_eq!(pdns.dig("app.example.org", "A"), ["192.0.2.10"]);
    assert_eq!(pdns.dig("wiki.example.org", "A"), ["192.0.2.20"]);
    assert_eq!(pdns.dig("example.org", "TXT"), ["\"v=spf1 -all\""]);
    assert!(
        pdns.comments()
            .contains(&"wiki.example.org A boma heritage=boma v=2 owner=team-b".to_string())
    );
    // Team A imports nothing of team B's.
    let imported = team_a.run_with(["dns-import"]);
    imported
        .success()
        .stdout_has("# skipped: wiki.example.org A: held by owner `team-b`");
}

#[test]
fn a_zone_written_by_the_previous_release_is_migrated_without_touching_records() {
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    // The zone exactly as the previous release wrote it for this catalog: each record, and a
    // `_boma` TXT marker per name that names no owner and no format.
    pdns.create_zone("example.org");
    pdns.add_foreign("example.org", "app", "A", "192.0.2.10");
    pdns.add_foreign(
        "example.org",
        "_boma.app",
        "TXT",
        "\"heritage=boma types=A\"",
    );
    pdns.add_foreign("example.org", "@", "TXT", "\"v=spf1 -all\"");
    pdns.add_foreign("example.org", "_boma", "TXT", "\"heritage=boma types=TXT\"");
    pdns.add_foreign("example.org", "gone", "A", "192.0.2.12");
    pdns.add_foreign(
        "example.org",
        "_boma.gone",
        "TXT",
        "\"heritage=boma types=A\"",
    );
    let rows = pdns.record_rows();
    let boma = Boma::new()
        .catalog(&owned_catalog(
            &pdns.api,
            "homelab",
            &[("app", "192.0.2.10")],
            "",
        ))
        .env("PDNS_KEY", API_KEY);
    let preview = boma.run_with(["dns-preview"]);
    preview
        .success()
        .stdout_has("* A 300 192.0.2.10 (ownership mark only)")
        .stdout_has("- TXT 300 heritage=boma types=A")
        .stdout_has("- A 300 192.0.2.12")
        .stdout_has("0 to create, 0 to update, 4 to delete, 2 to mark as owned, 0 unchanged");
    assert!(
        !preview.stdout.contains('!'),
        "no conflict: {}",
        preview.stdout
    );
    boma.run_with(["dns-up"]).success();
    // The kept records' rows are the very same rows (same ids); only the removed service's went.
    let kept: Vec<&str> = rows
        .lines()
        .filter(|row| !row.contains("gone.example.org"))
        .collect();
    assert_eq!(pdns.record_rows().lines().collect::<Vec<_>>(), kept);
    assert!(pdns.dig("_boma.app.example.org", "TXT").is_empty());
    assert!(pdns.dig("_boma.example.org", "TXT").is_empty());
    assert_eq!(
        pdns.comments(),
        [
            "app.example.org A boma heritage=boma v=2 owner=homelab",
            "example.org TXT boma heritage=boma v=2 owner=homelab",
        ]
    );
    boma.run_with(["dns-preview", "--exit-code"])
        .success()
        .stdout_has("no changes");
}

/// indri serves `app` and `wiki` under `ops.example.org`; ringtail serves `blog` there too.
fn wildcard_catalog(api: &str, wildcard: bool) -> String {
    let caddy = if wildcard {
        "wildcard = [\"ops.example.org\"]\n"
    } else {
        ""
    };
    format!(
        "version = 1\n[secrets]\npdns = {{ env = \"PDNS_KEY\" }}\n\
         [dns]\nprovider = \"powerdns\"\nzone = \"example.org\"\ncredentials = \"pdns\"\nurl = \"{api}\"\n\
         [hosts.indri]\naddress = \"indri.tail.ts.net\"\nip = \"100.64.0.1\"\n\
         [hosts.indri.caddy]\ndns_challenge = {{ provider = \"gandi\", token_env = \"GANDI_TOKEN\" }}\n{caddy}\
         [hosts.ringtail]\naddress = \"ringtail.tail.ts.net\"\nip = \"100.64.0.2\"\n\
         [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:3000\"\nnames = [\"app.ops.example.org\"]\n\
         [services.wiki]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:3001\"\nnames = [\"wiki.ops.example.org\"]\n\
         [services.blog]\nhost = \"ringtail\"\nupstream = \"http://127.0.0.1:3002\"\nnames = [\"blog.ops.example.org\"]\n"
    )
}

#[test]
fn a_wildcard_replaces_the_per_name_records_without_a_name_ever_failing_to_resolve() {
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    let per_name = Boma::new()
        .catalog(&wildcard_catalog(&pdns.api, false))
        .env("PDNS_KEY", API_KEY);
    per_name
        .run_with(["dns-up", "--create-zone"])
        .success()
        .stderr_has("applied 3 changes");
    let names = [
        ("app.ops.example.org", "100.64.0.1"),
        ("wiki.ops.example.org", "100.64.0.1"),
        ("blog.ops.example.org", "100.64.0.2"),
    ];
    for (name, ip) in names {
        assert_eq!(pdns.dig(name, "A"), [ip], "{name} before");
    }
    assert!(pdns.dig("new.ops.example.org", "A").is_empty());

    // One plan: the wildcard created first, then indri's names deleted; ringtail's name stays.
    let wildcard = per_name.file("services.toml", wildcard_catalog(&pdns.api, true));
    let preview = wildcard.run_with(["dns-preview"]);
    preview.success();
    crate::support::snapshot("dns_powerdns__wildcard_preview", &preview.stdout);
    let json = wildcard.run_with(["--output", "json", "dns-preview"]);
    json.success();
    let plan: serde_json::Value = serde_json::from_str(&json.stdout).unwrap_or_default();
    let order: Vec<String> = plan["changes"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|change| {
            format!(
                "{} {}",
                change["action"].as_str().unwrap_or("?"),
                change["rrset"]["name"].as_str().unwrap_or("?")
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            "create *.ops.example.org",
            "delete app.ops.example.org",
            "delete wiki.ops.example.org"
        ],
        "{}",
        json.stdout
    );

    // Every name resolves at every moment of the apply (polled while it runs), which is one
    // PATCH: PowerDNS applies the wildcard and the deletes together.
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let poller = {
        let stop = stop.clone();
        let port = pdns.dns_port;
        std::thread::spawn(move || {
            let mut polls = Vec::new();
            while !stop.load(std::sync::atomic::Ordering::Relaxed) || polls.len() < 3 {
                for (name, _) in names {
                    let answer = std::process::Command::new("dig")
                        .args([
                            "@127.0.0.1",
                            "-p",
                            &port.to_string(),
                            "+short",
                            "+norecurse",
                        ])
                        .args(["+time=2", "+tries=1", name, "A"])
                        .output()
                        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string())
                        .unwrap_or_default();
                    polls.push((name, answer));
                }
            }
            polls
        })
    };
    let applied = wildcard.run_with(["-v", "dns-up"]);
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let polls = poller.join().unwrap_or_default();
    applied.success().stderr_has("applied 3 changes");
    assert_eq!(
        applied.stderr.matches("PATCH").count(),
        1,
        "{}",
        applied.stderr
    );
    let unanswered: Vec<_> = polls
        .iter()
        .filter(|(_, answer)| answer.is_empty())
        .collect();
    assert!(
        !polls.is_empty() && unanswered.is_empty(),
        "{} polls, unanswered: {unanswered:?}",
        polls.len()
    );
    for (name, ip) in names {
        assert_eq!(pdns.dig(name, "A"), [ip], "{name} after");
    }
    // A name nothing serves resolves too (Caddy answers it 404), and DNS prefers blog's own record.
    assert_eq!(pdns.dig("new.ops.example.org", "A"), ["100.64.0.1"]);
    assert_eq!(pdns.dig("*.ops.example.org", "A"), ["100.64.0.1"]);

    wildcard
        .run_with(["dns-up"])
        .success()
        .stderr_has("no changes for zone example.org");
}
