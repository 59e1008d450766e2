//! The catalog as written: serde types for each section of `services.toml`, unknown keys refused.
//!
//! Every entry (a host, a service, a secret, a record) is deserialized on its own, so one mistake
//! does not hide the others; positions come from `Spanned` fields.

use serde::Deserialize;
use toml::Spanned;

use super::values::{Duration, Rate, RecordType};

pub type Text = Spanned<String>;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Defaults {
    pub ttl: Option<Spanned<u32>>,
    pub acme_email: Option<Text>,
    pub build_tool: Option<Spanned<BuildTool>>,
}

/// The container build tools boma drives.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BuildTool {
    Podman,
    Buildah,
    Docker,
}

impl BuildTool {
    pub const ALL: [Self; 3] = [Self::Podman, Self::Buildah, Self::Docker];

    pub fn program(self) -> &'static str {
        match self {
            Self::Podman => "podman",
            Self::Buildah => "buildah",
            Self::Docker => "docker",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Registry {
    pub host: Text,
    pub user: Option<Text>,
    pub password: Option<Text>,
    pub tls_verify: Option<Spanned<bool>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Secret {
    pub env: Option<Text>,
    pub file: Option<Text>,
    pub command: Option<Spanned<Vec<String>>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DnsProvider {
    Zonefile,
    Powerdns,
    Gandi,
    Cloudflare,
}

/// Which names a zone carries: a service's private `names`, its `public` names, or both.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ZoneNames {
    Private,
    Public,
    All,
}

/// One zone: `[dns]` itself in the single-zone form, or each `[dns.zones.NAME]`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Dns {
    pub provider: Spanned<DnsProvider>,
    pub zone: Text,
    pub credentials: Option<Text>,
    #[serde(default)]
    pub purge: bool,
    pub max_change_percent: Option<Spanned<u8>>,
    pub path: Option<Text>,
    pub url: Option<Text>,
    pub server: Option<Text>,
    pub batch_size: Option<Spanned<u32>>,
    pub names: Option<Spanned<ZoneNames>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Record {
    pub name: Text,
    #[serde(rename = "type")]
    pub record_type: Spanned<RecordType>,
    pub ttl: Option<Spanned<u32>>,
    pub values: Spanned<Vec<Text>>,
    pub proxied: Option<Spanned<bool>>,
    /// With several zones: the `[dns.zones.NAME]` that holds it.
    pub zone: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Host {
    pub address: Text,
    #[serde(default)]
    pub ssh: Ssh,
    #[serde(default)]
    pub sudo: bool,
    pub ip: Option<Text>,
    #[serde(default)]
    pub public: bool,
    pub caddy: Option<Spanned<Caddy>>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ssh {
    pub user: Option<Text>,
    pub port: Option<Spanned<u16>>,
    pub identity: Option<Text>,
    pub known_hosts: Option<Text>,
    pub jump: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Caddy {
    pub config: Option<Text>,
    pub reload: Option<Text>,
    pub dns_challenge: Option<Spanned<DnsChallenge>>,
    pub admin: Option<Text>,
    pub http_port: Option<Spanned<u16>>,
    pub https_port: Option<Spanned<u16>>,
    /// Lines for Caddy's global options block.
    pub global: Option<Text>,
    /// Caddyfile text appended after the sites (snippets, more site blocks).
    pub extra: Option<Text>,
    /// Private zones served under one wildcard certificate each.
    #[serde(default)]
    pub wildcard: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DnsChallenge {
    pub provider: Text,
    pub token_env: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Edge {
    /// A Fly.io edge: the app, the name its public names point at, and the API token.
    pub app: Option<Text>,
    pub target: Option<Text>,
    pub token: Option<Text>,
    /// An edge on a catalog host, pushed over SSH instead.
    pub host: Option<Text>,
    pub prefix: Option<Text>,
    pub reload_nginx: Option<Text>,
    pub reload_fail2ban: Option<Text>,
    pub dir: Option<Text>,
    pub resolver: Option<Text>,
    pub image: Option<Text>,
    pub api_url: Option<Text>,
    #[serde(default)]
    pub deny_ips: Vec<Text>,
    /// The port nginx listens on inside the machine (fly.toml's `internal_port`).
    pub port: Option<Spanned<u16>>,
    pub primary_region: Option<Text>,
    pub strategy: Option<Spanned<DeployStrategy>>,
    pub vm: Option<Spanned<Vm>>,
    /// A Fly volume mounted where fail2ban keeps its database (and Tailscale its state).
    pub volume: Option<Text>,
    pub tailnet: Option<Spanned<Tailnet>>,
}

/// fly.toml's `[deploy] strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum DeployStrategy {
    Rolling,
    Immediate,
    Canary,
    Bluegreen,
}

impl DeployStrategy {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Rolling => "rolling",
            Self::Immediate => "immediate",
            Self::Canary => "canary",
            Self::Bluegreen => "bluegreen",
        }
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    pub size: Option<Text>,
    pub memory_mb: Option<Spanned<u32>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Tailnet {
    pub auth_key: Option<Text>,
    pub hostname: Option<Text>,
    #[serde(default)]
    pub tags: Vec<Text>,
    pub image: Option<Text>,
    pub wait: Option<Spanned<Duration>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    pub authentik: Option<Spanned<Authentik>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Authentik {
    pub outpost: Text,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Service {
    pub description: Option<Text>,
    pub host: Option<Text>,
    pub upstream: Option<Text>,
    /// A fixed answer instead of an upstream.
    pub respond: Option<Spanned<Respond>>,
    /// A permanent redirect instead of an upstream.
    pub redirect: Option<Text>,
    /// Caddyfile lines inside the service's site.
    pub caddy: Option<Text>,
    #[serde(default)]
    pub names: Vec<Text>,
    #[serde(default)]
    pub public: Vec<Text>,
    pub auth: Option<Text>,
    pub edge: Option<Spanned<ServiceEdge>>,
    pub container: Option<Spanned<Container>>,
    pub backup: Option<Spanned<Backup>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Respond {
    pub status: Option<Spanned<u16>>,
    pub body: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ServiceEdge {
    #[serde(default)]
    pub deny: Vec<Text>,
    #[serde(default)]
    pub allow: Vec<Text>,
    pub deny_body: Option<Text>,
    /// One table or a list of them.
    pub rate_limit: Option<Spanned<OneOrMany<RateLimit>>>,
    pub ban: Option<Spanned<Ban>>,
    pub websocket: Option<Spanned<bool>>,
    pub max_body: Option<Text>,
    /// Answer headers: a name with a value sets it, with `""` removes a default.
    pub headers: Option<Spanned<std::collections::BTreeMap<Spanned<String>, Text>>>,
    pub upstream: Option<Text>,
    pub upstream_host: Option<Text>,
    pub cache: Option<Spanned<Cache>>,
    pub error_page: Option<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub name: Option<Text>,
    pub rate: Spanned<Rate>,
    #[serde(default)]
    pub burst: u32,
    #[serde(default)]
    pub paths: Vec<Text>,
    pub status: Option<Spanned<u16>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    #[serde(default)]
    pub paths: Vec<Text>,
    pub lifetime: Spanned<Duration>,
    pub max_size: Option<Text>,
    pub stale: Option<Spanned<bool>>,
    pub query: Option<Spanned<bool>>,
}

/// A key that takes one table or a list of tables (`rate_limit = {...}` or `[[...rate_limit]]`).
#[derive(Debug)]
pub enum OneOrMany<T> {
    One(T),
    Many(Vec<Spanned<T>>),
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for OneOrMany<T> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visitor<T>(std::marker::PhantomData<T>);
        impl<'de, T: Deserialize<'de>> serde::de::Visitor<'de> for Visitor<T> {
            type Value = OneOrMany<T>;
            fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str("a table or a list of tables")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                map: A,
            ) -> Result<Self::Value, A::Error> {
                T::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(OneOrMany::One)
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                seq: A,
            ) -> Result<Self::Value, A::Error> {
                Vec::deserialize(serde::de::value::SeqAccessDeserializer::new(seq))
                    .map(OneOrMany::Many)
            }
        }
        deserializer.deserialize_any(Visitor(std::marker::PhantomData))
    }
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ban {
    pub body: Option<Text>,
    pub paths: Vec<Text>,
    pub statuses: Spanned<Vec<Spanned<u16>>>,
    pub maxretry: Spanned<u32>,
    pub findtime: Spanned<Duration>,
    pub bantime: Spanned<Duration>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Container {
    pub context: Text,
    pub file: Option<Text>,
    pub image: Text,
    pub version: Text,
    pub builder: Option<Text>,
    #[serde(default)]
    pub bump: Vec<Text>,
    #[serde(default)]
    pub args: std::collections::BTreeMap<String, Text>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum BackupTool {
    Borg,
    Borgmatic,
    Restic,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    pub tool: Spanned<BackupTool>,
    pub host: Option<Text>,
    pub repository: Text,
    pub passphrase: Option<Text>,
    pub max_age: Spanned<Duration>,
    pub archive_glob: Option<Text>,
    #[serde(default)]
    pub paths: Vec<Text>,
    #[serde(default)]
    pub sqlite: Vec<Text>,
    pub ping: Option<Spanned<Ping>>,
    pub config: Option<Text>,
    #[serde(default)]
    pub tags: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ping {
    pub healthchecks: Option<Text>,
    pub uptime_kuma: Option<Text>,
}

/// The top-level keys of a catalog (`[[dns.records]]` entries are read one by one, like hosts).
pub const TOP_LEVEL_KEYS: [&str; 10] = [
    "version",
    "defaults",
    "secrets",
    "dns",
    "hosts",
    "edge",
    "auth",
    "registries",
    "images",
    "services",
];
