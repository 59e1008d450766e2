//! The build context as a tar for a builder host, without what `.containerignore` (or else
//! `.dockerignore`) leaves out, read with the build tools' own rules: every pattern is matched
//! against a path and its parent folders, the last match decides, and `!` re-includes a path even
//! under an excluded folder. The tar is written to a private temp file and streamed from there,
//! so a large context is never held in memory.

use std::fs::File;
use std::path::Path;

use anyhow::Context as _;
use globset::{GlobBuilder, GlobMatcher};

/// The largest context boma streams to a builder.
const MAX_CONTEXT: u64 = 2 * 1024 * 1024 * 1024;
/// The longest ignore file boma reads.
const MAX_IGNORE_FILE: u64 = 1024 * 1024;

/// A context packed for a builder: the tar on disk (removed when dropped) and the special files
/// (FIFOs, sockets, devices) left out of it, as buildah leaves them out.
pub struct Packed {
    pub tar: tempfile::NamedTempFile,
    pub skipped: Vec<String>,
}

/// A tar of `dir`'s regular files, folders and symlinks (modes kept), ignore rules applied.
pub fn tar(dir: &Path) -> anyhow::Result<Packed> {
    let ignore = Rules::read(dir)?;
    let file = tempfile::Builder::new()
        .prefix("boma-context.")
        .tempfile()
        .context("cannot make a temp file for the build context")?;
    let mut archive = tar::Builder::new(file.reopen()?);
    archive.follow_symlinks(false);
    let mut skipped = Vec::new();
    let mut total = 0u64;
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        let mut entries: Vec<_> = std::fs::read_dir(&folder)
            .with_context(|| format!("cannot read `{}`", folder.display()))?
            .collect::<Result<_, _>>()?;
        entries.sort_by_key(std::fs::DirEntry::file_name);
        for entry in entries {
            let path = entry.path();
            let relative = path.strip_prefix(dir).unwrap_or(&path);
            let shown = relative.display().to_string();
            let kind = entry.file_type()?;
            let excluded = ignore.excludes(&shown);
            if kind.is_dir() {
                // An excluded folder is still walked when a `!` pattern may bring back a path
                // inside it; it gets no entry of its own (tar makes the parents of what it holds).
                if !excluded {
                    archive.append_dir(relative, &path)?;
                }
                if !excluded || ignore.reincludes {
                    pending.push(path);
                }
                continue;
            }
            if excluded {
                continue;
            }
            if !kind.is_file() && !kind.is_symlink() {
                skipped.push(shown);
                continue;
            }
            total += entry.metadata()?.len();
            if total > MAX_CONTEXT {
                anyhow::bail!("the context `{}` is over 2 GiB", dir.display());
            }
            archive
                .append_path_with_name(&path, relative)
                .with_context(|| format!("cannot add `{}`", path.display()))?;
        }
    }
    archive.into_inner()?.sync_all()?;
    Ok(Packed { tar: file, skipped })
}

/// `.containerignore`, else `.dockerignore`, as the build tools read it.
struct Rules {
    /// Each pattern, in order, and whether it re-includes (`!`).
    patterns: Vec<(bool, GlobMatcher)>,
    /// Some pattern re-includes: excluded folders must still be walked.
    reincludes: bool,
}

impl Rules {
    fn read(dir: &Path) -> anyhow::Result<Self> {
        let file = [".containerignore", ".dockerignore"]
            .iter()
            .map(|name| dir.join(name))
            .find(|path| path.is_file());
        let mut patterns = Vec::new();
        if let Some(file) = file {
            // `is_file` above: a regular file (a FIFO would block the read).
            let mut text = String::new();
            std::io::Read::read_to_string(
                &mut std::io::Read::take(File::open(&file)?, MAX_IGNORE_FILE),
                &mut text,
            )
            .with_context(|| format!("cannot read `{}`", file.display()))?;
            for line in text
                .lines()
                .map(str::trim)
                .filter(|line| !line.is_empty() && !line.starts_with('#'))
            {
                let (negated, pattern) = match line.strip_prefix('!') {
                    Some(rest) => (true, rest.trim()),
                    None => (false, line),
                };
                // Patterns are relative to the context root, with or without `/` or `./`.
                let pattern = pattern.trim_start_matches("./").trim_start_matches('/');
                let pattern = pattern.trim_end_matches('/');
                // `*` stays within one path segment, as in the build tools' matcher.
                let glob = GlobBuilder::new(pattern)
                    .literal_separator(true)
                    .build()
                    .map(|glob| glob.compile_matcher())
                    .with_context(|| format!("`{}`: bad pattern `{line}`", file.display()))?;
                patterns.push((negated, glob));
            }
        }
        let reincludes = patterns.iter().any(|(negated, _)| *negated);
        Ok(Self {
            patterns,
            reincludes,
        })
    }

