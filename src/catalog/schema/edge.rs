//! `[edge]` (the public proxy, on Fly.io or on a host of the catalog) and `[auth]` as written.

use schemars::{JsonSchema, Schema};
use serde::Deserialize;
use serde_json::{Value, json};
use toml::Spanned;

use super::super::defaults::{
    DEFAULT_API_URL, DEFAULT_EDGE_DIR, DEFAULT_PORT, DEFAULT_PREFIX, DEFAULT_RELOAD_FAIL2BAN,
    DEFAULT_RELOAD_NGINX, DEFAULT_WAIT, TAILSCALE_IMAGE,
};
use super::Text;
use super::strings::{DomainName, Name, Url};
use crate::catalog::values::Duration;

/// `[edge]`: the public edge proxy, nginx and fail2ban, on a Fly.io app (`app`, `target`,
/// `token`) or on one of the catalog's hosts (`host`). Required when any service has an `edge`
/// table.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
#[schemars(transform = placements)]
pub struct Edge {
    /// On Fly.io, required there: the app's name.
    #[schemars(with = "Option<Name>")]
    pub app: Option<Text>,
    /// On Fly.io, required there: the CNAME target of every public name served through the edge
    /// (`example-proxy.fly.dev`).
    #[schemars(with = "Option<DomainName>")]
    pub target: Option<Text>,
    /// On Fly.io, required there: the `[secrets]` entry holding the Fly API token (read only by
    /// `fly-deploy` without `--check`).
    #[schemars(with = "Option<Name>")]
    pub token: Option<Text>,
    /// Runs the edge on this host of the catalog instead of Fly.io (see `boma edge-push`); the
    /// Fly.io keys are then errors.
    #[schemars(with = "Option<Name>")]
    pub host: Option<Text>,
    /// With `host`: where nginx runs from (`nginx -p PREFIX -c conf/nginx.conf`) and boma keeps
    /// `conf/` and `fail2ban/`; an absolute folder ending in `/`.
    #[schemars(
        with = "Option<String>",
        regex(pattern = r"^/([A-Za-z0-9._-]+/)*$"),
        extend("default" = DEFAULT_PREFIX)
    )]
    pub prefix: Option<Text>,
    /// With `host`: run after a push (through `sudo -n`, as plain words, when the host has
    /// `sudo`).
    #[schemars(with = "Option<String>", extend("default" = DEFAULT_RELOAD_NGINX))]
    pub reload_nginx: Option<Text>,
    /// With `host`: run after nginx's reload.
    #[schemars(with = "Option<String>", extend("default" = DEFAULT_RELOAD_FAIL2BAN))]
    pub reload_fail2ban: Option<Text>,
    /// Where the last deployed render (fly.toml and the config) is kept, beside the catalog.
    #[schemars(with = "Option<String>", extend("default" = DEFAULT_EDGE_DIR))]
    pub dir: Option<Text>,
    /// How the edge resolves upstream names: an IP address, optionally with a port
    /// (`"10.0.0.53:5353"`, `"[fd7a::53]:53"`); `100.100.100.100` with `[edge.tailnet]`.
    #[schemars(with = "Option<String>")]
    pub resolver: Option<Text>,
    /// On Fly.io: the machines' image (nginx and fail2ban), a reference or the name (or
    /// repository) of one of the catalog's images, which resolves to the tag the images stage
    /// pushes.
    #[schemars(with = "Option<String>")]
    pub image: Option<Text>,
    /// On Fly.io: the Machines API's base URL (certificates too).
    #[schemars(with = "Option<Url>", extend("default" = DEFAULT_API_URL))]
    pub api_url: Option<Text>,
    /// Hand-written bans answered 403 at the edge: IP addresses or CIDR blocks
    /// (`203.0.113.0/24`).
    #[serde(default)]
    #[schemars(with = "Vec<String>")]
    pub deny_ips: Vec<Text>,
    /// The port nginx listens on: in the machine on Fly.io (fly.toml's `internal_port`); with
    /// `host`, on `127.0.0.1` behind the host's Caddy.
    #[schemars(with = "Option<u16>", range(min = 1), extend("default" = DEFAULT_PORT))]
    pub port: Option<Spanned<u16>>,
    /// On Fly.io: fly.toml's `primary_region`, a region code (`ams`).
    #[schemars(with = "Option<String>", regex(pattern = r"^[a-z]{3}$"))]
    pub primary_region: Option<Text>,
    /// On Fly.io: fly.toml's `[deploy] strategy` for flyctl deploys; boma's own Machines API roll
    /// is always one machine at a time.
    #[schemars(with = "Option<DeployStrategy>")]
    pub strategy: Option<Spanned<DeployStrategy>>,
    /// On Fly.io: fly.toml's `[[vm]]`.
    #[schemars(with = "Option<Vm>")]
    pub vm: Option<Spanned<Vm>>,
    /// On Fly.io: a Fly volume mounted at `/srv/edge/state`, where fail2ban's database and
    /// Tailscale's state survive deploys (`fly volumes create NAME`).
    #[schemars(with = "Option<String>", regex(pattern = r"^[a-z0-9_]{1,30}$"))]
    pub volume: Option<Text>,
    /// On Fly.io: the machines join a tailnet to reach the upstreams.
    #[schemars(with = "Option<Tailnet>")]
    pub tailnet: Option<Spanned<Tailnet>>,
}

