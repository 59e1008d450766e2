//! The change set between the records the catalog wants and the zone as it is: pure, printable,
//! with a checksum so that `dns-up --checksum` applies exactly what was reviewed.

use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use sha2::{Digest, Sha256};

use super::Rrset;

/// The label in front of a managed name that holds boma's ownership record.
pub const MARKER_LABEL: &str = "_boma";
const HERITAGE: &str = "heritage=boma";

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "action", rename_all = "lowercase")]
pub enum Change {
    Create { rrset: Rrset },
    Update { old: Rrset, new: Rrset },
    Delete { rrset: Rrset },
}

impl Change {
    /// The rrset the zone ends up with (create, update) or loses (delete).
    pub fn rrset(&self) -> &Rrset {
        match self {
            Self::Create { rrset } | Self::Delete { rrset } => rrset,
            Self::Update { new, .. } => new,
        }
    }

    /// `+` create, `~` update, `-` delete: how plans show the action.
    pub fn sign(&self) -> char {
        match self {
            Self::Create { .. } => '+',
            Self::Update { .. } => '~',
            Self::Delete { .. } => '-',
        }
    }

    fn order(&self) -> u8 {
        // Deletes first, then updates, then creates: a name can switch between A and CNAME.
        match self {
            Self::Delete { .. } => 0,
            Self::Update { .. } => 1,
            Self::Create { .. } => 2,
        }
    }
}

/// A declared rrset that a record boma does not own stands in the way of.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Conflict {
    pub wanted: Rrset,
    pub foreign: Rrset,
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
    pub unchanged: usize,
    pub conflicts: usize,
}

#[derive(Debug, Clone, Copy)]
pub struct Options {
    /// The provider's zone is boma's alone (zone files): no markers, everything is owned.
    pub owns_everything: bool,
    pub purge: bool,
    pub adopt: bool,
}

