//! Gandi LiveDNS v5: paged reads (`Total-Count` or `Link: rel=next`), one PUT per created or
//! updated rrset, one DELETE per removed one, label case kept as Gandi stores it.

use std::collections::HashMap;

use anyhow::{Context, bail};
use reqwest::Method;
use serde_json::{Value, json};

use super::{ApplyError, Live, Provider};
use crate::dns::plan::Change;
use crate::dns::{Rrset, from_wire, relative_name, to_wire};
use crate::http::{Auth, Http, MAX_PAGES, RateLimit};
use crate::secret::Secret;

pub const DEFAULT_URL: &str = "https://api.gandi.net/v5/livedns";
const PER_PAGE: usize = 100;
pub const MIN_TTL: u32 = 300;
pub const MAX_TTL: u32 = 2_592_000;

pub struct Gandi {
    http: Http,
    records_url: String,
    zone: String,
    /// The label as Gandi stores it, by canonical (lowercase) name: writes use Gandi's spelling.
    stored_names: HashMap<String, String>,
}

impl Gandi {
    pub fn new(
        url: Option<&str>,
        zone: &str,
        token: Secret,
        log: crate::ui::Log,
    ) -> anyhow::Result<Self> {
        let limit = RateLimit {
            requests: 1000,
            window: std::time::Duration::from_secs(60),
        };
        Ok(Self {
            http: Http::new(
                "gandi",
                url.unwrap_or(DEFAULT_URL),
                token,
                Auth::Bearer,
                Some(limit),
                log,
            )?,
            records_url: format!("{}/domains/{zone}/records", url.unwrap_or(DEFAULT_URL)),
            zone: zone.to_string(),
            stored_names: HashMap::new(),
        })
    }

    fn rrset_url(&self, rrset: &Rrset) -> String {
        let relative = relative_name(&rrset.name, &self.zone);
        let name = self
            .stored_names
            .get(&rrset.name)
            .cloned()
            .unwrap_or(relative);
        format!(
            "{}/{}/{}",
            self.records_url,
            encode(&name),
            rrset.record_type
        )
    }
}

