//! Cloudflare v4: zone id by name, paged reads on `total_pages`, and every change through the
//! batch endpoint (deletes, patches, posts in one transaction per chunk). Ownership is each
//! record's `comment`, set in the same operation as the record. SRV, CAA, SSHFP, TLSA, NAPTR, LOC,
//! SVCB and HTTPS travel as the API reference's `data` objects, both ways.

use std::collections::HashMap;

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

use super::{ApplyError, Live, Provider};
use crate::dns::ownership::Keeping;
use crate::dns::plan::Change;
use crate::dns::{Rrset, unquote_txt};
use crate::http::{Auth, Http, MAX_PAGES, RateLimit};
use crate::rdata::loc::Loc;
use crate::rdata::svcb::Svcb;
use crate::rdata::{Naptr, Reading, Sshfp, Tlsa, quoted_text};
use crate::secret::Secret;

pub const DEFAULT_URL: &str = "https://api.cloudflare.com/client/v4";
pub const DEFAULT_BATCH_SIZE: usize = 200;
const PER_PAGE: usize = 100;

pub struct Cloudflare {
    http: Http,
    base: String,
    zone: String,
    zone_id: Option<String>,
    batch_size: usize,
    /// Record ids by (name, type, value): what patches and deletes address.
    ids: HashMap<(String, String, String), String>,
    /// The ownership mark every written record carries as its comment.
    mark: String,
}

impl Cloudflare {
    pub fn new(
        url: Option<&str>,
        zone: &str,
        token: Secret,
        mark: String,
        batch_size: usize,
        log: crate::ui::Log,
    ) -> anyhow::Result<Self> {
        let limit = RateLimit {
            requests: 1200,
            window: std::time::Duration::from_secs(300),
        };
        Ok(Self {
            http: Http::new(
                "cloudflare",
                url.unwrap_or(DEFAULT_URL),
                token,
                Auth::Bearer,
                Some(limit),
                log,
            )?,
            base: url.unwrap_or(DEFAULT_URL).to_string(),
            zone: zone.to_string(),
            zone_id: None,
            batch_size: batch_size.max(1),
            ids: HashMap::new(),
            mark,
        })
    }

    fn get(&self, url: &str, what: &str) -> anyhow::Result<Value> {
        let response = self.http.send(Method::GET, url, None)?;
        let body: Value = serde_json::from_str(&response.body)
            .with_context(|| format!("cloudflare: {what} answered malformed JSON"))?;
        if body["success"] != Value::Bool(true) {
            bail!("cloudflare: {what} failed: {}", body["errors"]);
        }
        Ok(body)
    }

    fn zone_id(&mut self) -> anyhow::Result<String> {
        if let Some(id) = &self.zone_id {
            return Ok(id.clone());
        }
        let body = self.get(
            &format!("{}/zones?name={}", self.base, self.zone),
            &format!("GET zone `{}`", self.zone),
        )?;
        let id = body["result"]
            .as_array()
            .and_then(|zones| {
                zones
                    .iter()
                    .find(|zone| zone["name"].as_str() == Some(&self.zone))
            })
            .and_then(|zone| zone["id"].as_str())
            .map(str::to_string)
            .with_context(|| {
                format!("cloudflare: zone `{}` not found for this token", self.zone)
            })?;
        self.zone_id = Some(id.clone());
        Ok(id)
    }

    fn record_body(rrset: &Rrset, value: &str, mark: &str) -> Value {
        let mut body = json!({ "type": rrset.record_type, "name": rrset.name, "ttl": rrset.ttl, "comment": mark });
        if let Some(proxied) = rrset.proxied {
            body["proxied"] = json!(proxied);
        }
        let fields: Vec<&str> = value.split_whitespace().collect();
        match (rrset.record_type.as_str(), fields.as_slice()) {
            ("MX", [priority, exchange]) => {
                body["priority"] = json!(priority.parse::<u16>().unwrap_or(0));
                body["content"] = json!(exchange.trim_end_matches('.'));
            }
            ("SRV", [priority, weight, port, target]) => {
                body["data"] = json!({ "priority": number(priority), "weight": number(weight), "port": number(port), "target": target.trim_end_matches('.') });
            }
            ("CAA", [flags, tag, rest @ ..]) => {
                body["data"] = json!({ "flags": number(flags), "tag": tag, "value": rest.join(" ").trim_matches('"') });
            }
            ("TXT", _) => body["content"] = json!(format!("\"{}\"", value.replace('"', "\\\""))),
            ("CNAME" | "NS" | "PTR", _) => body["content"] = json!(value.trim_end_matches('.')),
            (record_type, _) => match structured(record_type, value) {
                Some(data) => body["data"] = data,
                None => body["content"] = json!(value),
            },
        }
        body
    }

