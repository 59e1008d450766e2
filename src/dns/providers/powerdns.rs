//! PowerDNS Authoritative through its HTTP API: the zone in one GET, changes in as few PATCHes
//! as the 2 MB body limit allows, the zone created on request. Ownership is an rrset comment,
//! written in the same PATCH entry as the records.

use std::borrow::Cow;
use std::collections::HashMap;

use anyhow::Context;
use reqwest::Method;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::{ApplyError, Live, Provider};
use crate::dns::ownership::{Keeping, Mark};
use crate::dns::plan::Change;
use crate::dns::{Rrset, from_wire, to_wire};
use crate::http::{Auth, Http};
use crate::rdata::Reading;
use crate::rdata::loc::Loc;
use crate::secret::Secret;

/// PowerDNS answers 400 to bodies over 2 MB; stay well below.
const MAX_BODY: usize = 1_500_000;

pub struct PowerDns {
    http: Http,
    zone_url: String,
    zones_url: String,
    zone: String,
    create_zone: bool,
    missing: bool,
    /// The ownership mark every written rrset carries as its comment.
    mark: String,
    /// Comments people wrote on rrsets (not boma's marks): kept when boma rewrites the comments.
    notes: HashMap<(String, String), Vec<Note>>,
}

impl PowerDns {
    pub fn new(
        url: &str,
        server: &str,
        zone: &str,
        key: Secret,
        mark: String,
        create_zone: bool,
        log: crate::ui::Log,
    ) -> anyhow::Result<Self> {
        let zones_url = format!("{url}/api/v1/servers/{server}/zones");
        Ok(Self {
            http: Http::new("powerdns", url, key, Auth::Header("x-api-key"), None, log)?,
            zone_url: format!("{zones_url}/{zone}."),
            zones_url,
            zone: zone.to_string(),
            create_zone,
            missing: false,
            mark,
            notes: HashMap::new(),
        })
    }

    fn create(&mut self) -> anyhow::Result<()> {
        let body =
            json!({ "name": format!("{}.", self.zone), "kind": "Native", "nameservers": [] });
        self.http.send(Method::POST, &self.zones_url, Some(&body))?;
        self.missing = false;
        Ok(())
    }
}

