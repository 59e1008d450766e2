//! How a backup check reads: one row a service (tool, host, newest archive, age, status,
//! reason), ping warnings after; or JSON.

use serde::Serialize;

use super::Finding;
use super::findings::age_text;
use crate::ui::{self, Report};

#[derive(Debug, Serialize)]
pub struct BackupReport {
    pub findings: Vec<Finding>,
}

impl BackupReport {
    pub fn failed(&self) -> usize {
        self.findings.iter().filter(|finding| !finding.ok()).count()
    }
}

impl Report for BackupReport {
    fn text(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .findings
            .iter()
            .map(|finding| {
                let tool = serde_json::to_value(finding.tool)
                    .ok()
                    .and_then(|tool| tool.as_str().map(str::to_string))
                    .unwrap_or_default();
                vec![
                    finding.service.clone(),
                    tool,
                    finding.host.clone(),
                    finding.newest_archive.clone().unwrap_or_else(|| "-".into()),
                    finding.age_seconds.map_or_else(|| "-".into(), age_text),
                    finding.status.as_str().to_string(),
                    finding
                        .reasons
                        .first()
                        .cloned()
                        .unwrap_or_else(|| "-".into()),
                ]
            })
            .collect();
        let mut text = ui::table(
            &[
                "SERVICE",
                "TOOL",
                "HOST",
                "NEWEST ARCHIVE",
                "AGE",
                "STATUS",
                "REASON",
            ],
            &rows,
        );
        for finding in &self.findings {
            for reason in finding.reasons.iter().skip(1) {
                text.push_str(&format!("{}: also {reason}\n", finding.service));
            }
            if let Some(hint) = &finding.hint {
                text.push_str(&format!("{}: hint: {hint}\n", finding.service));
            }
            if let Some(ping) = &finding.ping {
                text.push_str(&format!("{}: warning: {ping}\n", finding.service));
            }
        }
        text
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn summary(&self) -> Option<String> {
        let failed = self.failed();
        let warnings = self
            .findings
            .iter()
            .filter(|finding| finding.ping.is_some())
            .count();
        let warned = if warnings > 0 {
            format!(", {}", ui::counted(warnings, "ping warning"))
        } else {
            String::new()
        };
        Some(format!(
            "backup-check: {} ok, {failed} not{warned}",
            self.findings.len() - failed
        ))
    }
}
