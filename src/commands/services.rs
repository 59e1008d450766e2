//! `boma services`: the catalog's services at a glance.

use serde::Serialize;

use crate::Outcome;
use crate::catalog::{Catalog, Exposure};
use crate::cli::Global;
use crate::ui::{Plain, Ui, table};

#[derive(Serialize)]
struct Row<'a> {
    service: &'a str,
    host: Option<&'a str>,
    names: &'a [String],
    public: &'a [String],
    exposure: Exposure,
    image: Option<&'a str>,
    backup: bool,
}

pub fn exec(global: &Global, ui: &Ui) -> anyhow::Result<Outcome> {
    let catalog = super::load_catalog(global)?;
    let rows = rows(&catalog);
    let text = text(&rows);
    ui.report(&Plain {
        text,
        value: rows,
        summary: None,
    })?;
    Ok(Outcome::Done)
}

fn rows(catalog: &Catalog) -> Vec<Row<'_>> {
    catalog
        .services
        .values()
        .map(|service| Row {
            service: &service.name,
            host: service.host.as_deref(),
            names: &service.names,
            public: &service.public,
            exposure: service.exposure(),
            image: service
                .container
                .as_ref()
                .map(|container| container.image.as_str()),
            backup: service.backup.is_some(),
        })
        .collect()
}

fn text(rows: &[Row<'_>]) -> String {
    let listed = |names: &[String]| {
        if names.is_empty() {
            "-".to_string()
        } else {
            names.join(",")
        }
    };
    let yes_no = |on: bool| if on { "yes" } else { "no" }.to_string();
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.service.to_string(),
                row.host.unwrap_or("-").to_string(),
                listed(row.names),
                listed(row.public),
                row.exposure.as_str().to_string(),
                yes_no(row.image.is_some()),
                yes_no(row.backup),
            ]
        })
        .collect();
    table(
        &[
            "SERVICE", "HOST", "PRIVATE", "PUBLIC", "EXPOSURE", "IMAGE", "BACKUP",
        ],
        &cells,
    )
}
