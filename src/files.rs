//! Local file writes that never leave a half-written file: temp file in the same folder, then rename.

use std::io::Write;
use std::path::Path;

/// Whether a write changed the file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum WriteStatus {
    Written,
    Unchanged,
}

/// Writes `content` to `path` atomically, leaving the file (and its mtime) alone when equal.
pub fn write_if_changed(path: &Path, content: &[u8]) -> std::io::Result<WriteStatus> {
    if std::fs::read(path).is_ok_and(|current| current == content) {
        return Ok(WriteStatus::Unchanged);
    }
    let dir = path
        .parent()
        .filter(|dir| !dir.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let mut temp = tempfile::Builder::new()
        .prefix(".boma-")
        .suffix(".tmp")
        .tempfile_in(dir)?;
    temp.write_all(content)?;
    temp.as_file().sync_all()?;
    temp.persist(path).map_err(|error| error.error)?;
    Ok(WriteStatus::Written)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_once_then_reports_unchanged() -> std::io::Result<()> {
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
}
