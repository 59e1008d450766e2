//! `boma caddy-push`: the Caddy stage; `--check` previews its plan, otherwise it is applied.

use crate::Outcome;
use crate::caddy::CaddyStage;
use crate::cli::{CaddyPushArgs, Global};
use crate::stage;
use crate::ui::Ui;

pub fn exec(global: &Global, args: &CaddyPushArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = super::host_context(&catalog, &renderer, ui, args.parallel, &args.ssh);
    let mut caddy = CaddyStage {
        hosts: args.hosts.clone(),
        diff: args.diff,
        lock_wait: args.lock_wait,
    };
    if args.check {
        // Drift detection: a host that would change (or cannot be read) is a finding.
        stage::preview(&mut caddy, &cx, true)
    } else {
        stage::up(&mut caddy, &cx, args.checksum.as_deref())
    }
}