    /// Whether `path` (relative, `/`-separated) stays out: the last pattern that matches it or
    /// one of its parent folders decides.
    fn excludes(&self, path: &str) -> bool {
        let mut excluded = false;
        for (negated, glob) in &self.patterns {
            let mut candidate = Some(path);
            while let Some(current) = candidate {
                if glob.is_match(current) {
                    excluded = !negated;
                    break;
                }
                candidate = current.rsplit_once('/').map(|(parent, _)| parent);
            }
        }
        excluded
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(packed: &Packed) -> Vec<String> {
        let file = packed.tar.reopen().unwrap_or_else(|e| panic!("{e}"));
        let mut archive = tar::Archive::new(file);
        let mut names: Vec<String> = archive
            .entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|entry| Some(entry.ok()?.path().ok()?.display().to_string()))
            .collect();
        names.sort();
        names
    }

    fn context(files: &[(&str, &str)]) -> tempfile::TempDir {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        for (path, text) in files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap_or(dir.path()))
                .unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        }
        dir
    }

    #[test]
    fn ignored_files_stay_home() {
        let dir = context(&[
            ("Containerfile", "FROM scratch\n"),
            ("app/main.txt", "code"),
            ("app/secret.env", "TOKEN=x"),
            ("node_modules/x/y.js", "big"),
            ("keep.env", "kept again"),
            (
                ".containerignore",
                "node_modules\n*.env\n**/*.env\n!keep.env\n",
            ),
        ]);
        let packed = tar(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            names(&packed),
            [
                ".containerignore",
                "Containerfile",
                "app",
                "app/main.txt",
                "keep.env"
            ]
        );
    }

    #[test]
    fn a_file_reincluded_under_an_excluded_folder_goes_to_the_builder() {
        let dir = context(&[
            ("Containerfile", "FROM scratch\n"),
            ("conf/public.txt", "shown"),
            ("conf/private.txt", "kept home"),
            ("conf/deeper/also-private.txt", "kept home"),
            (".containerignore", "conf\n!conf/public.txt\n"),
        ]);
        let packed = tar(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            names(&packed),
            [".containerignore", "Containerfile", "conf/public.txt"]
        );
    }

    #[test]
    fn a_star_stays_within_one_folder_as_the_build_tools_read_it() {
        let dir = context(&[
            ("Containerfile", "FROM scratch\n"),
            ("notes.txt", "top"),
            ("docs/README.md", "sent"),
            ("secrets/key.txt", "kept home"),
            ("top.md", "kept home"),
            (".containerignore", "secrets\n*.md\n!*.txt\n"),
        ]);
        let packed = tar(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(
            names(&packed),
            [
                ".containerignore",
                "Containerfile",
                "docs",
                "docs/README.md",
                "notes.txt"
            ]
        );
    }

    #[test]
    fn special_files_are_left_out_and_named() {
        let dir = context(&[("Containerfile", "FROM scratch\n"), ("data/a.txt", "a")]);
        let fifo = dir.path().join("data/pipe");
        let made = std::process::Command::new("mkfifo")
            .arg(&fifo)
            .status()
            .is_ok_and(|status| status.success());
        assert!(made, "mkfifo");
        let packed = tar(dir.path()).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(packed.skipped, ["data/pipe"]);
        assert_eq!(names(&packed), ["Containerfile", "data", "data/a.txt"]);
    }
}
