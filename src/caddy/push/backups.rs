//! The Caddyfiles a push keeps on each host, listed (`--history`, read-only) in one round trip a
//! host of `push.sh` in `history` mode: newest first, numbered as `--rollback N` counts them (a
//! copy of the live file gets no number: putting it back would change nothing).

use serde::Serialize;

use crate::Outcome;
use crate::caddy::plan::{self, Target};
use crate::caddy::report::script_died;
use crate::remote::{self, Finished, RemoteError, Transcript};
use crate::stage::Context;
use crate::ui::{self, Report};

/// One Caddyfile a host keeps, as `--history` lists it.
#[derive(Debug, Clone, Serialize)]
pub struct Backup {
    /// The N of `--rollback N` that puts it back; `None` for a copy of the live file.
    pub rollback: Option<u32>,
    /// The file's name in the host's state folder: `BASE.SEQUENCE.TIME.SHA`.
    pub name: String,
    /// When it was kept (the UTC time it stopped being live), read from its name.
    pub time: Option<String>,
    pub bytes: u64,
    pub sha256: String,
    /// Whether it is the same file as the live one.
    pub live: bool,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Listing {
    Listed,
    Failed,
}

/// What one host keeps.
#[derive(Debug, Serialize)]
pub struct HostHistory {
    pub host: String,
    pub status: Listing,
    pub reason: Option<String>,
    pub details: Vec<String>,
    pub live_sha256: Option<String>,
    /// Newest first.
    pub backups: Vec<Backup>,
}

/// `caddy-push --history`: every chosen host's backups.
#[derive(Debug)]
pub struct History {
    pub hosts: Vec<HostHistory>,
}

impl History {
    /// A host that could not be read is a finding, as in a push.
    pub fn outcome(&self) -> Outcome {
        if self.hosts.iter().any(|host| host.status == Listing::Failed) {
            Outcome::ProblemFound
        } else {
            Outcome::Done
        }
    }
}

/// Lists each chosen host's backups, `cx.parallel` hosts at a time; changes nothing anywhere.
pub fn history(cx: &Context<'_>, named: &[String]) -> anyhow::Result<History> {
    let targets = plan::targets(cx.catalog, cx.renderer, named)?;
    let hosts = if targets.is_empty() {
        Vec::new()
    } else {
        cx.hosts()?.run(
            cx.ui,
            &targets,
            |target| &target.host,
            async |target, connection, step| {
                let script = plan::settings(target, "history");
                let (transcript, finished) = remote::converse(connection, &script, b"", step).await;
                read_history(target, &transcript, finished)
            },
        )?
    };
    Ok(History { hosts })
}

/// The status word and reason of a run, or why it has none; `Ok` holds the script's own.
pub(super) fn ended(
    transcript: &Transcript,
    finished: Result<Finished, RemoteError>,
) -> Result<(String, Option<String>), String> {
    match (&transcript.result, finished) {
        (_, Err(error)) => Err(error.one_line()),
        (Some((word, reason)), Ok(_)) => Ok((
            word.clone(),
            Some(reason.clone()).filter(|reason| !reason.is_empty()),
        )),
        (None, Ok(finished)) => Err(script_died(&finished)),
    }
}

/// The live file's sha256, when there is one.
pub(super) fn live_sha(transcript: &Transcript) -> Option<String> {
    transcript
        .fact("live-sha256")
        .filter(|sha| *sha != "none")
        .map(str::to_string)
}

fn read_history(
    target: &Target,
    transcript: &Transcript,
    finished: Result<Finished, RemoteError>,
) -> HostHistory {
    let (status, reason) = match ended(transcript, finished) {
        Ok((word, _)) if word == "listed" => (Listing::Listed, None),
        Ok((word, reason)) => (Listing::Failed, Some(failure(&word, reason))),
        Err(reason) => (Listing::Failed, Some(reason)),
    };
    HostHistory {
        host: target.host.name.clone(),
        status,
        reason,
        details: transcript.details.clone(),
        live_sha256: live_sha(transcript),
        backups: transcript
            .facts_all("backup")
            .into_iter()
            .filter_map(parse_backup)
            .collect(),
    }
}

/// A failure's reason: the script's own, or what its status word says.
pub(super) fn failure(word: &str, reason: Option<String>) -> String {
    match (word, reason) {
        ("locked", reason) => format!("lock {}", reason.unwrap_or_default()),
        (_, Some(reason)) => reason,
        (word, None) => format!("the host script ended with `{word}`"),
    }
}

/// A `backup N|- BYTES SHA256 NAME` fact.
fn parse_backup(fact: &str) -> Option<Backup> {
    let mut words = fact.splitn(4, ' ');
    let number = words.next()?;
    let bytes = words.next()?.parse().ok()?;
    let sha256 = words.next()?.to_string();
    let name = words.next()?.to_string();
    Some(Backup {
        rollback: number.parse().ok(),
        live: number == "-",
        time: kept_at(&name),
        name,
        bytes,
        sha256,
    })
}

/// The time in a backup's name, `BASE[.SEQUENCE].2025-06-01T10:00:00Z.SHA`.
pub(super) fn kept_at(name: &str) -> Option<String> {
    let mut parts = name.rsplitn(3, '.');
    let _sha = parts.next()?;
    let time = parts.next()?;
    let looks_like_time = time.len() == 20
        && time.ends_with('Z')
        && time.as_bytes().get(10) == Some(&b'T')
        && time
            .bytes()
            .all(|b| b.is_ascii_digit() || b"-:TZ".contains(&b));
    looks_like_time.then(|| time.to_string())
}

/// The first 12 hex digits, as backup names carry them; `-` for none.
pub(super) fn short(sha: Option<&str>) -> String {
    sha.map_or_else(|| "-".to_string(), |sha| sha.chars().take(12).collect())
}

/// Each failed host's detail lines, after a table.
pub(super) fn failure_details<'a>(failed: impl Iterator<Item = (&'a str, &'a [String])>) -> String {
    let mut text = String::new();
    for (host, details) in failed.filter(|(_, details)| !details.is_empty()) {
        text.push_str(&format!("\n{host}:\n"));
        for line in details {
            text.push_str(&format!("  {line}\n"));
        }
    }
    text
}

