//! `boma check`: validate the catalog, and with `--secrets` prove every secret can be read.

use serde::Serialize;

use crate::Outcome;
use crate::catalog::{Catalog, CatalogErrors, LoadError, Located};
use crate::cli::{CheckArgs, Global};
use crate::ui::{Report, Ui, counted};

#[derive(Serialize)]
struct CheckReport {
    ok: bool,
    errors: Vec<Located>,
    /// Valid but worth knowing (a deprecated record type); never a failure.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    notes: Vec<Located>,
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

impl Report for CheckReport {
    /// Problems go to stderr through the error printer; a valid catalog has one summary line.
    fn text(&self) -> String {
        String::new()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::to_value(self).unwrap_or_default()
    }
    fn summary(&self) -> Option<String> {
        let summary = self.summary.filter(|_| self.ok)?;
        let secrets = if summary.secrets_checked > 0 {
            format!(", {} readable", counted(summary.secrets_checked, "secret"))
        } else {
            String::new()
        };
        let notes: String = self
            .notes
            .iter()
            .map(|note| {
                let hint = note
                    .hint
                    .as_ref()
                    .map(|hint| format!("\n  hint: {hint}"))
                    .unwrap_or_default();
                format!(
                    "{}:{}:{}: note: {}{hint}\n",
                    note.file, note.line, note.column, note.message
                )
            })
            .collect();
        Some(format!(
            "{notes}ok: {}, {}, {}{secrets}",
            counted(summary.hosts, "host"),
            counted(summary.services, "service"),
            counted(summary.records, "DNS record")
        ))
    }
}

pub fn exec(global: &Global, args: &CheckArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let catalog = match super::load_catalog(global) {
        Ok(catalog) => catalog,
        Err(error) => return invalid(error, ui),
    };
    let problems = if args.secrets {
        check_secrets(&catalog)
    } else {
        Vec::new()
    };
    ui.report(&CheckReport {
        ok: problems.is_empty(),
        errors: problems.clone(),
        notes: catalog.notes.clone(),
        summary: Some(Summary {
            hosts: catalog.hosts.len(),
            services: catalog.services.len(),
            records: catalog.records.len(),
            secrets_checked: if args.secrets {
                catalog.secrets.len()
            } else {
                0
            },
        }),
    })?;
    if let Some(first) = problems.first() {
        let file = first.file.clone();
        return Err(CatalogErrors { file, problems }.into());
    }
    Ok(Outcome::Done)
}

/// A catalog that did not load: its problems as the report (JSON lists them), then the error.
fn invalid(error: anyhow::Error, ui: &Ui) -> anyhow::Result<Outcome> {
    let errors = match error.downcast_ref::<LoadError>() {
        Some(LoadError::Invalid(errors)) => errors.problems.clone(),
        _ => Vec::new(),
    };
    ui.report(&CheckReport {
        ok: false,
        errors,
        notes: Vec::new(),
        summary: None,
    })?;
    Err(error)
}

/// Reads every secret; a failure points at its declaration and never contains the value.
fn check_secrets(catalog: &Catalog) -> Vec<Located> {
    let file = crate::catalog::display_name(&catalog.path);
    let mut declared: Vec<&crate::secret::SecretRef> = catalog.secrets.values().collect();
    // In the catalog's order, as every other problem is.
    declared.sort_by_key(|reference| (reference.declared_at.line, reference.declared_at.column));
    declared
        .into_iter()
        .filter_map(|reference| reference.resolve().err().map(|error| (reference, error)))
        .map(|(reference, error)| Located {
            file: file.clone(),
            line: reference.declared_at.line,
            column: reference.declared_at.column,
            hint: crate::hint::Hint::hint(&error),
            message: error.to_string(),
        })
        .collect()
}
