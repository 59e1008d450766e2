//! `boma backup-check`: checks every backup (or the named services'), reports, exits 1 when any
//! is not fine.

use crate::Outcome;
use crate::backup::{self, Options};
use crate::cli::{BackupCheckArgs, Global};
use crate::ui::Ui;

pub fn exec(global: &Global, args: &BackupCheckArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = super::host_context(&catalog, &renderer, ui, args.parallel, &args.ssh);
    let report = backup::check(
        &cx,
        &Options {
            services: args.services.clone(),
            deep: args.deep,
            lock_wait: args.lock_wait,
            ping: !args.no_ping,
            prometheus: args.prometheus.clone(),
            timeout: args.timeout,
        },
    )?;
    ui.report(&report)?;
    Ok(if report.failed() > 0 {
        Outcome::ProblemFound
    } else {
        Outcome::Done
    })
}
