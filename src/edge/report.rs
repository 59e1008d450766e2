//! How an edge plan and a deploy read: file diffs against the last deployed render, the checks
//! that passed, each certificate, each app secret (by state and digest, never its value) and each
//! machine; or JSON.

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

/// An app secret on Fly.io against the catalog's value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum SecretState {
    /// Fly.io has no secret of that name.
    #[serde(rename = "missing")]
    Missing,
    /// Its value is not known to be the catalog's: no record of setting it, another value in the
    /// catalog, or another digest on Fly.io than the one recorded.
    #[serde(rename = "changed")]
    Changed,
    #[serde(rename = "unchanged")]
    Unchanged,
    /// `--check`: nothing is read from Fly.io, nor the value.
    #[serde(rename = "not read")]
    NotRead,
}

impl SecretState {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Missing => "missing",
            Self::Changed => "changed",
            Self::Unchanged => "unchanged",
            Self::NotRead => "not read",
        }
    }
}

#[derive(Debug, Clone, Serialize)]
pub struct SecretLine {
    /// The app secret's name on Fly.io (`TS_AUTHKEY`).
    pub name: String,
    /// The catalog secret its value comes from (`[secrets].NAME`).
    pub from: String,
    pub state: SecretState,
    /// The start of Fly.io's digest of its value: before the run in a plan, after it once set.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub digest: Option<String>,
    /// `set`, `unchanged` or `-` (not read) in a plan; `stored`, `unchanged`, `failed` after.
    pub action: String,
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
    /// The app secrets the catalog declares (`[edge.tailnet]`'s auth key); `None` without any.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub secrets: Option<Vec<SecretLine>>,
    pub machines: Option<Vec<MachineLine>>,
}

impl EdgeReport {
    pub fn files_pending(&self) -> usize {
        self.files
            .iter()
            .filter(|file| file.change != Change::Unchanged)
            .count()
    }

    /// The app secrets this run sets (a plan) or set (after it).
    pub fn secrets_to_set(&self) -> impl Iterator<Item = &SecretLine> {
        self.secrets
            .iter()
            .flatten()
            .filter(|secret| matches!(secret.action.as_str(), "set" | "stored"))
    }
}

/// Each app secret with its state, the start of Fly.io's digest, the action and why.
pub fn secret_table(secrets: &[SecretLine]) -> String {
    let rows: Vec<Vec<String>> = secrets
        .iter()
        .map(|secret| {
            vec![
                secret.name.clone(),
                format!("secrets.{}", secret.from),
                secret.state.as_str().to_string(),
                secret.digest.clone().unwrap_or_else(|| "-".into()),
                secret.action.clone(),
                secret.reason.as_deref().map_or_else(
                    || "-".into(),
                    |reason| reason.lines().collect::<Vec<_>>().join(" "),
                ),
            ]
        })
        .collect();
    ui::table(
        &["SECRET", "FROM", "STATE", "FLY DIGEST", "ACTION", "WHY"],
        &rows,
    )
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
        if let Some(secrets) = &self.secrets {
            text.push('\n');
            text.push_str(&secret_table(secrets));
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
            format!("{} passed", crate::ui::counted(self.checked.len(), "check"))
        }];
        // An edge render is never fewer than eight files: "files" stays plural.
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
        if let Some(secrets) = &self.secrets {
            let count = |action: &str| secrets.iter().filter(|s| s.action == action).count();
            let not_read = secrets
                .iter()
                .filter(|secret| secret.state == SecretState::NotRead)
                .count();
            let mut part = if not_read > 0 {
                format!("secrets: {not_read} not read")
            } else {
                format!(
                    "secrets: {} to set, {} stored, {} unchanged",
                    count("set"),
                    count("stored"),
                    count("unchanged")
                )
            };
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
