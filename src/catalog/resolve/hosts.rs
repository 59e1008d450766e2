//! `[hosts.NAME]`: the address, SSH settings and the Caddy instance of each host, and the
//! check that a host's `dns_challenge` has private names to serve.

use super::super::defaults::{DEFAULT_CADDY_CONFIG, DEFAULT_CADDY_RELOAD};
use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::PathBuf;

use toml::Spanned;

use super::super::model::{Address, Caddy, DnsChallenge, Host, Ssh};
use super::super::parse::{Reader, Section};
use super::super::schema;
use super::super::services;
use super::super::values::{hostname_problem, is_env_name, is_hostname, is_identifier};
use super::check_entry_name;

/// Where a value is written in the catalog.
type Span = std::ops::Range<usize>;

/// A host as read, with the spans later checks point at.
pub struct HostEntry {
    pub model: Host,
    pub dns_challenge_span: Option<Span>,
    /// Each `caddy.wildcard` zone with where it is written.
    pub wildcard_spans: Vec<(String, Span)>,
    /// The host's DNS name (`name`, else its `address` when that is a host name): lowercase,
    /// without a final dot, with where it is written.
    pub dns_name: Option<(String, Span)>,
    /// Where `ip` is written (or the address, when it is an IP address).
    pub ip_span: Option<Span>,
    /// Where `sshfp = true` is written, when it is.
    pub sshfp_span: Option<Span>,
}

impl HostEntry {
    /// The address DNS records point at: `ip`, else an IP address given as `address`.
    pub fn ip(&self) -> Option<IpAddr> {
        match &self.model.address {
            _ if self.model.ip.is_some() => self.model.ip,
            Address::Remote(address) => address.parse().ok(),
            Address::Local => None,
        }
    }
}

pub fn hosts(reader: &mut Reader<'_>) -> BTreeMap<String, HostEntry> {
    let mut hosts = BTreeMap::new();
    for (name, value) in reader.entries("hosts") {
        let path = format!("hosts.{}", name.get_ref());
        check_entry_name(reader, &name, "host");
        let Some(raw) = reader.read::<schema::Host>(value, &path) else {
            reader.unread(Section::Hosts, name.get_ref());
            continue;
        };
        if let Some(host) = host(reader, &path, name.get_ref(), raw) {
            hosts.insert(name.into_inner(), host);
        }
    }
    hosts
}

fn host(reader: &mut Reader<'_>, path: &str, name: &str, raw: schema::Host) -> Option<HostEntry> {
    let address = match raw.address.get_ref().as_str() {
        "local" => Address::Local,
        other if is_hostname(other) || other.parse::<IpAddr>().is_ok() => {
            Address::Remote(other.to_string())
        }
        other => {
            reader.error_with_hint(
                raw.address.span(),
                format!("`{path}.address`: `{other}` is not a host name or IP address"),
                "write the SSH destination, or \"local\" for this machine",
            );
            // Kept, so that its services do not also report it missing.
            Address::Remote(other.to_string())
        }
    };
    let ip_span =
        raw.ip.as_ref().map(Spanned::span).or_else(|| {
            (raw.address.get_ref().parse::<IpAddr>().is_ok()).then(|| raw.address.span())
        });
    let dns_name = dns_name(reader, path, raw.name, &raw.address);
    let sshfp_span = raw
        .sshfp
        .filter(|sshfp| *sshfp.get_ref())
        .map(|sshfp| sshfp.span());
    let ip = raw.ip.and_then(|ip| match ip.get_ref().parse::<IpAddr>() {
        Ok(parsed) => Some(parsed),
        Err(_) => {
            reader.error(
                ip.span(),
                format!("`{path}.ip`: `{}` is not an IP address", ip.get_ref()),
            );
            None
        }
    });
    let ssh = ssh(reader, path, raw.ssh);
    let (caddy, dns_challenge_span, wildcard_spans) = caddy(reader, path, raw.caddy, raw.sudo);
    let model = Host {
        name: name.to_string(),
        address,
        ssh,
        sudo: raw.sudo,
        ip,
        public: raw.public,
        caddy,
    };
    Some(HostEntry {
        model,
        dns_challenge_span,
        wildcard_spans,
        dns_name,
        ip_span,
        sshfp_span,
    })
}

