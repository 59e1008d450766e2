//! Putting back what a push replaced: `--rollback N` installs each host's backup number N (as
//! `--history` numbers them) in one round trip of `push.sh` in `rollback` mode: lock, pick,
//! validate, keep the live file as a backup too, install, reload (or put the live file back),
//! audit. Since the file replaced is kept, `--rollback` after a rollback undoes it.

use std::time::Instant;

use serde::Serialize;

use super::Settings;
use super::backups::{ended, failure, failure_details, kept_at, live_sha, short};
use crate::Outcome;
use crate::caddy::plan::{self, Target};
use crate::hint::Hint;
use crate::remote::{self, Finished, RemoteError, Transcript};
use crate::stage::Context;
use crate::ui::{self, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    RolledBack,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::RolledBack => "rolled back",
            Self::Failed => "failed",
        }
    }
}

/// How many Caddyfiles a host keeps, when fewer than the rollback asked for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TooFew {
    pub kept: usize,
    /// Those that differ from the live file, i.e. that a rollback can put back.
    pub unlike_live: usize,
}

/// How one host's rollback ended.
#[derive(Debug, Serialize)]
pub struct HostRollback {
    pub host: String,
    pub status: Status,
    pub duration_ms: u64,
    pub reason: Option<String>,
    /// The script's detail lines (a validation error, a failed reload's output).
    pub details: Vec<String>,
    /// The live file's sha256 before the rollback (`None`: there was none, or it was not read).
    pub from_sha256: Option<String>,
    /// The backup put back (or that was to be).
    pub to_sha256: Option<String>,
    pub to_backup: Option<String>,
    pub to_time: Option<String>,
    /// How many backups the host keeps, when too few for the rollback asked.
    pub backups_kept: Option<usize>,
    pub backups_unlike_live: Option<usize>,
    #[serde(skip)]
    pub too_few: Option<TooFew>,
}

/// `caddy-push --rollback N`: what every chosen host did.
#[derive(Debug)]
pub struct RolledBack {
    pub back: u16,
    pub hosts: Vec<HostRollback>,
}

impl RolledBack {
    /// Done; a failed host is a finding (exit 1), as in a push; a host keeping fewer backups
    /// than asked for is an error (exit 2): there was nothing to put back.
    pub fn outcome(&self) -> anyhow::Result<Outcome> {
        let short: Vec<(String, TooFew)> = self
            .hosts
            .iter()
            .filter_map(|host| host.too_few.map(|too_few| (host.host.clone(), too_few)))
            .collect();
        if !short.is_empty() {
            return Err(RollbackError::TooFewBackups {
                back: self.back,
                hosts: short,
            }
            .into());
        }
        Ok(
            if self.hosts.iter().any(|host| host.status == Status::Failed) {
                Outcome::ProblemFound
            } else {
                Outcome::Done
            },
        )
    }
}

#[derive(Debug, thiserror::Error)]
pub enum RollbackError {
    #[error("{}", too_few_message(*.back, .hosts))]
    TooFewBackups {
        back: u16,
        /// Each host that keeps too few, with what it keeps.
        hosts: Vec<(String, TooFew)>,
    },
}

impl Hint for RollbackError {
    fn hint(&self) -> Option<String> {
        match self {
            Self::TooFewBackups { .. } => Some(
                "`boma caddy-push --history` lists what each host keeps and the N that puts each back"
                    .to_string(),
            ),
        }
    }
}

fn too_few_message(back: u16, hosts: &[(String, TooFew)]) -> String {
    match hosts {
        [(host, too_few)] => format!(
            "host `{host}` {}, too few for `--rollback {back}`; its live Caddyfile is untouched",
            keeps(*too_few)
        ),
        _ => {
            let each: Vec<String> = hosts
                .iter()
                .map(|(host, too_few)| format!("`{host}` {}", keeps(*too_few)))
                .collect();
            format!(
                "{} keep too few backups for `--rollback {back}` ({}); their live Caddyfiles are untouched",
                crate::ui::counted(hosts.len(), "host"),
                each.join(", ")
            )
        }
    }
}

/// `keeps 3 backups (2 unlike the live file)`.
fn keeps(too_few: TooFew) -> String {
    let TooFew { kept, unlike_live } = too_few;
    match kept {
        0 => "keeps no backup".to_string(),
        _ if unlike_live == kept => format!("keeps {}", crate::ui::counted(kept, "backup")),
        _ => format!(
            "keeps {} ({unlike_live} unlike the live file)",
            crate::ui::counted(kept, "backup")
        ),
    }
}

/// Puts back each chosen host's backup number `back`, `cx.parallel` hosts at a time.
pub fn rollback(
    cx: &Context<'_>,
    named: &[String],
    back: u16,
    settings: &Settings,
) -> anyhow::Result<RolledBack> {
    let targets = plan::targets(cx.catalog, cx.renderer, named)?;
    let hosts = if targets.is_empty() {
        Vec::new()
    } else {
        cx.hosts()?.run(
            cx.ui,
            &targets,
            |target| &target.host,
            async |target, connection, step| {
                let started = Instant::now();
                let script = plan::settings(target, "rollback")
                    .set("back", back)
                    .set("lock_wait", settings.lock_wait.as_secs())
                    .set("holder", &settings.operator)
                    .set("revision", &settings.revision);
                let (transcript, finished) = remote::converse(connection, &script, b"", step).await;
                let mut report = read_rollback(target, back, &transcript, finished);
                report.duration_ms =
                    u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX);
                report
            },
        )?
    };
    Ok(RolledBack { back, hosts })
}

