//! The DNS records the hosts themselves imply: a PTR in each reverse zone (`names = "reverse"`)
//! for every host whose address falls in it, pointing at the host's DNS name, and the hosts that
//! publish SSHFP records of their verified keys (`sshfp = true`), each routed to its zone. The
//! keys themselves are read by the DNS stage (`dns::sshfp`): they live on this machine, not in
//! the catalog.

use std::collections::BTreeMap;
use std::net::IpAddr;

use super::model::{Address, Defaults, Dns, Record, RecordType, SshfpHost, Zone, ZoneNames};
use super::parse::{Reader, Section};
use super::resolve::HostEntry;

/// The addresses a reverse zone covers: whole octets of IPv4, whole nibbles of IPv6.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Network {
    /// The leading octets (`2.0.192.in-addr.arpa` is 192.0.2).
    V4(Vec<u8>),
    /// The leading nibbles (`8.b.d.0.1.0.0.2.ip6.arpa` is 2001:db8).
    V6(Vec<u8>),
}

impl Network {
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self, ip) {
            (Self::V4(octets), IpAddr::V4(ip)) => ip.octets().starts_with(octets),
            (Self::V6(nibbles), IpAddr::V6(ip)) => nibbles_of(ip.octets()).starts_with(nibbles),
            _ => false,
        }
    }

    /// How many labels of the address the zone fixes: the longest match wins.
    fn len(&self) -> usize {
        match self {
            Self::V4(octets) => octets.len() * 2,
            Self::V6(nibbles) => nibbles.len(),
        }
    }
}

fn nibbles_of(octets: [u8; 16]) -> Vec<u8> {
    octets.iter().flat_map(|b| [b >> 4, b & 0xf]).collect()
}

/// The reverse name of an address: `5.2.0.192.in-addr.arpa`, or the 32 nibbles of an IPv6
/// address under `ip6.arpa`.
pub fn reverse_name(ip: IpAddr) -> String {
    match ip {
        IpAddr::V4(ip) => {
            let octets: Vec<String> = ip.octets().iter().rev().map(u8::to_string).collect();
            format!("{}.in-addr.arpa", octets.join("."))
        }
        IpAddr::V6(ip) => {
            let nibbles: Vec<String> = nibbles_of(ip.octets())
                .iter()
                .rev()
                .map(|nibble| format!("{nibble:x}"))
                .collect();
            format!("{}.ip6.arpa", nibbles.join("."))
        }
    }
}

/// The network a reverse zone's name covers, or why boma cannot fill it: only octet-aligned
/// IPv4 zones and nibble-aligned IPv6 zones (a classless RFC 2317 zone holds CNAMEs to another
/// zone's names, not the hosts' PTRs).
pub fn reverse_network(zone: &str) -> Result<Network, String> {
    const ALIGNED: &str = "boma fills octet-aligned IPv4 zones (`2.0.192.in-addr.arpa`) and nibble-aligned IPv6 zones (`8.b.d.0.1.0.0.2.ip6.arpa`)";
    if let Some(prefix) = zone.strip_suffix("in-addr.arpa") {
        let labels: Vec<&str> = prefix
            .split('.')
            .filter(|label| !label.is_empty())
            .collect();
        if labels.len() > 4 {
            return Err(format!(
                "it has {} address labels; an IPv4 address has 4",
                labels.len()
            ));
        }
        let mut octets = Vec::new();
        for label in labels.iter().rev() {
            let octet = label
                .parse::<u8>()
                .ok()
                .filter(|octet| octet.to_string() == *label)
                .ok_or_else(|| {
                    if label.contains(['/', '-']) {
                        format!("`{label}` is a classless (RFC 2317) label; {ALIGNED}")
                    } else {
                        format!("`{label}` is not an octet (0 to 255); {ALIGNED}")
                    }
                })?;
            octets.push(octet);
        }
        return Ok(Network::V4(octets));
    }
    if let Some(prefix) = zone.strip_suffix("ip6.arpa") {
        let labels: Vec<&str> = prefix
            .split('.')
            .filter(|label| !label.is_empty())
            .collect();
        if labels.len() > 32 {
            return Err(format!(
                "it has {} nibble labels; an IPv6 address has 32",
                labels.len()
            ));
        }
        let mut nibbles = Vec::new();
        for label in labels.iter().rev() {
            let nibble = (label.len() == 1)
                .then(|| u8::from_str_radix(label, 16).ok())
                .flatten()
                .ok_or_else(|| format!("`{label}` is not one hex digit (a nibble); {ALIGNED}"))?;
            nibbles.push(nibble);
        }
        return Ok(Network::V6(nibbles));
    }
    Err(format!(
        "a reverse zone is under `in-addr.arpa` or `ip6.arpa`; {ALIGNED}"
    ))
}