impl Provider for PowerDns {
    fn name(&self) -> &'static str {
        "powerdns"
    }

    fn keeping(&self) -> Keeping {
        Keeping::Metadata
    }

    fn list(&mut self) -> anyhow::Result<Live> {
        let response = match self.http.send(Method::GET, &self.zone_url, None) {
            Err(error) if error.status == Some(404) || error.status == Some(422) => {
                if !self.create_zone {
                    return Err(crate::dns::DnsError::ZoneMissing {
                        provider: "powerdns",
                        zone: self.zone.clone(),
                    }
                    .into());
                }
                self.missing = true;
                return Ok(Live::default());
            }
            other => other?,
        };
        let zone: LiveZone = serde_json::from_str(&response.body).with_context(|| {
            format!(
                "powerdns: GET zone `{}` answered JSON that is not a zone with `rrsets`",
                self.zone
            )
        })?;
        let mut live = Live::default();
        for rrset in zone.rrsets {
            let record_type = &*rrset.record_type;
            let values = rrset
                .records
                .iter()
                .filter(|record| !record.disabled)
                .map(|record| from_wire(record_type, &record.content))
                .collect();
            let parsed = Rrset::new(&rrset.name, record_type, rrset.ttl, values);
            if parsed.values.is_empty() {
                continue;
            }
            // boma's marks among the comments; other comments are people's notes, kept.
            let key = (parsed.name.clone(), parsed.record_type.clone());
            let (marks, notes): (Vec<LiveComment>, Vec<LiveComment>) = rrset
                .comments
                .into_iter()
                .partition(|comment| Mark::parse(&comment.content).is_some());
            if !marks.is_empty() {
                let marks = marks
                    .into_iter()
                    .map(|comment| comment.content.into_owned())
                    .collect();
                live.marks.insert(key.clone(), marks);
            }
            if !notes.is_empty() {
                let notes = notes
                    .into_iter()
                    .map(|note| Note {
                        content: note.content.into_owned(),
                        account: note.account.into_owned(),
                    })
                    .collect();
                self.notes.insert(key, notes);
            }
            live.rrsets.push(parsed);
        }
        Ok(live)
    }

    fn apply(
        &mut self,
        changes: &[Change],
        progress: &mut dyn FnMut(usize),
    ) -> Result<(), ApplyError> {
        let total = changes.len();
        if self.missing {
            self.create().map_err(|cause| ApplyError {
                applied: 0,
                total,
                cause,
            })?;
        }
        // Each entry serialized once: its length decides the chunks, its text goes in the body.
        let entries: Vec<String> = changes
            .iter()
            .map(|change| {
                let rrset = change.rrset();
                let notes = self
                    .notes
                    .get(&(rrset.name.clone(), rrset.record_type.clone()))
                    .map_or(&[][..], Vec::as_slice);
                serde_json::to_string(&patch_entry(change, &self.mark, notes))
            })
            .collect::<Result<_, _>>()
            .map_err(|error| ApplyError {
                applied: 0,
                total,
                cause: error.into(),
            })?;
        let mut applied = 0;
        for chunk in chunks(&entries) {
            let body = format!(
                "{{\"rrsets\":[{}]}}",
                entries[applied..applied + chunk].join(",")
            );
            self.http
                .send_json(Method::PATCH, &self.zone_url, Some(body.into_bytes()))
                .map_err(|error| ApplyError {
                    applied,
                    total,
                    cause: error.into(),
                })?;
            applied += chunk;
            progress(applied);
        }
        Ok(())
    }

    fn requests(&self) -> usize {
        self.http.requests()
    }
}

/// The zone as `GET /zones/ZONE` answers it; strings borrow from the body where they can.
#[derive(Deserialize)]
struct LiveZone<'a> {
    #[serde(borrow)]
    rrsets: Vec<LiveRrset<'a>>,
}

#[derive(Deserialize)]
struct LiveRrset<'a> {
    #[serde(borrow)]
    name: Cow<'a, str>,
    #[serde(borrow, rename = "type")]
    record_type: Cow<'a, str>,
    #[serde(default)]
    ttl: u32,
    #[serde(borrow, default)]
    records: Vec<LiveRecord<'a>>,
    #[serde(borrow, default)]
    comments: Vec<LiveComment<'a>>,
}

#[derive(Deserialize)]
struct LiveRecord<'a> {
    #[serde(borrow)]
    content: Cow<'a, str>,
    #[serde(default)]
    disabled: bool,
}

#[derive(Deserialize)]
struct LiveComment<'a> {
    #[serde(borrow, default)]
    content: Cow<'a, str>,
    #[serde(borrow, default)]
    account: Cow<'a, str>,
}

/// A comment on an rrset: boma's mark (account `boma`) or a note someone wrote, kept.
#[derive(Serialize)]
struct Comment<'a> {
    content: &'a str,
    account: &'a str,
}

/// A note someone wrote on an rrset, as PowerDNS gave it.
struct Note {
    content: String,
    account: String,
}

/// One rrset of a PATCH, serialized straight from the plan. A REPLACE without `records` keeps
/// the records and replaces only the comments: that is how ownership is taken without touching
/// the records.
#[derive(Serialize)]
struct PatchEntry<'a> {
    name: Dotted<'a>,
    #[serde(rename = "type")]
    record_type: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    ttl: Option<u32>,
    changetype: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    records: Option<Vec<Record>>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    comments: Vec<Comment<'a>>,
}

#[derive(Serialize)]
struct Record {
    content: String,
    disabled: bool,
}

