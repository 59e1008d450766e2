//! `boma edge-push`: the edge on its host as a stage; `--check` previews its plan, otherwise it
//! is applied.

use crate::Outcome;
use crate::cli::{EdgePushArgs, Global};
use crate::edge::EdgeHostStage;
use crate::stage;
use crate::ui::Ui;

pub fn exec(global: &Global, args: &EdgePushArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = super::host_context(&catalog, &renderer, ui, 1, &args.ssh);
    let mut edge = EdgeHostStage {
        diff: args.diff,
        lock_wait: args.lock_wait,
    };
    if args.check {
        stage::preview(&mut edge, &cx, true)
    } else {
        stage::up(&mut edge, &cx, args.checksum.as_deref())
    }
}
