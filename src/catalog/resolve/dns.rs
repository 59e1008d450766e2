//! `[dns]`: the provider and its settings; each key checked against the provider that uses it.

use super::super::defaults::{
    DEFAULT_BATCH_SIZE, DEFAULT_MAX_CHANGE_PERCENT, DEFAULT_OWNER, DEFAULT_POWERDNS_SERVER,
};
use std::collections::BTreeMap;
use std::path::Path;

use toml::Spanned;

use toml::de::DeValue;

use super::super::host_records::reverse_network;
use super::super::model::{Dns, DnsProvider, Zone, ZoneNames};
use super::super::parse::{Reader, Section, Value};
use super::super::schema;
use super::super::values::{check_url, is_hostname};
use super::check_secret;
use crate::secret::SecretRef;

/// `[dns]` (one zone, or `owner` and `[dns.zones.NAME]` tables), and its `[[dns.records]]` left
/// unread for `records` (each entry is checked alone).
pub fn dns<'t>(
    reader: &mut Reader<'t>,
    dir: &Path,
    secrets: &BTreeMap<String, SecretRef>,
) -> (Option<Dns>, Option<Value<'t>>) {
    let Some(mut value) = reader.take("dns") else {
        return (None, None);
    };
    let (declared, owner, zones) = match value.get_mut() {
        DeValue::Table(table) => (
            table.remove("records"),
            table.remove("owner"),
            table.remove("zones"),
        ),
        _ => (None, None, None),
    };
    let owner = owner.and_then(|owner| read_owner(reader, owner));
    let named_zones = zones.is_some();
    let zones = match zones {
        Some(zones) => several(reader, dir, secrets, value, zones),
        None => zone(reader, dir, secrets, value, None)
            .into_iter()
            .collect(),
    };
    if zones.is_empty() {
        return (None, declared);
    }
    let owner = owner.unwrap_or_else(|| DEFAULT_OWNER.to_string());
    let dns = Dns {
        owner,
        zones,
        named_zones,
    };
    (Some(dns), declared)
}

fn read_owner<'t>(reader: &mut Reader<'t>, value: Value<'t>) -> Option<String> {
    let owner: Spanned<String> = reader.read(value, "dns.owner")?;
    match check_owner(owner.get_ref()) {
        Ok(()) => Some(owner.into_inner()),
        Err(why) => {
            reader.error_with_hint(
                owner.span(),
                format!(
                    "`dns.owner`: `{}` cannot be an owner: {why}",
                    owner.get_ref()
                ),
                "e.g. owner = \"homelab\"",
            );
            None
        }
    }
}

/// `[dns.zones.NAME]` tables; `[dns]` itself then holds only `owner` and `records`.
fn several<'t>(
    reader: &mut Reader<'t>,
    dir: &Path,
    secrets: &BTreeMap<String, SecretRef>,
    rest: Value<'t>,
    zones: Value<'t>,
) -> Vec<Zone> {
    if let DeValue::Table(table) = rest.get_ref() {
        for (key, _) in table.iter() {
            reader.error_with_hint(
                key.span(),
                format!(
                    "`dns.{}` beside [dns.zones]: with several zones each zone has its own settings",
                    key.get_ref()
                ),
                "move it into each [dns.zones.NAME] table",
            );
        }
    }
    let span = zones.span();
    let DeValue::Table(table) = zones.into_inner() else {
        reader.error_with_hint(
            span,
            "`dns.zones` must be a table of named zones",
            "write each zone as [dns.zones.NAME]",
        );
        reader.unread(Section::Dns, "");
        return Vec::new();
    };
    let mut zones: Vec<(std::ops::Range<usize>, Zone)> = Vec::new();
    for (key, value) in table {
        let name = key.get_ref().to_string();
        let span = key.span();
        if let Some(zone) = zone(reader, dir, secrets, value, Some(&name)) {
            zones.push((span, zone));
        }
    }
    if zones.is_empty() && !reader.any_unread(Section::DnsZones) {
        reader.error_with_hint(
            span,
            "`dns.zones` declares no zone",
            "add a [dns.zones.NAME] table with provider and zone",
        );
    }
    // Two zones of one domain may split it only by kind of name (split horizon).
    for (index, (span, zone)) in zones.iter().enumerate() {
        if let Some((_, first)) = zones[..index]
            .iter()
            .find(|(_, other)| other.zone == zone.zone && overlap(other.names, zone.names))
        {
            reader.error_with_hint(
                span.clone(),
                format!(
                    "`dns.zones.{}`: zone `{}` carries the same names as `dns.zones.{}`",
                    zone.name, zone.zone, first.name
                ),
                "give the two zones of one domain different `names` (\"private\" and \"public\")",
            );
        }
    }
    let mut zones: Vec<Zone> = zones.into_iter().map(|(_, zone)| zone).collect();
    zones.sort_by(|a, b| a.name.cmp(&b.name));
    zones
}

