//! `dns-import`: the live zone's records that no service derives and the catalog does not
//! declare, as a `[[dns.records]]` fragment to paste into the catalog, and the derived names whose
//! live records differ from what the catalog says. Pure: the zone comes in, text goes out.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde::Serialize;

use super::Rrset;
use super::ownership::{Keeping, Owner, Owners, is_marker};
use super::plan::is_zone_infrastructure;
use crate::catalog::{DnsProvider, RecordType};

#[derive(Debug, Default, Serialize)]
pub struct Imported {
    /// The rrsets for the fragment, in name and type order.
    pub records: Vec<Rrset>,
    /// `name TYPE: why`, for records the catalog cannot hold (an unsupported type).
    pub skipped: Vec<String>,
    /// `name TYPE: live ..., catalog ...`, for derived names whose live records differ.
    pub differing: Vec<String>,
}

/// What to import from `live` given what the catalog wants (`desired`, the provider's rules
/// applied). Ownership data and another catalog's records are never imported; in a zone boma
/// owns whole (a zone file) the apex NS is the catalog's to declare too. A record the catalog
/// could not take back (a type it or the zone's `provider` does not take, a value its checks
/// refuse) is skipped with the reason, so the fragment always pastes.
pub fn import(
    zone: &str,
    provider: DnsProvider,
    desired: &[Rrset],
    live: &[Rrset],
    owners: &Owners,
) -> Imported {
    let owns_everything = owners.keeping() == Keeping::Whole;
    let wanted: BTreeMap<(&str, &str), &Rrset> =
        desired.iter().map(|rrset| (rrset.key(), rrset)).collect();
    let mut imported = Imported::default();
    for rrset in live {
        if rrset.record_type == "SOA"
            || (!owns_everything && (is_marker(rrset) || is_zone_infrastructure(zone, rrset)))
        {
            continue;
        }
        if let Owner::Other(owner) = owners.of(rrset) {
            imported.skipped.push(format!(
                "{} {}: held by owner `{owner}`",
                rrset.name, rrset.record_type
            ));
            continue;
        }
        match wanted.get(&rrset.key()) {
            Some(want) if *want == rrset => {}
            Some(want) => imported.differing.push(format!(
                "{} {}: live {}, catalog {}",
                rrset.name,
                rrset.record_type,
                shown(rrset),
                shown(want)
            )),
            None if !in_zone(&rrset.name, zone) => imported.skipped.push(format!(
                "{} {}: not a name in the zone {zone}",
                rrset.name, rrset.record_type
            )),
            None if !plain_name(&rrset.name) => imported.skipped.push(format!(
                "{} {}: not a name the catalog takes (letters, digits, `-`, `_`)",
                rrset.name, rrset.record_type
            )),
            None => match unimportable(rrset, provider) {
                Some(why) => imported
                    .skipped
                    .push(format!("{} {}: {why}", rrset.name, rrset.record_type)),
                None => imported.records.push(rrset.clone()),
            },
        }
    }
    imported.records.sort_by(|a, b| a.order(b));
    imported
}

/// Why the catalog could not hold `rrset` as a `[[dns.records]]` entry, if it could not.
fn unimportable(rrset: &Rrset, provider: DnsProvider) -> Option<String> {
    let Ok(record_type) = rrset.record_type.parse::<RecordType>() else {
        return Some(format!(
            "the catalog takes no {} records",
            rrset.record_type
        ));
    };
    if !record_type.taken_by(provider) {
        return Some(format!(
            "the catalog takes no {record_type} records for a {} zone",
            crate::catalog::provider_name(provider)
        ));
    }
    rrset
        .values
        .iter()
        .find_map(|value| record_type.check_value(value).err())
}

fn in_zone(name: &str, zone: &str) -> bool {
    name == zone || name.ends_with(&format!(".{zone}"))
}

