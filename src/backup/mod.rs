//! `backup-check`: proves every backup in the catalog is fresh and sound. Backups are checks, not
//! a stage: one host script run a host (every service on it in one round trip, hosts side by
//! side through the shared fan-out) says what it found; boma judges, reports, writes Prometheus
//! metrics and pings Healthchecks or Uptime Kuma.

mod findings;
mod metrics;
mod ping;
mod report;

pub use findings::{Finding, Status};
pub use report::BackupReport;

use std::time::Duration;

use crate::catalog::{Backup, Catalog, Host};
use crate::hint::{Hint as _, UnknownName};
use crate::remote::{HostScript, RemoteError, converse, this_machine};
use crate::stage::Context;

const SCRIPT: &str = include_str!("check.sh");

#[derive(Debug, Clone)]
pub struct Options {
    pub services: Vec<String>,
    pub deep: bool,
    pub lock_wait: Duration,
    pub ping: bool,
    pub prometheus: Option<std::path::PathBuf>,
    /// How long one host's checks may take in all: a host that hangs is reported as such, and
    /// the table, the pings and the textfile still come out for every other.
    pub timeout: Duration,
}

/// Every service on one host, checked in one run.
struct HostChecks<'c> {
    host: Host,
    services: Vec<(&'c str, &'c Backup)>,
}

/// A host's checks as its script and input.
struct Job<'c> {
    checks: HostChecks<'c>,
    script: HostScript,
    input: Vec<u8>,
}

#[derive(Debug, thiserror::Error)]
pub enum BackupError {
    #[error("the catalog declares no backup (no service has a `backup` table)")]
    NoBackups,
}

impl crate::hint::Hint for BackupError {
    fn hint(&self) -> Option<String> {
        Some("add a `backup` table to a service (see README.md)".into())
    }
}

pub fn check(cx: &Context<'_>, options: &Options) -> anyhow::Result<BackupReport> {
    let selected = select(cx.catalog, &options.services)?;
    let mut groups: Vec<HostChecks<'_>> = Vec::new();
    for (service, backup) in selected {
        let host = match &backup.host {
            Some(name) => cx
                .catalog
                .hosts
                .get(name)
                .cloned()
                .ok_or_else(|| anyhow::anyhow!("backup host `{name}` is not in the catalog"))?,
            None => this_machine(),
        };
        match groups.iter_mut().find(|group| group.host.name == host.name) {
            Some(group) => group.services.push((service, backup)),
            None => groups.push(HostChecks {
                host,
                services: vec![(service, backup)],
            }),
        }
    }
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |elapsed| elapsed.as_secs_f64());
    // A service whose passphrase cannot be read fails its own row; the others are checked.
    let mut found = Vec::new();
    let mut jobs = Vec::new();
    for mut checks in groups {
        let mut text = String::new();
        checks.services.retain(
            |(service, backup)| match block(cx.catalog, service, backup) {
                Ok(block) => {
                    text.push_str(&block);
                    true
                }
                Err((reason, hint)) => {
                    let mut finding =
                        findings::judge(service, &checks.host.name, backup, &|_| Vec::new(), now);
                    finding.status = Status::SecretUnreadable;
                    finding.reasons = vec![reason];
                    finding.hint = hint;
                    found.push(finding);
                    false
                }
            },
        );
        if checks.services.is_empty() {
            continue;
        }
        jobs.push(Job {
            input: text.into_bytes(),
            script: HostScript::new(SCRIPT)
                .set("work", crate::remote::work_folder("boma-backup-check"))
                .set("lock_wait", options.lock_wait.as_secs().max(1))
                .set("deep", if options.deep { "yes" } else { "no" }),
            checks,
        });
    }
    // No host is reached when no service is left to check on it.
    let answers = if jobs.is_empty() {
        Vec::new()
    } else {
        let pool = cx.hosts()?;
        pool.run(
            cx.ui,
            &jobs,
            |job: &Job<'_>| &job.checks.host,
            async |job, connection, step| {
                let checked = converse(connection, &job.script, &job.input, step);
                match tokio::time::timeout(options.timeout, checked).await {
                    Ok(answer) => answer,
                    // Dropping the check closes its channel: the script's watcher stops it on the host.
                    Err(_) => (
                        job.script.transcript(),
                        Err(RemoteError::Run(std::io::Error::new(
                            std::io::ErrorKind::TimedOut,
                            format!(
                                "no answer within {} (--timeout)",
                                humantime::format_duration(options.timeout)
                            ),
                        ))),
                    ),
                }
            },
        )?
    };
    for (job, (transcript, finished)) in jobs.iter().zip(answers) {
        let group = &job.checks;
        let unreachable = match &finished {
            Err(error) => Some(error.one_line()),
            Ok(_) if transcript.result.is_none() => Some(format!(
                "the check script ended early: {}",
                finished
                    .as_ref()
                    .map(|finished| finished
                        .stderr
                        .lines()
                        .last()
                        .unwrap_or_default()
                        .to_string())
                    .unwrap_or_default()
            )),
            Ok(_) => None,
        };
        for (service, backup) in &group.services {
            let mut finding = findings::judge(
                service,
                &group.host.name,
                backup,
                &|key| {
                    transcript
                        .facts_all(&format!("{service}.{key}"))
                        .into_iter()
                        .map(str::to_string)
                        .collect()
                },
                now,
            );
            if let Some(reason) = &unreachable {
                finding.status = Status::HostUnreachable;
                finding.reasons.insert(0, reason.clone());
            }
            found.push(finding);
        }
    }
    found.sort_by(|a, b| crate::natural::compare(&a.service, &b.service));
    if options.ping {
        for finding in &mut found {
            let target = cx
                .catalog
                .services
                .get(&finding.service)
                .and_then(|service| service.backup.as_ref())
                .and_then(|backup| backup.ping.as_ref());
            if let Some(target) = target {
                // Pings have a client of their own (their URL is the credential): a stop asked
                // meanwhile is checked here, and an interrupted check sends no more of them.
                crate::stop::check("before the next ping")?;
                finding.ping = ping::send(target, finding).err();
            }
        }
    }
    if let Some(path) = &options.prometheus {
        metrics::write(path, &found)?;
    }
    Ok(BackupReport { findings: found })
}

