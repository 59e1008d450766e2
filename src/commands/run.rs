//! `boma plan` and `boma up`: every stage of the catalog, planned side by side with one
//! checksum, and applied in order.

use crate::Outcome;
use crate::chain::{self, Options};
use crate::cli::{Global, PlanArgs, RunArgs, UpArgs};
use crate::stage::Context;
use crate::ui::Ui;

pub fn plan(global: &Global, args: &PlanArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = context(&catalog, &renderer, ui, &args.run);
    let mut options = options(&args.run);
    options.diff = true;
    options.findings = true;
    let plan = chain::plan(&cx, &options)?;
    ui.report(&plan)?;
    plan.outcome(args.exit_code)
}

pub fn up(global: &Global, args: &UpArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = context(&catalog, &renderer, ui, &args.run);
    let mut options = options(&args.run);
    options.force = args.force;
    options.lock_wait = args.lock_wait;
    let plan = chain::plan(&cx, &options)?;
    let (report, outcome) = chain::up(&cx, plan, args.checksum.as_deref());
    ui.report(&report)?;
    outcome
}

fn context<'a>(
    catalog: &'a crate::catalog::Catalog,
    renderer: &'a crate::render::Renderer,
    ui: &'a Ui,
    run: &RunArgs,
) -> Context<'a> {
    super::host_context(catalog, renderer, ui, run.parallel, &run.ssh)
}

fn options(run: &RunArgs) -> Options {
    Options {
        only: run.only.clone(),
        skip: run.skip.clone(),
        adopt: run.adopt,
        force: false,
        allow_dirty: run.allow_dirty,
        tool: super::container_build::tool(run.tool.as_deref()),
        storage: run.storage.clone(),
        diff: false,
        lock_wait: std::time::Duration::from_secs(30),
        deployer: super::fly_deploy::deployer(&run.fly),
        machine_timeout: run.fly.machine_timeout,
        findings: false,
    }
}
