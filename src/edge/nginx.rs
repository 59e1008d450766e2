//! The edge's nginx: a catch-all server answering Fly's health checks, then one server per
//! service with public names: deny/allow prefixes, rate limits keyed on the client address after
//! realip, per-service ban maps that fail2ban owns, hand-written bans in a `geo` file, WebSocket
//! upgrades, answer headers, a bounded cache and an error page for an unreachable upstream.

use std::collections::BTreeSet;

use serde::Serialize;

use super::{EdgeService, FLY_PROXY, LOOPBACK, artifact, rendered};
use crate::catalog::{Edge, Placement, Service, ServiceEdge};
use crate::render::{Artifact, EDGE_NGINX, Renderer};

/// How long an expired cache entry is kept to answer while the upstream is down (when the cache
/// serves stale answers): a week, bounded by the cache's `max_size` like every entry.
const STALE_KEPT_SECONDS: u64 = 7 * 24 * 3600;
/// How long a proxied connection may stay idle for a service with WebSocket upgrades (nginx's
/// default of 60 s closes a quiet WebSocket).
const WEBSOCKET_IDLE: &str = "1h";
/// The URI nginx's error page goes through (never reachable from outside: `internal`).
pub const ERROR_URI: &str = "/.boma/unavailable";

#[derive(Debug, Serialize)]
struct Template<'a> {
    app: &'a str,
    prefix: &'a str,
    /// `PORT` on Fly.io; `127.0.0.1:PORT` on a host, where only its Caddy reaches nginx.
    listen: String,
    resolver: Option<String>,
    proxy: Proxy,
    servers: Vec<Server<'a>>,
    websocket: bool,
    error_uri: &'static str,
}

/// Who connects to nginx for the clients, and the header it names the client in.
#[derive(Debug, Serialize)]
struct Proxy {
    name: &'static str,
    header: &'static str,
    addresses: &'static [&'static str],
}

/// One service's server block.
#[derive(Debug, Serialize)]
struct Server<'a> {
    service: &'a str,
    /// The service's name in nginx's identifiers (its ban variable, zones, cache folder).
    identifier: String,
    description: Option<&'a str>,
    names: &'a [String],
    upstream: &'a str,
    upstream_host: &'a str,
    limits: Vec<Zone>,
    /// The quoted body a banned client gets, when the service has a `ban` table.
    banned: Option<String>,
    denied_body: String,
    websocket: bool,
    websocket_idle: &'static str,
    max_body: &'a str,
    /// Each header with its value quoted for nginx.
    headers: Vec<(&'a str, String)>,
    cache: Option<CacheZone>,
    locations: Vec<Location>,
}

/// A `limit_req_zone`.
#[derive(Debug, Serialize)]
struct Zone {
    name: String,
    rate: String,
    burst: u32,
}

#[derive(Debug, Serialize)]
struct CacheZone {
    zone: String,
    max_size: String,
    inactive_seconds: u64,
    lifetime_seconds: u64,
    key: &'static str,
    stale: bool,
}

/// A path prefix and what happens under it: the longest matching prefix wins, as in nginx.
#[derive(Debug, Serialize)]
struct Location {
    prefix: String,
    denied: bool,
    /// The zones whose paths cover this prefix, with their bursts.
    limits: Vec<Zone>,
    /// The status a rate-limited request gets here: the most specific limit's.
    limit_status: Option<u16>,
    cached: bool,
}

/// `nginx.conf`, `deny.geo`, one `bans/SERVICE.map` per service with a `ban` table (empty:
/// fail2ban fills them; a missing include fails nginx) and one `errors/SERVICE.html` per service.
pub fn files(
    catalog_dir: &std::path::Path,
    edge: &Edge,
    services: &[EdgeService<'_>],
    renderer: &Renderer,
    prefix: &str,
) -> anyhow::Result<Vec<Artifact>> {
    let template = Template {
        app: edge.name(),
        prefix,
        listen: match edge.placement {
            Placement::Fly(_) => edge.port.to_string(),
            Placement::Host(_) => format!("127.0.0.1:{}", edge.port),
        },
        resolver: edge.resolver.map(|address| {
            let host = match address.ip() {
                std::net::IpAddr::V6(v6) => format!("[{v6}]"),
                v4 => v4.to_string(),
            };
            if address.port() == 53 {
                host
            } else {
                format!("{host}:{}", address.port())
            }
        }),
        proxy: match edge.placement {
            Placement::Fly(_) => Proxy {
                name: "Fly's proxy",
                header: "Fly-Client-IP",
                addresses: &FLY_PROXY,
            },
            // Caddy sets X-Forwarded-For to the address that connected to it; nginx takes the last.
            Placement::Host(_) => Proxy {
                name: "the host's Caddy",
                header: "X-Forwarded-For",
                addresses: &LOOPBACK,
            },
        },
        websocket: services.iter().any(|(_, table)| table.websocket),
        error_uri: ERROR_URI,
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
        files.push(artifact(
            &format!("errors/{}.html", service.name),
            error_page(catalog_dir, service, table)?,
        ));
    }
    Ok(files)
}

fn server<'a>(service: &'a Service, table: &'a ServiceEdge) -> Server<'a> {
    let id = identifier(&service.name);
    Server {
        service: &service.name,
        description: service.description.as_deref(),
        names: &service.public,
        upstream: &table.upstream,
        upstream_host: &table.upstream_host,
        limits: table
            .rate_limits
            .iter()
            .map(|limit| Zone {
                name: zone(&id, &limit.name),
                rate: limit.rate.to_string(),
                burst: limit.burst,
            })
            .collect(),
        banned: table.ban.as_ref().map(|ban| quoted_body(&ban.body)),
        denied_body: quoted_body(&table.deny_body),
        websocket: table.websocket,
        websocket_idle: WEBSOCKET_IDLE,
        max_body: &table.max_body,
        headers: table
            .headers
            .iter()
            .map(|(name, value)| (name.as_str(), quoted(value)))
            .collect(),
        cache: table.cache.as_ref().map(|cache| CacheZone {
            zone: format!("boma_cache_{id}"),
            max_size: cache.max_size.clone(),
            inactive_seconds: if cache.stale {
                cache.lifetime.seconds.max(STALE_KEPT_SECONDS)
            } else {
                cache.lifetime.seconds
            },
            lifetime_seconds: cache.lifetime.seconds,
            key: if cache.query {
                "$host$request_uri"
            } else {
                "$host$uri"
            },
            stale: cache.stale,
        }),
        locations: locations(&id, table),
        identifier: id,
    }
}

/// The `limit_req` zone of one of a service's limits. `identifier` never writes `__` (every `_`
/// it writes is followed by two hex digits), so the service and the limit stay apart.
fn zone(service: &str, limit: &str) -> String {
    format!("{service}__{}", identifier(limit))
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

/// `text` as an nginx quoted string: `"` and `\` escaped, line breaks and tabs as `\n` and `\t`,
/// and `$` (which would start a variable) as `${boma_dollar}`, a variable holding `$`.
pub(super) fn quoted(text: &str) -> String {
    let mut out = String::with_capacity(text.len() + 2);
    out.push('"');
    for c in text.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\t' => out.push_str("\\t"),
            '$' => out.push_str("${boma_dollar}"),
            other => out.push(other),
        }
    }
    out.push('"');
    out
}