/// Whether two zones of one domain would carry the same names; a reverse zone's domain is its
/// own.
fn overlap(a: ZoneNames, b: ZoneNames) -> bool {
    a == b
        || [a, b]
            .iter()
            .any(|names| matches!(names, ZoneNames::All | ZoneNames::Reverse))
}

/// One zone's settings; `name` is `NAME` of `[dns.zones.NAME]`, `None` for `[dns]` itself.
fn zone<'t>(
    reader: &mut Reader<'t>,
    dir: &Path,
    secrets: &BTreeMap<String, SecretRef>,
    value: Value<'t>,
    name: Option<&str>,
) -> Option<Zone> {
    let prefix = name.map_or_else(|| "dns".to_string(), |name| format!("dns.zones.{name}"));
    let Some(raw) = reader.read::<schema::Dns>(value, &prefix) else {
        match name {
            Some(name) => reader.unread(Section::DnsZones, name),
            None => reader.unread(Section::Dns, ""),
        }
        return None;
    };
    let provider = *raw.provider.get_ref();
    let zone = raw
        .zone
        .get_ref()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    let names = raw
        .names
        .as_ref()
        .map_or(ZoneNames::All, |names| *names.get_ref());
    if names == ZoneNames::Reverse {
        if let Err(why) = reverse_network(&zone) {
            reader.error_with_hint(
                raw.zone.span(),
                format!(
                    "`{prefix}.zone`: `{}` cannot be a reverse zone: {why}",
                    raw.zone.get_ref()
                ),
                "name the octet-aligned zone that holds the addresses, e.g. `2.0.192.in-addr.arpa`",
            );
        }
    } else if !is_hostname(&zone) {
        reader.error(
            raw.zone.span(),
            format!(
                "`{prefix}.zone`: `{}` is not a domain name",
                raw.zone.get_ref()
            ),
        );
    }
    let keys = Keys {
        prefix: &prefix,
        raw: &raw,
    };
    keys.check_credentials(reader, secrets);
    keys.check_provider_keys(reader, &zone);
    keys.check_limits(reader);
    Some(Zone {
        name: name.map_or_else(|| zone.clone(), str::to_string),
        names,
        provider,
        zone,
        credentials: raw.credentials.map(Spanned::into_inner),
        purge: raw.purge,
        max_change_percent: raw
            .max_change_percent
            .map_or(DEFAULT_MAX_CHANGE_PERCENT, Spanned::into_inner),
        path: raw.path.map(|path| dir.join(path.get_ref())),
        url: raw
            .url
            .map(|url| url.into_inner().trim_end_matches('/').to_string()),
        server: raw
            .server
            .map_or_else(|| DEFAULT_POWERDNS_SERVER.to_string(), Spanned::into_inner),
        batch_size: raw
            .batch_size
            .map_or(DEFAULT_BATCH_SIZE, |size| size.into_inner() as usize),
    })
}

/// A zone's keys, named in messages as `dns.KEY` or `dns.zones.NAME.KEY`.
struct Keys<'a> {
    prefix: &'a str,
    raw: &'a schema::Dns,
}

