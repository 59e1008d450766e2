//! The zone's records as the catalog implies them: derived from services and hosts (see
//! `host_records`), plus `[[dns.records]]`.

use std::collections::hash_map::Entry;
use std::collections::{BTreeMap, HashMap};
use std::net::IpAddr;

use toml::Spanned;

use super::host_records;
use super::model::{
    Address, Defaults, Dns, DnsProvider, Edge, Placement, Record, RecordType, SshfpHost, Zone,
    ZoneNames,
};
use super::parse::{Reader, Section, Value};
use super::resolve::HostEntry;
use super::resolve::provider_name;
use super::schema;
use super::services::ServiceEntry;
use super::values::is_hostname;
use toml::de::DeValue;

pub fn derive<'t>(
    reader: &mut Reader<'t>,
    defaults: &Defaults,
    dns: Option<&Dns>,
    declared_records: Option<Value<'t>>,
    hosts: &BTreeMap<String, HostEntry>,
    edge: Option<&Edge>,
    services: &BTreeMap<String, ServiceEntry>,
) -> (Vec<Record>, Vec<SshfpHost>) {
    // Each name and the service list that claimed it first.
    let mut claims: HashMap<&str, ServiceKey<'_>> = HashMap::new();
    let mut records = Vec::new();
    // A zone written but unread leaves unknown which zone a name belongs to: such names are
    // left alone (the zone has its own error), rather than reported as in no zone.
    let zones_known = !reader.any_unread(Section::Dns) && !reader.any_unread(Section::DnsZones);
    let mut missing_zone_reported = !zones_known;
    for (service_name, service) in services {
        let host = service
            .model
            .host
            .as_deref()
            .and_then(|host| hosts.get(host));
        let lists = [
            ("names", &service.names, false),
            ("public", &service.public, true),
        ];
        for (list, names, public) in lists {
            let key = ServiceKey(service_name, list);
            for name in names {
                claim(reader, &mut claims, name, key);
                let Some(dns) = dns else {
                    if !missing_zone_reported {
                        reader.error_with_hint(
                            name.span(),
                            format!("`{key}`: names need a [dns] zone"),
                            "declare [dns] with provider and zone",
                        );
                        missing_zone_reported = true;
                    }
                    continue;
                };
                let Some(zone) = route(dns, name.get_ref(), public) else {
                    if zones_known {
                        unrouted(reader, dns, name, key, public);
                    }
                    continue;
                };
                // A private name under its host's wildcard zone resolves through `*.ZONE`.
                if !public
                    && host
                        .is_some_and(|host| host.model.caddy.wildcard_for(name.get_ref()).is_some())
                {
                    continue;
                }
                let target = if public && service.model.edge.is_some() {
                    // Through the edge: Fly's name, or the address of the host it runs on.
                    match edge.map(|edge| &edge.placement) {
                        Some(Placement::Fly(fly)) => {
                            Some((RecordType::Cname, format!("{}.", fly.target)))
                        }
                        Some(Placement::Host(on)) => hosts
                            .get(&on.host)
                            .and_then(|edge_host| host_target(reader, edge_host, name, key)),
                        None => None,
                    }
                } else if let Some(host) = host {
                    if public && !host.model.public {
                        reader.error_with_hint(
                            name.span(),
                            format!("`{key}`: `{}` is public, but host `{}` is not public and the service has no edge", name.get_ref(), host.model.name),
                            format!("add [services.{service_name}.edge] to serve it through the edge proxy, or set public = true on the host"),
                        );
                        continue;
                    }
                    host_target(reader, host, name, key)
                } else {
                    None
                };
                let Some((record_type, value)) = target else {
                    continue;
                };
                if record_type == RecordType::Cname && name.get_ref() == &zone.zone {
                    reader.error_with_hint(
                        name.span(),
                        format!(
                            "`{key}`: the zone apex `{}` cannot be a CNAME",
                            name.get_ref()
                        ),
                        "give the host an `ip` so the apex gets an A record",
                    );
                    continue;
                }
                records.push(Record {
                    name: name.get_ref().clone(),
                    record_type,
                    ttl: defaults.ttl,
                    values: vec![value],
                    service: Some(service_name.clone()),
                    host: None,
                    zone: zone.name.clone(),
                    proxied: None,
                });
            }
        }
    }
    if let Some(dns) = dns {
        wildcards(reader, defaults, dns, hosts, zones_known, &mut records);
        host_records::reverse_records(reader, defaults, dns, hosts, &mut records);
    }
    if let (Some(dns), Some(entries)) = (dns, declared_records) {
        declared(reader, defaults, dns, entries, zones_known, &mut records);
    }
    let sshfp = host_records::sshfp_hosts(reader, defaults, dns, hosts);
    host_records::check_sshfp_clashes(reader, hosts, &sshfp, &records);
    records.sort_by(|a, b| {
        crate::natural::compare(&a.name, &b.name).then_with(|| a.record_type.cmp(&b.record_type))
    });
    (records, sshfp)
}

