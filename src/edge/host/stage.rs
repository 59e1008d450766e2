//! The edge on a host as a stage: its live files planned against the render, then pushed in one
//! round trip (`push.sh` in `push` mode). A plan that found them unchanged or could not reach
//! the host is reported as it is.

use std::time::Duration;

use super::plan::{self, EdgeHostPlan, settings};
use super::report::EdgePushed;
use crate::Outcome;
use crate::caddy::report::Status;
use crate::provenance;
use crate::stage::{Context, Stage, Summary};

pub struct EdgeHostStage {
    pub diff: bool,
    pub lock_wait: Duration,
}

impl Stage for EdgeHostStage {
    const NAME: &'static str = "edge";
    const PREVIEW: &'static str = "edge-push --check";
    const SHOW_PLAN_BEFORE_APPLY: bool = false;
    const PLANS_ON_HOSTS: bool = true;
    type Plan = EdgeHostPlan;
    type Applied = EdgePushed;

    fn plan(&mut self, cx: &Context<'_>) -> anyhow::Result<EdgeHostPlan> {
        let target = super::target(cx.catalog, cx.renderer)?;
        plan::plan(cx, target, self.diff)
    }

    fn summary(plan: &EdgeHostPlan) -> Summary {
        plan.summary()
    }

    fn checksum(plan: &EdgeHostPlan) -> String {
        plan.checksum.clone()
    }

    fn apply(&mut self, cx: &Context<'_>, plan: EdgeHostPlan) -> anyhow::Result<EdgePushed> {
        if plan.host.status != Status::WouldChange {
            return Ok(EdgePushed { host: plan.host });
        }
        let target = &plan.target;
        let planned = &plan.host;
        let script = settings(target, "push")
            .set("want_diff", 0)
            .set("lock_wait", self.lock_wait.as_secs())
            .set("holder", provenance::operator())
            .set("revision", provenance::catalog_revision(&cx.catalog.path))
            .set(
                "planned",
                match (planned.busy, planned.old_sha256.as_deref()) {
                    (true, _) => "any",
                    (false, old) => old.unwrap_or("none"),
                },
            );
        let input: String = target
            .bundle
            .files
            .iter()
            .map(|(path, content)| {
                use base64::Engine;
                format!(
                    "{path} {}\n",
                    base64::engine::general_purpose::STANDARD.encode(content)
                )
            })
            .collect();
        let (mut host, _) = plan::run_once(cx, target, &script, input.as_bytes())?;
        host.diff = planned
            .diff
            .clone()
            .filter(|_| host.status != Status::Unchanged);
        Ok(EdgePushed { host })
    }

    fn outcome(applied: &EdgePushed) -> Outcome {
        if applied.host.status.is_failure() {
            Outcome::ProblemFound
        } else {
            Outcome::Done
        }
    }
}