/// `name`, checked, else the address when it is a host name (not `local`, not an IP address).
fn dns_name(
    reader: &mut Reader<'_>,
    path: &str,
    name: Option<Spanned<String>>,
    address: &Spanned<String>,
) -> Option<(String, Span)> {
    match name {
        Some(name) => {
            let lowered = name.get_ref().trim_end_matches('.').to_ascii_lowercase();
            if let Some(why) = hostname_problem(&lowered) {
                reader.error(
                    name.span(),
                    format!(
                        "`{path}.name`: `{}` is not a DNS name: {why}",
                        name.get_ref()
                    ),
                );
                return None;
            }
            Some((lowered, name.span()))
        }
        None => {
            let address_text = address.get_ref();
            let named = address_text != "local"
                && address_text.parse::<IpAddr>().is_err()
                && is_hostname(address_text.trim_end_matches('.'));
            named.then(|| {
                (
                    address_text.trim_end_matches('.').to_ascii_lowercase(),
                    address.span(),
                )
            })
        }
    }
}

fn ssh(reader: &mut Reader<'_>, path: &str, raw: schema::Ssh) -> Ssh {
    for (key, value) in [
        ("user", &raw.user),
        ("jump", &raw.jump),
        ("identity", &raw.identity),
        ("known_hosts", &raw.known_hosts),
    ] {
        if let Some(value) = value.as_ref().filter(|value| {
            value.get_ref().is_empty() || value.get_ref().contains(char::is_whitespace)
        }) {
            reader.error(
                value.span(),
                format!("`{path}.ssh.{key}` must be non-empty and without spaces"),
            );
        }
    }
    if let Some(port) = raw.port.as_ref().filter(|port| *port.get_ref() == 0) {
        reader.error(port.span(), format!("`{path}.ssh.port` must be 1 to 65535"));
    }
    Ssh {
        user: raw.user.map(Spanned::into_inner),
        port: raw.port.map(Spanned::into_inner),
        identity: raw
            .identity
            .map(|identity| PathBuf::from(identity.into_inner())),
        known_hosts: raw
            .known_hosts
            .map(|known_hosts| PathBuf::from(known_hosts.into_inner())),
        jump: raw.jump.map(Spanned::into_inner),
    }
}

fn caddy(
    reader: &mut Reader<'_>,
    path: &str,
    raw: Option<Spanned<schema::Caddy>>,
    sudo: bool,
) -> (Caddy, Option<Span>, Vec<(String, Span)>) {
    let Some(raw) = raw.map(Spanned::into_inner) else {
        let caddy = Caddy {
            config: DEFAULT_CADDY_CONFIG.to_string(),
            reload: DEFAULT_CADDY_RELOAD.to_string(),
            dns_challenge: None,
            admin: None,
            http_port: None,
            https_port: None,
            global: None,
            extra: None,
            wildcard: Vec::new(),
        };
        return (caddy, None, Vec::new());
    };
    check_caddy_keys(reader, path, &raw, sudo);
    let span = raw.dns_challenge.as_ref().map(Spanned::span);
    let dns_challenge = raw
        .dns_challenge
        .map(|challenge| dns_challenge(reader, path, challenge.into_inner()));
    let wildcard_spans = wildcards(reader, path, raw.wildcard, dns_challenge.is_some());
    let caddy = Caddy {
        config: raw
            .config
            .map_or_else(|| DEFAULT_CADDY_CONFIG.to_string(), Spanned::into_inner),
        reload: raw
            .reload
            .map_or_else(|| DEFAULT_CADDY_RELOAD.to_string(), Spanned::into_inner),
        dns_challenge,
        admin: raw.admin.map(Spanned::into_inner),
        http_port: raw.http_port.map(Spanned::into_inner),
        https_port: raw.https_port.map(Spanned::into_inner),
        global: raw.global.map(|text| {
            super::super::services::check_snippet(reader, &text, &format!("{path}.caddy.global"));
            text.into_inner()
        }),
        extra: raw.extra.map(|text| {
            super::super::services::check_snippet(reader, &text, &format!("{path}.caddy.extra"));
            text.into_inner()
        }),
        wildcard: wildcard_spans
            .iter()
            .map(|(zone, _)| zone.clone())
            .collect(),
    };
    (caddy, span, wildcard_spans)
}

