//! The plan as text (grouped by name), JSON (the stable schema in the README) and Markdown.

use std::fmt::Write as _;

use serde::Serialize;

use super::Rrset;
use super::plan::{Change, Conflict, Plan, Summary};
use super::stage::{DnsPlan, ZonePlan};

fn values(rrset: &Rrset) -> String {
    let proxied = if rrset.proxied == Some(true) {
        " (proxied)"
    } else {
        ""
    };
    format!("{}{proxied}", rrset.values.join(", "))
}

/// The TTL and values of a change; an update shows `old → new` for what differs.
fn ttl_and_values(change: &Change) -> (String, String) {
    match change {
        Change::Create { rrset } | Change::Delete { rrset } => {
            (rrset.ttl.to_string(), values(rrset))
        }
        Change::Own { rrset } => (
            rrset.ttl.to_string(),
            format!("{} (ownership mark only)", values(rrset)),
        ),
        Change::Update { old, new } => {
            let ttl = if old.ttl == new.ttl {
                new.ttl.to_string()
            } else {
                format!("{} → {}", old.ttl, new.ttl)
            };
            let shown = if old.values == new.values && old.proxied == new.proxied {
                values(new)
            } else {
                format!("{} → {}", values(old), values(new))
            };
            (ttl, shown)
        }
    }
}

pub fn summary_line(summary: &Summary) -> String {
    let conflicts = if summary.conflicts > 0 {
        format!(", {}", crate::ui::counted(summary.conflicts, "conflict"))
    } else {
        String::new()
    };
    let owns = if summary.owns > 0 {
        format!(", {} to mark as owned", summary.owns)
    } else {
        String::new()
    };
    format!(
        "{} to create, {} to update, {} to delete{owns}, {} unchanged{conflicts}",
        summary.creates, summary.updates, summary.deletes, summary.unchanged
    )
}

/// Every zone's changes, then one checksum (and, with several zones, the total).
pub fn text(plan: &DnsPlan) -> String {
    let mut out = String::new();
    for zone in &plan.zones {
        out.push_str(&zone_text(zone, plan.named));
    }
    if plan.zones.len() > 1 {
        out.push_str(&format!("all zones: {}\n", summary_line(&total(plan))));
    }
    out.push_str(&format!("checksum {}\n", plan.checksum));
    out
}

fn total(plan: &DnsPlan) -> Summary {
    Summary::total(plan.zones.iter().map(|zone| &zone.plan))
}

fn title(zone: &ZonePlan, named: bool) -> String {
    if named {
        format!("{}: {} ({})", zone.name, zone.plan.zone, zone.provider)
    } else {
        format!("{} ({})", zone.plan.zone, zone.provider)
    }
}

/// `+` create, `~` update (old → new), `-` delete, `*` ownership only, `!` conflict; one block
/// per name.
fn zone_text(zone: &ZonePlan, named: bool) -> String {
    let plan = &zone.plan;
    let mut out = format!("zone {}\n", title(zone, named));
    // One pass groups the changes by name (in plan order within a name): a filter of all the
    // changes for each name was quadratic, 140 ms of a 5,000-service first sync.
    let mut by_name: std::collections::BTreeMap<&str, Vec<&Change>> =
        std::collections::BTreeMap::new();
    for change in &plan.changes {
        by_name
            .entry(change.rrset().name.as_str())
            .or_default()
            .push(change);
    }
    let mut by_name: Vec<(&str, Vec<&Change>)> = by_name.into_iter().collect();
    by_name.sort_by(|(a, _), (b, _)| crate::natural::compare(a, b));
    for (name, changes) in by_name {
        // Written in place: a first sync of 5,000 services prints 6,000 lines.
        let _ = writeln!(out, "  {name}");
        for change in changes {
            let (ttl, shown) = ttl_and_values(change);
            let record_type = &change.rrset().record_type;
            let _ = writeln!(out, "    {} {record_type} {ttl} {shown}", change.sign());
        }
    }
    for conflict in &plan.conflicts {
        out.push_str(&format!("  ! {}\n", conflict_text(conflict)));
    }
    if plan.changes.is_empty() && plan.conflicts.is_empty() {
        out.push_str("  no changes\n");
    }
    out.push_str(&summary_line(&plan.summary()));
    out.push('\n');
    out
}

