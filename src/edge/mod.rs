//! The public edge: the nginx in front of the tailnet on a Fly.io app, rendered from each
//! service's `edge` table and `[edge]`: one server per public name, deny/allow prefixes, rate
//! limits keyed on the client address after realip, per-service ban maps that fail2ban owns, and
//! hand-written bans in a `geo` file.

use std::collections::BTreeSet;
use std::path::PathBuf;

use serde::Serialize;

use crate::catalog::{Catalog, Service, ServiceEdge};
use crate::render::{Artifact, EDGE_NGINX, RenderError, Renderer};

/// Where nginx runs on the edge machine: `nginx -p PREFIX -c conf/nginx.conf`; every path in the
/// rendered files is relative to it, or absolute under it.
pub const PREFIX: &str = "/srv/edge/";
/// The port Fly's proxy sends requests to (`internal_port` in fly.toml).
pub const LISTEN: u16 = 8080;
/// The addresses Fly's proxy connects from (its private networks): the only ones whose
/// `Fly-Client-IP` header is believed.
pub const FLY_PROXY: [&str; 2] = ["172.16.0.0/12", "fdaa::/16"];
/// The short body of a denied path.
pub const DENIED_BODY: &str = "This path is reachable from the private network only.";

#[derive(Debug, Serialize)]
struct Template<'a> {
    app: &'a str,
    prefix: &'static str,
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

/// The edge's artifacts: `edge/nginx.conf`, `edge/deny.geo` and one `edge/bans/SERVICE.map` per
/// service with a `ban` table (empty: fail2ban fills them; a missing include fails nginx).
pub fn artifacts(catalog: &Catalog, renderer: &Renderer) -> Result<Vec<Artifact>, RenderError> {
    let Some(edge) = &catalog.edge else {
        return Ok(Vec::new());
    };
    let services: Vec<(&Service, &ServiceEdge)> = catalog
        .services
        .values()
        .filter_map(|service| service.edge.as_ref().map(|table| (service, table)))
        .filter(|(service, _)| !service.public.is_empty() && !service.names.is_empty())
        .collect();
    let template = Template {
        app: &edge.app,
        prefix: PREFIX,
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
    let mut artifacts = vec![artifact(
        "edge/nginx.conf",
        renderer.render("edge/nginx.conf", EDGE_NGINX, &template)?,
    )];
    let mut geo = String::from("# Hand-written bans from [edge].deny_ips: 403 at the edge.\n");
    for address in &edge.deny_ips {
        geo.push_str(&format!("{address} 1;\n"));
    }
    artifacts.push(artifact("edge/deny.geo", geo));
    for (service, table) in &services {
        if table.ban.is_some() {
            artifacts.push(artifact(
                &format!("edge/bans/{}.map", service.name),
                String::new(),
            ));
        }
    }
    Ok(artifacts)
}

fn artifact(name: &str, content: String) -> Artifact {
    Artifact {
        name: name.to_string(),
        path: PathBuf::from(name),
        content,
    }
}

fn server<'a>(service: &'a Service, table: &ServiceEdge) -> Server<'a> {
    let limit = table.rate_limit.as_ref();
    Server {
        service: &service.name,
        description: service.description.as_deref(),
        names: &service.public,
        upstream: service.names.first().map_or("", String::as_str),
        rate: limit.map(|limit| limit.rate.to_string()),
        burst: limit.map_or(0, |limit| limit.burst),
        banned: table.ban.is_some(),
        locations: locations(table),
    }
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