fn read_rollback(
    target: &Target,
    back: u16,
    transcript: &Transcript,
    finished: Result<Finished, RemoteError>,
) -> HostRollback {
    let too_few = transcript.fact("kept").and_then(|kept| {
        let (kept, unlike_live) = kept.split_once(' ')?;
        Some(TooFew {
            kept: kept.parse().ok()?,
            unlike_live: unlike_live.parse().ok()?,
        })
    });
    let (status, reason, too_few) = match ended(transcript, finished) {
        Ok((word, _)) if word == "rolled-back" => (Status::RolledBack, None, None),
        Ok((word, _)) if word == "no-backup" => {
            let too_few = too_few.unwrap_or(TooFew {
                kept: 0,
                unlike_live: 0,
            });
            let reason = format!("{}, too few for --rollback {back}", keeps(too_few));
            (Status::Failed, Some(reason), Some(too_few))
        }
        Ok((word, reason)) => (Status::Failed, Some(failure(&word, reason)), None),
        Err(reason) => (Status::Failed, Some(reason), None),
    };
    let to_backup = transcript.fact("to-backup").map(str::to_string);
    HostRollback {
        host: target.host.name.clone(),
        status,
        duration_ms: 0,
        reason,
        details: transcript.details.clone(),
        from_sha256: live_sha(transcript),
        to_sha256: transcript.fact("to-sha256").map(str::to_string),
        to_time: to_backup.as_deref().and_then(kept_at),
        to_backup,
        backups_kept: too_few.map(|too_few| too_few.kept),
        backups_unlike_live: too_few.map(|too_few| too_few.unlike_live),
        too_few,
    }
}

#[derive(Debug, Default, Serialize)]
struct Counts {
    rolled_back: usize,
    failed: usize,
}

impl RolledBack {
    fn counts(&self) -> Counts {
        let mut counts = Counts::default();
        for host in &self.hosts {
            match host.status {
                Status::RolledBack => counts.rolled_back += 1,
                Status::Failed => counts.failed += 1,
            }
        }
        counts
    }
}

impl Report for RolledBack {
    /// A table a host (from which file to which backup), then the details of each failure.
    fn text(&self) -> String {
        if self.hosts.is_empty() {
            return String::new();
        }
        let rows: Vec<Vec<String>> = self
            .hosts
            .iter()
            .map(|host| {
                vec![
                    host.host.clone(),
                    host.status.as_str().to_string(),
                    match (&host.from_sha256, host.status) {
                        (None, Status::RolledBack) => "none".to_string(),
                        (from, _) => short(from.as_deref()),
                    },
                    short(host.to_sha256.as_deref()),
                    host.to_time.clone().unwrap_or_else(|| "-".to_string()),
                    format!("{:.2}s", host.duration_ms as f64 / 1000.0),
                    host.reason.clone().unwrap_or_else(|| "-".to_string()),
                ]
            })
            .collect();
        let mut text = ui::table(
            &[
                "HOST", "STATUS", "FROM", "TO", "KEPT AT", "DURATION", "REASON",
            ],
            &rows,
        );
        text.push_str(&failure_details(
            self.hosts
                .iter()
                .filter(|host| host.status == Status::Failed)
                .map(|host| (host.host.as_str(), host.details.as_slice())),
        ));
        text
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "mode": "rollback",
            "rollback": self.back,
            "hosts": self.hosts,
            "counts": self.counts(),
        })
    }

    /// `caddy-push --rollback 1: 1 rolled back, 1 failed`.
    fn summary(&self) -> Option<String> {
        if self.hosts.is_empty() {
            return Some(
                "caddy-push --rollback: no host serves a site; nothing to roll back".to_string(),
            );
        }
        let counts = self.counts();
        let parts: Vec<String> = [
            (counts.rolled_back, "rolled back"),
            (counts.failed, "failed"),
        ]
        .iter()
        .filter(|(count, _)| *count > 0)
        .map(|(count, label)| format!("{count} {label}"))
        .collect();
        Some(format!(
            "caddy-push --rollback {}: {}",
            self.back,
            parts.join(", ")
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn too_few_backups_name_each_host_and_what_it_keeps() {
        let one = |kept, unlike_live| TooFew { kept, unlike_live };
        assert_eq!(
            too_few_message(2, &[("h1".to_string(), one(1, 1))]),
            "host `h1` keeps 1 backup, too few for `--rollback 2`; its live Caddyfile is untouched"
        );
        assert_eq!(
            too_few_message(
                3,
                &[("h1".to_string(), one(3, 2)), ("h2".to_string(), one(0, 0))]
            ),
            "2 hosts keep too few backups for `--rollback 3` (`h1` keeps 3 backups (2 unlike the live file), `h2` keeps no backup); their live Caddyfiles are untouched"
        );
    }
}
