//! A BIND zone file that boma owns whole: one record per line, sorted, SOA serial bumped on change.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use super::{ApplyError, Live, Provider};
use crate::dns::ownership::Keeping;
use crate::dns::plan::Change;
use crate::dns::{Rrset, from_wire, relative_name, to_wire};

pub struct ZoneFile {
    path: PathBuf,
    zone: String,
    /// What `list` read: the records and the SOA serial, the base that `apply` edits.
    current: Vec<Rrset>,
    serial: u64,
    /// The file's bytes when `list` read it (`None`: no file): `apply` refuses a file that
    /// changed since, so two runs at once never lose a change set.
    read: Option<Vec<u8>>,
}

/// How long `dns-up` waits for another run holding the same zone file.
const LOCK_WAIT: Duration = Duration::from_secs(30);

impl ZoneFile {
    pub fn new(path: &Path, zone: &str) -> Self {
        Self {
            path: path.to_path_buf(),
            zone: zone.to_string(),
            current: Vec::new(),
            serial: 0,
            read: None,
        }
    }

    fn absolute(&self, name: &str) -> String {
        match name {
            "@" => self.zone.clone(),
            _ if name.ends_with('.') => name.trim_end_matches('.').to_string(),
            _ => format!("{name}.{}", self.zone),
        }
    }

    fn parse(&mut self, text: &str) -> anyhow::Result<()> {
        let mut rrsets: Vec<Rrset> = Vec::new();
        for (index, line) in text.lines().enumerate() {
            let line = line.trim();
            if line.is_empty() || line.starts_with(';') || line.starts_with('$') {
                continue;
            }
            let parse_error = || {
                format!(
                    "zone file `{}` line {}: expected `NAME TTL IN TYPE VALUE`",
                    self.path.display(),
                    index + 1
                )
            };
            let mut fields = line
                .splitn(5, char::is_whitespace)
                .filter(|field| !field.is_empty());
            let (Some(name), Some(ttl), Some("IN"), Some(record_type)) =
                (fields.next(), fields.next(), fields.next(), fields.next())
            else {
                bail!(parse_error());
            };
            let ttl: u32 = ttl.parse().with_context(parse_error)?;
            let rest = line
                .splitn(5, char::is_whitespace)
                .nth(4)
                .unwrap_or_default()
                .trim();
            if record_type == "SOA" {
                self.serial = rest
                    .split_whitespace()
                    .nth(2)
                    .and_then(|serial| serial.parse().ok())
                    .with_context(parse_error)?;
                continue;
            }
            let value = from_wire(record_type, rest);
            let name = self.absolute(name);
            match rrsets
                .iter_mut()
                .find(|rrset| rrset.name == name && rrset.record_type == record_type)
            {
                Some(rrset) => rrset.values.push(value),
                None => rrsets.push(Rrset::new(&name, record_type, ttl, vec![value])),
            }
        }
        self.current = rrsets
            .into_iter()
            .map(|rrset| Rrset::new(&rrset.name, &rrset.record_type, rrset.ttl, rrset.values))
            .collect();
        Ok(())
    }

    /// The whole file for `records`, sorted: apex first, then by name and type.
    fn render(&self, records: &[Rrset], serial: u64) -> String {
        let mut sorted: Vec<&Rrset> = records.iter().collect();
        sorted.sort_by(|a, b| {
            (a.name != self.zone)
                .cmp(&(b.name != self.zone))
                .then_with(|| a.order(b))
        });
        let primary = records
            .iter()
            .find(|rrset| rrset.record_type == "NS" && rrset.name == self.zone)
            .and_then(|ns| ns.values.first().cloned())
            .unwrap_or_else(|| format!("ns1.{}.", self.zone));
        let mut text = format!(
            "; Zone {zone}, written by boma from the catalog: edit the catalog, not this file.\n\
             $ORIGIN {zone}.\n@ 3600 IN SOA {primary} hostmaster.{zone}. {serial} 3600 900 1209600 300\n",
            zone = self.zone
        );
        for rrset in sorted {
            let name = relative_name(&rrset.name, &self.zone);
            for value in &rrset.values {
                let value = to_wire(&rrset.record_type, value);
                text.push_str(&format!(
                    "{name} {} IN {} {value}\n",
                    rrset.ttl, rrset.record_type
                ));
            }
        }
        text
    }
}

