//! Host scripts under attack and under faults: a host that hangs gets a deadline and the rest of
//! the report still comes out, a stopped boma (a timeout, Ctrl-C, a dropped connection) leaves no
//! work folder and no tool running on the host, and only the script's own framed lines count as
//! protocol. Real borg repositories on a loopback sshd host.

use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::backups::{self, BORG_PASSPHRASE, borg_repo};
use crate::support::lab::Lab;
use crate::support::{Boma, Daemon, finish_within};

/// A catalog with `locked` (on host h1, its repository held by another borg) and `fresh` (on this
/// machine) backups.
fn catalog(lab: &Lab, locked: &Path, fresh: &Path) -> String {
    let host = lab.host("h1");
    format!(
        "version = 1\n[secrets]\nborg = {{ env = \"BORG_SECRET\" }}\n\
         [hosts.h1]\naddress = \"127.0.0.1\"\n\
         ssh = {{ user = \"root\", port = {port}, identity = \"{key}\", known_hosts = \"{known}\" }}\n\
         [services.locked]\nupstream = \"http://127.0.0.1:1\"\n[services.locked.backup]\n\
         tool = \"borg\"\nhost = \"h1\"\nrepository = \"{locked}\"\npassphrase = \"borg\"\nmax_age = \"26h\"\n\
         [services.fresh]\nupstream = \"http://127.0.0.1:1\"\n[services.fresh.backup]\n\
         tool = \"borg\"\nrepository = \"{fresh}\"\npassphrase = \"borg\"\nmax_age = \"26h\"\n",
        port = host.ssh_port,
        key = lab.client_key.display(),
        known = lab.known_hosts.display(),
        locked = locked.display(),
        fresh = fresh.display(),
    )
}

/// A borg that holds `repo`'s lock until the test ends.
fn hold_lock(repo: &Path) -> Daemon {
    let daemon = Daemon(
        Command::new("borg")
            .args(["with-lock", &repo.display().to_string(), "sleep", "120"])
            .env("BORG_PASSPHRASE", BORG_PASSPHRASE)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|error| panic!("borg with-lock: {error}")),
    );
    // The lock is held once its folder exists.
    let deadline = Instant::now() + Duration::from_secs(20);
    while !repo.join("lock.exclusive").exists() {
        assert!(Instant::now() < deadline, "borg never took the lock");
        std::thread::sleep(Duration::from_millis(50));
    }
    daemon
}

fn start(boma: &Boma, args: &[&str]) -> Child {
    Command::new(env!("CARGO_BIN_EXE_boma"))
        .args(args)
        .current_dir(boma.path())
        .env("BORG_SECRET", BORG_PASSPHRASE)
        .env_remove("BOMA_CATALOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run boma: {error}"))
}

/// The work folders a boma with `pid` made in /tmp (on the loopback host they are this machine's).
fn work_folders(pid: u32) -> Vec<String> {
    std::fs::read_dir("/tmp")
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(&format!("boma-backup-check.{pid}-")))
        .collect()
}

/// `borg list` processes still reading `repo`.
fn borg_lists(repo: &Path) -> usize {
    let output = Command::new("pgrep")
        .args(["-f", &format!("borg list .*{}", repo.display())])
        .output()
        .map(|output| String::from_utf8_lossy(&output.stdout).into_owned())
        .unwrap_or_default();
    output.lines().count()
}

/// Waits up to 10 s for `done` to hold.
fn eventually(what: &str, done: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(10);
    while !done() {
        if Instant::now() > deadline {
            let tree = Command::new("ps")
                .args(["-ef", "--forest"])
                .output()
                .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
                .unwrap_or_default();
            let relevant: Vec<&str> = tree
                .lines()
                .filter(|l| {
                    l.contains("borg")
                        || l.contains("sshd")
                        || l.contains("sh -c")
                        || l.contains("sleep")
                })
                .collect();
            panic!("{what}\n{}", relevant.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

struct Setup {
    lab: Lab,
    boma: Boma,
    locked: std::path::PathBuf,
    _lock: Daemon,
}

async fn setup() -> Option<Setup> {
    backups::tools()?;
    let lab = Lab::start(1).await?;
    let boma = Boma::new();
    let locked = borg_repo(boma.path(), "locked", &[("locked-1", None)]);
    let fresh = borg_repo(boma.path(), "fresh", &[("fresh-1", None)]);
    let lock = hold_lock(&locked);
    let boma = boma.catalog(&catalog(&lab, &locked, &fresh));
    Some(Setup {
        lab,
        boma,
        locked,
        _lock: lock,
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hanging_backup_host_gets_its_deadline_and_the_report_pings_and_textfile_still_come_out()
{
    let Some(setup) = setup().await else {
        return;
    };
    let textfile = setup.boma.path().join("backups.prom");
    let child = start(
        &setup.boma,
        &[
            "backup-check",
            "--lock-wait",
            "100s",
            "--timeout",
            "3s",
            "--prometheus",
            &textfile.display().to_string(),
        ],
    );
    let pid = child.id();
    let (run, took) = finish_within(child, Duration::from_secs(60));
    run.code(1);
    assert!(took < Duration::from_secs(30), "{took:?}");
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"fresh-1\s+\S+", "fresh-1         [AGE]");
    settings.bind(|| crate::support::snapshot("hardening_hosts__hanging_host", &run.stdout));
    let metrics = std::fs::read_to_string(&textfile).unwrap_or_default();
    assert!(
        metrics.contains("service=\"fresh\"") && metrics.contains("service=\"locked\""),
        "{metrics}"
    );
    // The check on the host was stopped by its connection watcher: no borg still waits on the
    // lock, and its work folder is gone. (The `borg list` was running: the host was answering
    // nothing because of it.)
    eventually("the host's borg list kept running", || {
        borg_lists(&setup.locked) == 0
    });
    eventually("the host's work folder stayed", || {
        work_folders(pid).is_empty()
    });
    drop(setup.lab);
}

#[tokio::test(flavor = "multi_thread")]
async fn sigterm_during_a_backup_check_stops_at_once_and_the_host_cleans_up() {
    let Some(setup) = setup().await else {
        return;
    };
    let child = start(&setup.boma, &["backup-check", "--lock-wait", "100s"]);
    let pid = child.id();
    // The host is checking: its borg waits on the lock.
    eventually("the host never started its borg list", || {
        borg_lists(&setup.locked) > 0
    });
    assert!(!work_folders(pid).is_empty());
    let status = Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .unwrap_or_else(|error| panic!("kill: {error}"));
    assert!(status.success());
    let (run, took) = finish_within(child, Duration::from_secs(30));
    run.code(130);
    assert!(took < Duration::from_secs(5), "{took:?}");
    eventually("the host's borg list kept running", || {
        borg_lists(&setup.locked) == 0
    });
    eventually("the host's work folder stayed", || {
        work_folders(pid).is_empty()
    });
}
