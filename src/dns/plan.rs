//! The change set between the records the catalog wants and the zone as it is: pure, printable,
//! with a checksum so that `dns-up --checksum` applies exactly what was reviewed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Rrset;
use super::ownership::{
    Keeping, Mark, Owner, Owners, is_marker, is_marker_name, marked_name, marker_name,
};

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Change {
    Create {
        rrset: Rrset,
    },
    Update {
        old: Rrset,
        new: Rrset,
    },
    Delete {
        rrset: Rrset,
    },
    /// The records stay as they are; only boma's ownership mark is written (taking records
    /// over with `--adopt`, or a mark in an older format rewritten).
    Own {
        rrset: Rrset,
    },
}

impl Change {
    /// The rrset the zone ends up with (create, update, own) or loses (delete).
    pub fn rrset(&self) -> &Rrset {
        match self {
            Self::Create { rrset } | Self::Delete { rrset } | Self::Own { rrset } => rrset,
            Self::Update { new, .. } => new,
        }
    }

    /// `+` create, `~` update, `-` delete, `*` ownership only: how plans show the action.
    pub fn sign(&self) -> char {
        match self {
            Self::Create { .. } => '+',
            Self::Update { .. } => '~',
            Self::Delete { .. } => '-',
            Self::Own { .. } => '*',
        }
    }

    /// Where the change goes in an apply. Where ownership is kept in the record itself (a
    /// comment) or the zone is boma's whole: creates at names nothing is deleted from first (a
    /// name never stops resolving: a `*.ZONE` wildcard is in place before the names it replaces
    /// go), then deletes, updates, and the creates that need a delete first (a name switching
    /// between A and CNAME). With marker records (Gandi), whose changes apply one by one: deletes,
    /// then updates (the markers among them), then creates, so a record never exists without
    /// its mark nor a mark names a record that is gone only after it went.
    fn order(&self, deleted: &BTreeSet<&str>, keeping: Keeping) -> u8 {
        match (self, keeping) {
            (Self::Delete { .. }, Keeping::Markers) => 0,
            (Self::Update { .. } | Self::Own { .. }, Keeping::Markers) => 1,
            (Self::Create { .. }, Keeping::Markers) => 2,
            (Self::Create { rrset }, _) if !deleted.contains(rrset.name.as_str()) => 0,
            (Self::Delete { .. }, _) => 1,
            (Self::Update { .. } | Self::Own { .. }, _) => 2,
            (Self::Create { .. }, _) => 3,
        }
    }
}

/// A declared rrset that a record boma does not own stands in the way of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub wanted: Rrset,
    pub foreign: Rrset,
    /// The other catalog's `[dns].owner`, when the record is another catalog's; `None` for a
    /// record no boma marks (`--adopt` takes only those).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub owner: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Plan {
    pub zone: String,
    pub changes: Vec<Change>,
    pub conflicts: Vec<Conflict>,
    pub unchanged: usize,
    /// Rrsets boma owns in the zone now (ownership markers not counted).
    pub owned: usize,
    pub checksum: String,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Summary {
    pub creates: usize,
    pub updates: usize,
    pub deletes: usize,
    /// Ownership marks written on records that stay as they are.
    #[serde(skip_serializing_if = "is_zero")]
    pub owns: usize,
    pub unchanged: usize,
    pub conflicts: usize,
}

impl Summary {
    /// The sum over several zones' plans.
    pub fn total<'p>(plans: impl IntoIterator<Item = &'p Plan>) -> Self {
        let mut total = Self::default();
        for summary in plans.into_iter().map(Plan::summary) {
            total.creates += summary.creates;
            total.updates += summary.updates;
            total.deletes += summary.deletes;
            total.owns += summary.owns;
            total.unchanged += summary.unchanged;
            total.conflicts += summary.conflicts;
        }
        total
    }
}

