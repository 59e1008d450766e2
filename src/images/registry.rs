//! Asks an image's registry whether a tag is there (the OCI distribution API: a manifest `HEAD`
//! with the OCI and Docker manifest types in `Accept`), with the registry's credentials sent to
//! that registry only: Basic, or a Bearer token from a realm on the same host.

use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};

use crate::secret::Secret;

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// `forge.example.org/ops/shower` → (`forge.example.org`, `ops/shower`).
pub fn split(image: &str) -> (&str, &str) {
    image.split_once('/').unwrap_or((image, ""))
}

/// Whether `image:tag` is in its registry: `Some(digest)` (the manifest's, empty when the
/// registry does not say) or `None`. `Err` with a one-line reason when the registry cannot say
/// (unreachable, refused credentials, an odd answer).
pub fn find_tag(
    image: &str,
    tag: &str,
    login: Option<(&str, &Secret)>,
    tls_verify: bool,
) -> Result<Option<String>, String> {
    let (host, path) = split(image);
    let scheme = if tls_verify { "https" } else { "http" };
    let url = format!("{scheme}://{host}/v2/{path}/manifests/{tag}");
    let timeout = crate::http::timeout_from_env()
        .map_err(|error| error.to_string())?
        .min(Duration::from_secs(30));
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .timeout(timeout)
        .user_agent(concat!("boma/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| error.to_string())?;
    let ask = |authorization: Option<String>| {
        let mut request = client.head(&url).header(ACCEPT, MANIFEST_TYPES);
        if let Some(value) = authorization {
            request = request.header(AUTHORIZATION, value);
        }
        request
            .send()
            .map_err(|error| format!("{host}: {}", describe(&error)))
    };
    let basic = login.map(|(user, password)| basic(user, password));
    let mut response = ask(basic.clone())?;
    let challenge = response
        .headers()
        .get(WWW_AUTHENTICATE)
        .and_then(|value| value.to_str().ok())
        .filter(|value| value.to_ascii_lowercase().starts_with("bearer "))
        .map(str::to_string);
    if let (StatusCode::UNAUTHORIZED, Some(challenge)) = (response.status(), challenge) {
        let token = bearer_token(&client, host, &challenge, basic.as_deref())?;
        response = ask(Some(format!("Bearer {token}")))?;
    }
    match response.status() {
        status if status.is_success() => Ok(Some(
            response
                .headers()
                .get("docker-content-digest")
                .and_then(|value| value.to_str().ok())
                .unwrap_or_default()
                .to_string(),
        )),
        StatusCode::NOT_FOUND => Ok(None),
        StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN => Err(format!(
            "{host}: the registry refused {} (status {})",
            if login.is_some() {
                "the credentials"
            } else {
                "an anonymous request"
            },
            response.status().as_u16()
        )),
        status => Err(format!("{host}: status {}", status.as_u16())),
    }
}

fn basic(user: &str, password: &Secret) -> String {
    use base64::Engine as _;
    let pair = format!("{user}:{}", password.expose());
    format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD.encode(pair)
    )
}

/// The token flow: `Bearer realm="...",service="...",scope="..."`. The realm must be on the
/// registry's own host: credentials go nowhere else.
fn bearer_token(
    client: &Client,
    host: &str,
    challenge: &str,
    basic: Option<&str>,
) -> Result<String, String> {
    let field = |name: &str| {
        challenge
            .split(',')
            .filter_map(|part| part.trim().trim_start_matches("Bearer ").split_once('='))
            .find(|(key, _)| key.trim().eq_ignore_ascii_case(name))
            .map(|(_, value)| value.trim().trim_matches('"').to_string())
    };
    let realm =
        field("realm").ok_or_else(|| format!("{host}: a Bearer challenge without realm"))?;
    let realm_host = crate::http::origin_of(&realm)
        .and_then(|origin| origin.split_once("://").map(|(_, rest)| rest.to_string()))
        .unwrap_or_default();
    let bare = |authority: &str| {
        authority
            .rsplit_once(':')
            .map_or(authority.to_string(), |(h, _)| h.to_string())
    };
    if bare(&realm_host) != bare(host) {
        return Err(format!(
            "{host}: the token realm {realm} is on another host; credentials go only to {host}"
        ));
    }
    let mut request = client.get(&realm);
    let query: Vec<(String, String)> = ["service", "scope"]
        .iter()
        .filter_map(|key| field(key).map(|value| (key.to_string(), value)))
        .collect();
    request = request.query(&query);
    if let Some(basic) = basic {
        request = request.header(AUTHORIZATION, basic);
    }
    let response = request
        .send()
        .map_err(|error| format!("{host}: token: {}", describe(&error)))?;
    if !response.status().is_success() {
        return Err(format!(
            "{host}: the token realm answered {}",
            response.status().as_u16()
        ));
    }
    let body: serde_json::Value = response
        .json()
        .map_err(|_| format!("{host}: the token realm's answer is not JSON"))?;
    body["token"]
        .as_str()
        .or_else(|| body["access_token"].as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("{host}: the token realm's answer has no token"))
}

fn describe(error: &reqwest::Error) -> String {
    if error.is_timeout() {
        "timed out".into()
    } else if error.is_connect() {
        "cannot connect".into()
    } else {
        let mut text = error.to_string();
        let mut source = std::error::Error::source(error);
        while let Some(cause) = source {
            text = format!("{text}: {cause}");
            source = cause.source();
        }
        text
    }
}
