//! `caddy-push`: each host's rendered Caddyfile, pushed in one round trip by `push.sh`.
//!
//! The plan (which hosts, what content, which Caddy modules it needs) is pure; `apply` connects
//! to the hosts, `--parallel` at a time, and turns what the script printed into one report a host.

use std::time::{Duration, Instant};

use base64::Engine;
use futures_util::StreamExt;
use serde::Serialize;
use sha2::{Digest, Sha256};

use crate::catalog::{Catalog, Host};
use crate::remote::{Connector, Finished};
use crate::render::Renderer;
use crate::ui::Hinted;

/// The script that runs on each host; see its header for the arguments.
const SCRIPT: &str = include_str!("push.sh");

/// A lock older than this is taken over, whoever holds it.
const LOCK_STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// One host's part of the plan.
#[derive(Debug)]
pub struct Target<'a> {
    pub host: &'a Host,
    pub content: String,
    pub sha256: String,
    /// Caddy module IDs the file needs beyond the standard build, e.g. `dns.providers.gandi`.
    pub modules: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Push,
    Check,
}

/// What every host's run shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub mode: Mode,
    pub diff: bool,
    pub lock_wait: Duration,
    pub parallel: usize,
    /// `user@machine`, for the lock holder and the audit line.
    pub operator: String,
    pub revision: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    Changed,
    Unchanged,
    WouldChange,
    RolledBack,
    Failed,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Changed => "changed",
            Self::Unchanged => "unchanged",
            Self::WouldChange => "would change",
            Self::RolledBack => "rolled back",
            Self::Failed => "failed",
        }
    }

    /// A host whose live config is not what the catalog says after the run.
    pub fn is_failure(self) -> bool {
        matches!(self, Self::RolledBack | Self::Failed)
    }
}

/// How one host's push ended.
#[derive(Debug, Serialize)]
pub struct HostReport {
    pub host: String,
    pub status: Status,
    #[serde(serialize_with = "milliseconds", rename = "duration_ms")]
    pub duration: Duration,
    pub reason: Option<String>,
    /// The script's detail lines (a validation error, a failed reload's output).
    pub details: Vec<String>,
    /// `caddy version` on the host.
    pub caddy: Option<String>,
    pub old_sha256: Option<String>,
    pub new_sha256: String,
    /// Unified diff of the live file against the rendered one (`--diff`).
    pub diff: Option<String>,
}

fn milliseconds<S: serde::Serializer>(
    duration: &Duration,
    serializer: S,
) -> Result<S::Ok, S::Error> {
    serializer.serialize_u64(u64::try_from(duration.as_millis()).unwrap_or(u64::MAX))
}

/// Renders the Caddyfile of every host that serves a site, or of the named hosts only.
pub fn plan<'a>(
    catalog: &'a Catalog,
    renderer: &Renderer,
    named: &[String],
) -> anyhow::Result<Vec<Target<'a>>> {
    for name in named {
        if !catalog.hosts.contains_key(name) {
            let known: Vec<&str> = catalog.hosts.keys().map(String::as_str).collect();
            return Err(Hinted::new(
                format!("host `{name}` is not in the catalog"),
                format!("hosts: {}", known.join(", ")),
            )
            .into());
        }
    }
    let targets: Vec<Target<'a>> = super::caddyfiles(catalog, renderer)?
        .into_iter()
        .filter(|(host, _)| named.is_empty() || named.contains(&host.name))
        .map(|(host, content)| Target {
            host,
            sha256: hex::encode(Sha256::digest(content.as_bytes())),
            modules: required_modules(&content),
            content,
        })
        .collect();
    if let Some(idle) = named
        .iter()
        .find(|name| !targets.iter().any(|target| target.host.name == **name))
    {
        return Err(Hinted::new(
            format!("host `{idle}` serves no site, so it has no Caddyfile to push"),
            "give one of its services an upstream and a name, or leave the host out",
        )
        .into());
    }
    Ok(targets)
}