impl Report for History {
    /// One row a backup, newest first, with the N that puts it back; a row for a host that
    /// keeps none or could not be read.
    fn text(&self) -> String {
        if self.hosts.is_empty() {
            return String::new();
        }
        let mut rows = Vec::new();
        for host in &self.hosts {
            let note = match (host.status, &host.reason) {
                (Listing::Failed, reason) => {
                    Some(format!("failed: {}", reason.as_deref().unwrap_or("-")))
                }
                (Listing::Listed, _) if host.backups.is_empty() => Some("no backup".to_string()),
                _ => None,
            };
            if let Some(note) = note {
                rows.push(vec![
                    host.host.clone(),
                    "-".to_string(),
                    "-".to_string(),
                    "-".to_string(),
                    "-".to_string(),
                    note,
                ]);
            }
            for backup in &host.backups {
                rows.push(vec![
                    host.host.clone(),
                    backup
                        .rollback
                        .map_or_else(|| "-".to_string(), |n| n.to_string()),
                    backup.time.clone().unwrap_or_else(|| "-".to_string()),
                    backup.bytes.to_string(),
                    short(Some(&backup.sha256)),
                    if backup.live { "live" } else { "-" }.to_string(),
                ]);
            }
        }
        let mut text = ui::table(&["HOST", "N", "KEPT AT", "BYTES", "SHA256", "NOTE"], &rows);
        text.push_str(&failure_details(
            self.hosts
                .iter()
                .filter(|host| host.status == Listing::Failed)
                .map(|host| (host.host.as_str(), host.details.as_slice())),
        ));
        text
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({ "mode": "history", "hosts": self.hosts })
    }

