//! `[edge]` (the Fly.io proxy in front of public names) and `[auth]` (the Authentik outpost).

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use toml::Spanned;

use super::super::model::{Authentik, Edge};
use super::super::parse::Reader;
use super::super::schema;
use super::super::values::{is_hostname, is_identifier};
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
    Some(Edge {
        app: raw.app.into_inner(),
        target,
        dir: PathBuf::from(dir),
        token: raw.token.into_inner(),
        resolver,
    })
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
