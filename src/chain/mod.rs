//! `boma plan` and `boma up`: every stage the catalog has, planned side by side, reviewed once
//! with one checksum, and applied in the one order that is safe (images, Caddy, the edge, DNS,
//! then certificates). The set of stages is closed: `step` makes each from its name with one
//! `match`, and everything after that runs any stage the same way through `Step`.

mod report;
mod step;

pub use report::{Applied, Planned, RunPlan, RunReport, Section, StageState};

use std::time::Duration;

use step::{Held, Step};

use crate::Outcome;
use crate::caddy::{self, CaddyStage};
use crate::catalog::Catalog;
use crate::cli::StageName;
use crate::dns::DnsStage;
use crate::edge::{self, CertificatesStage, Deployer, EdgeHostStage, EdgeStage};
use crate::images::{self, ImagesStage};
use crate::stage::{Context, Refusal, digest};
use crate::stop::{self, Interrupted};

/// The stages `up` applies, in its order. Backups are checks, not a stage: `plan` reports them.
pub const ORDER: [StageName; 5] = [
    StageName::Images,
    StageName::Caddy,
    StageName::Edge,
    StageName::Dns,
    StageName::Certificates,
];

/// What the command line chose for the stages.
pub struct Options {
    pub only: Vec<StageName>,
    pub skip: Vec<StageName>,
    pub adopt: bool,
    pub force: bool,
    pub allow_dirty: bool,
    /// The images stage's `--tool` and `--storage`.
    pub tool: Option<crate::catalog::BuildTool>,
    pub storage: Option<std::path::PathBuf>,
    /// Caddy plans send the live files back for a diff (`plan` shows them; `up` needs no diff).
    pub diff: bool,
    pub lock_wait: Duration,
    pub deployer: Deployer,
    pub machine_timeout: Duration,
    /// Check the backups too (`plan`; `up` never applies them).
    pub findings: bool,
}

impl StageName {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Images => "images",
            Self::Caddy => "caddy",
            Self::Edge => "edge",
            Self::Dns => "dns",
            Self::Certificates => "certificates",
            Self::Backups => "backups",
        }
    }

    /// Why the catalog gives this stage nothing to do, when it gives it nothing.
    fn absent(self, catalog: &Catalog) -> Option<&'static str> {
        let on_host = catalog
            .edge
            .as_ref()
            .is_some_and(|edge| edge.on_host().is_some());
        let present = match self {
            Self::Images => images::declared(catalog),
            Self::Caddy => caddy::serves_sites(catalog),
            Self::Edge => catalog.edge.is_some(),
            Self::Dns => catalog.dns.is_some(),
            // Fly.io's certificates, for the public names its edge serves.
            Self::Certificates => !on_host && !edge::services(catalog).is_empty(),
            Self::Backups => catalog
                .services
                .values()
                .any(|service| service.backup.is_some()),
        };
        (!present).then_some(match self {
            Self::Images => "the catalog declares no image",
            Self::Caddy => "no host serves a site",
            Self::Edge => "the catalog has no [edge]",
            Self::Dns => "the catalog has no [dns]",
            Self::Certificates if on_host => "the edge's host gets them from its Caddy",
            Self::Certificates => "no public name goes through the edge",
            Self::Backups => "no service has a backup",
        })
    }
}

impl Options {
    /// Why `--only` or `--skip` leave this stage out, when they do.
    fn left_out(&self, name: StageName) -> Option<&'static str> {
        if self.skip.contains(&name) {
            Some("--skip")
        } else if !self.only.is_empty() && !self.only.contains(&name) {
            Some("not in --only")
        } else {
            None
        }
    }

    /// The one place a stage is made from its name (and, for the edge, where it runs).
    fn step(&self, name: StageName, catalog: &Catalog) -> Box<dyn Step> {
        let on_host = catalog
            .edge
            .as_ref()
            .is_some_and(|edge| edge.on_host().is_some());
        match name {
            StageName::Images => Box::new(Held::new(ImagesStage {
                options: images::Options {
                    // `up` builds what the registry lacks and pins the rest: a second run is a no-op.
                    missing_only: true,
                    allow_dirty: self.allow_dirty,
                    push: true,
                    tool: self.tool,
                    storage: self.storage.clone(),
                    ..images::Options::default()
                },
            })),
            StageName::Caddy => Box::new(Held::new(CaddyStage {
                hosts: Vec::new(),
                diff: self.diff,
                lock_wait: self.lock_wait,
            })),
            StageName::Edge if on_host => Box::new(Held::new(EdgeHostStage {
                diff: self.diff,
                lock_wait: self.lock_wait,
            })),
            StageName::Edge => {
                let mut edge = EdgeStage::new(true, self.deployer.clone(), self.machine_timeout);
                edge.certificates = false;
                edge.recheck_deployed = false;
                Box::new(Held::new(edge))
            }
            StageName::Dns => Box::new(Held::new(DnsStage::new(
                self.adopt, false, self.force, None,
            ))),
            StageName::Certificates => {
                Box::new(Held::new(CertificatesStage::new(self.deployer.clone())))
            }
            StageName::Backups => Box::new(step::Backups),
        }
    }
}

