//! `[services.NAME]` as written, with its `edge`, `container` and `backup` tables; `[images.NAME]`
//! takes the keys of a service's `container`.

use super::super::defaults::{DEFAULT_CONTAINERFILE, DEFAULT_RESPOND_STATUS};
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::Deserialize;
use toml::Spanned;

use super::super::service_edge::{
    BAN_BODY, DEFAULT_HEADERS, DENY_BODY, LIMIT_NAME, LIMIT_STATUS, MAX_BODY,
};
use super::strings::{
    AbsolutePath, DomainName, EnvName, HeaderName, Name, Size, Upstream, Url, UrlPath,
};
use super::{OneOrMany, Text};
use crate::catalog::values::{Duration, Rate};

/// `[services.NAME]`: a service, its names and how its sites answer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Service {
    /// One line, shown in rendered files.
    #[schemars(with = "Option<String>")]
    pub description: Option<Text>,
    /// The host whose Caddy fronts it; required when the service has names.
    #[schemars(with = "Option<Name>")]
    pub host: Option<Text>,
    /// Where Caddy proxies to, `http(s)://HOST:PORT` without a path; a service with names needs
    /// it, `respond` or `redirect`.
    #[schemars(with = "Option<Upstream>")]
    pub upstream: Option<Text>,
    /// Caddy answers by itself instead of proxying.
    #[schemars(with = "Option<Respond>")]
    pub respond: Option<Spanned<Respond>>,
    /// Caddy answers with a permanent redirect to this URL instead of proxying.
    #[schemars(with = "Option<Url>")]
    pub redirect: Option<Text>,
    /// Caddyfile lines inside the service's sites, as written.
    #[schemars(with = "Option<String>")]
    pub caddy: Option<Text>,
    /// Private names (tailnet or LAN), each served by the host's Caddy.
    #[serde(default)]
    #[schemars(with = "Vec<DomainName>")]
    pub names: Vec<Text>,
    /// Public names: through the edge when the service has an `edge` table, else served by a
    /// `public` host.
    #[serde(default)]
    #[schemars(with = "Vec<DomainName>")]
    pub public: Vec<Text>,
    /// Protect the private and public sites with `[auth.authentik]`.
    #[schemars(with = "Option<String>", extend("enum" = ["authentik"]))]
    pub auth: Option<Text>,
    /// The service's public names go through `[edge]`.
    #[schemars(with = "Option<ServiceEdge>")]
    pub edge: Option<Spanned<ServiceEdge>>,
    /// The service's image: built, tagged `v{version}-{short git sha}`, pushed and pinned by
    /// `container-build`.
    #[schemars(with = "Option<Container>")]
    pub container: Option<Spanned<Container>>,
    /// The service's backup, proven fresh and sound by `backup-check`.
    #[schemars(with = "Option<Backup>")]
    pub backup: Option<Spanned<Backup>>,
}

/// `respond`: Caddy's own answer.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Respond {
    /// The answer's HTTP status.
    #[schemars(
        with = "Option<u16>",
        range(min = 100, max = 599),
        extend("default" = DEFAULT_RESPOND_STATUS)
    )]
    pub status: Option<Spanned<u16>>,
    /// The answer's body (at most 4096 bytes, no `{env.…}` or `{$…}`, no backslash).
    #[schemars(with = "Option<String>", length(max = 4096), extend("default" = ""))]
    pub body: Option<Text>,
}

