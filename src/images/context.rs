//! The build context as a tar stream for a builder host, without what `.containerignore` (or
//! else `.dockerignore`) leaves out.

use std::path::Path;

use anyhow::Context as _;
use ignore::gitignore::{Gitignore, GitignoreBuilder};

/// The largest context boma streams to a builder.
const MAX_CONTEXT: u64 = 2 * 1024 * 1024 * 1024;

/// A tar of `dir`'s files (regular files, folders and symlinks, modes kept), ignore rules applied.
pub fn tar(dir: &Path) -> anyhow::Result<Vec<u8>> {
    let ignore = rules(dir)?;
    let mut archive = tar::Builder::new(Vec::new());
    archive.follow_symlinks(false);
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
            let kind = entry.file_type()?;
            if ignore
                .matched_path_or_any_parents(relative, kind.is_dir())
                .is_ignore()
            {
                continue;
            }
            if kind.is_dir() {
                archive.append_dir(relative, &path)?;
                pending.push(path);
            } else {
                total += entry.metadata()?.len();
                if total > MAX_CONTEXT {
                    anyhow::bail!("the context `{}` is over 2 GiB", dir.display());
                }
                archive
                    .append_path_with_name(&path, relative)
                    .with_context(|| format!("cannot add `{}`", path.display()))?;
            }
        }
    }
    Ok(archive.into_inner()?)
}

/// `.containerignore`, else `.dockerignore`: patterns relative to the context root (a pattern
/// without a leading `/` is anchored there too, as the build tools read it), `!` re-includes.
fn rules(dir: &Path) -> anyhow::Result<Gitignore> {
    let mut builder = GitignoreBuilder::new(dir);
    let file = [".containerignore", ".dockerignore"]
        .iter()
        .map(|name| dir.join(name))
        .find(|path| path.is_file());
    if let Some(file) = file {
        let text = std::fs::read_to_string(&file)
            .with_context(|| format!("cannot read `{}`", file.display()))?;
        for line in text
            .lines()
            .map(str::trim)
            .filter(|line| !line.is_empty() && !line.starts_with('#'))
        {
            let (negated, pattern) = match line.strip_prefix('!') {
                Some(rest) => ("!", rest),
                None => ("", line),
            };
            let pattern = pattern.trim_start_matches("./");
            let anchored = if pattern.starts_with('/') || pattern.starts_with("**") {
                pattern.to_string()
            } else {
                format!("/{pattern}")
            };
            builder
                .add_line(None, &format!("{negated}{anchored}"))
                .with_context(|| format!("`{}`: bad pattern `{line}`", file.display()))?;
        }
    }
    Ok(builder.build()?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ignored_files_stay_home() {
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let root = dir.path();
        for (path, text) in [
            ("Containerfile", "FROM scratch\n"),
            ("app/main.txt", "code"),
            ("app/secret.env", "TOKEN=x"),
            ("node_modules/x/y.js", "big"),
            ("keep.env", "kept again"),
            (
                ".containerignore",
                "node_modules\n*.env\n**/*.env\n!keep.env\n",
            ),
        ] {
            let path = root.join(path);
            std::fs::create_dir_all(path.parent().unwrap_or(root))
                .unwrap_or_else(|e| panic!("{e}"));
            std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
        }
        let bytes = tar(root).unwrap_or_else(|e| panic!("{e}"));
        let mut archive = tar::Archive::new(bytes.as_slice());
        let mut names: Vec<String> = archive
            .entries()
            .unwrap_or_else(|e| panic!("{e}"))
            .filter_map(|entry| Some(entry.ok()?.path().ok()?.display().to_string()))
            .collect();
        names.sort();
        assert_eq!(
            names,
            [
                ".containerignore",
                "Containerfile",
                "app",
                "app/main.txt",
                "keep.env"
            ]
        );
    }
}
