//! A real OCI registry on loopback (Debian's docker-registry) with htpasswd credentials, and a
//! git repository holding an image context (a static busybox `FROM scratch`).

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::{Daemon, free_port, require};

pub const USER: &str = "ops";
pub const PASSWORD: &str = "pa55-w0rd-n3ver-shown";

pub struct Registry {
    pub host: String,
    _daemon: Daemon,
    _dir: tempfile::TempDir,
}

impl Registry {
    /// `None` (a skip) on a laptop without docker-registry and htpasswd; a panic in CI.
    pub fn start() -> Option<Self> {
        let registry = require("docker-registry")?;
        let htpasswd = require("htpasswd")?;
        let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
        let users = Command::new(htpasswd)
            .args(["-Bbn", USER, PASSWORD])
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        std::fs::write(dir.path().join("htpasswd"), users.stdout).unwrap_or_else(|e| panic!("{e}"));
        let port = free_port();
        let config = format!(
            "version: 0.1\nlog:\n  level: warn\nstorage:\n  filesystem:\n    rootdirectory: {root}/data\n\
             http:\n  addr: 127.0.0.1:{port}\nauth:\n  htpasswd:\n    realm: boma-test\n    path: {root}/htpasswd\n",
            root = dir.path().display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap_or_else(|e| panic!("{e}"));
        let daemon = Daemon(
            Command::new(registry)
                .arg("serve")
                .arg(dir.path().join("config.yml"))
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .spawn()
                .unwrap_or_else(|e| panic!("cannot start docker-registry: {e}")),
        );
        super::lab::wait_for_port(port, "docker-registry");
        Some(Self {
            host: format!("127.0.0.1:{port}"),
            _daemon: daemon,
            _dir: dir,
        })
    }

    /// GET a registry path with the test credentials (on a thread of its own, so async tests
    /// can call it too).
    pub fn get(
        &self,
        path: &str,
        accept: Option<&str>,
    ) -> (u16, reqwest::header::HeaderMap, String) {
        let url = format!("http://{}{path}", self.host);
        let accept = accept.map(str::to_string);
        std::thread::spawn(move || {
            let client = reqwest::blocking::Client::new();
            let mut request = client.get(&url).basic_auth(USER, Some(PASSWORD));
            if let Some(accept) = accept {
                request = request.header("Accept", accept);
            }
            let response = request.send().unwrap_or_else(|e| panic!("GET {url}: {e}"));
            let status = response.status().as_u16();
            let headers = response.headers().clone();
            (status, headers, response.text().unwrap_or_default())
        })
        .join()
        .unwrap_or_else(|_| panic!("the registry request panicked"))
    }
}

/// A git repository at `dir` with `containers/app` (a static busybox, `RUN` when asked), a
/// kustomization and a compose file that deploy it, all committed.
pub fn repository(dir: &Path, image: &str, run_step: bool) -> PathBuf {
    let context = dir.join("containers/app");
    std::fs::create_dir_all(&context).unwrap_or_else(|e| panic!("{e}"));
    let busybox = ["/bin/busybox", "/usr/bin/busybox"]
        .into_iter()
        .find(|path| Path::new(path).exists())
        .unwrap_or_else(|| panic!("busybox-static is required (scripts/test installs it)"));
    std::fs::copy(busybox, context.join("busybox")).unwrap_or_else(|e| panic!("{e}"));
    let run = if run_step {
        "RUN [\"/bin/busybox\", \"mkdir\", \"/data\"]\n"
    } else {
        ""
    };
    std::fs::write(
        context.join("Containerfile"),
        format!("FROM scratch\nCOPY busybox /bin/busybox\n{run}ENTRYPOINT [\"/bin/busybox\"]\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(context.join(".containerignore"), "*.log\n").unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(dir.join("deploy")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("deploy/kustomization.yaml"),
        format!("resources:\n  - deployment.yaml\nimages:\n  - name: {image}\n    newTag: v0.9.0-0000000 # pinned by boma\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        dir.join("deploy/compose.yml"),
        format!("services:\n  app:\n    image: \"{image}:v0.9.0-0000000\"\n    restart: always\n"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    git(dir, &["init", "-q"]);
    git(
        dir,
        &[
            "remote",
            "add",
            "origin",
            "https://ops:remote-s3cret@forge.example.org/ops/homelab.git",
        ],
    );
    std::fs::write(dir.join(".gitignore"), "services.toml\nstore/\n*.log\n")
        .unwrap_or_else(|e| panic!("{e}"));
    git(dir, &["add", "-A"]);
    git(dir, &["commit", "-qm", "the app image"]);
    context
}

pub fn git(dir: &Path, args: &[&str]) -> String {
    let output = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args([
            "-c",
            "user.name=boma test",
            "-c",
            "user.email=test@example.org",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("git: {e}"));
    assert!(
        output.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).trim().to_string()
}

/// A catalog with the registry's credentials and one image `app` built from `containers/app`.
pub fn catalog(registry: &str, builder: Option<&str>) -> String {
    let builder = builder
        .map(|host| format!("builder = \"{host}\"\n"))
        .unwrap_or_default();
    format!(
        "version = 1\n[secrets]\nforge = {{ env = \"FORGE_PASSWORD\" }}\n\n\
         [registries.local]\nhost = \"{registry}\"\nuser = \"{USER}\"\npassword = \"forge\"\ntls_verify = false\n\n\
         [images.app]\ncontext = \"containers/app\"\nimage = \"{registry}/ops/app\"\nversion = \"1.0.0\"\n{builder}\
         args = {{ GREETING = \"hello\" }}\nbump = [\"deploy/kustomization.yaml\", \"deploy/compose.yml\"]\n"
    )
}
