//! Several zones from one catalog: `[dns.zones.NAME]` routing by longest suffix and kind of name
//! (split horizon), catalog errors with their line and column, and one plan and checksum over a
//! real PowerDNS (private names) and a zone file (public names) read side by side.

use crate::support::powerdns::{API_KEY, PowerDns};
use crate::support::{Boma, require};

/// Private names of `example.org` at PowerDNS, public ones in a zone file, and a deeper zone
/// `lab.example.org` (also in a zone file) that carries both kinds.
fn catalog(api: &str) -> String {
    format!(
        "version = 1\n[secrets]\npdns = {{ env = \"PDNS_KEY\" }}\n\
         [dns]\nowner = \"homelab\"\n\
         [dns.zones.tailnet]\nprovider = \"powerdns\"\nzone = \"example.org\"\ncredentials = \"pdns\"\nurl = \"{api}\"\nnames = \"private\"\n\
         [dns.zones.public]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"zones/example.org.zone\"\nnames = \"public\"\n\
         [dns.zones.lab]\nprovider = \"zonefile\"\nzone = \"lab.example.org\"\npath = \"zones/lab.example.org.zone\"\n\
         [[dns.records]]\nzone = \"public\"\nname = \"@\"\ntype = \"NS\"\nvalues = [\"ns1.example.net.\"]\n\
         [[dns.records]]\nzone = \"public\"\nname = \"@\"\ntype = \"TXT\"\nvalues = [\"v=spf1 -all\"]\n\
         [[dns.records]]\nzone = \"lab\"\nname = \"@\"\ntype = \"NS\"\nvalues = [\"ns1.example.net.\"]\n\
         [[dns.records]]\nname = \"mail.lab.example.org.\"\ntype = \"A\"\nvalues = [\"192.0.2.25\"]\n\
         [hosts.indri]\naddress = \"indri.tail.ts.net\"\nip = \"100.64.0.1\"\n\
         [hosts.web]\naddress = \"web.example.net\"\nip = \"192.0.2.80\"\npublic = true\n\
         [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:80\"\nnames = [\"app.example.org\", \"app.lab.example.org\"]\n\
         [services.site]\nhost = \"web\"\nupstream = \"http://127.0.0.1:80\"\npublic = [\"www.example.org\"]\n"
    )
}

fn zone_file(boma: &Boma, name: &str) -> String {
    std::fs::read_to_string(boma.path().join(format!("zones/{name}.zone"))).unwrap_or_default()
}

#[test]
fn private_and_public_names_go_to_their_own_zones_in_one_plan() {
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    pdns.create_zone("example.org");
    let boma = Boma::new()
        .catalog(&catalog(&pdns.api))
        .env("PDNS_KEY", API_KEY);
    boma.run_with(["check"]).success();

    let preview = boma.run_with(["dns-preview", "--output", "json"]);
    preview.success();
    let plan = preview.json();
    let zones: Vec<String> = plan["zones"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|zone| {
            let changes: Vec<String> = zone["changes"]
                .as_array()
                .into_iter()
                .flatten()
                .map(|change| {
                    format!(
                        "{} {}",
                        change["rrset"]["name"].as_str().unwrap_or(""),
                        change["rrset"]["type"].as_str().unwrap_or("")
                    )
                })
                .collect();
            format!(
                "{} {}: {}",
                zone["name"].as_str().unwrap_or(""),
                zone["provider"].as_str().unwrap_or(""),
                changes.join(", ")
            )
        })
        .collect();
    assert_eq!(
        zones,
        [
            "lab zonefile: app.lab.example.org A, lab.example.org NS, mail.lab.example.org A",
            "public zonefile: example.org NS, example.org TXT, www.example.org A",
            "tailnet powerdns: app.example.org A",
        ]
    );
    assert_eq!(plan["summary"]["creates"], 7);
    let checksum = plan["checksum"].as_str().unwrap_or_default().to_string();

    let text = boma.run_with(["dns-preview"]);
    text.success()
        .stdout_has("zone tailnet: example.org (powerdns)")
        .stdout_has("zone public: example.org (zonefile)")
        .stdout_has("all zones: 7 to create, 0 to update, 0 to delete, 0 unchanged")
        .stdout_has(&format!("checksum {checksum}"));

    // The reviewed checksum covers every zone; a wrong one applies nothing anywhere.
    boma.run_with(["dns-up", "--checksum", "0000000000000000"])
        .code(2)
        .stderr_has("checksum 0000000000000000 expected");
    assert!(zone_file(&boma, "example.org").is_empty());
    let up = boma.run_with(["dns-up", "--checksum", &checksum]);
    up.success()
        .stderr_has("applied 1 change to zone example.org")
        .stderr_has("applied 3 changes to zone example.org")
        .stderr_has("applied 3 changes to zone lab.example.org");

    // Split horizon: the tailnet server answers the private name only, the public file holds
    // the public one only.
    assert_eq!(pdns.dig("app.example.org", "A"), ["100.64.0.1"]);
    assert!(pdns.dig("www.example.org", "A").is_empty());
    let public = zone_file(&boma, "example.org");
    assert!(public.contains("www 300 IN A 192.0.2.80\n"), "{public}");
    assert!(!public.contains("app"), "{public}");
    let lab = zone_file(&boma, "lab.example.org");
    assert!(
        lab.contains("app 300 IN A 100.64.0.1\n") && lab.contains("mail 300 IN A 192.0.2.25\n"),
        "{lab}"
    );
    if let Some(checker) = require("named-checkzone") {
        for (zone, file) in [
            ("example.org", "example.org"),
            ("lab.example.org", "lab.example.org"),
        ] {
            let output = std::process::Command::new(&checker)
                .args(["-i", "local", zone])
                .arg(boma.path().join(format!("zones/{file}.zone")))
                .output()
                .unwrap_or_else(|error| panic!("{error}"));
            assert!(
                output.status.success(),
                "{}",
                String::from_utf8_lossy(&output.stdout)
            );
        }
    }
    boma.run_with(["dns-preview", "--exit-code"]).success();

    // --zone restricts the plan to one zone.
    let boma = boma.file(
        "services.toml",
        catalog(&pdns.api).replace("100.64.0.1", "100.64.0.2"),
    );
    let one = boma.run_with(["dns-up", "--zone", "tailnet"]);
    one.success()
        .stdout_has("~ A 300 100.64.0.1 → 100.64.0.2")
        .stderr_has("applied 1 change to zone example.org");
    assert!(!one.stdout.contains("lab.example.org"), "{}", one.stdout);
    assert_eq!(pdns.dig("app.example.org", "A"), ["100.64.0.2"]);
    assert!(zone_file(&boma, "lab.example.org").contains("app 300 IN A 100.64.0.1\n"));
    boma.run_with(["dns-preview", "--zone", "tailnt"])
        .code(2)
        .stderr_has("zone `tailnt` is not in the catalog")
        .stderr_has("did you mean `tailnet`?");

    // dns-import of one zone: records name their zone.
    pdns.add_foreign("example.org", "printer", "A", "100.64.0.9");
    boma.run_with(["dns-import", "--zone", "tailnet"])
        .success()
        .stdout_has("[[dns.records]]\nname = \"printer\"\ntype = \"A\"\nttl = 300\nvalues = [\"100.64.0.9\"]\nzone = \"tailnet\"\n");
}

