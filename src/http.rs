//! The one HTTP client: timeouts, bounded retries (429 after `Retry-After`, 5xx and timeouts with
//! backoff), a client-side rate limit, a request count, and errors that never carry the token.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::secret::Secret;
use crate::stop::{self, Interrupted};

const ATTEMPTS: u32 = 4;
const BACKOFF: Duration = Duration::from_millis(250);
const LONGEST_RETRY_WAIT: Duration = Duration::from_secs(60);
/// The largest answer boma reads; a zone of 5,000 services is about 2 MB.
pub const MAX_BODY: u64 = 32 * 1024 * 1024;
/// How many pages a paged listing may take before boma stops it.
pub const MAX_PAGES: usize = 1000;
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);
const REDIRECTS: usize = 5;

/// How a provider wants its token.
pub enum Auth {
    /// `Authorization: Bearer TOKEN`.
    Bearer,
    /// A header of its own, e.g. PowerDNS's `X-API-Key`.
    Header(&'static str),
}

/// At most `requests` in any `window`, as the vendor documents.
#[derive(Debug, Clone, Copy)]
pub struct RateLimit {
    pub requests: usize,
    pub window: Duration,
}

pub struct Http {
    client: Client,
    provider: &'static str,
    /// `scheme://host:port` of the configured API: the only place the token is sent.
    origin: String,
    token: Secret,
    limit: Option<RateLimit>,
    sent: RefCell<VecDeque<Instant>>,
    requests: Cell<usize>,
    log: crate::ui::Log,
}

pub struct Response {
    pub status: u16,
    pub headers: HeaderMap,
    pub body: String,
}

/// A failed request: provider, request and status, never the token.
#[derive(Debug, thiserror::Error)]
#[error("{provider}: {request} failed: {detail}")]
pub struct HttpError {
    pub provider: &'static str,
    pub request: String,
    pub status: Option<u16>,
    pub detail: String,
    /// A write that timed out: the server may have applied it, so it is not sent again blindly.
    pub unsure_write: bool,
    /// The run was asked to stop before this request went out.
    #[source]
    pub stopped: Option<Interrupted>,
}

impl Http {
    pub fn new(
        provider: &'static str,
        base: &str,
        token: Secret,
        auth: Auth,
        limit: Option<RateLimit>,
        log: crate::ui::Log,
    ) -> anyhow::Result<Self> {
        let mut headers = HeaderMap::new();
        let (name, value) = match auth {
            Auth::Bearer if token.expose().starts_with("FlyV1 ") => {
                (reqwest::header::AUTHORIZATION, token.expose().to_string())
            }
            Auth::Bearer => (
                reqwest::header::AUTHORIZATION,
                format!("Bearer {}", token.expose()),
            ),
            Auth::Header(name) => (HeaderName::from_static(name), token.expose().to_string()),
        };
        let mut value = HeaderValue::from_str(&value).map_err(|_| {
            anyhow::anyhow!("{provider}: the token contains characters a header cannot carry")
        })?;
        value.set_sensitive(true);
        headers.insert(name, value);
        let timeout = timeout_from_env()?;
        let origin = origin_of(base)
            .ok_or_else(|| anyhow::anyhow!("{provider}: `{base}` is not an http(s) URL"))?;
        let allowed = origin.clone();
        // Redirects stay on the API's origin: reqwest strips only its standard auth headers
        // when leaving it, and a provider's token header must never follow.
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            let target = origin_of(attempt.url().as_str()).unwrap_or_default();
            if target != allowed {
                attempt.error(format!(
                    "a redirect to {target} was refused: the token goes only to {allowed}"
                ))
            } else if attempt.previous().len() > REDIRECTS {
                attempt.error(format!("more than {REDIRECTS} redirects"))
            } else {
                attempt.follow()
            }
        });
        // reqwest names the page a redirect came from in `Referer`; an API URL may carry what
        // only its API should see, so it is not repeated even within the origin.
        let client = Client::builder()
            .redirect(redirects)
            .referer(false)
            .default_headers(headers)
            .user_agent(concat!("boma/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .build()?;
        Ok(Self {
            client,
            provider,
            origin,
            token,
            limit,
            sent: RefCell::new(VecDeque::new()),
            requests: Cell::new(0),
            log,
        })
    }

    pub fn requests(&self) -> usize {
        self.requests.get()
    }

    /// Sends one request, retrying what is worth retrying; a non-2xx final answer is an error.
    pub fn send(
        &self,
        method: Method,
        url: &str,
        body: Option<&serde_json::Value>,
    ) -> Result<Response, HttpError> {
        let body = body.map(|body| serde_json::to_vec(body).unwrap_or_default());
        self.send_json(method, url, body)
    }

    /// `send` with a JSON body already serialized (large bodies are built as text once).
    pub fn send_json(
        &self,
        method: Method,
        url: &str,
        body: Option<Vec<u8>>,
    ) -> Result<Response, HttpError> {
        let request = format!("{method} {}", path_of(url));
        let target = origin_of(url).unwrap_or_default();
        if target != self.origin {
            return Err(self.refusal(
                &request,
                format!(
                    "refused: {target} is not {}, the only origin the token is sent to",
                    self.origin
                ),
            ));
        }
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_for_rate_limit();
            if let Err(stopped) = stop::check("before the request was sent") {
                let mut refused = self.refusal(&request, "not sent".to_string());
                refused.stopped = Some(stopped);
                return Err(refused);
            }
            let started = Instant::now();
            let mut builder = self.client.request(method.clone(), url);
            if let Some(body) = &body {
                builder = builder
                    .header(reqwest::header::CONTENT_TYPE, "application/json")
                    .body(body.clone());
            }
            self.requests.set(self.requests.get() + 1);
            let result = builder.send().map(|response| {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                read_body(response).map(|body| Response {
                    status,
                    headers,
                    body,
                })
            });
            let result = match result {
                Ok(Ok(response)) => Ok(response),
                Ok(Err(too_big)) => return Err(self.refusal(&request, too_big)),
                Err(error) => Err(error),
            };
            let elapsed = started.elapsed().as_millis();
            let shown = match &result {
                Ok(response) => response.status.to_string(),
                Err(error) => self.redact(&error.to_string()),
            };
            (self.log)(&format!(
                "{}: {request} -> {shown} ({elapsed} ms)",
                self.provider
            ));
            let retry_in = match result {
                Ok(response) if (200..=299).contains(&response.status) => return Ok(response),
                Ok(ref response) if response.status == 429 => {
                    Some(retry_after(&response.headers).unwrap_or(BACKOFF * 2u32.pow(attempt)))
                }
                Ok(ref response) if response.status >= 500 => Some(BACKOFF * 2u32.pow(attempt - 1)),
                Ok(_) => None,
                // A write that timed out may have been applied: its caller re-reads instead.
                Err(ref error) if error.is_timeout() && method != Method::GET => None,
                Err(ref error) => (error.is_timeout() || error.is_connect())
                    .then(|| BACKOFF * 2u32.pow(attempt - 1)),
            };
            match retry_in {
                Some(wait) if attempt < ATTEMPTS => stop::sleep(wait.min(LONGEST_RETRY_WAIT)),
                _ => {
                    let unsure_write = method != Method::GET
                        && result.as_ref().is_err_and(reqwest::Error::is_timeout);
                    let mut failure = self.failure(&request, result, attempt);
                    failure.unsure_write = unsure_write;
                    return Err(failure);
                }
            }
        }
    }

