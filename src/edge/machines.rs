//! The Fly.io Machines API at `[edge].api_url`: the app's machines, its certificates and its
//! secrets (names and digests only: the API never returns a value). The token goes only to that
//! origin (the shared HTTP client refuses anything else).

use std::time::{Duration, Instant};

use base64::Engine as _;
use reqwest::Method;
use serde::Deserialize;
use serde_json::{Value, json};

use crate::http::{Auth, Http, HttpError};
use crate::secret::Secret;
use crate::stop::LONGEST_WAIT;

pub struct Machines {
    http: Http,
    app_url: String,
}

/// A machine as listed, with its whole config kept for the update (there is no partial update).
#[derive(Debug, Clone, Deserialize)]
pub struct Machine {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub state: String,
    #[serde(default)]
    pub region: String,
    #[serde(default)]
    pub instance_id: String,
    #[serde(default)]
    pub config: Value,
}

/// A certificate as listed (the listing has no `dns_requirements`; one name's details do).
#[derive(Debug, Clone, Deserialize)]
pub struct Certificate {
    pub hostname: String,
    #[serde(default)]
    pub status: String,
    #[serde(default)]
    dns_requirements: Value,
}

impl Certificate {
    /// The DNS records Fly still waits for, as `NAME TYPE VALUE` lines.
    pub fn dns(&self) -> Vec<String> {
        dns_requirements(&self.dns_requirements)
    }
}

#[derive(Deserialize)]
struct CertificateList {
    #[serde(default)]
    certificates: Vec<Certificate>,
}

/// An app secret as listed: its name and Fly's digest of its value. (flyctl before its move to
/// this API printed Go's field names, `Name` and `Digest`, in `secrets list --json`.)
#[derive(Debug, Clone, Deserialize)]
pub struct AppSecret {
    #[serde(alias = "Name")]
    pub name: String,
    #[serde(default, alias = "Digest")]
    pub digest: String,
}

#[derive(Deserialize)]
struct SecretList {
    #[serde(default)]
    secrets: Vec<AppSecret>,
}

/// What setting a secret answered: Fly's digest of the new value, and the app's secrets version
/// that holds it (a machine updated with it as `min_secrets_version` starts with the value).
#[derive(Debug, Clone, Deserialize)]
pub struct SecretSet {
    #[serde(default)]
    pub digest: String,
    #[serde(default)]
    pub version: Option<u64>,
}

/// What a certificate request answered: its status and the DNS records it still waits for.
#[derive(Debug, Clone, Default)]
pub struct Requested {
    pub status: String,
    pub dns: Vec<String>,
}

impl Machines {
    pub fn new(
        api_url: &str,
        app: &str,
        token: Secret,
        log: crate::ui::Log,
    ) -> anyhow::Result<Self> {
        Ok(Self {
            http: Http::new("fly", api_url, token, Auth::Bearer, None, log)?,
            app_url: format!("{api_url}/apps/{app}"),
        })
    }

    pub fn list(&self) -> anyhow::Result<Vec<Machine>> {
        let url = format!("{}/machines", self.app_url);
        let response = self.http.send(Method::GET, &url, None)?;
        parse(&response.body, "GET /machines")
    }

    pub fn certificates(&self) -> anyhow::Result<Vec<Certificate>> {
        let url = format!("{}/certificates", self.app_url);
        let response = self.http.send(Method::GET, &url, None)?;
        let list: CertificateList = parse(&response.body, "GET /certificates")?;
        Ok(list.certificates)
    }

    /// `None` when the app has no certificate for `hostname` (404).
    pub fn certificate(&self, hostname: &str) -> anyhow::Result<Option<Certificate>> {
        let url = format!("{}/certificates/{hostname}", self.app_url);
        match self.http.send(Method::GET, &url, None) {
            Ok(response) => Ok(Some(parse(&response.body, "GET /certificates/NAME")?)),
            Err(error) if error.status == Some(404) => Ok(None),
            Err(error) => Err(error.into()),
        }
    }

    pub fn request_certificate(&self, hostname: &str) -> anyhow::Result<Requested> {
        let url = format!("{}/certificates/acme", self.app_url);
        let body = json!({ "hostname": hostname });
        let response = self.http.send(Method::POST, &url, Some(&body))?;
        let answer: Value = parse(&response.body, "POST /certificates/acme")?;
        Ok(Requested {
            status: answer["status"].as_str().unwrap_or("requested").to_string(),
            dns: dns_requirements(&answer["dns_requirements"]),
        })
    }

    pub fn secrets(&self) -> anyhow::Result<Vec<AppSecret>> {
        let url = format!("{}/secrets", self.app_url);
        let response = self.http.send(Method::GET, &url, None)?;
        let list: SecretList = parse(&response.body, "GET /secrets")?;
        Ok(list.secrets)
    }

    /// Sets one app secret. The value is only in the request's body: the request line, the
    /// debug log and any error name the secret, and an answer echoing the value is masked.
    pub fn set_secret(&self, name: &str, value: &Secret) -> anyhow::Result<SecretSet> {
        let url = format!("{}/secrets/{name}", self.app_url);
        let body = json!({ "value": value.expose() });
        let response = self.http.send(Method::POST, &url, Some(&body))?;
        parse(&response.body, "POST /secrets/NAME")
    }