/// Percent-encodes a label for a URL path (`@` becomes `%40`).
fn encode(name: &str) -> String {
    name.bytes()
        .map(|b| match b {
            b'a'..=b'z' | b'A'..=b'Z' | b'0'..=b'9' | b'-' | b'_' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// The next page from a `Link` header, if it has `rel="next"`.
fn next_link(link: &str) -> Option<String> {
    link.split(',')
        .find(|part| part.contains("rel=\"next\"") || part.contains("rel=next"))
        .and_then(|part| {
            let start = part.find('<')? + 1;
            let end = part.find('>')?;
            Some(part[start..end].to_string())
        })
}

impl Provider for Gandi {
    fn name(&self) -> &'static str {
        "gandi"
    }

    fn list(&mut self) -> anyhow::Result<Live> {
        let mut rrsets = Vec::new();
        let mut url = format!("{}?page=1&per_page={PER_PAGE}", self.records_url);
        let mut read = std::collections::HashSet::new();
        for page in 1.. {
            if page > MAX_PAGES {
                bail!(
                    "gandi: the records of `{}` take more than {MAX_PAGES} pages; boma stopped reading",
                    self.zone
                );
            }
            if !read.insert(url.clone()) {
                bail!(
                    "gandi: paging of `{}` came back to a page already read (page {page}); boma stopped reading",
                    self.zone
                );
            }
            let response = self.http.send(Method::GET, &url, None)?;
            let items: Vec<Value> = serde_json::from_str(&response.body).with_context(|| {
                format!(
                    "gandi: GET records of `{}` (page {page}) answered malformed JSON",
                    self.zone
                )
            })?;
            let count = items.len();
            for item in items {
                let stored = item["rrset_name"].as_str().unwrap_or_default().to_string();
                let record_type = item["rrset_type"].as_str().unwrap_or_default();
                let name = if stored == "@" {
                    self.zone.clone()
                } else {
                    format!("{}.{}", stored, self.zone)
                };
                let values = item["rrset_values"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .filter_map(Value::as_str)
                    .map(|value| from_wire(record_type, value))
                    .collect();
                let ttl = item["rrset_ttl"].as_u64().unwrap_or(0) as u32;
                let rrset = Rrset::new(&name, record_type, ttl, values);
                self.stored_names.insert(rrset.name.clone(), stored);
                rrsets.push(rrset);
            }
            let header = |name: &str| {
                response
                    .headers
                    .get(name)
                    .and_then(|value| value.to_str().ok())
                    .map(str::to_string)
            };
            let next = header("link").as_deref().and_then(next_link);
            let total = header("total-count").and_then(|total| total.trim().parse::<usize>().ok());
            let more = next.is_some() || total.is_some_and(|total| rrsets.len() < total);
            if more && count == 0 {
                bail!(
                    "gandi: page {page} of `{}` is empty although more records were announced; boma stopped reading",
                    self.zone
                );
            }
            if let Some(total) = total.filter(|total| total.div_ceil(PER_PAGE) > MAX_PAGES) {
                bail!(
                    "gandi: `{}` announces {total} records, more than boma reads ({MAX_PAGES} pages of {PER_PAGE})",
                    self.zone
                );
            }
            match next {
                // The token goes only to Gandi's own origin, whatever a Link header says.
                Some(next) if !self.http.same_origin(&next) => bail!(
                    "gandi: the next page of `{}` is on another origin ({}); boma does not send the token there",
                    self.zone,
                    crate::http::origin_of(&next).unwrap_or(next)
                ),
                Some(next) => url = next,
                None if more => {
                    url = format!("{}?page={}&per_page={PER_PAGE}", self.records_url, page + 1);
                }
                None => break,
            }
        }
        Ok(rrsets.into())
    }

    fn apply(
        &mut self,
        changes: &[Change],
        progress: &mut dyn FnMut(usize),
    ) -> Result<(), ApplyError> {
        let total = changes.len();
        for (applied, change) in changes.iter().enumerate() {
            let rrset = change.rrset();
            let url = self.rrset_url(rrset);
            let result = match change {
                Change::Delete { .. } => self.http.send(Method::DELETE, &url, None),
                Change::Create { .. } | Change::Update { .. } => {
                    let values: Vec<String> = rrset
                        .values
                        .iter()
                        .map(|value| to_wire(&rrset.record_type, value))
                        .collect();
                    let body = json!({ "rrset_ttl": rrset.ttl.clamp(MIN_TTL, MAX_TTL), "rrset_values": values });
                    self.http.send(Method::PUT, &url, Some(&body))
                }
                // Gandi keeps ownership in marker rrsets, which the plan writes as records.
                Change::Own { .. } => {
                    return Err(ApplyError {
                        applied,
                        total,
                        cause: anyhow::anyhow!(
                            "gandi keeps ownership in `_boma` marker records, not beside the records"
                        ),
                    });
                }
            };
            result.map_err(|error| ApplyError {
                applied,
                total,
                cause: error.into(),
            })?;
            progress(applied + 1);
        }
        Ok(())
    }

    fn requests(&self) -> usize {
        self.http.requests()
    }

    fn normalize(&self, mut rrset: Rrset) -> Rrset {
        rrset.ttl = rrset.ttl.clamp(MIN_TTL, MAX_TTL);
        rrset
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_header_next_page() {
        let link = "<https://api.gandi.net/v5/livedns/domains/x/records?page=2>; rel=\"next\", <...?page=5>; rel=\"last\"";
        assert_eq!(
            next_link(link).as_deref(),
            Some("https://api.gandi.net/v5/livedns/domains/x/records?page=2")
        );
        assert_eq!(next_link("<a>; rel=\"last\""), None);
    }

    #[test]
    fn names_are_percent_encoded() {
        assert_eq!(encode("@"), "%40");
        assert_eq!(encode("_imap._tcp"), "_imap._tcp");
    }
}
