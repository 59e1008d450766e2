//! The contract every subsystem implements: a read-only `plan` of the live state, a summary, a
//! checksum of what would change, the refusals an apply respects, and an `apply` of exactly that
//! plan. `preview` and `up` run any stage the same way, so commands stay short and `boma up` can
//! compose them.

use std::cell::OnceCell;

use serde::Serialize;

use crate::Outcome;
use crate::catalog::Catalog;
use crate::hint::Hint;
use crate::remote::{self, HostPool};
use crate::render::Renderer;
use crate::ui::{Report, Ui};

/// What a plan would do, in the words every stage shares.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub create: usize,
    pub update: usize,
    pub delete: usize,
    pub unchanged: usize,
    pub conflict: usize,
    /// Parts that could not be planned (an unreachable host).
    pub failed: usize,
}

impl Summary {
    /// Whether every part failed: there is nothing planned for a checksum to cover.
    pub fn nothing_planned(&self) -> bool {
        self.failed > 0
            && self.create + self.update + self.delete + self.unchanged + self.conflict == 0
    }
}

impl std::ops::AddAssign for Summary {
    fn add_assign(&mut self, other: Self) {
        self.create += other.create;
        self.update += other.update;
        self.delete += other.delete;
        self.unchanged += other.unchanged;
        self.conflict += other.conflict;
        self.failed += other.failed;
    }
}

impl Summary {
    /// Anything to apply, or in the way of applying: what drift detection reports.
    pub fn pending(&self) -> bool {
        self.create + self.update + self.delete + self.conflict + self.failed > 0
    }
}

/// What a run of stages shares: the catalog, the template engine, the hosts (connected on first
/// use and kept for every stage of the run) and the printer.
pub struct Context<'a> {
    pub catalog: &'a Catalog,
    pub renderer: &'a Renderer,
    pub ui: &'a Ui,
    pub ssh: remote::Options,
    pub parallel: usize,
    hosts: OnceCell<HostPool>,
}

impl<'a> Context<'a> {
    pub fn new(catalog: &'a Catalog, renderer: &'a Renderer, ui: &'a Ui) -> Self {
        Self {
            catalog,
            renderer,
            ui,
            ssh: remote::Options::default(),
            parallel: 10,
            hosts: OnceCell::new(),
        }
    }

    /// The host pool, made on first use (commands that reach no host never make one).
    pub fn hosts(&self) -> anyhow::Result<&HostPool> {
        if let Some(pool) = self.hosts.get() {
            return Ok(pool);
        }
        let pool = HostPool::new(self.ssh.clone(), &self.catalog.dir, self.parallel)?;
        Ok(self.hosts.get_or_init(|| pool))
    }
}

pub trait Stage {
    /// `dns`, `caddy`: for messages.
    const NAME: &'static str;
    /// The command that shows this stage's plan, for hints.
    const PREVIEW: &'static str;
    /// Whether `up` prints the plan before applying it (DNS does; Caddy reports per host after).
    const SHOW_PLAN_BEFORE_APPLY: bool;
    /// Whether planning reaches hosts over SSH: `boma plan` plans such a stage on the run's own
    /// thread, which holds the run's one connection per host; the others plan side by side.
    const PLANS_ON_HOSTS: bool = false;
    type Plan: Report;
    type Applied: Report;

