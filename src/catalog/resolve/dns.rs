//! `[dns]`: the provider and its settings; each key checked against the provider that uses it.

use std::collections::BTreeMap;
use std::path::Path;

use toml::Spanned;

use super::super::model::{Dns, DnsProvider};
use super::super::parse::{Reader, Value};
use super::super::schema;
use super::super::values::{check_url, is_hostname};
use super::check_secret;
use crate::secret::SecretRef;

pub const DEFAULT_MAX_CHANGE_PERCENT: u8 = 30;
pub const DEFAULT_BATCH_SIZE: usize = 200;

/// `[dns]`, and its `[[dns.records]]` left unread for `records` (each entry is checked alone).
pub fn dns<'t>(
    reader: &mut Reader<'t>,
    dir: &Path,
    secrets: &BTreeMap<String, SecretRef>,
) -> (Option<Dns>, Option<Value<'t>>) {
    let Some(mut value) = reader.take("dns") else {
        return (None, None);
    };
    let declared = match value.get_mut() {
        toml::de::DeValue::Table(table) => table.remove("records"),
        _ => None,
    };
    (dns_settings(reader, dir, secrets, value), declared)
}

fn dns_settings<'t>(
    reader: &mut Reader<'t>,
    dir: &Path,
    secrets: &BTreeMap<String, SecretRef>,
    value: Value<'t>,
) -> Option<Dns> {
    let raw: schema::Dns = reader.read(value, "dns")?;
    let provider = *raw.provider.get_ref();
    let zone = raw
        .zone
        .get_ref()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if !is_hostname(&zone) {
        reader.error(
            raw.zone.span(),
            format!("`dns.zone`: `{}` is not a domain name", raw.zone.get_ref()),
        );
    }
    check_credentials(reader, secrets, &raw);
    check_provider_keys(reader, &raw, &zone);
    check_limits(reader, &raw);
    Some(Dns {
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
            .map_or_else(|| "localhost".to_string(), Spanned::into_inner),
        batch_size: raw
            .batch_size
            .map_or(DEFAULT_BATCH_SIZE, |size| size.into_inner() as usize),
    })
}

/// API providers need a token secret; the zone file needs none.
fn check_credentials(
    reader: &mut Reader<'_>,
    secrets: &BTreeMap<String, SecretRef>,
    raw: &schema::Dns,
) {
    let provider = *raw.provider.get_ref();
    match (&raw.credentials, provider != DnsProvider::Zonefile) {
        (Some(credentials), true) => check_secret(reader, secrets, credentials, "dns.credentials"),
        (None, true) => reader.error_with_hint(
            raw.provider.span(),
            format!(
                "`dns.provider = \"{}\"` needs `credentials`",
                provider_name(provider)
            ),
            "name a [secrets] entry holding the API token: credentials = \"dns\"",
        ),
        (Some(credentials), false) => reader.error(
            credentials.span(),
            "`dns.credentials` is not used by the zonefile provider: remove it",
        ),
        (None, false) => {}
    }
}

/// Reports `dns.KEY` when it is set for a provider other than `only`; returns whether it may be.
fn only_for<T>(
    reader: &mut Reader<'_>,
    raw: &schema::Dns,
    key: &str,
    value: Option<&Spanned<T>>,
    only: DnsProvider,
) -> bool {
    match value {
        Some(value) if *raw.provider.get_ref() != only => {
            let message = format!(
                "`dns.{key}` is only for the {} provider",
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
    reader: &mut Reader<'_>,
    raw: &schema::Dns,
    present: bool,
    needs: DnsProvider,
    message: &str,
    hint: String,
) {
    if !present && *raw.provider.get_ref() == needs {
        reader.error_with_hint(raw.provider.span(), message, hint);
    }
}

fn check_provider_keys(reader: &mut Reader<'_>, raw: &schema::Dns, zone: &str) {
    use DnsProvider::{Cloudflare, Powerdns, Zonefile};
    let provider = *raw.provider.get_ref();
    let path = raw.path.is_some();
    required_by(
        reader,
        raw,
        path,
        Zonefile,
        "the zonefile provider needs `dns.path`",
        format!("e.g. path = \"zones/{zone}.zone\""),
    );
    only_for(reader, raw, "path", raw.path.as_ref(), Zonefile);
    only_for(reader, raw, "server", raw.server.as_ref(), Powerdns);
    let url = raw.url.is_some();
    required_by(
        reader,
        raw,
        url,
        Powerdns,
        "the powerdns provider needs `dns.url`",
        "e.g. url = \"http://127.0.0.1:8081\"".to_string(),
    );
    if let Some(url) = &raw.url {
        if provider == Zonefile {
            reader.error(url.span(), "`dns.url` is not used by the zonefile provider");
        } else if let Err(message) = check_url(url.get_ref()) {
            reader.error(url.span(), format!("`dns.url`: {message}"));
        }
    }
    if let Some(size) = raw.batch_size.as_ref()
        && only_for(reader, raw, "batch_size", Some(size), Cloudflare)
        && *size.get_ref() == 0
    {
        reader.error(size.span(), "`dns.batch_size` must be at least 1");
    }
}

fn check_limits(reader: &mut Reader<'_>, raw: &schema::Dns) {
    if let Some(percent) = raw
        .max_change_percent
        .as_ref()
        .filter(|percent| *percent.get_ref() > 100)
    {
        reader.error(
            percent.span(),
            "`dns.max_change_percent` is a percentage: 0 to 100",
        );
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
