//! The test builder (a temp folder, a catalog, args, env) and helpers for real components.

#![allow(dead_code)]

pub mod backups;
pub mod bind;
pub mod edge_image;
pub mod fly;
pub mod forge;
pub mod lab;
pub mod powerdns;
pub mod registry;

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::Command;

/// One `boma` invocation in its own temp folder.
pub struct Boma {
    dir: tempfile::TempDir,
    args: Vec<OsString>,
    env: Vec<(OsString, OsString)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Boma {
    pub fn new() -> Self {
        let dir = tempfile::tempdir()
            .unwrap_or_else(|error| panic!("cannot create a temp folder: {error}"));
        Self {
            dir,
            args: Vec::new(),
            env: Vec::new(),
        }
    }

    /// Points `--catalog` at a catalog shipped in the repository (`services.toml`, `examples/...`).
    pub fn shipped(self, relative: &str) -> Self {
        let path = repo_file(relative);
        self.args(["--catalog".into(), path.into_os_string()])
    }

    /// Writes `services.toml` in the temp folder (the default `--catalog`).
    pub fn catalog(self, text: &str) -> Self {
        self.file("services.toml", text)
    }

    pub fn file(self, relative: &str, content: impl AsRef<[u8]>) -> Self {
        let path = self.dir.path().join(relative);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)
                .unwrap_or_else(|error| panic!("mkdir {}: {error}", parent.display()));
        }
        std::fs::write(&path, content)
            .unwrap_or_else(|error| panic!("write {}: {error}", path.display()));
        self
    }

    pub fn args<I, S>(mut self, args: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        self.args.extend(args.into_iter().map(Into::into));
        self
    }

    pub fn env(mut self, key: &str, value: impl Into<OsString>) -> Self {
        self.env.push((key.into(), value.into()));
        self
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Runs boma with `args` in place of the builder's own (same folder, same env).
    pub fn run_with<I, S>(&self, args: I) -> Run
    where
        I: IntoIterator<Item = S>,
        S: Into<OsString>,
    {
        let args: Vec<OsString> = args.into_iter().map(Into::into).collect();
        self.execute(&args)
    }

    /// Runs boma; the builder (and its folder) stays usable for a second run.
    pub fn run(&self) -> Run {
        self.execute(&self.args)
    }

    fn execute(&self, args: &[OsString]) -> Run {
        let output = Command::new(env!("CARGO_BIN_EXE_boma"))
            .args(args)
            .current_dir(self.dir.path())
            .env_remove("BOMA_CATALOG")
            .env_remove("NO_COLOR")
            .envs(self.env.iter().map(|(key, value)| (key, value)))
            .output()
            .unwrap_or_else(|error| panic!("cannot run boma: {error}"));
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        assert!(
            !run.stderr.contains("panicked"),
            "boma panicked:\n{}",
            run.stderr
        );
        run
    }
}

impl Run {
    #[track_caller]
    pub fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code, expected,
            "exit code\n--- stdout\n{}\n--- stderr\n{}",
            self.stdout, self.stderr
        );
        self
    }

    #[track_caller]
    pub fn success(&self) -> &Self {
        self.code(0)
    }

    #[track_caller]
    pub fn stderr_has(&self, needle: &str) -> &Self {
        assert!(
            self.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            self.stderr
        );
        self
    }

    #[track_caller]
    pub fn stdout_has(&self, needle: &str) -> &Self {
        assert!(
            self.stdout.contains(needle),
            "stdout lacks {needle:?}:\n{}",
            self.stdout
        );
        self
    }

    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout)
            .unwrap_or_else(|error| panic!("stdout is not JSON ({error}):\n{}", self.stdout))
    }
}

/// A valid catalog: one host, one service with one private name (lines 2-12).
pub const ONE_SERVICE: &str = r#"
version = 1
[dns]
provider = "zonefile"
zone = "example.org"
path = "example.org.zone"
[hosts.indri]
address = "indri.example.net"
[services.app]
host = "indri"
upstream = "http://127.0.0.1:8000"
names = ["app.example.org"]
"#;

/// `METHOD /path?query` of every request a stand-in received, in order, with the request; a
/// stand-in that does not record requests fails the test.
pub async fn requests(server: &wiremock::MockServer) -> Vec<(String, wiremock::Request)> {
    server
        .received_requests()
        .await
        .unwrap_or_else(|| panic!("the stand-in does not record requests"))
        .into_iter()
        .map(|request| {
            let query = request
                .url
                .query()
                .map(|q| format!("?{q}"))
                .unwrap_or_default();
            (
                format!("{} {}{query}", request.method, request.url.path()),
                request,
            )
        })
        .collect()
}

/// The catalogs shipped in the repository.
pub const SHIPPED: [&str; 6] = [
    "services.toml",
    "examples/gandi.toml",
    "examples/cloudflare.toml",
    "examples/powerdns.toml",
    "examples/homelab-edge/services.toml",
    "examples/self-hosted-edge/services.toml",
];

/// The repository's own files: the shipped catalog and examples.
pub fn repo_file(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join(relative)
}

/// A real component on PATH. Missing: skip with a reason on a laptop, fail when `CI` is set.
pub fn require(program: &str) -> Option<PathBuf> {
    match which::which(program) {
        Ok(path) => Some(path),
        Err(_) if std::env::var_os("CI").is_some() => {
            panic!("`{program}` is required when CI is set: run scripts/test, which installs it")
        }
        Err(_) => {
            eprintln!("skipped: `{program}` is not installed (scripts/test installs it)");
            None
        }
    }
}

