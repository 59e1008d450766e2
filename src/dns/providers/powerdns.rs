//! PowerDNS Authoritative through its HTTP API: the zone in one GET, changes in as few PATCHes
//! as the 2 MB body limit allows, the zone created on request.

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

use super::{ApplyError, Provider};
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
}

impl PowerDns {
    pub fn new(
        url: &str,
        server: &str,
        zone: &str,
        key: Secret,
        create_zone: bool,
        log: Box<dyn Fn(&str)>,
    ) -> anyhow::Result<Self> {
        let zones_url = format!("{url}/api/v1/servers/{server}/zones");
        Ok(Self {
            http: Http::new("powerdns", url, key, Auth::Header("x-api-key"), None, log)?,
            zone_url: format!("{zones_url}/{zone}."),
            zones_url,
            zone: zone.to_string(),
            create_zone,
            missing: false,
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

    fn list(&mut self) -> anyhow::Result<Vec<Rrset>> {
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
                return Ok(Vec::new());
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
        Ok(rrsets
            .iter()
            .map(|rrset| {
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
                Rrset::new(
                    rrset["name"].as_str().unwrap_or_default(),
                    record_type,
                    ttl,
                    values,
                )
            })
            .filter(|rrset| !rrset.values.is_empty())
            .collect())
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
        let mut applied = 0;
        for chunk in chunks(changes) {
            let body = json!({ "rrsets": chunk.iter().map(patch_entry).collect::<Vec<_>>() });
            self.http
                .send(Method::PATCH, &self.zone_url, Some(&body))
                .map_err(|error| ApplyError {
                    applied,
                    total,
                    cause: error.into(),
                })?;
            applied += chunk.len();
            progress(applied);
        }
        Ok(())
    }

    fn requests(&self) -> usize {
        self.http.requests()
    }
}

fn patch_entry(change: &Change) -> Value {
    let rrset = change.rrset();
    let name = format!("{}.", rrset.name);
    match change {
        Change::Delete { .. } => {
            json!({ "name": name, "type": rrset.record_type, "changetype": "DELETE" })
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
            json!({ "name": name, "type": rrset.record_type, "ttl": rrset.ttl, "changetype": "REPLACE", "records": records })
        }
    }
}

/// Consecutive runs of changes whose PATCH bodies stay under the limit.
fn chunks(changes: &[Change]) -> Vec<&[Change]> {
    let mut chunks = Vec::new();
    let (mut start, mut size) = (0, 0);
    for (index, change) in changes.iter().enumerate() {
        let entry = patch_entry(change).to_string().len() + 1;
        if size + entry > MAX_BODY && index > start {
            chunks.push(&changes[start..index]);
            (start, size) = (index, 0);
        }
        size += entry;
    }
    if start < changes.len() {
        chunks.push(&changes[start..]);
    }
    chunks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn large_change_sets_split_under_the_body_limit() {
        let changes: Vec<Change> = (0..20_000)
            .map(|i| Change::Create {
                rrset: Rrset::new(
                    &format!("host-{i}.example.org"),
                    "CNAME",
                    300,
                    vec!["edge.example.net.".into()],
                ),
            })
            .collect();
        let chunks = chunks(&changes);
        assert!(chunks.len() >= 2);
        assert_eq!(
            chunks.iter().map(|chunk| chunk.len()).sum::<usize>(),
            20_000
        );
        for chunk in chunks {
            let body =
                json!({ "rrsets": chunk.iter().map(patch_entry).collect::<Vec<_>>() }).to_string();
            assert!(body.len() <= MAX_BODY + 100, "{}", body.len());
        }
    }
}
