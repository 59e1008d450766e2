//! Local files boma reads and writes, kept what they claim to be. A write goes to a temp file in
//! the target's folder with the target's mode and owner, checked if asked, then renamed over it;
//! a symlink is written through to its target, and a dangling one is refused. Only regular files
//! are read or replaced: a device, a FIFO or a socket (or a link to one) is an error naming it,
//! found without opening it (opening a FIFO blocks), and reads stop at a bound. The private work
//! folders boma makes are made here too.

use std::fs::{File, Metadata};
use std::io::{Read, Write};
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use anyhow::{Context, bail};

/// Whether a write changed the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteStatus {
    Written,
    Unchanged,
}

/// The mode a file boma creates gets (what `umask 022` gives).
const NEW_FILE_MODE: u32 = 0o644;

/// The mode of a work folder boma makes: only its user may enter it.
const PRIVATE_DIR_MODE: u32 = 0o700;

/// The most boma reads of a local file it keeps (a zone file, a pinned file, a deployed edge
/// file): far above any real one, and a bound on what a wrong path can make boma hold.
pub const READ_LIMIT: u64 = 32 * 1024 * 1024;

/// A local file that is not what boma reads or writes.
#[derive(Debug, thiserror::Error)]
pub enum FileError {
    #[error(
        "`{}` is {kind}, not a regular file: boma reads and writes only regular files; remove it or choose another path",
        path.display()
    )]
    NotRegular { path: PathBuf, kind: &'static str },
    #[error(
        "`{}` is a symlink to `{}`, which is {kind}, not a regular file: boma reads and writes only regular files; remove the link or choose another path",
        path.display(),
        target.display()
    )]
    LinkToNotRegular {
        path: PathBuf,
        target: PathBuf,
        kind: &'static str,
    },
    #[error("`{}` is a symlink, and boma follows none here", path.display())]
    Link { path: PathBuf },
    #[error(
        "`{}` is over {} MiB, the most boma reads of a local file",
        path.display(),
        limit / (1024 * 1024)
    )]
    TooLarge { path: PathBuf, limit: u64 },
    #[error("`{}` was replaced while boma opened it; nothing was read: run again", path.display())]
    Replaced { path: PathBuf },
}

/// How a read treats a symlink at the path itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Links {
    /// Read its target (which must be a regular file).
    Follow,
    /// Refuse it (`FileError::Link`).
    Refuse,
}

/// What a file is, for messages: "a FIFO", "a folder".
pub fn kind(metadata: &Metadata) -> &'static str {
    let file_type = metadata.file_type();
    if file_type.is_file() {
        "a regular file"
    } else if file_type.is_dir() {
        "a folder"
    } else if file_type.is_symlink() {
        "a symlink"
    } else if file_type.is_fifo() {
        "a FIFO (named pipe)"
    } else if file_type.is_char_device() {
        "a character device"
    } else if file_type.is_block_device() {
        "a block device"
    } else if file_type.is_socket() {
        "a socket"
    } else {
        "an unknown kind of file"
    }
}

/// The error for `path`, found to be `metadata` (read through its link when `path` is one).
fn not_regular(path: &Path, metadata: &Metadata) -> FileError {
    let is_link = std::fs::symlink_metadata(path).is_ok_and(|own| own.file_type().is_symlink());
    if is_link && !metadata.file_type().is_symlink() {
        FileError::LinkToNotRegular {
            path: path.to_path_buf(),
            target: std::fs::canonicalize(path)
                .or_else(|_| std::fs::read_link(path))
                .unwrap_or_default(),
            kind: kind(metadata),
        }
    } else {
        FileError::NotRegular {
            path: path.to_path_buf(),
            kind: kind(metadata),
        }
    }
}

/// The regular file at `path`, opened, or `None` when nothing is there (a dangling link too,
/// with `Links::Follow`). The kind is checked before the open, so a FIFO or a device is never
/// opened; the open file must then be the very file checked, so a swap in between reads nothing.
fn open_regular(path: &Path, links: Links) -> anyhow::Result<Option<File>> {
    let checked = match links {
        Links::Follow => std::fs::metadata(path),
        Links::Refuse => std::fs::symlink_metadata(path),
    };
    let checked = match checked {
        Ok(metadata) => metadata,
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read `{}`", path.display()));
        }
    };
    if checked.file_type().is_symlink() {
        return Err(FileError::Link {
            path: path.to_path_buf(),
        }
        .into());
    }
    if !checked.is_file() {
        return Err(not_regular(path, &checked).into());
    }
    let file = File::open(path).with_context(|| format!("cannot read `{}`", path.display()))?;
    let opened = file
        .metadata()
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    if (opened.dev(), opened.ino()) != (checked.dev(), checked.ino()) || !opened.is_file() {
        return Err(FileError::Replaced {
            path: path.to_path_buf(),
        }
        .into());
    }
    Ok(Some(file))
}

