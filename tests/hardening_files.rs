//! Files boma reads or writes are what they claim to be: `[edge].dir` holds only regular files
//! and real folders (no link is followed there), the local files boma replaces or reads (the
//! Prometheus textfile, zone files, pinned files) are regular files read up to a bound, never a
//! device or a FIFO, and the work folders boma makes are private whatever the umask.

use std::os::unix::fs::{FileTypeExt, PermissionsExt, symlink};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::fly::{AUTH_KEY, FLYCTL_SECRETS, FlyApi, TOKEN};
use crate::support::registry::repository;
use crate::support::{Boma, ONE_SERVICE, repo_file, require, snapshot};

/// What a control run shows and the run under test must not.
const CANARY: &str = "canary-3nv-t0ken-never-shown";

/// How long one run may take before it counts as blocked (and is killed).
const LIMIT: Duration = Duration::from_secs(60);

/// One boma run, or `None` for the code of a run still going after `LIMIT` (killed then).
struct Bounded {
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Bounded {
    #[track_caller]
    fn code(&self, expected: i32) -> &Self {
        assert_eq!(
            self.code,
            Some(expected),
            "exit code (None: still running after {LIMIT:?}, so killed)\n{}",
            self.shown()
        );
        self
    }

    fn shown(&self) -> String {
        format!("{}\n--- stderr\n{}", self.stdout, self.stderr)
    }
}

/// Runs boma in `dir` under `sh` with `umask`, an address-space cap (an unbounded read fails
/// there instead of taking the machine) and `LIMIT` (a read that blocks is killed).
fn run_bounded(dir: &Path, umask: &str, args: &[&str], env: &[(&str, &str)]) -> Bounded {
    let logs = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let file = |name: &str| {
        std::fs::File::create(logs.path().join(name)).unwrap_or_else(|e| panic!("{e}"))
    };
    let mut child = Command::new("sh")
        .arg("-c")
        .arg(r#"umask "$0" && ulimit -v 4194304 && exec "$@""#)
        .arg(umask)
        .arg(env!("CARGO_BIN_EXE_boma"))
        .args(args)
        .current_dir(dir)
        .env_remove("BOMA_CATALOG")
        .env_remove("NO_COLOR")
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .stdout(file("stdout"))
        .stderr(file("stderr"))
        .spawn()
        .unwrap_or_else(|e| panic!("cannot run boma: {e}"));
    let deadline = Instant::now() + LIMIT;
    let code = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status.code().unwrap_or(-1)),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(50)),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                break None;
            }
        }
    };
    let read = |name: &str| std::fs::read_to_string(logs.path().join(name)).unwrap_or_default();
    let run = Bounded {
        code,
        stdout: read("stdout"),
        stderr: read("stderr"),
    };
    assert!(
        !run.stderr.contains("panicked"),
        "boma panicked:\n{}",
        run.stderr
    );
    run
}

/// `mkfifo path`.
fn fifo(path: &Path) {
    let status = Command::new("mkfifo")
        .arg(path)
        .status()
        .unwrap_or_else(|e| panic!("mkfifo: {e}"));
    assert!(status.success(), "mkfifo {}", path.display());
}

/// A character device `major:minor` at `path` (1:3 is null, 1:5 is zero), made with `mknod`,
/// which needs root: `false` (a skip) on a laptop, a failure in CI.
fn device(path: &Path, major: u32, minor: u32) -> bool {
    let made = Command::new("mknod")
        .arg(path)
        .args(["c", &major.to_string(), &minor.to_string()])
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|status| status.success());
    if !made {
        assert!(
            std::env::var_os("CI").is_none(),
            "mknod needs root, which CI has"
        );
        eprintln!("skipped: mknod needs root");
    }
    made
}

fn is_char_device(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_char_device())
}

fn is_fifo(path: &Path) -> bool {
    std::fs::symlink_metadata(path).is_ok_and(|meta| meta.file_type().is_fifo())
}