/// A name with its trailing dot, written without building the string first.
struct Dotted<'a>(&'a str);

impl Serialize for Dotted<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(&format_args!("{}.", self.0))
    }
}

fn patch_entry<'a>(change: &'a Change, mark: &'a str, notes: &'a [Note]) -> PatchEntry<'a> {
    let rrset = change.rrset();
    let mut entry = PatchEntry {
        name: Dotted(&rrset.name),
        record_type: &rrset.record_type,
        ttl: None,
        changetype: "REPLACE",
        records: None,
        comments: Vec::new(),
    };
    if let Change::Delete { .. } = change {
        entry.changetype = "DELETE";
        return entry;
    }
    entry.comments = std::iter::once(Comment {
        content: mark,
        account: "boma",
    })
    .chain(notes.iter().map(|note| Comment {
        content: &note.content,
        account: &note.account,
    }))
    .collect();
    if let Change::Create { .. } | Change::Update { .. } = change {
        entry.ttl = Some(rrset.ttl);
        entry.records = Some(
            rrset
                .values
                .iter()
                .map(|value| Record {
                    content: content(&rrset.record_type, value),
                    disabled: false,
                })
                .collect(),
        );
    }
    entry
}

/// A value as the PowerDNS API takes it: its own spelling where it insists on one (LOC, which it
/// refuses in any other form than the one it prints), the zone-file form otherwise.
fn content(record_type: &str, value: &str) -> String {
    if record_type == "LOC"
        && let Ok(loc) = Loc::parse(value, Reading::Lenient)
    {
        return loc.powerdns();
    }
    to_wire(record_type, value)
}

/// The lengths of consecutive runs of PATCH entries (serialized) whose bodies stay under the
/// limit.
fn chunks(entries: &[String]) -> Vec<usize> {
    let mut chunks = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (index, entry) in entries.iter().enumerate() {
        let length = entry.len() + 1;
        if size + length > MAX_BODY && index > start {
            chunks.push(index - start);
            (start, size) = (index, 0);
        }
        size += length;
    }
    if start < entries.len() {
        chunks.push(entries.len() - start);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_change_sets_split_under_the_body_limit() -> serde_json::Result<()> {
        let mark = Mark::text("boma", &[]);
        let entries: Vec<String> = (0..20_000)
            .map(|i| Change::Create {
                rrset: Rrset::new(
                    &format!("host-{i}.example.org"),
                    "CNAME",
                    300,
                    vec!["edge.example.net.".into()],
                ),
            })
            .map(|change| serde_json::to_string(&patch_entry(&change, &mark, &[])))
            .collect::<serde_json::Result<_>>()?;
        let chunks = chunks(&entries);
        assert!(chunks.len() >= 2);
        assert_eq!(chunks.iter().sum::<usize>(), 20_000);
        let mut start = 0;
        for chunk in chunks {
            let body = format!(
                "{{\"rrsets\":[{}]}}",
                entries[start..start + chunk].join(",")
            );
            assert!(body.len() <= MAX_BODY + 100, "{}", body.len());
            start += chunk;
        }
        Ok(())
    }

    #[test]
    fn taking_ownership_sends_comments_and_no_records() -> serde_json::Result<()> {
        let rrset = Rrset::new("app.example.org", "A", 300, vec!["192.0.2.1".into()]);
        let notes = [Note {
            content: "ask ops first".into(),
            account: "alice".into(),
        }];
        let change = Change::Own { rrset };
        let entry = patch_entry(&change, "heritage=boma v=2 owner=lab", &notes);
        assert_eq!(
            serde_json::to_value(&entry)?,
            json!({ "name": "app.example.org.", "type": "A", "changetype": "REPLACE", "comments": [
                { "content": "heritage=boma v=2 owner=lab", "account": "boma" },
                { "content": "ask ops first", "account": "alice" },
            ] })
        );
        Ok(())
    }
}
