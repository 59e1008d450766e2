//! `[services.*]`: each service read on its own and checked against hosts, secrets, edge and auth.

use super::defaults::{DEFAULT_CONTAINERFILE, DEFAULT_RESPOND_STATUS};
use std::collections::BTreeMap;
use std::ops::Range;
use std::path::{Path, PathBuf};

use toml::Spanned;

use super::model::{Answer, Authentik, Backup, BackupTool, Container, Ping, Service};
use super::parse::{Key, Reader, Section, suggest};
use super::resolve::{HostEntry, check_entry_name, check_secret};
use super::schema;
use super::service_edge;
use super::values::{check_upstream, check_url, is_hostname};
use crate::secret::SecretRef;

/// What a service may refer to.
pub struct Context<'a> {
    pub hosts: &'a BTreeMap<String, HostEntry>,
    pub secrets: &'a BTreeMap<String, SecretRef>,
    pub edge: Option<&'a super::model::Edge>,
    pub authentik: &'a Option<Spanned<Authentik>>,
    pub dir: &'a Path,
}

/// A service as read, with the spans that record derivation points at.
pub struct ServiceEntry {
    pub model: Service,
    pub names: Vec<Spanned<String>>,
    pub public: Vec<Spanned<String>>,
}

pub fn services(reader: &mut Reader<'_>, context: &Context<'_>) -> BTreeMap<String, ServiceEntry> {
    let entries = reader.entries("services");
    let read = reader.read_each(entries, |reader, (name, value)| {
        let path = format!("services.{}", name.get_ref());
        check_entry_name(reader, &name, "service");
        let Some(raw) = reader.read::<schema::Service>(value, &path) else {
            reader.unread(Section::Services, name.get_ref());
            return None;
        };
        let entry = service(reader, context, &path, name.get_ref(), raw, name.span());
        Some((name.into_inner(), entry))
    });
    read.into_iter().collect()
}

fn service(
    reader: &mut Reader<'_>,
    context: &Context<'_>,
    path: &str,
    name: &str,
    raw: schema::Service,
    span: Range<usize>,
) -> ServiceEntry {
    if let Some(description) = raw
        .description
        .as_ref()
        .filter(|d| d.get_ref().contains(|c: char| c.is_control()))
    {
        reader.error(
            description.span(),
            format!("`{path}.description` must be one line of text"),
        );
    }
    let names = lowercase_names(reader, &raw.names, Key(path, "names"));
    let public = lowercase_names(reader, &raw.public, Key(path, "public"));
    let serves_names = !names.is_empty() || !public.is_empty();

    if let Some(host) = &raw.host {
        check_host(reader, context, host, Key(path, "host"));
    } else if serves_names {
        reader.error_with_hint(
            span.clone(),
            format!("service `{name}` declares names but no `host`"),
            "set host = \"NAME\": the host whose Caddy serves it",
        );
    }
    let answer = answer(reader, path, name, &raw, serves_names, span.clone());
    let authentik = match &raw.auth {
        None => false,
        Some(auth) if auth.get_ref() == "authentik" => {
            if context.authentik.is_none() && !reader.is_unread(Section::Auth, "") {
                reader.error_with_hint(
                    auth.span(),
                    format!("`{path}.auth` is `authentik` but [auth.authentik] is not declared"),
                    "add [auth.authentik] with outpost = \"http://...\"",
                );
            }
            if names.is_empty() && public.is_empty() {
                reader.error(
                    auth.span(),
                    format!("`{path}.auth` protects nothing: the service has no names"),
                );
            }
            true
        }
        Some(auth) => {
            let hint = suggest(auth.get_ref(), &["authentik"]).map_or_else(
                || "boma supports `authentik`".to_string(),
                |close| format!("did you mean `{close}`?"),
            );
            reader.error_with_hint(
                auth.span(),
                format!("`{path}.auth`: unknown auth provider `{}`", auth.get_ref()),
                hint,
            );
            false
        }
    };
    let edge = raw
        .edge
        .map(|edge| service_edge::service_edge(reader, context, path, edge, &names, &public));
    let container = raw.container.map(|container| {
        let key = format!("{path}.container");
        self::container(reader, context, &key, container.into_inner())
    });
    let backup = raw
        .backup
        .map(|backup| self::backup(reader, context, path, backup.into_inner()));
    let model = Service {
        name: name.to_string(),
        description: raw.description.map(Spanned::into_inner),
        host: raw.host.map(Spanned::into_inner),
        upstream: raw
            .upstream
            .map(|upstream| upstream.into_inner().trim_end_matches('/').to_string()),
        answer,
        caddy: raw.caddy.map(|text| {
            check_snippet(reader, &text, &format!("{path}.caddy"));
            text.into_inner()
        }),
        names: names.iter().map(|name| name.get_ref().clone()).collect(),
        public: public.iter().map(|name| name.get_ref().clone()).collect(),
        authentik,
        edge,
        container,
        backup,
    };
    ServiceEntry {
        model,
        names,
        public,
    }
}