impl Plan {
    pub fn summary(&self) -> Summary {
        let count = |wanted: u8| {
            self.changes
                .iter()
                .filter(|change| change.order() == wanted)
                .count()
        };
        Summary {
            creates: count(2),
            updates: count(1),
            deletes: count(0),
            unchanged: self.unchanged,
            conflicts: self.conflicts.len(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.changes.is_empty()
    }

    /// Updates and deletes of real records (markers aside), as a share of the owned records.
    pub fn change_percent(&self) -> Option<u64> {
        let destructive = self
            .changes
            .iter()
            .filter(|change| {
                !matches!(change, Change::Create { .. }) && !is_marker_name(&change.rrset().name)
            })
            .count();
        (self.owned > 0).then(|| (destructive as u64 * 100).div_ceil(self.owned as u64))
    }
}

/// Computes the plan. `desired` comes from the catalog, `existing` from the provider.
pub fn plan(zone: &str, desired: &[Rrset], existing: &[Rrset], options: &Options) -> Plan {
    let mut wanted: BTreeMap<(String, String), Rrset> = desired
        .iter()
        .map(|rrset| {
            (
                (rrset.name.clone(), rrset.record_type.clone()),
                rrset.clone(),
            )
        })
        .collect();
    if !options.owns_everything {
        for marker in markers(desired) {
            wanted.insert((marker.name.clone(), marker.record_type.clone()), marker);
        }
    }
    let owned_types = owned_types(existing);
    let owned = |rrset: &Rrset| {
        options.owns_everything
            || is_boma_marker(rrset)
            || owned_types
                .get(&rrset.name)
                .is_some_and(|types| types.contains(&rrset.record_type))
    };
    let current: BTreeMap<(&str, &str), &Rrset> =
        existing.iter().map(|rrset| (rrset.key(), rrset)).collect();
    let mut at_name: BTreeMap<&str, Vec<&Rrset>> = BTreeMap::new();
    for rrset in existing {
        at_name.entry(&rrset.name).or_default().push(rrset);
    }

    let mut changes = Vec::new();
    let mut conflicts = Vec::new();
    let mut unchanged = 0;
    let mut deleted: BTreeSet<(String, String)> = BTreeSet::new();
    for rrset in wanted.values() {
        // Records of another type that cannot share the name with this one (CNAME exclusivity).
        let neighbours = at_name
            .get(rrset.name.as_str())
            .map_or(&[][..], Vec::as_slice);
        for &other in neighbours
            .iter()
            .filter(|other| clashes(&other.record_type, &rrset.record_type))
        {
            if wanted.contains_key(&(other.name.clone(), other.record_type.clone())) {
                continue;
            }
            if owned(other) || options.adopt || options.purge {
                if deleted.insert((other.name.clone(), other.record_type.clone())) {
                    changes.push(Change::Delete {
                        rrset: other.clone(),
                    });
                }
            } else {
                conflicts.push(Conflict {
                    wanted: rrset.clone(),
                    foreign: other.clone(),
                });
            }
        }
        match current.get(&rrset.key()) {
            None => changes.push(Change::Create {
                rrset: rrset.clone(),
            }),
            Some(old) if *old == rrset => unchanged += 1,
            Some(old) if owned(old) || options.adopt => changes.push(Change::Update {
                old: (*old).clone(),
                new: rrset.clone(),
            }),
            Some(old) => conflicts.push(Conflict {
                wanted: rrset.clone(),
                foreign: (*old).clone(),
            }),
        }
    }
    for rrset in existing {
        let key = (rrset.name.clone(), rrset.record_type.clone());
        if wanted.contains_key(&key)
            || deleted.contains(&key)
            || (!options.owns_everything && is_zone_infrastructure(zone, rrset))
        {
            continue;
        }
        if owned(rrset) || options.purge {
            changes.push(Change::Delete {
                rrset: rrset.clone(),
            });
        }
    }
    changes.sort_by(|a, b| (a.order(), a.rrset().key()).cmp(&(b.order(), b.rrset().key())));
    let owned_count = existing
        .iter()
        .filter(|rrset| owned(rrset) && !is_marker_name(&rrset.name))
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

/// One ownership TXT per managed name, listing the types boma manages there.
fn markers(desired: &[Rrset]) -> Vec<Rrset> {
    let mut types: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
    for rrset in desired {
        types
            .entry(&rrset.name)
            .or_default()
            .insert(&rrset.record_type);
    }
    types
        .into_iter()
        .map(|(name, types)| {
            let value = format!(
                "{HERITAGE} types={}",
                types.into_iter().collect::<Vec<_>>().join(",")
            );
            Rrset::new(&marker_name(name), "TXT", 300, vec![value])
        })
        .collect()
}

pub fn marker_name(name: &str) -> String {
    // A wildcard label must stay leftmost, so `*.x` is marked at `_boma._wildcard.x`.
    let name = name
        .strip_prefix("*.")
        .map_or_else(|| name.to_string(), |rest| format!("_wildcard.{rest}"));
    format!("{MARKER_LABEL}.{name}")
}

fn is_marker_name(name: &str) -> bool {
    name.starts_with("_boma.")
}

pub fn is_boma_marker(rrset: &Rrset) -> bool {
    rrset.record_type == "TXT"
        && is_marker_name(&rrset.name)
        && rrset.values.iter().any(|value| value.starts_with(HERITAGE))
}

/// Which types boma owns at each name, read from the markers in the zone.
fn owned_types(existing: &[Rrset]) -> BTreeMap<String, BTreeSet<String>> {
    let mut owned: BTreeMap<String, BTreeSet<String>> = BTreeMap::new();
    for marker in existing.iter().filter(|rrset| is_boma_marker(rrset)) {
        let Some(name) = marker.name.strip_prefix("_boma.") else {
            continue;
        };
        let name = name
            .strip_prefix("_wildcard.")
            .map_or_else(|| name.to_string(), |rest| format!("*.{rest}"));
        for value in &marker.values {
            let types = value
                .split_whitespace()
                .find_map(|field| field.strip_prefix("types="))
                .unwrap_or_default();
            owned.entry(name.clone()).or_default().extend(
                types
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_string),
            );
        }
    }
    owned
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
    for change in changes {
        hasher.update(serde_json::to_vec(change).unwrap_or_default());
        hasher.update(b"\n");
    }
    hex::encode(&hasher.finalize()[..8])
}

#[cfg(test)]
mod tests {
    use super::*;

    const ZONE: &str = "example.org";

    fn a(name: &str, ip: &str) -> Rrset {
        Rrset::new(name, "A", 300, vec![ip.to_string()])
    }

    fn cname(name: &str, target: &str) -> Rrset {
        Rrset::new(name, "CNAME", 300, vec![target.to_string()])
    }

    fn marker(name: &str, types: &str) -> Rrset {
        Rrset::new(
            &format!("_boma.{name}"),
            "TXT",
            300,
            vec![format!("heritage=boma types={types}")],
        )
    }

    fn shared() -> Options {
        Options {
            owns_everything: false,
            purge: false,
            adopt: false,
        }
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
    fn first_sync_creates_records_and_markers() {
        let plan = plan(ZONE, &[a("app.example.org", "192.0.2.1")], &[], &shared());
        assert_eq!(
            actions(&plan),
            ["+ _boma.app.example.org TXT", "+ app.example.org A"]
        );
        assert_eq!(plan.summary().creates, 2);
    }

    #[test]
    fn second_sync_is_empty() {
        let desired = [a("app.example.org", "192.0.2.1")];
        let existing = [
            a("app.example.org", "192.0.2.1"),
            marker("app.example.org", "A"),
        ];
        let plan = plan(ZONE, &desired, &existing, &shared());
        assert!(plan.is_empty(), "{:?}", plan.changes);
        assert_eq!(plan.unchanged, 2);
    }

    #[test]
    fn owned_records_removed_from_the_catalog_are_deleted_foreign_ones_kept() {
        let existing = [
            a("old.example.org", "192.0.2.1"),
            marker("old.example.org", "A"),
            a("theirs.example.org", "192.0.2.9"),
        ];
        let plan = plan(ZONE, &[], &existing, &shared());
        assert_eq!(
            actions(&plan),
            ["- _boma.old.example.org TXT", "- old.example.org A"]
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
        let plan = plan(
            ZONE,
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
        let conflicted = plan(ZONE, &desired, &existing, &shared());
        assert_eq!(conflicted.conflicts.len(), 1);
        assert_eq!(actions(&conflicted), ["+ _boma.app.example.org TXT"]);
        let adopted = plan(
            ZONE,
            &desired,
            &existing,
            &Options {
                adopt: true,
                ..shared()
            },
        );
        assert!(adopted.conflicts.is_empty());
        assert_eq!(
            actions(&adopted),
            ["~ app.example.org A", "+ _boma.app.example.org TXT"]
        );
    }

    #[test]
    fn switching_a_name_from_a_to_cname_deletes_first() {
        let desired = [cname("app.example.org", "edge.fly.dev")];
        let existing = [
            a("app.example.org", "192.0.2.1"),
            marker("app.example.org", "A"),
        ];
        let plan = plan(ZONE, &desired, &existing, &shared());
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
        let plan = plan(
            ZONE,
            &[a("app.example.org", "192.0.2.1")],
            &existing,
            &Options {
                owns_everything: true,
                ..shared()
            },
        );
        assert_eq!(
            actions(&plan),
            ["- gone.example.org A", "+ app.example.org A"]
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
        let plan = plan(
            ZONE,
            &desired,
            &existing,
            &Options {
                owns_everything: true,
                ..shared()
            },
        );
        assert_eq!(plan.change_percent(), Some(20));
    }

    #[test]
    fn checksum_changes_with_the_plan() {
        let one = plan(ZONE, &[a("a.example.org", "192.0.2.1")], &[], &shared());
        let same = plan(ZONE, &[a("a.example.org", "192.0.2.1")], &[], &shared());
        let other = plan(ZONE, &[a("a.example.org", "192.0.2.2")], &[], &shared());
        assert_eq!(one.checksum, same.checksum);
        assert_ne!(one.checksum, other.checksum);
        assert_eq!(one.checksum.len(), 16);
    }
}
