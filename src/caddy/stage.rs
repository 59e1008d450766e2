//! The Caddy stage: each host's live Caddyfile planned against its render, then pushed.

use std::time::Duration;

use super::{plan, push, report};
use crate::Outcome;
use crate::provenance;
use crate::stage::{Context, Stage, Summary};

/// The Caddy stage, for every host that serves a site or for the named hosts.
pub struct CaddyStage {
    pub hosts: Vec<String>,
    pub diff: bool,
    pub lock_wait: Duration,
}

impl Stage for CaddyStage {
    const NAME: &'static str = "caddy";
    const PREVIEW: &'static str = "caddy-push --check";
    const SHOW_PLAN_BEFORE_APPLY: bool = false;
    const PLANS_ON_HOSTS: bool = true;
    type Plan = plan::CaddyPlan;
    type Applied = report::Pushed;

    fn plan(&mut self, cx: &Context<'_>) -> anyhow::Result<Self::Plan> {
        let targets = plan::targets(cx.catalog, cx.renderer, &self.hosts)?;
        plan::plan(cx, targets, self.diff)
    }

    fn summary(plan: &Self::Plan) -> Summary {
        plan.summary()
    }

    fn checksum(plan: &Self::Plan) -> String {
        plan.checksum.clone()
    }

    fn apply(&mut self, cx: &Context<'_>, plan: Self::Plan) -> anyhow::Result<Self::Applied> {
        let settings = push::Settings {
            lock_wait: self.lock_wait,
            operator: provenance::operator(),
            revision: provenance::catalog_revision(&cx.catalog.path),
        };
        push::apply(cx, plan, &settings)
    }

    fn outcome(applied: &Self::Applied) -> Outcome {
        if applied.hosts.iter().any(|host| host.status.is_failure()) {
            Outcome::ProblemFound
        } else {
            Outcome::Done
        }
    }
}
