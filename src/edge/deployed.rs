//! The last deployed render, kept in `[edge].dir`: compared with a new render (for the plan's
//! diff) and replaced by it after a deploy. Nothing there is read or written before every path
//! boma touches has been checked to be a regular file or a real folder, never through a link.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context as _;

use super::report::{Change, FileChange};
use crate::files::{Links, read_regular, write_if_changed};

/// The render compared with `[edge].dir`: every rendered file, plus the files boma owns there
/// (under `bans/` and `fail2ban/`) that the render no longer has. Every path is checked before
/// anything is read (see `deployed_files`), and each file is read without following a link.
/// Nothing else there is read: the record of the app secrets (`secrets::RECORD`, at the top)
/// is never a change, and `keep` never removes it.
pub(super) fn compare(
    dir: &Path,
    shown: &Path,
    rendered: &[(String, String)],
) -> anyhow::Result<Vec<FileChange>> {
    let owned = deployed_files(dir, shown, rendered)?;
    let read = |local: &str| -> anyhow::Result<Option<String>> {
        Ok(read_regular(&dir.join(local), Links::Refuse)?
            .map(|bytes| String::from_utf8_lossy(&bytes).into_owned()))
    };
    let mut files = Vec::new();
    for (local, content) in rendered {
        let name = shown.join(local).display().to_string();
        let (change, diff) = match read(local)? {
            // A new file is listed, not printed whole (`boma render` shows it).
            None => (Change::Create, None),
            Some(old) if old == *content => (Change::Unchanged, None),
            Some(old) => (Change::Update, Some(diff(&name, &old, content))),
        };
        files.push(FileChange {
            path: local.clone(),
            change,
            diff,
        });
    }
    let known: BTreeSet<&str> = rendered.iter().map(|(local, _)| local.as_str()).collect();
    for owned in owned {
        if !known.contains(owned.as_str()) {
            let old = read(&owned)?.unwrap_or_default();
            let name = shown.join(&owned).display().to_string();
            files.push(FileChange {
                diff: Some(diff(&name, &old, "")),
                path: owned,
                change: Change::Delete,
            });
        }
    }
    Ok(files)
}

/// A path in `[edge].dir` that boma must not read or write.
#[derive(Debug, thiserror::Error)]
enum DeployedDirError {
    #[error(
        "`{path}` is {kind}, not {expected}: boma keeps only regular files and real folders in `[edge].dir` and follows no link there; replace it or remove it"
    )]
    NotOwnable {
        path: String,
        kind: &'static str,
        expected: &'static str,
    },
}

/// Checks, before anything in `[edge].dir` is read or written, that every path boma reads or
/// writes there is what it must be (the folder itself and the folders on the way to each
/// rendered file real folders, each file a regular file, or nothing there yet), never following
/// a link: a link there could show any file on this machine in a `--check` diff, or have a deploy
/// write or delete outside the folder. Returns the files boma owns there (under `bans/` and
/// `fail2ban/`), relative to it.
fn deployed_files(
    dir: &Path,
    shown: &Path,
    rendered: &[(String, String)],
) -> anyhow::Result<Vec<String>> {
    // `local` under `base`; not `base.join("")`, whose trailing slash has a link followed.
    let under = |base: &Path, local: &Path| {
        if local.as_os_str().is_empty() {
            base.to_path_buf()
        } else {
            base.join(local)
        }
    };
    let refuse = |local: &Path, found: &std::fs::Metadata, expected: &'static str| {
        anyhow::Error::new(DeployedDirError::NotOwnable {
            path: under(shown, local).display().to_string(),
            kind: crate::files::kind(found),
            expected,
        })
    };
    // What is at `local` (relative to `dir`), not following a link; `None` when nothing is.
    let found = |local: &Path| -> anyhow::Result<Option<std::fs::Metadata>> {
        match std::fs::symlink_metadata(under(dir, local)) {
            Ok(metadata) => Ok(Some(metadata)),
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(error) => Err(error)
                .with_context(|| format!("cannot read `{}`", under(shown, local).display())),
        }
    };
    match found(Path::new(""))? {
        None => return Ok(Vec::new()),
        Some(metadata) if !metadata.is_dir() => {
            return Err(refuse(Path::new(""), &metadata, "a folder"));
        }
        Some(_) => {}
    }
    for (local, _) in rendered {
        let local = Path::new(local);
        let folders: Vec<&Path> = local
            .ancestors()
            .skip(1)
            .filter(|folder| !folder.as_os_str().is_empty())
            .collect();
        let mut reachable = true;
        for folder in folders.into_iter().rev() {
            match found(folder)? {
                None => {
                    reachable = false;
                    break;
                }
                Some(metadata) if !metadata.is_dir() => {
                    return Err(refuse(folder, &metadata, "a folder"));
                }
                Some(_) => {}
            }
        }
        if reachable
            && let Some(metadata) = found(local)?
            && !metadata.is_file()
        {
            return Err(refuse(local, &metadata, "a regular file"));
        }
    }
    owned_files(dir, shown, &refuse)
}