/// One service's block of the check's stdin (`KEY VALUE` lines), its passphrase read now; or
/// why the passphrase cannot be given (one line) and what to do about it.
fn block(
    catalog: &Catalog,
    service: &str,
    backup: &Backup,
) -> Result<String, (String, Option<String>)> {
    let tool = match backup.tool {
        crate::catalog::BackupTool::Borg => "borg",
        crate::catalog::BackupTool::Borgmatic => "borgmatic",
        crate::catalog::BackupTool::Restic => "restic",
    };
    let mut text = format!(
        "service {service}\ntool {tool}\nrepository {}\n",
        backup.repository
    );
    if let Some(name) = &backup.passphrase {
        let what = format!("the passphrase of `{service}`'s backup");
        // The row says what it was for: the reason says which secret, where, and why.
        let unreadable = |error: &crate::catalog::SecretUnreadable| (error.located(), error.hint());
        let secret = match catalog.secrets.get(name) {
            Some(reference) => catalog
                .resolve_secret(reference, &what)
                .map_err(|error| unreadable(&error))?,
            None => {
                return Err((
                    format!("cannot read {what}: secret `{name}` is not declared"),
                    None,
                ));
            }
        };
        if secret.expose().contains(['\n', '\r']) {
            return Err((format!("{what} has a line break"), None));
        }
        text.push_str(&format!("passphrase {}\n", secret.expose()));
    }
    if let Some(glob) = &backup.archive_glob {
        text.push_str(&format!("glob {glob}\n"));
    }
    if let Some(config) = &backup.config {
        text.push_str(&format!("config {config}\n"));
    }
    for tag in &backup.tags {
        text.push_str(&format!("tag {tag}\n"));
    }
    for path in &backup.paths {
        text.push_str(&format!("path {path}\n"));
    }
    for path in &backup.sqlite {
        text.push_str(&format!("sqlite {path}\n"));
    }
    text.push_str("end\n");
    Ok(text)
}

/// The named services (each must have a `backup`), or every one that has.
fn select<'c>(
    catalog: &'c Catalog,
    names: &[String],
) -> anyhow::Result<Vec<(&'c str, &'c Backup)>> {
    let all: Vec<(&str, &Backup)> = catalog
        .services
        .iter()
        .filter_map(|(name, service)| Some((name.as_str(), service.backup.as_ref()?)))
        .collect();
    if all.is_empty() {
        return Err(BackupError::NoBackups.into());
    }
    if names.is_empty() {
        return Ok(all);
    }
    names
        .iter()
        .map(|name| {
            all.iter()
                .find(|(known, _)| known == name)
                .copied()
                .ok_or_else(|| {
                    UnknownName {
                        kind: "service with a backup",
                        plural: "services with a backup",
                        name: name.clone(),
                        known: all.iter().map(|(known, _)| known.to_string()).collect(),
                    }
                    .into()
                })
        })
        .collect()
}
