//! The resolved catalog: validated, cross-referenced, with defaults applied and records derived.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use serde::Serialize;

pub use super::schema::{BackupTool, BuildTool, DeployStrategy, DnsProvider, ZoneNames};
pub use super::values::{Duration, Rate, RecordType, url_host};
pub use crate::position::Position;
use crate::secret::SecretRef;

/// A section's entries by name, in natural order (`h2` before `h10`): the order of every table,
/// fan-out and rendered file that lists them.
pub type ByName<T> = indexmap::IndexMap<String, T>;

/// `entries` as a [`ByName`], sorted naturally.
pub fn by_name<T>(entries: impl IntoIterator<Item = (String, T)>) -> ByName<T> {
    let mut map: ByName<T> = entries.into_iter().collect();
    map.sort_by(|a, _, b, _| crate::natural::compare(a, b));
    map
}

#[derive(Debug, Clone)]
pub struct Catalog {
    pub path: PathBuf,
    /// The catalog's folder: relative paths in the catalog are relative to it.
    pub dir: PathBuf,
    pub defaults: Defaults,
    pub secrets: BTreeMap<String, SecretRef>,
    pub dns: Option<Dns>,
    pub hosts: ByName<Host>,
    pub edge: Option<Edge>,
    pub authentik: Option<Authentik>,
    pub services: ByName<Service>,
    /// `[images.NAME]`: images that belong to no service.
    pub images: ByName<Container>,
    /// `[registries.NAME]`: push credentials, matched by the registry host of an image.
    pub registries: ByName<Registry>,
    /// Every record of the zone that the catalog implies, sorted by name and type.
    pub records: Vec<Record>,
    /// Hosts whose SSHFP records the DNS stage publishes from the known-hosts file boma
    /// verifies them against (`sshfp = true`), in host order.
    pub sshfp: Vec<SshfpHost>,
    /// Notes on the valid catalog (a deprecated record type), for `boma check`.
    pub notes: Vec<super::Located>,
}

/// A host that publishes SSHFP records of its verified host keys (`[hosts.NAME] sshfp = true`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshfpHost {
    pub host: String,
    /// The host's DNS name (`name`, else its `address`), fully qualified, without a final dot.
    pub name: String,
    /// The zone (`Zone::name`) that holds the name.
    pub zone: String,
    pub ttl: u32,
}

#[derive(Debug, Clone)]
pub struct Defaults {
    pub ttl: u32,
    pub acme_email: Option<String>,
    pub build_tool: Option<BuildTool>,
}

#[derive(Debug, Clone)]
pub struct Registry {
    pub name: String,
    /// `host[:port]` as written in image references.
    pub host: String,
    pub user: Option<String>,
    /// A [secrets] name.
    pub password: Option<String>,
    /// `false` only for a plain-HTTP registry on a lab or loopback.
    pub tls_verify: bool,
}

/// `[dns]`: the owner boma marks records with, and the zones (one in the single-zone form).
#[derive(Debug, Clone)]
pub struct Dns {
    /// `[dns].owner`, written in every ownership mark.
    pub owner: String,
    /// In name order.
    pub zones: Vec<Zone>,
    /// The zones are `[dns.zones.NAME]` tables (reports then name each zone and list them).
    pub named_zones: bool,
}

impl Dns {
    pub fn zone(&self, name: &str) -> Option<&Zone> {
        self.zones.iter().find(|zone| zone.name == name)
    }
}

