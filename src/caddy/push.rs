//! Applying a Caddy plan: each host that would change gets its new Caddyfile in one round trip
//! (`push.sh` in `push` mode: lock, check the live file is still what the plan saw, stage,
//! validate, back up, install, reload, roll back, audit). Hosts the plan found unchanged or could
//! not reach are reported as the plan found them.

use std::time::{Duration, Instant};

use super::plan::{CaddyPlan, Target, settings};
use super::report::{HostReport, Pushed, Status};
use crate::remote;
use crate::stage::Context;

/// A lock older than this is taken over, whoever holds it.
pub const LOCK_STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// What every host's push shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub lock_wait: Duration,
    /// `user@machine`, for the lock holder and the audit line.
    pub operator: String,
    pub revision: String,
}

pub fn apply(cx: &Context<'_>, plan: CaddyPlan, settings: &Settings) -> anyhow::Result<Pushed> {
    let changing: Vec<(&Target, &HostReport)> = plan
        .targets
        .iter()
        .zip(&plan.hosts)
        .filter(|(_, planned)| planned.status == Status::WouldChange)
        .collect();
    let mut pushed = if changing.is_empty() {
        Vec::new()
    } else {
        cx.hosts()?.run(
            cx.ui,
            &changing,
            |(target, _)| &target.host,
            async |&(target, planned), connection, step| {
                let started = Instant::now();
                let script = settings_for(target, planned, settings);
                let (transcript, finished) =
                    remote::converse(connection, &script, target.content.as_bytes(), step).await;
                let mut report =
                    HostReport::read(&target.host.name, &target.sha256, &transcript, finished);
                report.duration = started.elapsed();
                report.diff = planned
                    .diff
                    .clone()
                    .filter(|_| report.status != Status::Unchanged);
                if report.caddy.is_none() {
                    report.caddy = planned.caddy.clone();
                }
                report
            },
        )?
    };
    let mut hosts = Vec::with_capacity(plan.hosts.len());
    for planned in plan.hosts {
        match pushed.iter().position(|report| report.host == planned.host) {
            Some(index) => hosts.push(pushed.swap_remove(index)),
            None => hosts.push(planned),
        }
    }
    Ok(Pushed { hosts })
}

fn settings_for(target: &Target, planned: &HostReport, push: &Settings) -> remote::HostScript {
    settings(target, "push")
        .set("want_diff", 0)
        .set("lock_wait", push.lock_wait.as_secs())
        .set("holder", &push.operator)
        .set("revision", &push.revision)
        .set(
            "planned",
            match (planned.busy, planned.old_sha256.as_deref()) {
                (true, _) => "any",
                (false, old) => old.unwrap_or("none"),
            },
        )
}
