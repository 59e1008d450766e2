//! The edge's nginx: one server per public name, deny/allow prefixes, rate limits keyed on the
//! client address after realip, per-service ban maps that fail2ban owns, and hand-written bans in
//! a `geo` file.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{DENIED_BODY, EdgeService, FLY_PROXY, LISTEN, artifact, rendered};
use crate::catalog::{Edge, Service, ServiceEdge};
use crate::render::{Artifact, EDGE_NGINX, RenderError, Renderer};

#[derive(Debug, Serialize)]
struct Template<'a> {
    app: &'a str,
    prefix: &'a str,
    listen: u16,
    resolver: Option<String>,
    trusted_proxies: &'static [&'static str],
    denied_body: &'static str,
    servers: Vec<Server<'a>>,
}

/// One service's server block.
#[derive(Debug, Serialize)]
struct Server<'a> {
    service: &'a str,
    /// The service's name in nginx's identifiers (its ban variable, its `limit_req` zone).
    identifier: String,
    description: Option<&'a str>,
    names: &'a [String],
    /// The private name the edge proxies to, over HTTPS through the tailnet.
    upstream: &'a str,
    /// `3r/s` and the burst, when the service has a rate limit.
    rate: Option<String>,
    burst: u32,
    banned: bool,
    locations: Vec<Location>,
}

/// A path prefix and what happens under it: the longest matching prefix wins, as in nginx.
#[derive(Debug, Serialize)]
struct Location {
    prefix: String,
    denied: bool,
    limited: bool,
}

/// `nginx.conf`, `deny.geo` and one `bans/SERVICE.map` per service with a `ban` table (empty:
/// fail2ban fills them; a missing include fails nginx).
pub fn files(
    edge: &Edge,
    services: &[EdgeService<'_>],
    renderer: &Renderer,
    prefix: &str,
) -> Result<Vec<Artifact>, RenderError> {
    let template = Template {
        app: &edge.app,
        prefix,
        listen: LISTEN,
        resolver: edge.resolver.map(|ip| match ip {
            std::net::IpAddr::V6(v6) => format!("[{v6}]"),
            v4 => v4.to_string(),
        }),
        trusted_proxies: &FLY_PROXY,
        denied_body: DENIED_BODY,
        servers: services
            .iter()
            .map(|(service, table)| server(service, table))
            .collect(),
    };
    let mut files = vec![rendered(renderer, "nginx.conf", EDGE_NGINX, &template)?];
    let mut geo = String::from("# Hand-written bans from [edge].deny_ips: 403 at the edge.\n");
    for address in &edge.deny_ips {
        geo.push_str(&format!("{address} 1;\n"));
    }
    files.push(artifact("deny.geo", geo));
    for (service, table) in services {
        if table.ban.is_some() {
            files.push(artifact(
                &format!("bans/{}.map", service.name),
                String::new(),
            ));
        }
    }
    Ok(files)
}

fn server<'a>(service: &'a Service, table: &ServiceEdge) -> Server<'a> {
    let limit = table.rate_limit.as_ref();
    Server {
        service: &service.name,
        identifier: identifier(&service.name),
        description: service.description.as_deref(),
        names: &service.public,
        upstream: service.names.first().map_or("", String::as_str),
        rate: limit.map(|limit| limit.rate.to_string()),
        burst: limit.map_or(0, |limit| limit.burst),
        banned: table.ban.is_some(),
        locations: locations(table),
    }
}

/// A service's name as the edge's identifiers spell it: nginx variables and `limit_req` zones,
/// fail2ban jails and filters. Letters `a`-`z` and digits stay; every other byte becomes `_` and
/// two hex digits (`a-b` is `a_2db`, `a_b` is `a_5fb`, `App` is `_41pp`). nginx allows no `-`
/// in a variable name and folds case in it, and fail2ban's jail file has sections of its own
/// (`DEFAULT`, `INCLUDES`): writing `-` as `_` gave `a-b` and `a_b` one ban variable, so one
/// service's bans were ignored and the other's banned from both. This spelling is injective (a
/// `_` is always an escape) and leaves plain names as they are.
pub(super) fn identifier(service: &str) -> String {
    let mut spelled = String::with_capacity(service.len());
    for byte in service.bytes() {
        if byte.is_ascii_lowercase() || byte.is_ascii_digit() {
            spelled.push(char::from(byte));
        } else {
            spelled.push_str(&format!("_{byte:02x}"));
        }
    }
    spelled
}

/// Every prefix the table names, plus `/`, each with what applies under it: denied when the
/// longest deny/allow rule that covers it is a deny; rate limited when a limited path covers it.
fn locations(table: &ServiceEdge) -> Vec<Location> {
    let limited_paths: &[String] = table
        .rate_limit
        .as_ref()
        .map_or(&[], |limit| limit.paths.as_slice());
    let prefixes: BTreeSet<&str> = std::iter::once("/")
        .chain(table.deny.iter().map(String::as_str))
        .chain(table.allow.iter().map(String::as_str))
        .chain(limited_paths.iter().map(String::as_str))
        .collect();
    prefixes
        .into_iter()
        .map(|prefix| {
            let rule = table
                .deny
                .iter()
                .map(|rule| (rule, true))
                .chain(table.allow.iter().map(|rule| (rule, false)))
                .filter(|(rule, _)| prefix.starts_with(rule.as_str()))
                .max_by_key(|(rule, denied)| (rule.len(), !*denied));
            Location {
                prefix: prefix.to_string(),
                denied: rule.is_some_and(|(_, denied)| denied),
                limited: limited_paths
                    .iter()
                    .any(|path| prefix.starts_with(path.as_str())),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identifiers_keep_plain_names_and_tell_look_alikes_apart() {
        assert_eq!(identifier("shower"), "shower");
        assert_eq!(identifier("caddy2"), "caddy2");
        let look_alikes = [
            "a-b", "a_b", "a_2db", "ab", "App", "app", "APP", "DEFAULT", "a--b", "a-_b",
        ];
        let spelled: Vec<String> = look_alikes.iter().map(|name| identifier(name)).collect();
        assert_eq!(
            spelled,
            [
                "a_2db",
                "a_5fb",
                "a_5f2db",
                "ab",
                "_41pp",
                "app",
                "_41_50_50",
                "_44_45_46_41_55_4c_54",
                "a_2d_2db",
                "a_2d_5fb"
            ]
        );
        let distinct: BTreeSet<&String> = spelled.iter().collect();
        assert_eq!(distinct.len(), look_alikes.len());
        // nginx folds case in variable names: no two spellings may differ by case alone.
        let folded: BTreeSet<String> = spelled.iter().map(|s| s.to_ascii_lowercase()).collect();
        assert_eq!(folded.len(), look_alikes.len());
        assert!(spelled.iter().all(|s| {
            s.bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
        }));
    }
}
