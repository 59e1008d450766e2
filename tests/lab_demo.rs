//! The lab end to end: `scripts/lab up` into a temp folder (PowerDNS, three sshd hosts each with a
//! Caddy, the edge host where boma installs nginx and fail2ban, a registry, borg and restic
//! repositories, and the catalog pointing at all of it), then boma's `plan` and `up` on that
//! catalog with every result read back by plain clients (DNS answers, each Caddy, the edge's
//! proxy, deny, rate limit and ban, the registry's tags, the pinned kustomization, the backups'
//! table and Prometheus file), a second `up` that changes nothing, `scripts/demo` on the same lab,
//! and `scripts/lab down`, after which nothing the lab started runs and its folder is gone.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{Boma, Run, repo_file, require, snapshot};

/// The secrets the lab makes, each a file in `DIR/secrets/` (0600) the catalog reads.
const SECRETS: [&str; 4] = [
    "pdns-api-key",
    "registry-password",
    "borg-passphrase",
    "restic-password",
];

/// What the lab starts and what the test reads it with; `None` (a skip) when one is missing
/// and CI is not set (scripts/test installs them all).
fn components() -> Option<()> {
    for tool in [
        "caddy",
        "ssh",
        "ssh-keygen",
        "pdns_server",
        "sqlite3",
        "docker-registry",
        "htpasswd",
        "buildah",
        "borg",
        "restic",
        "nginx",
        "fail2ban-server",
        "dig",
        "curl",
        "git",
        "dpkg-query",
    ] {
        require(tool)?;
    }
    for path in ["/usr/sbin/sshd", "/usr/bin/python3"] {
        if !Path::new(path).exists() {
            assert!(
                std::env::var_os("CI").is_none(),
                "{path} is required when CI is set: run scripts/test"
            );
            eprintln!("skipped: {path} is not installed (scripts/test installs it)");
            return None;
        }
    }
    Some(())
}

/// A lab folder; `scripts/lab down` runs on it when the test ends early, so a failed assertion
/// leaves nothing running.
struct LabDir {
    dir: tempfile::TempDir,
    down: bool,
}

impl LabDir {
    fn path(&self) -> &Path {
        self.dir.path()
    }

    fn script(&self, script: &str, args: &[&str]) -> (Run, Duration) {
        self.script_with_path(script, args, None)
    }

    /// Runs `scripts/SCRIPT ARGS... DIR`, with `path_first` before PATH when given.
    fn script_with_path(
        &self,
        script: &str,
        args: &[&str],
        path_first: Option<&Path>,
    ) -> (Run, Duration) {
        let started = Instant::now();
        let mut command = Command::new(repo_file(&format!("scripts/{script}")));
        command.args(args).arg(self.path()).stdin(Stdio::null());
        if let Some(first) = path_first {
            let path = std::env::var_os("PATH").unwrap_or_default();
            let mut paths = vec![first.to_path_buf()];
            paths.extend(std::env::split_paths(&path));
            command.env(
                "PATH",
                std::env::join_paths(paths).unwrap_or_else(|e| panic!("{e}")),
            );
        }
        let output = command
            .output()
            .unwrap_or_else(|e| panic!("cannot run scripts/{script}: {e}"));
        let run = Run {
            code: output.status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
        };
        (run, started.elapsed())
    }
}

impl Drop for LabDir {
    fn drop(&mut self) {
        if !self.down {
            let _ = Command::new(repo_file("scripts/lab"))
                .arg("down")
                .arg(self.dir.path())
                .stdin(Stdio::null())
                .stdout(Stdio::null())
                .status();
        }
    }
}

