//! `boma services`: the catalog's services at a glance.

use serde::Serialize;

use crate::Outcome;
use crate::catalog::Exposure;
use crate::cli::Global;
use crate::ui::{Ui, table};

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
    let rows: Vec<Row> = catalog
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
        .collect();
    if ui.json_output() {
        ui.json(&rows)?;
        return Ok(Outcome::Done);
    }
    let listed = |names: &[String]| {
        if names.is_empty() {
            "-".to_string()
        } else {
            names.join(",")
        }
    };
    let cells: Vec<Vec<String>> = rows
        .iter()
        .map(|row| {
            vec![
                row.service.to_string(),
                row.host.unwrap_or("-").to_string(),
                listed(row.names),
                listed(row.public),
                row.exposure.as_str().to_string(),
                if row.image.is_some() { "yes" } else { "no" }.to_string(),
                if row.backup { "yes" } else { "no" }.to_string(),
            ]
        })
        .collect();
    ui.data(&table(
        &[
            "SERVICE", "HOST", "PRIVATE", "PUBLIC", "EXPOSURE", "IMAGE", "BACKUP",
        ],
        &cells,
    ))?;
    Ok(Outcome::Done)
}
