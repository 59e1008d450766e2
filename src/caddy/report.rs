//! How a Caddy plan and a push read: diffs, a table a host, the details of failures; or JSON.

use std::time::Duration;

use serde::Serialize;

use super::plan::CaddyPlan;
use crate::remote::{Finished, RemoteError, Transcript};
use crate::ui::{self, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Changed,
    Unchanged,
    WouldChange,
    RolledBack,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Unchanged => "unchanged",
            Self::WouldChange => "would change",
            Self::RolledBack => "rolled back",
            Self::Failed => "failed",
        }
    }

    /// A host whose live config is not what the catalog says after the run.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::RolledBack | Self::Failed)
    }
}

/// How one host's plan or push ended.
#[derive(Debug, Clone, Serialize)]
pub struct HostReport {
    pub host: String,
    pub status: Status,
    #[serde(serialize_with = "milliseconds", rename = "duration_ms")]
    pub duration: Duration,
    pub reason: Option<String>,
    /// The script's detail lines (a validation error, a failed reload's output).
    pub details: Vec<String>,
    /// `caddy version` on the host.
    pub caddy: Option<String>,
    pub old_sha256: Option<String>,
    pub new_sha256: String,
    /// Unified diff of the live file against the rendered one (`--diff`).
    pub diff: Option<String>,
    /// The plan found another push under way: the push waits for it and compares again.
    #[serde(skip)]
    pub busy: bool,
}

fn milliseconds<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

impl HostReport {
    /// What a run of the host script said, as a report (its duration is set by the caller).
    pub fn read(
        host: &str,
        new_sha256: &str,
        transcript: &Transcript,
        finished: Result<Finished, RemoteError>,
    ) -> Self {
        let (status, reason) = match (&transcript.result, &finished) {
            (_, Err(error)) => (Status::Failed, Some(error.one_line())),
            (Some((word, reason)), Ok(_)) => {
                let reason = Some(reason.clone()).filter(|reason| !reason.is_empty());
                match word.as_str() {
                    "changed" => (Status::Changed, reason),
                    "unchanged" => (Status::Unchanged, reason),
                    "would-change" => (Status::WouldChange, reason),
                    "rolled-back" => (Status::RolledBack, reason),
                    "locked" => (
                        Status::Failed,
                        Some(format!("lock {}", reason.unwrap_or_default())),
                    ),
                    _ => (Status::Failed, reason),
                }
            }
            (None, Ok(finished)) => (Status::Failed, Some(script_died(finished))),
        };
        Self {
            host: host.to_string(),
            status,
            duration: Duration::ZERO,
            reason,
            details: transcript.details.clone(),
            caddy: transcript.fact("caddy").map(str::to_string),
            old_sha256: transcript
                .fact("live-sha256")
                .filter(|sha| *sha != "none")
                .map(str::to_string),
            new_sha256: new_sha256.to_string(),
            diff: None,
            busy: transcript.fact("busy").is_some(),
        }
    }
}

/// The script ended without a result line: the connection dropped or something killed it.
pub(super) fn script_died(finished: &Finished) -> String {
    let last = finished
        .stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .map(|line| format!(": {}", line.trim()))
        .unwrap_or_default();
    match finished.code {
        Some(code) => format!("the remote script exited with {code} before finishing{last}"),
        None => format!("the connection dropped before the push finished{last}"),
    }
}

#[derive(Debug, Default, Serialize)]
pub struct Counts {
    pub changed: usize,
    pub unchanged: usize,
    pub would_change: usize,
    pub rolled_back: usize,
    pub failed: usize,
}

pub fn counts(reports: &[HostReport]) -> Counts {
    let mut counts = Counts::default();
    for report in reports {
        *match report.status {
            Status::Changed => &mut counts.changed,
            Status::Unchanged => &mut counts.unchanged,
            Status::WouldChange => &mut counts.would_change,
            Status::RolledBack => &mut counts.rolled_back,
            Status::Failed => &mut counts.failed,
        } += 1;
    }
    counts
}

/// Diffs, then a table a host, then the details of each failure.
pub(crate) fn text(reports: &[HostReport]) -> String {
    if reports.is_empty() {
        return String::new();
    }
    let mut text = String::new();
    for diff in reports.iter().filter_map(|report| report.diff.as_deref()) {
        text.push_str(diff);
    }
    let rows: Vec<Vec<String>> = reports
        .iter()
        .map(|report| {
            vec![
                report.host.clone(),
                report.status.as_str().to_string(),
                format!("{:.2}s", report.duration.as_secs_f64()),
                report.reason.clone().unwrap_or_else(|| "-".to_string()),
            ]
        })
        .collect();
    text.push_str(&ui::table(&["HOST", "STATUS", "DURATION", "REASON"], &rows));
    for report in reports
        .iter()
        .filter(|report| report.status.is_failure() && !report.details.is_empty())
    {
        text.push_str(&format!("\n{}:\n", report.host));
        for line in &report.details {
            text.push_str(&format!("  {line}\n"));
        }
    }
    text
}

pub(crate) fn json(
    mode: &str,
    checksum: Option<&str>,
    reports: &[HostReport],
) -> serde_json::Value {
    #[derive(Serialize)]
    struct Document<'a> {
        mode: &'a str,
        #[serde(skip_serializing_if = "Option::is_none")]
        checksum: Option<&'a str>,
        hosts: &'a [HostReport],
        counts: Counts,
    }
    serde_json::to_value(Document {
        mode,
        checksum,
        hosts: reports,
        counts: counts(reports),
    })
    .unwrap_or_default()
}

/// The closing line on stderr: `caddy-push: 2 changed, 1 unchanged, 1 failed`.
fn summary_line(reports: &[HostReport]) -> String {
    if reports.is_empty() {
        return "caddy-push: no host serves a site; nothing to push".to_string();
    }
    counted("caddy-push", reports)
}

/// `COMMAND: 2 changed, 1 unchanged, 1 failed`.
pub(crate) fn counted(command: &str, reports: &[HostReport]) -> String {
    let counts = counts(reports);
    let parts: Vec<String> = [
        (counts.changed, "changed"),
        (counts.unchanged, "unchanged"),
        (counts.would_change, "would change"),
        (counts.rolled_back, "rolled back"),
        (counts.failed, "failed"),
    ]
    .iter()
    .filter(|(count, _)| *count > 0)
    .map(|(count, label)| format!("{count} {label}"))
    .collect();
    format!("{command}: {}", parts.join(", "))
}

impl Report for CaddyPlan {
    /// The checksum only when some host was planned: one that covers only failures reviews
    /// nothing that a push could apply.
    fn text(&self) -> String {
        let mut out = text(&self.hosts);
        if let Some(checksum) = self.shown_checksum() {
            out.push_str(&format!("checksum {checksum}\n"));
        }
        out
    }
    fn json(&self) -> serde_json::Value {
        json("check", self.shown_checksum(), &self.hosts)
    }
    fn summary(&self) -> Option<String> {
        Some(summary_line(&self.hosts))
    }
}

/// What a push did, host by host.
#[derive(Debug)]
pub struct Pushed {
    pub hosts: Vec<HostReport>,
}

impl Report for Pushed {
    fn text(&self) -> String {
        text(&self.hosts)
    }
    fn json(&self) -> serde_json::Value {
        json("push", None, &self.hosts)
    }
    fn summary(&self) -> Option<String> {
        Some(summary_line(&self.hosts))
    }
}
