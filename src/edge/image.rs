//! What runs the edge on Fly.io: `fly.toml` (the image, the HTTP service and its health check,
//! the machine size, the volume, every rendered config file as a `[[files]]` entry), and the
//! edge image's `Containerfile` and entrypoint (Tailscale when the edge joins a tailnet, then
//! nginx and fail2ban side by side) for when the image is built by boma or flyctl.

use serde::Serialize;

use super::{EdgeService, STATE, guest_path, rendered};
use crate::catalog::Edge;
use crate::render::{
    Artifact, EDGE_CONTAINERFILE, EDGE_ENTRYPOINT, EDGE_FLY_TOML, RenderError, Renderer,
};

/// How long Fly waits after a start before health checks count, beyond the tailnet wait.
const GRACE_SECONDS: u64 = 10;
/// How long the entrypoint waits for `tailscaled`'s socket.
const SOCKET_WAIT_SECONDS: u64 = 30;

#[derive(Serialize)]
struct FlyFile {
    guest_path: String,
    local_path: String,
}

/// What the entrypoint needs to join the tailnet.
#[derive(Serialize)]
struct TailnetStart<'a> {
    image: &'a str,
    hostname: &'a str,
    tags: &'a [String],
    wait: &'a str,
    wait_seconds: u64,
    socket_wait: u64,
    /// The first upstream name (not an address) of the services, waited for.
    first_name: Option<&'a str>,
    resolver: String,
    resolver_ip: String,
    resolver_port: u16,
}

/// `fly.toml`, `Containerfile` and `entrypoint.sh`; `image` is the machines' image (see
/// `edge::image`), `config` the files the machines get.
pub fn files(
    edge: &Edge,
    image: Option<&str>,
    services: &[EdgeService<'_>],
    renderer: &Renderer,
    prefix: &str,
    config: &[Artifact],
) -> Result<Vec<Artifact>, RenderError> {
    let files: Vec<FlyFile> = config
        .iter()
        .filter_map(|file| {
            let local = file.name.strip_prefix("edge/")?;
            Some(FlyFile {
                guest_path: toml_string(&guest_path(local, prefix)?),
                local_path: toml_string(local),
            })
        })
        .collect();
    let banned: Vec<&str> = services
        .iter()
        .filter(|(_, table)| table.ban.is_some())
        .map(|(service, _)| service.name.as_str())
        .collect();
    // The catalog gives an edge with a tailnet Tailscale's resolver unless it names another.
    let tailnet = edge
        .tailnet
        .as_ref()
        .zip(edge.resolver)
        .map(|(tailnet, resolver)| TailnetStart {
            image: &tailnet.image,
            hostname: &tailnet.hostname,
            tags: &tailnet.tags,
            wait: &tailnet.wait.text,
            wait_seconds: tailnet.wait.seconds,
            socket_wait: SOCKET_WAIT_SECONDS,
            // The name nginx resolves: the upstream URL's host, not `upstream_host` (only the
            // Host header and TLS server name nginx sends).
            first_name: services
                .iter()
                .map(|(_, table)| crate::catalog::url_host(&table.upstream))
                .find(|host| !host.is_empty() && host.parse::<std::net::IpAddr>().is_err()),
            resolver: resolver.to_string(),
            resolver_ip: resolver.ip().to_string(),
            resolver_port: resolver.port(),
        });
    let mut packages = vec!["nginx-light", "fail2ban"];
    if tailnet.is_some() {
        packages.extend(["bind9-dnsutils", "iptables", "ca-certificates"]);
    }
    let tailnet_wait = edge.tailnet.as_ref().map(|tailnet| tailnet.wait.seconds);
    let context = minijinja::context! {
        app => toml_string(edge.name()),
        primary_region => edge.primary_region.as_deref().map(toml_string),
        image => image.map(toml_string),
        strategy => edge.strategy.map(|strategy| toml_string(strategy.as_str())),
        listen => edge.port,
        // Before nginx answers, the entrypoint may wait for tailscaled's socket, for
        // `tailscale up` and for the resolver: the last two each for at most `wait`.
        grace_seconds => GRACE_SECONDS + tailnet_wait.map_or(0, |wait| SOCKET_WAIT_SECONDS + 2 * wait),
        tailnet_wait,
        vm => edge.vm.as_ref().map(|vm| minijinja::context! {
            size => vm.size.as_deref().map(toml_string),
            memory => vm.memory_mb.map(|mb| toml_string(&format!("{mb}mb"))),
        }),
        volume => edge.volume.as_deref().map(toml_string),
        state => toml_string(STATE),
        files,
    };
    let app = minijinja::context! {
        app => edge.name(),
        prefix,
        listen => edge.port,
        banned,
        tailnet,
        packages,
    };
    Ok(vec![
        rendered(renderer, "fly.toml", EDGE_FLY_TOML, &context)?,
        rendered(renderer, "Containerfile", EDGE_CONTAINERFILE, &app)?,
        rendered(renderer, "entrypoint.sh", EDGE_ENTRYPOINT, &app)?,
    ])
}

/// A TOML basic string, quoted and escaped.
fn toml_string(text: &str) -> String {
    toml::Value::String(text.to_string()).to_string()
}