/// `DIR/ports`: `NAME=PORT` lines.
fn ports(dir: &Path) -> BTreeMap<String, u16> {
    std::fs::read_to_string(dir.join("ports"))
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split_once('='))
        .map(|(name, port)| (name.to_string(), port.parse().unwrap_or(0)))
        .collect()
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The pids the lab recorded (`pids/`), and the edge's nginx and fail2ban (pid files under its
/// prefix).
fn recorded_pids(dir: &Path) -> Vec<u32> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir.join("pids"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.path())
        .collect();
    files.push(dir.join("edge/logs/nginx.pid"));
    files.push(dir.join("edge/run/fail2ban.pid"));
    let mut pids: Vec<u32> = files
        .iter()
        .filter_map(|file| std::fs::read_to_string(file).ok())
        .filter_map(|text| text.trim().parse().ok())
        .collect();
    pids.sort_unstable();
    pids
}

/// `pids` and their children (nginx's workers).
fn with_children(pids: &[u32]) -> Vec<u32> {
    let mut all = pids.to_vec();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let stat = std::fs::read_to_string(entry.path().join("stat")).unwrap_or_default();
        // `PID (COMM) STATE PPID ...`: the fields after the last `)`.
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        let ppid: u32 = after
            .split_whitespace()
            .nth(1)
            .and_then(|field| field.parse().ok())
            .unwrap_or(0);
        if pids.contains(&ppid)
            && let Ok(pid) = entry.file_name().to_string_lossy().parse()
        {
            all.push(pid);
        }
    }
    all
}

/// Whether `pid` runs: a process that ended and that nobody reaped yet (a zombie) does not.
fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
        let after = stat.rsplit_once(')').map_or("", |(_, rest)| rest);
        !after.trim_start().starts_with('Z')
    })
}

/// `dig +short` against the lab's PowerDNS, answers sorted.
fn dig(port: u16, name: &str, record_type: &str) -> Vec<String> {
    let output = Command::new("dig")
        .args(["@127.0.0.1", "-p", &port.to_string()])
        .args([
            "+short",
            "+norecurse",
            "+time=2",
            "+tries=1",
            name,
            record_type,
        ])
        .output()
        .unwrap_or_else(|e| panic!("dig: {e}"));
    let mut lines: Vec<String> = String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_string)
        .collect();
    lines.sort();
    lines
}

/// An answer: status, the headers asked for, the body.
#[derive(Debug)]
struct Answer {
    status: u16,
    headers: BTreeMap<String, String>,
    body: String,
}

