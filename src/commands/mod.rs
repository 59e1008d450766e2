//! One module per subcommand: each `exec` loads what it needs, runs a stage or builds a report,
//! and hands the report to the printer.

pub mod backup_check;
pub mod caddy_push;
pub mod check;
pub mod completions;
pub mod container_build;
pub mod dns;
pub mod fly_deploy;
pub mod render;
pub mod services;

use crate::catalog::{self, Catalog};
use crate::cli::Global;
use crate::render::Renderer;

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
