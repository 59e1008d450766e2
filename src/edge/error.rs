//! What can stop `fly-deploy`, each with a hint: a missing tool, a config the real tools reject, a
//! filter that misreads its own sample lines, a machine that does not come back, flyctl failing,
//! an app secret flyctl cannot carry or Fly.io does not list after setting it.

use crate::hint::Hint;

#[derive(Debug, thiserror::Error)]
pub enum EdgeError {
    #[error("the catalog has no [edge] table: there is no edge to deploy")]
    NoEdge,
    #[error("the edge runs on host `{host}`, not on Fly.io: `fly-deploy` has nothing to deploy")]
    OnHost { host: String },
    #[error(
        "the edge runs on Fly.io (app `{app}`), not on a host: `edge-push` has nothing to push"
    )]
    OnFly { app: String },
    #[error(
        "`{tool}` is not installed: the edge is checked with the real nginx and fail2ban before any deploy"
    )]
    ToolMissing { tool: &'static str },
    #[error("{tool} rejects the rendered edge config:\n{message}")]
    Rejected { tool: String, message: String },
    #[error(
        "the fail2ban filter of `{service}` does not read its own sample lines right: {}",
        mismatch(missed, unexpected)
    )]
    FilterMismatch {
        service: String,
        missed: Vec<String>,
        unexpected: Vec<String>,
    },
    #[error("machine {machine} did not reach `started` within {waited}: the roll stopped there")]
    MachineTimeout { machine: String, waited: String },
    #[error("flyctl {action} failed ({status}):\n{output}")]
    Flyctl {
        action: &'static str,
        status: String,
        output: String,
    },
    #[error(
        "the value of secret `{from}` cannot go through `flyctl secrets import` unchanged: it has a quote, a `#`, a line break or a space at an end, which flyctl reads its own way; {name} was not set"
    )]
    NotImportable { name: String, from: String },
    #[error("Fly.io does not list the secret {name} that {how} just set")]
    SecretNotListed { name: String, how: &'static str },
}

fn mismatch(missed: &[String], unexpected: &[String]) -> String {
    let mut parts = Vec::new();
    if let Some(line) = missed.first() {
        parts.push(format!(
            "{} failing line(s) not matched, e.g. `{line}`",
            missed.len()
        ));
    }
    if let Some(line) = unexpected.first() {
        parts.push(format!(
            "{} other line(s) matched, e.g. `{line}`",
            unexpected.len()
        ));
    }
    parts.join("; ")
}

impl Hint for EdgeError {
    fn hint(&self) -> Option<String> {
        Some(match self {
            Self::OnHost { .. } => "push it with `boma edge-push` (or `boma up`)".into(),
            Self::OnFly { .. } => "deploy it with `boma fly-deploy` (or `boma up`)".into(),
            Self::NoEdge => "add an [edge] table and an `edge` table to the services it serves (see README.md)".into(),
            Self::ToolMissing { .. } => {
                "install them: apt-get install nginx-light fail2ban".into()
            }
            Self::Rejected { .. } => "nothing was deployed; `boma render edge/nginx.conf` shows the rendered file (a template override in templates/edge/ takes precedence over boma's own)".into(),
            Self::FilterMismatch { .. } => "nothing was deployed; check templates/edge/fail2ban/filter.conf.j2 if it is overridden, and the service's `edge.ban` paths and statuses".into(),
            Self::MachineTimeout { .. } => "the machines before it run the new config, the ones after it the old one; see `fly logs` for why it did not start, then run fly-deploy again".into(),
            Self::Flyctl { .. } => "run the same flyctl command by hand with --verbose to see more".into(),
            Self::NotImportable { .. } => "deploy with --machines-api, which sends the value as it is, or use a value without those characters".into(),
            Self::SecretNotListed { .. } => "nothing was rolled and nothing recorded; run fly-deploy again, and see `flyctl secrets list` if it persists".into(),
        })
    }
}
