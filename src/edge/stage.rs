//! The edge as a stage. The plan renders, runs every check with the real tools, compares the
//! render with the last deployed one in `[edge].dir`, and (unless `--check`) reads the app's
//! certificates, secrets and machines. The apply requests the missing certificates, sets the app
//! secrets that differ (a machine takes a secret when it restarts, so every machine is then
//! rolled), rolls the machines that differ one at a time (or runs `flyctl deploy`), and only then
//! keeps the render in `[edge].dir` as the deployed one, with the record of the secrets set.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context as _;
use serde_json::Value;

use super::certificates;
use super::deployed::{compare, keep};
use super::flyctl::Flyctl;
use super::machines::{self, Machine, Machines};
use super::report::{Change, EdgeReport, MachineLine, SecretState};
use super::secrets::{self, Record, Wanted};
use super::{EdgeError, PREFIX, guest_path, validate};
use crate::Outcome;
use crate::catalog::{Catalog, Edge};
use crate::stage::{Context, PartWay, Stage, Summary, digest};
use crate::ui::Report;

/// Who rolls the machines out.
#[derive(Debug, Clone)]
pub enum Deployer {
    MachinesApi,
    Flyctl(PathBuf),
}

impl Deployer {
    /// flyctl with the app and its token, when it deploys.
    pub(super) fn flyctl(&self, catalog: &Catalog, edge: &Edge) -> anyhow::Result<Option<Flyctl>> {
        Ok(match self {
            Self::Flyctl(path) => Some(Flyctl {
                path: path.clone(),
                app: edge.name().to_string(),
                token: token(catalog, edge)?,
            }),
            Self::MachinesApi => None,
        })
    }
}

pub struct EdgeStage {
    /// Read the app's certificates and machines (everything but `--check`).
    pub remote: bool,
    /// Read and request the certificates of the public names too (`fly-deploy`); `boma up`
    /// leaves them to the certificates stage, after DNS publishes the names.
    pub certificates: bool,
    /// Run nginx's and fail2ban's checks even on a render identical to the deployed one
    /// (`fly-deploy`); `boma plan` and `up` check only a render that changed.
    pub recheck_deployed: bool,
    pub deployer: Deployer,
    /// How long one machine may take to start after its update.
    pub machine_timeout: Duration,
    api: Option<Machines>,
}

impl EdgeStage {
    pub fn new(remote: bool, deployer: Deployer, machine_timeout: Duration) -> Self {
        Self {
            remote,
            certificates: true,
            recheck_deployed: true,
            deployer,
            machine_timeout,
            api: None,
        }
    }
}

pub struct EdgePlan {
    report: EdgeReport,
    dir: PathBuf,
    /// The rendered folder: path in `[edge].dir` and content.
    rendered: Vec<(String, String)>,
    /// Each machine with the config it would get, in roll order.
    machines: Vec<(Machine, Value)>,
    /// The app secrets the catalog declares, their values read (none in `--check`).
    secrets: Vec<Wanted>,
    /// What boma set before, from `[edge].dir`.
    record: Record,
}

impl Report for EdgePlan {
    fn text(&self) -> String {
        self.report.text()
    }
    fn json(&self) -> Value {
        self.report.json()
    }
    fn summary(&self) -> Option<String> {
        self.report.summary()
    }
}

impl Stage for EdgeStage {
    const NAME: &'static str = "edge";
    const PREVIEW: &'static str = "fly-deploy --check";
    const SHOW_PLAN_BEFORE_APPLY: bool = false;
    type Plan = EdgePlan;
    type Applied = EdgeReport;

