//! The catalog's sections, read into the resolved model with every cross-reference checked.

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::diagnostic::LineIndex;
use super::model::{
    Address, Authentik, Caddy, Catalog, Defaults, Dns, DnsChallenge, DnsProvider, Edge, Host,
    Position, Ssh,
};
use super::parse::{Reader, Value, suggest};
use super::schema::{self, TOP_LEVEL_KEYS};
use super::values::{check_url, is_env_name, is_hostname, is_identifier};
use super::{records, services};
use crate::secret::{SecretRef, SecretSource};

pub const DEFAULT_TTL: u32 = 300;
pub const DEFAULT_MAX_CHANGE_PERCENT: u8 = 30;
pub const DEFAULT_BATCH_SIZE: usize = 200;
pub const DEFAULT_CADDY_CONFIG: &str = "/etc/caddy/Caddyfile";
pub const DEFAULT_CADDY_RELOAD: &str = "systemctl reload caddy";

/// Reads every section. Returns `None` when any diagnostic was recorded.
pub fn catalog(reader: &mut Reader<'_>, path: &Path, text: &str) -> Option<Catalog> {
    check_top_level(reader);
    let dir = path.parent().map(Path::to_path_buf).unwrap_or_default();
    let dir = if dir.as_os_str().is_empty() {
        PathBuf::from(".")
    } else {
        dir
    };
    let lines = LineIndex::new(text);

    let defaults = defaults(reader);
    let secrets = secrets(reader, &dir, &lines);
    let (dns, declared_records) = dns(reader, &dir, &secrets);
    let hosts = hosts(reader);
    let edge = edge(reader, &secrets);
    let authentik = auth(reader);
    let context = services::Context {
        hosts: &hosts,
        secrets: &secrets,
        edge: edge.as_ref(),
        authentik: &authentik,
        dir: &dir,
    };
    let services = services::services(reader, &context);
    let records = records::derive(
        reader,
        &defaults,
        dns.as_ref(),
        declared_records,
        &hosts,
        edge.as_ref(),
        &services,
    );
    check_dns_challenges(reader, &hosts, &services);

    if !reader.diagnostics.is_empty() {
        return None;
    }
    let hosts = hosts
        .into_iter()
        .map(|(name, host)| (name, host.model))
        .collect();
    let services = services
        .into_iter()
        .map(|(name, service)| (name, service.model))
        .collect();
    let authentik = authentik.map(Spanned::into_inner);
    Some(Catalog {
        path: path.to_path_buf(),
        dir,
        defaults,
        secrets,
        dns,
        hosts,
        edge,
        authentik,
        services,
        records,
    })
}

fn check_top_level(reader: &mut Reader<'_>) {
    let unknown = reader
        .top_level_keys()
        .into_iter()
        .filter(|(key, _)| !TOP_LEVEL_KEYS.contains(&key.as_str()));
    for (key, span) in unknown {
        let hint = suggest(&key, &TOP_LEVEL_KEYS).map_or_else(
            || format!("known keys: {}", TOP_LEVEL_KEYS.join(", ")),
            |close| format!("did you mean `{close}`?"),
        );
        reader.error_with_hint(span, format!("unknown top-level key `{key}`"), hint);
    }
    match reader.take("version") {
        None => reader.error_with_hint(
            0..0,
            "the catalog has no `version`",
            "start the file with `version = 1`",
        ),
        Some(value) => {
            let version: Option<Spanned<i64>> = reader.read(value, "version");
            if let Some(version) = version.filter(|version| *version.get_ref() != 1) {
                reader.error_with_hint(
                    version.span(),
                    format!("catalog version {} is not supported", version.get_ref()),
                    "this boma reads `version = 1`",
                );
            }
        }
    }
}

