//! `boma completions SHELL`: a completion script on stdout.

use clap::CommandFactory;

use crate::Outcome;
use crate::cli::{Cli, CompletionsArgs};
use crate::ui::Ui;

pub fn exec(args: &CompletionsArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "boma", &mut script);
    ui.data(&String::from_utf8_lossy(&script))?;
    Ok(Outcome::Done)
}