/// `[services.NAME.edge]`: what the public edge does in front of the service.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ServiceEdge {
    /// URL path prefixes answered 403.
    #[serde(default)]
    #[schemars(with = "Vec<UrlPath>")]
    pub deny: Vec<Text>,
    /// URL path prefixes under a denied one that are proxied all the same.
    #[serde(default)]
    #[schemars(with = "Vec<UrlPath>")]
    pub allow: Vec<Text>,
    /// The body of the 403 a denied path gets.
    #[schemars(
        with = "Option<String>",
        length(max = 4096),
        extend("default" = DENY_BODY)
    )]
    pub deny_body: Option<Text>,
    /// Request rate limits: one table, or a list of them with different names.
    #[schemars(with = "Option<OneOrMany<RateLimit>>")]
    pub rate_limit: Option<Spanned<OneOrMany<RateLimit>>>,
    /// Bans (fail2ban) of clients whose requests fail too often.
    #[schemars(with = "Option<Ban>")]
    pub ban: Option<Spanned<Ban>>,
    /// Pass WebSocket upgrades.
    #[schemars(with = "Option<bool>", extend("default" = true))]
    pub websocket: Option<Spanned<bool>>,
    /// The largest request body: a number with `k`, `m` or `g` (`512m`, `2g`), `0` for no limit.
    #[schemars(with = "Option<Size>", extend("default" = MAX_BODY))]
    pub max_body: Option<Text>,
    /// Headers added to every answer, `{ NAME = "value" }`: a name of the default set overrides
    /// it, `""` removes it; one line each, no framing headers.
    #[schemars(
        with = "Option<BTreeMap<HeaderName, String>>",
        default = "default_headers"
    )]
    pub headers: Option<Spanned<BTreeMap<Spanned<String>, Text>>>,
    /// Where the edge proxies to, `http(s)://HOST[:PORT]` without a path (a Tailscale ingress
    /// name outside the catalog's zones); default `https://` and the first private name.
    #[schemars(with = "Option<Upstream>")]
    pub upstream: Option<Text>,
    /// The `Host` header and TLS server name the upstream expects; default the upstream's host.
    #[schemars(with = "Option<DomainName>")]
    pub upstream_host: Option<Text>,
    /// Cache answers at the edge.
    #[schemars(with = "Option<Cache>")]
    pub cache: Option<Spanned<Cache>>,
    /// An HTML file (relative to the catalog, inside its folder) for 502, 503 and 504; default a
    /// page of boma's.
    #[schemars(with = "Option<String>")]
    pub error_page: Option<Text>,
}

/// The headers every answer gets unless the service's `headers` says.
fn default_headers() -> BTreeMap<&'static str, &'static str> {
    DEFAULT_HEADERS.into_iter().collect()
}

/// One `rate_limit`: nginx's `limit_req` on some paths.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RateLimit {
    /// The limit's name, unique per service.
    #[schemars(with = "Option<Name>", extend("default" = LIMIT_NAME))]
    pub name: Option<Text>,
    /// Requests per second or minute a client may make: `3r/s`, `30r/m`.
    #[schemars(with = "Rate")]
    pub rate: Spanned<Rate>,
    /// Requests over the rate let through before refusing.
    #[serde(default)]
    pub burst: u32,
    /// The URL path prefixes it applies to; empty for every path.
    #[serde(default)]
    #[schemars(with = "Vec<UrlPath>")]
    pub paths: Vec<Text>,
    /// The status a limited request gets, 400 to 599 (not 502 to 504, the edge's "unavailable").
    #[schemars(
        with = "Option<u16>",
        range(min = 400, max = 599),
        extend("default" = LIMIT_STATUS)
    )]
    pub status: Option<Spanned<u16>>,
}

/// `cache`: nginx's proxy cache for the service.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Cache {
    /// The URL path prefixes cached; empty for every path.
    #[serde(default)]
    #[schemars(with = "Vec<UrlPath>")]
    pub paths: Vec<Text>,
    /// How long an answer stays fresh (`10m`, `1h`).
    #[schemars(with = "Duration")]
    pub lifetime: Spanned<Duration>,
    /// The cache's bound on disk, more than 0 (`256m`, `1g`).
    #[schemars(with = "Option<Size>", required)]
    pub max_size: Option<Text>,
    /// Serve a stale answer while the upstream fails or the answer is refreshed.
    #[schemars(with = "Option<bool>", extend("default" = true))]
    pub stale: Option<Spanned<bool>>,
    /// Include the query string in the cache key.
    #[schemars(with = "Option<bool>", extend("default" = false))]
    pub query: Option<Spanned<bool>>,
}

/// `ban`: fail2ban bans clients whose requests to `paths` end in `statuses` too often.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Ban {
    /// The body a banned client gets.
    #[schemars(
        with = "Option<String>",
        length(max = 4096),
        extend("default" = BAN_BODY)
    )]
    pub body: Option<Text>,
    /// The URL path prefixes whose failures count.
    #[schemars(with = "Vec<UrlPath>", length(min = 1))]
    pub paths: Vec<Text>,
    /// The HTTP statuses that count as failures (`[401, 403]`).
    #[schemars(with = "Vec<u16>", length(min = 1), inner(range(min = 100, max = 599)))]
    pub statuses: Spanned<Vec<Spanned<u16>>>,
    /// Failures within `findtime` that ban a client.
    #[schemars(with = "u32", range(min = 1))]
    pub maxretry: Spanned<u32>,
    /// The window failures are counted in (`10m`).
    #[schemars(with = "Duration")]
    pub findtime: Spanned<Duration>,
    /// How long a ban lasts (`1h`).
    #[schemars(with = "Duration")]
    pub bantime: Spanned<Duration>,
}