/// An answer body, quoted, ending in a line break.
fn quoted_body(text: &str) -> String {
    if text.ends_with('\n') {
        quoted(text)
    } else {
        quoted(&format!("{text}\n"))
    }
}

/// The page answered when the upstream cannot be reached: the service's `error_page` file, or a
/// short page of boma's own.
fn error_page(
    catalog_dir: &std::path::Path,
    service: &Service,
    table: &ServiceEdge,
) -> anyhow::Result<String> {
    if let Some(file) = &table.error_page {
        let path = catalog_dir.join(file);
        let bytes = crate::files::read_regular(&path, crate::files::Links::Refuse)
            .and_then(|bytes| {
                bytes.ok_or_else(|| anyhow::anyhow!("`{}` does not exist", path.display()))
            })
            .map_err(|error| {
                anyhow::anyhow!(
                    "cannot read the error page of `{}`: {error:#}",
                    service.name
                )
            })?;
        return String::from_utf8(bytes).map_err(|_| {
            anyhow::anyhow!(
                "the error page of `{}` ({}) is not UTF-8 text",
                service.name,
                path.display()
            )
        });
    }
    let name = html_escape(service.public.first().map_or(&service.name, |name| name));
    Ok(format!(
        "<!doctype html>\n<html lang=\"en\">\n<meta charset=\"utf-8\">\n<title>{name} is unavailable</title>\n<h1>{name} is unavailable right now</h1>\n<p>The service behind this address cannot be reached. Please try again in a minute.</p>\n</html>\n"
    ))
}

fn html_escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Every prefix the table names, plus `/`, each with what applies under it: denied when the
/// longest deny/allow rule that covers it is a deny; the rate limits whose paths cover it; cached
/// when a cache path covers it.
fn locations(id: &str, table: &ServiceEdge) -> Vec<Location> {
    let covers = |paths: &[String], prefix: &str| {
        paths.is_empty() || paths.iter().any(|path| prefix.starts_with(path.as_str()))
    };
    let cache_paths: &[String] = table.cache.as_ref().map_or(&[], |cache| &cache.paths);
    let prefixes: BTreeSet<&str> = std::iter::once("/")
        .chain(table.deny.iter().map(String::as_str))
        .chain(table.allow.iter().map(String::as_str))
        .chain(
            table
                .rate_limits
                .iter()
                .flat_map(|limit| limit.paths.iter().map(String::as_str)),
        )
        .chain(cache_paths.iter().map(String::as_str))
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
            let limits: Vec<_> = table
                .rate_limits
                .iter()
                .filter(|limit| covers(&limit.paths, prefix))
                .collect();
            // The most specific limit: the longest of its paths that covers this prefix.
            let specific = limits.iter().max_by_key(|limit| {
                limit
                    .paths
                    .iter()
                    .filter(|path| prefix.starts_with(path.as_str()))
                    .map(String::len)
                    .max()
                    .unwrap_or(0)
            });
            Location {
                prefix: prefix.to_string(),
                denied: rule.is_some_and(|(_, denied)| denied),
                limit_status: specific.map(|limit| limit.status),
                limits: limits
                    .iter()
                    .map(|limit| Zone {
                        name: zone(id, &limit.name),
                        rate: limit.rate.to_string(),
                        burst: limit.burst,
                    })
                    .collect(),
                cached: table.cache.is_some() && covers(cache_paths, prefix),
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
        assert!(spelled.iter().all(|s| !s.contains("__")));
    }

    #[test]
    fn quoted_strings_escape_what_nginx_would_read_otherwise() {
        assert_eq!(
            quoted("say \"hi\" \\ pay $5\n\tok"),
            "\"say \\\"hi\\\" \\\\ pay ${boma_dollar}5\\n\\tok\""
        );
        assert_eq!(quoted_body("Gone."), "\"Gone.\\n\"");
        assert_eq!(quoted_body("Gone.\n"), "\"Gone.\\n\"");
    }
}