/// `dig +short` against the DNS server on loopback `port` (`query`: `NAME TYPE`, or `-x ADDRESS`),
/// the answers sorted; empty when dig is missing (and CI is not set).
pub fn dig(port: u16, query: &[&str]) -> Vec<String> {
    let Some(dig) = require("dig") else {
        return Vec::new();
    };
    let output = Command::new(dig)
        .args(["@127.0.0.1", "-p", &port.to_string()])
        .args(["+short", "+norecurse", "+time=2", "+tries=1"])
        .args(query)
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// A free loopback port (bound then released; the tests use few enough for this to be safe).
/// A port for a test server to listen on: below the kernel's ephemeral range (32768 and up), so
/// no outgoing connection and no server bound to port 0 takes it between now and its `bind`,
/// and never handed out twice in this test process.
pub fn free_port() -> u16 {
    use std::sync::Mutex;
    static GIVEN: Mutex<Vec<u16>> = Mutex::new(Vec::new());
    let mut given = GIVEN.lock().unwrap_or_else(|e| e.into_inner());
    // Start from a spot that differs between test runs on one machine.
    let start = std::process::id() as usize * 7919 % 12_000;
    for offset in 0..12_000 {
        let port = 20_000 + ((start + offset) % 12_000) as u16;
        if given.contains(&port) {
            continue;
        }
        if std::net::TcpListener::bind(("127.0.0.1", port)).is_ok() {
            given.push(port);
            return port;
        }
    }
    panic!("no free port between 20000 and 32000")
}

/// Removes the DNS-01 `tls { dns ... }` blocks that stock Caddy cannot provision (facts.md).
pub fn strip_dns_challenges(caddyfile: &str) -> String {
    let lines: Vec<&str> = caddyfile.lines().collect();
    let mut kept = Vec::new();
    let mut index = 0;
    while index < lines.len() {
        let is_dns_block = lines[index].trim() == "tls {"
            && lines
                .get(index + 1)
                .is_some_and(|line| line.trim_start().starts_with("dns "))
            && lines.get(index + 2).is_some_and(|line| line.trim() == "}");
        if is_dns_block {
            index += 3;
        } else {
            kept.push(lines[index]);
            index += 1;
        }
    }
    kept.join("\n") + "\n"
}

/// What changes from run to run in boma's output, replaced so a snapshot shows only what matters.
const FILTERS: &[(&str, &str)] = &[
    (r"/tmp/[A-Za-z0-9_.-]+", "[TMP]"),
    (r"\b[0-9a-f]{64}\b", "[SHA256]"),
    (r"\b[0-9a-f]{16}\b", "[CHECKSUM]"),
    (r"\b\d+\.\d\ds\b", "[DURATION]"),
    (r#""duration_ms": \d+"#, r#""duration_ms": "[MS]""#),
    (r#""caddy": "[^"]*""#, r#""caddy": "[CADDY VERSION]""#),
    (r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]"),
    // A tool's version as `boma doctor` reads it (`version 1.22.1`, `version 9.2p1`).
    (r"\bversion \d+\.\d[^\s,;)]*", "version [VERSION]"),
];

/// A whole-output snapshot in `tests/snapshots/`, named `name`, with `FILTERS` applied.
#[track_caller]
pub fn snapshot(name: &str, value: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.set_snapshot_path("../snapshots");
    settings.set_prepend_module_to_snapshot(false);
    for (matcher, replacement) in FILTERS {
        settings.add_filter(matcher, *replacement);
    }
    settings.bind(|| insta::assert_snapshot!(name, value));
}

/// The running test's name, `module__test`, for snapshots taken in a shared helper.
pub fn test_name() -> String {
    std::thread::current()
        .name()
        .unwrap_or("unnamed")
        .replace("::", "__")
}

/// Waits for a boma the test started itself (to signal it, or to watch it) to end: at most
/// `limit`, then it is killed and the test fails. Its output is read meanwhile, so a full pipe
/// never holds it. Returns what it printed and how long it took.
#[track_caller]
pub fn finish_within(
    mut child: std::process::Child,
    limit: std::time::Duration,
) -> (Run, std::time::Duration) {
    use std::io::Read as _;
    let started = std::time::Instant::now();
    let drain = |pipe: Option<Box<dyn std::io::Read + Send>>| {
        std::thread::spawn(move || {
            let mut bytes = Vec::new();
            if let Some(mut pipe) = pipe {
                let _ = pipe.read_to_end(&mut bytes);
            }
            String::from_utf8_lossy(&bytes).into_owned()
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn std::io::Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|pipe| Box::new(pipe) as Box<dyn std::io::Read + Send>),
    );
    let status = loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            break status;
        }
        if started.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!("boma did not end within {limit:?}");
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    };
    let took = started.elapsed();
    let run = Run {
        code: status.code().unwrap_or(-1),
        stdout: stdout.join().unwrap_or_default(),
        stderr: stderr.join().unwrap_or_default(),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "boma panicked:\n{}",
        run.stderr
    );
    (run, took)
}

/// A child process killed when the test ends, pass or fail.
pub struct Daemon(pub std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Asserts a `dns-preview --adopt` text shows changes and that every one writes ownership only:
/// a mark beside the records (`*`, PowerDNS and Cloudflare) or a marker rrset created or widened
/// (Gandi); no record itself changes and nothing conflicts.
#[track_caller]
pub fn assert_only_ownership_changes(preview: &str) {
    let changes: Vec<&str> = preview
        .lines()
        .map(str::trim_start)
        .filter(|line| line.starts_with(['+', '~', '-', '*', '!']))
        .collect();
    assert!(
        !changes.is_empty()
            && changes.iter().all(|line| {
                (line.starts_with('*') && line.ends_with("(ownership mark only)"))
                    || (line.starts_with(['+', '~']) && line.contains("TXT 300 heritage=boma v=2"))
            }),
        "only ownership to take:\n{preview}"
    );
}
