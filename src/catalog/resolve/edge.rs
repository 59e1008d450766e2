//! `[edge]` (the Fly.io proxy in front of public names) and `[auth]` (the Authentik outpost).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use toml::Spanned;

use super::super::model::{Authentik, Edge};
use super::super::parse::Reader;
use super::super::schema;
use super::super::values::{check_url, is_hostname, is_identifier};

/// Where the Machines API (and its certificates resource) lives unless `edge.api_url` says.
pub const DEFAULT_API_URL: &str = "https://api.machines.dev/v1";
use super::check_secret;
use crate::secret::SecretRef;

pub fn edge(reader: &mut Reader<'_>, secrets: &BTreeMap<String, SecretRef>) -> Option<Edge> {
    let value = reader.take("edge")?;
    let raw: schema::Edge = reader.read(value, "edge")?;
    if !is_identifier(raw.app.get_ref()) {
        reader.error(
            raw.app.span(),
            format!(
                "`edge.app`: `{}` is not a Fly.io app name",
                raw.app.get_ref()
            ),
        );
    }
    let target = raw
        .target
        .get_ref()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if !is_hostname(&target) {
        reader.error(
            raw.target.span(),
            format!(
                "`edge.target`: `{}` is not a host name",
                raw.target.get_ref()
            ),
        );
    }
    check_secret(reader, secrets, &raw.token, "edge.token");
    let resolver = raw
        .resolver
        .and_then(|resolver| match resolver.get_ref().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                reader.error(
                    resolver.span(),
                    format!(
                        "`edge.resolver`: `{}` is not an IP address",
                        resolver.get_ref()
                    ),
                );
                None
            }
        });
    let dir = raw
        .dir
        .map_or_else(|| "fly".to_string(), Spanned::into_inner);
    if let Some(url) = &raw.api_url
        && let Err(message) = check_url(url.get_ref())
    {
        reader.error(url.span(), format!("`edge.api_url`: {message}"));
    }
    for address in &raw.deny_ips {
        if !is_ip_or_cidr(address.get_ref()) {
            reader.error_with_hint(
                address.span(),
                format!(
                    "`edge.deny_ips`: `{}` is not an IP address or CIDR block",
                    address.get_ref()
                ),
                "e.g. \"203.0.113.7\", \"203.0.113.0/24\" or \"2001:db8::/32\"",
            );
        }
    }
    Some(Edge {
        app: raw.app.into_inner(),
        target,
        dir: PathBuf::from(dir),
        token: raw.token.into_inner(),
        resolver,
        image: raw.image.map(Spanned::into_inner),
        api_url: raw.api_url.map_or_else(
            || DEFAULT_API_URL.to_string(),
            |url| url.into_inner().trim_end_matches('/').to_string(),
        ),
        deny_ips: raw.deny_ips.into_iter().map(Spanned::into_inner).collect(),
    })
}

/// An address or a CIDR block (`203.0.113.0/24`, `2001:db8::/32`) with a prefix that fits it.
fn is_ip_or_cidr(text: &str) -> bool {
    let (address, prefix) = text.split_once('/').unwrap_or((text, ""));
    match address.parse::<IpAddr>() {
        Ok(_) if prefix.is_empty() => !text.contains('/'),
        Ok(IpAddr::V4(_)) => prefix.parse::<u8>().is_ok_and(|bits| bits <= 32),
        Ok(IpAddr::V6(_)) => prefix.parse::<u8>().is_ok_and(|bits| bits <= 128),
        Err(_) => false,
    }
}

pub fn auth(reader: &mut Reader<'_>) -> Option<Spanned<Authentik>> {
    let value = reader.take("auth")?;
    let raw: schema::Auth = reader.read(value, "auth")?;
    let authentik = raw.authentik?;
    let span = authentik.span();
    let outpost = authentik.into_inner().outpost;
    if let Err(message) = super::super::values::check_upstream(outpost.get_ref()) {
        reader.error(
            outpost.span(),
            format!("`auth.authentik.outpost`: {message}"),
        );
    }
    Some(Spanned::new(
        span,
        Authentik {
            outpost: outpost.into_inner().trim_end_matches('/').to_string(),
        },
    ))
}