/// How the service's site answers: by proxying to `upstream` (`None` here), or by itself with
/// `respond` or `redirect`. A service with names needs exactly one of the three.
fn answer(
    reader: &mut Reader<'_>,
    path: &str,
    name: &str,
    raw: &schema::Service,
    serves_names: bool,
    span: Range<usize>,
) -> Option<Answer> {
    let given: Vec<(&str, Range<usize>)> = [
        raw.upstream
            .as_ref()
            .map(|value| ("upstream", value.span())),
        raw.respond.as_ref().map(|value| ("respond", value.span())),
        raw.redirect
            .as_ref()
            .map(|value| ("redirect", value.span())),
    ]
    .into_iter()
    .flatten()
    .collect();
    if let [(first, _), (second, at), ..] = given.as_slice() {
        reader.error_with_hint(
            at.clone(),
            format!("`{path}` has `{first}` and `{second}` together"),
            "a site proxies to an upstream, answers with `respond`, or redirects: keep one",
        );
        return None;
    }
    if given.is_empty() && serves_names {
        reader.error_with_hint(
            span,
            format!("service `{name}` declares names but no `upstream`"),
            "e.g. upstream = \"http://127.0.0.1:8000\" (or respond = { body = \"...\" }, or redirect = \"https://...\")",
        );
    }
    if let Some(upstream) = &raw.upstream
        && let Err(message) = check_upstream(upstream.get_ref())
    {
        reader.error(upstream.span(), format!("`{path}.upstream`: {message}"));
    }
    if let Some(to) = &raw.redirect {
        if let Err(message) = check_url(to.get_ref()) {
            reader.error(to.span(), format!("`{path}.redirect`: {message}"));
        }
        return Some(Answer::Redirect(to.get_ref().clone()));
    }
    let respond = raw.respond.as_ref()?.get_ref();
    let status = respond
        .status
        .as_ref()
        .map_or(DEFAULT_RESPOND_STATUS, |status| {
            if !(100..=599).contains(status.get_ref()) {
                reader.error(
                    status.span(),
                    format!(
                        "`{path}.respond.status`: {} is not an HTTP status",
                        status.get_ref()
                    ),
                );
            }
            *status.get_ref()
        });
    let body = respond.body.as_ref().map_or_else(String::new, |body| {
        check_text(reader, body, &format!("{path}.respond.body"), LONGEST_BODY);
        if body.get_ref().contains("{env.") || body.get_ref().contains("{$") {
            // Caddy fills these from its environment (a DNS token lives there): never public.
            reader.error(
                body.span(),
                format!("`{path}.respond.body` reads Caddy's environment (`{{env.…}}` or `{{$…}}`), which a public answer must not show"),
            );
        } else if body.get_ref().contains('\\') {
            // A Caddyfile string has no way to write a backslash before a quote or at its end.
            reader.error(
                body.span(),
                format!("`{path}.respond.body` holds a backslash, which a Caddyfile string cannot carry whole"),
            );
        }
        body.get_ref().clone()
    });
    Some(Answer::Respond { status, body })
}

/// The longest `respond` body.
const LONGEST_BODY: usize = 4096;
/// The longest Caddyfile snippet.
const LONGEST_SNIPPET: usize = 16 * 1024;

/// A Caddyfile snippet (`caddy`, `global`, `extra`): text and line breaks, bounded. What it says
/// is Caddy's to judge: the whole file goes through `caddy validate` before any push.
pub fn check_snippet(reader: &mut Reader<'_>, text: &Spanned<String>, key: &str) {
    check_text(reader, text, key, LONGEST_SNIPPET);
}

fn check_text(reader: &mut Reader<'_>, text: &Spanned<String>, key: &str, longest: usize) {
    if text
        .get_ref()
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        reader.error(
            text.span(),
            format!("`{key}` holds a control character; write text and line breaks"),
        );
    } else if text.get_ref().len() > longest {
        reader.error(
            text.span(),
            format!("`{key}` is longer than {longest} bytes"),
        );
    }
}