/// Labels of ASCII letters, digits, `-` and `_` (a leading `*` label allowed).
fn plain_name(name: &str) -> bool {
    name.strip_prefix("*.")
        .unwrap_or(name)
        .split('.')
        .all(|label| {
            !label.is_empty()
                && label
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
}

fn shown(rrset: &Rrset) -> String {
    let proxied = match rrset.proxied {
        Some(true) => " proxied",
        _ => "",
    };
    format!("ttl {} {}{proxied}", rrset.ttl, rrset.values.join(", "))
}

/// The `[[dns.records]]` fragment: names relative to the zone, live TTLs, Cloudflare's `proxied`;
/// with `[dns.zones.NAME]` tables each record names its zone (`named`).
pub fn fragment(zone: &str, named: Option<&str>, provider: &str, imported: &Imported) -> String {
    let mut text = format!(
        "# Imported by `boma dns-import` from zone {zone} ({provider}): the records no service\n\
         # derives. Paste into services.toml; `boma dns-preview` then shows no record change.\n"
    );
    for rrset in &imported.records {
        let _ = write!(
            text,
            "\n[[dns.records]]\nname = {}\ntype = \"{}\"\nttl = {}\nvalues = [{}]\n",
            quoted(&rrset.relative_name(zone)),
            rrset.record_type,
            rrset.ttl,
            rrset
                .values
                .iter()
                .map(|value| quoted(value))
                .collect::<Vec<_>>()
                .join(", ")
        );
        if let Some(named) = named {
            let _ = writeln!(text, "zone = {}", quoted(named));
        }
        let proxiable = matches!(rrset.record_type.as_str(), "A" | "AAAA" | "CNAME");
        if let (Some(proxied), true) = (rrset.proxied, proxiable) {
            let _ = writeln!(text, "proxied = {proxied}");
        }
    }
    for skipped in &imported.skipped {
        let _ = write!(text, "\n# skipped: {skipped}");
    }
    if !imported.skipped.is_empty() {
        text.push('\n');
    }
    text
}

/// A TOML basic string.
fn quoted(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rrset(name: &str, kind: &str, ttl: u32, values: &[&str]) -> Rrset {
        Rrset::new(
            name,
            kind,
            ttl,
            values.iter().map(|v| v.to_string()).collect(),
        )
    }

    #[test]
    fn hand_made_records_come_out_derived_ones_do_not() {
        let zone = "example.org";
        let desired = vec![rrset(
            "app.example.org",
            "CNAME",
            300,
            &["indri.example.net."],
        )];
        let live = vec![
            rrset("example.org", "SOA", 3600, &["ns1. admin. 1 2 3 4 5"]),
            rrset("example.org", "NS", 3600, &["ns1.example.net."]),
            rrset("app.example.org", "CNAME", 300, &["ringtail.example.net."]),
            rrset(
                "_boma.app.example.org",
                "TXT",
                300,
                &["heritage=boma types=CNAME"],
            ),
            rrset("www.example.org", "CNAME", 600, &["example.github.io."]),
            rrset("example.org", "TXT", 300, &["v=spf1 -all", "say \"hi\""]),
            rrset("host.example.org", "SSHFP", 300, &["1 1 abcd"]),
            rrset("old.example.org", "WKS", 300, &["192.0.2.1 6 25"]),
        ];
        let live: Vec<Rrset> = live
            .into_iter()
            .chain([rrset("theirs.example.org", "A", 300, &["192.0.2.9"])])
            .collect();
        let mut marks = std::collections::HashMap::new();
        marks.insert(
            ("theirs.example.org".to_string(), "A".to_string()),
            vec!["heritage=boma v=2 owner=team-b".to_string()],
        );
        let owners = Owners::new(Keeping::Metadata, "lab", &live, marks);
        let imported = import(zone, DnsProvider::Powerdns, &desired, &live, &owners);
        assert_eq!(
            imported.differing,
            [
                "app.example.org CNAME: live ttl 300 ringtail.example.net., catalog ttl 300 indri.example.net."
            ]
        );
        assert_eq!(
            imported.skipped,
            [
                "host.example.org SSHFP: `1 1 abcd` is not a valid SSHFP value: a SHA-1 fingerprint (type 1) is 40 hex digits, not 4; expected `ALGORITHM TYPE FINGERPRINT`, e.g. `4 2 <64 hex digits>` (Ed25519, SHA-256)",
                "old.example.org WKS: the catalog takes no WKS records",
                "theirs.example.org A: held by owner `team-b`"
            ]
        );
        let text = fragment(zone, None, "powerdns", &imported);
        assert!(text.contains("[[dns.records]]\nname = \"@\"\ntype = \"TXT\"\nttl = 300\nvalues = ['say \"hi\"', \"v=spf1 -all\"]\n"), "{text}");
        assert!(
            text.contains(
                "name = \"www\"\ntype = \"CNAME\"\nttl = 600\nvalues = [\"example.github.io.\"]\n"
            ),
            "{text}"
        );
        assert!(
            !text.contains("SOA") && !text.contains("ns1.example.net") && !text.contains("_boma"),
            "{text}"
        );
        // A zone file is boma's whole: its apex NS is the catalog's to declare.
        let whole = Owners::new(Keeping::Whole, "lab", &live, Default::default());
        let whole = import(zone, DnsProvider::Zonefile, &desired, &live, &whole);
        assert!(whole.records.iter().any(|rrset| rrset.record_type == "NS"));
    }
}
