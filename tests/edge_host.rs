//! The edge on a host of the catalog (`[edge] host`), against a real sshd host with its Caddy,
//! and the host's real nginx and fail2ban started and reloaded by the catalog's reload commands.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

use crate::support::lab::{HostSpec, Lab, TestHost, can_add_sudoers, run};
use crate::support::{Boma, Run, free_port, require, snapshot};

/// The edge's folder on the test host, its reload scripts, and the daemons they start (stopped
/// by their pid files when the test ends, pass or fail).
struct EdgeFolder {
    prefix: PathBuf,
    bin: PathBuf,
    port: u16,
}

impl EdgeFolder {
    fn new(lab: &Lab) -> Self {
        let root = lab.dir.path().join("edge-host");
        let prefix = root.join("srv");
        let bin = root.join("bin");
        std::fs::create_dir_all(&prefix).unwrap_or_else(|e| panic!("{e}"));
        std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
        let p = format!("{}/", prefix.display());
        // Started when not running, reloaded otherwise: what systemctl reload-or-restart does.
        write_script(
            &bin.join("reload-nginx"),
            &format!(
                "#!/bin/sh\np={p}\nif [ -s \"${{p}}logs/nginx.pid\" ] && kill -0 \"$(cat \"${{p}}logs/nginx.pid\")\" 2>/dev/null; then\n  exec nginx -p \"$p\" -c conf/nginx.conf -s reload\nfi\nexec nginx -p \"$p\" -c conf/nginx.conf\n"
            ),
        );
        write_script(
            &bin.join("reload-fail2ban"),
            &format!(
                "#!/bin/sh\np={p}\nif fail2ban-client -c \"${{p}}fail2ban\" ping >/dev/null 2>&1; then\n  exec fail2ban-client -c \"${{p}}fail2ban\" reload\nfi\nexec fail2ban-client -c \"${{p}}fail2ban\" -x start >/dev/null 2>&1\n"
            ),
        );
        Self {
            prefix,
            bin,
            port: free_port(),
        }
    }

    fn prefix(&self) -> String {
        format!("{}/", self.prefix.display())
    }

    fn live(&self, path: &str) -> String {
        std::fs::read_to_string(self.prefix.join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
    }

    /// Every file boma owns under the prefix, with its content, by path.
    fn owned_files(&self) -> Vec<(String, Vec<u8>)> {
        let mut files = Vec::new();
        for part in ["conf", "fail2ban"] {
            collect(&self.prefix, &self.prefix.join(part), &mut files);
        }
        files.sort();
        files
    }

    /// `[edge]` for this host, with the given service `edge` table lines.
    fn catalog(&self, lab: &Lab, table: &str) -> String {
        let backend = &lab.hosts[0].backend;
        let base = lab.catalog().replace(
            "[hosts.h1.caddy]\n",
            "[hosts.h1.caddy]\nglobal = \"local_certs\"\n",
        );
        format!(
            r#"{base}
[edge]
host = "h1"
prefix = "{prefix}"
port = {port}
reload_nginx = "{bin}/reload-nginx"
reload_fail2ban = "{bin}/reload-fail2ban"

[services.www]
description = "the public site"
host = "h1"
upstream = "{backend}"
names = ["www.h1.lab.test"]
public = ["www.lab.test"]

[[dns.records]]
name = "@"
type = "NS"
values = ["ns.example.net."]

[services.www.edge]
upstream = "{backend}"
ban = {{ paths = ["/login"], statuses = [401], maxretry = 3, findtime = "10m", bantime = "1h" }}
{table}
"#,
            prefix = self.prefix(),
            port = self.port,
            bin = self.bin.display(),
        )
    }

    /// A GET straight to nginx as the host's Caddy would send it.
    fn get(&self, path: &str) -> (u16, String) {
        curl(&[
            "-H",
            "Host: www.lab.test",
            &format!("http://127.0.0.1:{}{path}", self.port),
        ])
    }
}

impl Drop for EdgeFolder {
    fn drop(&mut self) {
        for pid_file in ["logs/nginx.pid", "run/fail2ban.pid"] {
            if let Ok(pid) = std::fs::read_to_string(self.prefix.join(pid_file)) {
                let _ = Command::new("kill").arg(pid.trim()).status();
            }
        }
    }
}

fn write_script(path: &Path, text: &str) {
    std::fs::write(path, text).unwrap_or_else(|e| panic!("{e}"));
    run("chmod", &["0755", &path.to_string_lossy()]);
}

fn collect(root: &Path, dir: &Path, files: &mut Vec<(String, Vec<u8>)>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            collect(root, &path, files);
        } else {
            let relative = path.strip_prefix(root).unwrap_or(&path);
            let content = std::fs::read(&path).unwrap_or_else(|e| panic!("{e}"));
            files.push((relative.display().to_string(), content));
        }
    }
}