fn defaults(reader: &mut Reader<'_>) -> Defaults {
    let raw: Option<schema::Defaults> = reader
        .take("defaults")
        .and_then(|value| reader.read(value, "defaults"));
    let mut defaults = Defaults {
        ttl: DEFAULT_TTL,
        acme_email: None,
    };
    let Some(raw) = raw else { return defaults };
    if let Some(ttl) = raw.ttl {
        if *ttl.get_ref() == 0 {
            reader.error(ttl.span(), "`defaults.ttl` must be at least 1 second");
        }
        defaults.ttl = ttl.into_inner();
    }
    if let Some(email) = raw.acme_email {
        let valid = email
            .get_ref()
            .split_once('@')
            .is_some_and(|(user, domain)| !user.is_empty() && is_hostname(domain))
            && !email.get_ref().contains(char::is_whitespace);
        if !valid {
            reader.error(
                email.span(),
                format!(
                    "`defaults.acme_email`: `{}` is not an email address",
                    email.get_ref()
                ),
            );
        }
        defaults.acme_email = Some(email.into_inner());
    }
    defaults
}

fn secrets(reader: &mut Reader<'_>, dir: &Path, lines: &LineIndex) -> BTreeMap<String, SecretRef> {
    let mut secrets = BTreeMap::new();
    for (name, value) in reader.entries("secrets") {
        let path = format!("secrets.{}", name.get_ref());
        check_entry_name(reader, &name, "secret");
        let span = value.span();
        let Some(raw) = reader.read::<schema::Secret>(value, &path) else {
            continue;
        };
        let source = match (raw.env, raw.file, raw.command) {
            (Some(variable), None, None) => {
                if !is_env_name(variable.get_ref()) {
                    reader.error(
                        variable.span(),
                        format!(
                            "`{path}.env`: `{}` is not a variable name",
                            variable.get_ref()
                        ),
                    );
                }
                SecretSource::Env(variable.into_inner())
            }
            (None, Some(file), None) => {
                if file.get_ref().trim().is_empty() {
                    reader.error(file.span(), format!("`{path}.file` is empty"));
                }
                SecretSource::File(dir.join(file.get_ref()))
            }
            (None, None, Some(command)) => {
                if command
                    .get_ref()
                    .first()
                    .is_none_or(|program| program.trim().is_empty())
                {
                    reader.error(
                        command.span(),
                        format!(
                            "`{path}.command` needs a program, e.g. [\"pass\", \"show\", \"x\"]"
                        ),
                    );
                }
                SecretSource::Command(command.into_inner())
            }
            _ => {
                reader.error_with_hint(
                    span.clone(),
                    format!("`{path}` must have exactly one of `env`, `file` or `command`"),
                    "e.g. { env = \"GANDI_PAT\" }",
                );
                continue;
            }
        };
        let (line, column) = lines.position(span.start);
        let declared_at = Position { line, column };
        secrets.insert(
            name.get_ref().clone(),
            SecretRef {
                name: name.into_inner(),
                source,
                declared_at,
            },
        );
    }
    secrets
}

/// Checks that `reference` names a declared secret.
pub fn check_secret(
    reader: &mut Reader<'_>,
    secrets: &BTreeMap<String, SecretRef>,
    reference: &Spanned<String>,
    key: impl std::fmt::Display,
) {
    if secrets.contains_key(reference.get_ref()) {
        return;
    }
    let known: Vec<&String> = secrets.keys().collect();
    let hint = suggest(reference.get_ref(), &known).map_or_else(
        || {
            format!(
                "declare it under [secrets], e.g. {} = {{ env = \"VAR\" }}",
                reference.get_ref()
            )
        },
        |close| format!("did you mean `{close}`?"),
    );
    reader.error_with_hint(
        reference.span(),
        format!(
            "`{key}` names secret `{}`, which [secrets] does not declare",
            reference.get_ref()
        ),
        hint,
    );
}

pub fn check_entry_name(reader: &mut Reader<'_>, name: &Spanned<String>, kind: &str) {
    if !is_identifier(name.get_ref()) {
        reader.error_with_hint(
            name.span(),
            format!("{kind} name `{}` is not allowed", name.get_ref()),
            "use letters, digits, `-` and `_`, starting with a letter or digit",
        );
    }
}

/// `[dns]`, and its `[[dns.records]]` left unread for `records` (each entry is checked alone).
fn dns<'t>(
    reader: &mut Reader<'t>,
    dir: &Path,
    secrets: &BTreeMap<String, SecretRef>,
) -> (Option<Dns>, Option<Value<'t>>) {
    let Some(mut value) = reader.take("dns") else {
        return (None, None);
    };
    let declared = match value.get_mut() {
        toml::de::DeValue::Table(table) => table.remove("records"),
        _ => None,
    };
    (dns_settings(reader, dir, secrets, value), declared)
}

