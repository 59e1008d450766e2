//! `backup-check` against real borg, borgmatic and restic repositories and real SQLite files, on
//! this machine and on a loopback sshd host, with a local server standing in for Healthchecks
//! and Uptime Kuma, and the Prometheus textfile read back by a strict parser.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};

use serde_json::Value;
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::backups::{
    self, BORG_PASSPHRASE, RESTIC_PASSWORD, borg_repo, borgmatic_config, databases, restic_repo,
};
use crate::support::lab::Lab;
use crate::support::{Boma, Daemon, free_port};

const OLD: &str = "2026-01-01T03:00:00";

/// The statuses by service, from `--output json`.
fn statuses(report: &Value) -> BTreeMap<String, String> {
    report["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|finding| {
            (
                finding["service"].as_str().unwrap_or_default().to_string(),
                finding["status"].as_str().unwrap_or_default().to_string(),
            )
        })
        .collect()
}

fn finding<'r>(report: &'r Value, service: &str) -> &'r Value {
    report["findings"]
        .as_array()
        .and_then(|all| all.iter().find(|finding| finding["service"] == service))
        .unwrap_or(&Value::Null)
}

fn service(name: &str, backup: &str) -> String {
    format!(
        "\n[services.{name}]\nupstream = \"http://127.0.0.1:1\"\n[services.{name}.backup]\n{backup}"
    )
}