/// The bytes of the regular file at `path`, up to `READ_LIMIT`; `None` when nothing is there.
/// Anything but a regular file (`Links::Refuse`: a symlink too) is an error naming `path`.
pub fn read_regular(path: &Path, links: Links) -> anyhow::Result<Option<Vec<u8>>> {
    let Some(file) = open_regular(path, links)? else {
        return Ok(None);
    };
    let mut bytes = Vec::new();
    file.take(READ_LIMIT + 1)
        .read_to_end(&mut bytes)
        .with_context(|| format!("cannot read `{}`", path.display()))?;
    if bytes.len() as u64 > READ_LIMIT {
        return Err(FileError::TooLarge {
            path: path.to_path_buf(),
            limit: READ_LIMIT,
        }
        .into());
    }
    Ok(Some(bytes))
}

/// Writes `content` to `path` atomically, leaving the file (and its mtime) alone when equal.
pub fn write_if_changed(path: &Path, content: &[u8]) -> anyhow::Result<WriteStatus> {
    let target = resolve(path)?;
    if holds(&target, content)? {
        return Ok(WriteStatus::Unchanged);
    }
    replace(&target, content, |_| Ok(()))?;
    Ok(WriteStatus::Written)
}

/// Whether the regular file `target` (already resolved) holds exactly `content`: no more than
/// one byte past it is read, whatever the file's size.
fn holds(target: &Path, content: &[u8]) -> anyhow::Result<bool> {
    let Some(file) = open_regular(target, Links::Refuse)? else {
        return Ok(false);
    };
    let mut current = Vec::with_capacity(content.len() + 1);
    file.take(content.len() as u64 + 1)
        .read_to_end(&mut current)
        .with_context(|| format!("cannot read `{}`", target.display()))?;
    Ok(current == content)
}

/// The file a write to `path` must change: `path` itself, or the end of its symlink chain. What
/// is there must be a regular file (or nothing yet): a device, a FIFO, a socket or a folder, or
/// a link to one, is refused without being opened.
pub fn resolve(path: &Path) -> anyhow::Result<PathBuf> {
    let Ok(link) = std::fs::symlink_metadata(path) else {
        return Ok(path.to_path_buf());
    };
    if !link.file_type().is_symlink() {
        if !link.is_file() {
            return Err(not_regular(path, &link).into());
        }
        return Ok(path.to_path_buf());
    }
    let target = match std::fs::canonicalize(path) {
        Ok(target) => target,
        Err(error) => {
            let points_to = std::fs::read_link(path).unwrap_or_default();
            return Err(error).with_context(|| {
                format!(
                    "`{}` is a symlink to `{}`, which cannot be followed (dangling or a loop); fix or remove the link",
                    path.display(),
                    points_to.display()
                )
            });
        }
    };
    let metadata = std::fs::symlink_metadata(&target)
        .with_context(|| format!("cannot read `{}`", target.display()))?;
    if !metadata.is_file() {
        return Err(not_regular(path, &metadata).into());
    }
    Ok(target)
}

/// Replaces `target` (already resolved, see `resolve`) with `content`: the temp file gets the
/// live file's mode and owner, must pass `check`, and is renamed over the live file. A failure
/// leaves the live file untouched and no temp file behind. Anything at `target` but a regular
/// file is refused before anything is written.
pub fn replace(
    target: &Path,
    content: &[u8],
    check: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let live = match std::fs::symlink_metadata(target) {
        Ok(live) if live.is_file() => Some(live),
        Ok(other) => return Err(not_regular(target, &other).into()),
        Err(error) if error.kind() == std::io::ErrorKind::NotFound => None,
        Err(error) => {
            return Err(error).with_context(|| format!("cannot read `{}`", target.display()));
        }
    };
    let dir = target
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir).with_context(|| format!("cannot create `{}`", dir.display()))?;
    let mut temp = tempfile::Builder::new()
        .prefix(".boma-")
        .suffix(".tmp")
        .tempfile_in(dir)
        .with_context(|| format!("cannot create a temp file in `{}`", dir.display()))?;
    temp.write_all(content)?;
    match live {
        Some(live) => {
            let mode = live.permissions().mode() & 0o7777;
            temp.as_file()
                .set_permissions(std::fs::Permissions::from_mode(mode))?;
            let mine = temp.as_file().metadata()?;
            if (mine.uid(), mine.gid()) != (live.uid(), live.gid())
                && let Err(error) =
                    std::os::unix::fs::fchown(temp.as_file(), Some(live.uid()), Some(live.gid()))
            {
                bail!(
                    "cannot keep the owner of `{}` ({}:{}): {error}; it is unchanged",
                    target.display(),
                    live.uid(),
                    live.gid()
                );
            }
        }
        None => temp
            .as_file()
            .set_permissions(std::fs::Permissions::from_mode(NEW_FILE_MODE))?,
    }
    temp.as_file().sync_all()?;
    check(temp.path())?;
    temp.persist(target)
        .map_err(|error| error.error)
        .with_context(|| format!("cannot write `{}`", target.display()))?;
    Ok(())
}

