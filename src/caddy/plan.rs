//! The Caddy stage's plan: each host's rendered Caddyfile compared with its live file in one
//! read-only round trip per host (`push.sh` in `plan` mode), with a diff when asked.

use std::time::{Duration, Instant};

use base64::Engine;
use sha2::{Digest, Sha256};

use super::report::{HostReport, Status};
use super::{CaddyError, SCRIPT};
use crate::catalog::{Catalog, Host};
use crate::hint::check_known;
use crate::remote::{self, HostScript, Transcript};
use crate::render::Renderer;
use crate::stage::{self, Context, Summary};

/// One host's part of the plan: what it should run.
#[derive(Debug)]
pub struct Target {
    pub host: Host,
    pub content: String,
    pub sha256: String,
    /// Caddy module IDs the file needs beyond the standard build, e.g. `dns.providers.gandi`.
    pub modules: Vec<String>,
}

/// Every target host with what it runs now and what would change, in host order.
#[derive(Debug)]
pub struct CaddyPlan {
    pub targets: Vec<Target>,
    /// One entry a target, same order: `would change`, `unchanged` or `failed` (not reached).
    pub hosts: Vec<HostReport>,
    pub checksum: String,
}

impl CaddyPlan {
    /// The checksum to show: none when no host could be planned (none, or every one failed).
    pub fn shown_checksum(&self) -> Option<&str> {
        self.hosts
            .iter()
            .any(|host| host.status != Status::Failed)
            .then_some(self.checksum.as_str())
    }

    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        for host in &self.hosts {
            match host.status {
                Status::WouldChange if host.old_sha256.is_none() => summary.create += 1,
                Status::WouldChange => summary.update += 1,
                Status::Unchanged => summary.unchanged += 1,
                _ => summary.failed += 1,
            }
        }
        summary
    }
}

/// Renders the Caddyfile of every host that serves a site, or of the named hosts only.
pub fn targets(
    catalog: &Catalog,
    renderer: &Renderer,
    named: &[String],
) -> anyhow::Result<Vec<Target>> {
    let known: Vec<&str> = catalog.hosts.keys().map(String::as_str).collect();
    check_known("host", "hosts", named, &known)?;
    let targets: Vec<Target> = super::caddyfiles(catalog, renderer)?
        .into_iter()
        .filter(|(host, _)| named.is_empty() || named.contains(&host.name))
        .map(|(host, content)| Target {
            host: host.clone(),
            sha256: hex::encode(Sha256::digest(content.as_bytes())),
            modules: required_modules(&content),
            content,
        })
        .collect();
    if let Some(idle) = named
        .iter()
        .find(|name| !targets.iter().any(|target| target.host.name == **name))
    {
        return Err(CaddyError::ServesNoSite(idle.clone()).into());
    }
    Ok(targets)
}

/// Compares every target with its live file, `cx.parallel` hosts at a time.
pub fn plan(cx: &Context<'_>, targets: Vec<Target>, diff: bool) -> anyhow::Result<CaddyPlan> {
    let hosts = if targets.is_empty() {
        Vec::new()
    } else {
        cx.hosts()?.run(
            cx.ui,
            &targets,
            |target| &target.host,
            async |target, connection, step| {
                let started = Instant::now();
                let script = settings(target, "plan").set("want_diff", u8::from(diff));
                let (transcript, finished) = remote::converse(connection, &script, b"", step).await;
                read_plan(target, transcript, finished, diff, started.elapsed())
            },
        )?
    };
    let checksum = stage::digest(hosts.iter().flat_map(|host| {
        [
            host.host.as_str(),
            host.status.as_str(),
            host.old_sha256.as_deref().unwrap_or("none"),
            host.new_sha256.as_str(),
        ]
    }));
    Ok(CaddyPlan {
        targets,
        hosts,
        checksum,
    })
}

/// The settings every run of the host script for `target` has.
pub fn settings(target: &Target, mode: &str) -> HostScript {
    HostScript::new(SCRIPT)
        .set("mode", mode)
        .set("live", &target.host.caddy.config)
        .set("state_key", state_key(&target.host.caddy.config))
        .set("use_sudo", u8::from(target.host.sudo))
        .set("expected", &target.sha256)
        .set("required", target.modules.join(" "))
        .set("reload", &target.host.caddy.reload)
        .set("stale_after", super::push::LOCK_STALE_AFTER.as_secs())
}

/// The name of a live file's state folder on its host: its path with `%` and `/` escaped, so
/// two files never share one.
fn state_key(live: &str) -> String {
    live.replace('%', "%25").replace('/', "%2F")
}

/// What the plan run said about one host.
fn read_plan(
    target: &Target,
    transcript: Transcript,
    finished: Result<remote::Finished, remote::RemoteError>,
    want_diff: bool,
    duration: Duration,
) -> HostReport {
    let mut report = HostReport::read(&target.host.name, &target.sha256, &transcript, finished);
    report.duration = duration;
    let compared = transcript.fact("live-sha256").is_some();
    if want_diff && compared && report.status == Status::WouldChange {
        let live = transcript.fact("live-content").and_then(|content| {
            base64::engine::general_purpose::STANDARD
                .decode(content)
                .ok()
        });
        report.diff = Some(diff(target, live.as_deref()));
    }
    report
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

/// The live file against the rendered one; an absent live file diffs as empty.
fn diff(target: &Target, live: Option<&[u8]>) -> String {
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
    fn state_keys_never_collide() {
        assert_eq!(
            state_key("/etc/caddy/Caddyfile"),
            "%2Fetc%2Fcaddy%2FCaddyfile"
        );
        assert_ne!(state_key("/a/b%2Fc"), state_key("/a/b/c"));
    }

    #[test]
    fn modules_come_from_dns_directives() {
        let caddyfile = "{\n\tacme_dns cloudflare {env.CF}\n}\na.example.org {\n\ttls {\n\t\tdns gandi {env.GANDI}\n\t}\n}\nb.example.org {\n\ttls {\n\t\tdns gandi {env.GANDI}\n\t}\n}\n";
        assert_eq!(
            required_modules(caddyfile),
            ["dns.providers.cloudflare", "dns.providers.gandi"]
        );
        assert!(required_modules("a.example.org {\n\ttls internal\n}\n").is_empty());
    }
}
