//! The Caddy stage: each host's Caddyfile (the sites its services need, rendered from
//! `Caddyfile.j2`), planned against the live file and pushed over SSH.

pub mod plan;
pub mod push;
pub mod report;
mod stage;

pub use stage::CaddyStage;

use std::path::PathBuf;

use serde::Serialize;

use crate::catalog::{Catalog, DnsChallenge, Host};
use crate::hint::Hint;
use crate::render::{Artifact, CADDYFILE, RenderError, Renderer};

/// The script that runs on each host; see its header for the settings.
const SCRIPT: &str = include_str!("push.sh");

#[derive(Debug, thiserror::Error)]
pub enum CaddyError {
    #[error("host `{0}` serves no site, so it has no Caddyfile to push")]
    ServesNoSite(String),
}

impl Hint for CaddyError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::ServesNoSite(_) => Some(
                "give one of its services an upstream and a name, or leave the host out"
                    .to_string(),
            ),
        }
    }
}

/// The headers Authentik's outpost answers with; Caddy copies them to the upstream request.
pub const AUTHENTIK_HEADERS: [&str; 6] = [
    "X-Authentik-Username",
    "X-Authentik-Groups",
    "X-Authentik-Email",
    "X-Authentik-Name",
    "X-Authentik-Uid",
    "X-Authentik-Jwt",
];

#[derive(Debug, Serialize)]
/// What `Caddyfile.j2` is given for one host.
struct Template<'a> {
    host: &'a str,
    email: Option<&'a str>,
    admin: Option<&'a str>,
    http_port: Option<u16>,
    https_port: Option<u16>,
    authentik_headers: &'static [&'static str],
    sites: Vec<Site<'a>>,
}

/// One site block: a set of addresses that share a certificate policy and a handler.
#[derive(Debug, Serialize)]
struct Site<'a> {
    service: &'a str,
    description: Option<&'a str>,
    addresses: &'a [String],
    /// `dns` (DNS-01 through the host's challenge), `internal` (Caddy's own CA) or `acme` (HTTP-01).
    tls: &'static str,
    dns_challenge: Option<&'a DnsChallenge>,
    upstream: &'a str,
    authentik_outpost: Option<&'a str>,
}

/// The artifact name of a host's Caddyfile.
pub fn artifact_name(host: &str) -> String {
    format!("caddy/{host}")
}

/// Each host that serves a site, with its rendered Caddyfile, in host order.
pub fn caddyfiles<'a>(
    catalog: &'a Catalog,
    renderer: &Renderer,
) -> Result<Vec<(&'a Host, String)>, RenderError> {
    let mut caddyfiles = Vec::new();
    for host in catalog.hosts.values() {
        let sites = sites(catalog, host);
        if sites.is_empty() {
            continue;
        }
        let context = Template {
            host: &host.name,
            email: catalog.defaults.acme_email.as_deref(),
            admin: host.caddy.admin.as_deref(),
            http_port: host.caddy.http_port,
            https_port: host.caddy.https_port,
            authentik_headers: &AUTHENTIK_HEADERS,
            sites,
        };
        let content = renderer.render(&artifact_name(&host.name), CADDYFILE, &context)?;
        caddyfiles.push((host, content));
    }
    Ok(caddyfiles)
}

pub fn artifacts(catalog: &Catalog, renderer: &Renderer) -> Result<Vec<Artifact>, RenderError> {
    Ok(caddyfiles(catalog, renderer)?
        .into_iter()
        .map(|(host, content)| {
            let name = artifact_name(&host.name);
            Artifact {
                path: PathBuf::from(&name).join("Caddyfile"),
                name,
                content,
            }
        })
        .collect())
}

/// Whether any host serves a site, i.e. has a Caddyfile to push.
pub fn serves_sites(catalog: &Catalog) -> bool {
    catalog
        .hosts
        .values()
        .any(|host| !sites(catalog, host).is_empty())
}

fn sites<'a>(catalog: &'a Catalog, host: &'a Host) -> Vec<Site<'a>> {
    let outpost = catalog
        .authentik
        .as_ref()
        .map(|authentik| authentik.outpost.as_str());
    let mut sites = Vec::new();
    for service in catalog.services_on(&host.name) {
        let Some(upstream) = service.upstream.as_deref() else {
            continue;
        };
        let site = |addresses, tls, dns_challenge| Site {
            service: &service.name,
            description: service.description.as_deref(),
            addresses,
            tls,
            dns_challenge,
            upstream,
            authentik_outpost: outpost.filter(|_| service.authentik),
        };
        if !service.names.is_empty() {
            // Private names cannot answer HTTP-01: DNS-01 when the host has a challenge, else the internal CA.
            match &host.caddy.dns_challenge {
                Some(challenge) => sites.push(site(&service.names, "dns", Some(challenge))),
                None => sites.push(site(&service.names, "internal", None)),
            }
        }
        if !service.public.is_empty() && service.edge.is_none() {
            sites.push(site(&service.public, "acme", None));
        }
    }
    sites
}
