//! The build tool (podman, buildah or docker) and the exact arguments each needs for a
//! reproducible build, a login from stdin into a private auth file, and a push that reports its
//! digest. The argument lists run, shell-quoted, in the build script on this machine or a builder
//! (which also picks chroot isolation for `RUN` steps when it runs in a container).

use std::path::{Path, PathBuf};

use super::BuildError;
use crate::catalog::BuildTool;

/// How a build is run: the tool and the options that are not the image's own.
#[derive(Debug, Clone)]
pub struct Tool {
    pub kind: BuildTool,
    /// Where podman or buildah keep images (`--root DIR/root --runroot DIR/run`), when asked.
    pub storage: Option<PathBuf>,
}

/// One image build, as the tool is told it.
pub struct Build<'a> {
    pub reference: &'a str,
    pub file: &'a str,
    pub context: &'a str,
    pub timestamp: i64,
    pub labels: &'a [(String, String)],
    pub args: &'a [(String, String)],
    pub iidfile: &'a str,
}

/// The tool to use: `--tool`, else the catalog's `defaults.build_tool`, else the first of
/// podman, buildah, docker on PATH.
/// The tool builds run with: `wanted` (checked on this machine when an image builds here), else
/// the first found here when one builds here, else podman (a builder host checks its own PATH).
/// The builder hosts use the same tool as this machine.
pub fn for_builds(wanted: Option<BuildTool>, builds_here: bool) -> Result<BuildTool, BuildError> {
    match (wanted, builds_here) {
        (_, true) => choose(wanted),
        (Some(tool), false) => Ok(tool),
        (None, false) => Ok(BuildTool::Podman),
    }
}

pub fn choose(wanted: Option<BuildTool>) -> Result<BuildTool, BuildError> {
    let on_path = |tool: BuildTool| which::which(tool.program()).is_ok();
    match wanted {
        Some(tool) if on_path(tool) => Ok(tool),
        Some(tool) => Err(BuildError::ToolMissing {
            wanted: tool.program().to_string(),
        }),
        None => BuildTool::ALL
            .into_iter()
            .find(|tool| on_path(*tool))
            .ok_or(BuildError::ToolMissing {
                wanted: "podman, buildah or docker".into(),
            }),
    }
}

impl Tool {
    /// The tool and its global options: podman's and buildah's own storage.
    fn base(&self) -> Vec<String> {
        let mut argv = vec![self.kind.program().to_string()];
        if let (Some(storage), false) = (&self.storage, self.kind == BuildTool::Docker) {
            argv.push("--root".into());
            argv.push(storage.join("root").display().to_string());
            argv.push("--runroot".into());
            argv.push(storage.join("run").display().to_string());
        }
        argv
    }

    pub fn build(&self, build: &Build<'_>) -> Vec<String> {
        let mut argv = self.base();
        argv.push("build".into());
        match self.kind {
            BuildTool::Podman | BuildTool::Buildah => {
                // The commit time as the image time and no tool-version label: the same commit
                // gives the same image id on any machine. Layers off for both tools, so podman
                // and buildah agree too.
                argv.push(format!("--timestamp={}", build.timestamp));
                argv.push("--identity-label=false".into());
                argv.push("--layers=false".into());
            }
            BuildTool::Docker => {
                argv.push("--build-arg".into());
                argv.push(format!("SOURCE_DATE_EPOCH={}", build.timestamp));
            }
        }
        argv.push("--file".into());
        argv.push(build.file.to_string());
        argv.push("--tag".into());
        argv.push(build.reference.to_string());
        argv.push("--iidfile".into());
        argv.push(build.iidfile.to_string());
        for (key, value) in build.labels {
            argv.push("--label".into());
            argv.push(format!("{key}={value}"));
        }
        for (key, value) in build.args {
            argv.push("--build-arg".into());
            argv.push(format!("{key}={value}"));
        }
        argv.push(build.context.to_string());
        argv
    }

    /// `login --password-stdin` into `auth` (docker: its config folder); the password is the
    /// child's stdin, never an argument.
    pub fn login(&self, registry: &str, user: &str, auth: &Path, tls_verify: bool) -> Vec<String> {
        let mut argv = self.base();
        if self.kind == BuildTool::Docker {
            argv.push("--config".into());
            argv.push(auth.display().to_string());
        }
        argv.push("login".into());
        if self.kind != BuildTool::Docker {
            argv.push("--authfile".into());
            argv.push(auth.display().to_string());
            argv.push(format!("--tls-verify={tls_verify}"));
        }
        argv.extend(["--username".into(), user.into(), "--password-stdin".into()]);
        argv.push(registry.to_string());
        argv
    }

    /// Pushes `reference`, writing the pushed manifest's digest to `digestfile` (docker: read
    /// back with `docker inspect` by the caller).
    pub fn push(
        &self,
        reference: &str,
        auth: Option<&Path>,
        digestfile: &str,
        tls_verify: bool,
    ) -> Vec<String> {
        let mut argv = self.base();
        if let (BuildTool::Docker, Some(auth)) = (self.kind, auth) {
            argv.push("--config".into());
            argv.push(auth.display().to_string());
        }
        argv.push("push".into());
        if self.kind != BuildTool::Docker {
            if let Some(auth) = auth {
                argv.push("--authfile".into());
                argv.push(auth.display().to_string());
            }
            argv.push(format!("--tls-verify={tls_verify}"));
            argv.push("--digestfile".into());
            argv.push(digestfile.to_string());
            argv.push(reference.to_string());
            argv.push(format!("docker://{reference}"));
        } else {
            argv.push(reference.to_string());
        }
        argv
    }
}
