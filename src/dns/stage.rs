//! The DNS stage: read every zone, plan each against the catalog's records for it, apply the
//! change sets. Zones at different providers are read and written side by side.

use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

use anyhow::Context as _;

use super::ownership::Owners;
use super::plan::{self, Plan};
use super::providers::{self, Provider};
use super::{DnsError, Rrset, desired, report};
use crate::Outcome;
use crate::catalog::{Catalog, Zone};
use crate::stage::{Context, PartWay, Refusal, Stage, Summary};
use crate::ui::{Log, Report};

/// The DNS stage with its command-line choices.
pub struct DnsStage {
    pub adopt: bool,
    pub create_zone: bool,
    /// Apply even beyond a zone's `max_change_percent`.
    pub force: bool,
    /// `--zone NAME`: only that zone.
    pub only: Option<String>,
    /// The zones as planned, in plan order: what apply writes with.
    zones: Vec<Zoned>,
}

impl DnsStage {
    pub fn new(adopt: bool, create_zone: bool, force: bool, only: Option<String>) -> Self {
        Self {
            adopt,
            create_zone,
            force,
            only,
            zones: Vec::new(),
        }
    }
}

/// One zone as planned: its settings, its open provider and what the plan compared (kept so a
/// write that timed out can be re-planned).
struct Zoned {
    settings: Zone,
    provider: Box<dyn Provider>,
    wanted: Vec<Rrset>,
    owner: String,
    options: plan::Options,
}

/// The plans of every zone, with one checksum over all of them.
pub struct DnsPlan {
    pub zones: Vec<ZonePlan>,
    /// The catalog names its zones (`[dns.zones.NAME]`): reports list them by name.
    pub named: bool,
    pub checksum: String,
}

/// A zone's plan with the provider it was read from.
pub struct ZonePlan {
    /// `NAME` of `[dns.zones.NAME]` (the domain in the single-zone form).
    pub name: String,
    pub provider: &'static str,
    pub max_change_percent: u8,
    pub plan: Plan,
}

impl Report for DnsPlan {
    fn text(&self) -> String {
        report::text(self)
    }
    fn json(&self) -> serde_json::Value {
        report::json(self)
    }
    fn markdown(&self) -> String {
        report::markdown(self)
    }
}

/// What `dns-up` sent: a line per zone on stderr, no data (the plan printed before is the data).
pub struct DnsApplied {
    lines: Vec<String>,
}

impl Report for DnsApplied {
    fn text(&self) -> String {
        String::new()
    }
    fn json(&self) -> serde_json::Value {
        serde_json::Value::Null
    }
    fn summary(&self) -> Option<String> {
        Some(self.lines.join("\n"))
    }
}

impl Stage for DnsStage {
    const NAME: &'static str = "dns";
    const PREVIEW: &'static str = "dns-preview";
    const SHOW_PLAN_BEFORE_APPLY: bool = true;
    type Plan = DnsPlan;
    type Applied = DnsApplied;

    fn plan(&mut self, cx: &Context<'_>) -> anyhow::Result<DnsPlan> {
        let dns = cx.catalog.dns.as_ref().ok_or(DnsError::NoDnsSection)?;
        let selected = select(dns, self.only.as_deref())?;
        let spinner = cx.ui.spinner(&match selected.as_slice() {
            [zone] => format!(
                "reading zone {} from {}",
                zone.zone,
                crate::catalog::provider_name(zone.provider)
            ),
            zones => format!("reading {} zones", zones.len()),
        });
        let read = Read {
            catalog: cx.catalog,
            owner: &dns.owner,
            create_zone: self.create_zone,
            adopt: self.adopt,
        };
        let ui = cx.ui;
        let results = side_by_side(&selected, |_, zone| read.zone(zone, ui.logger()));
        spinner.finish();
        let mut zones = Vec::new();
        let mut plans = Vec::new();
        for result in results {
            let (zoned, plan) = result?;
            cx.ui.debug(&format!(
                "zone {}: {}",
                zoned.settings.name,
                crate::ui::counted(zoned.provider.requests(), "HTTP request")
            ));
            plans.push(ZonePlan {
                name: zoned.settings.name.clone(),
                provider: zoned.provider.name(),
                max_change_percent: zoned.settings.max_change_percent,
                plan,
            });
            zones.push(zoned);
        }
        self.zones = zones;
        let checksum = match plans.as_slice() {
            [one] if !dns.named_zones => one.plan.checksum.clone(),
            plans => crate::stage::digest(
                plans
                    .iter()
                    .flat_map(|zone| [zone.name.as_str(), zone.plan.checksum.as_str()]),
            ),
        };
        Ok(DnsPlan {
            zones: plans,
            named: dns.named_zones,
            checksum,
        })
    }