    /// A request boma would not make or an answer it would not read.
    fn refusal(&self, request: &str, detail: String) -> HttpError {
        HttpError {
            provider: self.provider,
            request: request.to_string(),
            status: None,
            detail: self.redact(&detail),
            unsure_write: false,
            stopped: None,
        }
    }

    fn failure(
        &self,
        request: &str,
        result: Result<Response, reqwest::Error>,
        attempts: u32,
    ) -> HttpError {
        let tries = if attempts > 1 {
            format!(" after {attempts} attempts")
        } else {
            String::new()
        };
        let (status, detail) = match result {
            Ok(response) => {
                // Redacted whole before it is cut, so no part of a token survives the cut.
                let body = self.redact(response.body.trim());
                let excerpt: String = body.chars().take(300).collect();
                let excerpt = if excerpt.is_empty() {
                    String::new()
                } else {
                    format!(": {excerpt}")
                };
                (
                    Some(response.status),
                    format!("status {}{tries}{excerpt}", response.status),
                )
            }
            Err(error) if error.is_timeout() => (None, format!("timed out{tries}")),
            Err(error) => (None, format!("{}{tries}", describe(&error))),
        };
        HttpError {
            provider: self.provider,
            request: request.to_string(),
            status,
            detail: self.redact(&detail),
            unsure_write: false,
            stopped: None,
        }
    }