fn is_zero(count: &usize) -> bool {
    *count == 0
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    pub purge: bool,
    pub adopt: bool,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let count = |wanted: fn(&Change) -> bool| self.changes.iter().filter(|c| wanted(c)).count();
        Summary {
            creates: count(|c| matches!(c, Change::Create { .. })),
            updates: count(|c| matches!(c, Change::Update { .. })),
            deletes: count(|c| matches!(c, Change::Delete { .. })),
            owns: count(|c| matches!(c, Change::Own { .. })),
            unchanged: self.unchanged,
            conflicts: self.conflicts.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Updates and deletes of real records (ownership data aside), as a share of the owned
    /// records.
    pub fn change_percent(&self) -> Option<u64> {
        let destructive = self
            .changes
            .iter()
            .filter(|change| {
                matches!(change, Change::Update { .. } | Change::Delete { .. })
                    && !is_marker_name(&change.rrset().name)
            })
            .count();
        (self.owned > 0).then(|| (destructive as u64 * 100).div_ceil(self.owned as u64))
    }
}

/// Computes the plan. `desired` comes from the catalog, `existing` from the provider, `owners`
/// says whose each existing rrset is.
pub fn plan(
    zone: &str,
    desired: &[Rrset],
    existing: &[Rrset],
    owners: &Owners,
    options: &Options,
) -> Plan {
    let keeping = owners.keeping();
    let wanted: BTreeMap<(&str, &str), &Rrset> =
        desired.iter().map(|rrset| (rrset.key(), rrset)).collect();
    // Marker rrsets are ownership data, planned apart from the records (a zone file has none).
    let (markers, records): (Vec<&Rrset>, Vec<&Rrset>) = existing
        .iter()
        .partition(|rrset| keeping != Keeping::Whole && is_marker(rrset));
    let current: BTreeMap<(&str, &str), &Rrset> =
        records.iter().map(|rrset| (rrset.key(), *rrset)).collect();
    let mut at_name: BTreeMap<&str, Vec<&Rrset>> = BTreeMap::new();
    for rrset in &records {
        at_name.entry(&rrset.name).or_default().push(rrset);
    }
    let take = |owner: &Owner, purging: bool| match owner {
        Owner::Mine { .. } => true,
        Owner::Nobody => options.adopt || purging,
        Owner::Other(_) => false,
    };
    let conflict = |wanted: &Rrset, foreign: &Rrset, owner: Owner| Conflict {
        wanted: wanted.clone(),
        foreign: foreign.clone(),
        owner: match owner {
            Owner::Other(owner) => Some(owner),
            _ => None,
        },
    };

    let mut changes = Vec::new();
    let mut conflicts = Vec::new();
    let mut unchanged = 0;
    let mut deleted: BTreeSet<(&str, &str)> = BTreeSet::new();
    // Declared rrsets boma does not get to write: their types stay out of its markers.
    let mut refused: BTreeSet<(&str, &str)> = BTreeSet::new();
    for rrset in wanted.values() {
        // Records of another type that cannot share the name with this one (CNAME exclusivity).
        let neighbours = at_name
            .get(rrset.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        for &other in neighbours
            .iter()
            .filter(|other| clashes(&other.record_type, &rrset.record_type))
        {
            if wanted.contains_key(&other.key()) {
                continue;
            }
            let owner = owners.of(other);
            if take(&owner, options.purge) {
                if deleted.insert(other.key()) {
                    changes.push(Change::Delete {
                        rrset: other.clone(),
                    });
                }
            } else {
                refused.insert(rrset.key());
                conflicts.push(conflict(rrset, other, owner));
            }
        }
        let Some(old) = current.get(&rrset.key()) else {
            changes.push(Change::Create {
                rrset: (*rrset).clone(),
            });
            continue;
        };
        let owner = owners.of(old);
        let same = *old == *rrset;
        match owner {
            Owner::Mine { current: true } if same => unchanged += 1,
            // Markers hold the ownership: the marker rrset is planned below.
            _ if same && keeping == Keeping::Markers && take(&owner, false) => unchanged += 1,
            _ if same && take(&owner, false) => changes.push(Change::Own {
                rrset: (*rrset).clone(),
            }),
            _ if take(&owner, false) => changes.push(Change::Update {
                old: (*old).clone(),
                new: (*rrset).clone(),
            }),
            owner => {
                refused.insert(rrset.key());
                conflicts.push(conflict(rrset, old, owner));
            }
        }
    }
    for rrset in &records {
        let key = rrset.key();
        if wanted.contains_key(&key)
            || deleted.contains(&key)
            || (keeping != Keeping::Whole && is_zone_infrastructure(zone, rrset))
        {
            continue;
        }
        let delete = match owners.of(rrset) {
            Owner::Mine { .. } => true,
            Owner::Nobody => options.purge,
            Owner::Other(_) => false,
        };
        if delete {
            changes.push(Change::Delete {
                rrset: (*rrset).clone(),
            });
        }
    }
    if keeping == Keeping::Markers {
        changes.extend(marker_changes(desired, &refused, &markers, owners));
    }
    sort_for_apply(&mut changes, keeping);
    match keeping {
        Keeping::Whole | Keeping::Markers => {}
        // Markers older boma left go last: a write cut short keeps the old ownership.
        Keeping::Metadata => changes.extend(
            markers
                .iter()
                .filter(|marker| {
                    marker
                        .values
                        .iter()
                        .filter_map(|value| Mark::parse(value))
                        .all(|mark| mark.owner.is_none())
                })
                .map(|marker| Change::Delete {
                    rrset: (*marker).clone(),
                }),
        ),
    }
    let owned_count = records
        .iter()
        .filter(|rrset| matches!(owners.of(rrset), Owner::Mine { .. }))
        .count();
    let checksum = checksum(zone, &changes);
    Plan {
        zone: zone.to_string(),
        changes,
        conflicts,
        unchanged,
        owned: owned_count,
        checksum,
    }
}

/// The marker rrsets the zone should hold: at each managed name, this catalog's mark listing
/// the types it writes there, beside the marks of other owners (kept as they are).
fn marker_changes(
    desired: &[Rrset],
    refused: &BTreeSet<(&str, &str)>,
    live: &[&Rrset],
    owners: &Owners,
) -> Vec<Change> {
    let mut types: BTreeMap<String, BTreeSet<&str>> = BTreeMap::new();
    for rrset in desired
        .iter()
        .filter(|rrset| !refused.contains(&rrset.key()))
    {
        types
            .entry(rrset.name.clone())
            .or_default()
            .insert(&rrset.record_type);
    }
    let live: BTreeMap<String, &Rrset> = live
        .iter()
        .filter_map(|rrset| Some((marked_name(&rrset.name)?, *rrset)))
        .collect();
    let names: BTreeSet<&String> = types.keys().chain(live.keys()).collect();
    let mut changes = Vec::new();
    for name in names {
        let mut values = owners.others_at(name);
        if let Some(mine) = types.get(name) {
            let mine: Vec<&str> = mine.iter().copied().collect();
            values.push(Mark::text(owners.owner(), &mine));
        }
        let marker = marker_name(name);
        match (live.get(name), values.is_empty()) {
            (None, true) => {}
            (None, false) => changes.push(Change::Create {
                rrset: Rrset::new(&marker, "TXT", MARKER_TTL, values),
            }),
            (Some(old), true) => changes.push(Change::Delete {
                rrset: (*old).clone(),
            }),
            (Some(old), false) => {
                let new = Rrset::new(&marker, "TXT", old.ttl, values);
                if **old != new {
                    changes.push(Change::Update {
                        old: (*old).clone(),
                        new,
                    });
                }
            }
        }
    }
    changes
}

const MARKER_TTL: u32 = 300;

/// The changes in the order an apply makes them (see `Change::order`), each group by name.
fn sort_for_apply(changes: &mut [Change], keeping: Keeping) {
    let deleted: BTreeSet<String> = changes
        .iter()
        .filter(|change| matches!(change, Change::Delete { .. }))
        .map(|change| change.rrset().name.clone())
        .collect();
    let deleted: BTreeSet<&str> = deleted.iter().map(String::as_str).collect();
    changes.sort_by(|a, b| {
        let order = |change: &Change| change.order(&deleted, keeping);
        order(a)
            .cmp(&order(b))
            .then_with(|| a.rrset().order(b.rrset()))
    });
}

fn clashes(existing: &str, wanted: &str) -> bool {
    existing != wanted && (existing == "CNAME" || wanted == "CNAME")
}

/// SOA and the apex NS belong to whoever runs a shared zone, never to a sync (a zone file is
/// boma's own: there the catalog's NS records are the zone's).
pub fn is_zone_infrastructure(zone: &str, rrset: &Rrset) -> bool {
    rrset.record_type == "SOA" || (rrset.record_type == "NS" && rrset.name == zone)
}

fn checksum(zone: &str, changes: &[Change]) -> String {
    let mut hasher = Sha256::new();
    hasher.update(zone.as_bytes());
    let mut line = Vec::new();
    for change in changes {
        line.clear();
        // Writing to a Vec fails only for a value JSON cannot hold; a change has none.
        let _ = serde_json::to_writer(&mut line, change);
        hasher.update(&line);
        hasher.update(b"\n");
    }
    hex::encode(&hasher.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;

    const ZONE: &str = "example.org";
    const MINE: &str = "heritage=boma v=2 owner=lab";

    fn a(name: &str, ip: &str) -> Rrset {
        Rrset::new(name, "A", 300, vec![ip.to_string()])
    }

    #[test]
    fn a_wildcard_is_created_before_the_names_it_replaces_go_and_a_type_switch_deletes_first() {
        let cname = Rrset::new(
            "app.example.org",
            "CNAME",
            300,
            vec!["edge.fly.dev.".into()],
        );
        let mut changes = vec![
            Change::Delete {
                rrset: a("grafana.ops.example.org", "100.64.0.1"),
            },
            Change::Create { rrset: cname },
            Change::Delete {
                rrset: a("app.example.org", "203.0.113.7"),
            },
            Change::Create {
                rrset: a("*.ops.example.org", "100.64.0.1"),
            },
            Change::Delete {
                rrset: a("forge.ops.example.org", "100.64.0.1"),
            },
        ];
        sort_for_apply(&mut changes, Keeping::Metadata);
        let order: Vec<String> = changes
            .iter()
            .map(|change| {
                format!(
                    "{} {} {}",
                    change.sign(),
                    change.rrset().name,
                    change.rrset().record_type
                )
            })
            .collect();
        assert_eq!(
            order,
            [
                "+ *.ops.example.org A",
                "- app.example.org A",
                "- forge.ops.example.org A",
                "- grafana.ops.example.org A",
                "+ app.example.org CNAME",
            ]
        );
    }

    fn cname(name: &str, target: &str) -> Rrset {
        Rrset::new(name, "CNAME", 300, vec![target.to_string()])
    }

    fn marker(name: &str, value: &str) -> Rrset {
        Rrset::new(
            &format!("_boma.{name}"),
            "TXT",
            300,
            vec![value.to_string()],
        )
    }

    fn shared() -> Options {
        Options {
            purge: false,
            adopt: false,
        }
    }

    /// A plan against a zone that keeps ownership in `keeping`; `marks` are metadata marks.
    fn plan_in(
        keeping: Keeping,
        desired: &[Rrset],
        existing: &[Rrset],
        marks: &[(&str, &str, &str)],
        options: &Options,
    ) -> Plan {
        let metadata: HashMap<(String, String), Vec<String>> = marks
            .iter()
            .map(|(name, kind, mark)| {
                ((name.to_string(), kind.to_string()), vec![mark.to_string()])
            })
            .collect();
        let owners = Owners::new(keeping, "lab", existing, metadata);
        plan(ZONE, desired, existing, &owners, options)
    }

    fn markers_plan(desired: &[Rrset], existing: &[Rrset], options: &Options) -> Plan {
        plan_in(Keeping::Markers, desired, existing, &[], options)
    }

    fn actions(plan: &Plan) -> Vec<String> {
        plan.changes
            .iter()
            .map(|change| {
                format!(
                    "{} {} {}",
                    change.sign(),
                    change.rrset().name,
                    change.rrset().record_type
                )
            })
            .collect()
    }

    #[test]
    fn first_sync_creates_records_and_markers_naming_the_owner() {
        let plan = markers_plan(&[a("app.example.org", "192.0.2.1")], &[], &shared());
        assert_eq!(
            actions(&plan),
            ["+ _boma.app.example.org TXT", "+ app.example.org A"]
        );
        assert_eq!(
            plan.changes[0].rrset().values,
            ["heritage=boma v=2 owner=lab types=A"]
        );
        assert_eq!(plan.summary().creates, 2);
    }

    #[test]
    fn metadata_providers_get_no_marker_rrsets() {
        let plan = plan_in(
            Keeping::Metadata,
            &[a("app.example.org", "192.0.2.1")],
            &[],
            &[],
            &shared(),
        );
        assert_eq!(actions(&plan), ["+ app.example.org A"]);
        let again = plan_in(
            Keeping::Metadata,
            &[a("app.example.org", "192.0.2.1")],
            &[a("app.example.org", "192.0.2.1")],
            &[("app.example.org", "A", MINE)],
            &shared(),
        );
        assert!(again.is_empty(), "{:?}", again.changes);
        assert_eq!(again.unchanged, 1);
    }

    #[test]
    fn second_sync_is_empty() {
        let desired = [a("app.example.org", "192.0.2.1")];
        let existing = [
            a("app.example.org", "192.0.2.1"),
            marker("app.example.org", "heritage=boma v=2 owner=lab types=A"),
        ];
        let plan = markers_plan(&desired, &existing, &shared());
        assert!(plan.is_empty(), "{:?}", plan.changes);
        assert_eq!(plan.unchanged, 1);
    }

    #[test]
    fn older_markers_are_migrated_without_touching_records() {
        let desired = [a("app.example.org", "192.0.2.1")];
        let existing = [
            a("app.example.org", "192.0.2.1"),
            marker("app.example.org", "heritage=boma types=A"),
        ];
        let markers = markers_plan(&desired, &existing, &shared());
        assert_eq!(actions(&markers), ["~ _boma.app.example.org TXT"]);
        let metadata = plan_in(Keeping::Metadata, &desired, &existing, &[], &shared());
        assert_eq!(
            actions(&metadata),
            ["* app.example.org A", "- _boma.app.example.org TXT"],
            "the mark is written before the old marker goes"
        );
        assert_eq!(metadata.summary().owns, 1);
        assert_eq!(metadata.change_percent(), Some(0));
    }

    #[test]
    fn owned_records_removed_from_the_catalog_are_deleted_foreign_ones_kept() {
        let existing = [
            a("old.example.org", "192.0.2.1"),
            marker("old.example.org", "heritage=boma v=2 owner=lab types=A"),
            a("theirs.example.org", "192.0.2.9"),
        ];
        let plan = markers_plan(&[], &existing, &shared());
        assert_eq!(
            actions(&plan),
            ["- _boma.old.example.org TXT", "- old.example.org A"]
        );
    }

    #[test]
    fn another_owners_records_are_conflicts_never_adopted_purged_or_deleted() {
        let desired = [a("shared.example.org", "192.0.2.1")];
        let existing = [
            a("shared.example.org", "192.0.2.7"),
            a("other.example.org", "192.0.2.8"),
            marker(
                "shared.example.org",
                "heritage=boma v=2 owner=team-b types=A",
            ),
            marker(
                "other.example.org",
                "heritage=boma v=2 owner=team-b types=A",
            ),
        ];
        let everything = Options {
            purge: true,
            adopt: true,
        };
        let plan = markers_plan(&desired, &existing, &everything);
        assert_eq!(plan.conflicts.len(), 1);
        assert_eq!(plan.conflicts[0].owner.as_deref(), Some("team-b"));
        assert!(actions(&plan).is_empty(), "{:?}", actions(&plan));
        let metadata = plan_in(
            Keeping::Metadata,
            &desired,
            &existing[..2],
            &[
                ("shared.example.org", "A", "heritage=boma v=2 owner=team-b"),
                ("other.example.org", "A", "heritage=boma v=2 owner=team-b"),
            ],
            &everything,
        );
        assert_eq!(metadata.conflicts[0].owner.as_deref(), Some("team-b"));
        assert!(metadata.is_empty(), "{:?}", actions(&metadata));
    }

    #[test]
    fn two_owners_share_a_marker_rrset() {
        let desired = [Rrset::new(
            "app.example.org",
            "TXT",
            300,
            vec!["hello".into()],
        )];
        let existing = [
            a("app.example.org", "192.0.2.8"),
            marker("app.example.org", "heritage=boma v=2 owner=team-b types=A"),
        ];
        let plan = markers_plan(&desired, &existing, &shared());
        assert_eq!(
            actions(&plan),
            ["~ _boma.app.example.org TXT", "+ app.example.org TXT"]
        );
        assert_eq!(
            plan.changes[0].rrset().values,
            [
                "heritage=boma v=2 owner=lab types=TXT",
                "heritage=boma v=2 owner=team-b types=A"
            ]
        );
        // Removed from this catalog: only its own mark goes.
        let after = [
            existing[0].clone(),
            plan.changes[0].rrset().clone(),
            desired[0].clone(),
        ];
        let removed = markers_plan(&[], &after, &shared());
        assert_eq!(
            actions(&removed),
            ["- app.example.org TXT", "~ _boma.app.example.org TXT"]
        );
        assert_eq!(
            removed.changes[1].rrset().values,
            ["heritage=boma v=2 owner=team-b types=A"]
        );
    }

    #[test]
    fn purge_deletes_foreign_records_but_not_soa_or_apex_ns() {
        let existing = [
            a("theirs.example.org", "192.0.2.9"),
            Rrset::new(
                ZONE,
                "SOA",
                3600,
                vec!["ns1.example.org. h.example.org. 1 2 3 4 5".into()],
            ),
            Rrset::new(ZONE, "NS", 3600, vec!["ns1.example.net.".into()]),
        ];
        let plan = markers_plan(
            &[],
            &existing,
            &Options {
                purge: true,
                ..shared()
            },
        );
        assert_eq!(actions(&plan), ["- theirs.example.org A"]);
    }

    #[test]
    fn foreign_record_on_a_declared_name_is_a_conflict_until_adopted() {
        let desired = [a("app.example.org", "192.0.2.1")];
        let existing = [a("app.example.org", "198.51.100.1")];
        let conflicted = markers_plan(&desired, &existing, &shared());
        assert_eq!(conflicted.conflicts.len(), 1);
        assert_eq!(conflicted.conflicts[0].owner, None);
        assert!(actions(&conflicted).is_empty());
        let adopt = Options {
            adopt: true,
            ..shared()
        };
        let adopted = markers_plan(&desired, &existing, &adopt);
        assert!(adopted.conflicts.is_empty());
        assert_eq!(
            actions(&adopted),
            ["~ app.example.org A", "+ _boma.app.example.org TXT"]
        );
        // The same values: only ownership to take.
        let same = plan_in(Keeping::Metadata, &desired, &desired, &[], &shared());
        assert_eq!(same.conflicts.len(), 1);
        let taken = plan_in(Keeping::Metadata, &desired, &desired, &[], &adopt);
        assert_eq!(actions(&taken), ["* app.example.org A"]);
    }

    #[test]
    fn switching_a_name_from_a_to_cname_deletes_first() {
        let desired = [cname("app.example.org", "edge.fly.dev")];
        let existing = [
            a("app.example.org", "192.0.2.1"),
            marker("app.example.org", "heritage=boma v=2 owner=lab types=A"),
        ];
        let plan = markers_plan(&desired, &existing, &shared());
        assert_eq!(
            actions(&plan),
            [
                "- app.example.org A",
                "~ _boma.app.example.org TXT",
                "+ app.example.org CNAME"
            ]
        );
    }

    #[test]
    fn zone_files_need_no_markers() {
        let existing = [a("gone.example.org", "192.0.2.1")];
        let plan = plan_in(
            Keeping::Whole,
            &[a("app.example.org", "192.0.2.1")],
            &existing,
            &[],
            &shared(),
        );
        assert_eq!(
            actions(&plan),
            ["+ app.example.org A", "- gone.example.org A"]
        );
    }

    #[test]
    fn change_percent_counts_updates_and_deletes_of_owned_records() {
        let existing: Vec<Rrset> = (0..10)
            .map(|i| a(&format!("h{i}.example.org"), "192.0.2.1"))
            .collect();
        let desired: Vec<Rrset> = (0..8)
            .map(|i| a(&format!("h{i}.example.org"), "192.0.2.1"))
            .collect();
        let plan = plan_in(Keeping::Whole, &desired, &existing, &[], &shared());
        assert_eq!(plan.change_percent(), Some(20));
    }

    #[test]
    fn checksum_changes_with_the_plan() {
        let one = markers_plan(&[a("a.example.org", "192.0.2.1")], &[], &shared());
        let same = markers_plan(&[a("a.example.org", "192.0.2.1")], &[], &shared());
        let other = markers_plan(&[a("a.example.org", "192.0.2.2")], &[], &shared());
        assert_eq!(one.checksum, same.checksum);
        assert_ne!(one.checksum, other.checksum);
        assert_eq!(one.checksum.len(), 16);
    }
}
