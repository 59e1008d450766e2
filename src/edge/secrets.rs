//! The Fly.io app secrets the edge needs: `TS_AUTHKEY`, the Tailscale auth key of
//! `[edge.tailnet]`, which the machine's entrypoint reads from its environment. Fly.io never
//! returns a value and its digest cannot be computed here, so after a deploy that set a secret
//! boma records in `[edge].dir` (`RECORD`) Fly's digest as it answered and an HMAC-SHA256 of the
//! value keyed with the API token. The next plan compares the catalog's value through the HMAC
//! and Fly's value through its digest; the record tells nothing about the value to anyone
//! without the token, and a new token only makes the next run set the secret again.

use std::collections::BTreeMap;
use std::path::Path;

use anyhow::Context as _;
use hmac::{Hmac, KeyInit, Mac};
use serde::{Deserialize, Serialize};
use sha2::Sha256;

use super::EdgeError;
use super::flyctl::Flyctl;
use super::machines::{AppSecret, Machines};
use super::report::{SecretLine, SecretState};
use crate::catalog::{Catalog, Edge};
use crate::files::{Links, read_regular, write_if_changed};
use crate::secret::Secret;

/// The app secret the entrypoint reads the Tailscale auth key from.
pub const AUTH_KEY: &str = "TS_AUTHKEY";
/// The record, at the top of `[edge].dir`: the deployed render has no dotted file there, and the
/// comparison with the render reads only rendered files and those under `bans/` and `fail2ban/`,
/// so the record is never shown as a change nor removed by a deploy.
pub const RECORD: &str = ".boma-secrets.json";
/// How much of Fly's digest a report shows.
const SHOWN_DIGEST: usize = 12;
/// The record's format; another is read as no record (every secret is set again).
const RECORD_VERSION: u32 = 1;

/// An app secret the catalog declares, its value read: its name on Fly.io, the catalog secret it
/// comes from, and the value's HMAC keyed with the API token.
pub struct Wanted {
    pub name: &'static str,
    pub from: String,
    pub value: Secret,
    mac: Hmac<Sha256>,
}

impl Wanted {
    fn mac_hex(&self) -> String {
        hex::encode(self.mac.clone().finalize().into_bytes())
    }

    /// Whether `recorded` (hex) is this value's HMAC, compared in constant time.
    fn matches(&self, recorded: &str) -> bool {
        hex::decode(recorded).is_ok_and(|bytes| self.mac.clone().verify_slice(&bytes).is_ok())
    }
}

/// The app secrets `edge` declares: each name on Fly.io with the catalog secret that holds it.
pub fn declared(edge: &Edge) -> Vec<(&'static str, &str)> {
    edge.tailnet
        .iter()
        .map(|tailnet| (AUTH_KEY, tailnet.auth_key.as_str()))
        .collect()
}

/// The lines of a `--check`, which reads neither Fly.io nor the values.
pub fn not_read(edge: &Edge) -> Vec<SecretLine> {
    declared(edge)
        .into_iter()
        .map(|(name, from)| SecretLine {
            name: name.to_string(),
            from: from.to_string(),
            state: SecretState::NotRead,
            digest: None,
            action: "-".into(),
            reason: Some("`--check` reads nothing from Fly.io".into()),
        })
        .collect()
}

/// Each declared secret with its value, read now, and its HMAC under `token`.
pub fn wanted(catalog: &Catalog, edge: &Edge, token: &Secret) -> anyhow::Result<Vec<Wanted>> {
    declared(edge)
        .into_iter()
        .map(|(name, from)| {
            let value = catalog.read_secret(from, "`edge.tailnet.auth_key`")?;
            let mut mac = Hmac::<Sha256>::new_from_slice(token.expose().as_bytes())
                .map_err(|_| anyhow::anyhow!("the API token cannot key an HMAC"))?;
            // The name too: one value under two names has two HMACs.
            mac.update(name.as_bytes());
            mac.update(&[0]);
            mac.update(value.expose().as_bytes());
            Ok(Wanted {
                name,
                from: from.to_string(),
                value,
                mac,
            })
        })
        .collect()
}

/// What boma set, by secret name: `RECORD` in `[edge].dir`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Record {
    version: u32,
    /// For whoever opens the file.
    #[serde(default)]
    about: String,
    #[serde(default)]
    secrets: BTreeMap<String, Recorded>,
    /// Why the file on disk was not read as a record (it is then none).
    #[serde(skip)]
    unreadable: Option<String>,
}

/// One secret as boma set it: Fly.io's digest of it then, and the value's HMAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Recorded {
    pub digest: String,
    pub hmac_sha256: String,
}

impl Record {
    fn get(&self, name: &str) -> Option<&Recorded> {
        self.secrets.get(name)
    }
}