/// GET `https://NAME:PORT/PATH` through a Caddy on 127.0.0.1:PORT (its internal CA: not
/// verified), retrying while Caddy provisions the certificate; redirects are not followed.
async fn through_caddy(port: u16, name: &str, path: &str) -> Answer {
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .resolve(name, ([127, 0, 0, 1], port).into())
        .redirect(reqwest::redirect::Policy::none())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client
            .get(format!("https://{name}:{port}{path}"))
            .send()
            .await
        {
            Ok(response) => return answer(response).await,
            Err(error) if Instant::now() > deadline => panic!("GET {name}{path}: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    }
}

/// GET PATH for notes.pub.test straight from the edge's nginx, as `client` (X-Forwarded-For,
/// which nginx believes from 127.0.0.1: the edge host's Caddy).
async fn at_nginx(port: u16, path: &str, client: &str) -> Answer {
    let response = reqwest::Client::new()
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("Host", "notes.pub.test")
        .header("X-Forwarded-For", client)
        .timeout(Duration::from_secs(10))
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path} at nginx: {e}"));
    answer(response).await
}

async fn answer(response: reqwest::Response) -> Answer {
    let status = response.status().as_u16();
    let headers = [
        "location",
        "x-clacks-overhead",
        "x-served-by",
        "x-cache-status",
    ]
    .into_iter()
    .filter_map(|name| {
        let value = response.headers().get(name)?.to_str().ok()?;
        Some((name.to_string(), value.to_string()))
    })
    .collect();
    let body = response.text().await.unwrap_or_default();
    Answer {
        status,
        headers,
        body,
    }
}

/// The backups' table rows (and header) with their column runs collapsed: an age of `9s` or
/// `1m2s` widens the AGE column, and the restic snapshot id is new for every lab.
fn steady_backup_rows(text: &str) -> String {
    text.lines()
        .map(|line| {
            let row = ["SERVICE ", "notes ", "photos "]
                .iter()
                .any(|start| line.starts_with(start));
            if !row {
                return line.to_string();
            }
            let words: Vec<&str> = line
                .split("  ")
                .map(str::trim)
                .filter(|w| !w.is_empty())
                .collect();
            words.join("  ")
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// A snapshot of boma's output on the lab, with what changes from lab to lab filtered.
fn snapshot_lab(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"v1\.0\.0-[0-9a-f]{7}", "v1.0.0-[REV]");
    settings.add_filter(r"(https?_port) \d+", "$1 [PORT]");
    settings.add_filter(r"(\.test):\d+", "$1:[PORT]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    settings.add_filter(r"notes-\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d", "notes-[TIME]");
    settings.add_filter(
        r"(?m)^(photos  restic  sifaka  )[0-9a-f]{8}",
        "$1[SNAPSHOT]",
    );
    settings.add_filter(r"(?m)  (\d+m)?\d+s  (ok|stale)  ", "  [AGE]  $2  ");
    settings.add_filter(
        r"(boma_backup_(?:last_archive_timestamp|check_duration)_seconds\{[^}]*\}) \S+",
        "$1 [VALUE]",
    );
    settings.bind(|| snapshot(name, &steady_backup_rows(text)));
}

fn both(run: &Run) -> String {
    format!("{}\n--- stderr\n{}", run.stdout, run.stderr)
}

/// Every file under `dir` with its bytes: the edge's live files, compared before and after.
fn tree(dir: &Path) -> BTreeMap<PathBuf, Vec<u8>> {
    let mut files = BTreeMap::new();
    let mut pending = vec![dir.to_path_buf()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
            } else {
                files.insert(path.clone(), std::fs::read(&path).unwrap_or_default());
            }
        }
    }
    files
}

#[tokio::test(flavor = "multi_thread")]
async fn the_lab_comes_up_boma_plans_and_applies_every_stage_and_the_lab_goes_down_without_a_trace()
{
    if components().is_none() {
        return;
    }
    let mut lab = LabDir {
        dir: tempfile::Builder::new()
            .prefix("lab")
            .tempdir()
            .unwrap_or_else(|e| panic!("{e}")),
        down: false,
    };
    let dir = lab.path().to_path_buf();

    let (up, took) = lab.script("lab", &["up"]);
    assert_eq!(up.code, 0, "scripts/lab up:\n{}\n{}", up.stdout, up.stderr);
    eprintln!("scripts/lab up (cold): {took:.1?}");
    let catalog = dir.join("services.toml");
    assert!(catalog.is_file(), "{}", up.stderr);
    for secret in SECRETS {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.join("secrets").join(secret))
            .unwrap_or_else(|e| panic!("{secret}: {e}"))
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600, "{secret}");
    }
    let secrets: Vec<String> = SECRETS
        .iter()
        .map(|name| read(&dir.join("secrets").join(name)).trim().to_string())
        .collect();
    // No secret in what boma prints. Each is findable: the runs checked used all of them (the
    // zones with the API key, the push and the registry's tags with the password, the backups
    // with the passphrase and the password), so a leak would put the very text into the output.
    let no_secret = |run: &Run| {
        for secret in &secrets {
            assert!(
                secret.len() == 32
                    && !run.stdout.contains(secret.as_str())
                    && !run.stderr.contains(secret.as_str()),
                "a secret was printed:\n{}\n{}",
                run.stdout,
                run.stderr
            );
        }
    };
    let port = ports(&dir);
    let p = |name: &str| {
        *port
            .get(name)
            .unwrap_or_else(|| panic!("no port {name} in {}", dir.display()))
    };

    let boma = Boma::new();
    let store = dir.join("store").display().to_string();
    let run = |args: &[&str]| {
        let mut all = vec!["--catalog", catalog.to_str().unwrap_or_default()];
        all.extend_from_slice(args);
        boma.run_with(all)
    };
    let started = Instant::now();
    run(&["check", "--secrets"]).success();

    // The plan: every stage, side by side, one checksum.
    let plan = run(&["plan", "--storage", &store]);
    plan.success();
    no_secret(&plan);
    snapshot_lab("lab_demo__plan", &both(&plan));
    let checksum = plan
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("checksum "))
        .next_back()
        .unwrap_or_default()
        .to_string();
    assert_eq!(checksum.len(), 16, "{}", plan.stdout);

    // Applied exactly as reviewed.
    let up = run(&["up", "--checksum", &checksum, "--storage", &store]);
    up.success();
    no_secret(&up);
    snapshot_lab("lab_demo__up", &both(&up));
    eprintln!("boma check, plan and up: {:.1?}", started.elapsed());

    // DNS: the lab's PowerDNS answers for every name and record of the catalog.
    let dns = p("pdns_dns");
    let answers: Vec<(&str, &str, Vec<String>)> = [
        ("notes.lab.test", "A"),
        ("photos.lab.test", "A"),
        ("status.lab.test", "A"),
        ("pics.lab.test", "A"),
        ("_lab.lab.test", "TXT"),
        ("notes.pub.test", "A"),
        ("photos.pub.test", "A"),
        ("pub.test", "MX"),
        ("pub.test", "TXT"),
    ]
    .into_iter()
    .map(|(name, kind)| (name, kind, dig(dns, name, kind)))
    .collect();
    let local = vec!["127.0.0.1".to_string()];
    let expected: Vec<(&str, &str, Vec<String>)> = vec![
        ("notes.lab.test", "A", local.clone()),
        ("photos.lab.test", "A", local.clone()),
        ("status.lab.test", "A", local.clone()),
        ("pics.lab.test", "A", local.clone()),
        (
            "_lab.lab.test",
            "TXT",
            vec!["\"written by boma from the lab's catalog\"".to_string()],
        ),
        ("notes.pub.test", "A", local.clone()),
        ("photos.pub.test", "A", local.clone()),
        ("pub.test", "MX", vec!["10 mail.pub.test.".to_string()]),
        ("pub.test", "TXT", vec!["\"v=spf1 -all\"".to_string()]),
    ];
    assert_eq!(answers, expected);

    // Each host's Caddy serves its private names (proxied, answered, redirected).
    let notes = through_caddy(p("indri_https"), "notes.lab.test", "/hello").await;
    assert_eq!(
        (notes.status, notes.body.as_str()),
        (200, "hello from indri: GET /hello\n")
    );
    let status = through_caddy(p("indri_https"), "status.lab.test", "/").await;
    assert_eq!((status.status, status.body.as_str()), (200, "indri is up"));
    let photos = through_caddy(p("sifaka_https"), "photos.lab.test", "/").await;
    assert_eq!(
        (photos.status, photos.body.as_str()),
        (200, "hello from sifaka: GET /\n")
    );
    let pics = through_caddy(p("sifaka_https"), "pics.lab.test", "/").await;
    assert_eq!(
        (
            pics.status,
            pics.headers.get("location").map(String::as_str)
        ),
        (301, Some("https://photos.lab.test/"))
    );

    // The edge: the edge host's Caddy takes the public name, nginx proxies it to the private
    // name (resolved through the lab's PowerDNS) on indri's Caddy, with the edge's headers.
    let edge = p("edge_https");
    let page = through_caddy(edge, "notes.pub.test", "/page").await;
    assert_eq!(
        (page.status, page.body.as_str()),
        (200, "hello from indri: GET /page\n")
    );
    assert_eq!(
        page.headers.get("x-clacks-overhead").map(String::as_str),
        Some("GNU Terry Pratchett")
    );
    assert_eq!(
        page.headers.get("x-served-by").map(String::as_str),
        Some("the lab edge")
    );
    let admin = through_caddy(edge, "notes.pub.test", "/admin/users").await;
    assert_eq!(
        (admin.status, admin.body.as_str()),
        (403, "The admin is reachable from the lab network only.\n")
    );
    let login_page = through_caddy(edge, "notes.pub.test", "/admin/login/").await;
    assert_eq!(
        (login_page.status, login_page.body.as_str()),
        (200, "hello from indri: GET /admin/login/\n"),
        "an allowed prefix under a denied one is proxied"
    );
    let first = through_caddy(edge, "photos.pub.test", "/static/logo.png").await;
    let second = through_caddy(edge, "photos.pub.test", "/static/logo.png").await;
    assert_eq!(
        (
            first.status,
            first.headers.get("x-cache-status").map(String::as_str),
            second.headers.get("x-cache-status").map(String::as_str),
            second.body.as_str()
        ),
        (
            200,
            Some("MISS"),
            Some("HIT"),
            "static /static/logo.png from sifaka\n"
        )
    );

    // Straight to nginx as clients out on the internet: a hand-written ban, a rate limit, and
    // fail2ban banning a client that fails to log in.
    let nginx = p("edge_nginx");
    let denied = at_nginx(nginx, "/", "198.51.100.9").await;
    assert_eq!((denied.status, denied.body.as_str()), (403, "Forbidden.\n"));
    let mut burst = Vec::new();
    for _ in 0..15 {
        burst.push(at_nginx(nginx, "/", "203.0.113.8").await.status);
    }
    assert_eq!(burst[0], 200, "{burst:?}");
    assert!(burst.contains(&429), "a burst is limited: {burst:?}");
    assert_eq!(
        at_nginx(nginx, "/", "203.0.113.9").await.status,
        200,
        "another client is not limited by the first one's burst"
    );
    let map = dir.join("edge/conf/bans/notes.map");
    let banned = "203.0.113.7";
    // Not banned before it fails: the 403 below is fail2ban's doing.
    assert_eq!(at_nginx(nginx, "/", banned).await.status, 200);
    assert!(!read(&map).contains(banned));
    for _ in 0..3 {
        let login = at_nginx(nginx, "/login", banned).await;
        assert_eq!(
            (login.status, login.body.as_str()),
            (401, "wrong user name or password\n")
        );
    }
    let deadline = Instant::now() + Duration::from_secs(15);
    let ban = loop {
        let answer = at_nginx(nginx, "/", banned).await;
        if answer.status == 403 || Instant::now() > deadline {
            break answer;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(
        (ban.status, ban.body.as_str()),
        (403, "Banned after failed logins.\n"),
        "fail2ban's log:\n{}",
        std::fs::read_to_string(dir.join("edge/logs/fail2ban-start.log")).unwrap_or_default()
    );
    assert_eq!(read(&map), format!("{banned} 1;\n"));
    assert_eq!(at_nginx(nginx, "/", "203.0.113.9").await.status, 200);

    // The image: in the registry under the tag of the context's commit, pinned in the
    // kustomization.
    let revision = String::from_utf8_lossy(
        &Command::new("git")
            .arg("-C")
            .arg(&dir)
            .args([
                "log",
                "-1",
                "--format=%h",
                "--abbrev=7",
                "--",
                "containers/hello",
            ])
            .output()
            .unwrap_or_else(|e| panic!("git: {e}"))
            .stdout,
    )
    .trim()
    .to_string();
    let tag = format!("v1.0.0-{revision}");
    let registry = format!("http://127.0.0.1:{}", p("registry"));
    let password = read(&dir.join("secrets/registry-password"));
    let tags: serde_json::Value = reqwest::Client::new()
        .get(format!("{registry}/v2/lab/hello/tags/list"))
        .basic_auth("lab", Some(password.trim()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("the registry: {e}"))
        .json()
        .await
        .unwrap_or_else(|e| panic!("the registry's tags: {e}"));
    assert_eq!(
        tags,
        serde_json::json!({"name": "lab/hello", "tags": [tag.clone()]})
    );
    let kustomization = read(&dir.join("deploy/kustomization.yaml"));
    assert!(kustomization.contains(&format!("newTag: {tag} # pinned by boma")));
    snapshot_lab("lab_demo__kustomization", &kustomization);

    // The backups: fresh and sound, in a table and a Prometheus textfile.
    let prometheus = dir.join("metrics/backups.prom");
    let backups = run(&[
        "backup-check",
        "--prometheus",
        prometheus.to_str().unwrap_or_default(),
    ]);
    backups.success();
    no_secret(&backups);
    snapshot_lab("lab_demo__backup_check", &both(&backups));
    snapshot_lab("lab_demo__prometheus", &read(&prometheus));

    // A second up: every stage unchanged, and nothing on the hosts touched.
    let caddyfiles: Vec<Vec<u8>> = ["indri", "sifaka", "edge"]
        .iter()
        .map(|host| {
            std::fs::read(dir.join("hosts").join(host).join("Caddyfile")).unwrap_or_default()
        })
        .collect();
    let edge_conf = tree(&dir.join("edge/conf"));
    let edge_fail2ban = tree(&dir.join("edge/fail2ban"));
    assert!(edge_conf.contains_key(&dir.join("edge/conf/nginx.conf")));
    let again = run(&["up", "--storage", &store]);
    again.success();
    snapshot_lab("lab_demo__second_up", &both(&again));
    let after: Vec<Vec<u8>> = ["indri", "sifaka", "edge"]
        .iter()
        .map(|host| {
            std::fs::read(dir.join("hosts").join(host).join("Caddyfile")).unwrap_or_default()
        })
        .collect();
    assert_eq!(caddyfiles, after);
    assert_eq!(edge_conf, tree(&dir.join("edge/conf")));
    assert_eq!(edge_fail2ban, tree(&dir.join("edge/fail2ban")));
    assert_eq!(kustomization, read(&dir.join("deploy/kustomization.yaml")));

    // A second `scripts/lab up` reuses everything; then the demo runs on this lab with this
    // test's boma on PATH.
    let (warm, took) = lab.script("lab", &["up"]);
    assert_eq!(warm.code, 0, "{}", warm.stderr);
    eprintln!("scripts/lab up (warm): {took:.1?}");
    // The STATE column of every daemon's row: the ten the lab starts, nginx and fail2ban.
    let states: Vec<&str> = warm
        .stdout
        .lines()
        .skip(1)
        .filter_map(|line| line.split_whitespace().nth(2))
        .filter(|state| *state != "-")
        .collect();
    assert_eq!(states, vec!["reused"; 12], "{}", warm.stdout);
    let bin = Path::new(env!("CARGO_BIN_EXE_boma"))
        .parent()
        .unwrap_or_else(|| panic!("the boma binary has no folder"));
    let (demo, took) = lab.script_with_path("demo", &[], Some(bin));
    assert_eq!(
        demo.code, 0,
        "scripts/demo:\n{}\n{}",
        demo.stdout, demo.stderr
    );
    assert!(
        demo.stdout.contains("The demo passed in"),
        "{}",
        demo.stdout
    );
    eprintln!("scripts/demo: {took:.1?}");

    // Down: every process the lab started (and the edge's nginx, its workers and fail2ban) ends,
    // and the folder goes. Each pid is alive before, so the check after could see one left over.
    let recorded = recorded_pids(&dir);
    assert_eq!(recorded.len(), 12, "{recorded:?}");
    assert!(recorded.iter().all(|pid| alive(*pid)), "{recorded:?}");
    let pids = with_children(&recorded);
    let (down, took) = lab.script("lab", &["down"]);
    lab.down = true;
    assert_eq!(down.code, 0, "scripts/lab down:\n{}", down.stderr);
    eprintln!("scripts/lab down: {took:.1?}");
    let left: Vec<&u32> = pids.iter().filter(|pid| alive(**pid)).collect();
    assert!(left.is_empty(), "still running: {left:?}");
    assert!(!dir.exists(), "{} is still there", dir.display());
}