fn dns_settings<'t>(
    reader: &mut Reader<'t>,
    dir: &Path,
    secrets: &BTreeMap<String, SecretRef>,
    value: Value<'t>,
) -> Option<Dns> {
    let raw: schema::Dns = reader.read(value, "dns")?;
    let provider = *raw.provider.get_ref();
    let zone = raw
        .zone
        .get_ref()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if !is_hostname(&zone) {
        reader.error(
            raw.zone.span(),
            format!("`dns.zone`: `{}` is not a domain name", raw.zone.get_ref()),
        );
    }
    let needs_credentials = provider != DnsProvider::Zonefile;
    match (&raw.credentials, needs_credentials) {
        (Some(credentials), true) => check_secret(reader, secrets, credentials, "dns.credentials"),
        (None, true) => reader.error_with_hint(
            raw.provider.span(),
            format!(
                "`dns.provider = \"{}\"` needs `credentials`",
                provider_name(provider)
            ),
            "name a [secrets] entry holding the API token: credentials = \"dns\"",
        ),
        (Some(credentials), false) => reader.error(
            credentials.span(),
            "`dns.credentials` is not used by the zonefile provider: remove it",
        ),
        (None, false) => {}
    }
    match (&raw.path, provider) {
        (None, DnsProvider::Zonefile) => reader.error_with_hint(
            raw.provider.span(),
            "the zonefile provider needs `dns.path`",
            format!("e.g. path = \"zones/{zone}.zone\""),
        ),
        (Some(path), provider) if provider != DnsProvider::Zonefile => {
            reader.error(path.span(), "`dns.path` is only for the zonefile provider")
        }
        _ => {}
    }
    if let Some(server) = raw
        .server
        .as_ref()
        .filter(|_| provider != DnsProvider::Powerdns)
    {
        reader.error(
            server.span(),
            "`dns.server` is only for the powerdns provider",
        );
    }
    if let Some(url) = &raw.url {
        if provider == DnsProvider::Zonefile {
            reader.error(url.span(), "`dns.url` is not used by the zonefile provider");
        } else if let Err(message) = check_url(url.get_ref()) {
            reader.error(url.span(), format!("`dns.url`: {message}"));
        }
    } else if provider == DnsProvider::Powerdns {
        reader.error_with_hint(
            raw.provider.span(),
            "the powerdns provider needs `dns.url`",
            "e.g. url = \"http://127.0.0.1:8081\"",
        );
    }
    if let Some(size) = &raw.batch_size {
        if provider != DnsProvider::Cloudflare {
            reader.error(
                size.span(),
                "`dns.batch_size` is only for the cloudflare provider",
            );
        } else if *size.get_ref() == 0 {
            reader.error(size.span(), "`dns.batch_size` must be at least 1");
        }
    }
    if let Some(percent) = raw
        .max_change_percent
        .as_ref()
        .filter(|percent| *percent.get_ref() > 100)
    {
        reader.error(
            percent.span(),
            "`dns.max_change_percent` is a percentage: 0 to 100",
        );
    }
    Some(Dns {
        provider,
        zone,
        credentials: raw.credentials.map(Spanned::into_inner),
        purge: raw.purge,
        max_change_percent: raw
            .max_change_percent
            .map_or(DEFAULT_MAX_CHANGE_PERCENT, Spanned::into_inner),
        path: raw.path.map(|path| dir.join(path.get_ref())),
        url: raw
            .url
            .map(|url| url.into_inner().trim_end_matches('/').to_string()),
        server: raw
            .server
            .map_or_else(|| "localhost".to_string(), Spanned::into_inner),
        batch_size: raw
            .batch_size
            .map_or(DEFAULT_BATCH_SIZE, |size| size.into_inner() as usize),
    })
}

pub fn provider_name(provider: DnsProvider) -> &'static str {
    match provider {
        DnsProvider::Zonefile => "zonefile",
        DnsProvider::Powerdns => "powerdns",
        DnsProvider::Gandi => "gandi",
        DnsProvider::Cloudflare => "cloudflare",
    }
}

