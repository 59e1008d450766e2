//! `boma man [COMMAND]`: a manual page on stdout, or every page written under `--out DIR`.

use super::{OutFile, write_out};
use crate::Outcome;
use crate::cli::ManArgs;
use crate::man;
use crate::ui::{Plain, Ui};

pub fn exec(args: &ManArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    match &args.out {
        Some(dir) => {
            let files = man::pages()
                .into_iter()
                .map(|page| OutFile {
                    name: None,
                    path: page.file.into(),
                    content: page.roff,
                })
                .collect();
            ui.report(&write_out(dir, files, ("wrote", "manual page"), ui)?)?;
        }
        None => {
            let page = man::page(args.command.as_deref())?;
            ui.report(&Plain {
                text: page.roff.clone(),
                value: page,
                summary: None,
            })?;
        }
    }
    Ok(Outcome::Done)
}
