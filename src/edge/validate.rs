//! Before any deploy, the rendered edge runs through the real tools in a scratch copy of the
//! machine's layout: `nginx -t`, `fail2ban-client -t` on the jails, and `fail2ban-regex` of every
//! filter against its generated sample lines. The checks run side by side; the first failure
//! stops everything with the tool's own words.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;

use super::{EdgeError, Sample, artifacts_under, filter_file, samples, services};
use crate::catalog::Catalog;
use crate::render::Renderer;

/// One check that passed, for the report: `nginx -t`, `fail2ban-regex boma-shower (7/14 lines)`.
pub type Passed = String;

enum Check {
    Nginx,
    Jails,
    /// One run of `fail2ban-regex` for every service whose filter (comments aside) and sample
    /// lines are the same: the tool's answer can only be the same for each.
    Filter {
        services: Vec<String>,
        samples: Vec<Sample>,
    },
}

struct Tools {
    nginx: PathBuf,
    client: PathBuf,
    regex: PathBuf,
}

/// Renders the edge into a scratch prefix and runs every check; what passed, in order.
pub fn validate(catalog: &Catalog, renderer: &Renderer) -> anyhow::Result<Vec<Passed>> {
    let tools = Tools {
        nginx: tool("nginx")?,
        client: tool("fail2ban-client")?,
        regex: tool("fail2ban-regex")?,
    };
    let scratch = crate::files::private_dir("boma-edge-check.", &std::env::temp_dir())
        .context("cannot make a scratch folder for the edge checks")?;
    let prefix = format!("{}/", scratch.path().display());
    lay_out(catalog, renderer, scratch.path(), &prefix)?;
    let mut checks = vec![Check::Nginx, Check::Jails];
    let mut filters: Vec<(String, Vec<Sample>, Vec<String>)> = Vec::new();
    for (service, table) in services(catalog) {
        if let Some(ban) = &table.ban {
            let samples = samples(ban);
            let file = scratch
                .path()
                .join("fail2ban/filter.d")
                .join(filter_file(&service.name));
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("cannot read {}", file.display()))?;
            let rules: String = text.lines().filter(|line| !line.starts_with('#')).collect();
            match filters
                .iter_mut()
                .find(|(same, lines, _)| *same == rules && *lines == samples)
            {
                Some((_, _, services)) => services.push(service.name.clone()),
                None => filters.push((rules, samples, vec![service.name.clone()])),
            }
        }
    }
    checks.extend(
        filters
            .into_iter()
            .map(|(_, samples, services)| Check::Filter { services, samples }),
    );
    let results = run_all(&checks, |check| run(check, &tools, scratch.path()));
    let mut passed = Vec::new();
    for result in results {
        passed.extend(result?);
    }
    Ok(passed)
}

/// The machine's layout under `dir`: `conf/` (nginx), `fail2ban/`, and the empty `logs/`,
/// `tmp/`, `run/`, `state/` and `cache/` the entrypoint makes.
fn lay_out(catalog: &Catalog, renderer: &Renderer, dir: &Path, prefix: &str) -> anyhow::Result<()> {
    for sub in [
        "conf/bans",
        "logs",
        "tmp",
        "run",
        "state",
        "cache",
        "samples",
    ] {
        std::fs::create_dir_all(dir.join(sub))?;
    }
    for artifact in artifacts_under(catalog, renderer, prefix)? {
        let local = artifact.name.trim_start_matches("edge/");
        let Some(guest) = super::guest_path(local, prefix) else {
            continue;
        };
        let path = PathBuf::from(guest);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        std::fs::write(&path, artifact.content)?;
    }
    for (service, table) in services(catalog) {
        if table.ban.is_some() {
            std::fs::write(dir.join(format!("logs/{}.access.log", service.name)), "")?;
        }
    }
    Ok(())
}