impl Provider for ZoneFile {
    fn name(&self) -> &'static str {
        "zonefile"
    }

    fn keeping(&self) -> Keeping {
        Keeping::Whole
    }

    fn list(&mut self) -> anyhow::Result<Live> {
        self.read = read_zone(&self.path)?;
        if let Some(bytes) = &self.read {
            let text = String::from_utf8_lossy(bytes).into_owned();
            self.parse(&text)?;
        }
        Ok(self.current.clone().into())
    }

    fn apply(
        &mut self,
        changes: &[Change],
        progress: &mut dyn FnMut(usize),
    ) -> Result<(), ApplyError> {
        let failed = |cause: anyhow::Error| ApplyError {
            applied: 0,
            total: changes.len(),
            cause,
        };
        let mut records = self.current.clone();
        for change in changes {
            match change {
                Change::Delete { rrset } => {
                    records.retain(|existing| existing.key() != rrset.key())
                }
                Change::Update { old, new } => {
                    records.retain(|existing| existing.key() != old.key());
                    records.push(new.clone());
                }
                Change::Create { rrset } => records.push(rrset.clone()),
                // The file is boma's whole: there is no mark to write.
                Change::Own { .. } => {}
            }
        }
        let serial = self.serial + 1;
        let text = self.render(&records, serial);
        let _lock = lock(&self.path).map_err(failed)?;
        if read_zone(&self.path).map_err(failed)? != self.read {
            return Err(failed(anyhow::anyhow!(
                "zone file `{}` changed since the plan was made (another dns-up?); nothing was written: run again",
                self.path.display()
            )));
        }
        write_checked(&self.path, &self.zone, &text).map_err(failed)?;
        progress(changes.len());
        self.current = records;
        self.serial = serial;
        Ok(())
    }
}

/// The rrsets of zone-file `text` for `zone`, as `list` reads them (for the fuzzer and tests).
pub fn parse(zone: &str, text: &str) -> anyhow::Result<Vec<Rrset>> {
    let mut file = ZoneFile::new(Path::new("zone"), zone);
    file.parse(text)?;
    Ok(file.current)
}

/// The zone file's bytes, or `None` when it does not exist yet. Only a regular file (or a link
/// to one) is read, up to `files::READ_LIMIT`: a FIFO would block the read, a device might never
/// end it.
fn read_zone(path: &Path) -> anyhow::Result<Option<Vec<u8>>> {
    crate::files::read_regular(path, crate::files::Links::Follow)
        .with_context(|| format!("cannot read zone file `{}`", path.display()))
}

/// An exclusive lock on a zone file: a `.NAME.boma-lock` file beside its target, locked with
/// flock. Dropping it removes the file (no empty lock files stay beside the zones) and then
/// unlocks: a run waiting on the removed file finds, once it holds the lock, that the path no
/// longer names the file it locked, and locks anew.
struct ZoneLock {
    path: PathBuf,
    file: std::fs::File,
}