/// A PTR in the most specific reverse zone for every host whose address falls in one.
pub fn reverse_records(
    reader: &mut Reader<'_>,
    defaults: &Defaults,
    dns: &Dns,
    hosts: &BTreeMap<String, HostEntry>,
    records: &mut Vec<Record>,
) {
    let zones: Vec<(&Zone, Network)> = dns
        .zones
        .iter()
        .filter(|zone| zone.names == ZoneNames::Reverse)
        .filter_map(|zone| Some((zone, reverse_network(&zone.zone).ok()?)))
        .collect();
    if zones.is_empty() {
        return;
    }
    for (host_name, host) in hosts {
        let Some(ip) = host.ip() else { continue };
        let Some((zone, _)) = zones
            .iter()
            .filter(|(_, network)| network.contains(ip))
            .max_by_key(|(_, network)| network.len())
        else {
            continue;
        };
        let Some((target, _)) = &host.dns_name else {
            let span = host.ip_span.clone().unwrap_or_default();
            reader.error_with_hint(
                span,
                format!(
                    "`hosts.{host_name}`: {ip} is in the reverse zone `{}` ({}), but the host has no DNS name for its PTR record",
                    zone.zone, zone.name
                ),
                format!("set name = \"{host_name}.example.org\" on [hosts.{host_name}] (its address is not a host name)"),
            );
            continue;
        };
        let name = reverse_name(ip);
        let value = format!("{target}.");
        match records
            .iter_mut()
            .find(|record| record.name == name && record.record_type == RecordType::Ptr)
        {
            // Two hosts on one address: one PTR rrset with both names.
            Some(record) => {
                if !record.values.contains(&value) {
                    record.values.push(value);
                }
            }
            None => records.push(Record {
                name,
                record_type: RecordType::Ptr,
                ttl: defaults.ttl,
                values: vec![value],
                service: None,
                host: Some(host_name.clone()),
                zone: zone.name.clone(),
                proxied: None,
            }),
        }
    }
}

/// The hosts with `sshfp = true`, each with its DNS name and the forward zone that holds it (the
/// longest suffix; of two zones of one domain, the one that carries the host's kind of names).
pub fn sshfp_hosts(
    reader: &mut Reader<'_>,
    defaults: &Defaults,
    dns: Option<&Dns>,
    hosts: &BTreeMap<String, HostEntry>,
) -> Vec<SshfpHost> {
    let mut found = Vec::new();
    let zones_known = !reader.any_unread(Section::Dns) && !reader.any_unread(Section::DnsZones);
    for (host_name, host) in hosts {
        let Some(span) = host.sshfp_span.clone() else {
            continue;
        };
        let key = format!("hosts.{host_name}.sshfp");
        if host.model.address == Address::Local {
            reader.error_with_hint(
                span,
                format!("`{key}`: host `{host_name}` is \"local\": boma reaches it without SSH and verifies no host key to publish"),
                "publish this machine's keys from a host entry boma reaches over SSH, or remove sshfp",
            );
            continue;
        }
        let Some((name, _)) = &host.dns_name else {
            reader.error_with_hint(
                span,
                format!("`{key}`: host `{host_name}` has no DNS name to publish SSHFP records at"),
                format!("set name = \"{host_name}.example.org\" on [hosts.{host_name}] (its address is not a host name)"),
            );
            continue;
        };
        let Some(dns) = dns else {
            // An unread [dns] has its own error.
            if zones_known {
                reader.error_with_hint(
                    span,
                    format!("`{key}`: SSHFP records need a [dns] zone"),
                    "declare [dns] with provider and zone",
                );
            }
            continue;
        };
        let within = |zone: &&Zone| {
            zone.names != ZoneNames::Reverse
                && (*name == zone.zone || name.ends_with(&format!(".{}", zone.zone)))
        };
        let longest = dns
            .zones
            .iter()
            .filter(within)
            .map(|zone| zone.zone.len())
            .max();
        let kind = if host.model.public {
            ZoneNames::Public
        } else {
            ZoneNames::Private
        };
        let zone = dns
            .zones
            .iter()
            .filter(within)
            .filter(|zone| Some(zone.zone.len()) == longest)
            .max_by_key(|zone| zone.names == kind || zone.names == ZoneNames::All);
        match zone {
            Some(zone) => found.push(SshfpHost {
                host: host_name.clone(),
                name: name.clone(),
                zone: zone.name.clone(),
                ttl: defaults.ttl,
            }),
            None if zones_known => {
                let zones: Vec<String> = dns
                    .zones
                    .iter()
                    .filter(|zone| zone.names != ZoneNames::Reverse)
                    .map(|zone| format!("`{}` ({})", zone.zone, zone.name))
                    .collect();
                reader.error_with_hint(
                    span,
                    format!("`{key}`: `{name}`, where the SSHFP records would go, is in no zone of the catalog"),
                    format!("zones: {}; or set the host's `name` to one in them", zones.join(", ")),
                );
            }
            None => {}
        }
    }
    found
}