/// A host as read, with the spans later checks point at.
pub struct HostEntry {
    pub model: Host,
    pub dns_challenge_span: Option<std::ops::Range<usize>>,
}

fn hosts(reader: &mut Reader<'_>) -> BTreeMap<String, HostEntry> {
    let mut hosts = BTreeMap::new();
    for (name, value) in reader.entries("hosts") {
        let path = format!("hosts.{}", name.get_ref());
        check_entry_name(reader, &name, "host");
        let Some(raw) = reader.read::<schema::Host>(value, &path) else {
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
            return None;
        }
    };
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
    let (caddy, dns_challenge_span) = caddy(reader, path, raw.caddy, raw.sudo);
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
    })
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
) -> (Caddy, Option<std::ops::Range<usize>>) {
    let Some(raw) = raw.map(Spanned::into_inner) else {
        let caddy = Caddy {
            config: DEFAULT_CADDY_CONFIG.to_string(),
            reload: DEFAULT_CADDY_RELOAD.to_string(),
            dns_challenge: None,
            admin: None,
            http_port: None,
            https_port: None,
        };
        return (caddy, None);
    };
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
    let span = raw.dns_challenge.as_ref().map(Spanned::span);
    let dns_challenge = raw.dns_challenge.map(Spanned::into_inner).map(|challenge| {
        if !is_identifier(challenge.provider.get_ref()) {
            reader.error(challenge.provider.span(), format!("`{path}.caddy.dns_challenge.provider`: `{}` is not a caddy-dns module name", challenge.provider.get_ref()));
        }
        if !is_env_name(challenge.token_env.get_ref()) {
            reader.error_with_hint(
                challenge.token_env.span(),
                format!("`{path}.caddy.dns_challenge.token_env`: `{}` is not an environment variable name", challenge.token_env.get_ref()),
                "token_env names the variable in Caddy's service environment, never the token itself",
            );
        }
        DnsChallenge { provider: challenge.provider.into_inner(), token_env: challenge.token_env.into_inner() }
    });
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
    };
    (caddy, span)
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

fn edge(reader: &mut Reader<'_>, secrets: &BTreeMap<String, SecretRef>) -> Option<Edge> {
    let value = reader.take("edge")?;
    let raw: schema::Edge = reader.read(value, "edge")?;
    if !is_identifier(raw.app.get_ref()) {
        reader.error(
            raw.app.span(),
            format!(
                "`edge.app`: `{}` is not a Fly.io app name",
                raw.app.get_ref()
            ),
        );
    }
    let target = raw
        .target
        .get_ref()
        .trim_end_matches('.')
        .to_ascii_lowercase();
    if !is_hostname(&target) {
        reader.error(
            raw.target.span(),
            format!(
                "`edge.target`: `{}` is not a host name",
                raw.target.get_ref()
            ),
        );
    }
    check_secret(reader, secrets, &raw.token, "edge.token");
    let resolver = raw
        .resolver
        .and_then(|resolver| match resolver.get_ref().parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => {
                reader.error(
                    resolver.span(),
                    format!(
                        "`edge.resolver`: `{}` is not an IP address",
                        resolver.get_ref()
                    ),
                );
                None
            }
        });
    let dir = raw
        .dir
        .map_or_else(|| "fly".to_string(), Spanned::into_inner);
    Some(Edge {
        app: raw.app.into_inner(),
        target,
        dir: PathBuf::from(dir),
        token: raw.token.into_inner(),
        resolver,
    })
}

fn auth(reader: &mut Reader<'_>) -> Option<Spanned<Authentik>> {
    let value = reader.take("auth")?;
    let raw: schema::Auth = reader.read(value, "auth")?;
    let authentik = raw.authentik?;
    let span = authentik.span();
    let outpost = authentik.into_inner().outpost;
    if let Err(message) = super::values::check_upstream(outpost.get_ref()) {
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

/// A `dns_challenge` is for private names (they cannot answer HTTP-01); a host without any is a mistake.
fn check_dns_challenges(
    reader: &mut Reader<'_>,
    hosts: &BTreeMap<String, HostEntry>,
    services: &BTreeMap<String, services::ServiceEntry>,
) {
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