    /// `caddy-push --history: 6 backups on 2 hosts, 1 failed`.
    fn summary(&self) -> Option<String> {
        if self.hosts.is_empty() {
            return Some("caddy-push --history: no host serves a site".to_string());
        }
        let backups: usize = self.hosts.iter().map(|host| host.backups.len()).sum();
        let failed = self
            .hosts
            .iter()
            .filter(|host| host.status == Listing::Failed)
            .count();
        let mut line = format!(
            "caddy-push --history: {} on {}",
            crate::ui::counted(backups, "backup"),
            crate::ui::counted(self.hosts.len(), "host")
        );
        if failed > 0 {
            line.push_str(&format!(", {failed} failed"));
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;
    use crate::remote::HostScript;

    #[test]
    fn backup_facts_are_read_with_their_time_and_number() {
        let backup = parse_backup(
            "2 312 0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef Caddyfile.100004.2025-06-01T10:00:00Z.0123456789ab",
        );
        let backup = backup.unwrap_or_else(|| panic!("not read"));
        assert_eq!(backup.rollback, Some(2));
        assert!(!backup.live);
        assert_eq!(backup.bytes, 312);
        assert_eq!(backup.time.as_deref(), Some("2025-06-01T10:00:00Z"));
        let live = parse_backup("- 1 aa Caddy file.2024-01-01T00:00:00Z.aa");
        assert_eq!(
            live.map(|live| (live.rollback, live.live)),
            Some((None, true))
        );
        assert_eq!(kept_at("Caddyfile.bak"), None);
    }

    /// `push.sh` in `mode` on this machine, for the live file `live` with state under `state`.
    fn run(mode: &str, live: &Path, state: &Path, back: u16) -> std::io::Result<Transcript> {
        let script = HostScript::new(crate::caddy::SCRIPT)
            .set("mode", mode)
            .set("live", live.display())
            .set("state_key", "key")
            .set("use_sudo", 0)
            .set("expected", "none")
            .set("required", "")
            .set("reload", "true")
            .set("stale_after", 900)
            .set("lock_wait", 0)
            .set("holder", "test@machine")
            .set("revision", "none")
            .set("back", back);
        let output = std::process::Command::new("sh")
            .args(["-c", &script.text()])
            .env("XDG_STATE_HOME", state)
            .stdin(std::process::Stdio::null())
            .output()?;
        let mut transcript = script.transcript();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            transcript.take(line);
        }
        Ok(transcript)
    }

    /// Numbering skips copies of the live file, and a host without backups makes no state folder.
    #[test]
    fn history_numbers_backups_newest_first_skipping_the_live_file() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let live = dir.path().join("Caddyfile");
        std::fs::write(&live, "b\n")?;
        let state = dir.path().join("state");
        let empty = run("history", &live, &state, 0)?;
        assert_eq!(empty.result, Some(("listed".to_string(), String::new())));
        assert!(empty.facts_all("backup").is_empty());
        let rollback = run("rollback", &live, &state, 1)?;
        assert_eq!(rollback.fact("kept"), Some("0 0"));
        assert!(!state.exists(), "neither makes a state folder");

        let backups = state.join("boma/caddy/files/key/backups");
        std::fs::create_dir_all(&backups)?;
        for (sequence, content) in [(100001, "a\n"), (100002, "b\n"), (100003, "c\n")] {
            std::fs::write(
                backups.join(format!(
                    "Caddyfile.{sequence}.2025-06-01T10:00:0{}Z.x",
                    sequence % 10
                )),
                content,
            )?;
        }
        // A name from before backups were numbered is the oldest.
        std::fs::write(backups.join("Caddyfile.2024-01-01T00:00:00Z.x"), "old\n")?;
        let listed = run("history", &live, &state, 0)?;
        let numbers: Vec<(Option<u32>, Option<String>)> = listed
            .facts_all("backup")
            .into_iter()
            .filter_map(parse_backup)
            .map(|backup| (backup.rollback, backup.time))
            .collect();
        let at = |time: &str| Some(time.to_string());
        assert_eq!(
            numbers,
            [
                (Some(1), at("2025-06-01T10:00:03Z")),
                (None, at("2025-06-01T10:00:02Z")),
                (Some(2), at("2025-06-01T10:00:01Z")),
                (Some(3), at("2024-01-01T00:00:00Z")),
            ]
        );
        let short = run("rollback", &live, &state, 4)?;
        assert_eq!(short.fact("kept"), Some("4 3"));
        assert_eq!(std::fs::read_to_string(&live)?, "b\n");
        assert!(!state.join("boma/caddy/files/key/lock").exists());
        Ok(())
    }
}
