//! `boma completions SHELL`: a completion script on stdout.

use clap::CommandFactory;

use crate::Outcome;
use crate::cli::{Cli, CompletionsArgs};
use crate::ui::{Plain, Ui};

pub fn exec(args: &CompletionsArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let mut script = Vec::new();
    clap_complete::generate(args.shell, &mut Cli::command(), "boma", &mut script);
    let text = String::from_utf8_lossy(&script).into_owned();
    ui.report(&Plain {
        value: text.clone(),
        text,
        summary: None,
    })?;
    Ok(Outcome::Done)
}
