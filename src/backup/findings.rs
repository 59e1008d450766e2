//! From what a host's check said to one service's finding: the newest archive (borg's and
//! borgmatic's times are UTC without an offset, restic's RFC 3339 with one), its age against
//! `max_age`, and the first problem by weight.

use serde::Serialize;

use crate::catalog::{Backup, BackupTool};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Ok,
    Stale,
    MissingPath,
    CorruptDatabase,
    NoArchives,
    Locked,
    WrongPassphrase,
    NoRepository,
    ToolMissing,
    HostUnreachable,
    /// Its passphrase could not be read on this machine: the check was not run.
    SecretUnreadable,
    /// The tool's own consistency check (`--deep`) failed.
    CheckFailed,
    /// Any other failure of the tool, with its first line.
    Error,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Stale => "stale",
            Self::MissingPath => "missing path",
            Self::CorruptDatabase => "corrupt database",
            Self::NoArchives => "no archives",
            Self::Locked => "locked",
            Self::WrongPassphrase => "wrong passphrase",
            Self::NoRepository => "no repository",
            Self::ToolMissing => "tool missing",
            Self::HostUnreachable => "host unreachable",
            Self::SecretUnreadable => "secret unreadable",
            Self::CheckFailed => "check failed",
            Self::Error => "error",
        }
    }

    fn from_kind(kind: &str) -> Self {
        match kind {
            "tool-missing" => Self::ToolMissing,
            "wrong-passphrase" => Self::WrongPassphrase,
            "no-repository" => Self::NoRepository,
            "locked" => Self::Locked,
            _ => Self::Error,
        }
    }
}

/// The newest archive: its name and time (seconds since the epoch).
#[derive(Debug, Clone, PartialEq)]
pub struct Newest {
    pub name: String,
    pub time: f64,
}

/// The newest archive in a tool's JSON listing, `archive_glob` applied where the tool could not.
pub fn newest(
    tool: BackupTool,
    listing: &str,
    glob: Option<&str>,
) -> Result<Option<Newest>, String> {
    let value: serde_json::Value = serde_json::from_str(listing)
        .map_err(|error| format!("the tool's listing is not JSON: {error}"))?;
    let archives: Vec<&serde_json::Value> = match tool {
        BackupTool::Borg => value["archives"].as_array().into_iter().flatten().collect(),
        BackupTool::Borgmatic => value
            .as_array()
            .into_iter()
            .flatten()
            .flat_map(|repository| repository["archives"].as_array().into_iter().flatten())
            .collect(),
        BackupTool::Restic => value.as_array().into_iter().flatten().collect(),
    };
    let mut best: Option<Newest> = None;
    for archive in archives {
        let name = archive["name"]
            .as_str()
            .or_else(|| archive["short_id"].as_str())
            .unwrap_or_default();
        if let (BackupTool::Borgmatic, Some(glob)) = (tool, glob)
            && !glob_matches(glob, name)
        {
            continue;
        }
        let text = archive["time"].as_str().unwrap_or_default();
        let time =
            parse_time(text).ok_or_else(|| format!("cannot read the archive time `{text}`"))?;
        if best.as_ref().is_none_or(|best| time > best.time) {
            best = Some(Newest {
                name: name.to_string(),
                time,
            });
        }
    }
    Ok(best)
}

/// `2026-01-01T03:00:00.000000` (UTC) or `2026-01-01T04:00:00.123+01:00` / `...Z`, as seconds.
pub fn parse_time(text: &str) -> Option<f64> {
    let (date, time) = text.split_once(['T', ' '])?;
    let (clock, offset) = match time.find(['+', '-', 'Z']) {
        Some(at) => (&time[..at], &time[at..]),
        None => (time, ""),
    };
    let offset_seconds: i64 = match offset {
        "" | "Z" => 0,
        _ => {
            let sign = if offset.starts_with('-') { -1 } else { 1 };
            let (hours, minutes) = offset[1..].split_once(':').unwrap_or((&offset[1..], "0"));
            sign * (hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60)
        }
    };
    let (whole, fraction) = clock.split_once('.').unwrap_or((clock, "0"));
    let naive = humantime::parse_rfc3339_weak(&format!("{date}T{whole}Z")).ok()?;
    let seconds = naive.duration_since(std::time::UNIX_EPOCH).ok()?.as_secs() as i64;
    let fraction: f64 = format!("0.{fraction}").parse().unwrap_or(0.0);
    Some((seconds - offset_seconds) as f64 + fraction)
}

/// Shell-style `*` and `?` (what borg's `--glob-archives` takes for names).
pub fn glob_matches(glob: &str, name: &str) -> bool {
    fn matches(glob: &[char], name: &[char]) -> bool {
        match (glob.first(), name.first()) {
            (None, None) => true,
            (Some('*'), _) => {
                matches(&glob[1..], name) || (!name.is_empty() && matches(glob, &name[1..]))
            }
            (Some('?'), Some(_)) => matches(&glob[1..], &name[1..]),
            (Some(g), Some(n)) if g == n => matches(&glob[1..], &name[1..]),
            _ => false,
        }
    }
    let glob: Vec<char> = glob.chars().collect();
    let name: Vec<char> = name.chars().collect();
    matches(&glob, &name)
}

