//! The edge's fail2ban: per service with a `ban` table a filter for its access log and a jail whose
//! action writes that service's own nginx map; plus the sample log lines each filter is checked
//! against before any deploy (it must match the failing statuses on ban paths and nothing else).

use serde::Serialize;

use super::nginx::identifier;
use super::{EdgeService, rendered};
use crate::catalog::{Ban, Edge};
use crate::render::{
    Artifact, EDGE_F2B_ACTION, EDGE_F2B_FILTER, EDGE_F2B_JAILS, EDGE_F2B_SERVER, RenderError,
    Renderer,
};

/// fail2ban's own `dbpurgeage`, the least the edge keeps bans for in its database.
const DAY: u64 = 24 * 3600;

#[derive(Serialize)]
struct Jail<'a> {
    service: &'a str,
    /// The jail's and its filter's name (see `nginx::identifier`).
    identifier: String,
    paths: &'a [String],
    statuses: &'a [u16],
    maxretry: u32,
    findtime: String,
    findtime_seconds: u64,
    bantime: String,
    bantime_seconds: u64,
}

#[derive(Serialize)]
struct Filter<'a> {
    service: &'a str,
    paths: &'a [String],
    statuses: &'a [u16],
    failregex: String,
}

/// `fail2ban/fail2ban.conf`, `fail2ban/jail.conf` (no jails is fine), the ban action and one
/// `fail2ban/filter.d/boma-SERVICE.conf` per service with a `ban` table.
pub fn files(
    edge: &Edge,
    services: &[EdgeService<'_>],
    renderer: &Renderer,
    prefix: &str,
) -> Result<Vec<Artifact>, RenderError> {
    let banned: Vec<(&str, &Ban)> = services
        .iter()
        .filter_map(|(service, table)| table.ban.as_ref().map(|ban| (service.name.as_str(), ban)))
        .collect();
    let jails: Vec<Jail<'_>> = banned
        .iter()
        .map(|(service, ban)| Jail {
            service,
            identifier: identifier(service),
            paths: &ban.paths,
            statuses: &ban.statuses,
            maxretry: ban.maxretry,
            findtime: ban.findtime.text.clone(),
            findtime_seconds: ban.findtime.seconds,
            bantime: ban.bantime.text.clone(),
            bantime_seconds: ban.bantime.seconds,
        })
        .collect();
    // Bans are restored from the database on every start: keep each for as long as it lasts.
    let dbpurgeage = jails
        .iter()
        .map(|jail| jail.bantime_seconds)
        .max()
        .unwrap_or(0)
        .max(DAY);
    let context = minijinja::context! { app => edge.name(), prefix, jails, dbpurgeage };
    let mut files = vec![
        rendered(
            renderer,
            "fail2ban/fail2ban.conf",
            EDGE_F2B_SERVER,
            &context,
        )?,
        rendered(renderer, "fail2ban/jail.conf", EDGE_F2B_JAILS, &context)?,
        rendered(
            renderer,
            "fail2ban/action.d/boma-nginx-map.conf",
            EDGE_F2B_ACTION,
            &context,
        )?,
    ];
    for (service, ban) in banned {
        let name = format!("fail2ban/filter.d/{}", filter_file(service));
        let filter = Filter {
            service,
            paths: &ban.paths,
            statuses: &ban.statuses,
            failregex: failregex(ban),
        };
        files.push(rendered(renderer, &name, EDGE_F2B_FILTER, &filter)?);
    }
    Ok(files)
}

/// The filter's file name in `filter.d/`: the name its jail's `filter` gives, spelled as the
/// edge spells identifiers, so that two services never share a filter.
pub fn filter_file(service: &str) -> String {
    format!("boma-{}.conf", identifier(service))
}

/// A line of the `boma_edge` log format for a failed request: the client first, fail2ban cuts
/// the date out (leaving `[]`), the method and normalised path, then the status.
fn failregex(ban: &Ban) -> String {
    let paths: Vec<String> = ban.paths.iter().map(|path| logged_regex(path)).collect();
    let statuses: Vec<String> = ban.statuses.iter().map(u16::to_string).collect();
    format!(
        r#"^<HOST> - - \[\] "[A-Z]+ (?:{})[^"]* HTTP/[0-9.]+" (?:{}) \d+"#,
        paths.join("|"),
        statuses.join("|")
    )
}

/// A path as nginx writes it into the log (bytes outside printable ASCII as `\xHH`), as a
/// regular expression matching exactly that text. Everything but letters, digits and `/` is
/// written as a `\xHH` escape, which also keeps fail2ban's `%` interpolation and `<tag>`s out.
fn logged_regex(path: &str) -> String {
    let mut regex = String::new();
    for byte in logged(path).bytes() {
        if byte.is_ascii_alphanumeric() || byte == b'/' {
            regex.push(char::from(byte));
        } else {
            regex.push_str(&format!("\\x{byte:02x}"));
        }
    }
    regex
}

/// What nginx's access log shows for a path (its `escape=default`: `"`, `\`, control bytes and
/// bytes from 0x7f up as `\xHH`).
fn logged(path: &str) -> String {
    let mut text = String::new();
    for byte in path.bytes() {
        if !(0x20..0x7f).contains(&byte) || byte == b'"' || byte == b'\\' {
            text.push_str(&format!("\\x{byte:02X}"));
        } else {
            text.push(char::from(byte));
        }
    }
    text
}

/// One generated log line and whether the service's filter must count it as a failure.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub line: String,
    pub fails: bool,
}

