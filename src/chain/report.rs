//! How a run reads: a section per stage in the stage's own words, a total line and the run's
//! checksum (`boma plan`); then, after `up`, what each stage did. Text, JSON or Markdown.

use serde_json::{Value, json};

use super::step::Step;
use crate::Outcome;
use crate::cli::StageName;
use crate::stage::Summary;
use crate::ui::{self, Report};

/// A stage's report, rendered once in every form the printer may ask for.
#[derive(Debug, Clone)]
pub struct Captured {
    pub text: String,
    pub json: Value,
    pub markdown: String,
    /// The stage's closing line (its counts and checksum).
    pub line: Option<String>,
}

impl Captured {
    pub fn of(report: &dyn Report) -> Self {
        Self {
            text: report.text(),
            json: report.json(),
            markdown: report.markdown(),
            line: report.summary(),
        }
    }
}

/// A stage's plan as the run shows it.
#[derive(Debug, Clone)]
pub struct Planned {
    pub summary: Summary,
    pub checksum: String,
    pub report: Captured,
}

/// Where a stage stands after planning.
#[derive(Debug, Clone)]
pub enum StageState {
    /// Left out: the catalog has nothing for it, or `--only`/`--skip` said so.
    Skipped(String),
    /// To be planned (only until the plans are in).
    NotStarted,
    Planned(Planned),
    /// Could not be planned: why, on one line.
    Failed(String),
}

impl StageState {
    pub fn failed(error: &anyhow::Error) -> Self {
        Self::Failed(format!("{error:#}"))
    }
}

/// One stage of the run.
#[derive(Debug, Clone)]
pub struct Section {
    pub name: StageName,
    pub state: StageState,
}

impl Section {
    /// A stage that `up` must not start from: not planned, or planned with parts that could not
    /// be read (an unreachable host). Backup findings never stop `up`.
    pub fn unplanned(&self) -> bool {
        self.name != StageName::Backups
            && match &self.state {
                StageState::Failed(_) => true,
                StageState::Planned(planned) => planned.summary.failed > 0,
                StageState::Skipped(_) | StageState::NotStarted => false,
            }
    }

    fn planned(&self) -> Option<&Planned> {
        match &self.state {
            StageState::Planned(planned) => Some(planned),
            _ => None,
        }
    }
}

/// Every stage planned: what `boma plan` prints and `boma up` applies.
pub struct RunPlan {
    pub sections: Vec<Section>,
    pub checksum: String,
    /// The planned stages with their plans, and the index of each one's section.
    pub(super) steps: Vec<(usize, Box<dyn Step>)>,
}

impl RunPlan {
    /// The stages' summaries added up (backup findings apart).
    pub fn total(&self) -> Summary {
        let mut total = Summary::default();
        for planned in self
            .sections
            .iter()
            .filter(|section| section.name != StageName::Backups)
            .filter_map(Section::planned)
        {
            total += planned.summary;
        }
        total
    }

    /// The backup findings that are not fine.
    pub fn failed_findings(&self) -> usize {
        self.sections
            .iter()
            .filter(|section| section.name == StageName::Backups)
            .filter_map(Section::planned)
            .map(|planned| planned.summary.failed)
            .sum()
    }

    /// How `boma plan` ends: 2 when a stage could not be planned, 1 when a stage had parts it
    /// could not read or (with `--exit-code`) anything would change or a finding fails.
    pub fn outcome(&self, exit_code: bool) -> anyhow::Result<Outcome> {
        let failed: Vec<&str> = self
            .sections
            .iter()
            .filter(|section| matches!(section.state, StageState::Failed(_)))
            .map(|section| section.name.as_str())
            .collect();
        if !failed.is_empty() {
            anyhow::bail!(
                "{} could not be planned (see {})",
                failed.join(", "),
                if failed.len() == 1 {
                    "its section"
                } else {
                    "their sections"
                }
            );
        }
        let total = self.total();
        let drift = exit_code && (total.pending() || self.failed_findings() > 0);
        Ok(if total.failed > 0 || drift {
            Outcome::ProblemFound
        } else {
            Outcome::Done
        })
    }

    fn total_line(&self) -> String {
        let total = self.total();
        let mut line = format!(
            "total: {} to create, {} to update, {} to delete, {} unchanged, {}",
            total.create,
            total.update,
            total.delete,
            total.unchanged,
            ui::counted(total.conflict, "conflict")
        );
        if total.failed > 0 {
            line.push_str(&format!(", {} could not be read", total.failed));
        }
        let stages = |wanted: fn(&StageState) -> bool| {
            self.sections
                .iter()
                .filter(|section| wanted(&section.state))
                .count()
        };
        line.push_str(&format!(
            "; {} planned, {} skipped, {} failed",
            ui::counted(
                stages(|state| matches!(state, StageState::Planned(_))),
                "stage"
            ),
            stages(|state| matches!(state, StageState::Skipped(_))),
            stages(|state| matches!(state, StageState::Failed(_))),
        ));
        if let Some(section) = self
            .sections
            .iter()
            .find(|section| section.name == StageName::Backups)
            .filter(|section| section.planned().is_some())
        {
            let failed = section
                .planned()
                .map_or(0, |planned| planned.summary.failed);
            line.push_str(&format!("; backups: {failed} not fine"));
        }
        line
    }
}