/// An executable `sh` script `bin/NAME` in `boma`'s folder; the folder, to put first on PATH.
fn fake_tool(boma: &Boma, name: &str, body: &str) -> PathBuf {
    let bin = boma.path().join("bin");
    std::fs::create_dir_all(&bin).unwrap_or_else(|e| panic!("{e}"));
    let path = bin.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755))
        .unwrap_or_else(|e| panic!("{e}"));
    bin
}

/// `bin` before the inherited PATH.
fn path_with(bin: &Path) -> String {
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

// ---------------------------------------------------------------------------------------------
// [edge].dir

/// nginx and fail2ban for the edge checks (a skip on a laptop, a failure in CI).
fn edge_tools() -> bool {
    require("nginx").is_some() && require("fail2ban-regex").is_some()
}

/// A folder with the shipped catalog (its edge at `api_url` when given) and a copy of the
/// shipped edge's deployed render in `fly/`: `fly-deploy --check` finds nothing to change.
fn edge_project(api_url: Option<&str>) -> Boma {
    let shipped = std::fs::read_to_string(repo_file("services.toml")).unwrap_or_default();
    assert!(shipped.contains("[edge]\n"));
    let catalog = match api_url {
        Some(url) => shipped.replace("[edge]\n", &format!("[edge]\napi_url = \"{url}\"\n")),
        None => shipped,
    };
    let boma = Boma::new().catalog(&catalog);
    copy_tree(&repo_file("fly"), &boma.path().join("fly"));
    boma
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap_or_else(|e| panic!("{e}"));
    for entry in std::fs::read_dir(from).unwrap_or_else(|e| panic!("{e}")) {
        let entry = entry.unwrap_or_else(|e| panic!("{e}"));
        let target = to.join(entry.file_name());
        if entry.file_type().is_ok_and(|kind| kind.is_dir()) {
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

fn check(boma: &Boma, env: &[(&str, &str)]) -> Bounded {
    run_bounded(boma.path(), "022", &["fly-deploy", "--check"], env)
}

#[test]
fn edge_check_prints_nothing_of_a_symlinked_deployed_file() {
    if !edge_tools() {
        return;
    }
    let boma = edge_project(None);
    check(&boma, &[]).code(0);
    let jail = boma.path().join("fly/fail2ban/jail.conf");
    // Control: the check shows a deployed file's content in its diff, canary and all.
    std::fs::write(&jail, format!("{CANARY}\n")).unwrap_or_else(|e| panic!("{e}"));
    let control = check(&boma, &[]);
    control.code(1);
    assert!(control.stdout.contains(CANARY), "{}", control.shown());

    // A link to boma's own environment, which holds the canary: refused, naming the link.
    std::fs::remove_file(&jail).unwrap_or_else(|e| panic!("{e}"));
    symlink("/proc/self/environ", &jail).unwrap_or_else(|e| panic!("{e}"));
    let run = check(&boma, &[("BOMA_TEST_CANARY", CANARY)]);
    assert!(!run.shown().contains(CANARY), "{}", run.shown());
    run.code(2);
    snapshot("hardening_files__edge_symlinked_file", &run.shown());
}

#[test]
fn edge_check_prints_nothing_of_a_symlinked_template_override() {
    if !edge_tools() {
        return;
    }
    let boma = edge_project(None);
    let template = boma.path().join("templates/edge/fly.toml.j2");
    std::fs::create_dir_all(boma.path().join("templates/edge")).unwrap_or_else(|e| panic!("{e}"));
    // Control: an override's text is rendered, and the check's diff shows it.
    std::fs::write(&template, format!("# {CANARY}\n")).unwrap_or_else(|e| panic!("{e}"));
    let control = check(&boma, &[]);
    control.code(1);
    assert!(control.stdout.contains(CANARY), "{}", control.shown());

    // An override that links to boma's own environment, which holds the canary.
    std::fs::remove_file(&template).unwrap_or_else(|e| panic!("{e}"));
    symlink("/proc/self/environ", &template).unwrap_or_else(|e| panic!("{e}"));
    let run = check(&boma, &[("BOMA_TEST_CANARY", CANARY)]);
    assert!(!run.shown().contains(CANARY), "{}", run.shown());
    run.code(2);
    snapshot("hardening_files__symlinked_template", &run.shown());
}

#[test]
fn edge_check_refuses_a_fifo_in_the_deployed_render_instead_of_blocking() {
    if !edge_tools() {
        return;
    }
    // A rendered file's place, and a file boma owns under `bans/` that it no longer renders.
    for local in ["fly/deny.geo", "fly/bans/retired.map"] {
        let boma = edge_project(None);
        let path = boma.path().join(local);
        let _ = std::fs::remove_file(&path);
        fifo(&path);
        let run = check(&boma, &[]);
        run.code(2);
        snapshot(
            &format!(
                "hardening_files__edge_fifo_{}",
                local.replace(['/', '.'], "_")
            ),
            &run.shown(),
        );
        assert!(is_fifo(&path), "the FIFO is left as it was");
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_deploy_writes_nothing_through_a_symlinked_deployed_file() {
    if !edge_tools() {
        return;
    }
    let api = FlyApi::start(&[("m1", "started")]).await;
    let boma = edge_project(Some(&api.api_url()));
    let outside = boma.path().join("outside.conf");
    std::fs::write(&outside, "not boma's\n").unwrap_or_else(|e| panic!("{e}"));
    let nginx = boma.path().join("fly/nginx.conf");
    std::fs::remove_file(&nginx).unwrap_or_else(|e| panic!("{e}"));
    symlink("../outside.conf", &nginx).unwrap_or_else(|e| panic!("{e}"));
    let run = run_bounded(
        boma.path(),
        "022",
        &["fly-deploy", "--machines-api"],
        &[("FLY_API_TOKEN", TOKEN)],
    );
    assert_eq!(
        std::fs::read_to_string(&outside).unwrap_or_default(),
        "not boma's\n",
        "the file outside `fly/` is untouched"
    );
    run.code(2);
    snapshot("hardening_files__edge_deploy_symlinked_file", &run.shown());
    assert!(api.requests().await.is_empty(), "nothing reached the API");
}

#[tokio::test(flavor = "multi_thread")]
async fn edge_deploy_deletes_nothing_in_a_symlinked_folder_and_check_shows_none_of_it() {
    if !edge_tools() {
        return;
    }
    let api = FlyApi::start(&[("m1", "started")]).await;
    let boma = edge_project(Some(&api.api_url()));
    // Control: a file under `bans/` that boma no longer renders is shown whole, to be deleted.
    let stale = boma.path().join("fly/bans/stale.map");
    std::fs::write(&stale, format!("{CANARY}\n")).unwrap_or_else(|e| panic!("{e}"));
    let control = check(&boma, &[]);
    control.code(1);
    assert!(control.stdout.contains(CANARY), "{}", control.shown());
    std::fs::remove_file(&stale).unwrap_or_else(|e| panic!("{e}"));

    // `bans/` a link to a folder outside `fly/` holding the same file.
    let elsewhere = boma.path().join("elsewhere");
    copy_tree(&boma.path().join("fly/bans"), &elsewhere);
    std::fs::write(elsewhere.join("keep.map"), format!("{CANARY}\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_dir_all(boma.path().join("fly/bans")).unwrap_or_else(|e| panic!("{e}"));
    symlink("../elsewhere", boma.path().join("fly/bans")).unwrap_or_else(|e| panic!("{e}"));
    let run = check(&boma, &[]);
    assert!(!run.shown().contains(CANARY), "{}", run.shown());
    run.code(2);
    snapshot("hardening_files__edge_symlinked_folder", &run.shown());

    let deploy = run_bounded(
        boma.path(),
        "022",
        &["fly-deploy", "--machines-api"],
        &[("FLY_API_TOKEN", TOKEN)],
    );
    assert!(
        elsewhere.join("keep.map").exists(),
        "nothing outside is deleted"
    );
    deploy.code(2);
    assert_eq!(
        deploy.stderr, run.stderr,
        "the deploy stops where the check did"
    );
    assert!(api.requests().await.is_empty(), "nothing reached the API");
}

#[test]
fn edge_dir_that_is_a_symlink_is_refused() {
    if !edge_tools() {
        return;
    }
    let boma = edge_project(None);
    std::fs::rename(boma.path().join("fly"), boma.path().join("deployed"))
        .unwrap_or_else(|e| panic!("{e}"));
    symlink("deployed", boma.path().join("fly")).unwrap_or_else(|e| panic!("{e}"));
    let run = check(&boma, &[]);
    run.code(2);
    snapshot("hardening_files__edge_dir_symlink", &run.shown());
}

// ---------------------------------------------------------------------------------------------
// backup-check --prometheus

/// A catalog with one local borg backup whose repository is missing (a `failed` finding, so a
/// run exits 1 and still writes the textfile).
fn backup_project() -> Boma {
    Boma::new().catalog(
        "version = 1\n[secrets]\nborg = { env = \"BORG_SECRET\" }\n\
         [services.app]\nupstream = \"http://127.0.0.1:1\"\n[services.app.backup]\n\
         tool = \"borg\"\nrepository = \"/nonexistent/boma-test.borg\"\npassphrase = \"borg\"\nmax_age = \"26h\"\n",
    )
}

fn backup_check(boma: &Boma, textfile: &str) -> Bounded {
    run_bounded(
        boma.path(),
        "022",
        &["backup-check", "--no-ping", "--prometheus", textfile],
        &[("BORG_SECRET", "not-used")],
    )
}

#[test]
fn prometheus_textfile_that_is_a_device_or_a_fifo_is_refused_and_left_alone() {
    let boma = backup_project();
    if !device(&boma.path().join("null"), 1, 3) {
        return;
    }
    // Control: a symlink to a regular file is written through, the link kept (README).
    std::fs::write(boma.path().join("metrics.prom"), "").unwrap_or_else(|e| panic!("{e}"));
    symlink("metrics.prom", boma.path().join("linked.prom")).unwrap_or_else(|e| panic!("{e}"));
    backup_check(&boma, "linked.prom").code(1);
    assert!(
        std::fs::read_to_string(boma.path().join("metrics.prom"))
            .is_ok_and(|text| text.contains("boma_backup_check_success{service=\"app\"")),
        "the link's target got the textfile"
    );
    assert!(
        std::fs::symlink_metadata(boma.path().join("linked.prom"))
            .is_ok_and(|meta| meta.file_type().is_symlink())
    );

    fifo(&boma.path().join("pipe"));
    symlink("null", boma.path().join("to-null")).unwrap_or_else(|e| panic!("{e}"));
    let mut shown = String::new();
    for textfile in ["null", "pipe", "to-null"] {
        let run = backup_check(&boma, textfile);
        run.code(2);
        shown += &format!("$ backup-check --prometheus {textfile}\n{}\n", run.stderr);
    }
    snapshot("hardening_files__prometheus_not_regular", &shown);
    assert!(
        is_char_device(&boma.path().join("null")),
        "the device is still a device"
    );
    assert!(
        is_fifo(&boma.path().join("pipe")),
        "the FIFO is still a FIFO"
    );
}

// ---------------------------------------------------------------------------------------------
// zone files

/// A zone-file catalog (`zones/example.org.zone`) with one service.
fn zone_project() -> Boma {
    let boma = Boma::new().catalog(
        "version = 1\n[dns]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"zones/example.org.zone\"\n\
         [[dns.records]]\nname = \"@\"\ntype = \"NS\"\nvalues = [\"ns1.example.net.\"]\n\
         [hosts.indri]\naddress = \"indri.example.net\"\nip = \"100.64.0.1\"\n\
         [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:80\"\nnames = [\"app.example.org\"]\n",
    );
    std::fs::create_dir_all(boma.path().join("zones")).unwrap_or_else(|e| panic!("{e}"));
    boma
}

#[test]
fn zone_file_that_is_a_fifo_a_device_or_huge_is_refused_before_it_is_read() {
    let boma = zone_project();
    let zone = boma.path().join("zones/example.org.zone");
    let mut shown = String::new();
    let mut step = |what: &str, args: &[&str]| {
        let run = run_bounded(boma.path(), "022", args, &[]);
        run.code(2);
        shown += &format!("$ {what}: {}\n{}\n", args.join(" "), run.stderr);
    };
    fifo(&zone);
    step("a FIFO", &["dns-preview"]);
    std::fs::remove_file(&zone).unwrap_or_else(|e| panic!("{e}"));

    // More than boma reads of a local file: a sparse file, so nothing is really written.
    let huge = std::fs::File::create(&zone).unwrap_or_else(|e| panic!("{e}"));
    huge.set_len(33 * 1024 * 1024)
        .unwrap_or_else(|e| panic!("{e}"));
    step("over 32 MiB", &["dns-preview"]);
    std::fs::remove_file(&zone).unwrap_or_else(|e| panic!("{e}"));

    // The lock file beside it a FIFO (opening it to write would block).
    std::fs::write(&zone, "").unwrap_or_else(|e| panic!("{e}"));
    let lock = boma.path().join("zones/.example.org.zone.boma-lock");
    fifo(&lock);
    step("the lock a FIFO", &["dns-up"]);
    assert!(is_fifo(&lock));
    std::fs::remove_file(&lock).unwrap_or_else(|e| panic!("{e}"));
    std::fs::remove_file(&zone).unwrap_or_else(|e| panic!("{e}"));

    // A link to an endless device.
    if device(&boma.path().join("zero"), 1, 5) {
        symlink("../zero", &zone).unwrap_or_else(|e| panic!("{e}"));
        step("a link to a device", &["dns-up"]);
        assert!(is_char_device(&boma.path().join("zero")));
    }
    snapshot("hardening_files__zone_file_not_regular", &shown);
}

// ---------------------------------------------------------------------------------------------
// pinned (bump) files

/// A git repository with the app image and its pinned files, its catalog pointing at a registry
/// that `--no-push` never asks.
fn image_project() -> Option<Boma> {
    require("git")?;
    let boma = Boma::new();
    repository(boma.path(), "127.0.0.1:1/ops/app", false);
    Some(
        boma.catalog(&crate::support::registry::catalog("127.0.0.1:1", None))
            .env("FORGE_PASSWORD", "not-used"),
    )
}

#[test]
fn pinned_file_that_is_a_fifo_or_a_device_is_refused_before_it_is_read() {
    let Some(boma) = image_project() else {
        return;
    };
    let compose = boma.path().join("deploy/compose.yml");
    std::fs::remove_file(&compose).unwrap_or_else(|e| panic!("{e}"));
    fifo(&compose);
    let args = ["container-build", "--check", "--no-push"];
    let mut shown = String::new();
    let run = run_bounded(boma.path(), "022", &args, &[]);
    run.code(2);
    shown += &format!("$ a FIFO\n{}\n", run.stderr);
    std::fs::remove_file(&compose).unwrap_or_else(|e| panic!("{e}"));
    if device(&boma.path().join("zero"), 1, 5) {
        symlink("../zero", &compose).unwrap_or_else(|e| panic!("{e}"));
        let run = run_bounded(boma.path(), "022", &args, &[]);
        run.code(2);
        shown += &format!("$ a link to a device\n{}\n", run.stderr);
    }
    snapshot("hardening_files__pinned_file_not_regular", &shown);
}

// ---------------------------------------------------------------------------------------------
// work folders under `umask 000`

/// The mode a fake tool wrote to `log`, once boma is done.
fn recorded_mode(log: &Path) -> String {
    std::fs::read_to_string(log)
        .unwrap_or_else(|e| panic!("the fake tool left no {}: {e}", log.display()))
        .trim()
        .to_string()
}

#[test]
fn edge_check_scratch_folder_is_private_under_umask_000() {
    if !edge_tools() {
        return;
    }
    let boma = edge_project(None);
    let log = boma.path().join("nginx.mode");
    let bin = fake_tool(
        &boma,
        "nginx",
        &format!(
            "while [ $# -gt 0 ]; do [ \"$1\" = -p ] && stat -c %a \"$2\" > {}; shift; done\nexit 1\n",
            log.display()
        ),
    );
    let path = path_with(&bin);
    let run = run_bounded(
        boma.path(),
        "000",
        &["fly-deploy", "--check"],
        &[("PATH", &path)],
    );
    run.code(2);
    assert_eq!(recorded_mode(&log), "700", "{}", run.shown());
}

#[test]
fn ssh_control_folder_is_private_under_umask_000() {
    let boma = Boma::new().catalog(ONE_SERVICE);
    let log = boma.path().join("ssh.mode");
    // The control socket is `<boma's folder>/.ssh-connectionXXXX/master`.
    let bin = fake_tool(
        &boma,
        "ssh",
        &format!(
            "while [ $# -gt 0 ]; do [ \"$1\" = -S ] && stat -c %a \"$(dirname \"$(dirname \"$2\")\")\" > {}; shift; done\nexit 255\n",
            log.display()
        ),
    );
    let path = path_with(&bin);
    let run = run_bounded(
        boma.path(),
        "000",
        &["caddy-push", "--check"],
        &[("PATH", &path)],
    );
    run.code(1);
    assert_eq!(recorded_mode(&log), "700", "{}", run.shown());
}

#[test]
fn local_build_work_folder_is_private_under_umask_000() {
    let Some(boma) = image_project() else {
        return;
    };
    let log = boma.path().join("buildah.mode");
    let bin = fake_tool(
        &boma,
        "buildah",
        &format!(
            "while [ $# -gt 0 ]; do [ \"$1\" = --iidfile ] && stat -c %a \"$(dirname \"$2\")\" > {}; shift; done\nexit 1\n",
            log.display()
        ),
    );
    let path = path_with(&bin);
    let run = run_bounded(
        boma.path(),
        "000",
        &["container-build", "--no-push", "--tool", "buildah"],
        &[("PATH", &path), ("FORGE_PASSWORD", "not-used")],
    );
    run.code(1);
    assert_eq!(recorded_mode(&log), "700", "{}", run.shown());
}

#[tokio::test(flavor = "multi_thread")]
async fn flyctl_staging_folder_is_private_under_umask_000() {
    if !edge_tools() {
        return;
    }
    let api = FlyApi::start(&[("m1", "started")]).await;
    let boma = edge_project(Some(&api.api_url()));
    // A change, so flyctl is asked to deploy.
    std::fs::write(boma.path().join("fly/deny.geo"), "").unwrap_or_else(|e| panic!("{e}"));
    let log = boma.path().join("flyctl.mode");
    let bin = fake_tool(
        &boma,
        "flyctl",
        &format!(
            "{FLYCTL_SECRETS}[ \"$1\" = deploy ] && stat -c %a \"$2\" > {}\nexit 0\n",
            log.display()
        ),
    );
    let flyctl = bin.join("flyctl").display().to_string();
    let run = run_bounded(
        boma.path(),
        "000",
        &["fly-deploy", "--flyctl", &flyctl],
        &[("FLY_API_TOKEN", TOKEN), ("TS_AUTHKEY", AUTH_KEY)],
    );
    run.code(0);
    assert_eq!(recorded_mode(&log), "700", "{}", run.shown());
}
