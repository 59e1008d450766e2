//! `boma dns-preview` and `boma dns-up`: one plan, printed; applied only by `dns-up`.

use anyhow::Context;

use crate::Outcome;
use crate::catalog::Catalog;
use crate::cli::{DnsOptions, DnsPreviewArgs, DnsUpArgs, Global, Output};
use crate::dns::plan::{self, Plan};
use crate::dns::providers::{self, Provider};
use crate::dns::{desired, report};
use crate::ui::{Hinted, Ui};

/// What preview and apply share: the provider, the plan, and the catalog's change limit.
struct Prepared {
    provider: Box<dyn Provider>,
    plan: Plan,
    max_change_percent: u8,
}

/// Reads the zone and computes the plan.
fn prepare(global: &Global, options: &DnsOptions, ui: &Ui) -> anyhow::Result<Prepared> {
    let catalog: Catalog = super::load_catalog(global)?;
    let dns = catalog.dns.as_ref().ok_or_else(|| {
        Hinted::new(
            "the catalog has no [dns] section",
            "declare [dns] with provider and zone",
        )
    })?;
    let mut provider = providers::open(dns, &catalog, options.create_zone, ui.logger())?;
    let spinner = ui.spinner(&format!(
        "reading zone {} from {}",
        dns.zone,
        provider.name()
    ));
    let existing = provider
        .list()
        .with_context(|| format!("cannot read zone `{}` from {}", dns.zone, provider.name()));
    spinner.finish();
    let existing = existing?;
    let wanted: Vec<_> = desired(&catalog)
        .into_iter()
        .map(|rrset| provider.normalize(rrset))
        .collect();
    let options = plan::Options {
        owns_everything: provider.owns_everything(),
        purge: dns.purge,
        adopt: options.adopt,
    };
    let plan = plan::plan(&dns.zone, &wanted, &existing, &options);
    Ok(Prepared {
        provider,
        plan,
        max_change_percent: dns.max_change_percent,
    })
}

fn print_plan(ui: &Ui, plan: &Plan, provider: &str) -> anyhow::Result<()> {
    match ui.output {
        Output::Json => ui.json(&report::json(plan, provider))?,
        Output::Markdown => ui.data(&report::markdown(plan, provider))?,
        Output::Text => ui.data(&report::text(plan, provider))?,
    }
    Ok(())
}

pub fn preview(global: &Global, args: &DnsPreviewArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let Prepared { provider, plan, .. } = prepare(global, &args.options, ui)?;
    print_plan(ui, &plan, provider.name())?;
    ui.debug(&format!("{} HTTP requests", provider.requests()));
    let pending = !plan.changes.is_empty() || !plan.conflicts.is_empty();
    Ok(if args.exit_code && pending {
        Outcome::ProblemFound
    } else {
        Outcome::Done
    })
}

pub fn up(global: &Global, args: &DnsUpArgs, ui: &Ui) -> anyhow::Result<Outcome> {
    let Prepared {
        mut provider,
        plan,
        max_change_percent: limit,
    } = prepare(global, &args.options, ui)?;
    print_plan(ui, &plan, provider.name())?;
    if let Some(reviewed) = args
        .checksum
        .as_ref()
        .filter(|reviewed| **reviewed != plan.checksum)
    {
        return Err(Hinted::new(
            format!(
                "the plan changed since it was reviewed: checksum {reviewed} expected, {} now",
                plan.checksum
            ),
            "run dns-preview again and review the new plan",
        )
        .into());
    }
    if let Some(conflict) = plan.conflicts.first() {
        return Err(Hinted::new(
            format!(
                "{} declared names are held by records boma does not own, e.g. `{}` {}",
                plan.conflicts.len(),
                conflict.wanted.name,
                conflict.foreign.record_type
            ),
            "check them, then run again with --adopt to take them over",
        )
        .into());
    }
    if let Some(percent) = plan
        .change_percent()
        .filter(|percent| plan.owned >= 10 && *percent > u64::from(limit) && !args.force)
    {
        return Err(Hinted::new(
            format!("the plan updates or deletes {percent}% of the {} records boma owns; the limit is {limit}%", plan.owned),
            "review the plan, then pass --force (or raise dns.max_change_percent)",
        )
        .into());
    }
    if plan.is_empty() {
        ui.status(&format!("no changes for zone {}", plan.zone));
        return Ok(Outcome::Done);
    }
    let bar = ui.bar(
        plan.changes.len(),
        &format!("applying to {}", provider.name()),
    );
    let result = provider.apply(&plan.changes, &mut |done| bar.set(done));
    bar.finish();
    if let Err(failure) = result {
        let applied: Vec<String> = plan.changes[..failure.applied]
            .iter()
            .map(describe)
            .collect();
        let pending: Vec<String> = plan.changes[failure.applied..]
            .iter()
            .map(describe)
            .collect();
        ui.status(&format!(
            "applied: {}",
            if applied.is_empty() {
                "nothing".to_string()
            } else {
                applied.join(", ")
            }
        ));
        ui.status(&format!("not applied: {}", pending.join(", ")));
        return Err(anyhow::Error::new(failure).context(format!(
            "dns-up on zone `{}` ({}) stopped part-way; a re-run converges",
            plan.zone,
            provider.name()
        )));
    }
    ui.status(&format!(
        "applied {} changes to zone {} ({} HTTP requests)",
        plan.changes.len(),
        plan.zone,
        provider.requests()
    ));
    Ok(Outcome::Done)
}

fn describe(change: &plan::Change) -> String {
    format!(
        "{}{} {}",
        change.sign(),
        change.rrset().name,
        change.rrset().record_type
    )
}
