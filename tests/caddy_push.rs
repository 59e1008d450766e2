//! `caddy-push` against real hosts: an sshd per host on loopback, each with a running Caddy.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::lab::{HostSpec, Lab, TestHost, can_add_sudoers, push_sudoers, run};
use crate::support::{Boma, Run};

fn push(lab: &Lab, args: &[&str]) -> (Boma, Run) {
    let boma = Boma::new()
        .catalog(&lab.catalog())
        .args(["caddy-push"])
        .args(args);
    let run = boma.run();
    (boma, run)
}

/// The JSON report's entry for `host`.
fn entry<'a>(report: &'a serde_json::Value, host: &str) -> &'a serde_json::Value {
    report["hosts"]
        .as_array()
        .and_then(|hosts| hosts.iter().find(|entry| entry["host"] == host))
        .unwrap_or_else(|| panic!("no report for {host}: {report}"))
}

/// How many configs this host's Caddy has been sent through its admin API.
fn loads(host: &TestHost) -> usize {
    host.caddy_log().matches("\"uri\":\"/load\"").count()
}

async fn assert_serves(host: &TestHost) {
    let answer = host.get("/").await;
    assert_eq!(
        answer,
        Some((200, format!("hello from {}", host.name))),
        "{}",
        host.caddy_log()
    );
}

fn audit(host: &TestHost) -> Vec<String> {
    crate::support::lab::audit_lines(&host.state())
}