/// The record in `dir` (shown as `shown`); an empty one when there is none. A link or anything
/// but a regular file there is an error, as everywhere in `[edge].dir`; a file that is not a
/// record boma wrote is read as none, and the plan says so.
pub fn read_record(dir: &Path, shown: &Path) -> anyhow::Result<Record> {
    let Some(bytes) = read_regular(&dir.join(RECORD), Links::Refuse)? else {
        return Ok(Record::default());
    };
    let unreadable = |why: String| Record {
        unreadable: Some(format!(
            "`{}` is not a record boma wrote ({why})",
            shown.join(RECORD).display()
        )),
        ..Record::default()
    };
    Ok(match serde_json::from_slice::<Record>(&bytes) {
        Ok(record) if record.version == RECORD_VERSION => record,
        Ok(record) => unreadable(format!("version {}", record.version)),
        Err(error) => unreadable(error.to_string()),
    })
}

/// Writes `record` in `dir` atomically; never through a link.
pub fn write_record(dir: &Path, shown: &Path, record: &Record) -> anyhow::Result<()> {
    let path = dir.join(RECORD);
    let shown = shown.join(RECORD);
    if std::fs::symlink_metadata(&path).is_ok_and(|found| found.file_type().is_symlink()) {
        anyhow::bail!(
            "`{}` is a symlink: boma follows no link in `[edge].dir`; remove it",
            shown.display()
        );
    }
    let record = Record {
        version: RECORD_VERSION,
        about: "written by boma after each deploy that set an app secret: Fly.io's digest of it \
                then, and an HMAC-SHA256 of its name and value keyed with the Fly.io API token"
            .into(),
        secrets: record.secrets.clone(),
        unreadable: None,
    };
    let mut text = serde_json::to_string_pretty(&record)?;
    text.push('\n');
    write_if_changed(&path, text.as_bytes())
        .with_context(|| format!("cannot write `{}`", shown.display()))?;
    Ok(())
}

/// Each wanted secret against Fly's list and the record: `missing` (Fly.io has none), `changed`
/// (no record of setting it, the catalog's value is not the recorded one, or Fly's digest is not
/// the recorded one: set since by someone else) or `unchanged`.
pub fn plan(wanted: &[Wanted], listed: &[AppSecret], record: &Record) -> Vec<SecretLine> {
    wanted
        .iter()
        .map(|secret| {
            let on_fly = listed.iter().find(|listed| listed.name == secret.name);
            let recorded = record.get(secret.name);
            let (state, reason) = match (on_fly, recorded) {
                (None, _) => (
                    SecretState::Missing,
                    Some("Fly.io has no such secret".into()),
                ),
                (Some(_), None) => (
                    SecretState::Changed,
                    Some(
                        record
                            .unreadable
                            .clone()
                            .unwrap_or_else(|| "boma has no record of setting it".into()),
                    ),
                ),
                (Some(_), Some(recorded)) if !secret.matches(&recorded.hmac_sha256) => (
                    SecretState::Changed,
                    Some("the catalog's value is not the one boma set".into()),
                ),
                (Some(on_fly), Some(recorded)) if on_fly.digest != recorded.digest => (
                    SecretState::Changed,
                    Some(format!(
                        "set on Fly.io since boma set it (digest {} then)",
                        short(&recorded.digest)
                    )),
                ),
                (Some(_), Some(_)) => (SecretState::Unchanged, None),
            };
            SecretLine {
                name: secret.name.to_string(),
                from: secret.from.clone(),
                state,
                digest: on_fly.map(|listed| short(&listed.digest)),
                action: if state == SecretState::Unchanged {
                    "unchanged"
                } else {
                    "set"
                }
                .into(),
                reason,
            }
        })
        .collect()
}

/// What a plan's secrets add to its checksum: for each one to set, its name, state, Fly's digest
/// and the value's HMAC (a value or a digest that changes after the review is another plan);
/// nothing for the others, so a `--check` reviewed without reading them matches a deploy that
/// sets nothing.
pub fn checksum_parts(lines: &[SecretLine], wanted: &[Wanted]) -> Vec<String> {
    let mut parts = Vec::new();
    for line in lines.iter().filter(|line| line.action == "set") {
        let mac = wanted
            .iter()
            .find(|secret| secret.name == line.name)
            .map(Wanted::mac_hex)
            .unwrap_or_default();
        parts.extend([
            format!("secret {}", line.name),
            line.state.as_str().to_string(),
            line.digest.clone().unwrap_or_else(|| "-".into()),
            mac,
        ]);
    }
    parts
}