/// Plans every stage the catalog has and the options keep (and the backup checks, when asked):
/// stages that reach hosts on this thread (which holds the run's one connection per host), the
/// others side by side in threads.
/// A stage that cannot be planned is reported in its section; the others are still planned.
pub fn plan(cx: &Context<'_>, options: &Options) -> Result<RunPlan, Interrupted> {
    let mut sections: Vec<Section> = Vec::new();
    let mut steps: Vec<(usize, Box<dyn Step>)> = Vec::new();
    let findings = options.findings.then_some(StageName::Backups);
    for name in ORDER.into_iter().chain(findings) {
        let state = match (options.left_out(name), name.absent(cx.catalog)) {
            (Some(why), _) | (None, Some(why)) => StageState::Skipped(why.to_string()),
            (None, None) => {
                steps.push((sections.len(), options.step(name, cx.catalog)));
                StageState::NotStarted
            }
        };
        sections.push(Section { name, state });
    }
    let (on_hosts, elsewhere): (Vec<_>, Vec<_>) = steps
        .iter_mut()
        .partition(|(_, step)| step.plans_on_hosts());
    let planned: Vec<(usize, StageState)> = std::thread::scope(|scope| {
        let threads: Vec<_> = elsewhere
            .into_iter()
            .map(|(index, step)| {
                let (catalog, renderer, ui) = (cx.catalog, cx.renderer, cx.ui);
                let thread = scope.spawn(move || {
                    let own = Context::new(catalog, renderer, ui);
                    step.plan(&own)
                });
                (*index, thread)
            })
            .collect();
        let mut planned: Vec<(usize, StageState)> = on_hosts
            .into_iter()
            .map(|(index, step)| (*index, step.plan(cx)))
            .collect();
        for (index, thread) in threads {
            // A thread that panicked is a stage without a plan, said as such.
            let state = thread
                .join()
                .unwrap_or_else(|_| StageState::Failed("its planning thread stopped".into()));
            planned.push((index, state));
        }
        planned
    });
    for (index, state) in planned {
        if let Some(section) = sections.get_mut(index) {
            section.state = state;
        }
    }
    stop::check("while planning")?;
    let checksum = digest(sections.iter().flat_map(|section| match &section.state {
        StageState::Planned(planned) if section.name != StageName::Backups => {
            vec![section.name.as_str(), planned.checksum.as_str()]
        }
        _ => Vec::new(),
    }));
    Ok(RunPlan {
        sections,
        checksum,
        steps,
    })
}

/// Applies a plan: refuses unless every stage was planned whole and `reviewed` (when given) is
/// its checksum, runs every stage's gate before anything is applied, then applies the stages in
/// order and stops at the first that fails. Stages with nothing to change are not applied. The
/// report says what each stage did; the error is the one that stopped the run.
pub fn up(
    cx: &Context<'_>,
    plan: RunPlan,
    reviewed: Option<&str>,
) -> (RunReport, anyhow::Result<Outcome>) {
    let mut report = RunReport::new(plan);
    if let Err(refusal) = refuse(&report.plan, reviewed) {
        return (report, Err(refusal));
    }
    let mut steps = std::mem::take(&mut report.plan.steps);
    for (index, step) in &mut steps {
        let name = report.plan.sections[*index].name;
        if name == StageName::Backups {
            continue;
        }
        // A stage that reaches nothing outside (a zone file) would not notice a stop itself.
        if let Err(stopped) = stop::check("before the next stage") {
            return (report, Err(stopped.into()));
        }
        let (applied, error) = step.apply(cx);
        let goes_on = applied.goes_on();
        report.record(name, applied);
        if let Some(error) = error {
            let error = error.context(format!("the {} stage stopped", name.as_str()));
            return (report, Err(error));
        }
        if !goes_on {
            break;
        }
    }
    let outcome = report.outcome();
    (report, Ok(outcome))
}

/// Why a plan must not be applied at all: a stage not planned whole, a checksum other than the
/// reviewed one, or a stage's gate.
fn refuse(plan: &RunPlan, reviewed: Option<&str>) -> anyhow::Result<()> {
    if let Some(unplanned) = plan.sections.iter().find(|section| section.unplanned()) {
        anyhow::bail!(
            "the {} stage could not be planned whole; nothing was applied",
            unplanned.name.as_str()
        );
    }
    if let Some(reviewed) = reviewed.filter(|reviewed| **reviewed != plan.checksum) {
        return Err(Refusal::ChecksumMismatch {
            stage: "run",
            preview: "boma plan",
            reviewed: reviewed.to_string(),
            now: plan.checksum.clone(),
        }
        .into());
    }
    for (_, step) in &plan.steps {
        step.gate().map_err(|refusal| {
            anyhow::Error::new(refusal).context(format!(
                "the {} stage refuses its plan; nothing was applied",
                step.name()
            ))
        })?;
    }
    Ok(())
}
