//! Applying a Caddy plan: each host that would change gets its new Caddyfile in one round trip
//! (`push.sh` in `push` mode: lock, check the live file is still what the plan saw, stage,
//! validate, back up, install, reload, roll back, audit). Hosts the plan found unchanged or could
//! not reach are reported as the plan found them. `backups` lists what pushes kept on each host
//! and `rollback` puts one of those back.

pub mod backups;
pub mod rollback;

use std::time::{Duration, Instant};

use super::plan::{CaddyPlan, Target, settings};
use super::report::{HostReport, Pushed, Status};
use crate::remote;
use crate::stage::Context;

/// A lock older than this is taken over, whoever holds it.
pub const LOCK_STALE_AFTER: Duration = Duration::from_secs(15 * 60);

/// What every host's push shares.
#[derive(Debug, Clone)]
pub struct Settings {
    pub lock_wait: Duration,
    /// `user@machine`, for the lock holder and the audit line.
    pub operator: String,
    pub revision: String,
}

pub fn apply(cx: &Context<'_>, plan: CaddyPlan, settings: &Settings) -> anyhow::Result<Pushed> {
    let changing: Vec<(&Target, &HostReport)> = plan
        .targets
        .iter()
        .zip(&plan.hosts)
        .filter(|(_, planned)| planned.status == Status::WouldChange)
        .collect();
    let mut pushed = if changing.is_empty() {
        Vec::new()
    } else {
        cx.hosts()?.run(
            cx.ui,
            &changing,
            |(target, _)| &target.host,
            async |&(target, planned), connection, step| {
                let started = Instant::now();
                let script = settings_for(target, planned, settings);
                let (transcript, finished) =
                    remote::converse(connection, &script, target.content.as_bytes(), step).await;
                let mut report =
                    HostReport::read(&target.host.name, &target.sha256, &transcript, finished);
                report.duration = started.elapsed();
                report.diff = planned
                    .diff
                    .clone()
                    .filter(|_| report.status != Status::Unchanged);
                if report.caddy.is_none() {
                    report.caddy = planned.caddy.clone();
                }
                report
            },
        )?
    };
    let mut hosts = Vec::with_capacity(plan.hosts.len());
    for planned in plan.hosts {
        match pushed.iter().position(|report| report.host == planned.host) {
            Some(index) => hosts.push(pushed.swap_remove(index)),
            None => hosts.push(planned),
        }
    }
    Ok(Pushed { hosts })
}

fn settings_for(target: &Target, planned: &HostReport, push: &Settings) -> remote::HostScript {
    settings(target, "push")
        .set("want_diff", 0)
        .set("lock_wait", push.lock_wait.as_secs())
        .set("holder", &push.operator)
        .set("revision", &push.revision)
        .set(
            "planned",
            match (planned.busy, planned.old_sha256.as_deref()) {
                (true, _) => "any",
                (false, old) => old.unwrap_or("none"),
            },
        )
}

#[cfg(test)]
mod tests {
    use sha2::{Digest, Sha256};

    use crate::remote::HostScript;

    fn sha(text: &str) -> String {
        hex::encode(Sha256::digest(text.as_bytes()))
    }

    /// The host script in push mode on this machine: a live file that is neither the new one
    /// nor what the plan saw was changed by someone else, and is left alone.
    #[test]
    fn a_push_refuses_a_live_file_changed_since_its_plan() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let live = dir.path().join("Caddyfile");
        std::fs::write(&live, "edited by hand\n")?;
        let script = HostScript::new(super::super::SCRIPT)
            .set("mode", "push")
            .set("live", live.display())
            .set("state_key", "key")
            .set("use_sudo", 0)
            .set("expected", sha("new\n"))
            .set("required", "")
            .set("reload", "false")
            .set("stale_after", 900)
            .set("want_diff", 0)
            .set("lock_wait", 0)
            .set("holder", "test@machine")
            .set("revision", "none")
            .set("planned", sha("what the plan saw\n"));
        let mut child = std::process::Command::new("sh")
            .args(["-c", &script.text()])
            .env("XDG_STATE_HOME", dir.path().join("state"))
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .spawn()?;
        if let Some(mut stdin) = child.stdin.take() {
            std::io::Write::write_all(&mut stdin, b"new\n")?;
        }
        let output = child.wait_with_output()?;
        let mut transcript = script.transcript();
        for line in String::from_utf8_lossy(&output.stdout).lines() {
            transcript.take(line);
        }
        let (status, reason) = transcript.result.unwrap_or_default();
        assert_eq!(status, "failed");
        assert!(reason.contains("changed since the plan"), "{reason}");
        assert_eq!(std::fs::read_to_string(&live)?, "edited by hand\n");
        Ok(())
    }
}
