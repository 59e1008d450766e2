//! A service's `edge` table: what the public edge does in front of it (deny and allow paths,
//! rate limits, bans, WebSocket, body size, answer headers, upstream, cache, error page), each
//! key checked and given its default.

use std::collections::BTreeMap;

use toml::Spanned;

use super::model::{Ban, Cache, RateLimit, ServiceEdge};
use super::parse::{Key, Reader, Section};
use super::schema::{self, OneOrMany};
use super::services::Context;
use super::values::{check_upstream, check_url_path, is_hostname, is_identifier, url_host};

/// What a denied path answers unless `deny_body` says.
pub const DENY_BODY: &str = "This path is reachable from the private network only.";
/// What a banned client gets unless `ban.body` says.
pub const BAN_BODY: &str = "Forbidden.";
/// The largest request body unless `max_body` says: a git push of a sizeable repository over
/// HTTPS is one request (nginx's own default of 1 MB refuses it with 413); bodies are streamed
/// to the upstream, not buffered on the edge's disk.
pub const MAX_BODY: &str = "512m";
/// The status a rate-limited request gets unless the limit's `status` says.
pub const LIMIT_STATUS: u16 = 429;
/// The name of a rate limit that has none.
pub const LIMIT_NAME: &str = "site";
/// The headers every answer gets unless a service's `headers` overrides or removes them (`""`).
/// HSTS without `includeSubDomains`: other names under the zone may be private or served
/// elsewhere, and a year-long pin on all of them is not the edge's to make.
pub const DEFAULT_HEADERS: [(&str, &str); 4] = [
    ("Strict-Transport-Security", "max-age=31536000"),
    ("X-Content-Type-Options", "nosniff"),
    ("X-Frame-Options", "SAMEORIGIN"),
    ("Referrer-Policy", "strict-origin-when-cross-origin"),
];
/// Headers that frame the answer or the connection: nginx sets them, a catalog may not.
const FRAMING_HEADERS: [&str; 8] = [
    "connection",
    "content-length",
    "content-type",
    "date",
    "keep-alive",
    "server",
    "transfer-encoding",
    "upgrade",
];
/// The longest answer body and header value the catalog may write.
const LONGEST_TEXT: usize = 4096;

