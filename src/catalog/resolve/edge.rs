//! `[edge]` (the Fly.io proxy in front of public names) and `[auth]` (the Authentik outpost).

use super::super::defaults::{
    DEFAULT_API_URL, DEFAULT_EDGE_DIR, DEFAULT_PORT, DEFAULT_PREFIX, DEFAULT_RELOAD_FAIL2BAN,
    DEFAULT_RELOAD_NGINX, DEFAULT_WAIT, TAILSCALE_IMAGE, TAILSCALE_RESOLVER,
};
use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::PathBuf;

use toml::Spanned;

use super::super::model::{Authentik, Edge, EdgeHost, FlyApp, Placement, Tailnet, Vm};
use super::super::parse::{Reader, Section};
use super::super::schema::{self, Text};
use super::super::values::{check_url, is_hostname, is_identifier};
use super::HostEntry;

use super::check_secret;
use crate::secret::SecretRef;

pub fn edge(
    reader: &mut Reader<'_>,
    secrets: &BTreeMap<String, SecretRef>,
    hosts: &BTreeMap<String, HostEntry>,
) -> Option<Edge> {
    let value = reader.take("edge")?;
    let span = value.span();
    let Some(mut raw) = reader.read::<schema::Edge>(value, "edge") else {
        reader.unread(Section::Edge, "");
        return None;
    };
    let placement = match raw.host.take() {
        Some(host) => Placement::Host(edge_host(reader, &mut raw, host, hosts)),
        None => Placement::Fly(fly_app(reader, secrets, &mut raw, span)?),
    };
    let resolver = raw
        .resolver
        .and_then(|resolver| match parse_resolver(resolver.get_ref()) {
            Some(address) => Some(address),
            None => {
                reader.error_with_hint(
                    resolver.span(),
                    format!(
                        "`edge.resolver`: `{}` is not an IP address (with an optional port)",
                        resolver.get_ref()
                    ),
                    "e.g. \"100.100.100.100\", \"10.0.0.53:5353\" or \"[fd7a:115c:a1e0::53]:53\"",
                );
                None
            }
        });
    let dir = raw
        .dir
        .map_or_else(|| DEFAULT_EDGE_DIR.to_string(), Spanned::into_inner);
    if let Some(url) = &raw.api_url
        && let Err(message) = check_url(url.get_ref())
    {
        reader.error(url.span(), format!("`edge.api_url`: {message}"));
    }
    for address in &raw.deny_ips {
        if !is_ip_or_cidr(address.get_ref()) {
            reader.error_with_hint(
                address.span(),
                format!(
                    "`edge.deny_ips`: `{}` is not an IP address or CIDR block",
                    address.get_ref()
                ),
                "e.g. \"203.0.113.7\", \"203.0.113.0/24\" or \"2001:db8::/32\"",
            );
        }
    }
    if let Some(region) = &raw.primary_region
        && !(region.get_ref().len() == 3
            && region.get_ref().bytes().all(|b| b.is_ascii_lowercase()))
    {
        reader.error_with_hint(
            region.span(),
            format!(
                "`edge.primary_region`: `{}` is not a Fly.io region code",
                region.get_ref()
            ),
            "three lower-case letters, e.g. \"ams\" or \"iad\" (`fly platform regions` lists them)",
        );
    }
    if let Some(volume) = &raw.volume
        && !is_volume_name(volume.get_ref())
    {
        reader.error_with_hint(
            volume.span(),
            format!(
                "`edge.volume`: `{}` is not a Fly.io volume name",
                volume.get_ref()
            ),
            "lower-case letters, digits and `_`, at most 30, e.g. \"edge_state\"",
        );
    }
    if let Some(port) = &raw.port
        && *port.get_ref() == 0
    {
        reader.error(
            port.span(),
            "`edge.port` must be a port number from 1 to 65535",
        );
    }
    let vm = raw.vm.map(|vm| vm_table(reader, vm.into_inner()));
    let name = match &placement {
        Placement::Fly(fly) => fly.app.clone(),
        Placement::Host(host) => host.host.clone(),
    };
    let tailnet = raw
        .tailnet
        .and_then(|tailnet| tailnet_table(reader, secrets, &name, tailnet));
    let resolver = resolver.or_else(|| {
        tailnet
            .as_ref()
            .map(|_| SocketAddr::new(TAILSCALE_RESOLVER, 53))
    });
    Some(Edge {
        placement,
        dir: PathBuf::from(dir),
        resolver,
        image: raw.image.map(Spanned::into_inner),
        api_url: raw.api_url.map_or_else(
            || DEFAULT_API_URL.to_string(),
            |url| url.into_inner().trim_end_matches('/').to_string(),
        ),
        deny_ips: raw.deny_ips.into_iter().map(Spanned::into_inner).collect(),
        port: raw.port.map_or(DEFAULT_PORT, Spanned::into_inner),
        primary_region: raw.primary_region.map(Spanned::into_inner),
        strategy: raw.strategy.map(Spanned::into_inner),
        vm,
        volume: raw.volume.map(Spanned::into_inner),
        tailnet,
    })
}

