//! `dns-import`: the records no service derives, as a fragment that, pasted into the catalog,
//! leaves `dns-preview` with no record change (only ownership to take), on a zone file and on a
//! real PowerDNS (the Cloudflare and Gandi contract servers have theirs in their own modules).

use crate::support::powerdns::{API_KEY, PowerDns};
use crate::support::{Boma, snapshot};

#[test]
fn a_zone_files_hand_made_records_come_back_as_a_fragment_that_changes_nothing() {
    let shipped =
        std::fs::read_to_string(crate::support::repo_file("services.toml")).unwrap_or_default();
    let known_hosts =
        std::fs::read(crate::support::repo_file("ssh/known_hosts")).unwrap_or_default();
    let boma = Boma::new()
        .catalog(&shipped)
        .file("ssh/known_hosts", known_hosts);
    boma.run_with(["dns-up"]).success();
    let zone = boma.path().join("zones/example.org.zone");
    let mut text = std::fs::read_to_string(&zone).unwrap_or_default();
    text.push_str("www 600 IN CNAME example.github.io.\nold 300 IN A 192.0.2.9\n_mta-sts 3600 IN TXT \"v=STSv1; id=2026\"\n");
    std::fs::write(&zone, &text).unwrap_or_else(|e| panic!("{e}"));
    // Without the fragment, the zone file (boma's whole) would lose them.
    boma.run_with(["dns-preview", "--exit-code"])
        .code(1)
        .stdout_has("- CNAME 600 example.github.io.");

    let run = boma.run_with(["dns-import"]);
    run.success()
        .stderr_has("dns-import: 3 records to paste, 0 skipped, 0 derived names differing live");
    assert!(
        run.stdout.contains(
            "name = \"www\"\ntype = \"CNAME\"\nttl = 600\nvalues = [\"example.github.io.\"]"
        ),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(
            "name = \"_mta-sts\"\ntype = \"TXT\"\nttl = 3600\nvalues = [\"v=STSv1; id=2026\"]"
        ),
        "{}",
        run.stdout
    );
    snapshot("dns_import__zonefile_fragment", &run.stdout);
    let boma = boma.file("services.toml", format!("{shipped}\n{}", run.stdout));
    boma.run_with(["check"]).success();
    boma.run_with(["dns-preview", "--exit-code"])
        .success()
        .stdout_has("no changes");
    // Nothing left to import; --zone names one of the catalog's zones.
    boma.run_with(["dns-import", "--zone", "public"])
        .success()
        .stderr_has("0 records to paste");
    boma.run_with(["dns-import", "--zone", "publc"])
        .code(2)
        .stderr_has("zone `publc` is not in the catalog")
        .stderr_has("did you mean `public`? zones: ops, public");
}

#[test]
fn powerdns_records_are_imported_and_adopted_by_ownership_alone() {
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    let catalog = format!(
        "version = 1\n[secrets]\npdns = {{ env = \"PDNS_KEY\" }}\n\
         [dns]\nprovider = \"powerdns\"\nzone = \"example.org\"\ncredentials = \"pdns\"\nurl = \"{}\"\n\
         [hosts.indri]\naddress = \"indri.tail.ts.net\"\nip = \"100.64.0.1\"\n\
         [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:80\"\nnames = [\"app.example.org\"]\n",
        pdns.api
    );
    let boma = Boma::new().catalog(&catalog).env("PDNS_KEY", API_KEY);
    boma.run_with(["dns-up", "--create-zone"]).success();
    pdns.add_foreign("example.org", "legacy", "A", "198.51.100.7");
    pdns.add_foreign("example.org", "mail", "MX", "10 mx.example.net.");
    pdns.add_foreign("example.org", "app", "TXT", "\"hand made\"");

    let run = boma.run_with(["dns-import", "--output", "json"]);
    run.success();
    let imported = run.json();
    let names: Vec<String> = imported["records"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|rrset| {
            format!(
                "{} {}",
                rrset["name"].as_str().unwrap_or_default(),
                rrset["type"].as_str().unwrap_or_default()
            )
        })
        .collect();
    assert_eq!(
        names,
        [
            "app.example.org TXT",
            "legacy.example.org A",
            "mail.example.org MX"
        ],
        "no SOA, apex NS or ownership marker"
    );
    let fragment = boma.run_with(["dns-import"]).stdout;
    assert!(
        !fragment.contains("_boma") && !fragment.contains("SOA"),
        "{fragment}"
    );

    // Pasted: no record changes, only the ownership to take; taking it writes comments alone
    // (the backend's record rows stay the same rows).
    let boma = boma.file("services.toml", format!("{catalog}\n{fragment}"));
    boma.run_with(["dns-preview"])
        .success()
        .stdout_has("! legacy.example.org A: the same records exist (198.51.100.7), not owned by boma; --adopt takes ownership");
    let preview = boma.run_with(["dns-preview", "--adopt"]);
    preview.success();
    crate::support::assert_only_ownership_changes(&preview.stdout);
    let rows = pdns.record_rows();
    boma.run_with(["dns-up", "--adopt"]).success();
    assert_eq!(pdns.record_rows(), rows);
    assert_eq!(pdns.comments().len(), 4, "{:?}", pdns.comments());
    boma.run_with(["dns-preview", "--exit-code"])
        .success()
        .stdout_has("no changes");
    assert_eq!(pdns.dig("legacy.example.org", "A"), ["198.51.100.7"]);
    assert_eq!(pdns.dig("mail.example.org", "MX"), ["10 mx.example.net."]);
}
