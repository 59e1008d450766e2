//! The Caddy stage: each host's Caddyfile (the sites its services need, rendered from
//! `Caddyfile.j2`), planned against the live file and pushed over SSH.

pub mod plan;
pub mod push;
pub mod report;
mod stage;

pub use stage::CaddyStage;

use std::borrow::Cow;
use std::path::PathBuf;

use serde::Serialize;

use crate::catalog::{Answer, Catalog, DnsChallenge, Host};
use crate::hint::Hint;
use crate::render::{Artifact, CADDYFILE, RenderError, Renderer};

/// The script that runs on each host, after what the push scripts share (`remote/push.sh`); see
/// its header for the settings.
const SCRIPT: &str = concat!(include_str!("../remote/push.sh"), include_str!("push.sh"));

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
    /// `[hosts.NAME.caddy].global`, indented for the global options block.
    global: Option<String>,
    /// `[hosts.NAME.caddy].extra`, after the sites.
    extra: Option<&'a str>,
    authentik_headers: &'static [&'static str],
    sites: Vec<Site<'a>>,
    wildcards: Vec<Wildcard<'a>>,
}

/// One site block: a set of addresses that share a certificate policy and a handler.
#[derive(Debug, Serialize)]
struct Site<'a> {
    service: &'a str,
    description: Option<&'a str>,
    addresses: Vec<&'a str>,
    /// `dns` (DNS-01 through the host's challenge), `internal` (Caddy's own CA) or `acme` (HTTP-01).
    tls: &'static str,
    dns_challenge: Option<&'a DnsChallenge>,
    handler: Handler<'a>,
    /// The upstream of a proxied site (also in `handler`; kept for templates written before it).
    upstream: Option<&'a str>,
    authentik_outpost: Option<&'a str>,
    /// The service's `caddy` lines, indented for its site.
    snippet: Option<String>,
}

/// One `*.ZONE` site: a certificate for the zone through the host's DNS challenge (no private
/// name in a certificate transparency log), a route a service, and 404 for any other name.
#[derive(Debug, Serialize)]
struct Wildcard<'a> {
    zone: &'a str,
    dns_challenge: Option<&'a DnsChallenge>,
    routes: Vec<Route<'a>>,
}

/// A service's names under a wildcard zone: a `host` matcher and its `handle`.
#[derive(Debug, Serialize)]
struct Route<'a> {
    service: &'a str,
    description: Option<&'a str>,
    names: Vec<&'a str>,
    handler: Handler<'a>,
    upstream: Option<&'a str>,
    authentik_outpost: Option<&'a str>,
    /// The service's `caddy` lines, indented for its `handle`.
    snippet: Option<String>,
}

/// What a site does with a request.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
enum Handler<'a> {
    Proxy {
        upstream: Cow<'a, str>,
    },
    /// `respond BODY STATUS`: the body quoted for the Caddyfile.
    Respond {
        body: String,
        status: u16,
    },
    /// `redir URL permanent`.
    Redirect {
        to: &'a str,
    },
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
            global: host.caddy.global.as_deref().map(|text| indented(text, 1)),
            extra: host.caddy.extra.as_deref(),
            authentik_headers: &AUTHENTIK_HEADERS,
            sites: sites.sites,
            wildcards: sites.wildcards,
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

/// A host's sites: one a service and kind of name, and one `*.ZONE` site a wildcard zone holding
/// a route for each service with names under it.
#[derive(Default)]
struct Sites<'a> {
    sites: Vec<Site<'a>>,
    wildcards: Vec<Wildcard<'a>>,
}

impl Sites<'_> {
    fn is_empty(&self) -> bool {
        self.sites.is_empty() && self.wildcards.is_empty()
    }
}