/// `*.ZONE` for each wildcard zone of a host's Caddy, pointing where the host's own names would.
fn wildcards(
    reader: &mut Reader<'_>,
    defaults: &Defaults,
    dns: &Dns,
    hosts: &BTreeMap<String, HostEntry>,
    zones_known: bool,
    records: &mut Vec<Record>,
) {
    for (host_name, host) in hosts {
        for (zone_name, span) in &host.wildcard_spans {
            let key = format!("hosts.{host_name}.caddy.wildcard");
            let name = Spanned::new(span.clone(), format!("*.{zone_name}"));
            let Some(zone) = route(dns, name.get_ref(), false) else {
                if zones_known {
                    unrouted(reader, dns, &name, &key, false);
                }
                continue;
            };
            let Some((record_type, value)) = host_target(reader, host, &name, &key) else {
                continue;
            };
            records.push(Record {
                name: name.into_inner(),
                record_type,
                ttl: defaults.ttl,
                values: vec![value],
                service: None,
                host: None,
                zone: zone.name.clone(),
                proxied: None,
            });
        }
    }
}

/// `services.NAME.LIST`, formatted only when a message needs it.
#[derive(Clone, Copy)]
struct ServiceKey<'a>(&'a str, &'a str);

impl std::fmt::Display for ServiceKey<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "services.{}.{}", self.0, self.1)
    }
}

fn claim<'s>(
    reader: &mut Reader<'_>,
    claims: &mut HashMap<&'s str, ServiceKey<'s>>,
    name: &'s Spanned<String>,
    key: ServiceKey<'s>,
) {
    match claims.entry(name.get_ref()) {
        Entry::Occupied(first) => {
            let hint = format!(
                "first claimed by `{}`; a name belongs to one service",
                first.get()
            );
            reader.error_with_hint(
                name.span(),
                format!("`{key}`: name `{}` is claimed twice", name.get_ref()),
                hint,
            );
        }
        Entry::Vacant(slot) => {
            slot.insert(key);
        }
    }
}

/// The zone for a service's name: the longest matching suffix among the zones that carry its
/// kind of name (private `names` or `public` ones).
fn route<'d>(dns: &'d Dns, name: &str, public: bool) -> Option<&'d Zone> {
    dns.zones
        .iter()
        .filter(|zone| carries(zone, public) && in_zone(name, &zone.zone))
        .max_by_key(|zone| zone.zone.len())
}

fn carries(zone: &Zone, public: bool) -> bool {
    match zone.names {
        ZoneNames::All => true,
        ZoneNames::Public => public,
        ZoneNames::Private => !public,
        ZoneNames::Reverse => false,
    }
}

fn unrouted(
    reader: &mut Reader<'_>,
    dns: &Dns,
    name: &Spanned<String>,
    key: impl std::fmt::Display,
    public: bool,
) {
    if let [zone] = dns.zones.as_slice()
        && zone.names == ZoneNames::All
    {
        reader.error(
            name.span(),
            format!(
                "`{key}`: `{}` is outside the zone `{}`",
                name.get_ref(),
                zone.zone
            ),
        );
        return;
    }
    let kind = if public { "public" } else { "private" };
    let zones: Vec<String> = dns
        .zones
        .iter()
        .filter(|zone| carries(zone, public))
        .map(|zone| format!("`{}` ({})", zone.zone, zone.name))
        .collect();
    let hint = if zones.is_empty() {
        format!("no zone carries {kind} names: add one with names = \"{kind}\" or \"all\"")
    } else {
        format!("zones that carry {kind} names: {}", zones.join(", "))
    };
    reader.error_with_hint(
        name.span(),
        format!(
            "`{key}`: `{}` is in no zone that carries {kind} names",
            name.get_ref()
        ),
        hint,
    );
}