/// Files under `bans/` and `fail2ban/` of `[edge].dir`, relative to it; anything there but a
/// regular file or a real folder (a link, a FIFO) is refused through `refuse`.
fn owned_files(
    dir: &Path,
    shown: &Path,
    refuse: &dyn Fn(&Path, &std::fs::Metadata, &'static str) -> anyhow::Error,
) -> anyhow::Result<Vec<String>> {
    let mut found = Vec::new();
    let mut pending: Vec<PathBuf> = vec![PathBuf::from("bans"), PathBuf::from("fail2ban")];
    while let Some(folder) = pending.pop() {
        match std::fs::symlink_metadata(dir.join(&folder)) {
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => continue,
            Err(error) => {
                return Err(error)
                    .with_context(|| format!("cannot read `{}`", shown.join(&folder).display()));
            }
            Ok(metadata) if !metadata.is_dir() => {
                return Err(refuse(&folder, &metadata, "a folder"));
            }
            Ok(_) => {}
        }
        let entries = std::fs::read_dir(dir.join(&folder))
            .with_context(|| format!("cannot read `{}`", shown.join(&folder).display()))?;
        for entry in entries {
            let entry = entry
                .with_context(|| format!("cannot read `{}`", shown.join(&folder).display()))?;
            let local = folder.join(entry.file_name());
            // Not `entry.file_type()` alone: the kind is wanted for the message too.
            let metadata = std::fs::symlink_metadata(entry.path())
                .with_context(|| format!("cannot read `{}`", shown.join(&local).display()))?;
            if metadata.is_dir() {
                pending.push(local);
            } else if metadata.is_file() {
                found.push(local.display().to_string());
            } else {
                return Err(refuse(&local, &metadata, "a regular file"));
            }
        }
    }
    found.sort();
    Ok(found)
}

fn diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new)
        .unified_diff()
        .header(&format!("{name} (deployed)"), &format!("{name} (rendered)"))
        .to_string()
}

/// The render, kept in `[edge].dir` as the deployed one; files boma no longer renders removed.
/// The folder is checked again first, as the plan's check was made before the roll.
pub(super) fn keep(
    dir: &Path,
    shown: &Path,
    rendered: &[(String, String)],
    files: &[FileChange],
) -> anyhow::Result<()> {
    deployed_files(dir, shown, rendered)?;
    for (local, content) in rendered {
        let path = dir.join(local);
        if let Some(folder) = path.parent() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("cannot make `{}`", folder.display()))?;
        }
        write_if_changed(&path, content.as_bytes())
            .with_context(|| format!("cannot write `{}`", path.display()))?;
    }
    for file in files.iter().filter(|file| file.change == Change::Delete) {
        let path = dir.join(&file.path);
        std::fs::remove_file(&path)
            .with_context(|| format!("cannot remove `{}`", path.display()))?;
    }
    Ok(())
}
