//! `boma schema`: the catalog's JSON Schema on stdout (`schema/services.schema.json` is its
//! output), made from the types the catalog is read into; no catalog needed.

use crate::Outcome;
use crate::catalog;
use crate::ui::{Plain, Ui};

pub fn exec(ui: &Ui) -> anyhow::Result<Outcome> {
    let schema = catalog::json_schema();
    let mut text = serde_json::to_string_pretty(&schema)?;
    text.push('\n');
    ui.report(&Plain {
        text,
        value: schema,
        summary: None,
    })?;
    Ok(Outcome::Done)
}