/// `app`, `target` and `token` of a Fly.io edge, each checked.
fn fly_app(
    reader: &mut Reader<'_>,
    secrets: &BTreeMap<String, SecretRef>,
    raw: &mut schema::Edge,
    span: std::ops::Range<usize>,
) -> Option<FlyApp> {
    let missing: Vec<&str> = [
        ("`app`", raw.app.is_none()),
        ("`target`", raw.target.is_none()),
        ("`token`", raw.token.is_none()),
    ]
    .into_iter()
    .filter_map(|(key, missing)| missing.then_some(key))
    .collect();
    let (Some(app), Some(target), Some(token)) =
        (raw.app.take(), raw.target.take(), raw.token.take())
    else {
        reader.error_with_hint(
            span,
            format!(
                "`[edge]` has no {}: it needs a Fly.io app (`app`, `target`, `token`) or a `host` to run on",
                missing.join(" or ")
            ),
            "e.g. app = \"example-proxy\", target = \"example-proxy.fly.dev\", token = \"fly_token\"; or host = \"vps\"",
        );
        return None;
    };
    if !is_identifier(app.get_ref()) {
        reader.error(
            app.span(),
            format!("`edge.app`: `{}` is not a Fly.io app name", app.get_ref()),
        );
    }
    let target_name = target.get_ref().trim_end_matches('.').to_ascii_lowercase();
    if !is_hostname(&target_name) {
        reader.error(
            target.span(),
            format!("`edge.target`: `{}` is not a host name", target.get_ref()),
        );
    }
    check_secret(reader, secrets, &token, "edge.token");
    let host_only = [
        ("prefix", raw.prefix.take().map(|key| key.span())),
        (
            "reload_nginx",
            raw.reload_nginx.take().map(|key| key.span()),
        ),
        (
            "reload_fail2ban",
            raw.reload_fail2ban.take().map(|key| key.span()),
        ),
    ];
    for (key, span) in host_only {
        if let Some(span) = span {
            reader.error_with_hint(
                span,
                format!("`edge.{key}` is for an edge on a host, but this edge runs on Fly.io (app `{}`)", app.get_ref()),
                "remove it, or set `host` (and remove the Fly.io keys) to run the edge on a host",
            );
        }
    }
    Some(FlyApp {
        app: app.into_inner(),
        target: target_name,
        token: token.into_inner(),
    })
}