pub fn service_edge(
    reader: &mut Reader<'_>,
    context: &Context<'_>,
    path: &str,
    raw: Spanned<schema::ServiceEdge>,
    names: &[Spanned<String>],
    public: &[Spanned<String>],
) -> ServiceEdge {
    let span = raw.span();
    let raw = raw.into_inner();
    let key = Key(path, "edge");
    if context.edge.is_none() && !reader.is_unread(Section::Edge, "") {
        reader.error_with_hint(
            span.clone(),
            format!("`{key}` needs the [edge] section"),
            "declare [edge] with app, target and token",
        );
    }
    if public.is_empty() {
        reader.error_with_hint(
            span.clone(),
            format!("`{key}` is set but the service has no `public` names"),
            "the edge serves public names: add public = [\"...\"] or remove the table",
        );
    }
    if names.is_empty() && raw.upstream.is_none() {
        reader.error_with_hint(
            span.clone(),
            format!("`{key}` needs a private name to proxy to"),
            "the edge proxies to https://<first private name>: add names = [\"...\"], or set edge.upstream",
        );
    }
    let upstream = match &raw.upstream {
        Some(url) => match check_upstream(url.get_ref()) {
            Ok(()) => url.get_ref().trim_end_matches('/').to_string(),
            Err(message) => {
                reader.error_with_hint(
                    url.span(),
                    format!("`{key}.upstream`: {message}"),
                    "e.g. \"https://forge.tail1234.ts.net\" or \"http://100.64.0.7:3000\"",
                );
                String::new()
            }
        },
        None => names
            .first()
            .map_or_else(String::new, |name| format!("https://{}", name.get_ref())),
    };
    let upstream_name = url_host(&upstream);
    if let Some(edge) = context.edge
        && edge.resolver.is_none()
        && !upstream_name.is_empty()
        && upstream_name.parse::<std::net::IpAddr>().is_err()
    {
        let at = raw.upstream.as_ref().map_or(span.clone(), Spanned::span);
        reader.error_with_hint(
            at,
            format!(
                "`{key}` proxies to `{upstream}`, a name, but [edge] has no `resolver`: nginx would answer 502"
            ),
            "set [edge].resolver (Tailscale's is \"100.100.100.100\"), add [edge.tailnet], or proxy to an address",
        );
    }
    let upstream_host = match &raw.upstream_host {
        Some(host) => {
            if !is_hostname(host.get_ref()) {
                reader.error(
                    host.span(),
                    format!(
                        "`{key}.upstream_host`: `{}` is not a host name",
                        host.get_ref()
                    ),
                );
            }
            host.get_ref().clone()
        }
        None => url_host(&upstream).to_string(),
    };
    let limits = rate_limits(reader, path, raw.rate_limit);
    let ban = raw.ban.map(|ban| ban_table(reader, path, ban));
    let max_body = raw.max_body.map_or_else(
        || MAX_BODY.to_string(),
        |size| checked_size(reader, size, Key(path, "edge.max_body"), true),
    );
    let cache = raw.cache.map(|cache| cache_table(reader, path, cache));
    let error_page = raw.error_page.map(|page| {
        let file = std::path::PathBuf::from(page.get_ref());
        // The page is public: it comes from beside the catalog, never from elsewhere on disk.
        let outside = file.is_absolute()
            || file
                .components()
                .any(|part| matches!(part, std::path::Component::ParentDir));
        if outside {
            reader.error(
                page.span(),
                format!(
                    "`{key}.error_page`: `{}` leaves the catalog's folder; give a path inside it",
                    page.get_ref()
                ),
            );
        } else if !context.dir.join(&file).is_file() {
            reader.error(
                page.span(),
                format!(
                    "`{key}.error_page`: `{}` is not a file (paths are relative to the catalog)",
                    page.get_ref()
                ),
            );
        }
        file
    });
    ServiceEdge {
        deny: paths(reader, raw.deny, Key(path, "edge.deny")),
        allow: paths(reader, raw.allow, Key(path, "edge.allow")),
        deny_body: body(
            reader,
            raw.deny_body,
            Key(path, "edge.deny_body"),
            DENY_BODY,
        ),
        rate_limits: limits,
        ban,
        websocket: raw.websocket.is_none_or(Spanned::into_inner),
        max_body,
        headers: headers(reader, path, raw.headers),
        upstream,
        upstream_host,
        cache,
        error_page,
    }
}

pub fn paths(reader: &mut Reader<'_>, paths: Vec<Spanned<String>>, key: Key<'_>) -> Vec<String> {
    paths
        .into_iter()
        .map(|path| {
            if let Err(message) = check_url_path(path.get_ref()) {
                reader.error(path.span(), format!("`{key}`: {message}"));
            }
            path.into_inner()
        })
        .collect()
}

