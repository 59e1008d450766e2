//! `boma man [COMMAND]`: a manual page on stdout, or every page written under `--out DIR`.

use std::path::Path;

use anyhow::Context;
use serde::Serialize;

use crate::Outcome;
use crate::cli::ManArgs;
use crate::files::{WriteStatus, write_if_changed};
use crate::man::{self, Page};
use crate::ui::{Plain, Ui};

#[derive(Serialize)]
struct Written {
    path: String,
    status: WriteStatus,
}

pub fn exec(args: &ManArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    match &args.out {
        Some(dir) => ui.report(&write_out(dir, man::pages(), ui)?)?,
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

/// Writes each page into `dir` where it changed; the report lists every file.
fn write_out(dir: &Path, pages: Vec<Page>, ui: &Ui) -> anyhow::Result<Plain<Vec<Written>>> {
    let mut written = Vec::new();
    for page in pages {
        let path = dir.join(&page.file);
        let status = write_if_changed(&path, page.roff.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        if status == WriteStatus::Written {
            ui.debug(&format!("wrote {}", path.display()));
        }
        written.push(Written {
            path: path.display().to_string(),
            status,
        });
    }
    let changed = written
        .iter()
        .filter(|file| file.status == WriteStatus::Written)
        .count();
    let summary = format!(
        "wrote {} into {}: {changed} written, {} unchanged",
        crate::ui::counted(written.len(), "manual page"),
        dir.display(),
        written.len() - changed
    );
    Ok(Plain {
        text: String::new(),
        value: written,
        summary: Some(summary),
    })
}