#[tokio::test(flavor = "multi_thread")]
async fn push_serves_every_host_and_a_second_push_is_unchanged_without_reload() {
    let Some(lab) = Lab::start(3).await else {
        return;
    };
    let (boma, first) = push(&lab, &["--output", "json"]);
    first.success();
    let report = first.json();
    assert_eq!(report["counts"]["changed"], 3, "{report}");
    for host in &lab.hosts {
        let entry = entry(&report, &host.name);
        assert_eq!(entry["status"], "changed");
        assert!(
            entry["caddy"]
                .as_str()
                .is_some_and(|version| version.starts_with("2.") || version.starts_with("v2."))
        );
        assert_serves(host).await;
        let lines = audit(host);
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].contains("result=changed"), "{}", lines[0]);
        assert!(lines[0].contains(&format!(
            "new={}",
            entry["new_sha256"].as_str().unwrap_or("?")
        )));
        let backups = std::fs::read_dir(host.state().join("backups")).map_or(0, Iterator::count);
        assert_eq!(backups, 1);
        assert!(host.leftovers().is_empty(), "{:?}", host.leftovers());
    }
    let loads_before: Vec<usize> = lab.hosts.iter().map(loads).collect();
    assert!(
        loads_before.iter().all(|count| *count >= 1),
        "{loads_before:?}"
    );

    let second = boma.run();
    second.success().stderr_has("caddy-push: 3 unchanged");
    let report = second.json();
    for host in &lab.hosts {
        assert_eq!(entry(&report, &host.name)["status"], "unchanged");
        assert_eq!(
            audit(host).len(),
            1,
            "an unchanged push writes no audit line"
        );
        assert_serves(host).await;
    }
    let loads_after: Vec<usize> = lab.hosts.iter().map(loads).collect();
    assert_eq!(
        loads_before, loads_after,
        "an unchanged push must not reload"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_template_caddy_rejects_fails_on_the_host_and_leaves_the_live_file_serving() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let host = lab.host("h1");
    push(&lab, &[]).0.run().success();
    assert_serves(host).await;
    let live = host.live();

    let broken = "{% for site in sites %}{{ site.addresses[0] }} {\n\treverse_proxy {{ site.upstream }}\n\tno_such_directive on\n}\n{% endfor %}\n";
    let boma = Boma::new()
        .catalog(&lab.catalog())
        .file("broken/Caddyfile.j2", broken)
        .args(["caddy-push", "--templates", "broken"]);
    let run = boma.run();
    run.code(1)
        .stdout_has("failed")
        .stdout_has("caddy validate rejected the new Caddyfile")
        .stdout_has("no_such_directive");
    assert_eq!(host.live(), live, "the live file must be byte-identical");
    assert!(host.leftovers().is_empty(), "{:?}", host.leftovers());
    assert_serves(host).await;
    assert!(
        audit(host)
            .last()
            .is_some_and(|line| line.contains("result=invalid"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failed_reload_rolls_back_and_the_old_config_keeps_serving() {
    let Some(mut lab) = Lab::start(1).await else {
        return;
    };
    push(&lab, &[]).1.success();
    let live = lab.host("h1").live();
    let old_https = lab.host("h1").https;
    // The new config validates but cannot load: its HTTPS port is taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    lab.host_mut("h1").https = taken.local_addr().map_or(0, |address| address.port());

    let (_, run) = push(&lab, &["--output", "json"]);
    run.code(1);
    let report = run.json();
    let entry = entry(&report, "h1");
    assert_eq!(entry["status"], "rolled-back", "{report}");
    assert!(
        entry["details"]
            .to_string()
            .contains("address already in use"),
        "{report}"
    );
    let host = lab.host_mut("h1");
    assert_eq!(host.live(), live, "the previous Caddyfile must be back");
    assert!(host.leftovers().is_empty(), "{:?}", host.leftovers());
    host.https = old_https;
    assert_serves(lab.host("h1")).await;
    assert!(
        audit(lab.host("h1"))
            .last()
            .is_some_and(|line| line.contains("result=rolled-back"))
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_host_that_is_down_fails_alone() {
    let Some(mut lab) = Lab::start(2).await else {
        return;
    };
    lab.host_mut("h2").stop_ssh();
    let (_, run) = push(&lab, &["--connect-timeout", "5s"]);
    run.code(1).stderr_has("1 changed, 1 failed");
    let h2 = run
        .stdout
        .lines()
        .find(|line| line.starts_with("h2 "))
        .unwrap_or_else(|| panic!("{}", run.stdout));
    assert!(
        h2.contains("failed") && h2.contains("cannot connect to `127.0.0.1`"),
        "{h2}"
    );
    assert!(h2.contains("Connection refused"), "{h2}");
    assert_serves(lab.host("h1")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_held_lock_makes_a_concurrent_push_wait_or_fail_clearly() {
    let Some(mut lab) = Lab::start(1).await else {
        return;
    };
    // A slow reload keeps the first push holding the lock for a while.
    let reload = lab.host("h1").reload.clone();
    lab.host_mut("h1").reload = format!("sleep 3; {reload}");
    let boma = Boma::new().catalog(&lab.catalog());
    let first = Command::new(env!("CARGO_BIN_EXE_boma"))
        .args(["caddy-push"])
        .current_dir(boma.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|error| panic!("{error}"));
    let _first = crate::support::Daemon(first);
    let lock = lab.host("h1").state().join("lock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lock.join("holder").exists() {
        assert!(
            Instant::now() < deadline,
            "the first push never took the lock"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    let refused = boma.run_with(["caddy-push", "--lock-wait", "0s"]);
    refused
        .code(1)
        .stdout_has("lock held by ")
        .stdout_has(" pid=");
    let waited = boma.run_with(["caddy-push", "--lock-wait", "60s", "--output", "json"]);
    waited.success();
    assert_eq!(entry(&waited.json(), "h1")["status"], "unchanged");
    assert_eq!(
        audit(lab.host("h1")).len(),
        1,
        "one change, by the first push"
    );
    assert!(!lock.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn an_unknown_host_key_is_refused_unless_new_keys_are_accepted() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    std::fs::write(&lab.known_hosts, "").unwrap_or_else(|e| panic!("{e}"));
    let live = lab.host("h1").live();
    let (boma, refused) = push(&lab, &[]);
    refused
        .code(1)
        .stdout_has("Host key verification failed")
        .stdout_has("--accept-new-host-keys");
    assert_eq!(lab.host("h1").live(), live);

    boma.run_with(["caddy-push", "--accept-new-host-keys"])
        .success();
    let known = std::fs::read_to_string(&lab.known_hosts).unwrap_or_default();
    assert!(
        known.contains("ssh-ed25519"),
        "the new key is recorded: {known}"
    );
    assert_serves(lab.host("h1")).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn check_and_diff_change_nothing_and_show_the_difference() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let host = lab.host("h1");
    let live = host.live();
    let (boma, check) = push(&lab, &["--check", "--diff"]);
    check
        .code(1)
        .stdout_has(&format!("--- h1:{} (live)", host.config.display()))
        .stdout_has("+app.h1.lab.test {")
        .stdout_has("would change");
    assert_eq!(host.live(), live);
    assert!(!host.state().join("lock").exists());
    assert!(audit(host).is_empty(), "--check writes no audit line");
    assert_eq!(
        std::fs::read_dir(host.state().join("backups")).map_or(0, Iterator::count),
        0,
        "--check makes no backup"
    );
    assert_eq!(loads(host), 0, "no config was sent to Caddy");

    boma.run_with(["caddy-push", "--diff"])
        .success()
        .stdout_has("+app.h1.lab.test {");
    let after = boma.run_with(["caddy-push", "--check"]);
    after.success().stdout_has("unchanged");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_dns_module_the_host_lacks_is_refused_before_anything_changes() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let host = lab.host("h1");
    let catalog = lab.catalog().replace(
        &format!("https_port = {}\n", host.https),
        &format!(
            "https_port = {}\ndns_challenge = {{ provider = \"gandi\", token_env = \"GANDI_BEARER_TOKEN\" }}\n",
            host.https
        ),
    );
    let live = host.live();
    let run = Boma::new().catalog(&catalog).args(["caddy-push"]).run();
    run.code(1).stdout_has("lacks module dns.providers.gandi");
    assert_eq!(host.live(), live);
    assert!(audit(host).is_empty());
}

/// Every running process whose command line mentions `needle`.
fn processes_mentioning(needle: &str) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        if let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) {
            let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
            if cmdline.contains(needle) {
                found.push(cmdline);
            }
        }
    }
    found
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_mid_run_leaves_no_temp_files_and_no_ssh_processes() {
    let Some(mut lab) = Lab::start(2).await else {
        return;
    };
    for host in &mut lab.hosts {
        host.reload = format!("sleep 2; {}", host.reload);
    }
    let boma = Boma::new().catalog(&lab.catalog());
    let temp = boma.path().join("t");
    std::fs::create_dir(&temp).unwrap_or_else(|e| panic!("{e}"));
    let mut child = Command::new(env!("CARGO_BIN_EXE_boma"))
        .args(["caddy-push"])
        .current_dir(boma.path())
        .env("TMPDIR", &temp)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("{error}"));
    let deadline = Instant::now() + Duration::from_secs(20);
    while !lab
        .hosts
        .iter()
        .all(|host| host.state().join("lock").exists())
    {
        assert!(Instant::now() < deadline, "the pushes never started");
        std::thread::sleep(Duration::from_millis(20));
    }
    assert!(
        !processes_mentioning(&temp.to_string_lossy()).is_empty(),
        "ssh runs through the private control folder"
    );
    run("kill", &["-INT", &child.id().to_string()]);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(status) = child.try_wait().unwrap_or_else(|e| panic!("{e}")) {
            break status;
        }
        assert!(Instant::now() < deadline, "boma did not stop on SIGINT");
        std::thread::sleep(Duration::from_millis(20));
    };
    let mut stderr = String::new();
    if let Some(mut pipe) = child.stderr.take() {
        use std::io::Read;
        let _ = pipe.read_to_string(&mut stderr);
    }
    assert_eq!(status.code(), Some(130), "{stderr}");
    assert!(stderr.contains("interrupted"), "{stderr}");
    assert!(
        processes_mentioning(&temp.to_string_lossy()).is_empty(),
        "{:?}",
        processes_mentioning(&temp.to_string_lossy())
    );
    assert!(
        std::fs::read_dir(&temp).map_or(0, Iterator::count) == 0,
        "the control folder is removed"
    );
    // The scripts notice the closed connection at their next step and clean up.
    let deadline = Instant::now() + Duration::from_secs(15);
    while lab.hosts.iter().any(|host| !host.leftovers().is_empty()) {
        let left: Vec<String> = lab.hosts.iter().flat_map(TestHost::leftovers).collect();
        assert!(Instant::now() < deadline, "left on the hosts: {left:?}");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_local_host_runs_the_same_steps_without_ssh() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let host = lab.host("h1");
    let catalog = lab.catalog().replace(
        "address = \"127.0.0.1\"",
        "address = \"local\"\nip = \"127.0.0.1\"",
    );
    let boma = Boma::new()
        .catalog(&catalog)
        .env("XDG_STATE_HOME", host.home.join(".local/state"))
        .args(["caddy-push"]);
    boma.run().success().stdout_has("changed");
    assert_serves(host).await;
    assert_eq!(audit(host).len(), 1);
    boma.run().success().stdout_has("unchanged");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_user_with_only_the_needed_sudo_commands_can_push() {
    if !can_add_sudoers() {
        return;
    }
    let user = "bomadeploy";
    let spec = HostSpec {
        user: Some(user.to_string()),
    };
    let Some(lab) = Lab::with_hosts(&[spec]).await else {
        return;
    };
    let host = lab.host("h1");
    // The live file readable by the deploy group only; sudo allows exactly the push's commands.
    let sudoers = push_sudoers(host, user);

    let (boma, first) = push(&lab, &[]);
    first.success().stdout_has("changed");
    assert_serves(host).await;
    let meta = std::fs::metadata(&host.config).unwrap_or_else(|e| panic!("{e}"));
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.mode() & 0o7777, 0o640, "mode kept");
        assert_eq!(meta.uid(), 0, "owner kept");
        let group = run("id", &["-g", user]);
        assert_eq!(meta.gid().to_string(), group.trim(), "group kept");
    }
    assert_eq!(audit(host).len(), 1);
    assert!(host.leftovers().is_empty(), "{:?}", host.leftovers());
    boma.run().success().stdout_has("unchanged");

    // Without the reload entry sudo refuses, and the push fails clearly instead of hanging.
    sudoers.without_reload();
    let before = host.live();
    let mut changed = lab.catalog();
    changed.push_str("description = \"changed\"\n");
    let refused = Boma::new().catalog(&changed).args(["caddy-push"]).run();
    refused
        .code(1)
        .stdout_has("the reload failed")
        .stdout_has("sudo: a password is required");
    assert_eq!(host.live(), before, "the previous Caddyfile is back");
    assert_serves(host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn backups_keep_the_last_five_and_audit_lines_name_the_operator_and_revision() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let host = lab.host("h1");
    let boma = Boma::new().catalog(&lab.catalog());
    let git = |args: &[&str]| {
        let mut all = vec![
            "-C",
            boma.path().to_str().unwrap_or("."),
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.org",
        ];
        all.extend_from_slice(args);
        run("git", &all).trim().to_string()
    };
    git(&["init", "-q"]);
    git(&["add", "services.toml"]);
    git(&["commit", "-q", "-m", "catalog"]);
    let commit = git(&["rev-parse", "--short=12", "HEAD"]);
    boma.run_with(["caddy-push"]).success();
    for round in 1..=6 {
        let catalog = format!("{}description = \"round {round}\"\n", lab.catalog());
        std::fs::write(boma.path().join("services.toml"), catalog)
            .unwrap_or_else(|e| panic!("{e}"));
        boma.run_with(["caddy-push"])
            .success()
            .stdout_has("changed");
    }
    let backups: Vec<String> = std::fs::read_dir(host.state().join("backups"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(backups.len(), 5, "{backups:?}");
    // The newest backup is the previous live file: round 5's Caddyfile.
    let newest = backups
        .iter()
        .max()
        .map(|name| host.state().join("backups").join(name));
    let content = newest
        .map(std::fs::read_to_string)
        .and_then(Result::ok)
        .unwrap_or_default();
    assert!(content.contains("round 5"), "{content}");
    let lines = audit(host);
    assert_eq!(lines.len(), 7, "{lines:?}");
    assert!(lines[0].contains(&format!("rev={commit} ")), "{}", lines[0]);
    assert!(
        lines[1].contains(&format!("rev={commit}+dirty ")),
        "{}",
        lines[1]
    );
    assert!(
        lines
            .iter()
            .all(|line| line.contains(" user=") && line.contains("@"))
    );
    assert_serves(host).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn named_hosts_are_the_only_ones_touched_and_unknown_names_are_refused() {
    let Some(lab) = Lab::start(2).await else {
        return;
    };
    let untouched = lab.host("h1").live();
    let (boma, run) = push(&lab, &["h2", "--parallel", "1", "--output", "json"]);
    run.success();
    let report = run.json();
    assert_eq!(
        report["hosts"].as_array().map(Vec::len),
        Some(1),
        "{report}"
    );
    assert_eq!(entry(&report, "h2")["status"], "changed");
    assert_eq!(lab.host("h1").live(), untouched);
    assert_serves(lab.host("h2")).await;

    boma.run_with(["caddy-push", "h3"])
        .code(2)
        .stderr_has("error: host `h3` is not in the catalog")
        .stderr_has("hint: did you mean `h1`? hosts: h1, h2");
    assert_eq!(lab.host("h1").live(), untouched);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_snippet_caddy_rejects_stops_the_push_with_its_words_and_the_live_file_untouched() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let host = lab.host("h1");
    push(&lab, &[]).0.run().success();
    assert_serves(host).await;
    let live = host.live();

    // The escape hatch is validated with the whole file: a directive this Caddy does not have
    // (a plugin's, say) is refused on the host before anything is installed.
    let catalog = lab.catalog().replace(
        "names = [\"app.h1.lab.test\"]\n",
        "names = [\"app.h1.lab.test\"]\ncaddy = \"\"\"\nlayer4_route tcp/443\n\"\"\"\n",
    );
    assert_ne!(catalog, lab.catalog());
    let run = Boma::new()
        .catalog(&catalog)
        .args(["caddy-push", "--diff"])
        .run();
    run.code(1)
        .stdout_has("caddy validate rejected the new Caddyfile")
        .stdout_has("unrecognized directive: layer4_route")
        .stdout_has("+\tlayer4_route tcp/443");
    assert_eq!(host.live(), live, "the live file must be byte-identical");
    assert!(host.leftovers().is_empty(), "{:?}", host.leftovers());
    assert_serves(host).await;
}
