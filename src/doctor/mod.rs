//! `boma doctor`: what each stage of this catalog needs, and whether it is there. The needs come
//! from the catalog alone (`plan.rs`): tools on this machine, secrets, hosts with their tools,
//! Caddy modules, the folders a push writes in and sudo commands, and API tokens. Then
//! everything is checked at once, each check bounded by one timeout: hosts (and this machine's
//! tools) through the shared host fan-out with `probe.sh`, secrets and read-only API calls each
//! on a thread (`apis.rs`). Nothing is written anywhere and no secret is shown.

mod apis;
mod plan;
mod probe;
mod report;

pub use plan::{Needs, needs};
pub use report::{Check, DoctorReport, Status};

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::stage::Context;

/// Checks everything `needs` lists, each check within `timeout`.
pub fn examine(cx: &Context<'_>, needs: &Needs, timeout: Duration) -> anyhow::Result<DoctorReport> {
    let deadline = Instant::now() + timeout;
    // The threads start first, so the APIs are asked while the hosts are probed.
    let catalog = Arc::new(cx.catalog.clone());
    let started = apis::start(&catalog, &needs.secrets, &needs.apis, &|| cx.ui.logger());
    let mut hosts = probe::run(cx, &needs.hosts, timeout)?.into_iter();
    // This machine's tools first, then the secrets, each host's checks, and the APIs: each
    // stage's rows in that order once sorted by stage.
    let mut checks = hosts.next().unwrap_or_default();
    let mut answered = started.finish(deadline, timeout);
    let api_checks = answered.split_off(needs.secrets.len());
    checks.extend(answered);
    checks.extend(hosts.flatten());
    checks.extend(api_checks);
    Ok(DoctorReport::new(checks))
}
