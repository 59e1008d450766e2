//! The checks on this machine that need no host: each secret read (its value never shown, not
//! even its length), and each token tried with a read-only call of the API it is for, through
//! the providers and clients the stages use. Every check runs on a thread of its own and the
//! doctor waits for them until its deadline.

use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use super::plan::{ApiNeed, SecretNeed};
use super::report::{Check, Status};
use crate::catalog::{Catalog, SecretUnreadable};
use crate::cli::StageName;
use crate::hint::Hint as _;
use crate::remote::THIS_MACHINE;
use crate::secret::{Secret, SecretError};

/// Checks started on threads, each answering on one channel with its index.
pub struct Started {
    expected: Vec<Check>,
    answers: mpsc::Receiver<(usize, Check)>,
}

/// One secret to read, the rows (index, stage) of every stage that needs it, and the API checks
/// (index, call) that use its value.
struct SecretRead {
    name: String,
    what: String,
    rows: Vec<(usize, StageName)>,
    calls: Vec<(usize, ApiNeed)>,
}

/// Starts every secret and API check, each on a thread of its own. Each secret is read once (a
/// `command` runs once), for every stage that needs it; the API checks that use it wait for that
/// read and get its value.
pub fn start(
    catalog: &Arc<Catalog>,
    secrets: &[SecretNeed],
    apis: &[ApiNeed],
    log: &dyn Fn() -> crate::ui::Log,
) -> Started {
    let (sender, answers) = mpsc::channel();
    let mut expected = Vec::new();
    let mut readers: Vec<SecretRead> = Vec::new();
    for need in secrets {
        let index = expected.len();
        expected.push(Check::new(
            need.stage,
            secret_label(&need.name),
            THIS_MACHINE,
            Status::Failed,
            "",
        ));
        match readers.iter_mut().find(|read| read.name == need.name) {
            Some(read) => read.rows.push((index, need.stage)),
            None => readers.push(SecretRead {
                name: need.name.clone(),
                what: need.what.clone(),
                rows: vec![(index, need.stage)],
                calls: Vec::new(),
            }),
        }
    }
    for need in apis {
        let index = expected.len();
        let (check, place) = describe(catalog, need);
        expected.push(Check::new(need.stage(), check, place, Status::Failed, ""));
        let secret = secret_of(catalog, need);
        match secret.and_then(|name| readers.iter_mut().find(|read| read.name == name)) {
            Some(read) => read.calls.push((index, need.clone())),
            // No secret (a registry without a password), or one the plan did not list.
            None => {
                let (catalog, sender, log) = (Arc::clone(catalog), sender.clone(), log());
                let need = need.clone();
                let read = secret.map(|name| {
                    catalog
                        .read_secret(name, "the token")
                        .map_err(|error| unread(&error).unwrap_or_else(|| format!("{error:#}")))
                });
                std::thread::spawn(move || {
                    let token = match read {
                        Some(Ok(token)) => Some(token),
                        Some(Err(why)) => {
                            let (label, place) = describe(&catalog, &need);
                            let check = Check::new(need.stage(), label, place, Status::Failed, why);
                            let _ = sender.send((index, check));
                            return;
                        }
                        None => None,
                    };
                    let _ = sender.send((index, api(&catalog, &need, token, log)));
                });
            }
        }
    }
    for read in readers {
        let (catalog, sender) = (Arc::clone(catalog), sender.clone());
        let logs: Vec<crate::ui::Log> = read.calls.iter().map(|_| log()).collect();
        std::thread::spawn(move || {
            let (status, detail, value) = secret(&catalog, &read.name, &read.what);
            for (index, stage) in &read.rows {
                let check = Check::new(
                    *stage,
                    secret_label(&read.name),
                    THIS_MACHINE,
                    status,
                    &detail,
                );
                let _ = sender.send((*index, check));
            }
            for ((index, need), log) in read.calls.into_iter().zip(logs) {
                let (catalog, sender, value) =
                    (Arc::clone(&catalog), sender.clone(), value.clone());
                let name = read.name.clone();
                std::thread::spawn(move || {
                    let check = match value {
                        Some(token) => api(&catalog, &need, Some(token), log),
                        None => {
                            let (label, place) = describe(&catalog, &need);
                            Check::new(
                                need.stage(),
                                label,
                                place,
                                Status::Skipped,
                                format!("not tried: secret `{name}` cannot be read"),
                            )
                        }
                    };
                    let _ = sender.send((index, check));
                });
            }
        });
    }
    Started { expected, answers }
}

/// The secret an API check's token comes from, if it has one.
fn secret_of<'c>(catalog: &'c Catalog, need: &ApiNeed) -> Option<&'c str> {
    match need {
        ApiNeed::Zone { zone } => catalog
            .dns
            .as_ref()
            .and_then(|dns| dns.zone(zone))
            .and_then(|zone| zone.credentials.as_deref()),
        ApiNeed::Registry { registry, .. } => catalog
            .registries
            .get(registry)
            .and_then(|registry| registry.password.as_deref()),
        ApiNeed::FlyMachines | ApiNeed::FlyCertificates => catalog
            .edge
            .as_ref()
            .and_then(|edge| edge.fly())
            .map(|fly| fly.token.as_str()),
    }
}

