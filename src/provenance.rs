//! Who is running boma and from which catalog revision: what audit lines on hosts record.

use std::path::Path;
use std::process::{Command, Stdio};

/// `user@machine` of the operator running boma, for lock holders and audit lines.
pub fn operator() -> String {
    let user = ["USER", "LOGNAME"]
        .iter()
        .find_map(|key| std::env::var(key).ok().filter(|value| !value.is_empty()))
        .or_else(account_name)
        .unwrap_or_else(|| "unknown".to_string());
    sanitize(&format!("{user}@{}", machine()))
}

/// This machine's host name: the kernel's, else what `hostname` prints, else `unknown`.
pub fn machine() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .or_else(|| {
            Command::new("hostname")
                .stdin(Stdio::null())
                .stderr(Stdio::null())
                .output()
                .ok()
                .filter(|output| output.status.success())
                .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        })
        .map(|name| name.trim().to_string())
        .filter(|name| !name.is_empty())
        .unwrap_or_else(|| "unknown".to_string())
}

/// The name of this process's user in /etc/passwd (cron and CI jobs often have no `USER`).
fn account_name() -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").ok()?.uid().to_string();
    std::fs::read_to_string("/etc/passwd")
        .ok()?
        .lines()
        .find_map(|line| {
            let mut fields = line.split(':');
            let name = fields.next()?;
            (fields.nth(1)? == uid).then(|| name.to_string())
        })
}

/// The git commit the catalog comes from, `+dirty` when the catalog file has local changes;
/// `none` outside a repository or without git.
pub fn catalog_revision(catalog: &Path) -> String {
    let Some(dir) = catalog.parent() else {
        return "none".to_string();
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    let git = |args: &[&std::ffi::OsStr]| -> Option<String> {
        let output = Command::new(which::which("git").ok()?)
            .arg("-C")
            .arg(dir)
            .args(args)
            .stdin(Stdio::null())
            .stderr(Stdio::null())
            .output()
            .ok()?;
        output
            .status
            .success()
            .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
    };
    let Some(commit) = git(&["rev-parse".as_ref(), "--short=12".as_ref(), "HEAD".as_ref()]) else {
        return "none".to_string();
    };
    let dirty = git(&[
        "status".as_ref(),
        "--porcelain".as_ref(),
        "--".as_ref(),
        catalog.file_name().unwrap_or(catalog.as_os_str()),
    ])
    .is_some_and(|changes| !changes.is_empty());
    sanitize(&if dirty {
        format!("{commit}+dirty")
    } else {
        commit
    })
}

/// One word, safe inside an audit line: no spaces or control characters.
fn sanitize(text: &str) -> String {
    text.chars()
        .map(|c| if c.is_ascii_graphic() { c } else { '_' })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sanitize_keeps_one_word() {
        assert_eq!(sanitize("ana maria@box\n"), "ana_maria@box_");
    }
}