/// `caddy.wildcard`: zones in lower case, each a host name, once, on a host with a DNS challenge
/// (a wildcard certificate is issued through DNS-01 only).
fn wildcards(
    reader: &mut Reader<'_>,
    path: &str,
    raw: Vec<Spanned<String>>,
    dns_challenge: bool,
) -> Vec<(String, std::ops::Range<usize>)> {
    let mut zones: Vec<(String, std::ops::Range<usize>)> = Vec::new();
    for (index, zone) in raw.into_iter().enumerate() {
        let name = zone.get_ref().trim_end_matches('.').to_ascii_lowercase();
        if index == 0 && !dns_challenge {
            reader.error_with_hint(
                zone.span(),
                format!("`{path}.caddy.wildcard` needs `{path}.caddy.dns_challenge`"),
                "a wildcard certificate is issued through DNS-01 only: add dns_challenge = { provider, token_env }",
            );
        }
        if !is_hostname(&name) {
            reader.error(
                zone.span(),
                format!(
                    "`{path}.caddy.wildcard`: `{}` is not a zone name",
                    zone.get_ref()
                ),
            );
        } else if zones.iter().any(|(seen, _)| *seen == name) {
            reader.error(
                zone.span(),
                format!("`{path}.caddy.wildcard` names `{name}` twice"),
            );
        } else {
            zones.push((name, zone.span()));
        }
    }
    zones
}

/// The keys of `[hosts.NAME.caddy]` that stand alone: paths, the reload command, admin, ports.
fn check_caddy_keys(reader: &mut Reader<'_>, path: &str, raw: &schema::Caddy, sudo: bool) {
    if let Some(config) = raw
        .config
        .as_ref()
        .filter(|config| !config.get_ref().starts_with('/'))
    {
        reader.error(
            config.span(),
            format!("`{path}.caddy.config` must be an absolute path on the host"),
        );
    }
    if let Some(reload) = raw
        .reload
        .as_ref()
        .filter(|reload| reload.get_ref().trim().is_empty())
    {
        reader.error(reload.span(), format!("`{path}.caddy.reload` is empty"));
    }
    if let Some(reload) = raw.reload.as_ref().filter(|reload| {
        sudo && reload.get_ref().contains([
            '|', '&', ';', '<', '>', '(', ')', '$', '`', '\\', '"', '\'', '\n',
        ])
    }) {
        reader.error_with_hint(
            reload.span(),
            format!("`{path}.caddy.reload` uses shell syntax, but with `sudo = true` it runs as `sudo -n` and its words, without a shell"),
            "write one plain command (the exact line the sudoers entry allows), e.g. `systemctl reload caddy`",
        );
    }
    if let Some(admin) = raw
        .admin
        .as_ref()
        .filter(|admin| !valid_admin(admin.get_ref()))
    {
        reader.error_with_hint(
            admin.span(),
            format!(
                "`{path}.caddy.admin`: `{}` is not an admin address",
                admin.get_ref()
            ),
            "write HOST:PORT (e.g. 127.0.0.1:2019), unix//path/to/socket, or off",
        );
    }
    for port in [&raw.http_port, &raw.https_port].into_iter().flatten() {
        if *port.get_ref() == 0 {
            reader.error(
                port.span(),
                format!("`{path}.caddy` ports must be 1 to 65535"),
            );
        }
    }
}