/// Runs `work` on every check, a few at a time (each is a process of its own), keeping order.
fn run_all<T: Send>(checks: &[Check], work: impl Fn(&Check) -> T + Sync) -> Vec<T>
where
    Check: Sync,
{
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<T>>> = Mutex::new((0..checks.len()).map(|_| None).collect());
    let workers = std::thread::available_parallelism()
        .map_or(2, usize::from)
        .min(checks.len())
        .max(1);
    std::thread::scope(|scope| {
        for _ in 0..workers {
            scope.spawn(|| {
                loop {
                    let index = next.fetch_add(1, Ordering::Relaxed);
                    let Some(check) = checks.get(index) else {
                        break;
                    };
                    let result = work(check);
                    if let Ok(mut slots) = results.lock() {
                        slots[index] = Some(result);
                    }
                }
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_default()
        .into_iter()
        .flatten()
        .collect()
}

fn run(check: &Check, tools: &Tools, dir: &Path) -> anyhow::Result<Vec<Passed>> {
    let prefix = format!("{}/", dir.display());
    match check {
        Check::Nginx => {
            let output = output(Command::new(&tools.nginx).args([
                "-t",
                "-q",
                "-p",
                &prefix,
                "-c",
                "conf/nginx.conf",
            ]))?;
            if !output.status.success() {
                return Err(rejected("nginx -t", &output, dir).into());
            }
            Ok(vec!["nginx -t".into()])
        }
        Check::Jails => {
            let output = output(
                Command::new(&tools.client)
                    .arg("-c")
                    .arg(dir.join("fail2ban"))
                    .arg("-t"),
            )?;
            if !output.status.success() {
                return Err(rejected("fail2ban-client -t", &output, dir).into());
            }
            Ok(vec!["fail2ban-client -t".into()])
        }
        Check::Filter { services, samples } => {
            let Some((first, same)) = services.split_first() else {
                return Ok(Vec::new());
            };
            let passed = filter(first, samples, tools, dir)?;
            let mut all = vec![passed.clone()];
            all.extend(same.iter().map(|service| {
                format!(
                    "fail2ban-regex {}: the same filter and lines as {}",
                    filter_file(service),
                    filter_file(first)
                )
            }));
            Ok(all)
        }
    }
}

/// `fail2ban-regex` of one filter over its sample lines: every failing line matched, no other.
fn filter(service: &str, samples: &[Sample], tools: &Tools, dir: &Path) -> anyhow::Result<Passed> {
    let log = dir.join(format!("samples/{service}.log"));
    let lines: String = samples
        .iter()
        .map(|sample| format!("{}\n", sample.line))
        .collect();
    std::fs::write(&log, lines)?;
    let filter = dir.join("fail2ban/filter.d").join(filter_file(service));
    let output = output(
        Command::new(&tools.regex)
            .arg("--print-all-matched")
            .arg(&log)
            .arg(&filter),
    )?;
    let tool = format!("fail2ban-regex {}", filter_file(service));
    if !output.status.success() {
        return Err(rejected(&tool, &output, dir).into());
    }
    let said = String::from_utf8_lossy(&output.stdout);
    let matched = matched_lines(&said);
    let missed: Vec<String> = samples
        .iter()
        .filter(|sample| sample.fails && !matched.contains(sample.line.as_str()))
        .map(|sample| sample.line.clone())
        .collect();
    let unexpected: Vec<String> = samples
        .iter()
        .filter(|sample| !sample.fails && matched.contains(sample.line.as_str()))
        .map(|sample| sample.line.clone())
        .collect();
    if !missed.is_empty() || !unexpected.is_empty() {
        return Err(EdgeError::FilterMismatch {
            service: service.to_string(),
            missed,
            unexpected,
        }
        .into());
    }
    let failing = samples.iter().filter(|sample| sample.fails).count();
    Ok(format!(
        "{tool}: {} matched, {} not",
        crate::ui::counted(failing, "failing line"),
        crate::ui::counted(samples.len() - failing, "other")
    ))
}

/// The lines under `|- Matched line(s):` in fail2ban-regex's report.
fn matched_lines(report: &str) -> BTreeSet<&str> {
    report
        .lines()
        .skip_while(|line| !line.starts_with("|- Matched line(s):"))
        .skip(1)
        .take_while(|line| line.starts_with("|  "))
        .map(|line| line.trim_start_matches("|  "))
        .collect()
}

fn output(command: &mut Command) -> anyhow::Result<Output> {
    command
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("cannot run {:?}", command.get_program()))
}

/// The tool's own message, with the scratch folder written as `edge/` so it names the files the
/// operator knows.
fn rejected(tool: &str, output: &Output, dir: &Path) -> EdgeError {
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&output.stderr),
        String::from_utf8_lossy(&output.stdout)
    );
    let scratch = format!("{}/", dir.display());
    let message: Vec<String> = said
        .lines()
        .filter(|line| !line.trim().is_empty())
        .map(|line| {
            line.replace(&format!("{scratch}conf/"), "edge/")
                .replace(&scratch, "edge/")
        })
        .take(20)
        .collect();
    EdgeError::Rejected {
        tool: tool.to_string(),
        message: message.join("\n"),
    }
}

/// A tool on PATH, or in the sbin folders a non-root PATH often lacks.
fn tool(name: &'static str) -> Result<PathBuf, EdgeError> {
    which::which(name)
        .or_else(|_| which::which_in(name, Some("/usr/sbin:/sbin"), "/"))
        .map_err(|_| EdgeError::ToolMissing { tool: name })
}