fn rate_limits(
    reader: &mut Reader<'_>,
    path: &str,
    raw: Option<Spanned<OneOrMany<schema::RateLimit>>>,
) -> Vec<RateLimit> {
    let Some(raw) = raw else {
        return Vec::new();
    };
    let span = raw.span();
    let tables: Vec<Spanned<schema::RateLimit>> = match raw.into_inner() {
        OneOrMany::One(table) => vec![Spanned::new(span, table)],
        OneOrMany::Many(tables) => tables,
    };
    let mut seen: BTreeMap<String, ()> = BTreeMap::new();
    let mut limits = Vec::new();
    for table in tables {
        let table_span = table.span();
        let table = table.into_inner();
        let name_span = table.name.as_ref().map_or(table_span, Spanned::span);
        let name = table
            .name
            .map_or_else(|| LIMIT_NAME.to_string(), Spanned::into_inner);
        if !is_identifier(&name) {
            reader.error(
                name_span.clone(),
                format!(
                    "`{path}.edge.rate_limit.name`: `{name}` is not a name (letters, digits and `-`)"
                ),
            );
        }
        if seen.insert(name.clone(), ()).is_some() {
            reader.error_with_hint(
                name_span,
                format!("`{path}.edge.rate_limit`: two rate limits are named `{name}`"),
                "give each limit its own name, e.g. name = \"login\" (a limit without one is \"site\")",
            );
        }
        let status = table.status.map_or(LIMIT_STATUS, |status| {
            let code = *status.get_ref();
            if !(400..=599).contains(&code) {
                reader.error(
                    status.span(),
                    format!(
                        "`{path}.edge.rate_limit.status`: {code} is not an error status (400 to 599)"
                    ),
                );
            } else if (502..=504).contains(&code) {
                // nginx answers its own 502-504 with the service's error page, which would tell a
                // limited client the service is down (and log the page's URI, not theirs).
                reader.error_with_hint(
                    status.span(),
                    format!("`{path}.edge.rate_limit.status`: {code} is the edge's \"unavailable\" answer, shown with the error page"),
                    "use 429 (Too Many Requests), or another 4xx",
                );
            }
            code
        });
        limits.push(RateLimit {
            name,
            rate: table.rate.into_inner(),
            burst: table.burst,
            paths: paths(reader, table.paths, Key(path, "edge.rate_limit.paths")),
            status,
        });
    }
    limits
}

fn ban_table(reader: &mut Reader<'_>, path: &str, raw: Spanned<schema::Ban>) -> Ban {
    let key = Key(path, "edge");
    let ban_span = raw.span();
    let ban = raw.into_inner();
    if ban.paths.is_empty() {
        reader.error(
            ban_span,
            format!("`{key}.ban.paths` is empty: name the paths whose failures count"),
        );
    }
    if ban.statuses.get_ref().is_empty() {
        reader.error(
            ban.statuses.span(),
            format!("`{key}.ban.statuses` is empty"),
        );
    }
    for status in ban.statuses.get_ref() {
        if !(100..=599).contains(status.get_ref()) {
            reader.error(
                status.span(),
                format!(
                    "`{key}.ban.statuses`: {} is not an HTTP status",
                    status.get_ref()
                ),
            );
        }
    }
    if *ban.maxretry.get_ref() == 0 {
        reader.error(
            ban.maxretry.span(),
            format!("`{key}.ban.maxretry` must be at least 1"),
        );
    }
    Ban {
        body: body(reader, ban.body, Key(path, "edge.ban.body"), BAN_BODY),
        paths: paths(reader, ban.paths, Key(path, "edge.ban.paths")),
        statuses: ban
            .statuses
            .into_inner()
            .into_iter()
            .map(Spanned::into_inner)
            .collect(),
        maxretry: ban.maxretry.into_inner(),
        findtime: ban.findtime.into_inner(),
        bantime: ban.bantime.into_inner(),
    }
}

fn cache_table(reader: &mut Reader<'_>, path: &str, raw: Spanned<schema::Cache>) -> Cache {
    let span = raw.span();
    let raw = raw.into_inner();
    let max_size = match raw.max_size {
        Some(size) => checked_size(reader, size, Key(path, "edge.cache.max_size"), false),
        None => {
            reader.error_with_hint(
                span,
                format!("`{path}.edge.cache` has no `max_size`: the cache would grow until the machine's disk is full"),
                "bound it, e.g. max_size = \"256m\"",
            );
            String::new()
        }
    };
    let paths = if raw.paths.is_empty() {
        vec!["/".to_string()]
    } else {
        paths(reader, raw.paths, Key(path, "edge.cache.paths"))
    };
    Cache {
        paths,
        lifetime: raw.lifetime.into_inner(),
        max_size,
        stale: raw.stale.is_none_or(Spanned::into_inner),
        query: raw.query.is_some_and(Spanned::into_inner),
    }
}