    fn plan(&mut self, cx: &Context<'_>) -> anyhow::Result<EdgePlan> {
        let edge = cx.catalog.edge.as_ref().ok_or(EdgeError::NoEdge)?;
        fly(edge)?;
        let image = super::image(cx.catalog)?;
        let rendered: Vec<(String, String)> = super::artifacts(cx.catalog, cx.renderer)?
            .into_iter()
            .map(|artifact| {
                let local = artifact.name.trim_start_matches("edge/").to_string();
                (local, artifact.content)
            })
            .collect();
        let dir = cx.catalog.dir.join(&edge.dir);
        let files = compare(&dir, &edge.dir, &rendered)?;
        // The render deployed was checked before it was deployed; the same bytes need no new
        // check unless asked (`fly-deploy` always checks).
        let deployed = files.iter().all(|file| file.change == Change::Unchanged);
        let checks_skipped = deployed && !self.recheck_deployed;
        let checked = if checks_skipped {
            Vec::new()
        } else {
            let progress = cx.ui.spinner("checking the edge with nginx and fail2ban");
            let checked = validate::validate(cx.catalog, cx.renderer)?;
            progress.finish();
            checked
        };
        let mut report = EdgeReport {
            mode: if self.remote { "deploy" } else { "check" },
            app: edge.name().to_string(),
            dir: edge.dir.display().to_string(),
            deployer: match &self.deployer {
                Deployer::MachinesApi => "machines-api".into(),
                Deployer::Flyctl(path) => path.display().to_string(),
            },
            checksum: String::new(),
            checked,
            checks_skipped,
            files,
            certificates: None,
            secrets: None,
            machines: None,
        };
        let mut machines = Vec::new();
        let mut wanted = Vec::new();
        let mut record = Record::default();
        let declared = !secrets::declared(edge).is_empty();
        if declared && !self.remote {
            report.secrets = Some(secrets::not_read(edge));
        }
        if self.remote {
            let with_certificates = self.certificates;
            // flyctl lists the secrets when it deploys, as it sets them.
            let flyctl = match declared {
                true => self.deployer.flyctl(cx.catalog, edge)?,
                false => None,
            };
            let api = self.api(cx, edge)?;
            let progress = cx
                .ui
                .spinner("reading the app's certificates, secrets and machines");
            if with_certificates {
                report.certificates = Some(certificates::read(api, cx.catalog)?);
            }
            if declared {
                wanted = secrets::wanted(cx.catalog, edge, &token(cx.catalog, edge)?)?;
                let listed = match &flyctl {
                    Some(flyctl) => flyctl.secrets_list()?,
                    None => api.secrets()?,
                };
                record = secrets::read_record(&dir, &edge.dir)?;
                report.secrets = Some(secrets::plan(&wanted, &listed, &record));
            }
            // A machine takes an app secret only when it restarts: every one is rolled.
            let restart_for: Vec<String> = report
                .secrets_to_set()
                .map(|secret| format!("secret {}", secret.name))
                .collect();
            let files: Vec<(String, String)> = rendered
                .iter()
                .filter_map(|(local, content)| Some((guest_path(local, PREFIX)?, content.clone())))
                .collect();
            let mut lines = Vec::new();
            for machine in api.list()? {
                let wanted = machines::with_edge(&machine.config, &files, image.as_deref(), PREFIX);
                let mut changes = machines::differences(&machine.config, &wanted);
                changes.extend(restart_for.iter().cloned());
                lines.push(MachineLine {
                    id: machine.id.clone(),
                    name: machine.name.clone(),
                    region: machine.region.clone(),
                    state: machine.state.clone(),
                    image: wanted["image"].as_str().unwrap_or_default().to_string(),
                    action: if changes.is_empty() {
                        "unchanged"
                    } else {
                        "update"
                    }
                    .into(),
                    changes,
                    reason: None,
                });
                machines.push((machine, wanted));
            }
            progress.finish();
            report.machines = Some(lines);
        }
        let secret_parts =
            secrets::checksum_parts(report.secrets.as_deref().unwrap_or_default(), &wanted);
        report.checksum = checksum(&rendered, image.as_deref(), &secret_parts);
        Ok(EdgePlan {
            report,
            dir,
            rendered,
            machines,
            secrets: wanted,
            record,
        })
    }

