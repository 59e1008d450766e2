//! Every record type boma writes, through a zone file served by a real BIND and through a real
//! PowerDNS: the `dig` answers field by field (one snapshot for both servers), a second run with
//! nothing to change, and imports that round-trip; reverse zones derived from the hosts answering
//! `dig -x`; SSHFP records published from the keys boma verifies hosts against, equal to
//! `ssh-keygen -r`.

use crate::support::bind::Bind;
use crate::support::lab::{Lab, run as run_tool};
use crate::support::powerdns::{API_KEY, PowerDns};
use crate::support::{Boma, require, snapshot};

/// One record of every type, values written the way people write them (upper-case hex, short
/// LOC forms, SVCB parameters out of order, relative-looking targets): boma stores each in its
/// canonical form, so a second run finds nothing to change.
const RECORDS: &str = r#"
[[dns.records]]
name = "@"
type = "TXT"
values = ["v=spf1 -all"]
[[dns.records]]
name = "@"
type = "SPF"
values = ["v=spf1 -all"]
[[dns.records]]
name = "@"
type = "CAA"
values = ['0 issue "letsencrypt.org"']
[[dns.records]]
name = "@"
type = "MX"
values = ["10 mx1.example.net."]
[[dns.records]]
name = "@"
type = "LOC"
values = ["52 22 23 N 4 53 32 E -2m 1m 10000m 10m"]
[[dns.records]]
name = "tower"
type = "LOC"
values = ["53 14 0 N 2 18 0 W 20m 10m 1000m 2m"]
[[dns.records]]
name = "@"
type = "NAPTR"
values = [
  '100 10 "S" "SIP+D2U" "" _sip._udp.example.org.',
  '100 20 "U" "E2U+sip" "!^.*$!sip:info@example.org!" .',
]
[[dns.records]]
name = "_sip._udp"
type = "SRV"
values = ["10 5 5060 sip.example.net."]
[[dns.records]]
name = "host"
type = "SSHFP"
values = [
  "4 2 5B8847AAF90A18CDD78F29FF688C798669A679BF8DBAF77BF530DEA2A8329456",
  "4 1 7426870656afb9855efdb9d7073d1618d28000c4",
]
[[dns.records]]
name = "_443._tcp.www"
type = "TLSA"
values = ["3 1 1 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"]
[[dns.records]]
name = "old"
type = "DNAME"
values = ["new.example.net"]
[[dns.records]]
name = "ptr"
type = "PTR"
values = ["Host.Example.net"]
[[dns.records]]
name = "@"
type = "HTTPS"
values = ['1 . alpn="h3,h2" ipv6hint=2001:DB8::7 ipv4hint=192.0.2.7 ech="AEn+DQBFKwAgACABWIHUGj4u+PIggYXcR5JF0gYk3dCRioBW8uJq9H4mKAAIAAEAAQABAANAEnB1YmxpYy50bHMtZWNoLmRldgAA"']
[[dns.records]]
name = "www"
type = "HTTPS"
values = ["0 example.org."]
[[dns.records]]
name = "_dns.resolver"
type = "SVCB"
values = ["1 resolver.example.net. port=853 mandatory=port alpn=dot,doq"]
[[dns.records]]
name = "www"
type = "A"
values = ["192.0.2.7"]
[[dns.records]]
name = "www"
type = "AAAA"
values = ["2001:db8::7"]
[[dns.records]]
name = "alias"
type = "CNAME"
values = ["www.example.org"]
"#;

/// The names and types `RECORDS` declares, in the order the answers are shown.
const ASKED: [(&str, &str); 18] = [
    ("example.org", "TXT"),
    ("example.org", "SPF"),
    ("example.org", "CAA"),
    ("example.org", "MX"),
    ("example.org", "LOC"),
    ("tower.example.org", "LOC"),
    ("example.org", "NAPTR"),
    ("_sip._udp.example.org", "SRV"),
    ("host.example.org", "SSHFP"),
    ("_443._tcp.www.example.org", "TLSA"),
    ("old.example.org", "DNAME"),
    ("ptr.example.org", "PTR"),
    ("example.org", "HTTPS"),
    ("www.example.org", "HTTPS"),
    ("_dns.resolver.example.org", "SVCB"),
    ("www.example.org", "A"),
    ("www.example.org", "AAAA"),
    ("alias.example.org", "CNAME"),
];

