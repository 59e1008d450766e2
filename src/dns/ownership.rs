//! Who owns a record in a shared zone. boma marks what it owns with the catalog's owner and a
//! format version, where the provider keeps such data: in the rrset's own metadata (PowerDNS
//! comments, Cloudflare record comments, set in the same write as the records), else in a TXT
//! marker rrset at `_boma.NAME` (Gandi). A zone file is boma's alone and needs no marks.

use std::collections::{BTreeMap, BTreeSet, HashMap};

use super::Rrset;

/// The mark format this boma writes. Version 1 (no `v=`, no owner) is the marker of boma
/// before owners existed; it counts as the running catalog's own and is rewritten on `dns-up`.
pub const FORMAT: u32 = 2;
/// The label in front of a managed name that holds its marker rrset.
pub const MARKER_LABEL: &str = "_boma";
const HERITAGE: &str = "heritage=boma";

/// Where a provider keeps ownership.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Keeping {
    /// The zone is boma's alone (zone files): every record is the catalog's.
    Whole,
    /// TXT marker rrsets at `_boma.NAME` listing the owned types (Gandi).
    Markers,
    /// The provider's per-rrset metadata (PowerDNS comments, Cloudflare comments).
    Metadata,
}

/// One ownership mark as written: `heritage=boma v=2 owner=homelab`, markers add `types=A,TXT`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mark {
    pub version: u32,
    pub owner: Option<String>,
    pub types: Vec<String>,
}

impl Mark {
    /// A mark of boma's (any version), or `None` for any other text.
    pub fn parse(text: &str) -> Option<Self> {
        let mut fields = text.split_whitespace();
        if fields.next() != Some(HERITAGE) {
            return None;
        }
        let mut mark = Self {
            version: 1,
            owner: None,
            types: Vec::new(),
        };
        for field in fields {
            if let Some(version) = field.strip_prefix("v=") {
                mark.version = version.parse().unwrap_or(u32::MAX);
            } else if let Some(owner) = field.strip_prefix("owner=") {
                mark.owner = Some(owner.to_string());
            } else if let Some(types) = field.strip_prefix("types=") {
                mark.types = types
                    .split(',')
                    .filter(|t| !t.is_empty())
                    .map(str::to_ascii_uppercase)
                    .collect();
            }
        }
        Some(mark)
    }

    /// The text this boma writes for `owner` (metadata: no types).
    pub fn text(owner: &str, types: &[&str]) -> String {
        let mut text = format!("{HERITAGE} v={FORMAT} owner={owner}");
        if !types.is_empty() {
            text.push_str(&format!(" types={}", types.join(",")));
        }
        text
    }

    /// Whose the marked records are, seen by the catalog of `owner`.
    pub fn owner_for(&self, owner: &str) -> Owner {
        match &self.owner {
            _ if self.version > FORMAT => Owner::Other(format!(
                "{} (mark format v{}, newer than this boma)",
                self.owner.as_deref().unwrap_or("?"),
                self.version
            )),
            None => Owner::Mine { current: false },
            Some(mine) if mine == owner => Owner::Mine {
                current: self.version == FORMAT,
            },
            Some(other) => Owner::Other(other.clone()),
        }
    }
}

/// The owner of a live rrset, as the running catalog sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Owner {
    /// The catalog's own; `current: false` when its mark is in an older format (or missing on
    /// some of the rrset's records) and must be written again.
    Mine { current: bool },
    /// No boma mark: a record made by hand or by another tool.
    Nobody,
    /// Another catalog's (its `[dns].owner`).
    Other(String),
}

/// The live zone's ownership, read once: what `plan` and `dns-import` ask about each rrset.
pub struct Owners {
    keeping: Keeping,
    /// What the metadata marks say, by name and then type (`None`: no boma mark there, so an
    /// older marker decides). Read once here: `of` is asked about every rrset of the zone.
    metadata: HashMap<String, Vec<(String, Option<Owner>)>>,
    /// Marker rrsets (and, for metadata providers, the markers older boma left): name → each
    /// mark, parsed and as written.
    markers: BTreeMap<String, Vec<(Mark, String)>>,
    owner: String,
}

