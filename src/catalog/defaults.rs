//! The catalog's defaults, in one place: the reader (`resolve/`) applies them and the JSON Schema
//! (`schema/`) states them, so the two cannot disagree.

use std::net::IpAddr;

/// Every record's TTL unless `[defaults].ttl` or the record says.
pub const DEFAULT_TTL: u32 = 300;

/// How much of what boma owns in a zone one run may update or delete without `--force`.
pub const DEFAULT_MAX_CHANGE_PERCENT: u8 = 30;

/// Changes a PowerDNS PATCH carries unless `batch_size` says.
pub const DEFAULT_BATCH_SIZE: usize = 200;

/// `[dns].owner` when the catalog names none.
pub const DEFAULT_OWNER: &str = "boma";

/// Where the Machines API (and its certificates resource) lives unless `edge.api_url` says.
pub const DEFAULT_API_URL: &str = "https://api.machines.dev/v1";

/// The port nginx listens on in the machine unless `edge.port` says (fly.toml's `internal_port`).
pub const DEFAULT_PORT: u16 = 8080;

/// The Tailscale image `tailscaled` and `tailscale` are copied from unless `edge.tailnet.image`
/// says: pinned by digest, so a rebuild gets the same binaries.
pub const TAILSCALE_IMAGE: &str = "docker.io/tailscale/tailscale:v1.102.5@sha256:c507f3a2a6ab1cabd8d809b98edeb41edbd5c3fb6ad9632ffd098b4c7d0b4065";

/// Where an edge on a host keeps its files unless `edge.prefix` says.
pub const DEFAULT_PREFIX: &str = "/srv/edge/";

/// The reload commands of an edge on a host unless the catalog says: the units in
/// `deploy/systemd/`, started when they are not running yet.
pub const DEFAULT_RELOAD_NGINX: &str = "systemctl reload-or-restart boma-edge-nginx.service";
pub const DEFAULT_RELOAD_FAIL2BAN: &str = "systemctl reload-or-restart boma-edge-fail2ban.service";

/// Tailscale's own resolver (MagicDNS), which answers for tailnet names on every node.
pub const TAILSCALE_RESOLVER: IpAddr = IpAddr::V4(std::net::Ipv4Addr::new(100, 100, 100, 100));

/// How long the entrypoint waits for the resolver to answer unless `edge.tailnet.wait` says.
pub const DEFAULT_WAIT: &str = "60s";

/// A host's live Caddyfile unless `[hosts.NAME.caddy].config` says.
pub const DEFAULT_CADDY_CONFIG: &str = "/etc/caddy/Caddyfile";

/// How a host's Caddy is reloaded unless `[hosts.NAME.caddy].reload` says.
pub const DEFAULT_CADDY_RELOAD: &str = "systemctl reload caddy";

/// Where the last deployed render of a Fly.io edge is kept, beside the catalog.
pub const DEFAULT_EDGE_DIR: &str = "fly";
/// The PowerDNS server a zone is on unless `server` says.
pub const DEFAULT_POWERDNS_SERVER: &str = "localhost";
/// The build file of an image's context unless `file` says.
pub const DEFAULT_CONTAINERFILE: &str = "Containerfile";
/// The status of a `respond` answer unless it says.
pub const DEFAULT_RESPOND_STATUS: u16 = 200;