impl Started {
    /// Every check's answer; those that did not answer by `deadline` fail as not answering.
    pub fn finish(self, deadline: Instant, timeout: Duration) -> Vec<Check> {
        let mut checks: Vec<Option<Check>> = vec![None; self.expected.len()];
        let mut missing = checks.len();
        while missing > 0 {
            let left = deadline.saturating_duration_since(Instant::now());
            match self.answers.recv_timeout(left) {
                Ok((index, check)) => {
                    if checks[index].replace(check).is_none() {
                        missing -= 1;
                    }
                }
                Err(_) => break,
            }
        }
        // A check still running is left behind: its thread ends with boma.
        self.expected
            .into_iter()
            .zip(checks)
            .map(|(mut expected, answered)| {
                answered.unwrap_or_else(|| {
                    expected.detail = format!(
                        "no answer within {} (--timeout)",
                        humantime::format_duration(timeout)
                    );
                    expected
                })
            })
            .collect()
    }
}

fn secret_label(name: &str) -> String {
    format!("secret `{name}`")
}

/// Reads one secret: `ok` with where it comes from (and the value, for the API checks), or why
/// not and where it is declared.
fn secret(catalog: &Catalog, name: &str, what: &str) -> (Status, String, Option<Secret>) {
    let Some(reference) = catalog.secrets.get(name) else {
        return (
            Status::Missing,
            format!("{what}: not declared in [secrets]"),
            None,
        );
    };
    match catalog.resolve_secret(reference, what) {
        Ok(value) => (
            Status::Ok,
            format!("readable ({})", source_of(&reference.source)),
            Some(value),
        ),
        Err(unreadable) => {
            let status = match unreadable.source {
                SecretError::CommandFailed { .. }
                | SecretError::CommandFailedToStart { .. }
                | SecretError::CommandEmpty { .. } => Status::Failed,
                _ => Status::Missing,
            };
            (status, unreadable_detail(&unreadable), None)
        }
    }
}

/// Where a secret comes from, without its value: the variable, the file or the program.
fn source_of(source: &crate::secret::SecretSource) -> String {
    use crate::secret::SecretSource;
    match source {
        SecretSource::Env(variable) => format!("environment variable `{variable}`"),
        SecretSource::File(path) => format!("file `{}`", path.display()),
        SecretSource::Command(argv) => {
            format!("command `{}`", argv.first().map_or("", String::as_str))
        }
    }
}

/// `services.toml:LINE:COL: secret ...: why; what to set`.
fn unreadable_detail(unreadable: &SecretUnreadable) -> String {
    match unreadable.hint() {
        Some(hint) => format!("{}; {hint}", unreadable.located()),
        None => unreadable.located(),
    }
}

/// What an API row is called, and where it goes (the API's `host[:port]`).
fn describe(catalog: &Catalog, need: &ApiNeed) -> (String, String) {
    match need {
        ApiNeed::Zone { zone } => {
            let found = catalog.dns.as_ref().and_then(|dns| dns.zone(zone));
            let provider = found.map_or("", |zone| crate::catalog::provider_name(zone.provider));
            let url = found.and_then(|zone| zone.url.clone()).unwrap_or_else(|| {
                match found.map(|zone| zone.provider) {
                    Some(crate::catalog::DnsProvider::Gandi) => {
                        crate::dns::providers::gandi::DEFAULT_URL.to_string()
                    }
                    Some(crate::catalog::DnsProvider::Cloudflare) => {
                        crate::dns::providers::cloudflare::DEFAULT_URL.to_string()
                    }
                    _ => String::new(),
                }
            });
            let domain = found.map_or(zone.as_str(), |zone| zone.zone.as_str());
            (format!("{provider} zone {domain}"), authority(&url))
        }
        ApiNeed::Registry { registry, .. } => (
            format!("credentials of [registries.{registry}]"),
            catalog
                .registries
                .get(registry)
                .map_or_else(String::new, |registry| registry.host.clone()),
        ),
        ApiNeed::FlyMachines | ApiNeed::FlyCertificates => (
            "Fly token".to_string(),
            catalog
                .edge
                .as_ref()
                .map_or_else(String::new, |edge| authority(&edge.api_url)),
        ),
    }
}

/// `host[:port]` of a URL, or the URL as written.
fn authority(url: &str) -> String {
    reqwest::Url::parse(url)
        .ok()
        .and_then(|parsed| {
            let host = parsed.host_str()?.to_string();
            Some(match parsed.port() {
                Some(port) => format!("{host}:{port}"),
                None => host,
            })
        })
        .unwrap_or_else(|| url.to_string())
}

/// A token's row when its secret cannot be read: the secret's own row says why.
fn unread(error: &anyhow::Error) -> Option<String> {
    error
        .downcast_ref::<SecretUnreadable>()
        .map(|unreadable| format!("not tried: secret `{}` cannot be read", unreadable.name))
}