    fn summary(plan: &EdgePlan) -> Summary {
        let mut summary = Summary::default();
        for file in &plan.report.files {
            *match file.change {
                Change::Create => &mut summary.create,
                Change::Update => &mut summary.update,
                Change::Delete => &mut summary.delete,
                Change::Unchanged => &mut summary.unchanged,
            } += 1;
        }
        for secret in plan.report.secrets.iter().flatten() {
            match secret.state {
                SecretState::Missing => summary.create += 1,
                SecretState::Changed => summary.update += 1,
                SecretState::Unchanged => summary.unchanged += 1,
                SecretState::NotRead => {}
            }
        }
        for cert in plan.report.certificates.iter().flatten() {
            *if cert.action == "request" {
                &mut summary.create
            } else {
                &mut summary.unchanged
            } += 1;
        }
        for machine in plan.report.machines.iter().flatten() {
            *if machine.action == "update" {
                &mut summary.update
            } else {
                &mut summary.unchanged
            } += 1;
        }
        summary
    }

    fn checksum(plan: &EdgePlan) -> String {
        plan.report.checksum.clone()
    }

    fn apply(&mut self, cx: &Context<'_>, plan: EdgePlan) -> anyhow::Result<EdgeReport> {
        let edge = cx.catalog.edge.as_ref().ok_or(EdgeError::NoEdge)?;
        let EdgePlan {
            mut report,
            dir,
            rendered,
            machines,
            secrets: wanted,
            mut record,
        } = plan;
        let flyctl = self.deployer.flyctl(cx.catalog, edge)?;
        let limit = self.machine_timeout;
        let api = self.api(cx, edge)?;
        if let Some(certificates) = report.certificates.as_mut() {
            certificates::request(api, flyctl.as_ref(), certificates, cx.ui);
        }
        // Before the roll, which is what gives the machines the new value.
        let lines = report.secrets.as_deref_mut().unwrap_or_default();
        let secrets_version =
            match secrets::store(api, flyctl.as_ref(), &wanted, lines, &mut record, cx.ui) {
                Ok(version) => version,
                Err(error) => {
                    for machine in report.machines.iter_mut().flatten() {
                        if machine.action == "update" {
                            machine.action = "not reached".into();
                            machine.reason = Some("an app secret could not be set".into());
                        }
                    }
                    return Err(PartWay::error(report, error));
                }
            };
        let rolled = match &flyctl {
            Some(flyctl) => deploy_with_flyctl(flyctl, &report, &rendered, &dir, cx),
            None => roll(api, machines, &mut report, secrets_version, limit, cx),
        };
        if let Err(error) = rolled {
            // Nothing is kept as deployed, nor recorded as set: the next plan shows the same
            // drift again, and sets the secrets again for the machines that did not restart.
            return Err(PartWay::error(report, error));
        }
        keep(&dir, &edge.dir, &rendered, &report.files)?;
        if report.secrets_to_set().next().is_some() {
            secrets::write_record(&dir, &edge.dir, &record)?;
        }
        report.mode = "deployed";
        Ok(report)
    }

    fn outcome(applied: &EdgeReport) -> Outcome {
        let failed = applied
            .certificates
            .iter()
            .flatten()
            .any(|cert| cert.action == "failed");
        if failed {
            Outcome::ProblemFound
        } else {
            Outcome::Done
        }
    }
}

impl EdgeStage {
    /// The Machines API client, made (and the token read) on first use.
    fn api(&mut self, cx: &Context<'_>, edge: &Edge) -> anyhow::Result<&Machines> {
        client(&mut self.api, cx, edge)
    }
}

/// The Machines API client kept in `slot`, made (and the token read) on first use.
pub(super) fn client<'s>(
    slot: &'s mut Option<Machines>,
    cx: &Context<'_>,
    edge: &Edge,
) -> anyhow::Result<&'s Machines> {
    if slot.is_none() {
        let token = token(cx.catalog, edge)?;
        *slot = Some(Machines::new(
            &edge.api_url,
            edge.name(),
            token,
            cx.ui.logger(),
        )?);
    }
    slot.as_ref()
        .ok_or_else(|| anyhow::anyhow!("the Machines API client is missing"))
}