/// `curl` with the status on the last line: (status, body).
fn curl(args: &[&str]) -> (u16, String) {
    let output = Command::new("curl")
        .args(["-sk", "--max-time", "5", "-w", "\n%{http_code}"])
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("curl: {e}"));
    let text = String::from_utf8_lossy(&output.stdout).into_owned();
    let (body, status) = text.rsplit_once('\n').unwrap_or(("", "0"));
    (status.trim().parse().unwrap_or(0), body.to_string())
}

/// Polls until `check` holds (nginx answers with the old config for a moment after a reload).
fn eventually(what: &str, mut check: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !check() {
        assert!(Instant::now() < deadline, "{what} within 15 s");
        std::thread::sleep(Duration::from_millis(100));
    }
}

fn tools() -> bool {
    require("nginx").is_some() && require("fail2ban-client").is_some() && require("curl").is_some()
}

fn boma(edge: &EdgeFolder, lab: &Lab, table: &str) -> Boma {
    Boma::new().catalog(&edge.catalog(lab, table))
}

/// A test host with an edge folder (the folder's daemons stop before the host's folder goes:
/// bind it after the lab); `None` (skip) without nginx, fail2ban or curl.
async fn edge_host() -> Option<(Lab, EdgeFolder)> {
    if !tools() {
        return None;
    }
    let lab = Lab::start(1).await?;
    let edge = EdgeFolder::new(&lab);
    Some((lab, edge))
}

/// `edge_host` with a first push made and nginx serving it.
async fn serving_edge_host() -> Option<(Lab, EdgeFolder)> {
    let (lab, edge) = edge_host().await?;
    boma(&edge, &lab, "").run_with(["edge-push"]).success();
    eventually("nginx serves", || edge.get("/").0 == 200);
    Some((lab, edge))
}

