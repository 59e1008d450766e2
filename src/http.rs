//! The one HTTP client: timeouts, bounded retries (429 after `Retry-After`, 5xx and timeouts with
//! backoff), a client-side rate limit, a request count, and errors that never carry the token.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::time::{Duration, Instant};

use reqwest::Method;
use reqwest::blocking::Client;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue};

use crate::secret::Secret;

const ATTEMPTS: u32 = 4;
const BACKOFF: Duration = Duration::from_millis(250);
const LONGEST_WAIT: Duration = Duration::from_secs(60);

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
    token: Secret,
    limit: Option<RateLimit>,
    sent: RefCell<VecDeque<Instant>>,
    requests: Cell<usize>,
    log: Box<dyn Fn(&str)>,
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
}

impl Http {
    pub fn new(
        provider: &'static str,
        token: Secret,
        auth: Auth,
        limit: Option<RateLimit>,
        log: Box<dyn Fn(&str)>,
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
        let timeout = std::env::var("BOMA_HTTP_TIMEOUT")
            .ok()
            .and_then(|seconds| seconds.parse().ok())
            .map_or(Duration::from_secs(30), Duration::from_secs_f64);
        let client = Client::builder()
            .default_headers(headers)
            .user_agent(concat!("boma/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(timeout.min(Duration::from_secs(10)))
            .timeout(timeout)
            .build()?;
        Ok(Self {
            client,
            provider,
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
        let request = format!("{method} {}", path_of(url));
        let mut attempt = 0;
        loop {
            attempt += 1;
            self.wait_for_rate_limit();
            let started = Instant::now();
            let mut builder = self.client.request(method.clone(), url);
            if let Some(body) = body {
                builder = builder.json(body);
            }
            self.requests.set(self.requests.get() + 1);
            let result = builder.send().and_then(|response| {
                let status = response.status().as_u16();
                let headers = response.headers().clone();
                response.text().map(|body| Response {
                    status,
                    headers,
                    body,
                })
            });
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
                Err(ref error) => (error.is_timeout() || error.is_connect())
                    .then(|| BACKOFF * 2u32.pow(attempt - 1)),
            };
            match retry_in {
                Some(wait) if attempt < ATTEMPTS => std::thread::sleep(wait.min(LONGEST_WAIT)),
                _ => return Err(self.failure(&request, result, attempt)),
            }
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
                let excerpt: String = response.body.trim().chars().take(300).collect();
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
        }
    }

    /// A token must never be printed, even if a server echoes it back.
    fn redact(&self, text: &str) -> String {
        let token = self.token.expose();
        if token.len() >= 4 {
            text.replace(token, "[redacted]")
        } else {
            text.to_string()
        }
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
                std::thread::sleep(limit.window.saturating_sub(now.duration_since(*first)));
            }
            sent.pop_front();
        }
        sent.push_back(Instant::now());
    }
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get("retry-after")?
        .to_str()
        .ok()?
        .trim()
        .parse::<f64>()
        .ok()
        .map(Duration::from_secs_f64)
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

    #[test]
    fn paths_drop_scheme_and_host() {
        assert_eq!(
            path_of("https://api.gandi.net/v5/livedns/domains/x/records?page=2"),
            "/v5/livedns/domains/x/records?page=2"
        );
    }
}
