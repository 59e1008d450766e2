//! boma: one catalog (`services.toml`) reconciles an operator's DNS, Caddy, edge, images and backups.

pub mod backup;
pub mod caddy;
pub mod catalog;
pub mod chain;
pub mod cli;
mod commands;
pub mod dns;
pub mod doctor;
pub mod edge;
mod errors;
mod files;
pub mod hint;
mod http;
pub mod images;
pub mod man;
pub mod natural;
pub mod position;
mod provenance;
pub mod rdata;
mod remote;
pub mod render;
pub mod secret;
pub mod stage;
pub mod stop;
pub mod ui;

use std::process::ExitCode;

use cli::{Cli, Command};
use ui::Ui;

/// How a command ended, as the exit code says: 0 done, 1 a check found a problem, 2 an error.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Done,
    ProblemFound,
    /// Ctrl-C: stopped early, cleaned up; exit 130 as shells expect.
    Interrupted,
}

/// Runs one command and maps its result to boma's exit codes; errors are printed here, once.
pub fn run(cli: Cli) -> ExitCode {
    let ui = Ui::new(&cli.global);
    if cli.command.reaches_out() {
        stop::watch();
    }
    let result = match &cli.command {
        Command::Plan(args) => commands::run::plan(&cli.global, args, &ui),
        Command::Up(args) => commands::run::up(&cli.global, args, &ui),
        Command::Check(args) => commands::check::exec(&cli.global, args, &ui),
        Command::Render(args) => commands::render::exec(&cli.global, args, &ui),
        Command::Services => commands::services::exec(&cli.global, &ui),
        Command::DnsPreview(args) => commands::dns::preview(&cli.global, args, &ui),
        Command::DnsUp(args) => commands::dns::up(&cli.global, args, &ui),
        Command::DnsImport(args) => commands::dns::import(&cli.global, args, &ui),
        Command::CaddyPush(args) => commands::caddy_push::exec(&cli.global, args, &ui),
        Command::EdgePush(args) => commands::edge_push::exec(&cli.global, args, &ui),
        Command::FlyDeploy(args) => commands::fly_deploy::exec(&cli.global, args, &ui),
        Command::ContainerBuild(args) => commands::container_build::exec(&cli.global, args, &ui),
        Command::BackupCheck(args) => commands::backup_check::exec(&cli.global, args, &ui),
        Command::Doctor(args) => commands::doctor::exec(&cli.global, args, &ui),
        Command::Completions(args) => commands::completions::exec(args, &ui),
        Command::Schema => commands::schema::exec(&ui),
        Command::Man(args) => commands::man::exec(args, &ui),
    };
    match result {
        Ok(Outcome::Done) => ExitCode::SUCCESS,
        Ok(Outcome::ProblemFound) => ExitCode::from(1),
        Ok(Outcome::Interrupted) => ExitCode::from(130),
        Err(error) => match stop::Interrupted::in_chain(&error) {
            Some(interrupted) => {
                ui.status(&format!("{}: {interrupted}", cli.command.name()));
                ExitCode::from(130)
            }
            None => {
                ui.error(&error, &errors::explain(&error));
                ExitCode::from(2)
            }
        },
    }
}
