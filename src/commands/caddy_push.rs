//! `boma caddy-push`: plan each host's Caddyfile, push them in parallel, print one table.

use anyhow::Context;

use crate::Outcome;
use crate::caddy::push::{self, Mode, Settings};
use crate::caddy::report;
use crate::cli::{CaddyPushArgs, Global};
use crate::provenance;
use crate::remote::{self, Connector};
use crate::render::Renderer;
use crate::ui::Ui;

pub fn exec(global: &Global, args: &CaddyPushArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let catalog = super::load_catalog(global)?;
    let renderer = Renderer::for_catalog(&catalog, global.templates.as_deref());
    let targets = push::plan(&catalog, &renderer, &args.hosts)?;
    if targets.is_empty() {
        ui.status("caddy-push: no host serves a site; nothing to push");
        return Ok(Outcome::Done);
    }
    let mode = if args.check { Mode::Check } else { Mode::Push };
    let settings = Settings {
        mode,
        diff: args.diff,
        lock_wait: args.lock_wait,
        parallel: usize::from(args.parallel),
        operator: provenance::operator(),
        // Only a push writes audit lines; `--check` need not ask git.
        revision: match mode {
            Mode::Push => provenance::catalog_revision(&catalog.path),
            Mode::Check => "none".to_string(),
        },
    };
    let connector = Connector::new(
        remote::Options {
            accept_new_host_keys: args.ssh.accept_new_host_keys,
            connect_timeout: args.ssh.connect_timeout,
        },
        &catalog.dir,
    )
    .context("cannot create a private folder for SSH control sockets in /tmp")?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    let bars = ui.bars();
    let reports = runtime.block_on(async {
        let pushes = push::apply(&connector, &targets, &settings, |host| {
            let (bar, log, host) = (bars.add(host), ui.logger(), host.to_string());
            move |step: &str| {
                bar.message(step);
                log(&format!("{host}: {step}"));
            }
        });
        tokio::select! {
            reports = pushes => Some(reports),
            () = remote::stop_requested() => None,
        }
    });
    // Dropping the runtime drops any push still in flight: its ssh processes are killed and its
    // master is told to exit; the script on the host cleans up when its connection goes.
    drop(runtime);
    drop(bars);
    let Some(reports) = reports else {
        ui.status(
            "caddy-push: interrupted; pushes in flight were cut off and clean up on their hosts",
        );
        return Ok(Outcome::Interrupted);
    };
    if ui.json_output() {
        ui.json(&report::json(mode, &reports))?;
    } else {
        ui.data(&report::text(&reports))?;
    }
    ui.status(&report::summary_line(&reports));
    // `--check` is drift detection: a host that would change is a finding, as a failure is.
    let problem = reports
        .iter()
        .any(|report| report.status.is_failure() || report.status == push::Status::WouldChange);
    Ok(if problem {
        Outcome::ProblemFound
    } else {
        Outcome::Done
    })
}