/// A size in nginx's syntax: digits and an optional `k`, `m` or `g`; `0` (no limit) only where
/// `zero` allows it.
fn checked_size(
    reader: &mut Reader<'_>,
    size: Spanned<String>,
    key: Key<'_>,
    zero: bool,
) -> String {
    let text = size.get_ref().to_ascii_lowercase();
    let digits = text.trim_end_matches(['k', 'm', 'g']);
    let valid = !digits.is_empty()
        && text.len() - digits.len() <= 1
        && digits.len() <= 9
        && digits.bytes().all(|b| b.is_ascii_digit());
    if !valid {
        reader.error_with_hint(
            size.span(),
            format!("`{key}`: `{}` is not a size", size.get_ref()),
            "a number with k, m or g, e.g. \"512m\" or \"2g\"",
        );
    } else if !zero && digits.bytes().all(|b| b == b'0') {
        reader.error(size.span(), format!("`{key}` must be more than 0"));
    }
    text
}

/// An answer body: printable text and line breaks, at most [`LONGEST_TEXT`] bytes.
fn body(
    reader: &mut Reader<'_>,
    raw: Option<Spanned<String>>,
    key: Key<'_>,
    default: &str,
) -> String {
    let Some(raw) = raw else {
        return default.to_string();
    };
    let text = raw.get_ref();
    if text
        .chars()
        .any(|c| c.is_control() && c != '\n' && c != '\t')
    {
        reader.error(
            raw.span(),
            format!("`{key}` holds a control character; write text and line breaks"),
        );
    } else if text.len() > LONGEST_TEXT {
        reader.error(
            raw.span(),
            format!("`{key}` is longer than {LONGEST_TEXT} bytes"),
        );
    }
    raw.into_inner()
}

/// The defaults with the service's overrides (a name matches whatever its case), removals (`""`)
/// left out, and new headers after the defaults in name order.
fn headers(
    reader: &mut Reader<'_>,
    path: &str,
    raw: Option<Spanned<BTreeMap<Spanned<String>, Spanned<String>>>>,
) -> Vec<(String, String)> {
    let mut headers: Vec<(String, String)> = DEFAULT_HEADERS
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let Some(raw) = raw else {
        return headers;
    };
    for (name, value) in raw.into_inner() {
        let problem = if name.get_ref().is_empty()
            || !name
                .get_ref()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-')
        {
            Some((
                name.span(),
                format!(
                    "`{}` is not a header name (letters, digits and `-`)",
                    name.get_ref()
                ),
            ))
        } else if FRAMING_HEADERS.contains(&name.get_ref().to_ascii_lowercase().as_str()) {
            Some((
                name.span(),
                format!(
                    "`{}` frames the answer: nginx sets it, the catalog may not",
                    name.get_ref()
                ),
            ))
        } else if value.get_ref().chars().any(char::is_control) {
            Some((
                value.span(),
                format!(
                    "the value of `{}` holds a line break or control character: a header is one line",
                    name.get_ref()
                ),
            ))
        } else if value.get_ref().len() > LONGEST_TEXT {
            Some((
                value.span(),
                format!(
                    "the value of `{}` is longer than {LONGEST_TEXT} bytes",
                    name.get_ref()
                ),
            ))
        } else {
            None
        };
        if let Some((span, message)) = problem {
            reader.error(span, format!("`{path}.edge.headers`: {message}"));
            continue;
        }
        let name = name.into_inner();
        let value = value.into_inner();
        let existing = headers
            .iter()
            .position(|(known, _)| known.eq_ignore_ascii_case(&name));
        match (existing, value.is_empty()) {
            (Some(index), true) => {
                headers.remove(index);
            }
            (Some(index), false) => headers[index] = (name, value),
            (None, true) => {}
            (None, false) => headers.push((name, value)),
        }
    }
    headers
}