/// One service's finding.
#[derive(Debug, Clone, Serialize)]
pub struct Finding {
    pub service: String,
    pub tool: BackupTool,
    pub host: String,
    pub status: Status,
    /// Every problem, the first of which is `status`.
    pub reasons: Vec<String>,
    pub newest_archive: Option<String>,
    /// The newest archive's time, seconds since the epoch.
    pub newest_time: Option<f64>,
    pub age_seconds: Option<f64>,
    pub max_age_seconds: u64,
    pub duration_seconds: f64,
    /// A ping that could not be sent (a warning, not a failure).
    pub ping: Option<String>,
    /// What the operator can do about the first reason, when boma knows.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub hint: Option<String>,
}

impl Finding {
    pub fn ok(&self) -> bool {
        self.status == Status::Ok
    }
}

/// What the host said about one service (facts `SERVICE.KEY`), judged at `now`.
pub fn judge(
    service: &str,
    host: &str,
    backup: &Backup,
    facts: &dyn Fn(&str) -> Vec<String>,
    now: f64,
) -> Finding {
    let mut problems: Vec<(Status, String)> = Vec::new();
    let mut newest_found = None;
    for error in facts("error") {
        let (kind, message) = error.split_once(' ').unwrap_or((&error, ""));
        problems.push((Status::from_kind(kind), message.to_string()));
    }
    if let Some(listing) = facts("listing").first() {
        match newest(backup.tool, listing, backup.archive_glob.as_deref()) {
            Ok(Some(found)) => {
                let age = now - found.time;
                if age > backup.max_age.seconds as f64 {
                    problems.push((
                        Status::Stale,
                        format!(
                            "newest archive `{}` is {} old, more than {}",
                            found.name,
                            age_text(age),
                            backup.max_age
                        ),
                    ));
                }
                newest_found = Some(found);
            }
            Ok(None) => problems.push((
                Status::NoArchives,
                match &backup.archive_glob {
                    Some(glob) => format!("no archive matches `{glob}`"),
                    None => "the repository has no archive".to_string(),
                },
            )),
            Err(reason) => problems.push((Status::Error, reason)),
        }
    }
    for path in facts("missing") {
        problems.push((Status::MissingPath, format!("{path} does not exist")));
    }
    for path in facts("unreadable") {
        problems.push((Status::MissingPath, format!("{path} is not readable")));
    }
    for corrupt in facts("corrupt") {
        problems.push((Status::CorruptDatabase, corrupt));
    }
    for deep in facts("deep").into_iter().filter(|deep| deep != "ok") {
        problems.push((Status::CheckFailed, deep));
    }
    // The heaviest first: a tool that cannot read the repository says more than a stale archive.
    problems.sort_by_key(|(status, _)| weight(*status));
    let duration_seconds = facts("ms")
        .first()
        .and_then(|ms| ms.parse::<f64>().ok())
        .map_or(0.0, |ms| ms / 1000.0);
    Finding {
        service: service.to_string(),
        tool: backup.tool,
        host: host.to_string(),
        status: problems.first().map_or(Status::Ok, |(status, _)| *status),
        reasons: problems.into_iter().map(|(_, reason)| reason).collect(),
        newest_archive: newest_found.as_ref().map(|found| found.name.clone()),
        newest_time: newest_found.as_ref().map(|found| found.time),
        age_seconds: newest_found.as_ref().map(|found| now - found.time),
        max_age_seconds: backup.max_age.seconds,
        duration_seconds,
        ping: None,
        hint: None,
    }
}

fn weight(status: Status) -> u8 {
    match status {
        Status::SecretUnreadable => 0,
        Status::HostUnreachable => 1,
        Status::ToolMissing => 2,
        Status::NoRepository => 3,
        Status::WrongPassphrase => 4,
        Status::Locked => 5,
        Status::Error => 6,
        Status::NoArchives => 7,
        Status::Stale => 8,
        Status::CheckFailed => 9,
        Status::CorruptDatabase => 10,
        Status::MissingPath => 11,
        Status::Ok => 12,
    }
}

/// `1d 2h`, `5h 3m`, `12m`: the two largest units.
pub fn age_text(seconds: f64) -> String {
    let seconds = seconds.max(0.0) as u64;
    let parts = [
        (seconds / 86_400, "d"),
        (seconds % 86_400 / 3600, "h"),
        (seconds % 3600 / 60, "m"),
        (seconds % 60, "s"),
    ];
    let shown: Vec<String> = parts
        .iter()
        .skip_while(|(count, _)| *count == 0)
        .take(2)
        .filter(|(count, _)| *count > 0)
        .map(|(count, unit)| format!("{count}{unit}"))
        .collect();
    if shown.is_empty() {
        "0s".into()
    } else {
        shown.join(" ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn times_with_and_without_offsets() {
        assert_eq!(
            parse_time("2026-01-01T03:00:00.000000"),
            Some(1_767_236_400.0)
        );
        assert_eq!(
            parse_time("2026-01-01T04:00:00+01:00"),
            Some(1_767_236_400.0)
        );
        assert_eq!(
            parse_time("2025-12-31T22:00:00-05:00"),
            Some(1_767_236_400.0)
        );
        assert_eq!(parse_time("2026-01-01T03:00:00.5Z"), Some(1_767_236_400.5));
        assert_eq!(parse_time("yesterday"), None);
    }

    #[test]
    fn globs_and_ages() {
        assert!(glob_matches("shower-*", "shower-2026-01-01"));
        assert!(!glob_matches("shower-*", "forge-2026"));
        assert!(glob_matches("a?c", "abc"));
        assert_eq!(age_text(93_600.0 + 300.0), "1d 2h");
        assert_eq!(age_text(720.0), "12m");
    }
}