fn conflict_text(conflict: &Conflict) -> String {
    let (name, kind) = (&conflict.wanted.name, &conflict.foreign.record_type);
    let held = values(&conflict.foreign);
    match &conflict.owner {
        Some(owner) => format!(
            "{name} {kind}: held by owner `{owner}` ({held}); another catalog's record is never taken over"
        ),
        None if conflict.wanted == conflict.foreign => format!(
            "{name} {kind}: the same records exist ({held}), not owned by boma; --adopt takes ownership"
        ),
        None => format!(
            "{name} {kind}: held by a record boma does not own ({held}); --adopt takes it over"
        ),
    }
}

#[derive(Serialize)]
struct Json<'a> {
    #[serde(skip_serializing_if = "Option::is_none")]
    name: Option<&'a str>,
    zone: &'a str,
    provider: &'a str,
    checksum: &'a str,
    summary: Summary,
    changes: &'a [Change],
    conflicts: &'a [Conflict],
}

fn zone_json<'a>(zone: &'a ZonePlan, named: bool) -> Json<'a> {
    Json {
        name: named.then_some(zone.name.as_str()),
        zone: &zone.plan.zone,
        provider: zone.provider,
        checksum: &zone.plan.checksum,
        summary: zone.plan.summary(),
        changes: &zone.plan.changes,
        conflicts: &zone.plan.conflicts,
    }
}

/// The single-zone form keeps its one-zone document; `[dns.zones]` catalogs get every zone under
/// `zones`, with the checksum and summary over all of them.
pub fn json(plan: &DnsPlan) -> serde_json::Value {
    let value = match plan.zones.as_slice() {
        [zone] if !plan.named => serde_json::to_value(zone_json(zone, false)),
        zones => serde_json::to_value(serde_json::json!({
            "checksum": plan.checksum,
            "summary": total(plan),
            "zones": zones.iter().map(|zone| zone_json(zone, true)).collect::<Vec<_>>(),
        })),
    };
    value.unwrap_or_default()
}

/// A table per zone for a pull-request comment.
pub fn markdown(plan: &DnsPlan) -> String {
    let mut out = String::new();
    for zone in &plan.zones {
        out.push_str(&zone_markdown(zone, plan.named));
    }
    let summary = if plan.zones.len() > 1 {
        total(plan)
    } else {
        plan.zones
            .first()
            .map(|zone| zone.plan.summary())
            .unwrap_or_default()
    };
    out.push_str(&format!(
        "**{}** · checksum `{}`\n",
        summary_line(&summary),
        plan.checksum
    ));
    out
}

fn zone_markdown(zone: &ZonePlan, named: bool) -> String {
    let plan: &Plan = &zone.plan;
    let cell = |text: String| text.replace('|', "\\|");
    let heading = if named {
        format!("`{}`: `{}` ({})", zone.name, plan.zone, zone.provider)
    } else {
        format!("`{}` ({})", plan.zone, zone.provider)
    };
    let mut out = format!("### DNS plan for {heading}\n\n");
    if plan.changes.is_empty() && plan.conflicts.is_empty() {
        out.push_str("No changes.\n\n");
    } else {
        out.push_str("| | name | type | TTL | values |\n| --- | --- | --- | --- | --- |\n");
        for change in &plan.changes {
            let (ttl, shown) = ttl_and_values(change);
            let sign = change.sign();
            let rrset = change.rrset();
            out.push_str(&format!(
                "| {sign} | {} | {} | {ttl} | {} |\n",
                rrset.name,
                rrset.record_type,
                cell(shown)
            ));
        }
        for conflict in &plan.conflicts {
            let owner = conflict.owner.as_ref().map_or_else(
                || "not owned by boma".to_string(),
                |owner| format!("owner `{owner}`"),
            );
            out.push_str(&format!(
                "| ! | {} | {} | {} | {owner}: {} |\n",
                conflict.wanted.name,
                conflict.foreign.record_type,
                conflict.foreign.ttl,
                cell(values(&conflict.foreign))
            ));
        }
        out.push('\n');
    }
    out
}