impl Owners {
    /// `metadata` holds the mark texts found on each (name, type) rrset (Cloudflare: one per
    /// record, `""` for a record without one).
    pub fn new(
        keeping: Keeping,
        owner: &str,
        live: &[Rrset],
        metadata: HashMap<(String, String), Vec<String>>,
    ) -> Self {
        let mut marked: HashMap<String, Vec<(String, Option<Owner>)>> = HashMap::new();
        for ((name, record_type), marks) in metadata {
            let owner = by_metadata(&marks, owner);
            marked.entry(name).or_default().push((record_type, owner));
        }
        let mut markers: BTreeMap<String, Vec<(Mark, String)>> = BTreeMap::new();
        if keeping != Keeping::Whole {
            for rrset in live.iter().filter(|rrset| is_marker(rrset)) {
                let Some(name) = marked_name(&rrset.name) else {
                    continue;
                };
                markers.entry(name).or_default().extend(
                    rrset
                        .values
                        .iter()
                        .filter_map(|value| Mark::parse(value).map(|mark| (mark, value.clone()))),
                );
            }
        }
        Self {
            keeping,
            metadata: marked,
            markers,
            owner: owner.to_string(),
        }
    }

    pub fn keeping(&self) -> Keeping {
        self.keeping
    }

    pub fn owner(&self) -> &str {
        &self.owner
    }

    /// Whose `rrset` is.
    pub fn of(&self, rrset: &Rrset) -> Owner {
        match self.keeping {
            Keeping::Whole => Owner::Mine { current: true },
            Keeping::Markers => self.by_marker(rrset),
            Keeping::Metadata => {
                let marked = self
                    .metadata
                    .get(rrset.name.as_str())
                    .and_then(|types| types.iter().find(|(t, _)| *t == rrset.record_type))
                    .and_then(|(_, owner)| owner.clone());
                // Without a mark in the metadata: marked the way boma did before, with a `_boma`
                // marker rrset.
                marked.unwrap_or_else(|| match self.by_marker(rrset) {
                    Owner::Mine { .. } => Owner::Mine { current: false },
                    other => other,
                })
            }
        }
    }

    fn by_marker(&self, rrset: &Rrset) -> Owner {
        let marks = self.markers.get(&rrset.name).map_or(&[][..], Vec::as_slice);
        let owners: Vec<Owner> = marks
            .iter()
            .map(|(mark, _)| mark)
            .filter(|mark| mark.types.contains(&rrset.record_type))
            .map(|mark| mark.owner_for(&self.owner))
            .collect();
        if let Some(other) = owners.iter().find(|o| matches!(o, Owner::Other(_))) {
            return other.clone();
        }
        owners
            .into_iter()
            .find(|o| matches!(o, Owner::Mine { .. }))
            .unwrap_or(Owner::Nobody)
    }

    /// Marker values at `name` that belong to other owners, exactly as they were written: a
    /// marker rrset is shared, and rewriting it keeps them untouched (a value re-spelled would
    /// be rewritten back by its owner on every run).
    pub fn others_at(&self, name: &str) -> Vec<String> {
        let marks = self.markers.get(name).map_or(&[][..], Vec::as_slice);
        let kept: BTreeSet<&String> = marks
            .iter()
            .filter(|(mark, _)| matches!(mark.owner_for(&self.owner), Owner::Other(_)))
            .map(|(_, text)| text)
            .collect();
        kept.into_iter().cloned().collect()
    }
}

/// Whose an rrset is by the mark texts on it: another owner's mark wins, then the catalog's own
/// (current only if every mark is); `None` when no text is a boma mark.
fn by_metadata(marks: &[String], owner: &str) -> Option<Owner> {
    let owners: Vec<Owner> = marks
        .iter()
        .map(|text| Mark::parse(text).map_or(Owner::Nobody, |mark| mark.owner_for(owner)))
        .collect();
    if let Some(other) = owners.iter().find(|o| matches!(o, Owner::Other(_))) {
        return Some(other.clone());
    }
    if owners.iter().any(|o| matches!(o, Owner::Mine { .. })) {
        let current = owners.iter().all(|o| *o == Owner::Mine { current: true });
        return Some(Owner::Mine { current });
    }
    None
}