    fn summary(plan: &DnsPlan) -> Summary {
        let total = plan::Summary::total(plan.zones.iter().map(|zone| &zone.plan));
        Summary {
            create: total.creates,
            // A mark written is a change to the zone, as an update is.
            update: total.updates + total.owns,
            delete: total.deletes,
            unchanged: total.unchanged,
            conflict: total.conflicts,
            failed: 0,
        }
    }

    fn checksum(plan: &DnsPlan) -> String {
        plan.checksum.clone()
    }

    fn gate(&self, plan: &DnsPlan) -> Result<(), Refusal> {
        let conflicts: Vec<&plan::Conflict> = plan
            .zones
            .iter()
            .flat_map(|zone| &zone.plan.conflicts)
            .collect();
        // Another catalog's record is the example that matters most: --adopt cannot take it.
        let example = conflicts
            .iter()
            .find(|conflict| conflict.owner.is_some())
            .or(conflicts.first());
        if let Some(conflict) = example {
            return Err(Refusal::Conflicts {
                count: conflicts.len(),
                example: conflict.wanted.name.clone(),
                record_type: conflict.foreign.record_type.clone(),
                owner: conflict.owner.clone(),
            });
        }
        for zone in &plan.zones {
            let limit = zone.max_change_percent;
            let owned = zone.plan.owned;
            match zone.plan.change_percent() {
                Some(percent) if owned >= 10 && percent > u64::from(limit) && !self.force => {
                    return Err(Refusal::ChangeLimit {
                        percent,
                        owned,
                        limit,
                    });
                }
                _ => {}
            }
        }
        Ok(())
    }

    fn apply(&mut self, cx: &Context<'_>, plan: DnsPlan) -> anyhow::Result<DnsApplied> {
        let zones = std::mem::take(&mut self.zones);
        if zones.len() != plan.zones.len() {
            return Err(DnsError::NotPlanned.into());
        }
        let total: usize = plan.zones.iter().map(|zone| zone.plan.changes.len()).sum();
        let ui = cx.ui;
        let bar = ui.bar(total, "applying DNS changes");
        let done = AtomicUsize::new(0);
        let work: Vec<Mutex<(Zoned, Plan)>> = zones
            .into_iter()
            .zip(plan.zones)
            .map(|(zoned, zone)| Mutex::new((zoned, zone.plan)))
            .collect();
        let settings: Vec<Zone> = work
            .iter()
            .map(|slot| lock(slot).0.settings.clone())
            .collect();
        let selected: Vec<&Zone> = settings.iter().collect();
        let results = side_by_side(&selected, |index, _| {
            let mut slot = lock(&work[index]);
            let (zoned, plan) = &mut *slot;
            let mut reported = 0;
            let mut progress = |applied: usize| {
                let step = applied.saturating_sub(reported);
                reported = applied.max(reported);
                bar.set(done.fetch_add(step, Ordering::Relaxed) + step);
            };
            Ok(apply_zone(zoned, plan, &mut progress))
        });
        let results: Vec<ZoneApplied> = results
            .into_iter()
            .map(|result| result.unwrap_or_else(|error| Err((Vec::new(), error))))
            .collect();
        bar.finish();
        let mut lines = Vec::new();
        let mut failure = None;
        for result in results {
            match result {
                Ok(zone_lines) => lines.extend(zone_lines),
                Err((zone_lines, error)) => {
                    lines.extend(zone_lines);
                    match failure {
                        None => failure = Some(error),
                        // Only the first failure is the error; the others are lines of the report.
                        Some(_) => lines.push(format!("{error:#}")),
                    }
                }
            }
        }
        let applied = DnsApplied { lines };
        match failure {
            Some(error) => Err(PartWay::error(applied, error)),
            None => Ok(applied),
        }
    }