fn lowercase_names(
    reader: &mut Reader<'_>,
    names: &[Spanned<String>],
    key: impl std::fmt::Display,
) -> Vec<Spanned<String>> {
    names
        .iter()
        .filter_map(|name| {
            let lowered = name.get_ref().trim_end_matches('.').to_ascii_lowercase();
            match super::values::hostname_problem(&lowered) {
                None => Some(Spanned::new(name.span(), lowered)),
                Some(why) => {
                    reader.error(
                        name.span(),
                        format!("`{key}`: `{}` is not a domain name: {why}", name.get_ref()),
                    );
                    None
                }
            }
        })
        .collect()
}

pub fn check_host(
    reader: &mut Reader<'_>,
    context: &Context<'_>,
    host: &Spanned<String>,
    key: impl std::fmt::Display,
) {
    if context.hosts.contains_key(host.get_ref())
        || reader.is_unread(Section::Hosts, host.get_ref())
    {
        return;
    }
    // Only names that are valid suggestions: a misspelt entry name is an error of its own.
    let known: Vec<&String> = context
        .hosts
        .keys()
        .filter(|name| super::values::is_identifier(name))
        .collect();
    let hint = crate::hint::did_you_mean(
        host.get_ref(),
        &known,
        format!("declare [hosts.{}]", host.get_ref()),
    );
    reader.error_with_hint(
        host.span(),
        format!("`{key}`: host `{}` is not in the catalog", host.get_ref()),
        hint,
    );
}

/// A service's `container` table or an `[images.NAME]` table (`key` names it in messages).
pub fn container(
    reader: &mut Reader<'_>,
    context: &Context<'_>,
    key: &str,
    raw: schema::Container,
) -> Container {
    if let Some(builder) = &raw.builder {
        check_host(reader, context, builder, format!("{key}.builder"));
    }
    if !valid_image(raw.image.get_ref()) {
        reader.error_with_hint(
            raw.image.span(),
            format!("`{key}.image`: `{}` is not an image name", raw.image.get_ref()),
            "write REGISTRY/PATH without a tag, e.g. forge.example.org/ops/shower; boma computes the tag",
        );
    }
    let version = raw.version.get_ref();
    if version.is_empty()
        || !version
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+'))
        || version.starts_with('v')
    {
        reader.error_with_hint(
            raw.version.span(),
            format!("`{key}.version`: `{version}` is not a version"),
            "e.g. version = \"1.0.0\" (the tag becomes v1.0.0-<git sha>)",
        );
    }
    for relative in std::iter::once(&raw.context).chain(&raw.bump) {
        if relative.get_ref().is_empty() || Path::new(relative.get_ref()).is_absolute() {
            reader.error(
                relative.span(),
                format!(
                    "`{key}`: `{}` must be a path relative to the catalog",
                    relative.get_ref()
                ),
            );
        }
    }
    // The Containerfile is a path inside the context: a builder gets only the context, and a
    // path that leaves it would read a file of this machine's choosing into the build.
    if let Some(file) = &raw.file {
        let path = Path::new(file.get_ref());
        let leaves = path.is_absolute()
            || path
                .components()
                .any(|part| matches!(part, std::path::Component::ParentDir));
        if file.get_ref().is_empty() || leaves || file.get_ref().chars().any(char::is_control) {
            reader.error_with_hint(
                file.span(),
                format!(
                    "`{key}.file`: `{}` must be a path inside the context",
                    file.get_ref()
                ),
                "name the Containerfile relative to `context`, without `..`",
            );
        }
    }
    let file = raw
        .file
        .map_or_else(|| DEFAULT_CONTAINERFILE.to_string(), Spanned::into_inner);
    let mut args = BTreeMap::new();
    for (name, value) in raw.args {
        if !super::values::is_env_name(&name) {
            reader.error(
                value.span(),
                format!("`{key}.args`: `{name}` is not a build argument name"),
            );
        }
        if value.get_ref().chars().any(char::is_control) {
            reader.error(
                value.span(),
                format!("`{key}.args.{name}` must be one line of text"),
            );
        }
        args.insert(name, value.into_inner());
    }
    Container {
        context: context.dir.join(raw.context.get_ref()),
        file,
        image: raw.image.into_inner(),
        version: raw.version.into_inner(),
        builder: raw.builder.map(Spanned::into_inner),
        bump: raw
            .bump
            .iter()
            .map(|file| context.dir.join(file.get_ref()))
            .collect::<Vec<PathBuf>>(),
        args,
    }
}

/// `host[:port]/path` in lowercase, no tag or digest (boma computes the tag).
fn valid_image(image: &str) -> bool {
    let mut parts = image.split('/');
    let registry = parts.next().unwrap_or_default();
    let path: Vec<&str> = parts.collect();
    let registry_ok = registry
        .rsplit_once(':')
        .map_or(is_hostname(registry), |(host, port)| {
            is_hostname(host) && port.parse::<u16>().is_ok()
        });
    registry_ok
        && !path.is_empty()
        && path.iter().all(|component| {
            !component.is_empty()
                && component.bytes().all(|b| {
                    b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'.' | b'_' | b'-')
                })
        })
}