/// `host`, `prefix` and the reload commands of an edge on a catalog host; the Fly.io keys are
/// refused (each with its own error) and taken out, so nothing reads them.
fn edge_host(
    reader: &mut Reader<'_>,
    raw: &mut schema::Edge,
    host: Spanned<String>,
    hosts: &BTreeMap<String, HostEntry>,
) -> EdgeHost {
    let fly_only = [
        ("app", raw.app.take().map(|key| key.span())),
        ("target", raw.target.take().map(|key| key.span())),
        ("token", raw.token.take().map(|key| key.span())),
        ("image", raw.image.take().map(|key| key.span())),
        ("api_url", raw.api_url.take().map(|key| key.span())),
        (
            "primary_region",
            raw.primary_region.take().map(|key| key.span()),
        ),
        ("strategy", raw.strategy.take().map(|key| key.span())),
        ("vm", raw.vm.take().map(|key| key.span())),
        ("volume", raw.volume.take().map(|key| key.span())),
        ("tailnet", raw.tailnet.take().map(|key| key.span())),
    ];
    for (key, span) in fly_only {
        if let Some(span) = span {
            reader.error_with_hint(
                span,
                format!(
                    "`edge.{key}` is for an edge on Fly.io, but this edge runs on host `{}`",
                    host.get_ref()
                ),
                "remove it, or remove `host` to run the edge on Fly.io",
            );
        }
    }
    if !hosts.contains_key(host.get_ref()) && !reader.is_unread(Section::Hosts, host.get_ref()) {
        let known: Vec<&String> = hosts.keys().collect();
        let hint = crate::hint::did_you_mean(
            host.get_ref(),
            &known,
            format!("declare [hosts.{}]", host.get_ref()),
        );
        reader.error_with_hint(
            host.span(),
            format!(
                "`edge.host`: host `{}` is not in the catalog",
                host.get_ref()
            ),
            hint,
        );
    }
    let prefix = match raw.prefix.take() {
        Some(prefix) if is_prefix(prefix.get_ref()) => prefix.into_inner(),
        Some(prefix) => {
            reader.error_with_hint(
                prefix.span(),
                format!(
                    "`edge.prefix`: `{}` is not an absolute folder ending in `/`",
                    prefix.get_ref()
                ),
                "e.g. \"/srv/edge/\" (letters, digits, `.`, `-`, `_` and `/` only)",
            );
            DEFAULT_PREFIX.to_string()
        }
        None => DEFAULT_PREFIX.to_string(),
    };
    let sudo = hosts
        .get(host.get_ref())
        .is_some_and(|entry| entry.model.sudo);
    let mut reload = |raw: Option<Text>, key: &str, default: &str| match raw {
        Some(command) => {
            check_reload(reader, &command, key, sudo);
            command.into_inner()
        }
        None => default.to_string(),
    };
    EdgeHost {
        reload_nginx: reload(
            raw.reload_nginx.take(),
            "edge.reload_nginx",
            DEFAULT_RELOAD_NGINX,
        ),
        reload_fail2ban: reload(
            raw.reload_fail2ban.take(),
            "edge.reload_fail2ban",
            DEFAULT_RELOAD_FAIL2BAN,
        ),
        host: host.into_inner(),
        prefix,
    }
}

/// An absolute folder ending in `/`, in characters that need no quoting in nginx, fail2ban and sh.
fn is_prefix(text: &str) -> bool {
    text.starts_with('/')
        && text.ends_with('/')
        && !text.contains("/../")
        && !text.contains("/./")
        && text
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'/' | b'.' | b'-' | b'_'))
}

/// A reload command: one line; with sudo, the plain words a sudoers entry allows.
fn check_reload(reader: &mut Reader<'_>, command: &Text, key: &str, sudo: bool) {
    let text = command.get_ref();
    if text.trim().is_empty() || text.contains('\n') {
        reader.error(
            command.span(),
            format!("`{key}` must be one command on one line"),
        );
    } else if sudo && text.contains(['|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\''])
    {
        reader.error_with_hint(
            command.span(),
            format!("`{key}` uses shell syntax, but the host has `sudo = true`: it runs as `sudo -n` and its words, without a shell"),
            "write one plain command (the exact line the sudoers entry allows)",
        );
    }
}

/// `IP`, `IP:PORT` or `[IPv6]:PORT`; port 53 unless written.
fn parse_resolver(text: &str) -> Option<SocketAddr> {
    if let Ok(ip) = text.parse::<IpAddr>() {
        return Some(SocketAddr::new(ip, 53));
    }
    text.parse::<SocketAddr>()
        .ok()
        .filter(|address| address.port() != 0)
}

/// Fly.io volume names: lower-case letters, digits and underscores, at most 30 characters.
fn is_volume_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 30
        && name
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
}

fn vm_table(reader: &mut Reader<'_>, raw: schema::Vm) -> Vm {
    if let Some(size) = &raw.size
        && !is_vm_size(size.get_ref())
    {
        reader.error_with_hint(
            size.span(),
            format!(
                "`edge.vm.size`: `{}` is not a Fly.io machine size",
                size.get_ref()
            ),
            "e.g. \"shared-cpu-1x\" or \"performance-2x\" (`fly platform vm-sizes` lists them)",
        );
    }
    if let Some(memory) = &raw.memory_mb
        && (*memory.get_ref() < 256 || memory.get_ref() % 256 != 0)
    {
        reader.error(
            memory.span(),
            format!(
                "`edge.vm.memory_mb`: {} MB is not a Fly.io memory size (a multiple of 256, at least 256)",
                memory.get_ref()
            ),
        );
    }
    Vm {
        size: raw.size.map(Spanned::into_inner),
        memory_mb: raw.memory_mb.map(Spanned::into_inner),
    }
}

/// `shared-cpu-Nx`, `performance-Nx` and the GPU presets (`a100-40gb`, `l40s`): a family, a dash
/// and a lower-case size.
fn is_vm_size(size: &str) -> bool {
    size.split_once('-').is_some_and(|(family, rest)| {
        !family.is_empty()
            && family
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
            && !rest.is_empty()
            && rest
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    })
}

