//! How a `caddy-push` run reads: diffs, a table a host, the details of failures; or JSON.

use serde::Serialize;

use super::push::{HostReport, Mode, Status};
use crate::ui;

#[derive(Debug, Serialize)]
pub struct Summary<'a> {
    pub mode: &'static str,
    pub hosts: &'a [HostReport],
    pub counts: Counts,
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

pub fn json(mode: Mode, reports: &[HostReport]) -> Summary<'_> {
    Summary {
        mode: match mode {
            Mode::Push => "push",
            Mode::Check => "check",
        },
        hosts: reports,
        counts: counts(reports),
    }
}

pub fn text(reports: &[HostReport]) -> String {
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

/// The closing line on stderr: `2 changed, 1 unchanged, 1 failed`.
pub fn summary_line(reports: &[HostReport]) -> String {
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
    format!("caddy-push: {}", parts.join(", "))
}