/// The non-standard modules a Caddyfile names: DNS providers of `dns` and `acme_dns`.
pub fn required_modules(caddyfile: &str) -> Vec<String> {
    let mut modules: Vec<String> = caddyfile
        .lines()
        .filter_map(|line| {
            let mut words = line.split_whitespace();
            match words.next() {
                Some("dns" | "acme_dns") => words.next(),
                _ => None,
            }
        })
        .filter(|provider| !provider.starts_with('{'))
        .map(|provider| format!("dns.providers.{provider}"))
        .collect();
    modules.sort();
    modules.dedup();
    modules
}

/// Pushes to every target, `settings.parallel` at a time; one report a target, in host order.
/// `progress(host)` gives the callback that shows a host's current step.
pub async fn apply<F, P>(
    connector: &Connector,
    targets: &[Target<'_>],
    settings: &Settings,
    progress: F,
) -> Vec<HostReport>
where
    F: Fn(&str) -> P,
    P: Fn(&str),
{
    let mut reports: Vec<HostReport> = futures_util::stream::iter(targets)
        .map(|target| push_host(connector, target, settings, progress(&target.host.name)))
        .buffer_unordered(settings.parallel.max(1))
        .collect()
        .await;
    reports.sort_by(|a, b| a.host.cmp(&b.host));
    reports
}

async fn push_host(
    connector: &Connector,
    target: &Target<'_>,
    settings: &Settings,
    step: impl Fn(&str),
) -> HostReport {
    let started = Instant::now();
    step("connecting");
    let mut transcript = Transcript::default();
    let finished = match connector.connect(target.host).await {
        Ok(connection) => {
            let finished = connection
                .run_script(
                    SCRIPT,
                    &arguments(target, settings),
                    target.content.as_bytes(),
                    |line| {
                        if let Some(name) = transcript.take(line) {
                            step(name);
                        }
                    },
                )
                .await;
            connection.close().await;
            finished.map_err(|error| error.to_string())
        }
        Err(error) => Err(error.to_string()),
    };
    transcript.report(target, settings, finished, started.elapsed())
}

fn arguments(target: &Target<'_>, settings: &Settings) -> Vec<String> {
    let flag = |on: bool| if on { "1" } else { "0" }.to_string();
    vec![
        match settings.mode {
            Mode::Push => "push",
            Mode::Check => "check",
        }
        .to_string(),
        target.host.caddy.config.clone(),
        flag(target.host.sudo),
        flag(settings.diff),
        settings.lock_wait.as_secs().to_string(),
        LOCK_STALE_AFTER.as_secs().to_string(),
        settings.operator.clone(),
        settings.revision.clone(),
        target.sha256.clone(),
        target.modules.join(" "),
        target.host.caddy.reload.clone(),
    ]
}

/// What the script said, line by line.
#[derive(Debug, Default)]
struct Transcript {
    caddy: Option<String>,
    live_sha256: Option<String>,
    /// The script compared with the live file (it may not exist): a diff means something.
    compared: bool,
    live: Option<Vec<u8>>,
    details: Vec<String>,
    /// The `result` line: a status word and an explanation.
    result: Option<(String, String)>,
}

impl Transcript {
    /// Records one line; returns the step it announces, if it is a step.
    fn take<'l>(&mut self, line: &'l str) -> Option<&'l str> {
        let (key, rest) = line.split_once(' ').unwrap_or((line, ""));
        match key {
            "step" => return Some(rest),
            "caddy" => self.caddy = Some(rest.to_string()),
            "live-sha256" => {
                self.compared = true;
                self.live_sha256 = Some(rest).filter(|sha| *sha != "none").map(str::to_string)
            }
            "live-content" => {
                self.live = base64::engine::general_purpose::STANDARD.decode(rest).ok();
            }
            "detail" => self.details.push(rest.to_string()),
            "result" => {
                let (status, reason) = rest.split_once(' ').unwrap_or((rest, ""));
                self.result = Some((status.to_string(), reason.to_string()));
            }
            _ => {}
        }
        None
    }

    fn report(
        self,
        target: &Target<'_>,
        settings: &Settings,
        finished: Result<Finished, String>,
        duration: Duration,
    ) -> HostReport {
        let (status, reason) = match (&self.result, &finished) {
            (_, Err(error)) => (Status::Failed, Some(error.clone())),
            (Some((word, reason)), Ok(_)) => {
                let reason = Some(reason.clone()).filter(|reason| !reason.is_empty());
                match word.as_str() {
                    "changed" => (Status::Changed, reason),
                    "unchanged" => (Status::Unchanged, reason),
                    "would-change" => (Status::WouldChange, reason),
                    "rolled-back" => (Status::RolledBack, reason),
                    "locked" => (
                        Status::Failed,
                        Some(format!("lock {}", reason.unwrap_or_default())),
                    ),
                    _ => (Status::Failed, reason),
                }
            }
            (None, Ok(finished)) => (Status::Failed, Some(script_died(finished))),
        };
        // Without a comparison (a refused connection, a missing module) there is nothing to diff.
        let diff = (settings.diff && self.compared && status != Status::Unchanged)
            .then(|| diff(target, self.live.as_deref()));
        HostReport {
            host: target.host.name.clone(),
            status,
            duration,
            reason,
            details: self.details,
            caddy: self.caddy,
            old_sha256: self.live_sha256,
            new_sha256: target.sha256.clone(),
            diff,
        }
    }
}

