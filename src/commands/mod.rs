//! One module per subcommand: each `exec` loads what it needs, plans, and asks `ui` to print.

pub mod caddy_push;
pub mod check;
pub mod completions;
pub mod dns;
pub mod render;
pub mod services;

use crate::catalog::{self, Catalog, LoadError};
use crate::cli::Global;
use crate::ui::Hinted;

/// Loads the catalog named by `--catalog`, with a hint when the file is missing.
pub fn load_catalog(global: &Global) -> anyhow::Result<Catalog> {
    catalog::load(&global.catalog).map_err(|error| match error {
        LoadError::Unreadable { path, source } if source.kind() == std::io::ErrorKind::NotFound => {
            Hinted::new(
                format!("catalog `{path}` not found"),
                "run boma next to services.toml, or pass --catalog PATH (or set BOMA_CATALOG)",
            )
            .into()
        }
        other => other.into(),
    })
}
