//! DNS: the records the catalog implies, the plan against a provider's zone, and the providers.

pub mod import;
pub mod ownership;
pub mod plan;
pub mod providers;
pub mod report;
pub mod sshfp;
mod stage;

use serde::Serialize;

use crate::catalog::{Catalog, Record};
use crate::hint::Hint;
use crate::rdata;

pub use stage::{DnsStage, select, side_by_side};

#[derive(Debug, thiserror::Error)]
pub enum DnsError {
    #[error("the catalog has no [dns] section")]
    NoDnsSection,
    #[error("{provider}: zone `{zone}` does not exist")]
    ZoneMissing {
        provider: &'static str,
        zone: String,
    },
    #[error("the DNS stage was asked to apply a plan it did not make")]
    NotPlanned,
    #[error(
        "host `{host}` has sshfp = true, but no host key of `{lookup}` is in {files}: boma publishes SSHFP records only for keys its SSH has verified"
    )]
    NoVerifiedKey {
        host: String,
        lookup: String,
        files: String,
    },
}

impl Hint for DnsError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::NoDnsSection => Some("declare [dns] with provider and zone".to_string()),
            Self::ZoneMissing { .. } => Some("pass --create-zone to create it".to_string()),
            Self::NotPlanned => None,
            Self::NoVerifiedKey { .. } => Some(
                "check the host's key and connect once (e.g. `boma caddy-push --check --accept-new-host-keys`, or ssh) so it is in the known-hosts file, or set the host's ssh.known_hosts".to_string(),
            ),
        }
    }
}

/// One name and type with its values: the unit every provider reads and writes.
///
/// Canonical form: `name` fully qualified, lowercase, without the final dot; `record_type`
/// uppercase; `values` sorted and deduplicated; host-name targets absolute with a final dot;
/// TXT values unquoted (each provider quotes them its own way).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
pub struct Rrset {
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: String,
    pub ttl: u32,
    pub values: Vec<String>,
    /// Cloudflare's proxy flag; `None` everywhere else.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxied: Option<bool>,
}

impl Rrset {
    pub fn new(name: &str, record_type: &str, ttl: u32, values: Vec<String>) -> Self {
        let record_type = record_type.to_ascii_uppercase();
        let mut values: Vec<String> = values
            .into_iter()
            .map(|value| canonical_value(&record_type, &value))
            .collect();
        values.sort();
        values.dedup();
        Self {
            name: name.trim_end_matches('.').to_ascii_lowercase(),
            record_type,
            ttl,
            values,
            proxied: None,
        }
    }

    pub fn key(&self) -> (&str, &str) {
        (&self.name, &self.record_type)
    }

    /// The order of reports and files: names naturally (`h2` before `h10`), then types.
    pub fn order(&self, other: &Self) -> std::cmp::Ordering {
        crate::natural::compare(&self.name, &other.name)
            .then_with(|| self.record_type.cmp(&other.record_type))
    }

    /// The name relative to `zone`: `@` for the apex, else the labels before the zone.
    pub fn relative_name(&self, zone: &str) -> String {
        relative_name(&self.name, zone)
    }
}

pub fn relative_name(name: &str, zone: &str) -> String {
    if name == zone {
        return "@".to_string();
    }
    name.strip_suffix(zone)
        .and_then(|prefix| prefix.strip_suffix('.'))
        .unwrap_or(name)
        .to_string()
}

/// Host-name targets lowercase and absolute; the types with structure (SSHFP, TLSA, NAPTR, LOC,
/// SVCB, HTTPS...) in `rdata`'s canonical form, read as leniently as providers print them; a
/// value that does not read stays as given (it then differs from any the catalog declares).
fn canonical_value(record_type: &str, value: &str) -> String {
    if let Some(Ok(canonical)) = rdata::canonical(record_type, value, rdata::Reading::Lenient) {
        return canonical;
    }
    let absolute = |target: &str| {
        let lowered = target.to_ascii_lowercase();
        if lowered.ends_with('.') {
            lowered
        } else {
            format!("{lowered}.")
        }
    };
    let fields: Vec<&str> = value.split_whitespace().collect();
    match (record_type, fields.as_slice()) {
        ("CNAME" | "NS" | "PTR" | "DNAME", [target]) => absolute(target),
        ("MX", [preference, exchange]) => format!("{preference} {}", absolute(exchange)),
        ("SRV", [priority, weight, port, target]) if *target != "." => {
            format!("{priority} {weight} {port} {}", absolute(target))
        }
        ("TXT" | "SPF", _) => value.to_string(),
        _ => fields.join(" "),
    }
}