fn status_of(run: &Run) -> String {
    let report: serde_json::Value = run.json();
    report["hosts"][0]["status"]
        .as_str()
        .unwrap_or("none")
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn up_serves_public_names_through_the_hosts_caddy_and_nginx_then_changes_nothing() {
    let Some((lab, edge)) = edge_host().await else {
        return;
    };
    let boma = boma(&edge, &lab, "deny = [\"/admin/\"]");
    let up = boma.run_with(["up"]);
    up.success();
    // Through the host's Caddy (TLS with its local CA) to nginx to the service's backend.
    let host: &TestHost = &lab.hosts[0];
    let through_caddy = || {
        curl(&[
            "--resolve",
            &format!("www.lab.test:{}:127.0.0.1", host.https),
            &format!("https://www.lab.test:{}/", host.https),
        ])
    };
    eventually("the public name answers through Caddy and nginx", || {
        through_caddy() == (200, "hello from h1".to_string())
    });
    assert_eq!(edge.get("/admin/users").0, 403);
    assert_eq!(edge.get("/%61dmin/users").0, 403);
    // The zone points the public name at the edge's host.
    let zone = std::fs::read_to_string(boma.path().join("lab.test.zone"))
        .unwrap_or_else(|e| panic!("{e}"));
    snapshot("edge_host__zone", &zone);
    let again = boma.run_with(["edge-push", "--check", "--output", "json"]);
    assert_eq!(again.code, 0, "{}", again.stderr);
    assert_eq!(status_of(&again), "unchanged");
    let plan = boma.run_with(["plan"]);
    assert_eq!(plan.code, 0, "{}{}", plan.stdout, plan.stderr);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_change_is_planned_as_a_diff_pushed_and_the_bans_made_meanwhile_stay() {
    let Some((lab, edge)) = serving_edge_host().await else {
        return;
    };
    // fail2ban banned someone since: the push keeps the ban map as it is.
    std::fs::write(edge.prefix.join("conf/bans/www.map"), "203.0.113.7 1;\n")
        .unwrap_or_else(|e| panic!("{e}"));
    let changed = boma(&edge, &lab, "deny = [\"/admin/\"]");
    let check = changed.run_with(["edge-push", "--check", "--diff"]);
    assert_eq!(check.code, 1, "drift is a finding: {}", check.stderr);
    snapshot("edge_host__diff_of_one_change", &check.stdout);
    changed.run_with(["edge-push"]).success();
    eventually("the new deny rule answers", || edge.get("/admin/").0 == 403);
    assert_eq!(edge.live("conf/bans/www.map"), "203.0.113.7 1;\n");
    let banned = curl(&[
        "-H",
        "Host: www.lab.test",
        "-H",
        "X-Forwarded-For: 203.0.113.7",
        &format!("http://127.0.0.1:{}/", edge.port),
    ]);
    assert_eq!(banned.0, 403, "{}", banned.1);
    let audit = std::fs::read_dir(lab.hosts[0].home.join(".local/state/boma/edge/prefixes"))
        .unwrap_or_else(|e| panic!("{e}"))
        .flatten()
        .map(|entry| std::fs::read_to_string(entry.path().join("audit.log")).unwrap_or_default())
        .collect::<String>();
    let results: Vec<&str> = audit
        .lines()
        .filter_map(|line| line.split(" result=").nth(1))
        .filter_map(|rest| rest.split(' ').next())
        .collect();
    assert_eq!(results, ["changed", "changed"], "{audit}");
}

#[tokio::test(flavor = "multi_thread")]
async fn files_the_hosts_nginx_rejects_leave_the_live_ones_untouched() {
    let Some((lab, edge)) = serving_edge_host().await else {
        return;
    };
    let before = edge.owned_files();
    // A template override with a directive this nginx lacks: only the host's `nginx -t` can
    // tell (an edge on a host is checked where it runs).
    let template = std::fs::read_to_string(
        Path::new(env!("CARGO_MANIFEST_DIR")).join("templates/edge/nginx.conf.j2"),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let broken = template.replacen("http {", "http {\n    brotli on;", 1);
    let rejected = boma(&edge, &lab, "deny = [\"/admin/\"]")
        .file("templates/edge/nginx.conf.j2", broken)
        .run_with(["edge-push"]);
    assert_eq!(rejected.code, 1, "{}{}", rejected.stdout, rejected.stderr);
    snapshot(
        "edge_host__nginx_rejects",
        &without_log_prefixes(&rejected.stdout),
    );
    assert_eq!(edge.owned_files(), before, "the live files changed");
    assert!(!edge.prefix.join(".boma-new").exists());
    assert_eq!(edge.get("/admin/").0, 200, "the old config still serves");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_reload_puts_the_previous_files_back_and_reloads_them() {
    let Some((lab, edge)) = serving_edge_host().await else {
        return;
    };
    let before = edge.owned_files();
    // fail2ban's reload fails once: nginx already took the new files, so both go back.
    let fail_once = edge.bin.join("fail-once");
    write_script(
        &edge.bin.join("reload-fail2ban-flaky"),
        &format!(
            "#!/bin/sh\nif [ ! -e {flag} ]; then : > {flag}; echo 'jail www: cannot reload' >&2; exit 1; fi\nexec {bin}/reload-fail2ban\n",
            flag = fail_once.display(),
            bin = edge.bin.display()
        ),
    );
    let text = edge
        .catalog(&lab, "deny = [\"/admin/\"]")
        .replace("reload-fail2ban\"", "reload-fail2ban-flaky\"");
    let pushed = Boma::new().catalog(&text).run_with(["edge-push"]);
    assert_eq!(pushed.code, 1, "{}{}", pushed.stdout, pushed.stderr);
    snapshot("edge_host__reload_fails", &pushed.stdout);
    assert_eq!(
        edge.owned_files(),
        before,
        "the previous files are not back"
    );
    eventually("nginx serves the previous files again", || {
        edge.get("/admin/").0 == 200
    });
}

/// The README's sudoers lines for a deploy user who owns the prefix: a push checks and reloads
/// through exactly those.
#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_user_pushes_with_the_documented_sudo_lines() {
    if !tools() || !can_add_sudoers() {
        return;
    }
    let Some(lab) = Lab::with_hosts(&[HostSpec {
        user: Some("boma-edge".into()),
    }])
    .await
    else {
        return;
    };
    let edge = EdgeFolder::new(&lab);
    run(
        "chown",
        &["-R", "boma-edge", &edge.prefix.to_string_lossy()],
    );
    let prefix = edge.prefix();
    let sudoers = PathBuf::from(format!("/etc/sudoers.d/boma-edge-test-{}", edge.port));
    let lines = [
        format!("/usr/sbin/nginx -t -q -p {prefix} -c .boma-new/conf/nginx.conf"),
        format!("/usr/bin/fail2ban-client -c {prefix}.boma-new/fail2ban -t"),
        format!("{}/reload-nginx", edge.bin.display()),
        format!("{}/reload-fail2ban", edge.bin.display()),
    ];
    std::fs::write(
        &sudoers,
        format!("boma-edge ALL=(root) NOPASSWD: {}\n", lines.join(", ")),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let _remove = Removed(sudoers.clone());
    run("chmod", &["0440", &sudoers.to_string_lossy()]);
    run("visudo", &["-c", "-q", "-f", &sudoers.to_string_lossy()]);
    let pushed = boma(&edge, &lab, "").run_with(["edge-push", "--output", "json"]);
    assert_eq!(pushed.code, 0, "{}{}", pushed.stdout, pushed.stderr);
    assert_eq!(status_of(&pushed), "changed");
    eventually("nginx serves", || edge.get("/").0 == 200);
}

/// nginx's stderr lines without their time and process (`2026/12/05 08:35:18 [emerg] 25005#25005: `).
fn without_log_prefixes(text: &str) -> String {
    text.lines()
        .map(|line| match (line.find(" ["), line.find("#")) {
            (Some(level), Some(hash)) if level < hash && line.trim_start().starts_with("20") => {
                let indent = &line[..line.len() - line.trim_start().len()];
                let (level_word, rest) = line[level + 1..].split_once(' ').unwrap_or(("", ""));
                let message = rest.split_once(": ").map_or(rest, |(_, message)| message);
                format!("{indent}{level_word} {message}\n")
            }
            _ => format!("{line}\n"),
        })
        .collect()
}

struct Removed(PathBuf);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
