//! `boma caddy-push`: the Caddy stage; `--check` previews its plan, otherwise it is applied.
//! `--history` lists what each host keeps and `--rollback N` puts one of those back.

use crate::Outcome;
use crate::caddy::CaddyStage;
use crate::caddy::push::{self, backups, rollback};
use crate::cli::{CaddyPushArgs, Global};
use crate::provenance;
use crate::stage;
use crate::ui::Ui;

pub fn exec(global: &Global, args: &CaddyPushArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = super::host_context(&catalog, &renderer, ui, args.parallel, &args.ssh);
    if args.history {
        let history = backups::history(&cx, &args.named_hosts())?;
        ui.report(&history)?;
        return Ok(history.outcome());
    }
    if let Some(back) = args.rollback {
        let settings = push::Settings {
            lock_wait: args.lock_wait,
            operator: provenance::operator(),
            revision: provenance::catalog_revision(&catalog.path),
        };
        let rolled_back = rollback::rollback(&cx, &args.named_hosts(), back, &settings)?;
        ui.report(&rolled_back)?;
        return rolled_back.outcome();
    }
    let mut caddy = CaddyStage {
        hosts: args.named_hosts(),
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