pub(super) fn token(catalog: &Catalog, edge: &Edge) -> anyhow::Result<crate::secret::Secret> {
    let fly = fly(edge)?;
    catalog.read_secret(&fly.token, "`edge.token`")
}

/// The edge's Fly.io app; an edge on a host has none.
pub(super) fn fly(edge: &Edge) -> Result<&crate::catalog::FlyApp, EdgeError> {
    edge.fly().ok_or_else(|| EdgeError::OnHost {
        host: edge.name().to_string(),
    })
}

/// One machine at a time: update, wait until it runs the new version, then the next. The first
/// failure stops the roll; the machines after it are `not reached`. `secrets_version` is the
/// app's secrets version holding the secrets set in this run, which each machine starts with.
fn roll(
    api: &Machines,
    machines: Vec<(Machine, Value)>,
    report: &mut EdgeReport,
    secrets_version: Option<u64>,
    limit: Duration,
    cx: &Context<'_>,
) -> anyhow::Result<()> {
    let lines = report.machines.get_or_insert_with(Vec::new);
    let total = lines.iter().filter(|line| line.action == "update").count();
    let progress = cx.ui.bar(total, "rolling the edge machines");
    let mut done = 0;
    let mut failure: Option<anyhow::Error> = None;
    for ((machine, wanted), line) in machines.into_iter().zip(lines.iter_mut()) {
        if line.action != "update" {
            continue;
        }
        if failure.is_some() {
            line.action = "not reached".into();
            line.reason = Some("the roll stopped at an earlier machine".into());
            continue;
        }
        progress.message(&format!("updating {}", machine.id));
        cx.ui.debug(&format!(
            "updating machine {} ({})",
            machine.id, machine.region
        ));
        let updated = api.update(&machine, &wanted, secrets_version);
        let result = updated.and_then(|instance| {
            if machine.state != "started" {
                return Ok(());
            }
            if api.wait_started(&machine.id, &instance, limit)? {
                Ok(())
            } else {
                Err(EdgeError::MachineTimeout {
                    machine: machine.id.clone(),
                    waited: humantime::format_duration(limit).to_string(),
                }
                .into())
            }
        });
        match result {
            Ok(()) => {
                line.action = "updated".into();
                done += 1;
                progress.set(done);
            }
            Err(error) => {
                line.action = "failed".into();
                line.reason = Some(format!("{error:#}"));
                failure = Some(error);
            }
        }
    }
    progress.finish();
    failure.map_or(Ok(()), Err)
}

/// `flyctl deploy` of the render, staged in a scratch folder beside `[edge].dir`, when anything
/// differs (a file, a machine, or an app secret staged for it).
fn deploy_with_flyctl(
    flyctl: &Flyctl,
    report: &EdgeReport,
    rendered: &[(String, String)],
    dir: &Path,
    cx: &Context<'_>,
) -> anyhow::Result<()> {
    let machines_differ = report
        .machines
        .iter()
        .flatten()
        .any(|machine| machine.action == "update");
    if report.files_pending() == 0 && !machines_differ && report.secrets_to_set().next().is_none() {
        return Ok(());
    }
    let parent = dir.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(parent)?;
    let staged = crate::files::private_dir(".boma-edge.", parent)
        .context("cannot stage the edge for flyctl")?;
    for (local, content) in rendered {
        let path = staged.path().join(local);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)?;
        }
        std::fs::write(&path, content)?;
    }
    let progress = cx.ui.spinner("flyctl deploy");
    let deployed = flyctl.deploy(staged.path());
    progress.finish();
    deployed
}

/// A digest of what would be deployed: every rendered file and the image, and the app secrets it
/// would set (`secrets::checksum_parts`: none when it sets none, as a `--check` cannot tell).
fn checksum(rendered: &[(String, String)], image: Option<&str>, secrets: &[String]) -> String {
    let files = rendered
        .iter()
        .flat_map(|(local, content)| [local.as_str(), content.as_str()]);
    digest(
        std::iter::once(image.unwrap_or("-"))
            .chain(files)
            .chain(secrets.iter().map(String::as_str)),
    )
}