/// Every answer, field by field as dig prints it, under its question.
fn answers(dig: impl Fn(&str, &str) -> Vec<String>) -> String {
    ASKED
        .iter()
        .map(|(name, record_type)| {
            let answers = dig(name, record_type);
            assert!(!answers.is_empty(), "no answer for {name} {record_type}");
            format!("{name} {record_type}\n  {}\n", answers.join("\n  "))
        })
        .collect()
}

const ZONEFILE: &str = "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"zones/example.org.zone\"\n\
     [[dns.records]]\nname = \"@\"\ntype = \"NS\"\nvalues = [\"ns1.example.net.\"]\n";

fn powerdns_catalog(api: &str) -> String {
    format!(
        "version = 1\n[secrets]\npdns = {{ env = \"PDNS_KEY\" }}\n\
         [dns]\nprovider = \"powerdns\"\nzone = \"example.org\"\ncredentials = \"pdns\"\nurl = \"{api}\"\n"
    )
}

#[test]
fn every_type_through_a_zone_file_that_bind_serves() {
    let boma = Boma::new().catalog(&format!("{ZONEFILE}{RECORDS}"));
    boma.run_with(["dns-up"])
        .success()
        .stderr_has("applied 19 changes");
    let path = boma.path().join("zones/example.org.zone");
    let written = std::fs::read_to_string(&path).unwrap_or_default();
    snapshot("dns_types__zone_file", &written);
    if let Some(checker) = require("named-checkzone") {
        let output = std::process::Command::new(checker)
            .args(["-i", "local", "example.org"])
            .arg(&path)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            output.status.success(),
            "{}",
            String::from_utf8_lossy(&output.stdout)
        );
    }
    if let Some(bind) = Bind::serve(&[("example.org", &path)]) {
        snapshot(
            "dns_types__dig_answers",
            &answers(|name, t| bind.dig(name, t)),
        );
    }
    boma.run_with(["dns-up"])
        .success()
        .stderr_has("no changes for zone example.org");
    assert_eq!(
        std::fs::read_to_string(&path).unwrap_or_default(),
        written,
        "the second run leaves the file alone"
    );
    boma.run_with(["dns-preview", "--exit-code"])
        .success()
        .stdout_has("19 unchanged");

    // dns-import on a catalog without the records gives them back; pasted, nothing changes.
    let bare = boma.file("services.toml", ZONEFILE);
    let imported = bare.run_with(["dns-import"]);
    imported
        .success()
        .stderr_has("18 records to paste, 0 skipped");
    let pasted = bare.file("services.toml", format!("{ZONEFILE}\n{}", imported.stdout));
    pasted.run_with(["check"]).success();
    pasted
        .run_with(["dns-preview", "--exit-code"])
        .success()
        .stdout_has("no changes");
}