    /// One rrset change as record operations: (deletes, patches, posts).
    fn operations(&self, change: &Change) -> (Vec<Value>, Vec<Value>, Vec<Value>) {
        let id = |rrset: &Rrset, value: &str| {
            self.ids
                .get(&(
                    rrset.name.clone(),
                    rrset.record_type.clone(),
                    value.to_string(),
                ))
                .cloned()
        };
        let (mut deletes, mut patches, mut posts) = (Vec::new(), Vec::new(), Vec::new());
        match change {
            Change::Create { rrset } => posts.extend(
                rrset
                    .values
                    .iter()
                    .map(|value| Self::record_body(rrset, value, &self.mark)),
            ),
            Change::Own { rrset } => patches.extend(
                rrset
                    .values
                    .iter()
                    .filter_map(|value| id(rrset, value))
                    .map(|id| json!({ "id": id, "comment": self.mark })),
            ),
            Change::Delete { rrset } => deletes.extend(
                rrset
                    .values
                    .iter()
                    .filter_map(|value| id(rrset, value))
                    .map(|id| json!({ "id": id })),
            ),
            Change::Update { old, new } => {
                for value in &old.values {
                    let Some(id) = id(old, value) else { continue };
                    if new.values.contains(value) {
                        let mut body = Self::record_body(new, value, &self.mark);
                        body["id"] = json!(id);
                        patches.push(body);
                    } else {
                        deletes.push(json!({ "id": id }));
                    }
                }
                posts.extend(
                    new.values
                        .iter()
                        .filter(|value| !old.values.contains(value))
                        .map(|value| Self::record_body(new, value, &self.mark)),
                );
            }
        }
        (deletes, patches, posts)
    }
}

fn number(text: &str) -> u64 {
    text.parse().unwrap_or(0)
}

/// The `data` object Cloudflare's API reference gives for a type it keeps in parts (SSHFP, TLSA,
/// NAPTR, LOC, SVCB, HTTPS), from a canonical value; `None` for a type sent as `content`.
fn structured(record_type: &str, value: &str) -> Option<Value> {
    Some(match record_type {
        "SSHFP" => {
            let sshfp = Sshfp::parse(value).ok()?;
            json!({ "algorithm": sshfp.algorithm, "type": sshfp.fingerprint_type, "fingerprint": sshfp.fingerprint })
        }
        "TLSA" => {
            let tlsa = Tlsa::parse(value).ok()?;
            json!({ "usage": tlsa.usage, "selector": tlsa.selector, "matching_type": tlsa.matching_type, "certificate": tlsa.data })
        }
        "NAPTR" => {
            let naptr = Naptr::parse(value).ok()?;
            json!({
                "order": naptr.order,
                "preference": naptr.preference,
                "flags": Naptr::text(&naptr.flags),
                "service": Naptr::text(&naptr.services),
                "regex": Naptr::text(&naptr.regexp),
                "replacement": naptr.replacement,
            })
        }
        "LOC" => {
            let loc = Loc::parse(value, Reading::Lenient).ok()?;
            let (latitude, longitude) = (loc.latitude(), loc.longitude());
            let [size, horizontal, vertical] = loc.sizes();
            json!({
                "lat_degrees": latitude.degrees,
                "lat_minutes": latitude.minutes,
                "lat_seconds": latitude.seconds,
                "lat_direction": latitude.direction.to_string(),
                "long_degrees": longitude.degrees,
                "long_minutes": longitude.minutes,
                "long_seconds": longitude.seconds,
                "long_direction": longitude.direction.to_string(),
                "altitude": loc.altitude(),
                "size": size,
                "precision_horz": horizontal,
                "precision_vert": vertical,
            })
        }
        "SVCB" | "HTTPS" => {
            let svcb = Svcb::parse(value).ok()?;
            json!({ "priority": svcb.priority, "target": svcb.target, "value": svcb.quoted_params() })
        }
        _ => return None,
    })
}

