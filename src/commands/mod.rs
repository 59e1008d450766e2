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
use crate::ui::Ui;

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
