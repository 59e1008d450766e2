//! The edge host's plan: its live files compared with the render in one read-only round trip
//! (`push.sh` in `plan` mode), with a diff a file when asked.

use std::time::Instant;

use base64::Engine;

use super::{SCRIPT, Target};
use crate::caddy::report::{HostReport, Status};
use crate::remote::{self, HostScript, Transcript};
use crate::stage::{self, Context, Summary};

/// What the edge's host runs now and what would change.
#[derive(Debug)]
pub struct EdgeHostPlan {
    pub target: Target,
    /// `would change`, `unchanged` or `failed` (not reached).
    pub host: HostReport,
    pub checksum: String,
}

impl EdgeHostPlan {
    pub fn summary(&self) -> Summary {
        let mut summary = Summary::default();
        match self.host.status {
            Status::WouldChange if self.host.old_sha256.is_none() => summary.create += 1,
            Status::WouldChange => summary.update += 1,
            Status::Unchanged => summary.unchanged += 1,
            _ => summary.failed += 1,
        }
        summary
    }

    /// The checksum to show: none when the host could not be planned.
    pub fn shown_checksum(&self) -> Option<&str> {
        (self.host.status != Status::Failed).then_some(self.checksum.as_str())
    }
}

/// Compares the live files on the edge's host with the render.
pub fn plan(cx: &Context<'_>, target: Target, diff: bool) -> anyhow::Result<EdgeHostPlan> {
    let script = settings(&target, "plan").set("want_diff", u8::from(diff));
    let (mut host, transcript) = run_once(cx, &target, &script, b"")?;
    if diff && host.status == Status::WouldChange {
        let present = transcript.facts_all("live-path");
        let live: Vec<(String, Vec<u8>)> = transcript
            .facts_all("live-file")
            .into_iter()
            .filter_map(|fact| {
                let (path, content) = fact.split_once(' ')?;
                let content = base64::engine::general_purpose::STANDARD
                    .decode(content)
                    .ok()?;
                Some((path.to_string(), content))
            })
            .collect();
        host.diff = Some(diffs(&target, &present, &live));
    }
    let checksum = stage::digest([
        host.host.as_str(),
        host.status.as_str(),
        host.old_sha256.as_deref().unwrap_or("none"),
        host.new_sha256.as_str(),
    ]);
    Ok(EdgeHostPlan {
        target,
        host,
        checksum,
    })
}

/// One run of the host script on the edge's host with `input` on its stdin: how it ended (with
/// its duration) and everything it said.
pub(super) fn run_once(
    cx: &Context<'_>,
    target: &Target,
    script: &HostScript,
    input: &[u8],
) -> anyhow::Result<(HostReport, Transcript)> {
    let mut runs = cx.hosts()?.run(
        cx.ui,
        std::slice::from_ref(target),
        |target| &target.host,
        async |target, connection, step| {
            let started = Instant::now();
            let (transcript, finished) = remote::converse(connection, script, input, step).await;
            let mut report = HostReport::read(
                &target.host.name,
                &target.bundle.sha256,
                &transcript,
                finished,
            );
            report.duration = started.elapsed();
            (report, transcript)
        },
    )?;
    runs.pop()
        .ok_or_else(|| anyhow::anyhow!("the edge's host was not reached"))
}

/// The settings every run of the host script has.
pub fn settings(target: &Target, mode: &str) -> HostScript {
    let bundle = &target.bundle;
    HostScript::new(SCRIPT)
        .set("mode", mode)
        .set("prefix", &target.on.prefix)
        .set(
            "state_key",
            target.on.prefix.replace('%', "%25").replace('/', "%2F"),
        )
        .set("manifest", bundle.manifest.trim_end())
        .set("expected", &bundle.sha256)
        .set("bans", bundle.bans.join(" "))
        .set("logs", bundle.logs.join(" "))
        .set("use_sudo", u8::from(target.host.sudo))
        .set("reload_nginx", &target.on.reload_nginx)
        .set("reload_fail2ban", &target.on.reload_fail2ban)
        .set(
            "stale_after",
            crate::caddy::push::LOCK_STALE_AFTER.as_secs(),
        )
}

/// A unified diff a file that differs: `live` holds the files the script sent back (those that
/// differ from the render, or are no longer rendered); a rendered file not in `present` is new.
fn diffs(target: &Target, present: &[&str], live: &[(String, Vec<u8>)]) -> String {
    let prefix = &target.on.prefix;
    let host = &target.host.name;
    let mut changes: Vec<(&str, String, &str)> = live
        .iter()
        .map(|(path, content)| {
            let new = target
                .bundle
                .files
                .iter()
                .find(|(new_path, _)| new_path == path)
                .map_or("", |(_, content)| content.as_str());
            (
                path.as_str(),
                String::from_utf8_lossy(content).into_owned(),
                new,
            )
        })
        .collect();
    for (path, content) in &target.bundle.files {
        if !present.contains(&path.as_str()) {
            changes.push((path, String::new(), content));
        }
    }
    changes.sort_by(|a, b| a.0.cmp(b.0));
    changes
        .iter()
        .map(|(path, old, new)| {
            similar::TextDiff::from_lines(old.as_str(), *new)
                .unified_diff()
                .context_radius(3)
                .header(
                    &format!("{host}:{prefix}{path} (live)"),
                    &format!("{host}:{prefix}{path} (catalog)"),
                )
                .to_string()
        })
        .collect()
}