/// A structured record's value in presentation form, from its `data` (Cloudflare's own
/// `content` rendering of some types is not one: its LOC starts with `IN LOC`).
fn from_data(record_type: &str, data: &Value) -> Option<String> {
    let text = |value: &Value| {
        value
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string())
    };
    let field = |name: &str| data.get(name).map(text);
    Some(match record_type {
        "SSHFP" => format!(
            "{} {} {}",
            field("algorithm")?,
            field("type")?,
            field("fingerprint")?
        ),
        "TLSA" => format!(
            "{} {} {} {}",
            field("usage")?,
            field("selector")?,
            field("matching_type")?,
            field("certificate")?
        ),
        "NAPTR" => {
            let replacement = field("replacement").filter(|r| !r.is_empty());
            format!(
                "{} {} {} {} {} {}",
                field("order")?,
                field("preference")?,
                quoted_text(&field("flags")?),
                quoted_text(&field("service")?),
                quoted_text(&field("regex")?),
                replacement.as_deref().unwrap_or(".")
            )
        }
        "LOC" => format!(
            "{} {} {} {} {} {} {} {} {}m {}m {}m {}m",
            field("lat_degrees")?,
            field("lat_minutes")?,
            field("lat_seconds")?,
            field("lat_direction")?,
            field("long_degrees")?,
            field("long_minutes")?,
            field("long_seconds")?,
            field("long_direction")?,
            field("altitude")?,
            field("size")?,
            field("precision_horz")?,
            field("precision_vert")?
        ),
        "SVCB" | "HTTPS" => format!(
            "{} {} {}",
            field("priority")?,
            field("target")?,
            field("value").unwrap_or_default()
        ),
        _ => return None,
    })
}

/// A record's value in boma's canonical text form.
fn value_of(record: &Value) -> String {
    let record_type = record["type"].as_str().unwrap_or_default();
    let content = record["content"].as_str().unwrap_or_default();
    let data = &record["data"];
    let text = |value: &Value| {
        value
            .as_str()
            .map(str::to_string)
            .unwrap_or_else(|| value.to_string())
    };
    match record_type {
        "MX" => format!("{} {content}", record["priority"].as_u64().unwrap_or(0)),
        "TXT" | "SPF" => unquote_txt(content),
        "SRV" if data.is_object() => format!(
            "{} {} {} {}",
            text(&data["priority"]),
            text(&data["weight"]),
            text(&data["port"]),
            text(&data["target"])
        ),
        "CAA" if data.is_object() => format!(
            "{} {} \"{}\"",
            text(&data["flags"]),
            text(&data["tag"]),
            text(&data["value"])
        ),
        // SVCB and HTTPS: Cloudflare's content is their presentation form, whole.
        "SVCB" | "HTTPS" if !content.is_empty() => content.to_string(),
        _ if data.is_object() => from_data(record_type, data)
            .filter(|_| !data.as_object().is_some_and(serde_json::Map::is_empty))
            .unwrap_or_else(|| {
                if content.is_empty() {
                    data.to_string()
                } else {
                    content.to_string()
                }
            }),
        _ => content.to_string(),
    }
}

