//! What an image is built from: the last git commit that changed its context, whether the context or its
//! Containerfile have uncommitted changes, and the facts that name the image (tag, labels, time).

use std::path::Path;
use std::process::{Command, Stdio};

use super::BuildError;

/// The commit facts of one image's context.
#[derive(Debug, Clone)]
pub struct Source {
    /// The full commit id.
    pub revision: String,
    /// The commit time, in seconds since the epoch: the image's timestamp.
    pub time: i64,
    /// The remote's URL without any user or password in it, when the repository has `origin`.
    pub remote: Option<String>,
    pub dirty: bool,
}

impl Source {
    /// `v{version}-{7 hex}`, `-dirty` when built from uncommitted changes.
    pub fn tag(&self, version: &str) -> String {
        let short: String = self.revision.chars().take(7).collect();
        let dirty = if self.dirty { "-dirty" } else { "" };
        format!("v{version}-{short}{dirty}")
    }

    /// The commit time as RFC 3339, for `org.opencontainers.image.created`.
    pub fn created(&self) -> String {
        let time = std::time::UNIX_EPOCH + std::time::Duration::from_secs(self.time.max(0) as u64);
        humantime::format_rfc3339_seconds(time).to_string()
    }
}

/// Reads the commit of the repository holding `context`; `file` is the Containerfile.
pub fn read(name: &str, context: &Path, file: &Path) -> Result<Source, BuildError> {
    if !context.is_dir() {
        return Err(BuildError::MissingContext {
            image: name.to_string(),
            context: context.display().to_string(),
        });
    }
    if !file.is_file() {
        return Err(BuildError::MissingContainerfile {
            image: name.to_string(),
            file: file.display().to_string(),
        });
    }
    // The last commit that changed the context or the Containerfile: other commits leave the
    // image (and its tag) as it was.
    let absolute = |path: &Path| {
        std::path::absolute(path)
            .unwrap_or_else(|_| path.to_path_buf())
            .display()
            .to_string()
    };
    let (context_arg, file_arg) = (absolute(context), absolute(file));
    let paths = ["--", context_arg.as_str(), file_arg.as_str()];
    // Three small git runs at once: a build's fixed cost is mostly these.
    let log = git(
        context,
        &[&["log", "-1", "--format=%H %ct"], &paths[..]].concat(),
    );
    let status = git(
        context,
        &[
            &["status", "--porcelain", "--untracked-files=all"],
            &paths[..],
        ]
        .concat(),
    );
    let remote = git(context, &["remote", "get-url", "origin"]);
    let failed = |reason: String| BuildError::NotInGit {
        image: name.to_string(),
        reason,
    };
    let facts = finish(log).map_err(failed)?;
    let (revision, time) = facts.split_once(' ').unwrap_or_default();
    if revision.len() < 7 {
        return Err(failed(
            "no commit holds the context yet (commit it first)".into(),
        ));
    }
    let status = finish(status).map_err(failed)?;
    let remote = finish(remote).ok().map(|url| without_credentials(&url));
    Ok(Source {
        revision: revision.to_string(),
        time: time.parse().unwrap_or(0),
        remote,
        dirty: !status.is_empty(),
    })
}

/// Starts `git -C dir ARGS`.
fn git(dir: &Path, args: &[&str]) -> std::io::Result<std::process::Child> {
    Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
}

/// What a started git printed, or why it failed.
fn finish(child: std::io::Result<std::process::Child>) -> Result<String, String> {
    let output = child
        .and_then(std::process::Child::wait_with_output)
        .map_err(|error| format!("cannot run git: {error}"))?;
    if !output.status.success() {
        return Err(String::from_utf8_lossy(&output.stderr).trim().to_string());
    }
    Ok(String::from_utf8_lossy(&output.stdout).trim().to_string())
}

/// `https://user:token@host/repo` as `https://host/repo`: a label is public.
fn without_credentials(url: &str) -> String {
    match url.split_once("://") {
        Some((scheme, rest)) => {
            let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
            let host = authority
                .rsplit_once('@')
                .map_or(authority, |(_, host)| host);
            let slash = if rest.contains('/') { "/" } else { "" };
            format!("{scheme}://{host}{slash}{path}")
        }
        None => url.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn remote_urls_lose_their_credentials() {
        assert_eq!(
            without_credentials("https://ops:s3cret@forge.example.org/ops/homelab.git"),
            "https://forge.example.org/ops/homelab.git"
        );
        assert_eq!(
            without_credentials("git@forge.example.org:ops/homelab.git"),
            "git@forge.example.org:ops/homelab.git"
        );
    }

    #[test]
    fn tags_say_version_commit_and_dirt() {
        let mut source = Source {
            revision: "0123456789abcdef".into(),
            time: 1_700_000_000,
            remote: None,
            dirty: false,
        };
        assert_eq!(source.tag("1.4.0"), "v1.4.0-0123456");
        source.dirty = true;
        assert_eq!(source.tag("1.4.0"), "v1.4.0-0123456-dirty");
        assert_eq!(source.created(), "2023-11-14T22:13:20Z");
    }
}