/// The script ended without a result line: the connection dropped or something killed it.
fn script_died(finished: &Finished) -> String {
    let last = finished
        .stderr
        .lines()
        .rev()
        .find(|line| !line.trim().is_empty())
        .map(|line| format!(": {}", line.trim()))
        .unwrap_or_default();
    match finished.code {
        Some(code) => format!("the remote script exited with {code} before finishing{last}"),
        None => format!("the connection dropped before the push finished{last}"),
    }
}

/// The live file against the rendered one; an absent live file diffs as empty.
fn diff(target: &Target<'_>, live: Option<&[u8]>) -> String {
    let live = live.map(String::from_utf8_lossy).unwrap_or_default();
    let config = &target.host.caddy.config;
    similar::TextDiff::from_lines(live.as_ref(), target.content.as_str())
        .unified_diff()
        .context_radius(3)
        .header(
            &format!("{}:{config} (live)", target.host.name),
            &format!("{}:{config} (catalog)", target.host.name),
        )
        .to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn modules_come_from_dns_directives() {
        let caddyfile = "{\n\tacme_dns cloudflare {env.CF}\n}\na.example.org {\n\ttls {\n\t\tdns gandi {env.GANDI}\n\t}\n}\nb.example.org {\n\ttls {\n\t\tdns gandi {env.GANDI}\n\t}\n}\n";
        assert_eq!(
            required_modules(caddyfile),
            ["dns.providers.cloudflare", "dns.providers.gandi"]
        );
        assert!(required_modules("a.example.org {\n\ttls internal\n}\n").is_empty());
    }

    #[test]
    fn transcript_reads_steps_and_result() {
        let mut transcript = Transcript::default();
        assert_eq!(transcript.take("step validate"), Some("validate"));
        assert_eq!(transcript.take("caddy v2.6.2 h1:abc"), None);
        transcript.take("live-sha256 none");
        transcript.take("live-content aGVsbG8K");
        transcript.take("detail Error: adapting config");
        transcript.take("result failed caddy validate rejected it");
        assert_eq!(transcript.caddy.as_deref(), Some("v2.6.2 h1:abc"));
        assert_eq!(transcript.live_sha256, None);
        assert!(transcript.compared, "`none` is a comparison: no live file");
        assert_eq!(transcript.live.as_deref(), Some(&b"hello\n"[..]));
        assert_eq!(transcript.details, ["Error: adapting config"]);
        assert_eq!(
            transcript.result,
            Some((
                "failed".to_string(),
                "caddy validate rejected it".to_string()
            ))
        );
    }
}