impl Provider for Cloudflare {
    fn name(&self) -> &'static str {
        "cloudflare"
    }

    fn keeping(&self) -> Keeping {
        Keeping::Metadata
    }

    fn list(&mut self) -> anyhow::Result<Live> {
        let zone_id = self.zone_id()?;
        let mut marks: HashMap<(String, String), Vec<String>> = HashMap::new();
        let mut grouped: HashMap<(String, String), Rrset> = HashMap::new();
        let mut page = 1;
        // The page count of the first answer: a count that changes while boma reads is refused.
        let mut announced: Option<u64> = None;
        loop {
            let url = format!(
                "{}/zones/{zone_id}/dns_records?page={page}&per_page={PER_PAGE}",
                self.base
            );
            let body = self.get(
                &url,
                &format!("GET records of `{}` (page {page})", self.zone),
            )?;
            for record in body["result"].as_array().into_iter().flatten() {
                let record_type = record["type"].as_str().unwrap_or_default().to_string();
                let name = record["name"]
                    .as_str()
                    .unwrap_or_default()
                    .to_ascii_lowercase();
                let value = value_of(record);
                let ttl = record["ttl"].as_u64().unwrap_or(1) as u32;
                let mut single = Rrset::new(&name, &record_type, ttl, vec![value]);
                // Only A, AAAA and CNAME can be proxied; the flag Cloudflare reports on others is noise
                // that would make every MX or TXT look changed.
                if matches!(record_type.as_str(), "A" | "AAAA" | "CNAME") {
                    single.proxied = Some(record["proxied"].as_bool().unwrap_or(false));
                }
                if let (Some(id), Some(canonical)) = (record["id"].as_str(), single.values.first())
                {
                    self.ids.insert(
                        (
                            single.name.clone(),
                            single.record_type.clone(),
                            canonical.clone(),
                        ),
                        id.to_string(),
                    );
                }
                // One entry per record, `""` for a record without a comment.
                marks
                    .entry((single.name.clone(), single.record_type.clone()))
                    .or_default()
                    .push(record["comment"].as_str().unwrap_or_default().to_string());
                grouped
                    .entry((single.name.clone(), single.record_type.clone()))
                    .and_modify(|rrset| {
                        rrset.values.extend(single.values.iter().cloned());
                        rrset.values.sort();
                        rrset.values.dedup();
                    })
                    .or_insert(single);
            }
            let total_pages = body["result_info"]["total_pages"].as_u64().unwrap_or(1);
            let records = body["result"].as_array().map_or(0, Vec::len);
            match announced {
                None if total_pages > MAX_PAGES as u64 => bail!(
                    "cloudflare: `{}` announces {total_pages} pages of records, more than boma reads ({MAX_PAGES})",
                    self.zone
                ),
                None => announced = Some(total_pages),
                Some(first) if first != total_pages => bail!(
                    "cloudflare: the page count of `{}` changed while boma read it ({first}, then {total_pages}); run again",
                    self.zone
                ),
                Some(_) => {}
            }
            if page >= total_pages {
                break;
            }
            if records == 0 {
                bail!(
                    "cloudflare: page {page} of `{}` is empty although {total_pages} pages were announced; boma stopped reading",
                    self.zone
                );
            }
            page += 1;
        }
        let mut rrsets: Vec<Rrset> = grouped.into_values().collect();
        rrsets.sort();
        Ok(Live { rrsets, marks })
    }

    fn apply(
        &mut self,
        changes: &[Change],
        progress: &mut dyn FnMut(usize),
    ) -> Result<(), ApplyError> {
        let total = changes.len();
        let zone_id = self.zone_id().map_err(|cause| ApplyError {
            applied: 0,
            total,
            cause,
        })?;
        let url = format!("{}/zones/{zone_id}/dns_records/batch", self.base);
        let mut applied = 0;
        let mut start = 0;
        while start < changes.len() {
            let (mut deletes, mut patches, mut posts) = (Vec::new(), Vec::new(), Vec::new());
            let mut end = start;
            while end < changes.len() {
                let (d, p, c) = self.operations(&changes[end]);
                let size = deletes.len() + patches.len() + posts.len();
                if end > start && size + d.len() + p.len() + c.len() > self.batch_size {
                    break;
                }
                deletes.extend(d);
                patches.extend(p);
                posts.extend(c);
                end += 1;
            }
            let body = json!({ "deletes": deletes, "patches": patches, "posts": posts });
            let sent = self
                .http
                .send(Method::POST, &url, Some(&body))
                .map_err(anyhow::Error::from)
                .and_then(|response| {
                    let answer: Value = serde_json::from_str(&response.body)
                        .context("cloudflare: the batch answer is malformed JSON")?;
                    if answer["success"] != Value::Bool(true) {
                        bail!(
                            "cloudflare: POST /zones/{zone_id}/dns_records/batch failed: {}",
                            answer["errors"]
                        );
                    }
                    Ok(())
                });
            sent.map_err(|cause| ApplyError {
                applied,
                total,
                cause,
            })?;
            applied = end;
            progress(applied);
            start = end;
        }
        Ok(())
    }

    fn requests(&self) -> usize {
        self.http.requests()
    }

    fn normalize(&self, mut rrset: Rrset) -> Rrset {
        if matches!(rrset.record_type.as_str(), "A" | "AAAA" | "CNAME") {
            rrset.proxied = Some(rrset.proxied.unwrap_or(false));
        }
        rrset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_read_into_canonical_text() {
        assert_eq!(
            value_of(&json!({"type": "MX", "content": "smtp-1.unit.tests", "priority": 40})),
            "40 smtp-1.unit.tests"
        );
        assert_eq!(
            value_of(&json!({"type": "TXT", "content": "\"have you any wool.\""})),
            "have you any wool."
        );
        let srv = json!({"type": "SRV", "data": {"priority": 10, "weight": 20, "port": 30, "target": "foo-1.unit.tests"}});
        assert_eq!(value_of(&srv), "10 20 30 foo-1.unit.tests");
    }

    /// What boma writes as `data` reads back as the same canonical value.
    #[test]
    fn structured_values_round_trip_through_data() {
        for (record_type, value) in [
            ("SSHFP", format!("4 2 {}", "ab".repeat(32))),
            ("TLSA", format!("3 1 1 {}", "cd".repeat(32))),
            (
                "NAPTR",
                r#"10 100 "U" "E2U+sip" "!^.*$!sip:a\b@example.org!" ."#.to_string(),
            ),
            (
                "LOC",
                "53 14 0.000 N 2 18 0.001 W -20.50m 10.00m 1000.00m 2.00m".to_string(),
            ),
            (
                "SVCB",
                "1 svc.unit.tests. alpn=h2 no-default-alpn port=8443".to_string(),
            ),
            ("HTTPS", "0 www.unit.tests.".to_string()),
        ] {
            let rrset = Rrset::new("x.unit.tests", record_type, 300, vec![value]);
            let body = Cloudflare::record_body(&rrset, &rrset.values[0], "");
            assert!(body["data"].is_object(), "{body}");
            let back = Rrset::new("x.unit.tests", record_type, 300, vec![value_of(&body)]);
            assert_eq!(back.values, rrset.values, "{body}");
        }
    }

    /// octoDNS's fixtures: Cloudflare's LOC `content` is not a presentation form; its `data` is.
    #[test]
    fn fixture_data_reads_into_presentation_form() {
        let loc = json!({"type": "LOC", "content": "IN LOC 53 14 10 N 2 18 26 W 20m 10m 1000m 2m", "data": {"lat_degrees": 53, "lat_minutes": 13, "lat_seconds": 10, "lat_direction": "N", "long_degrees": 2, "long_minutes": 18, "long_seconds": 26, "long_direction": "W", "altitude": 20, "size": 10, "precision_horz": 1000, "precision_vert": 2}});
        assert_eq!(value_of(&loc), "53 13 10 N 2 18 26 W 20m 10m 1000m 2m");
        let svcb = json!({"type": "SVCB", "content": "1 www.unit.tests. alpn=\"h3,h2\"", "data": {"priority": 1, "target": "www.unit.tests.", "value": "alpn=\"h3,h2\""}});
        assert_eq!(value_of(&svcb), "1 www.unit.tests. alpn=\"h3,h2\"");
    }

    #[test]
    fn record_bodies_split_mx_and_quote_txt() {
        let mx = Rrset::new("unit.tests", "MX", 300, vec!["10 mx.unit.tests.".into()]);
        assert_eq!(
            Cloudflare::record_body(&mx, &mx.values[0], "heritage=boma v=2 owner=boma"),
            json!({"type": "MX", "name": "unit.tests", "ttl": 300, "comment": "heritage=boma v=2 owner=boma", "priority": 10, "content": "mx.unit.tests"})
        );
        let txt = Rrset::new("unit.tests", "TXT", 300, vec!["v=spf1 -all".into()]);
        assert_eq!(
            Cloudflare::record_body(&txt, &txt.values[0], "")["content"],
            "\"v=spf1 -all\""
        );
    }
}