#[test]
fn every_kind_of_fresh_stale_and_broken_backup_gets_its_status() {
    if backups::tools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path();
    let fresh = borg_repo(
        root,
        "fresh.borg",
        &[
            ("shower-old", Some(OLD)),
            ("shower-new", None),
            ("other-new", None),
        ],
    );
    let stale = borg_repo(root, "stale.borg", &[("shower-1", Some(OLD))]);
    let empty = borg_repo(root, "empty.borg", &[]);
    let locked = borg_repo(root, "locked.borg", &[("x", None)]);
    let restic = restic_repo(
        root,
        "fresh.restic",
        &[("nightly", None), ("manual", Some("2026-01-01 03:00:00"))],
    );
    let old_restic = restic_repo(
        root,
        "old.restic",
        &[("nightly", Some("2026-01-01 03:00:00"))],
    );
    let borgmatic = borgmatic_config(root, &fresh);
    let db = databases(root);
    let d = |name: &str| db.join(name).display().to_string();

    // A running backup holds this repository's lock for the whole check.
    let _holder = Daemon(
        Command::new("borg")
            .args(["with-lock"])
            .arg(&locked)
            .args(["sleep", "60"])
            .env("BORG_PASSPHRASE", BORG_PASSPHRASE)
            .env("BORG_BASE_DIR", root.join(".borg-home"))
            .stdin(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    );
    std::thread::sleep(std::time::Duration::from_millis(1500));

    let borg = |repo: &Path, extra: &str| {
        format!(
            "tool = \"borg\"\nrepository = \"{}\"\npassphrase = \"borg\"\nmax_age = \"26h\"\n{extra}",
            repo.display()
        )
    };
    let mut catalog = String::from(
        "version = 1\n[secrets]\nborg = { env = \"BORG_SECRET\" }\nwrong = { env = \"WRONG_SECRET\" }\nrestic = { env = \"RESTIC_SECRET\" }\n",
    );
    catalog += &service(
        "fresh",
        &borg(
            &fresh,
            &format!(
                "archive_glob = \"shower-*\"\npaths = [\"{}\"]\nsqlite = [\"{}\"]\n",
                root.join("data").display(),
                d("healthy.sqlite3")
            ),
        ),
    );
    catalog += &service("stale", &borg(&stale, ""));
    catalog += &service("globbed", &borg(&fresh, "archive_glob = \"nothing-*\"\n"));
    catalog += &service("empty", &borg(&empty, ""));
    catalog += &service("locked", &borg(&locked, ""));
    catalog += &service("norepo", &borg(&root.join("no-such.borg"), ""));
    catalog += &service(
        "wrongpass",
        &borg(&fresh, "").replace("passphrase = \"borg\"", "passphrase = \"wrong\""),
    );
    catalog += &service(
        "missing",
        &borg(
            &fresh,
            &format!("paths = [\"{}\"]\n", root.join("gone").display()),
        ),
    );
    catalog += &service(
        "sqlite",
        &borg(
            &fresh,
            &format!(
                "sqlite = [\"{}\", \"{}\", \"{}\", \"{}\", \"{}\"]\n",
                d("healthy.sqlite3"),
                d("truncated.sqlite3"),
                d("random.sqlite3"),
                d("empty.sqlite3"),
                d("flipped.sqlite3")
            ),
        ),
    );
    catalog += &service(
        "nodb",
        &borg(
            &fresh,
            &format!("sqlite = [\"{}\"]\n", d("never-created.sqlite3")),
        ),
    );
    catalog += &service(
        "viaborgmatic",
        &format!(
            "tool = \"borgmatic\"\nrepository = \"{}\"\nconfig = \"{}\"\nmax_age = \"26h\"\n",
            fresh.display(),
            borgmatic.display()
        ),
    );
    catalog += &service(
        "restic",
        &format!(
            "tool = \"restic\"\nrepository = \"{}\"\npassphrase = \"restic\"\nmax_age = \"26h\"\ntags = [\"nightly\"]\n",
            restic.display()
        ),
    );
    catalog += &service(
        "oldrestic",
        &format!(
            "tool = \"restic\"\nrepository = \"{}\"\npassphrase = \"restic\"\nmax_age = \"26h\"\n",
            old_restic.display()
        ),
    );
    catalog += &service(
        "resticwrong",
        &format!(
            "tool = \"restic\"\nrepository = \"{}\"\npassphrase = \"wrong\"\nmax_age = \"26h\"\n",
            restic.display()
        ),
    );

    let boma = Boma::new()
        .catalog(&catalog)
        .env("BORG_SECRET", BORG_PASSPHRASE)
        .env("WRONG_SECRET", "not-the-passphrase-at-all")
        .env("RESTIC_SECRET", RESTIC_PASSWORD);
    let run = boma.run_with(["backup-check", "--lock-wait", "1s", "--output", "json"]);
    run.code(1);
    assert!(!run.stdout.contains(BORG_PASSPHRASE) && !run.stderr.contains(BORG_PASSPHRASE));
    assert!(!run.stdout.contains(RESTIC_PASSWORD) && !run.stderr.contains(RESTIC_PASSWORD));
    let report = run.json();
    let expected: BTreeMap<String, String> = [
        ("fresh", "ok"),
        ("stale", "stale"),
        ("globbed", "no-archives"),
        ("empty", "no-archives"),
        ("locked", "locked"),
        ("norepo", "no-repository"),
        ("wrongpass", "wrong-passphrase"),
        ("missing", "missing-path"),
        ("sqlite", "corrupt-database"),
        ("nodb", "missing-path"),
        ("viaborgmatic", "ok"),
        ("restic", "ok"),
        ("oldrestic", "stale"),
        ("resticwrong", "wrong-passphrase"),
    ]
    .into_iter()
    .map(|(service, status)| (service.to_string(), status.to_string()))
    .collect();
    assert_eq!(statuses(&report), expected, "{report:#}");

    // The newest archive of the glob, not of the repository; its time read as UTC.
    assert_eq!(finding(&report, "fresh")["newest_archive"], "shower-new");
    let stale_time = finding(&report, "stale")["newest_time"]
        .as_f64()
        .unwrap_or_default();
    assert_eq!(stale_time, 1_767_236_400.0, "2026-01-01T03:00:00 UTC");
    // restic's tag filter: the newest `nightly`, not the older `manual`... and `oldrestic` is old.
    assert!(
        finding(&report, "restic")["age_seconds"]
            .as_f64()
            .unwrap_or(1e9)
            < 600.0
    );
    // Each broken database is named, the healthy one is not; none was created.
    let reasons = finding(&report, "sqlite")["reasons"].to_string();
    for broken in ["truncated", "random", "empty", "flipped"] {
        assert!(
            reasons.contains(&format!("{broken}.sqlite3")),
            "{broken}: {reasons}"
        );
    }
    assert!(!reasons.contains("healthy.sqlite3"), "{reasons}");
    assert!(
        reasons.contains("empty.sqlite3: not an SQLite database (0 bytes)"),
        "{reasons}"
    );
    assert!(
        !db.join("never-created.sqlite3").exists(),
        "a missing database is never created"
    );
    assert_eq!(
        std::fs::metadata(db.join("empty.sqlite3"))
            .map(|m| m.len())
            .unwrap_or(1),
        0
    );

    // Named services only; the text table; exit 0 when all named are fine.
    let ok = boma.run_with(["backup-check", "fresh", "viaborgmatic", "restic"]);
    ok.success();
    let table = ok.stdout.lines().next().unwrap_or_default();
    assert_eq!(
        table.split_whitespace().collect::<Vec<_>>(),
        [
            "SERVICE", "TOOL", "HOST", "NEWEST", "ARCHIVE", "AGE", "STATUS", "REASON"
        ]
    );
    boma.run_with(["backup-check", "fressh"])
        .code(2)
        .stderr_has("did you mean `fresh`?");

    // --deep runs borg's and restic's own checks of the newest archive too.
    boma.run_with(["backup-check", "--deep", "fresh", "restic"])
        .success();
}

#[tokio::test(flavor = "multi_thread")]
async fn pings_and_metrics_follow_each_finding() {
    if backups::tools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path();
    let fresh = borg_repo(root, "fresh.borg", &[("a", None)]);
    let stale = borg_repo(root, "stale.borg", &[("a", Some(OLD))]);
    let pings = MockServer::start().await;
    for (verb, route, status) in [
        ("GET", "/hc/good-uuid", 200),
        ("POST", "/hc/bad-uuid/fail", 200),
        ("GET", "/api/push/kuma-token", 200),
        ("GET", "/hc/broken-uuid", 500),
    ] {
        Mock::given(method(verb))
            .and(path(route))
            .respond_with(ResponseTemplate::new(status))
            .mount(&pings)
            .await;
    }
    let base = pings.uri();
    let borg = |repo: &Path, ping: &str| {
        format!(
            "tool = \"borg\"\nrepository = \"{}\"\npassphrase = \"borg\"\nmax_age = \"26h\"\nping = {ping}\n",
            repo.display()
        )
    };
    let mut catalog = String::from("version = 1\n[secrets]\nborg = { env = \"BORG_SECRET\" }\n");
    catalog += &service(
        "good",
        &borg(
            &fresh,
            &format!("{{ healthchecks = \"{base}/hc/good-uuid\" }}"),
        ),
    );
    catalog += &service(
        "bad",
        &borg(
            &stale,
            &format!("{{ healthchecks = \"{base}/hc/bad-uuid\" }}"),
        ),
    );
    catalog += &service(
        "kuma",
        &borg(
            &stale,
            &format!("{{ uptime_kuma = \"{base}/api/push/kuma-token\" }}"),
        ),
    );
    catalog += &service(
        "unlucky",
        &borg(
            &fresh,
            &format!("{{ healthchecks = \"{base}/hc/broken-uuid\" }}"),
        ),
    );
    let metrics = root.join("textfile/boma_backup.prom");
    std::fs::create_dir_all(root.join("textfile")).unwrap_or_else(|e| panic!("{e}"));
    let boma = Boma::new()
        .catalog(&catalog)
        .env("BORG_SECRET", BORG_PASSPHRASE);
    let run = boma.run_with([
        "backup-check",
        "--prometheus",
        &metrics.display().to_string(),
        "--output",
        "json",
    ]);
    run.code(1);
    let report = run.json();
    // A ping that fails is a warning, never a failed backup, and names no URL (it holds a token).
    assert_eq!(finding(&report, "unlucky")["status"], "ok");
    assert_eq!(
        finding(&report, "unlucky")["ping"],
        "healthchecks ping answered 500"
    );
    assert!(!run.stdout.contains("broken-uuid") && !run.stderr.contains("broken-uuid"));

    let received = pings.received_requests().await.unwrap_or_default();
    let find = |route: &str| received.iter().find(|request| request.url.path() == route);
    assert!(find("/hc/good-uuid").is_some_and(|request| request.method.as_str() == "GET"));
    let fail = find("/hc/bad-uuid/fail").unwrap_or_else(|| panic!("no /fail ping"));
    let body = String::from_utf8_lossy(&fail.body);
    assert!(body.starts_with("stale: newest archive `a` is "), "{body}");
    let kuma = find("/api/push/kuma-token").unwrap_or_else(|| panic!("no Kuma ping"));
    let query: BTreeMap<String, String> = kuma
        .url
        .query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect();
    assert_eq!(query["status"], "down");
    assert!(query["msg"].starts_with("stale: "), "{query:?}");
    assert!(query.contains_key("ping"));

    // --no-ping sends nothing.
    let before = received.len();
    boma.run_with(["backup-check", "--no-ping", "good"])
        .success();
    assert_eq!(
        pings.received_requests().await.unwrap_or_default().len(),
        before
    );

    // The textfile, read back by a strict parser of the exposition format.
    let text = std::fs::read_to_string(&metrics).unwrap_or_default();
    let samples = parse_exposition(&text);
    let sample = |name: &str, service: &str| {
        samples
            .iter()
            .find(|(metric, labels, _)| {
                metric == name && labels.get("service").map(String::as_str) == Some(service)
            })
            .map(|(_, labels, value)| (labels.clone(), *value))
    };
    let (labels, success) =
        sample("boma_backup_check_success", "good").unwrap_or_else(|| panic!("{text}"));
    assert_eq!(success, 1.0);
    assert_eq!(labels["tool"], "borg");
    // A check on this machine is labelled with its host name, as a dashboard knows it; the
    // report itself calls it "this machine".
    let machine = std::fs::read_to_string("/proc/sys/kernel/hostname").unwrap_or_default();
    assert_eq!(labels["host"], machine.trim());
    let report = boma.run_with(["backup-check", "--no-ping", "good", "--output", "json"]);
    assert_eq!(finding(&report.json(), "good")["host"], "this machine");
    assert!(!text.contains("\"this machine\""), "{text}");
    assert_eq!(
        sample("boma_backup_check_success", "bad").map(|(_, v)| v),
        Some(0.0)
    );
    assert_eq!(
        sample("boma_backup_last_archive_timestamp_seconds", "bad").map(|(_, v)| v),
        Some(1_767_236_400.0)
    );
    assert_eq!(
        sample("boma_backup_max_age_seconds", "good").map(|(_, v)| v),
        Some(93_600.0)
    );
    assert!(sample("boma_backup_check_duration_seconds", "good").is_some_and(|(_, v)| v > 0.0));
    let leftovers: Vec<_> = std::fs::read_dir(root.join("textfile"))
        .into_iter()
        .flatten()
        .flatten()
        .collect();
    assert_eq!(
        leftovers.len(),
        1,
        "the textfile is renamed into place, no temp file stays"
    );
}

/// The Prometheus text exposition format, strictly: `# HELP` and `# TYPE` (gauge) lines before a
/// family's samples, `name{label="value",...} number` samples with valid names and escapes.
fn parse_exposition(text: &str) -> Vec<(String, BTreeMap<String, String>, f64)> {
    let valid_name = |name: &str| {
        !name.is_empty()
            && name
                .chars()
                .next()
                .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
            && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_')
    };
    let mut typed: Vec<String> = Vec::new();
    let mut samples = Vec::new();
    for line in text.lines() {
        if let Some(rest) = line.strip_prefix("# HELP ") {
            let name = rest.split(' ').next().unwrap_or_default();
            assert!(valid_name(name), "bad HELP name: {line}");
            continue;
        }
        if let Some(rest) = line.strip_prefix("# TYPE ") {
            let (name, kind) = rest
                .split_once(' ')
                .unwrap_or_else(|| panic!("bad TYPE: {line}"));
            assert!(valid_name(name) && kind == "gauge", "bad TYPE: {line}");
            assert!(!typed.contains(&name.to_string()), "TYPE twice: {line}");
            typed.push(name.to_string());
            continue;
        }
        assert!(
            !line.starts_with('#') && !line.trim().is_empty(),
            "stray line: {line:?}"
        );
        let (name, rest) = line
            .split_once('{')
            .unwrap_or_else(|| panic!("no labels: {line}"));
        assert!(valid_name(name), "bad metric name: {line}");
        assert_eq!(
            typed.last().map(String::as_str),
            Some(name),
            "sample before its TYPE: {line}"
        );
        let (labels, value) = rest
            .rsplit_once("} ")
            .unwrap_or_else(|| panic!("bad sample: {line}"));
        let mut parsed = BTreeMap::new();
        let mut chars = labels.chars().peekable();
        while chars.peek().is_some() {
            let key: String = chars.by_ref().take_while(|c| *c != '=').collect();
            assert!(valid_name(&key), "bad label name in {line}");
            assert_eq!(chars.next(), Some('"'), "unquoted label in {line}");
            let mut value = String::new();
            loop {
                match chars.next() {
                    Some('\\') => match chars.next() {
                        Some('n') => value.push('\n'),
                        Some(c @ ('\\' | '"')) => value.push(c),
                        other => panic!("bad escape {other:?} in {line}"),
                    },
                    Some('"') => break,
                    Some(c) => value.push(c),
                    None => panic!("unterminated label in {line}"),
                }
            }
            parsed.insert(key, value);
            match chars.next() {
                Some(',') | None => {}
                other => panic!("expected , got {other:?} in {line}"),
            }
        }
        let value: f64 = value
            .parse()
            .unwrap_or_else(|_| panic!("bad value in {line}"));
        samples.push((name.to_string(), parsed, value));
    }
    samples
}

#[tokio::test(flavor = "multi_thread")]
async fn hosts_are_checked_over_ssh_and_a_down_host_or_a_missing_tool_spoil_only_their_own() {
    if backups::tools().is_none() {
        return;
    }
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let root = dir.path();
    let repo = borg_repo(root, "remote.borg", &[("a", None)]);
    // A folder readable by the lab's login user.
    std::process::Command::new("chmod")
        .args(["-R", "a+rX"])
        .arg(root)
        .status()
        .ok();
    let dead = free_port();
    let borg = |host: &str| {
        format!(
            "tool = \"borg\"\nhost = \"{host}\"\nrepository = \"{}\"\npassphrase = \"borg\"\nmax_age = \"26h\"\n",
            repo.display()
        )
    };
    let mut catalog = lab.catalog().replace(
        "version = 1\n",
        "version = 1\n[secrets]\nborg = { env = \"BORG_SECRET\" }\n",
    );
    catalog += &format!("[services.app-h1.backup]\n{}", borg("h1"));
    catalog += &format!(
        "\n[hosts.down]\naddress = \"127.0.0.1\"\nssh = {{ user = \"root\", port = {dead}, identity = \"{}\", known_hosts = \"{}\" }}\n",
        lab.client_key.display(),
        lab.known_hosts.display()
    );
    catalog += &service("ondown", &borg("down"));
    catalog += &service("local", &borg("").replace("host = \"\"\n", ""));
    let boma = Boma::new()
        .catalog(&catalog)
        .env("BORG_SECRET", BORG_PASSPHRASE);
    let run = boma.run_with([
        "backup-check",
        "--output",
        "json",
        "--connect-timeout",
        "3s",
    ]);
    run.code(1);
    let report = run.json();
    assert_eq!(finding(&report, "app-h1")["status"], "ok", "{report:#}");
    assert_eq!(finding(&report, "app-h1")["host"], "h1");
    assert_eq!(finding(&report, "ondown")["status"], "host-unreachable");
    assert_eq!(finding(&report, "local")["status"], "ok");

    // borg missing where the check runs: `tool missing`, naming it.
    let bin = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir("/usr/bin")
        .into_iter()
        .flatten()
        .flatten()
    {
        if entry.file_name() != "borg" {
            let _ = std::os::unix::fs::symlink(entry.path(), bin.path().join(entry.file_name()));
        }
    }
    let without = boma.env("PATH", bin.path());
    let run = without.run_with(["backup-check", "local", "--output", "json"]);
    run.code(1);
    let report = run.json();
    assert_eq!(finding(&report, "local")["status"], "tool-missing");
    assert!(
        finding(&report, "local")["reasons"][0]
            .as_str()
            .is_some_and(|r| r.starts_with("borg is not installed on "))
    );
}

/// The shipped catalog with grafana's backup made as the README says, in `root` instead of /srv,
/// /etc and /var/lib.
fn shipped_with_grafana_backed_up(root: &Path) -> String {
    let place = |path: &str| root.join(path.trim_start_matches('/'));
    std::fs::create_dir_all(place("/var/lib/grafana")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(place("/etc/borgmatic.d")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::create_dir_all(place("/srv/backups")).unwrap_or_else(|e| panic!("{e}"));
    let db = place("/var/lib/grafana/grafana.db");
    let status = Command::new("sqlite3")
        .arg(&db)
        .arg("CREATE TABLE dashboard(id INTEGER PRIMARY KEY, title TEXT); INSERT INTO dashboard(title) VALUES ('homelab');")
        .status()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(status.success());
    let repo = place("/srv/backups/grafana.borg");
    let config = place("/etc/borgmatic.d/grafana.yaml");
    std::fs::write(
        &config,
        format!(
            "location:\n    source_directories: [{}]\n    repositories: [{}]\nstorage:\n    encryption_passphrase: \"demo\"\n",
            place("/var/lib/grafana").display(),
            repo.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    for args in [
        vec![
            "borg",
            "init",
            "--encryption",
            "repokey",
            &repo.display().to_string(),
        ],
        vec!["borgmatic", "-c", &config.display().to_string(), "create"],
    ] {
        let status = Command::new(args[0])
            .args(&args[1..])
            .env("BORG_PASSPHRASE", "demo")
            .env("BORG_BASE_DIR", root.join(".borg-home"))
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success(), "{args:?}");
    }
    let shipped =
        std::fs::read_to_string(crate::support::repo_file("services.toml")).unwrap_or_default();
    assert!(shipped.contains("[services.grafana.backup]"));
    shipped
        .replace("/srv/backups", &place("/srv/backups").display().to_string())
        .replace(
            "/etc/borgmatic.d",
            &place("/etc/borgmatic.d").display().to_string(),
        )
        .replace(
            "/var/lib/grafana",
            &place("/var/lib/grafana").display().to_string(),
        )
}

#[test]
fn the_shipped_catalogs_local_backup_is_checkable_as_the_readme_shows() {
    if backups::tools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let local = shipped_with_grafana_backed_up(dir.path());
    let run = Boma::new().catalog(&local).run_with([
        "backup-check",
        "grafana",
        "--no-ping",
        "--output",
        "json",
    ]);
    run.success();
    let report = run.json();
    assert_eq!(finding(&report, "grafana")["status"], "ok", "{report:#}");
    assert_eq!(finding(&report, "grafana")["tool"], "borgmatic");
}

/// The shipped catalog as it comes: `forge`'s passphrase file is not there and `pass` does not
/// know `shower`'s. Each fails its own row (where the secret is declared, what to set); grafana
/// is still checked, and no host is reached for the two that cannot be checked.
#[test]
fn a_secret_that_cannot_be_read_fails_its_own_row_only() {
    if backups::tools().is_none() {
        return;
    }
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let local = shipped_with_grafana_backed_up(dir.path());
    // A `pass` that knows nothing, whatever this machine has installed.
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        bin.join("pass"),
        "#!/bin/sh\necho \"Error: $2 is not in the password store.\" >&2\nexit 1\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(
        bin.join("pass"),
        std::os::unix::fs::PermissionsExt::from_mode(0o755),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let boma = Boma::new().catalog(&local).env("PATH", &path);
    let all = boma.run_with(["backup-check", "--no-ping", "--output", "json"]);
    all.code(1);
    assert_eq!(
        statuses(&all.json()),
        BTreeMap::from([
            ("forge".to_string(), "secret-unreadable".to_string()),
            ("grafana".to_string(), "ok".to_string()),
            ("shower".to_string(), "secret-unreadable".to_string()),
        ])
    );
    let unreadable = boma.run_with(["backup-check", "--no-ping", "forge", "shower"]);
    unreadable.code(1);
    crate::support::snapshot(
        "backup_check__secret_unreadable",
        &format!("{}--- stderr\n{}", unreadable.stdout, unreadable.stderr),
    );
}