/// A catalog with `extra` after two zones that split example.org.
fn split(extra: &str) -> String {
    format!(
        "version = 1\n[dns]\n\
         [dns.zones.inside]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"in.zone\"\nnames = \"private\"\n\
         [dns.zones.outside]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"out.zone\"\nnames = \"public\"\n\
         [hosts.indri]\naddress = \"indri.tail.ts.net\"\nip = \"100.64.0.1\"\n{extra}"
    )
}

#[test]
fn names_no_zone_carries_and_ambiguous_records_are_catalog_errors() {
    // A private name outside every zone that carries private names.
    Boma::new()
        .catalog(&split(
            "[services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:80\"\nnames = [\"app.example.com\"]\n",
        ))
        .args(["check"])
        .run()
        .code(2)
        .stderr_has("services.toml:19:10:")
        .stderr_has("`services.app.names`: `app.example.com` is in no zone that carries private names")
        .stderr_has("zones that carry private names: `example.org` (inside)");
    // A public name in a domain whose only zone carries private names.
    let public = split(
        "[hosts.web]\naddress = \"web.example.net\"\nip = \"192.0.2.80\"\npublic = true\n\
         [services.site]\nhost = \"web\"\nupstream = \"http://127.0.0.1:80\"\npublic = [\"www.example.org\"]\n",
    )
    .replace("names = \"public\"", "names = \"private\"")
    .replace("zone = \"example.org\"\npath = \"out.zone\"", "zone = \"example.net\"\npath = \"out.zone\"");
    Boma::new()
        .catalog(&public)
        .args(["check"])
        .run()
        .code(2)
        .stderr_has(
            "`services.site.public`: `www.example.org` is in no zone that carries public names",
        )
        .stderr_has("no zone carries public names: add one with names = \"public\" or \"all\"");
    // A relative record name with several zones, a record two zones could hold, and a zone
    // name that does not exist.
    let records = "[[dns.records]]\nname = \"www\"\ntype = \"A\"\nvalues = [\"192.0.2.1\"]\n\
                   [[dns.records]]\nname = \"mx.example.org.\"\ntype = \"A\"\nvalues = [\"192.0.2.2\"]\n\
                   [[dns.records]]\nzone = \"outsde\"\nname = \"@\"\ntype = \"TXT\"\nvalues = [\"x\"]\n";
    let run = Boma::new().catalog(&split(records)).args(["check"]).run();
    run.code(2)
        .stderr_has("services.toml:17:8: `dns.records[0].name`: `www` is relative, and the catalog has several zones")
        .stderr_has("services.toml:21:8: `dns.records[1].name`: `mx.example.org.` could go to zones inside and outside")
        .stderr_has("name one with zone = \"inside\"")
        .stderr_has("services.toml:25:8: `dns.records[2].zone`: no zone `outsde`")
        .stderr_has("did you mean `outside`?");
    // Two zones of one domain that both carry private names; settings beside [dns.zones]; a
    // bad owner.
    let run = Boma::new()
        .catalog(
            &split("")
                .replace("names = \"public\"", "names = \"all\"")
                .replace("[dns]\n", "[dns]\nowner = \"Home Lab\"\npurge = true\n"),
        )
        .args(["check"])
        .run();
    run.code(2)
        .stderr_has("`dns.owner`: `Home Lab` cannot be an owner: use lowercase letters, digits")
        .stderr_has("`dns.purge` beside [dns.zones]")
        .stderr_has(
            "`dns.zones.outside`: zone `example.org` carries the same names as `dns.zones.inside`",
        );
}
