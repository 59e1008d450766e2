//! How the doctor's findings read: one table `STAGE CHECK WHERE STATUS DETAIL`, sorted by stage in
//! `up`'s order, or JSON with the same keys.

use serde::{Serialize, Serializer};

use crate::cli::StageName;
use crate::ui::{self, Report};

/// How one check came out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// There, and it works.
    Ok,
    /// Not there: a tool not installed, a secret not set, a sudo command not allowed.
    Missing,
    /// There but not working: a host not answering, a token refused.
    Failed,
    /// Not checked, or not needed: an optional tool that is absent, a token whose secret is missing.
    Skipped,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Ok => "ok",
            Self::Missing => "missing",
            Self::Failed => "failed",
            Self::Skipped => "skipped",
        }
    }

    /// Whether the stage it belongs to would fail.
    pub fn fails_stage(self) -> bool {
        matches!(self, Self::Missing | Self::Failed)
    }
}

/// One row: what a stage needs, where, and whether it is there.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    #[serde(serialize_with = "stage_name")]
    pub stage: StageName,
    pub check: String,
    #[serde(rename = "where")]
    pub place: String,
    pub status: Status,
    pub detail: String,
}

fn stage_name<S: Serializer>(stage: &StageName, serializer: S) -> Result<S::Ok, S::Error> {
    serializer.serialize_str(stage.as_str())
}

impl Check {
    pub fn new(
        stage: StageName,
        check: impl Into<String>,
        place: impl Into<String>,
        status: Status,
        detail: impl Into<String>,
    ) -> Self {
        Self {
            stage,
            check: check.into(),
            place: place.into(),
            status,
            detail: detail.into(),
        }
    }
}

/// Every check, by stage.
#[derive(Debug, Serialize)]
pub struct DoctorReport {
    pub checks: Vec<Check>,
}

#[derive(Serialize)]
struct Counts {
    ok: usize,
    missing: usize,
    failed: usize,
    skipped: usize,
}

impl DoctorReport {
    /// The checks sorted by stage in `up`'s order (backups last), each stage's in the order given.
    pub fn new(mut checks: Vec<Check>) -> Self {
        checks.sort_by_key(|check| check.stage);
        Self { checks }
    }

    /// The stages that would fail as things are, in order.
    pub fn failing_stages(&self) -> Vec<StageName> {
        let mut stages: Vec<StageName> = self
            .checks
            .iter()
            .filter(|check| check.status.fails_stage())
            .map(|check| check.stage)
            .collect();
        stages.dedup();
        stages
    }

    fn counts(&self) -> Counts {
        let count = |status: Status| {
            self.checks
                .iter()
                .filter(|check| check.status == status)
                .count()
        };
        Counts {
            ok: count(Status::Ok),
            missing: count(Status::Missing),
            failed: count(Status::Failed),
            skipped: count(Status::Skipped),
        }
    }
}

impl Report for DoctorReport {
    fn text(&self) -> String {
        let rows: Vec<Vec<String>> = self
            .checks
            .iter()
            .map(|check| {
                vec![
                    check.stage.as_str().to_string(),
                    check.check.clone(),
                    check.place.clone(),
                    check.status.as_str().to_string(),
                    if check.detail.is_empty() {
                        "-".to_string()
                    } else {
                        check.detail.clone()
                    },
                ]
            })
            .collect();
        ui::table(&["STAGE", "CHECK", "WHERE", "STATUS", "DETAIL"], &rows)
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "checks": self.checks,
            "summary": self.counts(),
            "failing_stages": self
                .failing_stages()
                .iter()
                .map(|stage| stage.as_str())
                .collect::<Vec<_>>(),
        })
    }

    fn summary(&self) -> Option<String> {
        let counts = self.counts();
        let mut line = format!(
            "doctor: {}: {} ok, {} missing, {} failed, {} skipped",
            ui::counted(self.checks.len(), "check"),
            counts.ok,
            counts.missing,
            counts.failed,
            counts.skipped
        );
        let failing: Vec<&str> = self
            .failing_stages()
            .iter()
            .map(|stage| stage.as_str())
            .collect();
        if !failing.is_empty() {
            line.push_str(&format!("; would fail: {}", failing.join(", ")));
        }
        Some(line)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn checks_sort_by_stage_in_ups_order_and_failures_name_their_stages() {
        let report = DoctorReport::new(vec![
            Check::new(StageName::Backups, "borg", "nas", Status::Missing, ""),
            Check::new(StageName::Dns, "dig", "this machine", Status::Skipped, "x"),
            Check::new(StageName::Images, "git", "this machine", Status::Ok, "y"),
            Check::new(StageName::Dns, "zone", "127.0.0.1", Status::Failed, "z"),
        ]);
        let stages: Vec<&str> = report
            .checks
            .iter()
            .map(|check| check.stage.as_str())
            .collect();
        assert_eq!(stages, ["images", "dns", "dns", "backups"]);
        assert_eq!(
            report.failing_stages(),
            [StageName::Dns, StageName::Backups]
        );
        assert_eq!(
            report.text(),
            "STAGE    CHECK  WHERE         STATUS   DETAIL\n\
             images   git    this machine  ok       y\n\
             dns      dig    this machine  skipped  x\n\
             dns      zone   127.0.0.1     failed   z\n\
             backups  borg   nas           missing  -\n"
        );
        let json = report.json();
        assert_eq!(json["checks"][0]["where"], "this machine");
        assert_eq!(json["checks"][0]["stage"], "images");
        assert_eq!(json["summary"]["failed"], 1);
        assert_eq!(json["failing_stages"][1], "backups");
    }
}
