//! How an edge plan and a deploy read: file diffs against the last deployed render, the checks
//! that passed, each certificate and each machine; or JSON.

use serde::Serialize;

use crate::ui::{self, Report};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Change {
    Create,
    Update,
    Delete,
    Unchanged,
}

impl Change {
    fn as_str(self) -> &'static str {
        match self {
            Self::Create => "create",
            Self::Update => "update",
            Self::Delete => "delete",
            Self::Unchanged => "unchanged",
        }
    }
}

/// One file of `[edge].dir` against the render.
#[derive(Debug, Clone, Serialize)]
pub struct FileChange {
    pub path: String,
    pub change: Change,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub diff: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct CertificateLine {
    pub hostname: String,
    /// Fly's status (`active`, `pending_validation`, ...), or `missing`.
    pub status: String,
    /// `request`, `requested`, `present` or `failed`.
    pub action: String,
    /// What the name still needs in DNS, from Fly's answer.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub dns: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct MachineLine {
    pub id: String,
    pub name: String,
    pub region: String,
    pub state: String,
    /// The image the machine runs after the run (or would, in a plan).
    pub image: String,
    /// `update`, `unchanged` in a plan; `updated`, `unchanged`, `failed`, `not reached` after.
    pub action: String,
    /// What differs: `image` and the guest paths of edge files.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub changes: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

/// A plan or the outcome of a deploy: the same shape, so scripts read both alike.
#[derive(Debug, Clone, Serialize)]
pub struct EdgeReport {
    pub mode: &'static str,
    pub app: String,
    pub dir: String,
    /// `machines-api` or the flyctl used.
    pub deployer: String,
    pub checksum: String,
    pub checked: Vec<String>,
    /// The render is the deployed one, already checked: the checks did not run again.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub checks_skipped: bool,
    pub files: Vec<FileChange>,
    /// `None` in `--check`, which reads nothing from Fly.io.
    pub certificates: Option<Vec<CertificateLine>>,
    pub machines: Option<Vec<MachineLine>>,
}

impl EdgeReport {
    pub fn files_pending(&self) -> usize {
        self.files
            .iter()
            .filter(|file| file.change != Change::Unchanged)
            .count()
    }
}

/// Each certificate with its status, the action taken and what it still needs in DNS.
pub fn certificate_table(certificates: &[CertificateLine]) -> String {
    let rows: Vec<Vec<String>> = certificates
        .iter()
        .map(|cert| {
            // One line a row: a reason may span several (a tool's output).
            let needs = if cert.dns.is_empty() {
                cert.reason.as_deref().map_or_else(
                    || "-".into(),
                    |reason| reason.lines().collect::<Vec<_>>().join(" "),
                )
            } else {
                cert.dns.join(", ")
            };
            vec![
                cert.hostname.clone(),
                cert.status.clone(),
                cert.action.clone(),
                needs,
            ]
        })
        .collect();
    ui::table(&["CERTIFICATE", "STATUS", "ACTION", "DNS NEEDED"], &rows)
}

impl Report for EdgeReport {
    fn text(&self) -> String {
        let mut text = String::new();
        for diff in self.files.iter().filter_map(|file| file.diff.as_deref()) {
            text.push_str(diff);
        }
        let rows: Vec<Vec<String>> = self
            .files
            .iter()
            .map(|file| vec![file.path.clone(), file.change.as_str().to_string()])
            .collect();
        text.push_str(&ui::table(&["FILE", "CHANGE"], &rows));
        if let Some(certificates) = &self.certificates {
            text.push('\n');
            text.push_str(&certificate_table(certificates));
        }
        if let Some(machines) = &self.machines {
            let rows: Vec<Vec<String>> = machines
                .iter()
                .map(|machine| {
                    let why = machine
                        .reason
                        .clone()
                        .unwrap_or_else(|| machine.changes.join(", "));
                    vec![
                        machine.id.clone(),
                        machine.region.clone(),
                        machine.image.clone(),
                        machine.action.clone(),
                        if why.is_empty() { "-".into() } else { why },
                    ]
                })
                .collect();
            text.push('\n');
            text.push_str(&ui::table(
                &["MACHINE", "REGION", "IMAGE", "ACTION", "WHAT"],
                &rows,
            ));
        }
        text
    }

    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }

    fn summary(&self) -> Option<String> {
        let mut parts = vec![if self.checks_skipped {
            "the deployed render, not checked again".to_string()
        } else {
            format!("{} checks passed", self.checked.len())
        }];
        parts.push(format!(
            "{} of {} files differ",
            self.files_pending(),
            self.files.len()
        ));
        if let Some(certificates) = &self.certificates {
            let count = |action: &str| certificates.iter().filter(|c| c.action == action).count();
            let mut part = format!(
                "certificates: {} present, {} to request, {} requested",
                count("present"),
                count("request"),
                count("requested")
            );
            if count("failed") > 0 {
                part.push_str(&format!(", {} failed", count("failed")));
            }
            parts.push(part);
        }
        if let Some(machines) = &self.machines {
            let count = |action: &str| machines.iter().filter(|m| m.action == action).count();
            let mut part = format!(
                "machines: {} to update, {} updated, {} unchanged",
                count("update"),
                count("updated"),
                count("unchanged")
            );
            if count("failed") > 0 {
                part.push_str(&format!(", {} failed", count("failed")));
            }
            parts.push(part);
        }
        Some(format!(
            "fly-deploy {} ({}): {}; checksum {}",
            self.app,
            self.mode,
            parts.join(", "),
            self.checksum
        ))
    }
}