fn in_zone(name: &str, zone: &str) -> bool {
    name == zone
        || name
            .strip_suffix(zone)
            .is_some_and(|prefix| prefix.ends_with('.'))
}

fn host_target(
    reader: &mut Reader<'_>,
    host: &HostEntry,
    name: &Spanned<String>,
    key: impl std::fmt::Display,
) -> Option<(RecordType, String)> {
    match (host.model.ip, &host.model.address) {
        (Some(IpAddr::V4(ip)), _) => Some((RecordType::A, ip.to_string())),
        (Some(IpAddr::V6(ip)), _) => Some((RecordType::Aaaa, ip.to_string())),
        (None, Address::Remote(address)) if address.parse::<IpAddr>().is_ok() => {
            let record_type = if address.contains(':') {
                RecordType::Aaaa
            } else {
                RecordType::A
            };
            Some((record_type, address.clone()))
        }
        (None, Address::Remote(address)) => Some((
            RecordType::Cname,
            format!("{}.", address.to_ascii_lowercase()),
        )),
        (None, Address::Local) => {
            reader.error_with_hint(
                name.span(),
                format!(
                    "`{key}`: host `{}` is \"local\" and has no `ip` for `{}` to point at",
                    host.model.name,
                    name.get_ref()
                ),
                format!("set ip = \"...\" on [hosts.{}]", host.model.name),
            );
            None
        }
    }
}

