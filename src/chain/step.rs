//! One stage of a run behind one interface: `Held` keeps any `Stage` with its plan between
//! `plan` and `apply`, and says how each went in the run's words (`StageState`, `Applied`).

use super::report::{Applied, Captured, Planned, StageState};
use crate::Outcome;
use crate::backup;
use crate::stage::{Context, PartWay, Refusal, Stage};
use crate::stop::Interrupted;

/// What the run asks of every stage, whatever its type.
pub trait Step: Send {
    fn name(&self) -> &'static str;
    /// Planned on the run's own thread, which holds the one connection per host.
    fn plans_on_hosts(&self) -> bool;
    /// Plans and keeps the plan for `apply`.
    fn plan(&mut self, cx: &Context<'_>) -> StageState;
    fn gate(&self) -> Result<(), Refusal>;
    /// Applies the kept plan, when it changes anything; the error that stopped it, if one did.
    fn apply(&mut self, cx: &Context<'_>) -> (Applied, Option<anyhow::Error>);
}

/// A stage and, once planned, its plan.
pub struct Held<S: Stage> {
    stage: S,
    plan: Option<S::Plan>,
}

impl<S: Stage> Held<S> {
    pub fn new(stage: S) -> Self {
        Self { stage, plan: None }
    }
}

impl<S> Step for Held<S>
where
    S: Stage + Send,
    S::Plan: Send,
{
    fn name(&self) -> &'static str {
        S::NAME
    }

    fn plans_on_hosts(&self) -> bool {
        S::PLANS_ON_HOSTS
    }

    fn plan(&mut self, cx: &Context<'_>) -> StageState {
        match self.stage.plan(cx) {
            Ok(plan) => {
                let summary = S::summary(&plan);
                // No checksum shown for a stage whose every part failed: it reviews nothing.
                let checksum = if summary.nothing_planned() {
                    String::new()
                } else {
                    S::checksum(&plan)
                };
                let planned = Planned {
                    summary,
                    checksum,
                    report: Captured::of(&plan),
                };
                self.plan = Some(plan);
                StageState::Planned(planned)
            }
            Err(error) => StageState::failed(&error),
        }
    }

    fn gate(&self) -> Result<(), Refusal> {
        self.plan
            .as_ref()
            .map_or(Ok(()), |plan| self.stage.gate(plan))
    }

    fn apply(&mut self, cx: &Context<'_>) -> (Applied, Option<anyhow::Error>) {
        let Some(plan) = self.plan.take() else {
            return (Applied::NotStarted, None);
        };
        if !S::summary(&plan).pending() {
            return (Applied::Unchanged, None);
        }
        match self.stage.apply(cx, plan) {
            Ok(applied) => {
                let applied = Applied::Done {
                    outcome: S::outcome(&applied),
                    report: Captured::of(&applied),
                };
                (applied, None)
            }
            Err(error) => {
                let (done, error) = PartWay::split(error);
                let report = done.map(|done| Captured::of(done.as_ref()));
                let message = format!("{error:#}");
                let applied = if Interrupted::in_chain(&error).is_some() {
                    Applied::Interrupted {
                        report,
                        error: message,
                    }
                } else {
                    Applied::Failed {
                        report,
                        error: message,
                    }
                };
                (applied, Some(error))
            }
        }
    }
}

/// The backup checks: findings `plan` reports (never pinging, never writing), not a stage `up`
/// applies.
pub struct Backups;

impl Step for Backups {
    fn name(&self) -> &'static str {
        "backups"
    }

    fn plans_on_hosts(&self) -> bool {
        true
    }

    fn plan(&mut self, cx: &Context<'_>) -> StageState {
        let options = backup::Options {
            services: Vec::new(),
            deep: false,
            lock_wait: std::time::Duration::from_secs(10),
            ping: false,
            prometheus: None,
            timeout: std::time::Duration::from_secs(600),
        };
        match backup::check(cx, &options) {
            Ok(report) => StageState::Planned(Planned {
                summary: crate::stage::Summary {
                    unchanged: report.findings.len() - report.failed(),
                    failed: report.failed(),
                    ..Default::default()
                },
                checksum: String::new(),
                report: Captured::of(&report),
            }),
            Err(error) => StageState::failed(&error),
        }
    }

    fn gate(&self) -> Result<(), Refusal> {
        Ok(())
    }

    fn apply(&mut self, _cx: &Context<'_>) -> (Applied, Option<anyhow::Error>) {
        (Applied::Unchanged, None)
    }
}

impl Applied {
    /// Whether the run goes on after this stage.
    pub fn goes_on(&self) -> bool {
        matches!(
            self,
            Self::Unchanged
                | Self::Done {
                    outcome: Outcome::Done,
                    ..
                }
        )
    }
}