/// One read-only call with `token`, the value of the secret `need` uses (read once, before).
fn api(catalog: &Catalog, need: &ApiNeed, token: Option<Secret>, log: crate::ui::Log) -> Check {
    let (label, place) = describe(catalog, need);
    let check =
        |status: Status, detail: String| Check::new(need.stage(), &label, &place, status, detail);
    let outcome = match need {
        ApiNeed::Zone { zone } => zone_read(catalog, zone, token, log),
        ApiNeed::Registry { registry, image } => registry_read(catalog, registry, image, token),
        ApiNeed::FlyMachines => fly_read(catalog, false, token, log),
        ApiNeed::FlyCertificates => fly_read(catalog, true, token, log),
    };
    match outcome {
        Ok(detail) => check(Status::Ok, detail),
        Err(error) => {
            // The key was accepted, but the zone is not there yet.
            let missing_zone = error.chain().any(|cause| {
                matches!(
                    cause.downcast_ref::<crate::dns::DnsError>(),
                    Some(crate::dns::DnsError::ZoneMissing { .. })
                )
            });
            let hint = if missing_zone {
                "; `boma dns-up --create-zone` creates it"
            } else {
                ""
            };
            check(Status::Failed, format!("{error:#}{hint}"))
        }
    }
}

/// The token an API needs, or an error (a failure: the call was not made).
fn needed(token: Option<Secret>) -> anyhow::Result<Secret> {
    token.ok_or_else(|| anyhow::anyhow!("not tried: no secret to try"))
}

/// The zone read as the DNS stage reads it (one GET for PowerDNS, every page for the others).
fn zone_read(
    catalog: &Catalog,
    name: &str,
    token: Option<Secret>,
    log: crate::ui::Log,
) -> anyhow::Result<String> {
    let dns = catalog
        .dns
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the catalog has no [dns]"))?;
    let zone = dns
        .zone(name)
        .ok_or_else(|| anyhow::anyhow!("zone `{name}` is not in the catalog"))?;
    // As `providers::open` opens it, with the credentials already read.
    use crate::catalog::DnsProvider;
    use crate::dns::providers::{Provider as _, cloudflare, gandi, powerdns};
    let mark = crate::dns::ownership::Mark::text(&dns.owner, &[]);
    let live = match zone.provider {
        DnsProvider::Zonefile => anyhow::bail!("a zone file has no API"),
        DnsProvider::Powerdns => powerdns::PowerDns::new(
            zone.url.as_deref().unwrap_or_default(),
            &zone.server,
            &zone.zone,
            needed(token)?,
            mark,
            false,
            log,
        )?
        .list()?,
        DnsProvider::Gandi => {
            gandi::Gandi::new(zone.url.as_deref(), &zone.zone, needed(token)?, log)?.list()?
        }
        DnsProvider::Cloudflare => cloudflare::Cloudflare::new(
            zone.url.as_deref(),
            &zone.zone,
            needed(token)?,
            mark,
            zone.batch_size,
            log,
        )?
        .list()?,
    };
    Ok(format!(
        "accepted: the zone read ({})",
        crate::ui::counted(live.rrsets.len(), "rrset")
    ))
}

/// A manifest `HEAD` with the registry's credentials: refused credentials fail; an answer
/// either way (the tag there or not) means they were accepted.
fn registry_read(
    catalog: &Catalog,
    name: &str,
    image: &str,
    password: Option<Secret>,
) -> anyhow::Result<String> {
    let registry = catalog
        .registries
        .get(name)
        .ok_or_else(|| anyhow::anyhow!("[registries.{name}] is not in the catalog"))?;
    let login = registry.user.as_deref().zip(password.as_ref());
    crate::images::find_tag(image, PROBE_TAG, login, registry.tls_verify)
        .map_err(|reason| anyhow::anyhow!(reason))?;
    Ok(format!("accepted: asked for {image}:{PROBE_TAG} with them"))
}

/// The tag asked for: any answer but a refusal proves the credentials.
const PROBE_TAG: &str = "latest";

/// The app's machines (the edge stage's first read) or certificates (the certificates stage's).
fn fly_read(
    catalog: &Catalog,
    certificates: bool,
    token: Option<Secret>,
    log: crate::ui::Log,
) -> anyhow::Result<String> {
    let edge = catalog
        .edge
        .as_ref()
        .ok_or_else(|| anyhow::anyhow!("the catalog has no [edge]"))?;
    let fly = edge
        .fly()
        .ok_or_else(|| anyhow::anyhow!("the edge runs on a host, not on Fly.io"))?;
    let api = crate::edge::Machines::new(&edge.api_url, &fly.app, needed(token)?, log)?;
    Ok(if certificates {
        let listed = api.certificates()?;
        format!(
            "accepted: GET /apps/{}/certificates ({})",
            fly.app,
            crate::ui::counted(listed.len(), "certificate")
        )
    } else {
        let listed = api.list()?;
        format!(
            "accepted: GET /apps/{}/machines ({})",
            fly.app,
            crate::ui::counted(listed.len(), "machine")
        )
    })
}