    /// Sends the whole new config; the answer's `instance_id` is the version to wait for. With
    /// `secrets_version` (from a secret set in this run) the machine starts only once it can be
    /// given secrets at least that recent.
    pub fn update(
        &self,
        machine: &Machine,
        config: &Value,
        secrets_version: Option<u64>,
    ) -> anyhow::Result<String> {
        let url = format!("{}/machines/{}", self.app_url, machine.id);
        let mut body = json!({ "config": config, "current_version": machine.instance_id });
        if machine.state != "started" {
            // A stopped machine takes the new config without being started by it.
            body["skip_launch"] = json!(true);
        }
        if let Some(version) = secrets_version {
            body["min_secrets_version"] = json!(version);
        }
        let response = self.http.send(Method::POST, &url, Some(&body))?;
        let answer: Value = parse(&response.body, "POST /machines/ID")?;
        Ok(answer["instance_id"]
            .as_str()
            .unwrap_or_default()
            .to_string())
    }

    /// Waits until the machine runs `instance_id`, asking in slices (the API holds each request
    /// up to its `timeout`; a 408 means "not yet"). `Ok(false)` when `limit` passed first.
    pub fn wait_started(
        &self,
        machine: &str,
        instance_id: &str,
        limit: Duration,
    ) -> anyhow::Result<bool> {
        // The command line refuses more than a day; a caller that passes more waits a day rather
        // than overflowing `Instant` after the machine was already updated.
        let deadline = Instant::now() + limit.min(LONGEST_WAIT);
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            let slice = left.as_secs().clamp(1, 20);
            let mut url = format!(
                "{}/machines/{machine}/wait?state=started&timeout={slice}",
                self.app_url
            );
            if !instance_id.is_empty() {
                url.push_str(&format!("&instance_id={instance_id}"));
            }
            let asked = Instant::now();
            match self.http.send(Method::GET, &url, None) {
                Ok(_) => return Ok(true),
                Err(HttpError {
                    status: Some(408), ..
                }) => {
                    // Not yet; a server that answers at once is not asked again at once.
                    let spent = asked.elapsed();
                    let pause = Duration::from_secs(1).saturating_sub(spent);
                    crate::stop::sleep(
                        pause.min(deadline.saturating_duration_since(Instant::now())),
                    );
                }
                Err(error) => return Err(error.into()),
            }
        }
    }
}

/// The config a machine gets: its own, with the edge files in `files` (other files kept, files
/// boma put under the edge prefix before replaced) and the image when the catalog sets one.
pub fn with_edge(
    config: &Value,
    files: &[(String, String)],
    image: Option<&str>,
    prefix: &str,
) -> Value {
    let mut config = config.clone();
    if !config.is_object() {
        config = json!({});
    }
    let mut entries: Vec<Value> = config["files"]
        .as_array()
        .map(|kept| {
            kept.iter()
                .filter(|file| {
                    !file["guest_path"]
                        .as_str()
                        .is_some_and(|path| path.starts_with(prefix))
                })
                .cloned()
                .collect()
        })
        .unwrap_or_default();
    for (guest_path, content) in files {
        entries.push(json!({
            "guest_path": guest_path,
            "raw_value": base64::engine::general_purpose::STANDARD.encode(content),
        }));
    }
    config["files"] = Value::Array(entries);
    if let Some(image) = image {
        config["image"] = json!(image);
    }
    config
}

/// What differs between a machine's config and the one it would get: `image` and the guest
/// paths of edge files added, changed or removed.
pub fn differences(current: &Value, wanted: &Value) -> Vec<String> {
    let mut changes = Vec::new();
    if current["image"] != wanted["image"] {
        changes.push("image".to_string());
    }
    let files = |config: &Value| -> std::collections::BTreeMap<String, String> {
        config["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|file| {
                let path = file["guest_path"].as_str()?.to_string();
                let value = file["raw_value"].as_str().unwrap_or_default().to_string();
                Some((path, value))
            })
            .collect()
    };
    let (before, after) = (files(current), files(wanted));
    for (path, value) in &after {
        if before.get(path) != Some(value) {
            changes.push(path.clone());
        }
    }
    for path in before.keys() {
        if !after.contains_key(path) {
            changes.push(path.clone());
        }
    }
    changes
}

fn dns_requirements(requirements: &Value) -> Vec<String> {
    let mut dns = Vec::new();
    if let Some(cname) = requirements["cname"].as_str() {
        dns.push(format!("CNAME {cname}"));
    }
    if let (Some(name), Some(target)) = (
        requirements["acme_challenge"]["name"].as_str(),
        requirements["acme_challenge"]["target"].as_str(),
    ) {
        dns.push(format!("{name} CNAME {target}"));
    }
    dns
}

fn parse<T: serde::de::DeserializeOwned>(body: &str, request: &str) -> anyhow::Result<T> {
    serde_json::from_str(body).map_err(|error| {
        anyhow::anyhow!(
            "fly: {request}: the answer is not what the Machines API documents: {error}"
        )
    })
}