/// A new folder in `parent` named `prefix` and a random tail, that only this user may enter
/// (0700 whatever the umask), removed when dropped. tempfile alone makes it 0777 less the umask:
/// world-readable under the usual 022, open to all under 000.
pub fn private_dir(prefix: &str, parent: &Path) -> std::io::Result<tempfile::TempDir> {
    let folder = tempfile::Builder::new()
        .prefix(prefix)
        .permissions(std::fs::Permissions::from_mode(PRIVATE_DIR_MODE))
        .tempdir_in(parent)?;
    // mkdir's mode passes the umask, which can only take bits away; a umask that takes the
    // user's own (0700 and up) would leave a folder boma cannot use, so the mode is set as is.
    std::fs::set_permissions(
        folder.path(),
        std::fs::Permissions::from_mode(PRIVATE_DIR_MODE),
    )?;
    Ok(folder)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_then_reports_unchanged() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let path = dir.path().join("a/b/Caddyfile");
        assert_eq!(write_if_changed(&path, b"one")?, WriteStatus::Written);
        assert_eq!(write_if_changed(&path, b"one")?, WriteStatus::Unchanged);
        assert_eq!(write_if_changed(&path, b"two")?, WriteStatus::Written);
        assert_eq!(std::fs::read(&path)?, b"two");
        // A longer file that starts with the content is not the content.
        std::fs::write(&path, b"two and more")?;
        assert_eq!(write_if_changed(&path, b"two")?, WriteStatus::Written);
        assert_eq!(std::fs::read(&path)?, b"two");
        let leftovers = std::fs::read_dir(dir.path().join("a/b"))?.count();
        assert_eq!(leftovers, 1, "no temp files are left behind");
        Ok(())
    }

    #[test]
    fn mode_is_kept_and_new_files_are_world_readable() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let new = dir.path().join("new");
        write_if_changed(&new, b"x")?;
        assert_eq!(std::fs::metadata(&new)?.permissions().mode() & 0o777, 0o644);
        let kept = dir.path().join("kept");
        std::fs::write(&kept, "old")?;
        std::fs::set_permissions(&kept, std::fs::Permissions::from_mode(0o640))?;
        write_if_changed(&kept, b"new")?;
        assert_eq!(
            std::fs::metadata(&kept)?.permissions().mode() & 0o777,
            0o640
        );
        Ok(())
    }

    #[test]
    fn symlinks_are_written_through_and_dangling_ones_refused() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let target = dir.path().join("target");
        std::fs::write(&target, "old")?;
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&target, &link)?;
        write_if_changed(&link, b"new")?;
        assert!(std::fs::symlink_metadata(&link)?.file_type().is_symlink());
        assert_eq!(std::fs::read(&target)?, b"new");
        let dangling = dir.path().join("dangling");
        std::os::unix::fs::symlink(dir.path().join("nowhere"), &dangling)?;
        let error = write_if_changed(&dangling, b"x")
            .err()
            .map(|e| format!("{e:#}"));
        assert!(error.is_some_and(|e| e.contains("cannot be followed")));
        assert!(!dir.path().join("nowhere").exists());
        Ok(())
    }

    #[test]
    fn a_folder_or_a_link_to_one_is_never_replaced() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let folder = dir.path().join("folder");
        std::fs::create_dir(&folder)?;
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&folder, &link)?;
        for path in [&folder, &link] {
            let error = write_if_changed(path, b"x").err().map(|e| format!("{e:#}"));
            assert!(
                error
                    .as_deref()
                    .is_some_and(|e| e.contains("is a folder") || e.contains("which is a folder")),
                "{error:?}"
            );
        }
        let error = replace(&folder, b"x", |_| Ok(()))
            .err()
            .map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("is a folder")));
        assert!(std::fs::metadata(&folder)?.is_dir());
        Ok(())
    }

    #[test]
    fn reads_stop_at_the_limit_and_refuse_links_when_asked() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let huge = dir.path().join("huge");
        File::create(&huge)?.set_len(READ_LIMIT + 1)?;
        let error = read_regular(&huge, Links::Follow)
            .err()
            .map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("is over 32 MiB")));
        let exact = dir.path().join("exact");
        File::create(&exact)?.set_len(READ_LIMIT)?;
        assert_eq!(
            read_regular(&exact, Links::Follow)?.map(|bytes| bytes.len() as u64),
            Some(READ_LIMIT)
        );
        let link = dir.path().join("link");
        std::os::unix::fs::symlink(&exact, &link)?;
        assert!(read_regular(&link, Links::Follow)?.is_some());
        let error = read_regular(&link, Links::Refuse)
            .err()
            .map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("is a symlink, and boma follows none here")));
        assert!(read_regular(&dir.path().join("missing"), Links::Refuse)?.is_none());
        Ok(())
    }

    #[test]
    fn private_dirs_are_0700() -> anyhow::Result<()> {
        let dir = tempfile::tempdir()?;
        let folder = private_dir("boma-test.", dir.path())?;
        assert_eq!(
            std::fs::metadata(folder.path())?.permissions().mode() & 0o7777,
            0o700
        );
        assert!(
            folder
                .path()
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("boma-test."))
        );
        Ok(())
    }
}