#[derive(Debug, Clone)]
pub struct Zone {
    /// `NAME` of `[dns.zones.NAME]`; the domain itself in the single-zone form.
    pub name: String,
    pub names: ZoneNames,
    pub provider: DnsProvider,
    /// Lowercase, without a trailing dot.
    pub zone: String,
    pub credentials: Option<String>,
    pub purge: bool,
    pub max_change_percent: u8,
    pub path: Option<PathBuf>,
    pub url: Option<String>,
    pub server: String,
    /// Cloudflare: changes per batch request.
    pub batch_size: usize,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Record {
    /// Fully qualified, lowercase, without a trailing dot.
    pub name: String,
    #[serde(rename = "type")]
    pub record_type: RecordType,
    pub ttl: u32,
    pub values: Vec<String>,
    /// The service it comes from, or `None` for a `[[dns.records]]` entry.
    pub service: Option<String>,
    /// The host it comes from (a PTR in a reverse zone), or `None`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub host: Option<String>,
    /// The name of the zone that holds it (see `Zone::name`).
    pub zone: String,
    /// Cloudflare's proxy flag, when the catalog sets it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proxied: Option<bool>,
}

#[derive(Debug, Clone)]
pub struct Host {
    pub name: String,
    pub address: Address,
    pub ssh: Ssh,
    pub sudo: bool,
    pub ip: Option<IpAddr>,
    pub public: bool,
    pub caddy: Caddy,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Address {
    /// This machine: steps run without SSH.
    Local,
    Remote(String),
}

#[derive(Debug, Clone, Default)]
pub struct Ssh {
    pub user: Option<String>,
    pub port: Option<u16>,
    pub identity: Option<PathBuf>,
    pub known_hosts: Option<PathBuf>,
    pub jump: Option<String>,
}

#[derive(Debug, Clone)]
pub struct Caddy {
    pub config: String,
    pub reload: String,
    pub dns_challenge: Option<DnsChallenge>,
    pub admin: Option<String>,
    pub http_port: Option<u16>,
    pub https_port: Option<u16>,
    /// Lines for the global options block, as written.
    pub global: Option<String>,
    /// Caddyfile text appended after the sites, as written.
    pub extra: Option<String>,
    /// Private zones (`ops.example.org`) served by one `*.ZONE` site and certificate each.
    pub wildcard: Vec<String>,
}

impl Caddy {
    /// The wildcard zone `name` is served under: one label directly below one of `wildcard`.
    pub fn wildcard_for(&self, name: &str) -> Option<&str> {
        self.wildcard
            .iter()
            .map(String::as_str)
            .find(|zone| under_wildcard(name, zone))
    }
}

/// Whether `*.ZONE` answers for `name`: one label directly below `zone`, as DNS and TLS wildcards
/// match.
pub fn under_wildcard(name: &str, zone: &str) -> bool {
    name.strip_suffix(zone)
        .and_then(|prefix| prefix.strip_suffix('.'))
        .is_some_and(|label| !label.is_empty() && !label.contains('.'))
}

#[derive(Debug, Clone, Serialize)]
pub struct DnsChallenge {
    pub provider: String,
    pub token_env: String,
}

#[derive(Debug, Clone)]
pub struct Edge {
    /// Where the edge runs: a Fly.io app, or a catalog host the files are pushed to over SSH.
    pub placement: Placement,
    pub dir: PathBuf,
    /// The DNS server nginx resolves upstream names with (port 53 unless written).
    pub resolver: Option<SocketAddr>,
    /// The edge machines' image (nginx + fail2ban), when boma should set it.
    pub image: Option<String>,
    /// The Machines API base (certificates too), without a final `/`.
    pub api_url: String,
    /// Hand-written bans: addresses and CIDR blocks, answered 403 at the edge.
    pub deny_ips: Vec<String>,
    /// The port nginx listens on inside the machine (fly.toml's `internal_port`).
    pub port: u16,
    pub primary_region: Option<String>,
    pub strategy: Option<DeployStrategy>,
    pub vm: Option<Vm>,
    /// The Fly volume mounted at `edge::STATE`.
    pub volume: Option<String>,
    pub tailnet: Option<Tailnet>,
}

/// Where the edge runs.
#[derive(Debug, Clone)]
pub enum Placement {
    Fly(FlyApp),
    Host(EdgeHost),
}

/// A Fly.io app: its machines run the edge image.
#[derive(Debug, Clone)]
pub struct FlyApp {
    pub app: String,
    /// The name the public names are CNAMEs of (`APP.fly.dev`).
    pub target: String,
    /// The secret holding the Fly API token.
    pub token: String,
}

/// An edge on one of the catalog's hosts: nginx and fail2ban run there from `prefix`, and the
/// host's Caddy terminates TLS for the public names and proxies them to nginx on loopback.
#[derive(Debug, Clone)]
pub struct EdgeHost {
    pub host: String,
    /// Absolute, ending in `/`: nginx runs as `nginx -p PREFIX -c conf/nginx.conf`.
    pub prefix: String,
    pub reload_nginx: String,
    pub reload_fail2ban: String,
}

impl Edge {
    /// The edge's name in what it renders and reports: the Fly app, or the host.
    pub fn name(&self) -> &str {
        match &self.placement {
            Placement::Fly(fly) => &fly.app,
            Placement::Host(host) => &host.host,
        }
    }