#[test]
fn every_type_through_powerdns_answers_as_the_zone_file_does() {
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    let catalog = powerdns_catalog(&pdns.api);
    let boma = Boma::new()
        .catalog(&format!("{catalog}{RECORDS}"))
        .env("PDNS_KEY", API_KEY);
    boma.run_with(["dns-up", "--create-zone"])
        .success()
        .stderr_has("applied 18 changes");
    if require("dig").is_some() {
        snapshot(
            "dns_types__dig_answers",
            &answers(|name, t| pdns.dig(name, t)),
        );
    }
    let rows = pdns.record_rows();
    let second = boma.run_with(["-v", "dns-up"]);
    second
        .success()
        .stderr_has("no changes for zone example.org");
    assert!(!second.stderr.contains("PATCH"), "{}", second.stderr);
    assert_eq!(pdns.record_rows(), rows);

    // The same records made outside boma, spelled as people write them: imported, pasted, they
    // differ from the zone by ownership alone.
    let outside = PowerDns::start().unwrap_or_else(|| unreachable!());
    outside.create_zone("example.org");
    for (name, record_type, content) in [
        (
            "host",
            "SSHFP",
            "4 2 5B8847AAF90A18CDD78F29FF688C798669A679BF8DBAF77BF530DEA2A8329456",
        ),
        (
            "@",
            "LOC",
            "52 22 23.000 N 4 53 32.000 E -2.00m 1.00m 10000.00m 10.00m",
        ),
        (
            "tower",
            "LOC",
            "53 14 0.000 N 2 17 60.000 W 20.00m 10.00m 1000.00m 2.00m",
        ),
        (
            "@",
            "NAPTR",
            "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.example.org.",
        ),
        (
            "_443._tcp.www",
            "TLSA",
            "3 1 1 abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
        ),
        ("old", "DNAME", "new.example.net."),
        ("ptr", "PTR", "host.example.net."),
        ("@", "SPF", "\"v=spf1 -all\""),
        ("@", "HTTPS", "1 . alpn=h3,h2 ipv4hint=192.0.2.7"),
        (
            "_dns.resolver",
            "SVCB",
            "1 resolver.example.net. mandatory=port alpn=dot,doq port=853",
        ),
    ] {
        outside.add_foreign("example.org", name, record_type, content);
    }
    let catalog = powerdns_catalog(&outside.api);
    let boma = Boma::new().catalog(&catalog).env("PDNS_KEY", API_KEY);
    let imported = boma.run_with(["dns-import"]);
    imported
        .success()
        .stderr_has("10 records to paste, 0 skipped");
    let boma = boma.file("services.toml", format!("{catalog}\n{}", imported.stdout));
    boma.run_with(["check"]).success();
    let preview = boma.run_with(["dns-preview", "--adopt"]);
    preview.success();
    crate::support::assert_only_ownership_changes(&preview.stdout);
    boma.run_with(["dns-up", "--adopt"]).success();
    boma.run_with(["dns-preview", "--exit-code"])
        .success()
        .stdout_has("no changes");
}

/// A valid catalog with an SPF record: `boma check` passes and says what to use instead.
#[test]
fn spf_is_accepted_with_a_note() {
    let boma = Boma::new().catalog(&format!("{ZONEFILE}{RECORDS}"));
    let run = boma.run_with(["check"]);
    run.success();
    snapshot("dns_types__spf_note", &run.stderr);
    let json = boma.run_with(["--output", "json", "check"]);
    json.success();
    assert_eq!(json.json()["notes"][0]["line"], 17);
}

/// Reverse zones at PowerDNS: each host whose address falls in one answers `dig -x` with its
/// DNS name (its `name`, else its address), and `[[dns.records]]` adds a PTR of its own.
#[test]
fn reverse_zones_answer_dig_x_for_each_host() {
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    let zone = |name: &str, domain: &str, names: &str| {
        format!(
            "[dns.zones.{name}]\nprovider = \"powerdns\"\nzone = \"{domain}\"\nnames = \"{names}\"\ncredentials = \"pdns\"\nurl = \"{}\"\n",
            pdns.api
        )
    };
    let catalog = format!(
        "version = 1\n[secrets]\npdns = {{ env = \"PDNS_KEY\" }}\n{}{}{}{}\
         [[dns.records]]\nzone = \"rev4\"\nname = \"99\"\ntype = \"PTR\"\nvalues = [\"printer.example.org\"]\n\
         [[dns.records]]\nzone = \"v4\"\nname = \"1.1\"\ntype = \"PTR\"\nvalues = [\"gateway.example.org\"]\n\
         [[dns.records]]\nzone = \"fwd\"\nname = \"h1\"\ntype = \"A\"\nvalues = [\"192.0.2.10\"]\n\
         [hosts.h1]\naddress = \"h1.example.org\"\nip = \"192.0.2.10\"\n\
         [hosts.h2]\naddress = \"192.0.2.11\"\nname = \"h2.example.org\"\n\
         [hosts.h3]\naddress = \"h3.example.org\"\nip = \"2001:db8::3\"\n\
         [hosts.h4]\naddress = \"h4.example.net\"\nip = \"198.51.100.4\"\n",
        zone("fwd", "example.org", "all"),
        zone("rev4", "2.0.192.in-addr.arpa", "reverse"),
        zone("rev6", "8.b.d.0.1.0.0.2.ip6.arpa", "reverse"),
        zone("v4", "0.192.in-addr.arpa", "reverse"),
    );
    let boma = Boma::new().catalog(&catalog).env("PDNS_KEY", API_KEY);
    let preview = boma.run_with(["dns-preview", "--create-zone"]);
    preview.success();
    snapshot("dns_types__reverse_preview", &preview.stdout);
    boma.run_with(["dns-up", "--create-zone"]).success();
    if require("dig").is_some() {
        assert_eq!(pdns.dig_x("192.0.2.10"), ["h1.example.org."]);
        assert_eq!(pdns.dig_x("192.0.2.11"), ["h2.example.org."]);
        assert_eq!(pdns.dig_x("2001:db8::3"), ["h3.example.org."]);
        assert_eq!(pdns.dig_x("192.0.2.99"), ["printer.example.org."]);
        assert_eq!(pdns.dig_x("192.0.1.1"), ["gateway.example.org."]);
        assert!(
            pdns.dig_x("198.51.100.4").is_empty(),
            "outside every reverse zone"
        );
    }
    boma.run_with(["dns-up"])
        .success()
        .stderr_has("no changes for zone 2.0.192.in-addr.arpa");
}