impl Keys<'_> {
    /// API providers need a token secret; the zone file needs none.
    fn check_credentials(&self, reader: &mut Reader<'_>, secrets: &BTreeMap<String, SecretRef>) {
        let (raw, prefix) = (self.raw, self.prefix);
        let provider = *raw.provider.get_ref();
        match (&raw.credentials, provider != DnsProvider::Zonefile) {
            (Some(credentials), true) => check_secret(
                reader,
                secrets,
                credentials,
                format!("{prefix}.credentials"),
            ),
            (None, true) => reader.error_with_hint(
                raw.provider.span(),
                format!(
                    "`{prefix}.provider = \"{}\"` needs `credentials`",
                    provider_name(provider)
                ),
                "name a [secrets] entry holding the API token: credentials = \"dns\"",
            ),
            (Some(credentials), false) => reader.error(
                credentials.span(),
                format!("`{prefix}.credentials` is not used by the zonefile provider: remove it"),
            ),
            (None, false) => {}
        }
    }

    /// Reports `dns.KEY` when it is set for a provider other than `only`; returns whether it may be.
    fn only_for<T>(
        &self,
        reader: &mut Reader<'_>,
        key: &str,
        value: Option<&Spanned<T>>,
        only: DnsProvider,
    ) -> bool {
        match value {
            Some(value) if *self.raw.provider.get_ref() != only => {
                let message = format!(
                    "`{}.{key}` is only for the {} provider",
                    self.prefix,
                    provider_name(only)
                );
                reader.error(value.span(), message);
                false
            }
            _ => true,
        }
    }

    /// A key a provider cannot do without, reported at `provider = ...`.
    fn required_by(
        &self,
        reader: &mut Reader<'_>,
        present: bool,
        needs: DnsProvider,
        message: String,
        hint: String,
    ) {
        if !present && *self.raw.provider.get_ref() == needs {
            reader.error_with_hint(self.raw.provider.span(), message, hint);
        }
    }

    fn check_provider_keys(&self, reader: &mut Reader<'_>, zone: &str) {
        use DnsProvider::{Cloudflare, Powerdns, Zonefile};
        let (raw, prefix) = (self.raw, self.prefix);
        let provider = *raw.provider.get_ref();
        let path = raw.path.is_some();
        self.required_by(
            reader,
            path,
            Zonefile,
            format!("the zonefile provider needs `{prefix}.path`"),
            format!("e.g. path = \"zones/{zone}.zone\""),
        );
        self.only_for(reader, "path", raw.path.as_ref(), Zonefile);
        self.only_for(reader, "server", raw.server.as_ref(), Powerdns);
        let url = raw.url.is_some();
        self.required_by(
            reader,
            url,
            Powerdns,
            format!("the powerdns provider needs `{prefix}.url`"),
            "e.g. url = \"http://127.0.0.1:8081\"".to_string(),
        );
        if let Some(url) = &raw.url {
            if provider == Zonefile {
                reader.error(
                    url.span(),
                    format!("`{prefix}.url` is not used by the zonefile provider"),
                );
            } else if let Err(message) = check_url(url.get_ref()) {
                reader.error(url.span(), format!("`{prefix}.url`: {message}"));
            }
        }
        if let Some(size) = raw.batch_size.as_ref()
            && self.only_for(reader, "batch_size", Some(size), Cloudflare)
            && *size.get_ref() == 0
        {
            reader.error(
                size.span(),
                format!("`{prefix}.batch_size` must be at least 1"),
            );
        }
    }

    fn check_limits(&self, reader: &mut Reader<'_>) {
        if let Some(percent) = self
            .raw
            .max_change_percent
            .as_ref()
            .filter(|percent| *percent.get_ref() > 100)
        {
            reader.error(
                percent.span(),
                format!(
                    "`{}.max_change_percent` is a percentage: 0 to 100",
                    self.prefix
                ),
            );
        }
    }
}

pub fn provider_name(provider: DnsProvider) -> &'static str {
    match provider {
        DnsProvider::Zonefile => "zonefile",
        DnsProvider::Powerdns => "powerdns",
        DnsProvider::Gandi => "gandi",
        DnsProvider::Cloudflare => "cloudflare",
    }
}

/// `[dns].owner`: what a mark can hold (it ends a whitespace-separated field, and a Cloudflare
/// comment is at most 100 characters on the free plan).
fn check_owner(owner: &str) -> Result<(), String> {
    let valid = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c);
    if owner.is_empty() || owner.len() > 40 {
        return Err("it must be 1 to 40 characters".to_string());
    }
    if !owner.chars().all(valid) {
        return Err("use lowercase letters, digits, `-`, `_` and `.`".to_string());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn owners_are_checked() {
        assert!(check_owner("homelab").is_ok());
        assert!(check_owner("team-a.prod").is_ok());
        assert!(check_owner("").is_err());
        assert!(check_owner("Home Lab").is_err());
        assert!(check_owner(&"x".repeat(41)).is_err());
    }
}