    pub fn fly(&self) -> Option<&FlyApp> {
        match &self.placement {
            Placement::Fly(fly) => Some(fly),
            Placement::Host(_) => None,
        }
    }

    pub fn on_host(&self) -> Option<&EdgeHost> {
        match &self.placement {
            Placement::Host(host) => Some(host),
            Placement::Fly(_) => None,
        }
    }
}

/// fly.toml's `[[vm]]`.
#[derive(Debug, Clone)]
pub struct Vm {
    pub size: Option<String>,
    pub memory_mb: Option<u32>,
}

/// `[edge.tailnet]`: the edge machine joins a Tailscale tailnet before nginx starts.
#[derive(Debug, Clone)]
pub struct Tailnet {
    /// The secret holding the auth key, stored as the Fly app secret `TS_AUTHKEY`.
    pub auth_key: String,
    pub hostname: String,
    pub tags: Vec<String>,
    /// The Tailscale image `tailscaled` and `tailscale` are copied from.
    pub image: String,
    /// How long the entrypoint waits for the resolver to answer for the first upstream name.
    pub wait: Duration,
}

#[derive(Debug, Clone)]
pub struct Authentik {
    pub outpost: String,
}

#[derive(Debug, Clone)]
pub struct Service {
    pub name: String,
    pub description: Option<String>,
    pub host: Option<String>,
    pub upstream: Option<String>,
    /// What Caddy answers instead of proxying (`respond` or `redirect`).
    pub answer: Option<Answer>,
    /// Caddyfile lines inside the service's site, as written.
    pub caddy: Option<String>,
    pub names: Vec<String>,
    pub public: Vec<String>,
    pub authentik: bool,
    pub edge: Option<ServiceEdge>,
    pub container: Option<Container>,
    pub backup: Option<Backup>,
}

/// A site that answers by itself instead of proxying to an upstream.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Answer {
    /// `respond = { status, body }`.
    Respond { status: u16, body: String },
    /// `redirect = "https://..."`: a permanent redirect.
    Redirect(String),
}

/// How a service's public names reach the internet.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Exposure {
    /// No names at all (a batch job, a backup-only entry).
    None,
    /// Private names only: tailnet or LAN.
    Private,
    /// Public names served through the edge proxy.
    Edge,
    /// Public names served by Caddy on a public host.
    Public,
}

impl Exposure {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::None => "none",
            Self::Private => "private",
            Self::Edge => "edge",
            Self::Public => "public",
        }
    }
}

impl Service {
    pub fn exposure(&self) -> Exposure {
        match (
            self.public.is_empty(),
            self.edge.is_some(),
            self.names.is_empty(),
        ) {
            (false, true, _) => Exposure::Edge,
            (false, false, _) => Exposure::Public,
            (true, _, false) => Exposure::Private,
            (true, _, true) => Exposure::None,
        }
    }
}

#[derive(Debug, Clone)]
pub struct ServiceEdge {
    pub deny: Vec<String>,
    pub allow: Vec<String>,
    /// What a denied path answers (403).
    pub deny_body: String,
    pub rate_limits: Vec<RateLimit>,
    pub ban: Option<Ban>,
    /// WebSocket upgrades proxied (HTTP/1.1 with `Upgrade`/`Connection`).
    pub websocket: bool,
    /// The largest request body, in nginx's size syntax (`512m`; `0` for no limit).
    pub max_body: String,
    /// The headers added to every answer (the defaults as overridden; removed ones left out).
    pub headers: Vec<(String, String)>,
    /// Where requests go: `https://<first private name>` unless `upstream` says.
    pub upstream: String,
    /// The Host header (and TLS server name) the upstream expects.
    pub upstream_host: String,
    pub cache: Option<Cache>,
    /// A file (relative to the catalog) answered for 502, 503 and 504; boma's own page if unset.
    pub error_page: Option<PathBuf>,
}