fn tailnet_table(
    reader: &mut Reader<'_>,
    secrets: &BTreeMap<String, SecretRef>,
    app: &str,
    raw: Spanned<schema::Tailnet>,
) -> Option<Tailnet> {
    let span = raw.span();
    let raw = raw.into_inner();
    let Some(auth_key) = raw.auth_key else {
        reader.error_with_hint(
            span,
            "`edge.tailnet` has no `auth_key`: the edge cannot join the tailnet without one",
            "name the secret holding a Tailscale auth key, e.g. auth_key = \"tailscale_key\" with [secrets.tailscale_key]",
        );
        return None;
    };
    check_secret(reader, secrets, &auth_key, "edge.tailnet.auth_key");
    if let Some(hostname) = &raw.hostname
        && !is_identifier(hostname.get_ref())
    {
        reader.error(
            hostname.span(),
            format!(
                "`edge.tailnet.hostname`: `{}` is not a machine name (letters, digits and `-`)",
                hostname.get_ref()
            ),
        );
    }
    for tag in &raw.tags {
        let name = tag.get_ref().strip_prefix("tag:").unwrap_or("");
        if !is_identifier(name) {
            reader.error_with_hint(
                tag.span(),
                format!(
                    "`edge.tailnet.tags`: `{}` is not a Tailscale tag",
                    tag.get_ref()
                ),
                "tags start with `tag:`, e.g. \"tag:edge\"",
            );
        }
    }
    if let Some(image) = &raw.image
        && !is_image_reference(image.get_ref())
    {
        reader.error_with_hint(
            image.span(),
            format!(
                "`edge.tailnet.image`: `{}` is not an image reference",
                image.get_ref()
            ),
            "e.g. \"docker.io/tailscale/tailscale:v1.102.5@sha256:...\"; pin it by digest",
        );
    }
    let wait = match raw.wait {
        Some(wait) => wait.into_inner(),
        None => super::super::values::Duration::try_from(DEFAULT_WAIT.to_string()).ok()?,
    };
    Some(Tailnet {
        auth_key: auth_key.into_inner(),
        hostname: raw
            .hostname
            .map_or_else(|| app.to_string(), Spanned::into_inner),
        tags: raw.tags.into_iter().map(Spanned::into_inner).collect(),
        image: raw
            .image
            .map_or_else(|| TAILSCALE_IMAGE.to_string(), Spanned::into_inner),
        wait,
    })
}

/// An image reference as a Containerfile's `FROM` takes it: no spaces, quotes or shell
/// characters, a name before any `:tag` or `@digest`.
fn is_image_reference(text: &str) -> bool {
    !text.is_empty()
        && !text.starts_with(['-', ':', '@', '/'])
        && text.bytes().all(|b| {
            b.is_ascii_lowercase()
                || b.is_ascii_digit()
                || matches!(b, b'.' | b'-' | b'_' | b'/' | b':' | b'@')
                || b.is_ascii_uppercase()
        })
}

/// An address or a CIDR block (`203.0.113.0/24`, `2001:db8::/32`) with a prefix that fits it.
fn is_ip_or_cidr(text: &str) -> bool {
    let (address, prefix) = text.split_once('/').unwrap_or((text, ""));
    match address.parse::<IpAddr>() {
        Ok(_) if prefix.is_empty() => !text.contains('/'),
        Ok(IpAddr::V4(_)) => prefix.parse::<u8>().is_ok_and(|bits| bits <= 32),
        Ok(IpAddr::V6(_)) => prefix.parse::<u8>().is_ok_and(|bits| bits <= 128),
        Err(_) => false,
    }
}

pub fn auth(reader: &mut Reader<'_>) -> Option<Spanned<Authentik>> {
    let value = reader.take("auth")?;
    let Some(raw) = reader.read::<schema::Auth>(value, "auth") else {
        reader.unread(Section::Auth, "");
        return None;
    };
    let authentik = raw.authentik?;
    let span = authentik.span();
    let outpost = authentik.into_inner().outpost;
    if let Err(message) = super::super::values::check_upstream(outpost.get_ref()) {
        reader.error(
            outpost.span(),
            format!("`auth.authentik.outpost`: {message}"),
        );
    }
    Some(Spanned::new(
        span,
        Authentik {
            outpost: outpost.into_inner().trim_end_matches('/').to_string(),
        },
    ))
}