/// SSHFP from the test host's key as boma verifies it (the lab's known_hosts, `[127.0.0.1]:PORT`),
/// equal to what `ssh-keygen -r` prints for that key; hashed entries match as well; a host whose
/// key boma has not verified publishes nothing and says so.
#[tokio::test(flavor = "multi_thread")]
async fn sshfp_records_are_the_verified_host_keys() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let host = lab.host("h1");
    let catalog = lab.catalog().replacen(
        "address = \"127.0.0.1\"\n",
        "address = \"127.0.0.1\"\nname = \"h1.lab.test\"\nsshfp = true\n",
        1,
    ) + "[[dns.records]]\nname = \"@\"\ntype = \"NS\"\nvalues = [\"ns1.example.net.\"]\n";
    let boma = Boma::new().catalog(&catalog);
    boma.run_with(["dns-up"]).success();
    let zone = std::fs::read_to_string(boma.path().join("lab.test.zone")).unwrap_or_default();
    let published: Vec<&str> = zone
        .lines()
        .filter(|line| line.contains(" SSHFP "))
        .collect();
    let keygen = run_tool(
        "ssh-keygen",
        &[
            "-r",
            "h1.lab.test",
            "-f",
            &host.dir.join("hostkey.pub").to_string_lossy(),
        ],
    );
    let expected: Vec<String> = keygen
        .lines()
        .filter_map(|line| line.split_once(" IN SSHFP "))
        .filter(|(_, value)| value.split_whitespace().nth(1) == Some("2"))
        .map(|(_, value)| format!("h1 300 IN SSHFP {value}"))
        .collect();
    assert_eq!(expected.len(), 1, "{keygen}");
    assert_eq!(published, expected, "{zone}");

    // The same file hashed (`ssh-keygen -H`): the entry is found by its HMAC.
    run_tool(
        "ssh-keygen",
        &["-H", "-f", &lab.known_hosts.to_string_lossy()],
    );
    let hashed = std::fs::read_to_string(&lab.known_hosts).unwrap_or_default();
    assert!(hashed.starts_with("|1|"), "{hashed}");
    boma.run_with(["dns-preview", "--exit-code"])
        .success()
        .stdout_has("no changes");

    // A key boma never verified is never published.
    std::fs::write(&lab.known_hosts, "").unwrap_or_else(|e| panic!("{e}"));
    let run = boma.run_with(["dns-preview"]);
    run.code(2);
    let port = lab.host("h1").ssh_port;
    snapshot(
        "dns_types__sshfp_without_a_verified_key",
        &run.stderr.replace(&format!("]:{port}"), "]:[PORT]"),
    );
}