fn summary_json(summary: &Summary) -> Value {
    serde_json::to_value(summary).unwrap_or_default()
}

fn section_text(section: &Section) -> String {
    let name = section.name.as_str();
    match &section.state {
        StageState::Skipped(why) => format!("== {name}: skipped ({why}) ==\n"),
        StageState::NotStarted => format!("== {name}: not planned ==\n"),
        StageState::Failed(why) => format!("== {name}: cannot be planned ==\n{why}\n"),
        StageState::Planned(planned) => {
            let mut text = format!("== {name} ==\n{}", planned.report.text);
            if !text.ends_with('\n') {
                text.push('\n');
            }
            if let Some(line) = &planned.report.line {
                text.push_str(line);
                text.push('\n');
            }
            text
        }
    }
}

fn section_json(section: &Section) -> Value {
    let name = section.name.as_str();
    match &section.state {
        StageState::Skipped(why) => json!({"name": name, "state": "skipped", "reason": why}),
        StageState::NotStarted => json!({"name": name, "state": "not-planned"}),
        StageState::Failed(why) => json!({"name": name, "state": "failed", "error": why}),
        StageState::Planned(planned) => json!({
            "name": name,
            "state": "planned",
            "checksum": planned.checksum,
            "summary": summary_json(&planned.summary),
            "plan": planned.report.json,
        }),
    }
}

/// Secrets are masked before the cell rewrites the text: a newline made a space no longer
/// matches the secret it was part of.
fn markdown_cell(text: &str) -> String {
    crate::secret::redact(text)
        .replace('|', "\\|")
        .replace('\n', " ")
}

impl Report for RunPlan {
    fn text(&self) -> String {
        let mut text = String::new();
        for section in &self.sections {
            text.push_str(&section_text(section));
            text.push('\n');
        }
        text.push_str(&self.total_line());
        text.push_str(&format!("\nchecksum {}\n", self.checksum));
        text
    }

    fn json(&self) -> Value {
        let (findings, stages): (Vec<&Section>, Vec<&Section>) = self
            .sections
            .iter()
            .partition(|section| section.name == StageName::Backups);
        let findings: Vec<Value> = findings
            .iter()
            .filter_map(|section| section.planned())
            .flat_map(|planned| {
                planned.report.json["findings"]
                    .as_array()
                    .cloned()
                    .unwrap_or_default()
            })
            .collect();
        json!({
            "checksum": self.checksum,
            "summary": summary_json(&self.total()),
            "stages": stages.iter().map(|section| section_json(section)).collect::<Vec<_>>(),
            "findings": findings,
        })
    }

    fn markdown(&self) -> String {
        let mut out = format!("## boma plan · checksum `{}`\n\n", self.checksum);
        out.push_str(
            "| stage | create | update | delete | unchanged | conflicts | failed | checksum |\n",
        );
        out.push_str("| --- | --: | --: | --: | --: | --: | --: | --- |\n");
        for section in &self.sections {
            let name = section.name.as_str();
            match &section.state {
                StageState::Planned(planned) => {
                    let sum = planned.summary;
                    let checksum = if planned.checksum.is_empty() {
                        "-".to_string()
                    } else {
                        format!("`{}`", planned.checksum)
                    };
                    out.push_str(&format!(
                        "| {name} | {} | {} | {} | {} | {} | {} | {checksum} |\n",
                        sum.create, sum.update, sum.delete, sum.unchanged, sum.conflict, sum.failed
                    ));
                }
                StageState::Skipped(why) => {
                    out.push_str(&format!(
                        "| {name} | skipped: {} |||||||\n",
                        markdown_cell(why)
                    ));
                }
                StageState::Failed(why) => {
                    out.push_str(&format!(
                        "| {name} | **cannot be planned**: {} |||||||\n",
                        markdown_cell(why)
                    ));
                }
                StageState::NotStarted => {
                    out.push_str(&format!("| {name} | not planned |||||||\n"));
                }
            }
        }
        out.push_str(&format!("\n**{}**\n", self.total_line()));
        for section in &self.sections {
            let Some(planned) = section.planned() else {
                continue;
            };
            let name = section.name.as_str();
            // The stage's closing line names the folded text; DNS prints its summary in the text.
            let line = planned
                .report
                .line
                .clone()
                .filter(|line| !line.is_empty())
                .unwrap_or_else(|| format!("the {name} plan as text"));
            out.push_str(&format!("\n### {name}\n\n"));
            if planned.report.markdown != planned.report.text {
                // The stage has a Markdown form of its own (DNS: a table of changes).
                out.push_str(&planned.report.markdown);
                out.push('\n');
            }
            let fence = if planned.report.text.contains("```") {
                "````"
            } else {
                "```"
            };
            out.push_str(&format!(
                "<details><summary>{}</summary>\n\n{fence}\n{}{fence}\n\n</details>\n",
                markdown_cell(&line),
                planned.report.text
            ));
        }
        out
    }
}

