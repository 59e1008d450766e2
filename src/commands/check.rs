//! `boma check`: validate the catalog, and with `--secrets` prove every secret can be read.

use serde::Serialize;

use crate::Outcome;
use crate::catalog::{Catalog, LoadError, Located};
use crate::cli::{CheckArgs, Global};
use crate::ui::Ui;

#[derive(Serialize)]
struct Report<'a> {
    ok: bool,
    errors: &'a [Located],
    #[serde(skip_serializing_if = "Option::is_none")]
    summary: Option<Summary>,
}

#[derive(Serialize, Clone, Copy)]
struct Summary {
    hosts: usize,
    services: usize,
    records: usize,
    secrets_checked: usize,
}

pub fn exec(global: &Global, args: &CheckArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let catalog = match super::load_catalog(global) {
        Ok(catalog) => catalog,
        Err(error) => {
            if ui.json_output() {
                let problems = match error.downcast_ref::<LoadError>() {
                    Some(LoadError::Invalid(errors)) => errors.problems.as_slice(),
                    _ => &[],
                };
                ui.json(&Report {
                    ok: false,
                    errors: problems,
                    summary: None,
                })?;
            }
            return Err(error);
        }
    };
    let secret_problems = if args.secrets {
        check_secrets(&catalog)
    } else {
        Vec::new()
    };
    let summary = Summary {
        hosts: catalog.hosts.len(),
        services: catalog.services.len(),
        records: catalog.records.len(),
        secrets_checked: if args.secrets {
            catalog.secrets.len()
        } else {
            0
        },
    };
    let ok = secret_problems.is_empty();
    if ui.json_output() {
        ui.json(&Report {
            ok,
            errors: &secret_problems,
            summary: Some(summary),
        })?;
    }
    if !ok {
        let file = secret_problems
            .first()
            .map(|problem| problem.file.clone())
            .unwrap_or_default();
        return Err(crate::catalog::CatalogErrors {
            file,
            problems: secret_problems,
        }
        .into());
    }
    let secrets = if args.secrets {
        format!(", {} secrets readable", summary.secrets_checked)
    } else {
        String::new()
    };
    ui.status(&format!(
        "ok: {} hosts, {} services, {} DNS records{secrets}",
        summary.hosts, summary.services, summary.records
    ));
    Ok(Outcome::Done)
}

/// Reads every secret; a failure points at its declaration and never contains the value.
fn check_secrets(catalog: &Catalog) -> Vec<Located> {
    let file = crate::catalog::display_name(&catalog.path);
    catalog
        .secrets
        .values()
        .filter_map(|reference| reference.resolve().err().map(|error| (reference, error)))
        .map(|(reference, error)| Located {
            file: file.clone(),
            line: reference.declared_at.line,
            column: reference.declared_at.column,
            message: error.to_string(),
            hint: None,
        })
        .collect()
}
