//! The edge on a host of the catalog (`[edge] host = "NAME"`): the same nginx and fail2ban files
//! a Fly.io machine gets, pushed over SSH like a Caddyfile. One round trip plans (the live files'
//! digest, and the ones that differ for a diff); one pushes: lock, stage, `nginx -t` and
//! `fail2ban-client -t` on the host, swap the folders in, reload nginx and fail2ban, swap back
//! when a reload fails, audit (`push.sh`). The host's Caddy terminates TLS for the public names
//! and proxies them to nginx on loopback (see `caddy::sites`).

mod plan;
mod report;
mod stage;

pub use plan::EdgeHostPlan;
pub use stage::EdgeHostStage;

use sha2::{Digest, Sha256};

use super::{EdgeError, guest_path};
use crate::catalog::{Catalog, EdgeHost, Host};
use crate::render::Renderer;

/// The script run on the edge's host, after what the push scripts share (`remote/push.sh`); see
/// its header for the settings.
const SCRIPT: &str = concat!(
    include_str!("../../remote/push.sh"),
    include_str!("push.sh")
);

/// What boma installs under the prefix, and what it keeps there that is not its own.
#[derive(Debug, Clone)]
pub struct Bundle {
    /// Path under the prefix (`conf/nginx.conf`, `fail2ban/jail.conf`) and content, by path.
    pub files: Vec<(String, String)>,
    /// `SHA256  PATH` lines, as `sha256sum` prints them, by path.
    pub manifest: String,
    /// The manifest's sha256: the script hashes the live files' listing the same way.
    pub sha256: String,
    /// fail2ban's ban maps (`conf/bans/SERVICE.map`): state on the host, carried over.
    pub bans: Vec<String>,
    /// The access logs the jails read, made empty when missing.
    pub logs: Vec<String>,
}

/// The edge's host and what goes there.
#[derive(Debug)]
pub struct Target {
    pub host: Host,
    pub on: EdgeHost,
    pub bundle: Bundle,
}

/// The edge's host with its files rendered under its prefix.
pub fn target(catalog: &Catalog, renderer: &Renderer) -> anyhow::Result<Target> {
    let edge = catalog.edge.as_ref().ok_or(EdgeError::NoEdge)?;
    let on = edge.on_host().ok_or_else(|| EdgeError::OnFly {
        app: edge.name().to_string(),
    })?;
    let host = catalog
        .hosts
        .get(&on.host)
        .ok_or_else(|| anyhow::anyhow!("host `{}` is not in the catalog", on.host))?;
    let mut files = Vec::new();
    let mut bans = Vec::new();
    for artifact in super::artifacts(catalog, renderer)? {
        let local = artifact.name.trim_start_matches("edge/");
        let Some(path) = guest_path(local, "") else {
            continue;
        };
        if local.starts_with("bans/") {
            bans.push(path);
        } else {
            files.push((path, artifact.content));
        }
    }
    files.sort();
    let logs = super::services(catalog)
        .iter()
        .filter(|(_, table)| table.ban.is_some())
        .map(|(service, _)| format!("logs/{}.access.log", service.name))
        .collect();
    Ok(Target {
        host: host.clone(),
        on: on.clone(),
        bundle: bundle(files, bans, logs),
    })
}

fn bundle(files: Vec<(String, String)>, bans: Vec<String>, logs: Vec<String>) -> Bundle {
    let manifest: String = files
        .iter()
        .map(|(path, content)| {
            format!(
                "{}  {path}\n",
                hex::encode(Sha256::digest(content.as_bytes()))
            )
        })
        .collect();
    Bundle {
        sha256: hex::encode(Sha256::digest(manifest.as_bytes())),
        manifest,
        files,
        bans,
        logs,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest the host script computes: `sha256sum` of each file, by path, then of the list.
    #[test]
    fn the_digest_is_what_sha256sum_prints_of_the_files() -> std::io::Result<()> {
        let dir = tempfile::tempdir()?;
        let files = vec![
            ("conf/nginx.conf".to_string(), "events {}\n".to_string()),
            ("fail2ban/jail.conf".to_string(), "[DEFAULT]\n".to_string()),
        ];
        for (path, content) in &files {
            let path = dir.path().join(path);
            std::fs::create_dir_all(path.parent().unwrap_or(dir.path()))?;
            std::fs::write(path, content)?;
        }
        let bundle = bundle(files, Vec::new(), Vec::new());
        let output = std::process::Command::new("sh")
            .arg("-c")
            .arg("find conf fail2ban -type f | LC_ALL=C sort | xargs sha256sum -- | sha256sum")
            .current_dir(dir.path())
            .output()?;
        let printed = String::from_utf8_lossy(&output.stdout);
        assert_eq!(
            printed.split_whitespace().next(),
            Some(bundle.sha256.as_str())
        );
        Ok(())
    }
}