/// `[[dns.records]]`: each entry read on its own, then checked against the derived records.
fn declared<'t>(
    reader: &mut Reader<'t>,
    defaults: &Defaults,
    dns: &Dns,
    entries: Value<'t>,
    zones_known: bool,
    records: &mut Vec<Record>,
) {
    let span = entries.span();
    let DeValue::Array(array) = entries.into_inner() else {
        reader.error_with_hint(
            span,
            "`dns.records` must be an array of tables",
            "write each record as [[dns.records]]",
        );
        return;
    };
    for (index, entry) in array.into_iter().enumerate() {
        let key = format!("dns.records[{index}]");
        let Some(raw) = reader.read::<schema::Record>(entry, &key) else {
            continue;
        };
        let Some(zone) = declared_zone(reader, dns, &raw, &key, zones_known) else {
            continue;
        };
        let Some(name) = absolute_name(raw.name.get_ref(), &zone.zone) else {
            let why = super::values::hostname_problem(
                raw.name
                    .get_ref()
                    .trim_end_matches('.')
                    .trim_start_matches("*."),
            )
            .map(|why| format!(": {why}"))
            .unwrap_or_default();
            reader.error_with_hint(
                raw.name.span(),
                format!("`{key}.name`: `{}` is not a name in the zone `{}`{why}", raw.name.get_ref(), zone.zone),
                "write `@` for the apex, a relative name like `www`, or an absolute name ending in `.`",
            );
            continue;
        };
        let record_type = *raw.record_type.get_ref();
        if !record_type.taken_by(zone.provider) {
            reader.error_with_hint(
                raw.record_type.span(),
                format!(
                    "`{key}.type`: the {} provider (zone `{}`) takes no {record_type} records",
                    provider_name(zone.provider),
                    zone.zone
                ),
                refusal_hint(record_type),
            );
            continue;
        }
        if record_type == RecordType::Spf {
            reader.note(
                raw.record_type.span(),
                format!("`{key}.type`: SPF records are deprecated (RFC 7208 §3.1); mail servers read the policy from TXT"),
                "publish the same value as a TXT record; keep the SPF one only while something still asks for it",
            );
        }
        if let Some(proxied) = &raw.proxied {
            if zone.provider != DnsProvider::Cloudflare {
                reader.error(
                    proxied.span(),
                    format!(
                        "`{key}.proxied` is a Cloudflare setting; the provider is not cloudflare"
                    ),
                );
            } else if !matches!(
                record_type,
                RecordType::A | RecordType::Aaaa | RecordType::Cname
            ) {
                reader.error(
                    proxied.span(),
                    format!("`{key}.proxied`: Cloudflare proxies only A, AAAA and CNAME records"),
                );
            }
        }
        if raw.values.get_ref().is_empty() {
            reader.error(raw.values.span(), format!("`{key}.values` is empty"));
            continue;
        }
        if matches!(record_type, RecordType::Cname) && raw.values.get_ref().len() > 1 {
            reader.error(
                raw.values.span(),
                format!("`{key}`: a CNAME has exactly one value"),
            );
        }
        if record_type == RecordType::Cname && name == zone.zone {
            reader.error(
                raw.name.span(),
                format!("`{key}`: the zone apex cannot be a CNAME"),
            );
        }
        let mut values = Vec::new();
        for value in raw.values.get_ref() {
            match record_type.check_value(value.get_ref()) {
                Ok(()) => values.push(canonical_value(record_type, value.get_ref())),
                Err(message) => reader.error(value.span(), format!("`{key}.values`: {message}")),
            }
        }
        if let Some(ttl) = raw.ttl.as_ref().filter(|ttl| *ttl.get_ref() == 0) {
            reader.error(ttl.span(), format!("`{key}.ttl` must be at least 1 second"));
        }
        if let Some(clash) = records.iter().find(|other| {
            other.zone == zone.name && other.name == name && clashes(other.record_type, record_type)
        }) {
            let owner = match (&clash.service, &clash.host) {
                (Some(service), _) => format!("service `{service}`"),
                (None, Some(host)) => {
                    format!("host `{host}` (its address is in this reverse zone)")
                }
                (None, None) => "another [[dns.records]] entry".to_string(),
            };
            let message = if clash.record_type == RecordType::Cname
                || record_type == RecordType::Cname
            {
                format!(
                    "`{key}`: `{name}` already has a {} record from {owner}, and a CNAME cannot share its name",
                    clash.record_type
                )
            } else {
                format!(
                    "`{key}`: `{name}` {} is already declared by {owner}",
                    record_type
                )
            };
            let hint = match (&clash.service, &clash.host) {
                (Some(_), _) => "a name served by a service gets its record from the service",
                (None, Some(_)) => {
                    "a host's PTR comes from its `name` (or address): change that, or drop this entry"
                }
                (None, None) => "declare one record with several `values`",
            };
            reader.error_with_hint(raw.name.span(), message, hint);
            continue;
        }
        records.push(Record {
            name,
            record_type,
            ttl: raw.ttl.map_or(defaults.ttl, Spanned::into_inner),
            values,
            service: None,
            host: None,
            zone: zone.name.clone(),
            proxied: raw.proxied.map(Spanned::into_inner),
        });
    }
}