/// Lines the filter must match (every failing status on every ban path, bare and with more path
/// after it) and lines it must not (a successful status there, the failing statuses on a path the
/// ban does not name, a failure written into the user agent). Each line has its own client
/// address, so which lines matched can be read back from fail2ban-regex.
pub fn samples(ban: &Ban) -> Vec<Sample> {
    const AGENT: &str = "curl/8.0";
    let passing: Vec<u16> = [200u16, 302]
        .into_iter()
        .filter(|status| !ban.statuses.contains(status))
        .collect();
    let mut requests: Vec<(String, u16, String, bool)> = Vec::new();
    let mut push = |path: String, status: u16, agent: &str, fails: bool| {
        requests.push((path, status, agent.to_string(), fails));
    };
    for path in &ban.paths {
        for status in &ban.statuses {
            push(path.clone(), *status, AGENT, true);
            push(format!("{path}x/y"), *status, AGENT, true);
        }
        for status in &passing {
            push(path.clone(), *status, AGENT, false);
        }
        for status in &ban.statuses {
            push(format!("/boma-not-banned{path}"), *status, AGENT, false);
        }
        if let Some(shorter) = path.strip_suffix('/').filter(|shorter| !shorter.is_empty()) {
            let sibling = format!("{shorter}-other/");
            let covered = ban
                .paths
                .iter()
                .any(|path| sibling.starts_with(path.as_str()));
            if let (false, Some(status)) = (covered, ban.statuses.first()) {
                push(sibling, *status, AGENT, false);
            }
        }
    }
    if let (Some(path), Some(status), Some(ok)) =
        (ban.paths.first(), ban.statuses.first(), passing.first())
    {
        // A client that writes a failing request line into its user agent is not a failure.
        let forged = format!("x\" \"POST {} HTTP/1.1\" {status} 0 \"", logged(path));
        push("/".into(), *ok, &forged, false);
    }
    requests
        .into_iter()
        .enumerate()
        .map(|(index, (path, status, agent, fails))| Sample {
            line: format!(
                "{} - - [23/Nov/2026:10:00:00 +0000] \"POST {} HTTP/1.1\" {status} 12 \"-\" \"{agent}\"",
                client(index),
                logged(&path),
            ),
            fails,
        })
        .collect()
}

/// A distinct documentation-range address for the sample line at `index`.
pub fn client(index: usize) -> String {
    format!(
        "10.{}.{}.{}",
        (index >> 16) & 0xff,
        (index >> 8) & 0xff,
        index & 0xff
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::catalog::Duration;

    fn ban(paths: &[&str], statuses: &[u16]) -> Ban {
        let minutes = Duration::try_from("10m".to_string()).unwrap_or_else(|e| panic!("{e}"));
        Ban {
            body: "Forbidden.".into(),
            paths: paths.iter().map(|path| path.to_string()).collect(),
            statuses: statuses.to_vec(),
            maxretry: 5,
            findtime: minutes.clone(),
            bantime: minutes,
        }
    }

    #[test]
    fn paths_become_escaped_literals() {
        let regex = failregex(&ban(&["/admin/login/", "/a.b%<c>/ä"], &[401, 429]));
        assert_eq!(
            regex,
            r#"^<HOST> - - \[\] "[A-Z]+ (?:/admin/login/|/a\x2eb\x25\x3cc\x3e/\x5cxC3\x5cxA4)[^"]* HTTP/[0-9.]+" (?:401|429) \d+"#
        );
    }

    #[test]
    fn samples_cover_both_sides_with_distinct_clients() {
        let lines = samples(&ban(&["/admin/login/"], &[401, 403, 429]));
        assert_eq!(lines.iter().filter(|sample| sample.fails).count(), 6);
        assert!(lines.iter().filter(|sample| !sample.fails).count() >= 6);
        let mut clients: Vec<&str> = lines
            .iter()
            .map(|sample| sample.line.split(' ').next().unwrap_or_default())
            .collect();
        clients.dedup();
        assert_eq!(clients.len(), lines.len());
        assert!(lines.iter().any(|sample| {
            !sample.fails
                && sample
                    .line
                    .contains("\"x\" \"POST /admin/login/ HTTP/1.1\" 401 0 \"\"")
        }));
    }
}