    /// Reads the live state and computes what would change. Writes nothing anywhere.
    fn plan(&mut self, cx: &Context<'_>) -> anyhow::Result<Self::Plan>;
    fn summary(plan: &Self::Plan) -> Summary;
    /// A short digest of what the plan would change, for `--checksum`.
    fn checksum(plan: &Self::Plan) -> String;
    /// Refuses a plan that must not be applied as it is (conflicts, a change limit).
    fn gate(&self, _plan: &Self::Plan) -> Result<(), Refusal> {
        Ok(())
    }
    /// Applies exactly `plan`, with progress and without printing: what it did is the report
    /// it returns, or, when it stops part-way, the `PartWay` error carrying that report.
    fn apply(&mut self, cx: &Context<'_>, plan: Self::Plan) -> anyhow::Result<Self::Applied>;
    /// How the run ends for the exit code: a failed host is a finding (exit 1).
    fn outcome(applied: &Self::Applied) -> Outcome;
}

/// Plans and prints. With `drift_is_problem`, pending changes exit 1 (cron and CI drift checks).
pub fn preview<S: Stage>(
    stage: &mut S,
    cx: &Context<'_>,
    drift_is_problem: bool,
) -> anyhow::Result<Outcome> {
    let plan = stage.plan(cx)?;
    cx.ui.report(&plan)?;
    Ok(if drift_is_problem && S::summary(&plan).pending() {
        Outcome::ProblemFound
    } else {
        Outcome::Done
    })
}

/// Plans, checks the reviewed checksum and the stage's refusals, applies, and reports.
pub fn up<S: Stage>(
    stage: &mut S,
    cx: &Context<'_>,
    reviewed: Option<&str>,
) -> anyhow::Result<Outcome> {
    let plan = stage.plan(cx)?;
    if S::SHOW_PLAN_BEFORE_APPLY {
        cx.ui.report(&plan)?;
    }
    let checksum = S::checksum(&plan);
    if let Some(reviewed) = reviewed.filter(|reviewed| **reviewed != checksum) {
        return Err(Refusal::ChecksumMismatch {
            stage: S::NAME,
            preview: S::PREVIEW,
            reviewed: reviewed.to_string(),
            now: checksum,
        }
        .into());
    }
    stage.gate(&plan)?;
    let applied = stage
        .apply(cx, plan)
        .map_err(|error| PartWay::report(cx.ui, error))?;
    cx.ui.report(&applied)?;
    Ok(S::outcome(&applied))
}

/// An apply that stopped part-way: the report of what it did before it stopped, and the error
/// that stopped it. The printer shows the report, then the error.
pub struct PartWay {
    pub done: Box<dyn Report + Send + Sync>,
    pub error: anyhow::Error,
}

impl PartWay {
    /// The error an apply returns when it stops part-way: `error`, carrying the report `done`.
    pub fn error(done: impl Report + Send + Sync + 'static, error: anyhow::Error) -> anyhow::Error {
        anyhow::Error::new(Self {
            done: Box::new(done),
            error,
        })
    }

    /// Splits an apply's error into the report of what was done (when it carries one) and the
    /// error itself.
    pub fn split(error: anyhow::Error) -> (Option<Box<dyn Report + Send + Sync>>, anyhow::Error) {
        match error.downcast::<PartWay>() {
            Ok(part_way) => (Some(part_way.done), part_way.error),
            Err(error) => (None, error),
        }
    }

    /// Prints what was done, if the error says, and returns the error for the error printer.
    fn report(ui: &Ui, error: anyhow::Error) -> anyhow::Error {
        let (done, error) = Self::split(error);
        if let Some(done) = done
            && let Err(failed) = ui.report(done.as_ref())
        {
            return anyhow::Error::new(failed).context(format!("{error:#}"));
        }
        error
    }
}

impl std::fmt::Debug for PartWay {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.error, formatter)
    }
}

impl std::fmt::Display for PartWay {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Display::fmt(&self.error, formatter)
    }
}

impl std::error::Error for PartWay {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.error.chain().nth(1)
    }
}

/// A plan that boma will not apply as it stands.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("the plan changed since it was reviewed: checksum {reviewed} expected, {now} now")]
    ChecksumMismatch {
        stage: &'static str,
        preview: &'static str,
        reviewed: String,
        now: String,
    },
    #[error(
        "{} held by records boma does not own, e.g. `{example}` {record_type}{}",
        crate::ui::counted(*count, "declared name"),
        owner.as_ref().map(|owner| format!(" (owner `{owner}`)")).unwrap_or_default()
    )]
    Conflicts {
        count: usize,
        example: String,
        record_type: String,
        /// The other catalog's owner, when the example is another catalog's record.
        owner: Option<String>,
    },
    #[error(
        "the plan updates or deletes {percent}% of the {owned} records boma owns; the limit is {limit}%"
    )]
    ChangeLimit {
        percent: u64,
        owned: usize,
        limit: u8,
    },
}

impl Hint for Refusal {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::ChecksumMismatch { preview, .. } => {
                format!("run `{preview}` again and review the new plan")
            }
            Self::Conflicts { owner: None, .. } => {
                "check them, then run again with --adopt to take them over".to_string()
            }
            Self::Conflicts {
                owner: Some(owner), ..
            } => format!(
                "records of another owner are never adopted: remove the name from the catalog of `{owner}` (its dns-up deletes them), or from this one"
            ),
            Self::ChangeLimit { .. } => {
                "review the plan, then pass --force (or raise dns.max_change_percent)".to_string()
            }
        })
    }
}

/// A 16-hex digest of `parts`, the way every stage checksums its plan.
pub fn digest<'p>(parts: impl IntoIterator<Item = &'p str>) -> String {
    use sha2::{Digest, Sha256};
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update(part.as_bytes());
        hasher.update([0]);
    }
    hex::encode(&hasher.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plan_whose_every_part_failed_has_nothing_planned() {
        let failed = Summary {
            failed: 2,
            ..Summary::default()
        };
        assert!(failed.nothing_planned());
        let some = Summary {
            unchanged: 1,
            ..failed
        };
        assert!(!some.nothing_planned());
        assert!(!Summary::default().nothing_planned());
    }
}
