//! flyctl, when it is on PATH (or named with `--flyctl`): `certs add` and `deploy` of the rendered
//! folder. The token reaches it in `FLY_API_TOKEN`, never on its command line.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::EdgeError;
use crate::secret::Secret;

pub struct Flyctl {
    pub path: PathBuf,
    pub app: String,
    pub token: Secret,
}

impl Flyctl {
    pub fn certs_add(&self, hostname: &str) -> Result<(), EdgeError> {
        self.run("certs add", |command| {
            command.args(["certs", "add", hostname, "--app", &self.app]);
        })
    }

    /// `flyctl deploy` of the folder holding the rendered `fly.toml` and its files.
    pub fn deploy(&self, folder: &Path) -> Result<(), EdgeError> {
        self.run("deploy", |command| {
            command
                .arg("deploy")
                .arg(folder)
                .arg("--config")
                .arg(folder.join("fly.toml"))
                .args(["--app", &self.app, "--yes"]);
        })
    }

    fn run(&self, action: &'static str, build: impl FnOnce(&mut Command)) -> Result<(), EdgeError> {
        let mut command = Command::new(&self.path);
        build(&mut command);
        let output = command
            .env("FLY_API_TOKEN", self.token.expose())
            .stdin(Stdio::null())
            .output()
            .map_err(|error| EdgeError::Flyctl {
                action,
                status: "not started".into(),
                output: format!("cannot run {}: {error}", self.path.display()),
            })?;
        if output.status.success() {
            return Ok(());
        }
        let said = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let tail: Vec<&str> = said
            .lines()
            .filter(|line| !line.trim().is_empty())
            .collect();
        let tail = tail[tail.len().saturating_sub(15)..].join("\n");
        Err(EdgeError::Flyctl {
            action,
            status: output.status.to_string(),
            output: crate::secret::redact(&tail).into_owned(),
        })
    }
}