/// SSHFP records published from known hosts at a name a record of the catalog already holds as
/// SSHFP, or as a CNAME (which shares its name with nothing).
pub fn check_sshfp_clashes(
    reader: &mut Reader<'_>,
    hosts: &BTreeMap<String, HostEntry>,
    sshfp: &[SshfpHost],
    records: &[Record],
) {
    for published in sshfp {
        let Some(clash) = records.iter().find(|record| {
            record.zone == published.zone
                && record.name == published.name
                && matches!(record.record_type, RecordType::Sshfp | RecordType::Cname)
        }) else {
            continue;
        };
        let span = hosts
            .get(&published.host)
            .and_then(|host| host.sshfp_span.clone())
            .unwrap_or_default();
        let owner = match (&clash.service, &clash.host) {
            (Some(service), _) => format!("service `{service}`"),
            (None, Some(host)) => format!("host `{host}`"),
            (None, None) => "a [[dns.records]] entry".to_string(),
        };
        reader.error_with_hint(
            span,
            format!(
                "`hosts.{}.sshfp`: `{}` already has a {} record from {owner}",
                published.host, published.name, clash.record_type
            ),
            "SSHFP records from known hosts need the name to themselves: remove the other record, or sshfp",
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reverse_zones_are_octet_or_nibble_aligned() {
        assert_eq!(
            reverse_network("2.0.192.in-addr.arpa"),
            Ok(Network::V4(vec![192, 0, 2]))
        );
        assert_eq!(
            reverse_network("8.b.d.0.1.0.0.2.ip6.arpa"),
            Ok(Network::V6(vec![2, 0, 0, 1, 0, 0xd, 0xb, 8]))
        );
        assert!(
            reverse_network("0/26.2.0.192.in-addr.arpa")
                .is_err_and(|why| why.contains("classless"))
        );
        assert!(reverse_network("02.0.192.in-addr.arpa").is_err());
        assert!(reverse_network("10.8.b.d.0.1.0.0.2.ip6.arpa").is_err());
        assert!(reverse_network("example.org").is_err());
    }

    #[test]
    fn addresses_fall_in_their_networks_and_reverse_by_label() {
        let v4: IpAddr = "192.0.2.5".parse().unwrap_or(IpAddr::from([0, 0, 0, 0]));
        assert!(Network::V4(vec![192, 0, 2]).contains(v4));
        assert!(!Network::V4(vec![192, 0, 3]).contains(v4));
        assert_eq!(reverse_name(v4), "5.2.0.192.in-addr.arpa");
        let v6: IpAddr = "2001:db8::7".parse().unwrap_or(v4);
        assert!(Network::V6(vec![2, 0, 0, 1, 0, 0xd, 0xb, 8]).contains(v6));
        assert_eq!(
            reverse_name(v6),
            "7.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.0.8.b.d.0.1.0.0.2.ip6.arpa"
        );
    }
}
