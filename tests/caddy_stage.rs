//! The Caddy stage's plan and apply: a reviewed checksum, whole-output snapshots, and two Caddy
//! instances on one machine and user that push at once without waiting on each other.

use crate::support::lab::{Lab, audit_lines as audit, state_for};
use crate::support::{Boma, snapshot};

#[tokio::test(flavor = "multi_thread")]
async fn check_then_push_the_reviewed_plan_by_its_checksum() {
    let Some(lab) = Lab::start(2).await else {
        return;
    };
    let boma = Boma::new().catalog(&lab.catalog());
    let check = boma.run_with(["caddy-push", "--check"]);
    check.code(1);
    snapshot("caddy_push__check_table", &check.stdout);
    let plan = boma.run_with(["caddy-push", "--check", "--output", "json"]);
    plan.code(1);
    snapshot("caddy_push__check_json", &plan.stdout);
    let reviewed = plan.json()["checksum"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(reviewed.len(), 16, "{}", plan.stdout);
    assert!(
        !lab.host("h1").state().exists(),
        "a plan makes no state folder on the host"
    );

    let live = lab.host("h1").live();
    let refused = boma.run_with(["caddy-push", "--checksum", "0123456789abcdef"]);
    refused.code(2);
    snapshot("caddy_push__checksum_refused", &refused.stderr);
    assert_eq!(
        lab.host("h1").live(),
        live,
        "a refused plan changes nothing"
    );
    assert!(audit(&lab.host("h1").state()).is_empty());

    let pushed = boma.run_with(["caddy-push", "--checksum", &reviewed]);
    pushed.success();
    snapshot("caddy_push__push_table", &pushed.stdout);
    let again = boma.run_with(["caddy-push", "--output", "json"]);
    again.success();
    snapshot("caddy_push__unchanged_json", &again.stdout);
    // The plan of an unchanged fleet differs from the reviewed one: that checksum is spent.
    boma.run_with(["caddy-push", "--checksum", &reviewed])
        .code(2)
        .stderr_has("the plan changed since it was reviewed");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_live_file_changed_after_the_plan_is_not_overwritten() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let host = lab.host("h1");
    let boma = Boma::new().catalog(&lab.catalog());
    let reviewed = boma
        .run_with(["caddy-push", "--check", "--output", "json"])
        .json()["checksum"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    // Someone edits the live file between review and push: the plan no longer holds.
    let edited = format!("{}# hand edit\n", String::from_utf8_lossy(&host.live()));
    std::fs::write(&host.config, &edited).unwrap_or_else(|e| panic!("{e}"));
    boma.run_with(["caddy-push", "--checksum", &reviewed])
        .code(2)
        .stderr_has("the plan changed since it was reviewed");
    assert_eq!(host.live(), edited.as_bytes());
}

#[tokio::test(flavor = "multi_thread")]
async fn two_caddy_instances_on_one_machine_and_user_push_at_once_and_roll_back_alone() {
    let Some(mut lab) = Lab::start(2).await else {
        return;
    };
    // Catalog host h2 is h1's machine and user: the same sshd and HOME, its own Caddy and file.
    let (port, home) = (lab.host("h1").ssh_port, lab.host("h1").home.clone());
    let h2 = lab.host_mut("h2");
    h2.ssh_port = port;
    h2.home = home.clone();
    for name in ["h1", "h2"] {
        let host = lab.host_mut(name);
        host.reload = format!("sleep 2; {}", host.reload);
    }
    // Caddy makes its local CA under HOME on the first validation that needs one; two validations
    // at once in a fresh HOME race on it inside Caddy. A live machine has that CA already.
    make_local_ca(&home);
    let boma = Boma::new().catalog(&lab.catalog());
    let run = boma.run_with(["-v", "caddy-push", "--parallel", "2", "--output", "json"]);
    run.success();
    assert_eq!(run.json()["counts"]["changed"], 2, "{}", run.stdout);
    assert!(
        !run.stderr.contains("waiting for lock"),
        "one push waited on the other:\n{}",
        run.stderr
    );
    let (h1, h2) = (lab.host("h1"), lab.host("h2"));
    let (state1, state2) = (state_for(&home, &h1.config), state_for(&home, &h2.config));
    assert_ne!(state1, state2);
    assert_eq!(audit(&state1).len(), 1, "{:?}", audit(&state1));
    assert_eq!(audit(&state2).len(), 1, "{:?}", audit(&state2));
    assert!(String::from_utf8_lossy(&h2.live()).contains("app.h2.lab.test"));
    assert!(!String::from_utf8_lossy(&h2.live()).contains("app.h1.lab.test"));

    // Both files change; h2's reload fails once: h2 gets its own file back, h1 keeps the new one.
    let before = h2.live();
    let marker = lab.dir.path().join("h2-reloaded-once");
    let reload = lab.host("h2").reload.clone();
    lab.host_mut("h2").reload = format!(
        "if [ -e {mark} ]; then {reload}; else touch {mark}; exit 1; fi",
        mark = marker.display()
    );
    let catalog = format!("{}description = \"round two\"\n", lab.catalog()).replace(
        "[services.app-h1]",
        "[services.app-h1]\ndescription = \"h1 round two\"",
    );
    let boma = boma.file("services.toml", catalog);
    let run = boma.run_with(["caddy-push", "--parallel", "2", "--output", "json"]);
    run.code(1);
    let report = run.json();
    assert_eq!(report["counts"]["changed"], 1, "{report}");
    assert_eq!(report["counts"]["rolled_back"], 1, "{report}");
    let (h1, h2) = (lab.host("h1"), lab.host("h2"));
    assert_eq!(h2.live(), before, "h2's own previous file is back");
    assert!(String::from_utf8_lossy(&h1.live()).contains("h1 round two"));
    assert!(
        audit(&state2)
            .last()
            .is_some_and(|line| line.contains("result=rolled-back"))
    );
    assert!(
        audit(&state1)
            .last()
            .is_some_and(|line| line.contains("result=changed"))
    );
}

/// What a Caddy that has run once under `home` leaves there: its local CA.
fn make_local_ca(home: &std::path::Path) {
    let caddyfile = home.join("warm-up.Caddyfile");
    std::fs::write(
        &caddyfile,
        "{\n\tskip_install_trust\n}\nwarm.test {\n\ttls internal\n}\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let status = std::process::Command::new("caddy")
        .args(["validate", "--adapter", "caddyfile", "--config"])
        .arg(&caddyfile)
        .env("HOME", home)
        .env_remove("XDG_DATA_HOME")
        .env_remove("XDG_CONFIG_HOME")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .status()
        .unwrap_or_else(|e| panic!("cannot run caddy: {e}"));
    assert!(
        status.success(),
        "caddy validate in {} failed",
        home.display()
    );
    assert!(
        home.join(".local/share/caddy/pki/authorities/local/intermediate.key")
            .exists()
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn backups_from_the_per_user_layout_move_to_the_live_files_folder() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let host = lab.host("h1");
    // What a release before per-file state left: backups in one folder for the SSH user.
    let legacy = host.home.join(".local/state/boma/caddy/backups");
    std::fs::create_dir_all(&legacy).unwrap_or_else(|e| panic!("{e}"));
    for sequence in 100001..=100004 {
        let name = format!("Caddyfile.{sequence}.2026-01-01T00:00:00Z.0123456789ab");
        std::fs::write(legacy.join(name), "# old\n").unwrap_or_else(|e| panic!("{e}"));
    }
    Boma::new()
        .catalog(&lab.catalog())
        .args(["caddy-push"])
        .run()
        .success();
    let backups: Vec<String> = std::fs::read_dir(host.state().join("backups"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(backups.len(), 5, "four old and the new one: {backups:?}");
    assert!(
        backups
            .iter()
            .any(|name| name.starts_with("Caddyfile.100005."))
    );
    assert_eq!(std::fs::read_dir(&legacy).map_or(0, Iterator::count), 0);
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_a_local_push_restores_unlocks_and_cleans_up() {
    let Some(mut lab) = Lab::start(1).await else {
        return;
    };
    let before = lab.host("h1").live();
    // The reload is slow and fails: the new file is installed when Ctrl-C comes.
    lab.host_mut("h1").reload = "sleep 3; exit 1".to_string();
    let host = lab.host("h1");
    let catalog = lab.catalog().replace(
        "address = \"127.0.0.1\"",
        "address = \"local\"\nip = \"127.0.0.1\"",
    );
    let boma = Boma::new().catalog(&catalog);
    let state_home = host.home.join(".local/state");
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_boma"))
        .args(["caddy-push"])
        .current_dir(boma.path())
        .env("XDG_STATE_HOME", &state_home)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while host.live() == before {
        assert!(
            std::time::Instant::now() < deadline,
            "the new file was never installed"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    crate::support::lab::run("kill", &["-INT", &child.id().to_string()]);
    let status = child.wait().unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(status.code(), Some(130));
    // The script meets the closed pipe after the reload fails, and puts things back.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(15);
    while host.live() != before || !host.leftovers().is_empty() {
        assert!(
            std::time::Instant::now() < deadline,
            "live file restored: {}, left: {:?}",
            host.live() == before,
            host.leftovers()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    // The next run sees the difference again instead of calling it unchanged.
    boma.run_with(["caddy-push", "--check"])
        .code(1)
        .stdout_has("would change");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dangling_live_symlink_is_refused_before_anything_is_written() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let host = lab.host("h1");
    let nowhere = lab.dir.path().join("nowhere/Caddyfile");
    std::fs::remove_file(&host.config).unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(&nowhere, &host.config).unwrap_or_else(|e| panic!("{e}"));
    let run = Boma::new()
        .catalog(&lab.catalog())
        .args(["caddy-push"])
        .run();
    run.code(1).stdout_has("is a dangling symlink");
    assert!(!nowhere.exists());
    assert!(!std::path::Path::new("/.Caddyfile.boma-new").exists());
}

/// A plan where every host failed shows no checksum: it reviews nothing a push could apply. The
/// same host reached shows one.
#[tokio::test(flavor = "multi_thread")]
async fn no_checksum_when_every_host_failed() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let reached = Boma::new().catalog(&lab.catalog());
    let planned = reached.run_with(["caddy-push", "--check"]);
    planned.code(1).stdout_has("\nchecksum ");
    let closed = crate::support::free_port();
    let catalog = lab.catalog().replace(
        &format!("port = {},", lab.host("h1").ssh_port),
        &format!("port = {closed},"),
    );
    let unreached = Boma::new().catalog(&catalog);
    let failed = unreached.run_with(["caddy-push", "--check"]);
    failed.code(1);
    let json = unreached.run_with(["caddy-push", "--check", "--output", "json"]);
    json.code(1);
    assert_eq!(json.json()["checksum"], serde_json::Value::Null);
    snapshot(
        "caddy_push__check_every_host_failed",
        &format!("{}--- stderr\n{}", failed.stdout, failed.stderr)
            .replace(&closed.to_string(), "[PORT]"),
    );
}