fn sites<'a>(catalog: &'a Catalog, host: &'a Host) -> Sites<'a> {
    let outpost = catalog
        .authentik
        .as_ref()
        .map(|authentik| authentik.outpost.as_str());
    let mut found = Sites {
        sites: Vec::new(),
        wildcards: host
            .caddy
            .wildcard
            .iter()
            .map(|zone| Wildcard {
                zone,
                dns_challenge: host.caddy.dns_challenge.as_ref(),
                routes: Vec::new(),
            })
            .collect(),
    };
    for service in catalog.services_on(&host.name) {
        let Some(handler) = handler(service) else {
            continue;
        };
        let upstream = service
            .upstream
            .as_deref()
            .filter(|_| service.answer.is_none());
        let authentik_outpost = outpost.filter(|_| service.authentik);
        let site = |addresses, tls, dns_challenge| Site {
            service: &service.name,
            description: service.description.as_deref(),
            addresses,
            tls,
            dns_challenge,
            handler: handler.clone(),
            upstream,
            authentik_outpost,
            snippet: service.caddy.as_deref().map(|text| indented(text, 1)),
        };
        // Private names under a wildcard zone are routes of its `*.ZONE` site.
        let mut own = Vec::new();
        for name in &service.names {
            match host.caddy.wildcard_for(name) {
                Some(zone) => {
                    let Some(wildcard) = found.wildcards.iter_mut().find(|w| w.zone == zone) else {
                        continue;
                    };
                    match wildcard
                        .routes
                        .iter_mut()
                        .find(|route| route.service == service.name)
                    {
                        Some(route) => route.names.push(name),
                        None => wildcard.routes.push(Route {
                            service: &service.name,
                            description: service.description.as_deref(),
                            names: vec![name],
                            handler: handler.clone(),
                            upstream,
                            authentik_outpost,
                            snippet: service.caddy.as_deref().map(|text| indented(text, 2)),
                        }),
                    }
                }
                None => own.push(name.as_str()),
            }
        }
        if !own.is_empty() {
            // Private names cannot answer HTTP-01: DNS-01 when the host has a challenge, else the internal CA.
            match &host.caddy.dns_challenge {
                Some(challenge) => found.sites.push(site(own, "dns", Some(challenge))),
                None => found.sites.push(site(own, "internal", None)),
            }
        }
        if !service.public.is_empty() && service.edge.is_none() {
            let public = service.public.iter().map(String::as_str).collect();
            found.sites.push(site(public, "acme", None));
        }
    }
    // The edge's host terminates TLS for the public names of the services it fronts and hands
    // them to its nginx on loopback.
    if let Some(edge) = catalog
        .edge
        .as_ref()
        .filter(|edge| edge.on_host().is_some_and(|on| on.host == host.name))
    {
        let upstream = format!("127.0.0.1:{}", edge.port);
        for (service, _) in catalog.edge_services() {
            found.sites.push(Site {
                service: &service.name,
                description: service.description.as_deref(),
                addresses: service.public.iter().map(String::as_str).collect(),
                tls: "acme",
                dns_challenge: None,
                handler: Handler::Proxy {
                    upstream: Cow::Owned(upstream.clone()),
                },
                upstream: None,
                authentik_outpost: None,
                snippet: None,
            });
        }
    }
    found
        .wildcards
        .retain(|wildcard| !wildcard.routes.is_empty());
    found
}

/// The service's handler: its answer, else its upstream; `None` when it has neither.
fn handler(service: &crate::catalog::Service) -> Option<Handler<'_>> {
    match &service.answer {
        Some(Answer::Respond { status, body }) => Some(Handler::Respond {
            body: quoted(body),
            status: *status,
        }),
        Some(Answer::Redirect(to)) => Some(Handler::Redirect { to }),
        None => service.upstream.as_deref().map(|upstream| Handler::Proxy {
            upstream: Cow::Borrowed(upstream),
        }),
    }
}

/// `text` as a Caddyfile quoted string: a quote escaped; line breaks stay (a quoted token may span
/// lines). The catalog refuses backslashes in bodies, which a quoted token cannot carry whole.
fn quoted(text: &str) -> String {
    format!("\"{}\"", text.replace('"', "\\\""))
}

/// `text` with each non-empty line indented by `tabs` tabs, without a final line break.
fn indented(text: &str, tabs: usize) -> String {
    let indent = "\t".repeat(tabs);
    text.trim_end()
        .lines()
        .map(|line| {
            if line.trim().is_empty() {
                String::new()
            } else {
                format!("{indent}{line}")
            }
        })
        .collect::<Vec<_>>()
        .join("\n")
}
