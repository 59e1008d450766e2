//! One module per subcommand: each `exec` loads what it needs, runs a stage or builds a report,
//! and hands the report to the printer.

pub mod backup_check;
pub mod caddy_push;
pub mod check;
pub mod completions;
pub mod container_build;
pub mod dns;
pub mod doctor;
pub mod edge_push;
pub mod fly_deploy;
pub mod man;
pub mod render;
pub mod run;
pub mod schema;
pub mod services;

use crate::catalog::{self, Catalog};
use crate::cli::{Global, SshArgs};
use crate::render::Renderer;
use crate::stage::Context;
use anyhow::Context as _;

use crate::files::{WriteStatus, write_if_changed};
use crate::ui::{Plain, Ui};

/// Loads the catalog named by `--catalog`.
pub fn load_catalog(global: &Global) -> anyhow::Result<Catalog> {
    Ok(catalog::load(&global.catalog)?)
}

/// The catalog and its template engine (`--templates`, else `templates/` beside the catalog).
pub fn load(global: &Global) -> anyhow::Result<(Catalog, Renderer)> {
    let catalog = load_catalog(global)?;
    let renderer = Renderer::for_catalog(&catalog.dir, global.templates.as_deref());
    Ok((catalog, renderer))
}

/// A context whose stages reach hosts: `--parallel` of them at once, with the SSH options.
pub fn host_context<'a>(
    catalog: &'a Catalog,
    renderer: &'a Renderer,
    ui: &'a Ui,
    parallel: u16,
    ssh: &SshArgs,
) -> Context<'a> {
    let mut cx = Context::new(catalog, renderer, ui);
    cx.parallel = usize::from(parallel);
    cx.ssh = crate::remote::Options {
        accept_new_host_keys: ssh.accept_new_host_keys,
        connect_timeout: ssh.connect_timeout,
    };
    cx
}

/// A file `--out DIR` wrote (or found as it should be), as the report lists it.
#[derive(serde::Serialize)]
pub struct Written {
    /// The artifact's name (`render`); a manual page has none.
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<String>,
    path: String,
    status: WriteStatus,
}

/// A file for [`write_out`]: its name in the report (if any), its path under the folder, its text.
pub struct OutFile {
    pub name: Option<String>,
    pub path: std::path::PathBuf,
    pub content: String,
}

/// Writes each file under `dir` where it changed; the report lists every file and its summary
/// says `VERB N NOUNs into DIR: W written, U unchanged`.
pub fn write_out(
    dir: &std::path::Path,
    files: Vec<OutFile>,
    (verb, noun): (&str, &str),
    ui: &Ui,
) -> anyhow::Result<Plain<Vec<Written>>> {
    let mut written = Vec::new();
    for file in files {
        let path = dir.join(&file.path);
        let status = write_if_changed(&path, file.content.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
        if status == WriteStatus::Written {
            ui.debug(&format!("wrote {}", path.display()));
        }
        written.push(Written {
            name: file.name,
            path: path.display().to_string(),
            status,
        });
    }
    let changed = written
        .iter()
        .filter(|file| file.status == WriteStatus::Written)
        .count();
    let summary = format!(
        "{verb} {} into {}: {changed} written, {} unchanged",
        crate::ui::counted(written.len(), noun),
        dir.display(),
        written.len() - changed
    );
    Ok(Plain {
        text: String::new(),
        value: written,
        summary: Some(summary),
    })
}
