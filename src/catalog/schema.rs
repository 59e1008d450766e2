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
    pub app: Text,
    pub target: Text,
    pub dir: Option<Text>,
    pub token: Text,
    pub resolver: Option<Text>,
    pub image: Option<Text>,
    pub api_url: Option<Text>,
    #[serde(default)]
    pub deny_ips: Vec<Text>,
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
pub struct ServiceEdge {
    #[serde(default)]
    pub deny: Vec<Text>,
    #[serde(default)]
    pub allow: Vec<Text>,
    pub rate_limit: Option<Spanned<RateLimit>>,
    pub ban: Option<Spanned<Ban>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    pub rate: Spanned<Rate>,
    #[serde(default)]
    pub burst: u32,
    #[serde(default)]
    pub paths: Vec<Text>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ban {
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