/// A service's `container`, or an `[images.NAME]` (an image that belongs to no service, such as
/// Caddy with a DNS module).
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Container {
    /// The build context, a folder relative to the catalog.
    #[schemars(with = "String", length(min = 1))]
    pub context: Text,
    /// The Containerfile, a path inside the context (no `..`, not absolute).
    #[schemars(with = "Option<String>", extend("default" = DEFAULT_CONTAINERFILE))]
    pub file: Option<Text>,
    /// `REGISTRY/PATH` in lowercase, without a tag: boma computes `v{version}-{short git sha}`.
    #[schemars(
        with = "String",
        regex(pattern = r"^[A-Za-z0-9._-]+(:[0-9]{1,5})?(/[a-z0-9._-]+)+$")
    )]
    pub image: Text,
    /// The version in the tag (`1.0.0`), without a leading `v`.
    #[schemars(
        with = "String",
        regex(pattern = r"^[A-Za-uw-z0-9.+-][A-Za-z0-9.+-]*$")
    )]
    pub version: Text,
    /// The host that builds it; default this machine.
    #[schemars(with = "Option<Name>")]
    pub builder: Option<Text>,
    /// Files that follow the build, relative to the catalog: kustomization `images[].newTag`,
    /// compose `image: REF:TAG` lines.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub bump: Vec<Text>,
    /// Build arguments, `{ NAME = "value" }`, each one line.
    #[serde(default)]
    #[schemars(with = "BTreeMap<EnvName, String>")]
    pub args: BTreeMap<String, Text>,
}

/// The backup tools `backup-check` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
#[serde(rename_all = "lowercase")]
pub enum BackupTool {
    Borg,
    Borgmatic,
    Restic,
}

/// `[services.NAME.backup]`: where the service's backups are and how fresh they must be; every
/// value one line.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Backup {
    /// The tool; restic needs `passphrase`, borgmatic needs `config`.
    #[schemars(with = "BackupTool")]
    pub tool: Spanned<BackupTool>,
    /// The host the check runs on; default this machine.
    #[schemars(with = "Option<Name>")]
    pub host: Option<Text>,
    /// The repository, as the tool takes it.
    #[schemars(with = "String", length(min = 1))]
    pub repository: Text,
    /// The `[secrets]` entry holding the repository's passphrase.
    #[schemars(with = "Option<Name>")]
    pub passphrase: Option<Text>,
    /// The age of the newest archive past which the backup is stale (`26h`).
    #[schemars(with = "Duration")]
    pub max_age: Spanned<Duration>,
    /// borg and borgmatic: only archives whose names match (`*` and `?`) count.
    #[schemars(with = "Option<String>")]
    pub archive_glob: Option<Text>,
    /// Absolute paths on the host that the newest archive must hold.
    #[serde(default)]
    #[schemars(with = "Vec<AbsolutePath>")]
    pub paths: Vec<Text>,
    /// Absolute paths of SQLite databases in the newest archive, checked for integrity.
    #[serde(default)]
    #[schemars(with = "Vec<AbsolutePath>")]
    pub sqlite: Vec<Text>,
    /// A dead man's switch told after each check.
    #[schemars(with = "Option<Ping>")]
    pub ping: Option<Spanned<Ping>>,
    /// borgmatic only, and required there: its config file on the host, an absolute path.
    #[schemars(with = "Option<AbsolutePath>")]
    pub config: Option<Text>,
    /// restic only: only snapshots with all of these tags count.
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub tags: Vec<Text>,
}

/// `ping`: exactly one of `healthchecks` or `uptime_kuma`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(extend("minProperties" = 1, "maxProperties" = 1))]
pub struct Ping {
    /// A Healthchecks ping URL.
    #[schemars(with = "Option<Url>")]
    pub healthchecks: Option<Text>,
    /// An Uptime Kuma push URL.
    #[schemars(with = "Option<Url>")]
    pub uptime_kuma: Option<Text>,
}
