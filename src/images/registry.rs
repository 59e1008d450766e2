//! Asks an image's registry whether a tag is there (the OCI distribution API: a manifest `HEAD`
//! with the OCI and Docker manifest types in `Accept`), with the registry's credentials sent to
//! that registry's origin only: Basic, or a Bearer token from a realm on the same origin.

use std::io::Read;
use std::time::Duration;

use reqwest::StatusCode;
use reqwest::blocking::Client;
use reqwest::header::{ACCEPT, AUTHORIZATION, WWW_AUTHENTICATE};

use crate::secret::Secret;

const MANIFEST_TYPES: &str = "application/vnd.oci.image.index.v1+json, \
    application/vnd.oci.image.manifest.v1+json, \
    application/vnd.docker.distribution.manifest.v2+json, \
    application/vnd.docker.distribution.manifest.list.v2+json";

/// The largest token answer boma reads: a JSON object with a token or two is a few KiB.
const MAX_TOKEN_ANSWER: u64 = 1024 * 1024;

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
    let base = format!("{scheme}://{host}");
    let url = format!("{base}/v2/{path}/manifests/{tag}");
    let timeout = crate::http::timeout_from_env()
        .map_err(|error| error.to_string())?
        .min(Duration::from_secs(30));
    // Neither the manifest nor the token request needs a redirect: following none keeps the
    // password and the token on the registry's origin, and no `Referer` names it elsewhere.
    let client = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .referer(false)
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
        let token = bearer_token(&client, host, &base, &challenge, basic.as_deref())?;
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
/// registry's own origin (`base`: scheme, host and port): credentials go nowhere else.
fn bearer_token(
    client: &Client,
    host: &str,
    base: &str,
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
    // Only a request that carries the password must stay on the registry's origin: an anonymous
    // token from another host (Docker Hub's auth.docker.io) gives nothing away.
    if basic.is_some() {
        realm_on_origin(base, &realm).map_err(|reason| format!("{host}: {reason}"))?;
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
    let answer = read_token_answer(response).map_err(|reason| format!("{host}: {reason}"))?;
    let body: serde_json::Value = serde_json::from_slice(&answer)
        .map_err(|_| format!("{host}: the token realm's answer is not JSON"))?;
    body["token"]
        .as_str()
        .or_else(|| body["access_token"].as_str())
        .map(str::to_string)
        .ok_or_else(|| format!("{host}: the token realm's answer has no token"))
}

/// `Err` with the reason when `realm` is not on the origin of `base` (the registry's
/// `scheme://host[:port]`): another port is another server, and an `http://` realm of an
/// `https://` registry would carry the password in clear text.
fn realm_on_origin(base: &str, realm: &str) -> Result<(), String> {
    let registry = crate::http::origin_of(base).unwrap_or_default();
    match crate::http::origin_of(realm) {
        Some(origin) if !registry.is_empty() && origin == registry => Ok(()),
        Some(origin) => Err(format!(
            "the token realm is on {origin}; credentials go only to the registry's origin {registry}"
        )),
        None => Err(format!(
            "the token realm `{realm}` is not an http(s) URL; credentials go only to {registry}"
        )),
    }
}

/// The token answer, read up to `MAX_TOKEN_ANSWER` whether or not it announces its length.
fn read_token_answer(response: reqwest::blocking::Response) -> Result<Vec<u8>, String> {
    let too_big = || {
        format!(
            "the token realm's answer is larger than {} MiB; boma does not read it",
            MAX_TOKEN_ANSWER >> 20
        )
    };
    if response
        .content_length()
        .is_some_and(|length| length > MAX_TOKEN_ANSWER)
    {
        return Err(too_big());
    }
    let mut answer = Vec::new();
    response
        .take(MAX_TOKEN_ANSWER + 1)
        .read_to_end(&mut answer)
        .map_err(|error| format!("cannot read the token realm's answer: {error}"))?;
    if answer.len() as u64 > MAX_TOKEN_ANSWER {
        return Err(too_big());
    }
    Ok(answer)
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_realm_must_be_on_the_registrys_origin() {
        for (base, realm, allowed) in [
            (
                "https://forge.example.org",
                "https://forge.example.org/token",
                true,
            ),
            (
                "https://forge.example.org",
                "https://forge.example.org:443/token",
                true,
            ),
            (
                "https://forge.example.org:5000",
                "https://forge.example.org:5000/jwt",
                true,
            ),
            ("http://127.0.0.1:5000", "http://127.0.0.1:5000/token", true),
            // Another port of the same host is another server.
            (
                "http://127.0.0.1:5000",
                "http://127.0.0.1:5001/token",
                false,
            ),
            (
                "https://forge.example.org",
                "https://forge.example.org:8443/token",
                false,
            ),
            // The password in clear text, or to a plain-HTTP stand-in.
            (
                "https://forge.example.org",
                "http://forge.example.org/token",
                false,
            ),
            (
                "https://forge.example.org:443",
                "http://forge.example.org:443/token",
                false,
            ),
            // A TLS realm for a plain-HTTP registry is another origin too.
            (
                "http://forge.example.org",
                "https://forge.example.org/token",
                false,
            ),
            (
                "https://forge.example.org",
                "https://auth.example.org/token",
                false,
            ),
            (
                "https://forge.example.org",
                "ftp://forge.example.org/token",
                false,
            ),
            ("https://forge.example.org", "/token", false),
        ] {
            assert_eq!(
                realm_on_origin(base, realm).is_ok(),
                allowed,
                "{base} and {realm}: {:?}",
                realm_on_origin(base, realm)
            );
        }
    }
}
