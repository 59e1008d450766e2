//! Pings after a check: Healthchecks (success, or `/fail` with the reason as its body) and Uptime
//! Kuma (`status=up|down&msg=`). The URL carries its own token, so it is never printed, never sent
//! as a `Referer` and never followed off its origin; a ping that fails is a warning on the
//! finding, not a failed backup.

use std::time::Duration;

use reqwest::Url;
use reqwest::blocking::Client;
use reqwest::redirect::{Attempt, Policy};

use super::Finding;
use crate::catalog::Ping;

/// How many redirects a ping follows, all on the ping URL's own origin.
const REDIRECTS: usize = 3;

/// A redirect the ping does not follow.
#[derive(Debug, thiserror::Error)]
enum Refused {
    #[error("was redirected to another origin, which boma does not follow (the URL holds a token)")]
    OtherOrigin,
    #[error("was redirected more than {REDIRECTS} times")]
    TooMany,
}

/// Sends the ping; `Err` with a short reason that names no URL.
pub fn send(target: &Ping, finding: &Finding) -> Result<(), String> {
    let (kind, url) = match target {
        Ping::Healthchecks(url) => ("healthchecks", url),
        Ping::UptimeKuma(url) => ("uptime kuma", url),
    };
    let url = Url::parse(url).map_err(|_| format!("{kind} ping URL cannot be read"))?;
    let origin = url.origin();
    // The token is the URL itself: a redirect elsewhere would hand it over (in the path, and in a
    // `Referer`), and a 307 would re-send the failure body there too.
    let redirects = Policy::custom(move |attempt: Attempt<'_>| {
        if attempt.url().origin() != origin {
            attempt.error(Refused::OtherOrigin)
        } else if attempt.previous().len() > REDIRECTS {
            attempt.error(Refused::TooMany)
        } else {
            attempt.follow()
        }
    });
    let client = Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(redirects)
        .referer(false)
        .user_agent(concat!("boma/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| error.to_string())?;
    let reason = finding.reasons.join("; ");
    let request = match target {
        Ping::Healthchecks(_) if finding.ok() => client.get(url),
        Ping::Healthchecks(_) => {
            // The reasons are a tool's words, and they leave this machine: masked before the cut.
            let body: String =
                crate::secret::redact(&format!("{}: {reason}", finding.status.as_str()))
                    .chars()
                    .take(10_000)
                    .collect();
            client.post(healthchecks_failure(&url)).body(body)
        }
        Ping::UptimeKuma(_) => {
            let (status, message) = if finding.ok() {
                ("up", "OK".to_string())
            } else {
                ("down", format!("{}: {reason}", finding.status.as_str()))
            };
            let message: String = crate::secret::redact(&message).chars().take(250).collect();
            let ping = format!("{:.0}", finding.duration_seconds * 1000.0);
            let pairs = [
                ("status", status),
                ("msg", message.as_str()),
                ("ping", ping.as_str()),
            ];
            client.get(uptime_kuma_push(&url, &pairs))
        }
    };
    match request.send() {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!(
            "{kind} ping answered {}",
            response.status().as_u16()
        )),
        Err(error) if error.is_timeout() => Err(format!("{kind} ping timed out")),
        Err(error) => match std::error::Error::source(&error)
            .and_then(|cause| cause.downcast_ref::<Refused>())
        {
            Some(refused) => Err(format!("{kind} ping {refused}")),
            None => Err(format!("{kind} ping could not be sent")),
        },
    }
}

/// Healthchecks' failure endpoint: `/fail` at the end of the path, the query kept
/// (`https://hc-ping.com/UUID?create=1` → `https://hc-ping.com/UUID/fail?create=1`); appended after
/// the query it would be part of the query, and a failed backup would ping success.
fn healthchecks_failure(url: &Url) -> Url {
    let mut failure = url.clone();
    failure.set_path(&format!("{}/fail", url.path().trim_end_matches('/')));
    failure
}

/// Uptime Kuma's push URL with boma's `pairs`, replacing any of the same names the URL carries:
/// Kuma shows its push URL as `...?status=up&msg=OK&ping=`, and a second `status` makes the
/// value a list, which Kuma reads as down whatever the check found.
fn uptime_kuma_push(url: &Url, pairs: &[(&str, &str)]) -> Url {
    let kept: Vec<(String, String)> = url
        .query_pairs()
        .filter(|(name, _)| !pairs.iter().any(|(own, _)| own == name))
        .map(|(name, value)| (name.into_owned(), value.into_owned()))
        .collect();
    let mut push = url.clone();
    push.set_query(None);
    push.query_pairs_mut()
        .extend_pairs(kept)
        .extend_pairs(pairs.iter().copied());
    push
}

#[cfg(test)]
mod tests {
    use super::*;

    fn url(text: &str) -> Url {
        Url::parse(text).unwrap_or_else(|error| panic!("{text}: {error}"))
    }

    #[test]
    fn healthchecks_failure_goes_at_the_end_of_the_path() {
        for (given, expected) in [
            ("https://hc-ping.com/u", "https://hc-ping.com/u/fail"),
            ("https://hc-ping.com/u/", "https://hc-ping.com/u/fail"),
            (
                "https://hc-ping.com/u?create=1",
                "https://hc-ping.com/u/fail?create=1",
            ),
            (
                "https://hc-ping.com/key/slug/?rid=a&create=1",
                "https://hc-ping.com/key/slug/fail?rid=a&create=1",
            ),
            ("http://127.0.0.1:8000", "http://127.0.0.1:8000/fail"),
        ] {
            assert_eq!(healthchecks_failure(&url(given)).as_str(), expected);
        }
    }

    #[test]
    fn uptime_kuma_pairs_replace_the_urls_own() {
        let pairs = [("status", "down"), ("msg", "stale: a b"), ("ping", "12")];
        assert_eq!(
            uptime_kuma_push(
                &url("https://kuma.example/api/push/t?status=up&msg=OK&ping="),
                &pairs
            )
            .as_str(),
            "https://kuma.example/api/push/t?status=down&msg=stale%3A+a+b&ping=12"
        );
        assert_eq!(
            uptime_kuma_push(&url("https://kuma.example/api/push/t?x=1"), &pairs).as_str(),
            "https://kuma.example/api/push/t?x=1&status=down&msg=stale%3A+a+b&ping=12"
        );
        assert_eq!(
            uptime_kuma_push(&url("https://kuma.example/api/push/t"), &pairs).as_str(),
            "https://kuma.example/api/push/t?status=down&msg=stale%3A+a+b&ping=12"
        );
    }
}