fn backup(
    reader: &mut Reader<'_>,
    context: &Context<'_>,
    path: &str,
    raw: schema::Backup,
) -> Backup {
    let key = Key(path, "backup");
    if let Some(host) = &raw.host {
        check_host(reader, context, host, Key(path, "backup.host"));
    }
    if let Some(passphrase) = &raw.passphrase {
        check_secret(
            reader,
            context.secrets,
            passphrase,
            Key(path, "backup.passphrase"),
        );
    }
    if raw.repository.get_ref().trim().is_empty() {
        reader.error(
            raw.repository.span(),
            format!("`{key}.repository` is empty"),
        );
    }
    for file in raw.paths.iter().chain(&raw.sqlite) {
        if !file.get_ref().starts_with('/') {
            reader.error(
                file.span(),
                format!(
                    "`{key}`: `{}` must be an absolute path on the backup host",
                    file.get_ref()
                ),
            );
        }
    }
    let tool = *raw.tool.get_ref();
    // Every value travels to the host as one line of the check's input.
    let one_line = std::iter::once(&raw.repository)
        .chain(raw.archive_glob.iter())
        .chain(raw.config.iter())
        .chain(&raw.tags)
        .chain(&raw.paths)
        .chain(&raw.sqlite);
    for value in one_line {
        if value.get_ref().chars().any(char::is_control) {
            reader.error(
                value.span(),
                format!(
                    "`{key}`: `{}` must be one line of text",
                    value.get_ref().escape_debug()
                ),
            );
        }
    }
    match (&raw.config, tool) {
        (Some(config), BackupTool::Borgmatic) if !config.get_ref().starts_with('/') => {
            reader.error(
                config.span(),
                format!("`{key}.config` must be an absolute path on the backup host"),
            );
        }
        (Some(config), BackupTool::Borg | BackupTool::Restic) => {
            reader.error(
                config.span(),
                format!("`{key}.config` is for borgmatic only"),
            );
        }
        (None, BackupTool::Borgmatic) => reader.error_with_hint(
            raw.tool.span(),
            format!("`{key}`: borgmatic needs `config`"),
            "config = \"/etc/borgmatic/config.yaml\" (its path on the backup host)",
        ),
        _ => {}
    }
    if let (Some(tag), false) = (raw.tags.first(), tool == BackupTool::Restic) {
        reader.error(tag.span(), format!("`{key}.tags` is for restic only"));
    }
    if tool == BackupTool::Restic && raw.passphrase.is_none() {
        reader.error_with_hint(
            raw.tool.span(),
            format!("`{key}`: restic repositories are always encrypted and need `passphrase`"),
            "passphrase = \"NAME\" of a [secrets] entry",
        );
    }
    let ping = raw.ping.and_then(|ping| {
        let span = ping.span();
        match ping.into_inner() {
            schema::Ping {
                healthchecks: Some(url),
                uptime_kuma: None,
            } => checked_url(reader, url, key).map(Ping::Healthchecks),
            schema::Ping {
                healthchecks: None,
                uptime_kuma: Some(url),
            } => checked_url(reader, url, key).map(Ping::UptimeKuma),
            _ => {
                reader.error(
                    span,
                    format!("`{key}.ping` needs exactly one of `healthchecks` or `uptime_kuma`"),
                );
                None
            }
        }
    });
    Backup {
        tool,
        host: raw.host.map(Spanned::into_inner),
        repository: raw.repository.into_inner(),
        passphrase: raw.passphrase.map(Spanned::into_inner),
        max_age: raw.max_age.into_inner(),
        archive_glob: raw.archive_glob.map(Spanned::into_inner),
        paths: raw.paths.into_iter().map(Spanned::into_inner).collect(),
        sqlite: raw.sqlite.into_iter().map(Spanned::into_inner).collect(),
        ping,
        config: raw.config.map(Spanned::into_inner),
        tags: raw.tags.into_iter().map(Spanned::into_inner).collect(),
    }
}

fn checked_url(reader: &mut Reader<'_>, url: Spanned<String>, key: Key<'_>) -> Option<String> {
    match check_url(url.get_ref()) {
        Ok(_) => Some(url.into_inner()),
        Err(message) => {
            reader.error(url.span(), format!("`{key}.ping`: {message}"));
            None
        }
    }
}
