//! `boma dns-preview` and `boma dns-up`: the DNS stage, previewed or applied; `boma dns-import`:
//! the live zone's records the catalog does not have yet, as a fragment to paste.

use anyhow::Context as _;

use crate::Outcome;
use crate::cli::{DnsImportArgs, DnsPreviewArgs, DnsUpArgs, Global};
use crate::dns::{DnsError, DnsStage, desired, import, providers};
use crate::hint::check_known;
use crate::stage::{self, Context};
use crate::ui::{Plain, Ui};

pub fn preview(global: &Global, args: &DnsPreviewArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = Context::new(&catalog, &renderer, ui);
    let mut dns = DnsStage::new(args.options.adopt, args.options.create_zone, false);
    stage::preview(&mut dns, &cx, args.exit_code)
}

pub fn up(global: &Global, args: &DnsUpArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let (catalog, renderer) = super::load(global)?;
    let cx = Context::new(&catalog, &renderer, ui);
    let mut dns = DnsStage::new(args.options.adopt, args.options.create_zone, args.force);
    stage::up(&mut dns, &cx, args.checksum.as_deref())
}

pub fn import(global: &Global, args: &DnsImportArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let catalog = super::load_catalog(global)?;
    let dns = catalog.dns.as_ref().ok_or(DnsError::NoDnsSection)?;
    if let Some(zone) = &args.zone {
        let given = zone.trim_end_matches('.').to_ascii_lowercase();
        check_known("zone", "zones", &[given], &[dns.zone.as_str()])?;
    }
    let mut provider = providers::open(dns, &catalog, false, ui.logger())?;
    let live = provider
        .list()
        .with_context(|| format!("cannot read zone `{}` from {}", dns.zone, provider.name()))?;
    let wanted: Vec<_> = desired(&catalog)
        .into_iter()
        .map(|rrset| provider.normalize(rrset))
        .collect();
    let imported = import::import(&dns.zone, &wanted, &live, provider.owns_everything());
    let text = import::fragment(&dns.zone, provider.name(), &imported);
    let summary = format!(
        "dns-import: {} records to paste, {} skipped, {} derived names differ live",
        imported.records.len(),
        imported.skipped.len(),
        imported.differing.len()
    );
    let differing = imported.differing.clone();
    ui.report(&Plain {
        text,
        value: imported,
        summary: Some(summary),
    })?;
    for line in differing {
        ui.status(&format!("differs: {line}"));
    }
    Ok(Outcome::Done)
}