    /// A token must never be printed, even if a server echoes it back. Every secret of the run
    /// is masked too, escaped forms included (a JSON body writes `\"` for a quote), before the
    /// caller cuts an excerpt that could leave part of one.
    pub fn redact(&self, text: &str) -> String {
        let token = self.token.expose();
        let text = if token.len() >= 4 {
            text.replace(token, "[redacted]")
        } else {
            text.to_string()
        };
        crate::secret::redact(&text).into_owned()
    }

    /// Whether `url` may be asked with the token: the same origin as the configured API.
    pub fn same_origin(&self, url: &str) -> bool {
        origin_of(url).is_some_and(|origin| origin == self.origin)
    }

    fn wait_for_rate_limit(&self) {
        let Some(limit) = self.limit else { return };
        let mut sent = self.sent.borrow_mut();
        let now = Instant::now();
        while sent
            .front()
            .is_some_and(|first| now.duration_since(*first) >= limit.window)
        {
            sent.pop_front();
        }
        if sent.len() >= limit.requests {
            if let Some(first) = sent.front() {
                stop::sleep(limit.window.saturating_sub(now.duration_since(*first)));
            }
            sent.pop_front();
        }
        sent.push_back(Instant::now());
    }
}

/// How long a 429 asks to wait: seconds or an HTTP date, up to `LONGEST_RETRY_WAIT` (a date
/// already past is no wait). Anything else (negative, NaN, infinite, absurd, further away than
/// `LONGEST_RETRY_WAIT`) is ignored and the caller's backoff applies: a far date capped to the
/// longest wait would be honoured on every attempt, minutes in all.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get("retry-after")?.to_str().ok()?.trim();
    if let Ok(seconds) = value.parse::<f64>() {
        return (seconds.is_finite()
            && (0.0..=LONGEST_RETRY_WAIT.as_secs_f64()).contains(&seconds))
        .then(|| Duration::from_secs_f64(seconds));
    }
    let at = httpdate::parse_http_date(value).ok()?;
    let wait = at
        .duration_since(std::time::SystemTime::now())
        .unwrap_or(Duration::ZERO);
    (wait <= LONGEST_RETRY_WAIT).then_some(wait)
}

/// `BOMA_HTTP_TIMEOUT` seconds: a positive number up to an hour; anything else is an error.
pub fn timeout_from_env() -> anyhow::Result<Duration> {
    let Ok(text) = std::env::var("BOMA_HTTP_TIMEOUT") else {
        return Ok(DEFAULT_TIMEOUT);
    };
    text.trim()
        .parse::<f64>()
        .ok()
        .filter(|seconds| seconds.is_finite() && *seconds > 0.0 && *seconds <= 3600.0)
        .and_then(|seconds| Duration::try_from_secs_f64(seconds).ok())
        .ok_or_else(|| {
            anyhow::anyhow!(
                "BOMA_HTTP_TIMEOUT must be a number of seconds above 0 and at most 3600, not `{}`",
                crate::ui::escape(&text)
            )
        })
}

