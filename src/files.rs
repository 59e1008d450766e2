//! Local file writes that never leave a half-written file and keep what the file is: a temp file
//! in the target's folder with the target's mode and owner, checked if asked, then renamed over
//! it. A symlink is written through to its target; a dangling one is refused.

use std::io::Write;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
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

/// Writes `content` to `path` atomically, leaving the file (and its mtime) alone when equal.
pub fn write_if_changed(path: &Path, content: &[u8]) -> anyhow::Result<WriteStatus> {
    let target = resolve(path)?;
    if std::fs::read(&target).is_ok_and(|current| current == content) {
        return Ok(WriteStatus::Unchanged);
    }
    replace(&target, content, |_| Ok(()))?;
    Ok(WriteStatus::Written)
}

/// The file a write to `path` must change: `path` itself, or the end of its symlink chain.
pub fn resolve(path: &Path) -> anyhow::Result<PathBuf> {
    let Ok(link) = std::fs::symlink_metadata(path) else {
        return Ok(path.to_path_buf());
    };
    if !link.file_type().is_symlink() {
        return Ok(path.to_path_buf());
    }
    match std::fs::canonicalize(path) {
        Ok(target) => Ok(target),
        Err(error) => {
            let points_to = std::fs::read_link(path).unwrap_or_default();
            Err(error).with_context(|| {
                format!(
                    "`{}` is a symlink to `{}`, which cannot be followed (dangling or a loop); fix or remove the link",
                    path.display(),
                    points_to.display()
                )
            })
        }
    }
}

/// Replaces `target` (already resolved, see `resolve`) with `content`: the temp file gets the
/// live file's mode and owner, must pass `check`, and is renamed over the live file. A failure
/// leaves the live file untouched and no temp file behind.
pub fn replace(
    target: &Path,
    content: &[u8],
    check: impl FnOnce(&Path) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
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
    match std::fs::metadata(target) {
        Ok(live) => {
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
        Err(_) => temp
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
}