/// The keys of an edge on Fly.io that an edge on a host refuses.
const FLY_ONLY: [&str; 10] = [
    "app",
    "target",
    "token",
    "image",
    "api_url",
    "primary_region",
    "strategy",
    "vm",
    "volume",
    "tailnet",
];

/// The keys of an edge on a host that a Fly.io edge refuses.
const HOST_ONLY: [&str; 4] = ["host", "prefix", "reload_nginx", "reload_fail2ban"];

/// The two placements: with `host`, no Fly.io key; without it, `app`, `target` and `token`, and
/// none of the host's keys.
fn placements(schema: &mut Schema) {
    let keys: Vec<String> = schema
        .get("properties")
        .and_then(Value::as_object)
        .into_iter()
        .flat_map(|properties| properties.keys().cloned())
        .collect();
    let on_host: Vec<Value> = keys
        .iter()
        .filter(|key| !FLY_ONLY.contains(&key.as_str()))
        .map(|key| json!(key))
        .collect();
    let on_fly: Vec<Value> = keys
        .iter()
        .filter(|key| !HOST_ONLY.contains(&key.as_str()))
        .map(|key| json!(key))
        .collect();
    schema.insert("if".into(), json!({ "required": ["host"] }));
    schema.insert(
        "then".into(),
        json!({ "propertyNames": { "enum": on_host } }),
    );
    schema.insert(
        "else".into(),
        json!({ "required": ["app", "target", "token"], "propertyNames": { "enum": on_fly } }),
    );
}

/// fly.toml's `[deploy] strategy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, serde::Serialize, JsonSchema)]
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

/// `[edge.vm]`: fly.toml's `[[vm]]`.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Vm {
    /// A Fly.io machine size (`shared-cpu-1x`, `performance-2x`).
    #[schemars(with = "Option<String>", regex(pattern = r"^[a-z0-9]+-[a-z0-9-]+$"))]
    pub size: Option<Text>,
    /// The machine's memory in MB, a multiple of 256.
    #[schemars(
        with = "Option<u32>",
        range(min = 256),
        extend("multipleOf" = 256)
    )]
    pub memory_mb: Option<Spanned<u32>>,
}

/// `[edge.tailnet]`: Tailscale on the edge's machines, so nginx reaches private upstreams.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Tailnet {
    /// The `[secrets]` entry holding a Tailscale auth key; stored as the Fly app secret
    /// `TS_AUTHKEY` by `fly-deploy`.
    #[schemars(with = "Option<Name>", required)]
    pub auth_key: Option<Text>,
    /// The node's name on the tailnet; default `[edge].app`.
    #[schemars(with = "Option<Name>")]
    pub hostname: Option<Text>,
    /// `--advertise-tags` (the key must be allowed them), each `tag:NAME`.
    #[serde(default)]
    #[schemars(
        with = "Vec<String>",
        inner(regex(pattern = r"^tag:[A-Za-z0-9][A-Za-z0-9_-]{0,62}$"))
    )]
    pub tags: Vec<Text>,
    /// The image `tailscaled` and `tailscale` are copied from; pin it by digest.
    #[schemars(with = "Option<String>", extend("default" = TAILSCALE_IMAGE))]
    pub image: Option<Text>,
    /// How long the machine waits for the resolver before starting nginx anyway.
    #[schemars(with = "Option<Duration>", extend("default" = DEFAULT_WAIT))]
    pub wait: Option<Spanned<Duration>>,
}

/// `[auth]`: the single sign-on that services' `auth` names.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Auth {
    /// The Authentik outpost that Caddy's `forward_auth` asks.
    #[schemars(with = "Option<Authentik>")]
    pub authentik: Option<Spanned<Authentik>>,
}

/// `[auth.authentik]`: where Authentik answers.
#[derive(Debug, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Authentik {
    /// The outpost, `http://HOST:PORT`.
    #[schemars(with = "super::strings::Upstream")]
    pub outpost: Text,
}