/// `scheme://host:port` of an http(s) URL.
pub fn origin_of(url: &str) -> Option<String> {
    let parsed = reqwest::Url::parse(url).ok()?;
    matches!(parsed.scheme(), "http" | "https").then(|| parsed.origin().ascii_serialization())
}

/// The body, read up to `MAX_BODY`; a larger answer is refused before it fills memory.
fn read_body(response: reqwest::blocking::Response) -> Result<String, String> {
    use std::io::Read;
    let too_big = || {
        format!(
            "the answer is larger than {} MiB; boma does not read it",
            MAX_BODY >> 20
        )
    };
    let text = |bytes: Vec<u8>| {
        String::from_utf8(bytes)
            .unwrap_or_else(|invalid| String::from_utf8_lossy(invalid.as_bytes()).into_owned())
    };
    match response.content_length() {
        Some(length) if length > MAX_BODY => return Err(too_big()),
        // An announced length bounds the body (the HTTP library holds the server to it): read it
        // in one go, which is much cheaper than many small reads.
        Some(_) => {
            return response
                .bytes()
                .map(|bytes| text(bytes.to_vec()))
                .map_err(|error| format!("cannot read the answer: {error}"));
        }
        None => {}
    }
    let mut bytes = Vec::new();
    let mut limited = response.take(MAX_BODY + 1);
    if let Err(error) = limited.read_to_end(&mut bytes) {
        return Err(format!("cannot read the answer: {error}"));
    }
    if bytes.len() as u64 > MAX_BODY {
        return Err(too_big());
    }
    Ok(text(bytes))
}

fn path_of(url: &str) -> String {
    url.split_once("://")
        .and_then(|(_, rest)| rest.find('/').map(|index| rest[index..].to_string()))
        .unwrap_or_else(|| url.to_string())
}

fn describe(error: &reqwest::Error) -> String {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(error);
    while let Some(cause) = source {
        text.push_str(&format!(": {cause}"));
        source = cause.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    fn retry_after_of(value: &str) -> Option<Duration> {
        let mut headers = HeaderMap::new();
        if let Ok(value) = HeaderValue::from_str(value) {
            headers.insert("retry-after", value);
        }
        retry_after(&headers)
    }

    fn date_in(seconds: u64) -> String {
        httpdate::fmt_http_date(std::time::SystemTime::now() + Duration::from_secs(seconds))
    }

    #[test]
    fn retry_after_beyond_the_longest_wait_is_ignored_as_seconds_or_date() {
        assert_eq!(retry_after_of("5"), Some(Duration::from_secs(5)));
        assert_eq!(retry_after_of("60"), Some(LONGEST_RETRY_WAIT));
        assert_eq!(retry_after_of("61"), None);
        assert_eq!(retry_after_of("-1"), None);
        assert_eq!(retry_after_of("nan"), None);
        // HTTP dates count whole seconds: 30 s ahead is a wait of 29 to 30 s.
        let near = retry_after_of(&date_in(30));
        assert!(
            near.is_some_and(
                |wait| wait > Duration::from_secs(28) && wait <= Duration::from_secs(30)
            ),
            "{near:?}"
        );
        assert_eq!(retry_after_of(&date_in(61 + 1)), None);
        assert_eq!(retry_after_of(&date_in(3600)), None);
        assert_eq!(
            retry_after_of("Wed, 21 Oct 2015 07:28:00 GMT"),
            Some(Duration::ZERO)
        );
        assert_eq!(retry_after_of("soon"), None);
        assert_eq!(retry_after_of(""), None);
    }

    #[test]
    fn paths_drop_scheme_and_host() {
        assert_eq!(
            path_of("https://api.gandi.net/v5/livedns/domains/x/records?page=2"),
            "/v5/livedns/domains/x/records?page=2"
        );
    }
}
