//! `boma doctor`: checks what each stage of the catalog needs, reports it, exits 1 when a stage
//! would fail.

use crate::Outcome;
use crate::cli::{DoctorArgs, Global};
use crate::doctor;
use crate::ui::Ui;

pub fn exec(global: &Global, args: &DoctorArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let needs = doctor::needs(&catalog, &renderer)?;
    let cx = super::host_context(&catalog, &renderer, ui, args.parallel, &args.ssh);
    let report = doctor::examine(&cx, &needs, args.timeout)?;
    ui.report(&report)?;
    Ok(if report.failing_stages().is_empty() {
        Outcome::Done
    } else {
        Outcome::ProblemFound
    })
}
