//! `boma dns-preview` and `boma dns-up`: the DNS stage, previewed or applied; `boma dns-import`:
//! the live zones' records the catalog does not have yet, as a fragment to paste.

use anyhow::Context as _;
use serde::Serialize;

use crate::Outcome;
use crate::catalog::{Catalog, Zone};
use crate::cli::{DnsImportArgs, DnsOptions, DnsPreviewArgs, DnsUpArgs, Global};
use crate::dns::ownership::Owners;
use crate::dns::{DnsError, DnsStage, desired, import, providers, side_by_side};
use crate::stage::{self, Context};
use crate::ui::{Plain, Ui};

pub fn preview(global: &Global, args: &DnsPreviewArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = Context::new(&catalog, &renderer, ui);
    stage::preview(&mut dns_stage(&args.options, false), &cx, args.exit_code)
}

pub fn up(global: &Global, args: &DnsUpArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = Context::new(&catalog, &renderer, ui);
    let mut dns = dns_stage(&args.options, args.force);
    stage::up(&mut dns, &cx, args.checksum.as_deref())
}

fn dns_stage(options: &DnsOptions, force: bool) -> DnsStage {
    DnsStage::new(
        options.adopt,
        options.create_zone,
        force,
        options.zone.clone(),
    )
}

/// One zone's import, named for the JSON output.
#[derive(Serialize)]
struct ZoneImport {
    zone: String,
    #[serde(flatten)]
    imported: import::Imported,
}

pub fn import(global: &Global, args: &DnsImportArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let catalog = super::load_catalog(global)?;
    let dns = catalog.dns.as_ref().ok_or(DnsError::NoDnsSection)?;
    let zones = crate::dns::select(dns, args.zone.as_deref())?;
    let results = side_by_side(&zones, |_, zone| import_zone(&catalog, zone, ui));
    let mut text = String::new();
    let mut imports = Vec::new();
    for (zone, result) in zones.iter().zip(results) {
        let (fragment, imported) = result?;
        // With several zones, a zone with nothing to import adds no fragment.
        let nothing = imported.records.is_empty() && imported.skipped.is_empty();
        if !(zones.len() > 1 && nothing) {
            if !text.is_empty() {
                text.push('\n');
            }
            text.push_str(&fragment);
        }
        imports.push(ZoneImport {
            zone: zone.name.clone(),
            imported,
        });
    }
    let (summary, differing) = import_summary(&imports);
    ui.report(&Plain {
        text,
        value: import_json(imports, dns.named_zones)?,
        summary: Some(summary),
    })?;
    for line in differing {
        ui.status(&format!("differs: {line}"));
    }
    Ok(Outcome::Done)
}

/// The counts line, and the derived names whose live records differ (said on stderr).
fn import_summary(imports: &[ZoneImport]) -> (String, Vec<String>) {
    let count = |what: fn(&import::Imported) -> usize| -> usize {
        imports.iter().map(|zone| what(&zone.imported)).sum()
    };
    let summary = format!(
        "dns-import: {} to paste, {} skipped, {} differing live",
        crate::ui::counted(count(|imported| imported.records.len()), "record"),
        count(|imported| imported.skipped.len()),
        crate::ui::counted(count(|imported| imported.differing.len()), "derived name")
    );
    let differing = imports
        .iter()
        .flat_map(|zone| zone.imported.differing.clone())
        .collect();
    (summary, differing)
}

/// With `[dns.zones]` a list of named zones; the single-zone form keeps its one document.
fn import_json(mut imports: Vec<ZoneImport>, named: bool) -> anyhow::Result<serde_json::Value> {
    if named {
        return Ok(serde_json::to_value(&imports)?);
    }
    Ok(imports
        .pop()
        .map(|zone| serde_json::to_value(zone.imported))
        .transpose()?
        .unwrap_or_default())
}

/// Reads one zone and returns its fragment and what went into it.
fn import_zone(
    catalog: &Catalog,
    zone: &Zone,
    ui: &Ui,
) -> anyhow::Result<(String, import::Imported)> {
    let dns = catalog.dns.as_ref().ok_or(DnsError::NoDnsSection)?;
    let mut provider = providers::open(zone, catalog, &dns.owner, false, ui.logger())?;
    let live = provider
        .list()
        .with_context(|| format!("cannot read zone `{}` from {}", zone.zone, provider.name()))?;
    let wanted: Vec<_> = desired(catalog, &zone.name)?
        .into_iter()
        .map(|rrset| provider.normalize(rrset))
        .collect();
    let owners = Owners::new(provider.keeping(), &dns.owner, &live.rrsets, live.marks);
    let imported = import::import(&zone.zone, zone.provider, &wanted, &live.rrsets, &owners);
    let named = dns.named_zones.then_some(zone.name.as_str());
    let text = import::fragment(&zone.zone, named, provider.name(), &imported);
    Ok((text, imported))
}
