//! `boma fly-deploy`: the edge stage; `--check` previews its local plan, otherwise it is applied.

use crate::Outcome;
use crate::cli::{FlyArgs, FlyDeployArgs, Global};
use crate::edge::{Deployer, EdgeStage};
use crate::stage::{self, Context};
use crate::ui::Ui;

pub fn exec(global: &Global, args: &FlyDeployArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = Context::new(&catalog, &renderer, ui);
    let mut edge = EdgeStage::new(!args.check, deployer(&args.fly), args.fly.machine_timeout);
    if args.check {
        // Drift detection: a render that differs from the deployed one is a finding.
        stage::preview(&mut edge, &cx, true)
    } else {
        stage::up(&mut edge, &cx, args.checksum.as_deref())
    }
}

/// `--machines-api`, else `--flyctl PATH`, else flyctl (or `fly`) on PATH, else the Machines API.
pub fn deployer(args: &FlyArgs) -> Deployer {
    if args.machines_api {
        return Deployer::MachinesApi;
    }
    args.flyctl
        .clone()
        .or_else(|| which::which("flyctl").or_else(|_| which::which("fly")).ok())
        .map_or(Deployer::MachinesApi, Deployer::Flyctl)
}