/// The zone of a `[[dns.records]]` entry: its `zone`, the only one, or the longest suffix of its
/// absolute name (a relative name needs `zone` when there are several).
fn declared_zone<'d>(
    reader: &mut Reader<'_>,
    dns: &'d Dns,
    raw: &schema::Record,
    key: &str,
    zones_known: bool,
) -> Option<&'d Zone> {
    let names: Vec<&str> = dns.zones.iter().map(|zone| zone.name.as_str()).collect();
    if let Some(wanted) = &raw.zone {
        let zone = dns.zone(wanted.get_ref());
        if zone.is_none() && !reader.is_unread(Section::DnsZones, wanted.get_ref()) {
            let hint = crate::hint::did_you_mean(
                wanted.get_ref(),
                &names,
                format!("zones: {}", names.join(", ")),
            );
            reader.error_with_hint(
                wanted.span(),
                format!("`{key}.zone`: no zone `{}`", wanted.get_ref()),
                hint,
            );
        }
        return zone;
    }
    // Without `zone`, the zone is found among all of them, and one is unread.
    if !zones_known {
        return None;
    }
    if let [zone] = dns.zones.as_slice() {
        return Some(zone);
    }
    let name = raw.name.get_ref().to_ascii_lowercase();
    let Some(absolute) = name.strip_suffix('.') else {
        reader.error_with_hint(
            raw.name.span(),
            format!("`{key}.name`: `{}` is relative, and the catalog has several zones", raw.name.get_ref()),
            format!("name its zone with zone = \"...\" ({}), or write the name absolute with a final `.`", names.join(", ")),
        );
        return None;
    };
    let checked = absolute.strip_prefix("*.").unwrap_or(absolute);
    let longest = dns
        .zones
        .iter()
        .filter(|zone| in_zone(checked, &zone.zone))
        .map(|zone| zone.zone.len())
        .max();
    let holders: Vec<&Zone> = dns
        .zones
        .iter()
        .filter(|zone| Some(zone.zone.len()) == longest && in_zone(checked, &zone.zone))
        .collect();
    match holders.as_slice() {
        [zone] => Some(zone),
        [] => {
            let zones: Vec<String> = dns
                .zones
                .iter()
                .map(|zone| format!("`{}` ({})", zone.zone, zone.name))
                .collect();
            reader.error_with_hint(
                raw.name.span(),
                format!("`{key}.name`: `{}` is in no zone", raw.name.get_ref()),
                format!("zones: {}", zones.join(", ")),
            );
            None
        }
        several => {
            let names: Vec<&str> = several.iter().map(|zone| zone.name.as_str()).collect();
            reader.error_with_hint(
                raw.name.span(),
                format!(
                    "`{key}.name`: `{}` could go to zones {}",
                    raw.name.get_ref(),
                    names.join(" and ")
                ),
                format!("name one with zone = \"{}\"", names[0]),
            );
            None
        }
    }
}

/// What to do about a type a provider does not take.
fn refusal_hint(record_type: RecordType) -> &'static str {
    match record_type {
        RecordType::Spf => {
            "publish the policy as a TXT record (SPF records are deprecated, RFC 7208 §3.1)"
        }
        RecordType::Dname => {
            "use CNAMEs for the names below it, or keep the zone at a provider that takes DNAME (see the README's table)"
        }
        _ => {
            "keep the zone at a provider that takes it (see the README's table of types and providers)"
        }
    }
}

fn clashes(a: RecordType, b: RecordType) -> bool {
    a == b || a == RecordType::Cname || b == RecordType::Cname
}

/// `@`, `www`, `www.example.org.` or `*.example.org.` to a lowercase FQDN without the dot.
fn absolute_name(name: &str, zone: &str) -> Option<String> {
    let lowered = name.to_ascii_lowercase();
    let absolute = match lowered.as_str() {
        "@" => zone.to_string(),
        _ if lowered.ends_with('.') => lowered.trim_end_matches('.').to_string(),
        _ => format!("{lowered}.{zone}"),
    };
    let checked = absolute.strip_prefix("*.").unwrap_or(&absolute);
    (is_hostname(checked) && in_zone(&absolute, zone)).then_some(absolute)
}

/// Host-name targets are absolute: a trailing dot is added where the catalog left it out.
fn canonical_value(record_type: RecordType, value: &str) -> String {
    match record_type {
        RecordType::Cname | RecordType::Ns if !value.ends_with('.') => {
            format!("{}.", value.to_ascii_lowercase())
        }
        RecordType::Cname | RecordType::Ns => value.to_ascii_lowercase(),
        _ => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn record_names_are_made_absolute() {
        assert_eq!(
            absolute_name("@", "example.org").as_deref(),
            Some("example.org")
        );
        assert_eq!(
            absolute_name("WWW", "example.org").as_deref(),
            Some("www.example.org")
        );
        assert_eq!(
            absolute_name("mail.example.org.", "example.org").as_deref(),
            Some("mail.example.org")
        );
        assert_eq!(
            absolute_name("*.example.org.", "example.org").as_deref(),
            Some("*.example.org")
        );
        assert_eq!(absolute_name("www.example.com.", "example.org"), None);
        assert_eq!(absolute_name("bad name", "example.org"), None);
    }

    #[test]
    fn zone_membership_needs_a_label_boundary() {
        assert!(in_zone("a.example.org", "example.org"));
        assert!(in_zone("example.org", "example.org"));
        assert!(!in_zone("badexample.org", "example.org"));
    }
}
