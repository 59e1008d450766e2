//! Pings after a check: Healthchecks (success, or `/fail` with the reason as its body) and Uptime
//! Kuma (`status=up|down&msg=`). The URL carries its own token, so it is never printed; a ping
//! that fails is a warning on the finding, not a failed backup.

use std::time::Duration;

use super::Finding;
use crate::catalog::Ping;

/// Sends the ping; `Err` with a short reason that names no URL.
pub fn send(target: &Ping, finding: &Finding) -> Result<(), String> {
    let client = reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::limited(3))
        .user_agent(concat!("boma/", env!("CARGO_PKG_VERSION")))
        .build()
        .map_err(|error| error.to_string())?;
    let reason = finding.reasons.join("; ");
    let (kind, request) = match target {
        Ping::Healthchecks(url) if finding.ok() => ("healthchecks", client.get(url.as_str())),
        Ping::Healthchecks(url) => {
            let body: String = format!("{}: {reason}", finding.status.as_str())
                .chars()
                .take(10_000)
                .collect();
            (
                "healthchecks",
                client
                    .post(format!("{}/fail", url.trim_end_matches('/')))
                    .body(body),
            )
        }
        Ping::UptimeKuma(url) => {
            let (status, message) = if finding.ok() {
                ("up", "OK".to_string())
            } else {
                ("down", format!("{}: {reason}", finding.status.as_str()))
            };
            let message: String = message.chars().take(250).collect();
            let ping = format!("{:.0}", finding.duration_seconds * 1000.0);
            let query = [
                ("status", status),
                ("msg", message.as_str()),
                ("ping", ping.as_str()),
            ];
            ("uptime kuma", client.get(url.as_str()).query(&query))
        }
    };
    match request.send() {
        Ok(response) if response.status().is_success() => Ok(()),
        Ok(response) => Err(format!(
            "{kind} ping answered {}",
            response.status().as_u16()
        )),
        Err(error) if error.is_timeout() => Err(format!("{kind} ping timed out")),
        Err(_) => Err(format!("{kind} ping could not be sent")),
    }
}