#[derive(Debug, Clone)]
pub struct RateLimit {
    pub name: String,
    pub rate: Rate,
    pub burst: u32,
    pub paths: Vec<String>,
    /// The status a rejected request gets.
    pub status: u16,
}

#[derive(Debug, Clone)]
pub struct Cache {
    pub paths: Vec<String>,
    pub lifetime: Duration,
    /// The cache's bound on disk, in nginx's size syntax.
    pub max_size: String,
    /// Serve an expired answer while the upstream is down or being asked again.
    pub stale: bool,
    /// Whether the query string is part of the cache key.
    pub query: bool,
}

#[derive(Debug, Clone)]
pub struct Ban {
    /// What a banned client gets (403).
    pub body: String,
    pub paths: Vec<String>,
    pub statuses: Vec<u16>,
    pub maxretry: u32,
    pub findtime: Duration,
    pub bantime: Duration,
}

#[derive(Debug, Clone)]
pub struct Container {
    pub context: PathBuf,
    pub file: String,
    pub image: String,
    pub version: String,
    /// `None` builds on this machine.
    pub builder: Option<String>,
    pub bump: Vec<PathBuf>,
    /// Build arguments, pinned in the catalog.
    pub args: BTreeMap<String, String>,
}

#[derive(Debug, Clone)]
pub struct Backup {
    pub tool: BackupTool,
    /// `None` checks on this machine.
    pub host: Option<String>,
    pub repository: String,
    pub passphrase: Option<String>,
    pub max_age: Duration,
    pub archive_glob: Option<String>,
    pub paths: Vec<String>,
    pub sqlite: Vec<String>,
    pub ping: Option<Ping>,
    /// borgmatic: its configuration file on the backup host.
    pub config: Option<String>,
    /// restic: only snapshots with all of these tags count.
    pub tags: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ping {
    Healthchecks(String),
    UptimeKuma(String),
}

impl Catalog {
    /// Reads the secret the catalog declares as `name` (a reference the catalog checked), now.
    /// `what` says what it is for, in the error: "the password of [registries.forge]"; the error
    /// also says where the catalog declares the secret, and its hint what to set.
    pub fn read_secret(&self, name: &str, what: &str) -> anyhow::Result<crate::secret::Secret> {
        let reference = self
            .secrets
            .get(name)
            .ok_or_else(|| anyhow::anyhow!("secret `{name}` is not declared"))?;
        self.resolve_secret(reference, what)
            .map_err(|error| anyhow::Error::new(*error))
    }

    /// Reads a secret the catalog declares, now; the error names it and where it is declared.
    pub fn resolve_secret(
        &self,
        reference: &crate::secret::SecretRef,
        what: &str,
    ) -> Result<crate::secret::Secret, Box<super::SecretUnreadable>> {
        reference.resolve().map_err(|source| {
            Box::new(super::SecretUnreadable {
                what: what.to_string(),
                name: reference.name.clone(),
                file: super::display_name(&self.path),
                line: reference.declared_at.line,
                column: reference.declared_at.column,
                source,
            })
        })
    }

    /// The services served through the edge: an `edge` table, public names and private ones (the
    /// edge's upstreams), in name order.
    pub fn edge_services(&self) -> Vec<(&Service, &ServiceEdge)> {
        self.services
            .values()
            .filter_map(|service| service.edge.as_ref().map(|table| (service, table)))
            .filter(|(service, _)| !service.public.is_empty() && !service.names.is_empty())
            .collect()
    }

    /// The services fronted by the Caddy of `host`, in name order.
    pub fn services_on<'a>(&'a self, host: &'a str) -> impl Iterator<Item = &'a Service> + 'a {
        self.services
            .values()
            .filter(move |service| service.host.as_deref() == Some(host))
    }
}