/// Sets every secret whose line says `set`: staged with `flyctl secrets import` when flyctl
/// deploys (its `deploy` then starts the machines with it), else through the API. Each line says
/// what happened and `record` gets what was set. Returns the app's secrets version that holds
/// them (API only), for the machines' updates. The first failure stops.
pub fn store(
    api: &Machines,
    flyctl: Option<&Flyctl>,
    wanted: &[Wanted],
    lines: &mut [SecretLine],
    record: &mut Record,
    ui: &crate::ui::Ui,
) -> anyhow::Result<Option<u64>> {
    let pending: Vec<&Wanted> = wanted
        .iter()
        .filter(|secret| {
            lines
                .iter()
                .any(|line| line.name == secret.name && line.action == "set")
        })
        .collect();
    if pending.is_empty() {
        return Ok(None);
    }
    let stored = match flyctl {
        Some(flyctl) => store_with_flyctl(flyctl, &pending, ui),
        None => store_with_api(api, &pending, ui),
    };
    let (digests, version) = match stored {
        Ok(stored) => stored,
        Err(error) => {
            for line in lines.iter_mut().filter(|line| line.action == "set") {
                line.action = "failed".into();
                line.reason = Some(format!("{error:#}"));
            }
            return Err(error);
        }
    };
    for secret in pending {
        let digest = digests.get(secret.name).cloned().unwrap_or_default();
        if let Some(line) = lines.iter_mut().find(|line| line.name == secret.name) {
            line.action = "stored".into();
            line.digest = Some(short(&digest));
        }
        record.secrets.insert(
            secret.name.to_string(),
            Recorded {
                digest,
                hmac_sha256: secret.mac_hex(),
            },
        );
    }
    Ok(version)
}

/// Each secret set through the API; Fly's digest of each, and the highest secrets version.
fn store_with_api(
    api: &Machines,
    pending: &[&Wanted],
    ui: &crate::ui::Ui,
) -> anyhow::Result<(BTreeMap<&'static str, String>, Option<u64>)> {
    let mut digests = BTreeMap::new();
    let mut version = None;
    for secret in pending {
        ui.debug(&format!(
            "setting the app secret {} from secret `{}`",
            secret.name, secret.from
        ));
        let set = api.set_secret(secret.name, &secret.value)?;
        version = version.max(set.version);
        digests.insert(secret.name, set.digest);
    }
    if digests.values().any(String::is_empty) {
        // An answer without its digest: the listing has it.
        fill_digests(&mut digests, &api.secrets()?, "the Machines API")?;
    }
    Ok((digests, version))
}

/// Every secret staged in one `flyctl secrets import --stage`, then listed for Fly's digests.
fn store_with_flyctl(
    flyctl: &Flyctl,
    pending: &[&Wanted],
    ui: &crate::ui::Ui,
) -> anyhow::Result<(BTreeMap<&'static str, String>, Option<u64>)> {
    let names: Vec<&str> = pending.iter().map(|secret| secret.name).collect();
    ui.debug(&format!(
        "staging the app secrets {} with flyctl secrets import",
        names.join(", ")
    ));
    let imported: Vec<(&str, &str, &Secret)> = pending
        .iter()
        .map(|secret| (secret.name, secret.from.as_str(), &secret.value))
        .collect();
    flyctl.secrets_import(&imported)?;
    let mut digests: BTreeMap<&'static str, String> = pending
        .iter()
        .map(|secret| (secret.name, String::new()))
        .collect();
    fill_digests(&mut digests, &flyctl.secrets_list()?, "flyctl")?;
    Ok((digests, None))
}

/// Fills each empty digest from `listed`; a secret missing there is an error.
fn fill_digests(
    digests: &mut BTreeMap<&'static str, String>,
    listed: &[AppSecret],
    how: &'static str,
) -> anyhow::Result<()> {
    for (name, digest) in digests.iter_mut().filter(|(_, digest)| digest.is_empty()) {
        *digest = listed
            .iter()
            .find(|listed| listed.name == *name && !listed.digest.is_empty())
            .map(|listed| listed.digest.clone())
            .ok_or_else(|| EdgeError::SecretNotListed {
                name: name.to_string(),
                how,
            })?;
    }
    Ok(())
}