impl Drop for ZoneLock {
    fn drop(&mut self) {
        // Only while the path still names the file this run locked: never another run's lock.
        if names_file(&self.path, &self.file) {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

/// Whether `path` names `file` itself (same device and inode), not a file made after it.
fn names_file(path: &Path, file: &std::fs::File) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (std::fs::symlink_metadata(path), file.metadata()) {
        (Ok(named), Ok(held)) => named.dev() == held.dev() && named.ino() == held.ino(),
        _ => false,
    }
}

/// Locks the zone file at `path`, waiting up to `LOCK_WAIT` for another run holding it.
fn lock(path: &Path) -> anyhow::Result<ZoneLock> {
    let target = crate::files::resolve(path)?;
    let dir = target
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let name = target
        .file_name()
        .map(|name| name.to_string_lossy().into_owned())
        .unwrap_or_default();
    let lock_path = dir.join(format!(".{name}.boma-lock"));
    let deadline = Instant::now() + LOCK_WAIT;
    loop {
        // Opened only when it is a regular file or nothing: opening a FIFO to write blocks, and
        // creating through a link makes a file wherever it points.
        if let Ok(found) = std::fs::symlink_metadata(&lock_path)
            && !found.is_file()
        {
            return Err(crate::files::FileError::NotRegular {
                path: lock_path,
                kind: crate::files::kind(&found),
            })
            .context("cannot lock the zone file");
        }
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("cannot open lock file `{}`", lock_path.display()))?;
        match file.try_lock() {
            // The run that held it removed the file before unlocking: lock the one there now.
            Ok(()) if !names_file(&lock_path, &file) => continue,
            Ok(()) => {
                return Ok(ZoneLock {
                    path: lock_path,
                    file,
                });
            }
            Err(std::fs::TryLockError::WouldBlock) if Instant::now() < deadline => {
                std::thread::sleep(Duration::from_millis(100));
            }
            Err(std::fs::TryLockError::WouldBlock) => bail!(
                "another dns-up has held zone file `{}` for over {}s; try again when it is done",
                path.display(),
                LOCK_WAIT.as_secs()
            ),
            Err(std::fs::TryLockError::Error(error)) => {
                return Err(error)
                    .with_context(|| format!("cannot lock `{}`", lock_path.display()));
            }
        }
    }
}

/// Writes the zone through a temp file that `named-checkzone` (when installed) must accept
/// first: a rejected zone leaves the live file untouched. The file keeps its mode and owner, and
/// a symlink is written through to its target.
fn write_checked(path: &Path, zone: &str, text: &str) -> anyhow::Result<()> {
    let target = crate::files::resolve(path)?;
    crate::files::replace(&target, text.as_bytes(), |staged| {
        let Ok(checker) = which::which("named-checkzone") else {
            return Ok(());
        };
        let output = Command::new(checker)
            .args(["-i", "local", zone])
            .arg(staged)
            .output()?;
        if output.status.success() {
            return Ok(());
        }
        // named-checkzone's own reason, without the temp file's name.
        let said = String::from_utf8_lossy(&output.stdout).to_string()
            + &String::from_utf8_lossy(&output.stderr);
        let reason: Vec<String> = said
            .lines()
            .map(|line| line.replace(&staged.display().to_string(), "the new zone"))
            .filter(|line| !line.trim().is_empty())
            .collect();
        bail!(
            "named-checkzone rejects the new zone; `{}` is unchanged: {}",
            path.display(),
            reason.join("; ")
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn render_then_parse_round_trips() -> anyhow::Result<()> {
        let mut zone = ZoneFile::new(Path::new("z.zone"), "example.org");
        let records = vec![
            Rrset::new("example.org", "NS", 3600, vec!["ns1.example.net.".into()]),
            Rrset::new(
                "example.org",
                "TXT",
                300,
                vec!["v=spf1 \"quoted\" -all".into()],
            ),
            Rrset::new(
                "www.example.org",
                "CNAME",
                300,
                vec!["edge.fly.dev.".into()],
            ),
            Rrset::new(
                "example.org",
                "MX",
                300,
                vec!["10 a.example.net.".into(), "20 b.example.net.".into()],
            ),
        ];
        let text = zone.render(&records, 7);
        zone.parse(&text)?;
        assert_eq!(zone.serial, 7);
        let mut expected = records.clone();
        expected.sort();
        let mut parsed = zone.current.clone();
        parsed.sort();
        assert_eq!(parsed, expected);
        assert!(text.contains("@ 3600 IN SOA ns1.example.net. hostmaster.example.org. 7 "));
        Ok(())
    }

    /// Two runs on one zone: the second waits for the first, which removes its lock file on the
    /// way out; the second then locks a file of its own (never the removed one) and removes it
    /// too. Nothing is left beside the zone.
    #[test]
    fn a_lock_is_removed_when_released_and_a_waiting_run_locks_anew() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let zone = dir.path().join("example.org.zone");
        let lock_file = dir.path().join(".example.org.zone.boma-lock");
        let first = lock(&zone)?;
        assert!(lock_file.is_file(), "held, the lock file is there");
        let second = std::thread::scope(|scope| {
            let waiting = scope.spawn(|| lock(&zone));
            std::thread::sleep(Duration::from_millis(300));
            drop(first);
            waiting.join()
        })
        .map_err(|_| anyhow::anyhow!("the waiting lock panicked"))??;
        assert!(
            names_file(&lock_file, &second.file),
            "the second run holds the file the path names"
        );
        drop(second);
        let left: Vec<_> = std::fs::read_dir(dir.path())?.collect();
        assert!(left.is_empty(), "{left:?}");
        Ok(())
    }
}