/// The rrsets the catalog declares for the zone named `zone` (see `Zone::name`): derived records,
/// `[[dns.records]]`, and the SSHFP records of hosts with `sshfp = true`, read from the
/// known-hosts files boma verifies them against (an error when a host has no verified key).
pub fn desired(catalog: &Catalog, zone: &str) -> anyhow::Result<Vec<Rrset>> {
    let mut rrsets: Vec<Rrset> = catalog
        .records
        .iter()
        .filter(|record| record.zone == zone)
        .map(rrset)
        .collect();
    for published in catalog.sshfp.iter().filter(|host| host.zone == zone) {
        rrsets.push(sshfp::rrset(catalog, published)?);
    }
    Ok(rrsets)
}

fn rrset(record: &Record) -> Rrset {
    let mut rrset = Rrset::new(
        &record.name,
        record.record_type.as_str(),
        record.ttl,
        record.values.clone(),
    );
    rrset.proxied = record.proxied;
    rrset
}

/// Whether values of `record_type` are text that providers quote (TXT, and SPF, its deprecated twin).
pub fn is_text(record_type: &str) -> bool {
    matches!(record_type, "TXT" | "SPF")
}

/// A value as zone files and the PowerDNS and Gandi APIs write it: TXT and SPF quoted, others as
/// is.
pub fn to_wire(record_type: &str, value: &str) -> String {
    if is_text(record_type) {
        quote_txt(value)
    } else {
        value.to_string()
    }
}

/// The inverse of `to_wire`.
pub fn from_wire(record_type: &str, value: &str) -> String {
    if is_text(record_type) {
        unquote_txt(value)
    } else {
        value.to_string()
    }
}

/// TXT values as DNS wire text: quoted strings of at most 255 bytes each, cut between characters
/// (never inside one), with `"` and `\` escaped.
pub fn quote_txt(value: &str) -> String {
    let escaped: Vec<String> = txt_chunks(value)
        .into_iter()
        .map(|text| format!("\"{}\"", text.replace('\\', "\\\\").replace('"', "\\\"")))
        .collect();
    if escaped.is_empty() {
        "\"\"".to_string()
    } else {
        escaped.join(" ")
    }
}

/// `value` in pieces of at most 255 bytes, each ending on a character boundary.
fn txt_chunks(value: &str) -> Vec<&str> {
    let mut chunks = Vec::new();
    let mut rest = value;
    while !rest.is_empty() {
        let mut end = rest.len().min(255);
        while !rest.is_char_boundary(end) {
            end -= 1;
        }
        let (chunk, tail) = rest.split_at(end);
        chunks.push(chunk);
        rest = tail;
    }
    chunks
}

/// The inverse of `quote_txt`: concatenates the quoted strings; unquoted text is kept as is.
pub fn unquote_txt(text: &str) -> String {
    let text = text.trim();
    if !text.starts_with('"') {
        return text.to_string();
    }
    let mut value = String::new();
    let mut chars = text.chars();
    let mut inside = false;
    while let Some(c) = chars.next() {
        match (c, inside) {
            ('"', _) => inside = !inside,
            ('\\', true) => value.extend(chars.next()),
            (c, true) => value.push(c),
            _ => {}
        }
    }
    value
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn long_txt_values_split_between_characters_and_round_trip() {
        // 254 ASCII bytes then a 2-byte character: a byte cut at 255 would split it.
        let value = format!("{}é{}", "a".repeat(254), "b".repeat(300));
        let wire = quote_txt(&value);
        assert!(
            wire.split("\" \"")
                .all(|part| part.trim_matches('"').len() <= 255)
        );
        assert_eq!(unquote_txt(&wire), value);
        assert!(!wire.contains('\u{fffd}'));
    }

    #[test]
    fn rrsets_are_canonical() {
        let rrset = Rrset::new(
            "WWW.Example.org.",
            "cname",
            300,
            vec!["Target.Example.net".into()],
        );
        assert_eq!(rrset.name, "www.example.org");
        assert_eq!(rrset.record_type, "CNAME");
        assert_eq!(rrset.values, ["target.example.net."]);
        let mx = Rrset::new(
            "example.org",
            "MX",
            300,
            vec!["20 b.example.net".into(), "10  a.example.net.".into()],
        );
        assert_eq!(mx.values, ["10 a.example.net.", "20 b.example.net."]);
        assert_eq!(mx.relative_name("example.org"), "@");
    }

    #[test]
    fn txt_quoting_round_trips() {
        for value in ["v=spf1 -all", "say \"hi\" \\ bye", &"x".repeat(300)] {
            assert_eq!(unquote_txt(&quote_txt(value)), value);
        }
        assert_eq!(
            quote_txt(&"x".repeat(300)).matches('"').count(),
            4,
            "split into two strings"
        );
        assert_eq!(unquote_txt("plain text"), "plain text");
    }
}