/// The marker rrset's name for a managed name. A wildcard label must stay leftmost, so `*.x` is
/// marked at `_boma._wildcard.x`.
pub fn marker_name(name: &str) -> String {
    let name = name
        .strip_prefix("*.")
        .map_or_else(|| name.to_string(), |rest| format!("_wildcard.{rest}"));
    format!("{MARKER_LABEL}.{name}")
}

/// The managed name a marker rrset's name stands for.
pub fn marked_name(marker: &str) -> Option<String> {
    let name = marker.strip_prefix("_boma.")?;
    Some(
        name.strip_prefix("_wildcard.")
            .map_or_else(|| name.to_string(), |rest| format!("*.{rest}")),
    )
}

pub fn is_marker_name(name: &str) -> bool {
    name.starts_with("_boma.")
}

/// A TXT rrset at `_boma.NAME` holding a boma mark: ownership data, never a record to manage.
pub fn is_marker(rrset: &Rrset) -> bool {
    rrset.record_type == "TXT"
        && is_marker_name(&rrset.name)
        && rrset
            .values
            .iter()
            .any(|value| Mark::parse(value).is_some())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn marks_round_trip_and_older_ones_are_ours() {
        let text = Mark::text("homelab", &["A", "TXT"]);
        assert_eq!(text, "heritage=boma v=2 owner=homelab types=A,TXT");
        let Some(mark) = Mark::parse(&text) else {
            panic!("not a mark: {text}")
        };
        assert_eq!(mark.owner.as_deref(), Some("homelab"));
        assert_eq!(mark.types, ["A", "TXT"]);
        assert_eq!(mark.owner_for("homelab"), Owner::Mine { current: true });
        assert_eq!(mark.owner_for("lab2"), Owner::Other("homelab".into()));
        let owner = |text: &str, owner: &str| Mark::parse(text).map(|mark| mark.owner_for(owner));
        assert_eq!(
            owner("heritage=boma types=A", "lab2"),
            Some(Owner::Mine { current: false })
        );
        assert!(matches!(
            owner("heritage=boma v=3 owner=homelab", "homelab"),
            Some(Owner::Other(_))
        ));
        assert_eq!(Mark::parse("heritage=bomb"), None);
        assert_eq!(Mark::parse("v=spf1 -all"), None);
    }

    #[test]
    fn owners_read_metadata_then_older_markers() {
        let app = Rrset::new("app.example.org", "A", 300, vec!["192.0.2.1".into()]);
        let old = Rrset::new("old.example.org", "A", 300, vec!["192.0.2.2".into()]);
        let theirs = Rrset::new("theirs.example.org", "A", 300, vec!["192.0.2.3".into()]);
        let marker = Rrset::new(
            "_boma.old.example.org",
            "TXT",
            300,
            vec!["heritage=boma types=A".into()],
        );
        let mut metadata = HashMap::new();
        metadata.insert(
            ("app.example.org".to_string(), "A".to_string()),
            vec![Mark::text("lab", &[])],
        );
        metadata.insert(
            ("theirs.example.org".to_string(), "A".to_string()),
            vec![Mark::text("other", &[])],
        );
        let live = [app.clone(), old.clone(), theirs.clone(), marker];
        let owners = Owners::new(Keeping::Metadata, "lab", &live, metadata);
        assert_eq!(owners.of(&app), Owner::Mine { current: true });
        assert_eq!(owners.of(&old), Owner::Mine { current: false });
        assert_eq!(owners.of(&theirs), Owner::Other("other".into()));
        let loose = Rrset::new("loose.example.org", "A", 300, vec!["192.0.2.4".into()]);
        assert_eq!(owners.of(&loose), Owner::Nobody);
    }

    #[test]
    fn other_owners_marker_values_are_kept_as_written() {
        let written = "heritage=boma  owner=team-b v=2 types=TXT,A extra=1";
        let marker = Rrset::new(
            "_boma.app.example.org",
            "TXT",
            300,
            vec![written.into(), "heritage=boma types=A".into()],
        );
        let owners = Owners::new(Keeping::Markers, "lab", &[marker], HashMap::new());
        assert_eq!(owners.others_at("app.example.org"), [written]);
    }
}