/// What applying one stage came to.
pub enum Applied {
    /// Nothing to change: not applied.
    Unchanged,
    Done {
        outcome: Outcome,
        report: Captured,
    },
    /// Stopped by an error (on one line), with what it did before, when it says.
    Failed {
        report: Option<Captured>,
        error: String,
    },
    /// Stopped by Ctrl-C.
    Interrupted {
        report: Option<Captured>,
        error: String,
    },
    NotStarted,
}

impl Applied {
    fn word(&self) -> &'static str {
        match self {
            Self::Unchanged => "unchanged",
            Self::Done {
                outcome: Outcome::Done,
                ..
            } => "applied",
            Self::Done { .. } => "failed",
            Self::Failed { .. } => "failed",
            Self::Interrupted { .. } => "interrupted",
            Self::NotStarted => "not started",
        }
    }

    fn report(&self) -> Option<&Captured> {
        match self {
            Self::Done { report, .. } => Some(report),
            Self::Failed { report, .. } | Self::Interrupted { report, .. } => report.as_ref(),
            Self::Unchanged | Self::NotStarted => None,
        }
    }
}

/// `boma up`: the plan, then what each stage did, in order.
pub struct RunReport {
    pub plan: RunPlan,
    pub applied: Vec<(StageName, Applied)>,
}

impl RunReport {
    pub fn new(plan: RunPlan) -> Self {
        let applied = plan
            .sections
            .iter()
            .filter(|section| section.name != StageName::Backups)
            .filter(|section| matches!(section.state, StageState::Planned(_)))
            .map(|section| (section.name, Applied::NotStarted))
            .collect();
        Self { plan, applied }
    }

    pub fn record(&mut self, name: StageName, result: Applied) {
        if let Some(slot) = self.applied.iter_mut().find(|(known, _)| *known == name) {
            slot.1 = result;
        }
    }

    /// How `up` ends when no stage failed: 1 when a stage applied with a failed part (a host, a
    /// certificate), else 0.
    pub fn outcome(&self) -> Outcome {
        let problem = self.applied.iter().any(|(_, applied)| {
            matches!(
                applied,
                Applied::Done {
                    outcome: Outcome::ProblemFound,
                    ..
                }
            )
        });
        if problem {
            Outcome::ProblemFound
        } else {
            Outcome::Done
        }
    }

    fn rows(&self) -> Vec<Vec<String>> {
        self.applied
            .iter()
            .map(|(name, applied)| {
                let what = match applied {
                    Applied::Failed { error, .. } | Applied::Interrupted { error, .. } => {
                        error.clone()
                    }
                    // A line a zone (or host group): all of them, on the table's one line.
                    _ => applied
                        .report()
                        .and_then(|report| report.line.as_deref())
                        .map_or_else(
                            || "-".to_string(),
                            |line| line.lines().collect::<Vec<_>>().join("; "),
                        ),
                };
                vec![name.as_str().to_string(), applied.word().to_string(), what]
            })
            .collect()
    }
}

impl Report for RunReport {
    fn text(&self) -> String {
        let mut text = self.plan.text();
        for (name, applied) in &self.applied {
            if let Some(report) = applied.report() {
                text.push_str(&format!(
                    "\n== {}: {} ==\n{}",
                    name.as_str(),
                    applied.word(),
                    report.text
                ));
                if let Some(line) = &report.line {
                    text.push_str(line);
                    text.push('\n');
                }
            }
        }
        text.push('\n');
        text.push_str(&ui::table(&["STAGE", "RESULT", "WHAT"], &self.rows()));
        text
    }

    fn json(&self) -> Value {
        let mut document = self.plan.json();
        let applied: Vec<Value> = self
            .applied
            .iter()
            .map(|(name, applied)| {
                let mut entry = json!({"name": name.as_str(), "result": applied.word()});
                if let Some(report) = applied.report() {
                    entry["applied"] = report.json.clone();
                }
                if let Applied::Failed { error, .. } | Applied::Interrupted { error, .. } = applied
                {
                    entry["error"] = json!(error);
                }
                entry
            })
            .collect();
        document["applied"] = Value::Array(applied);
        document
    }

    fn summary(&self) -> Option<String> {
        let count = |word: &str| {
            self.applied
                .iter()
                .filter(|(_, applied)| applied.word() == word)
                .count()
        };
        Some(format!(
            "up: {} applied, {} unchanged, {} failed, {} interrupted, {} not started; checksum {}",
            count("applied"),
            count("unchanged"),
            count("failed"),
            count("interrupted"),
            count("not started"),
            self.plan.checksum
        ))
    }
}