    fn outcome(_applied: &DnsApplied) -> Outcome {
        Outcome::Done
    }
}

fn lock<T>(slot: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    slot.lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// The zones to plan: all, or the one `--zone` names.
pub fn select<'d>(
    dns: &'d crate::catalog::Dns,
    only: Option<&str>,
) -> Result<Vec<&'d Zone>, crate::hint::UnknownName> {
    let Some(only) = only else {
        return Ok(dns.zones.iter().collect());
    };
    let given = only.trim_end_matches('.').to_ascii_lowercase();
    let known: Vec<&str> = dns.zones.iter().map(|zone| zone.name.as_str()).collect();
    crate::hint::check_known("zone", "zones", std::slice::from_ref(&given), &known)?;
    Ok(dns.zones.iter().filter(|zone| zone.name == given).collect())
}

/// Runs `work` on every zone and returns the results in zone order: zones at one provider (the
/// same kind and endpoint) one after another, different providers side by side.
pub fn side_by_side<T: Send>(
    zones: &[&Zone],
    work: impl Fn(usize, &Zone) -> anyhow::Result<T> + Sync,
) -> Vec<anyhow::Result<T>> {
    let endpoint = |zone: &Zone| {
        (
            zone.provider,
            zone.url.clone(),
            zone.path.as_ref().map(|_| zone.name.clone()),
        )
    };
    let mut groups: Vec<Vec<usize>> = Vec::new();
    for (index, zone) in zones.iter().enumerate() {
        match groups
            .iter_mut()
            .find(|group| endpoint(zones[group[0]]) == endpoint(zone))
        {
            Some(group) => group.push(index),
            None => groups.push(vec![index]),
        }
    }
    if groups.len() == 1 {
        return zones
            .iter()
            .enumerate()
            .map(|(index, zone)| work(index, zone))
            .collect();
    }
    let mut results: Vec<Option<anyhow::Result<T>>> = zones.iter().map(|_| None).collect();
    std::thread::scope(|scope| {
        let handles: Vec<_> = groups
            .iter()
            .map(|group| {
                let work = &work;
                scope.spawn(move || {
                    group
                        .iter()
                        .map(|&index| (index, work(index, zones[index])))
                        .collect::<Vec<_>>()
                })
            })
            .collect();
        for handle in handles {
            // A worker that panicked leaves its zones without a result, reported below.
            for (index, result) in handle.join().unwrap_or_default() {
                results[index] = Some(result);
            }
        }
    });
    results
        .into_iter()
        .map(|result| result.unwrap_or_else(|| Err(anyhow::anyhow!("a DNS worker thread stopped"))))
        .collect()
}

/// What reading a zone needs from the catalog and the command line.
struct Read<'a> {
    catalog: &'a Catalog,
    owner: &'a str,
    create_zone: bool,
    adopt: bool,
}

impl Read<'_> {
    /// Opens the zone's provider, reads the zone and plans it.
    fn zone(&self, zone: &Zone, log: Log) -> anyhow::Result<(Zoned, Plan)> {
        let mut provider = providers::open(zone, self.catalog, self.owner, self.create_zone, log)?;
        let live = provider.list().with_context(|| {
            format!("cannot read zone `{}` from {}", zone.zone, provider.name())
        })?;
        let wanted: Vec<Rrset> = desired(self.catalog, &zone.name)?
            .into_iter()
            .map(|rrset| provider.normalize(rrset))
            .collect();
        let options = plan::Options {
            purge: zone.purge,
            adopt: self.adopt,
        };
        let owners = Owners::new(provider.keeping(), self.owner, &live.rrsets, live.marks);
        let plan = plan::plan(&zone.zone, &wanted, &live.rrsets, &owners, &options);
        let zoned = Zoned {
            settings: zone.clone(),
            provider,
            wanted,
            owner: self.owner.to_string(),
            options,
        };
        Ok((zoned, plan))
    }
}