/// The start of a digest, as reports show it.
fn short(digest: &str) -> String {
    digest.chars().take(SHOWN_DIGEST).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A `Secret` the way the catalog reads one.
    fn secret(value: &str) -> Secret {
        crate::secret::SecretRef {
            name: "tailscale".into(),
            source: crate::secret::SecretSource::Command(vec![
                "printf".into(),
                "%s".into(),
                value.into(),
            ]),
            declared_at: crate::position::Position { line: 1, column: 1 },
        }
        .resolve()
        .unwrap_or_else(|error| panic!("{error}"))
    }

    fn wanted(value: &str, token: &str) -> Wanted {
        let mut mac = Hmac::<Sha256>::new_from_slice(token.as_bytes())
            .unwrap_or_else(|error| panic!("{error}"));
        mac.update(AUTH_KEY.as_bytes());
        mac.update(&[0]);
        mac.update(value.as_bytes());
        Wanted {
            name: AUTH_KEY,
            from: "tailscale".into(),
            value: secret(value),
            mac,
        }
    }

    fn listed(digest: &str) -> Vec<AppSecret> {
        vec![AppSecret {
            name: AUTH_KEY.into(),
            digest: digest.into(),
        }]
    }

    fn record_of(secret: &Wanted, digest: &str) -> Record {
        let mut record = Record::default();
        record.secrets.insert(
            AUTH_KEY.into(),
            Recorded {
                digest: digest.into(),
                hmac_sha256: secret.mac_hex(),
            },
        );
        record
    }

    fn state(lines: &[SecretLine]) -> (SecretState, &str, Option<&str>) {
        let line = &lines[0];
        (line.state, line.action.as_str(), line.reason.as_deref())
    }

    #[test]
    fn a_secret_is_missing_changed_or_unchanged() {
        let secret = wanted("tskey-auth-one", "token");
        let record = record_of(&secret, "0123456789abcdef");
        let secrets = std::slice::from_ref(&secret);
        assert_eq!(
            state(&plan(secrets, &[], &record)),
            (
                SecretState::Missing,
                "set",
                Some("Fly.io has no such secret")
            )
        );
        assert_eq!(
            state(&plan(secrets, &listed("0123456789abcdef"), &record)),
            (SecretState::Unchanged, "unchanged", None)
        );
        assert_eq!(
            state(&plan(
                secrets,
                &listed("0123456789abcdef"),
                &Record::default()
            ))
            .0,
            SecretState::Changed
        );
        let other_value = wanted("tskey-auth-two", "token");
        assert_eq!(
            state(&plan(
                std::slice::from_ref(&other_value),
                &listed("0123456789abcdef"),
                &record
            )),
            (
                SecretState::Changed,
                "set",
                Some("the catalog's value is not the one boma set")
            )
        );
        assert_eq!(
            state(&plan(secrets, &listed("fedcba9876543210"), &record)),
            (
                SecretState::Changed,
                "set",
                Some("set on Fly.io since boma set it (digest 0123456789ab then)")
            )
        );
        // Another token: the record says nothing about the value any more.
        let rotated = wanted("tskey-auth-one", "another token");
        assert_eq!(
            state(&plan(
                std::slice::from_ref(&rotated),
                &listed("0123456789abcdef"),
                &record
            ))
            .0,
            SecretState::Changed
        );
    }

    #[test]
    fn a_record_boma_did_not_write_is_none_and_a_link_is_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let shown = Path::new("fly");
        assert!(read_record(dir.path(), shown)?.secrets.is_empty());
        let secret = wanted("tskey-auth-one", "token");
        write_record(dir.path(), shown, &record_of(&secret, "0123456789abcdef"))?;
        let read = read_record(dir.path(), shown)?;
        assert_eq!(
            read.get(AUTH_KEY),
            record_of(&secret, "0123456789abcdef").get(AUTH_KEY)
        );

        std::fs::write(dir.path().join(RECORD), "not json")?;
        let lines = plan(
            std::slice::from_ref(&secret),
            &listed("0123456789abcdef"),
            &read_record(dir.path(), shown)?,
        );
        assert_eq!(lines[0].state, SecretState::Changed);
        let reason = lines[0].reason.clone().unwrap_or_default();
        assert!(
            reason.starts_with("`fly/.boma-secrets.json` is not a record boma wrote"),
            "{reason}"
        );

        std::fs::remove_file(dir.path().join(RECORD))?;
        std::os::unix::fs::symlink("elsewhere.json", dir.path().join(RECORD))?;
        assert!(read_record(dir.path(), shown).is_err());
        assert!(write_record(dir.path(), shown, &Record::default()).is_err());
        assert!(!dir.path().join("elsewhere.json").exists());
        Ok(())
    }

    #[test]
    fn the_record_holds_no_value_and_only_pending_secrets_reach_the_checksum() {
        let secret = wanted("tskey-auth-one", "token");
        let record = record_of(&secret, "0123456789abcdef");
        let text = serde_json::to_string(&record).unwrap_or_default();
        assert!(!text.contains("tskey-auth-one"), "{text}");
        let secrets = std::slice::from_ref(&secret);
        let unchanged = plan(secrets, &listed("0123456789abcdef"), &record);
        assert!(checksum_parts(&unchanged, secrets).is_empty());
        let missing = plan(secrets, &[], &record);
        assert_eq!(
            checksum_parts(&missing, secrets)[..3],
            ["secret TS_AUTHKEY", "missing", "-"]
        );
        let other = wanted("tskey-auth-two", "token");
        assert_ne!(
            checksum_parts(&missing, secrets),
            checksum_parts(&missing, std::slice::from_ref(&other))
        );
    }
}