/// A DNS-01 challenge: a caddy-dns module name and the variable holding its token.
fn dns_challenge(
    reader: &mut Reader<'_>,
    path: &str,
    challenge: schema::DnsChallenge,
) -> DnsChallenge {
    if !is_identifier(challenge.provider.get_ref()) {
        reader.error(
            challenge.provider.span(),
            format!(
                "`{path}.caddy.dns_challenge.provider`: `{}` is not a caddy-dns module name",
                challenge.provider.get_ref()
            ),
        );
    }
    if !is_env_name(challenge.token_env.get_ref()) {
        reader.error_with_hint(
            challenge.token_env.span(),
            format!(
                "`{path}.caddy.dns_challenge.token_env`: `{}` is not an environment variable name",
                challenge.token_env.get_ref()
            ),
            "token_env names the variable in Caddy's service environment, never the token itself",
        );
    }
    DnsChallenge {
        provider: challenge.provider.into_inner(),
        token_env: challenge.token_env.into_inner(),
    }
}

fn valid_admin(admin: &str) -> bool {
    if admin == "off" || admin.starts_with("unix/") {
        return !admin.contains(char::is_whitespace);
    }
    admin.rsplit_once(':').is_some_and(|(host, port)| {
        port.parse::<u16>().is_ok_and(|port| port > 0)
            && (host.is_empty()
                || is_hostname(host)
                || host.trim_matches(['[', ']']).parse::<IpAddr>().is_ok())
    })
}

/// Each wildcard zone must serve something (a private name of a service on that host directly
/// below it) and belong to one host: `*.ZONE` is one DNS record, pointing at one host.
pub fn check_wildcards(
    reader: &mut Reader<'_>,
    hosts: &BTreeMap<String, HostEntry>,
    services: &BTreeMap<String, services::ServiceEntry>,
) {
    let mut owners: BTreeMap<&str, &str> = BTreeMap::new();
    for (name, host) in hosts {
        for (zone, span) in &host.wildcard_spans {
            if let Some(first) = owners.insert(zone, name) {
                reader.error_with_hint(
                    span.clone(),
                    format!("`hosts.{name}.caddy.wildcard`: `{zone}` is already host `{first}`'s wildcard"),
                    format!("`*.{zone}` is one DNS record for one host: keep it on one host and give the other's names their own sites"),
                );
            }
        }
    }
    // An unread service may be the one on the host with such a name.
    if reader.any_unread(Section::Services) {
        return;
    }
    for (name, host) in hosts {
        for (zone, span) in &host.wildcard_spans {
            let used = services.values().any(|service| {
                service.model.host.as_deref() == Some(name)
                    && service
                        .model
                        .names
                        .iter()
                        .any(|private| crate::catalog::model::under_wildcard(private, zone))
            });
            if !used {
                reader.error_with_hint(
                    span.clone(),
                    format!("`hosts.{name}.caddy.wildcard`: no service on `{name}` has a private name directly under `{zone}`"),
                    format!("a wildcard serves names like `NAME.{zone}`: remove it, or give a service such a name"),
                );
            }
        }
    }
}

/// A `dns_challenge` is for private names (they cannot answer HTTP-01); a host without any is a mistake.
pub fn check_dns_challenges(
    reader: &mut Reader<'_>,
    hosts: &BTreeMap<String, HostEntry>,
    services: &BTreeMap<String, services::ServiceEntry>,
) {
    // An unread service may be the one serving private names on the host.
    if reader.any_unread(Section::Services) {
        return;
    }
    for (name, host) in hosts {
        let Some(span) = host.dns_challenge_span.clone() else {
            continue;
        };
        let serves_private = services.values().any(|service| {
            service.model.host.as_deref() == Some(name) && !service.model.names.is_empty()
        });
        if !serves_private {
            reader.error_with_hint(
                span,
                format!("host `{name}` has a `dns_challenge` but serves no private names"),
                "DNS-01 is for private names; remove it or move a service's `names` here",
            );
        }
    }
}
