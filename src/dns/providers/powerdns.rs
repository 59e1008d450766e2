//! PowerDNS Authoritative through its HTTP API: the zone in one GET, changes in as few PATCHes
//! as the 2 MB body limit allows, the zone created on request. Ownership is an rrset comment,
//! written in the same PATCH entry as the records.

use std::collections::HashMap;

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

use super::{ApplyError, Live, Provider};
use crate::dns::ownership::{Keeping, Mark};
use crate::dns::plan::Change;
use crate::dns::{Rrset, from_wire, to_wire};
use crate::http::{Auth, Http};
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
    notes: HashMap<(String, String), Vec<Value>>,
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
        let zone: Value = serde_json::from_str(&response.body).with_context(|| {
            format!("powerdns: GET zone `{}` answered malformed JSON", self.zone)
        })?;
        let Some(rrsets) = zone["rrsets"].as_array() else {
            bail!(
                "powerdns: GET zone `{}` answered without `rrsets`",
                self.zone
            );
        };
        let mut live = Live::default();
        for rrset in rrsets {
            let record_type = rrset["type"].as_str().unwrap_or_default();
            let values = rrset["records"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|record| !record["disabled"].as_bool().unwrap_or(false))
                .filter_map(|record| record["content"].as_str())
                .map(|content| from_wire(record_type, content))
                .collect();
            let ttl = rrset["ttl"].as_u64().unwrap_or(0) as u32;
            let parsed = Rrset::new(
                rrset["name"].as_str().unwrap_or_default(),
                record_type,
                ttl,
                values,
            );
            if parsed.values.is_empty() {
                continue;
            }
            // boma's marks among the comments; other comments are people's notes, kept.
            let key = (parsed.name.clone(), parsed.record_type.clone());
            let (marks, notes): (Vec<&Value>, Vec<&Value>) = rrset["comments"]
                .as_array()
                .into_iter()
                .flatten()
                .partition(|comment| {
                    comment["content"]
                        .as_str()
                        .is_some_and(|content| Mark::parse(content).is_some())
                });
            if !marks.is_empty() {
                let marks = marks
                    .iter()
                    .filter_map(|comment| comment["content"].as_str())
                    .map(str::to_string)
                    .collect();
                live.marks.insert(key.clone(), marks);
            }
            if !notes.is_empty() {
                let notes = notes
                    .into_iter()
                    .map(|note| json!({ "content": note["content"], "account": note["account"] }))
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
                patch_entry(change, &self.mark, notes).to_string()
            })
            .collect();
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

/// One rrset of a PATCH. A REPLACE without `records` keeps the records and replaces only the
/// comments: that is how ownership is taken without touching the records.
fn patch_entry(change: &Change, mark: &str, notes: &[Value]) -> Value {
    let rrset = change.rrset();
    let name = format!("{}.", rrset.name);
    let mut comments = vec![json!({ "content": mark, "account": "boma" })];
    comments.extend(notes.iter().cloned());
    match change {
        Change::Delete { .. } => {
            json!({ "name": name, "type": rrset.record_type, "changetype": "DELETE" })
        }
        Change::Own { .. } => {
            json!({ "name": name, "type": rrset.record_type, "changetype": "REPLACE", "comments": comments })
        }
        Change::Create { .. } | Change::Update { .. } => {
            let records: Vec<Value> = rrset
                .values
                .iter()
                .map(|value| {
                    let content = to_wire(&rrset.record_type, value);
                    json!({ "content": content, "disabled": false })
                })
                .collect();
            json!({ "name": name, "type": rrset.record_type, "ttl": rrset.ttl, "changetype": "REPLACE", "records": records, "comments": comments })
        }
    }
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
    fn large_change_sets_split_under_the_body_limit() {
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
            .map(|change| patch_entry(&change, &mark, &[]).to_string())
            .collect();
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
    }

    #[test]
    fn taking_ownership_sends_comments_and_no_records() {
        let rrset = Rrset::new("app.example.org", "A", 300, vec!["192.0.2.1".into()]);
        let note = json!({ "content": "ask ops first", "account": "alice" });
        let entry = patch_entry(
            &Change::Own { rrset },
            "heritage=boma v=2 owner=lab",
            &[note],
        );
        assert_eq!(
            entry,
            json!({ "name": "app.example.org.", "type": "A", "changetype": "REPLACE", "comments": [
                { "content": "heritage=boma v=2 owner=lab", "account": "boma" },
                { "content": "ask ops first", "account": "alice" },
            ] })
        );
    }
}