/// What one zone's apply says: its lines, or its lines and the error that stopped it.
type ZoneApplied = Result<Vec<String>, (Vec<String>, anyhow::Error)>;

/// Applies one zone's plan; a write that timed out is followed by one re-read and re-plan.
fn apply_zone(zoned: &mut Zoned, plan: &Plan, progress: &mut dyn FnMut(usize)) -> ZoneApplied {
    let provider_name = zoned.provider.name();
    if plan.is_empty() {
        return Ok(vec![format!("no changes for zone {}", plan.zone)]);
    }
    let mut lines = Vec::new();
    let mut result = zoned.provider.apply(&plan.changes, progress);
    let mut replanned = "";
    if let Err(failure) = &result
        && unsure_write(failure)
    {
        // The server may have applied the write that timed out: read the zone again and send
        // only what is still missing, once.
        lines.push("a write timed out; reading the zone again before going on".to_string());
        let again = match replan(zoned, &plan.zone) {
            Ok(again) => again,
            Err(error) => return Err((lines, error)),
        };
        replanned = " after re-reading the zone once";
        result = if again.is_empty() {
            Ok(())
        } else {
            zoned.provider.apply(&again.changes, &mut |_| {})
        };
    }
    if let Err(failure) = result {
        lines.extend(part_way(plan, &failure));
        return Err((lines, stopped(plan, provider_name, failure)));
    }
    lines.push(format!(
        "applied {} to zone {} ({}{replanned})",
        crate::ui::counted(plan.changes.len(), "change"),
        plan.zone,
        crate::ui::counted(zoned.provider.requests(), "HTTP request")
    ));
    Ok(lines)
}

/// The plan again, against the zone as it is now.
fn replan(zoned: &mut Zoned, zone: &str) -> anyhow::Result<Plan> {
    let live = zoned.provider.list()?;
    let owners = Owners::new(
        zoned.provider.keeping(),
        &zoned.owner,
        &live.rrsets,
        live.marks,
    );
    Ok(plan::plan(
        zone,
        &zoned.wanted,
        &live.rrsets,
        &owners,
        &zoned.options,
    ))
}

/// Whether the failure is a write that timed out (the server may have applied it).
fn unsure_write(failure: &providers::ApplyError) -> bool {
    failure.cause.chain().any(|cause| {
        cause
            .downcast_ref::<crate::http::HttpError>()
            .is_some_and(|error| error.unsure_write)
    })
}

/// What was and was not applied when a zone's apply stopped.
fn part_way(plan: &Plan, failure: &providers::ApplyError) -> [String; 2] {
    let listed = |changes: &[plan::Change]| {
        let names: Vec<String> = changes.iter().map(describe).collect();
        if names.is_empty() {
            "nothing".to_string()
        } else {
            names.join(", ")
        }
    };
    let applied = failure.applied.min(plan.changes.len());
    [
        format!("applied: {}", listed(&plan.changes[..applied])),
        format!("not applied: {}", listed(&plan.changes[applied..])),
    ]
}

/// The error a zone's apply stopped with, saying whether running again converges.
fn stopped(plan: &Plan, provider: &str, failure: providers::ApplyError) -> anyhow::Error {
    let applied = failure.applied.min(plan.changes.len());
    let what = if applied == 0 {
        "failed; nothing was applied".to_string()
    } else {
        "stopped part-way; a re-run converges".to_string()
    };
    anyhow::Error::new(failure).context(format!(
        "dns-up on zone `{}` ({provider}) {what}",
        plan.zone
    ))
}

fn describe(change: &plan::Change) -> String {
    format!(
        "{}{} {}",
        change.sign(),
        change.rrset().name,
        change.rrset().record_type
    )
}
