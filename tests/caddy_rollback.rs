//! `caddy-push --history` and `--rollback` against real hosts: an sshd per host on loopback, each
//! with a running Caddy, after pushes of catalogs whose upstreams answer differently, so what
//! Caddy serves shows which Caddyfile is live.

use crate::support::lab::{Lab, TestHost, audit_lines};
use crate::support::{Boma, Run, free_port, snapshot};

/// A backend for every host of one round: it answers `round N` to anything.
async fn round_backend(round: usize) -> wiremock::MockServer {
    let backend = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(
            wiremock::ResponseTemplate::new(200).set_body_string(format!("round {round}")),
        )
        .mount(&backend)
        .await;
    backend
}

/// The lab's catalog with every service proxied to `backend`.
fn catalog_to(lab: &Lab, backend: &wiremock::MockServer) -> String {
    let mut catalog = lab.catalog();
    for host in &lab.hosts {
        catalog = catalog.replace(
            &format!("upstream = \"{}\"", host.backend),
            &format!("upstream = \"{}\"", backend.uri()),
        );
    }
    catalog
}

/// Writes `catalog` as the folder's `services.toml` and pushes it.
fn push(boma: &Boma, catalog: &str) {
    std::fs::write(boma.path().join("services.toml"), catalog).unwrap_or_else(|e| panic!("{e}"));
    boma.run_with(["caddy-push"])
        .success()
        .stdout_has("changed");
}

/// What a snapshot must not show beyond the shared filters: the times and short sha256s in
/// backup names and tables.
fn snapshot_backups(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"\b\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", "[TIME]");
    settings.add_filter(r"\b[0-9a-f]{12}\b", "[SHORT SHA]");
    settings.bind(|| snapshot(name, text));
}

async fn assert_serves(host: &TestHost, body: &str) {
    assert_eq!(
        host.get("/").await,
        Some((200, body.to_string())),
        "{}",
        host.caddy_log()
    );
}

fn sha256(bytes: &[u8]) -> String {
    let output = std::process::Command::new("sha256sum")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            if let Some(mut stdin) = child.stdin.take() {
                std::io::Write::write_all(&mut stdin, bytes)?;
            }
            child.wait_with_output()
        })
        .unwrap_or_else(|e| panic!("sha256sum: {e}"));
    String::from_utf8_lossy(&output.stdout)
        .split_whitespace()
        .next()
        .unwrap_or_default()
        .to_string()
}

/// The names in a host's backups folder, sorted.
fn backups(host: &TestHost) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(host.state().join("backups"))
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[tokio::test(flavor = "multi_thread")]
async fn rollbacks_put_back_earlier_pushes_and_check_then_shows_the_drift() {
    let Some(lab) = Lab::start(2).await else {
        return;
    };
    let boma = Boma::new().catalog(&lab.catalog());
    let mut rounds = Vec::new();
    let mut lives = Vec::new();
    for round in 1..=3 {
        let backend = round_backend(round).await;
        push(&boma, &catalog_to(&lab, &backend));
        rounds.push(backend);
        lives.push(lab.hosts.iter().map(TestHost::live).collect::<Vec<_>>());
    }
    for host in &lab.hosts {
        assert_serves(host, "round 3").await;
    }

    // Each host keeps what every push replaced: the lab's first file, round 1, round 2.
    let history = boma.run_with(["caddy-push", "--history"]);
    history
        .success()
        .stderr_has("caddy-push --history: 6 backups on 2 hosts");
    snapshot_backups(
        "caddy_rollback__history_after_three_pushes",
        &history.stdout,
    );
    // `--host NAME` names a host as a positional HOST does: the same listing.
    let flagged = boma.run_with([
        "caddy-push",
        "--history",
        "--host",
        "h1",
        "--output",
        "json",
    ]);
    let listed = boma.run_with(["caddy-push", "--history", "h1", "--output", "json"]);
    assert_eq!(flagged.stdout, listed.stdout);
    listed.success();
    snapshot_backups("caddy_rollback__history_json", &listed.stdout);

    let first = boma.run_with(["caddy-push", "--rollback"]);
    first
        .success()
        .stderr_has("caddy-push --rollback 1: 2 rolled back");
    snapshot_backups("caddy_rollback__rollback_table", &first.stdout);
    for (index, host) in lab.hosts.iter().enumerate() {
        assert_eq!(host.live(), lives[1][index], "round 2's Caddyfile is live");
        assert_serves(host, "round 2").await;
        assert!(host.leftovers().is_empty(), "{:?}", host.leftovers());
        let last = audit_lines(&host.state()).pop().unwrap_or_default();
        assert!(
            last.contains(&format!(
                " result=rollback old={} new={}",
                sha256(&lives[2][index]),
                sha256(&lives[1][index])
            )) && last.contains(" user="),
            "{last}"
        );
    }

    // Round 2's copy is the live file now and is skipped: 1 is round 3, 2 is round 1.
    let second = boma.run_with(["caddy-push", "--rollback", "2", "--output", "json"]);
    second.success();
    snapshot_backups("caddy_rollback__rollback_json", &second.stdout);
    for (index, host) in lab.hosts.iter().enumerate() {
        assert_eq!(host.live(), lives[0][index], "round 1's Caddyfile is live");
        assert_serves(host, "round 1").await;
        assert_eq!(backups(host).len(), 5, "the last 5 are kept");
    }
    let history = boma.run_with(["caddy-push", "--history"]);
    history.success();
    snapshot_backups(
        "caddy_rollback__history_after_two_rollbacks",
        &history.stdout,
    );

    // The catalog still says round 3: the rollback is drift.
    let check = boma.run_with(["caddy-push", "--check"]);
    check.code(1).stderr_has("caddy-push: 2 would change");
    snapshot("caddy_rollback__check_after_rollback", &check.stdout);
    for host in &lab.hosts {
        assert_serves(host, "round 1").await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_whose_reload_fails_puts_the_live_file_back() {
    let Some(mut lab) = Lab::start(1).await else {
        return;
    };
    let home_port = lab.host("h1").https;
    let away_port = free_port();
    // First a Caddyfile on another HTTPS port, then the usual one over it.
    lab.host_mut("h1").https = away_port;
    let boma = Boma::new().catalog(&lab.catalog());
    boma.run_with(["caddy-push"]).success();
    let away_file = lab.host("h1").live();
    lab.host_mut("h1").https = home_port;
    push(&boma, &lab.catalog());
    let host = lab.host("h1");
    let live = host.live();
    let kept = backups(host);
    let audited = audit_lines(&host.state()).len();
    // The backup validates but cannot load: its HTTPS port is taken once Caddy has let it go.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    let taken = loop {
        match std::net::TcpListener::bind(("127.0.0.1", away_port)) {
            Ok(listener) => break listener,
            Err(error) => {
                assert!(std::time::Instant::now() < deadline, "{error}");
                std::thread::sleep(std::time::Duration::from_millis(50));
            }
        }
    };

    let failed = boma.run_with(["caddy-push", "--rollback", "--output", "json"]);
    failed
        .code(1)
        .stderr_has("caddy-push --rollback 1: 1 failed");
    let report = failed.json();
    let entry = &report["hosts"][0];
    assert_eq!(entry["status"], "failed", "{report}");
    assert_eq!(
        entry["reason"],
        "the reload failed; the Caddyfile that was live is back and reloaded"
    );
    assert!(
        entry["details"]
            .to_string()
            .contains("address already in use"),
        "{report}"
    );
    assert_eq!(host.live(), live, "the file that was live is back");
    assert_eq!(backups(host), kept, "the backups are as they were");
    assert!(host.leftovers().is_empty(), "{:?}", host.leftovers());
    assert_serves(host, &format!("hello from {}", host.name)).await;
    let lines = audit_lines(&host.state());
    assert_eq!(lines.len(), audited + 1, "{lines:?}");
    assert!(
        lines.last().is_some_and(|line| line.contains(&format!(
            " result=rollback-reverted old={} new={}",
            sha256(&live),
            sha256(&away_file)
        ))),
        "{lines:?}"
    );

    // With the port free again the same rollback goes through, and Caddy serves there.
    drop(taken);
    boma.run_with(["caddy-push", "--rollback"])
        .success()
        .stdout_has("rolled back");
    lab.host_mut("h1").https = away_port;
    assert_serves(lab.host("h1"), "hello from h1").await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_rollback_beyond_the_kept_backups_is_an_error_and_changes_nothing() {
    let Some(lab) = Lab::start(2).await else {
        return;
    };
    let boma = Boma::new().catalog(&lab.catalog());
    // h1 keeps one backup (the lab's first file); h2 was never pushed to and keeps none.
    boma.run_with(["caddy-push", "h1"]).success();
    let lives: Vec<Vec<u8>> = lab.hosts.iter().map(TestHost::live).collect();
    let audited = audit_lines(&lab.host("h1").state());

    let refused = boma.run_with(["caddy-push", "--rollback", "2"]);
    refused.code(2);
    snapshot_backups("caddy_rollback__too_few_table", &refused.stdout);
    snapshot("caddy_rollback__too_few_error", &refused.stderr);
    for (index, host) in lab.hosts.iter().enumerate() {
        assert_eq!(host.live(), lives[index], "the live file is untouched");
        assert!(host.leftovers().is_empty(), "{:?}", host.leftovers());
    }
    assert_eq!(audit_lines(&lab.host("h1").state()), audited);
    assert_eq!(backups(lab.host("h1")).len(), 1);
    assert!(
        !lab.host("h2").state().exists(),
        "a host without backups gets no state folder"
    );

    let one: Run = boma.run_with(["caddy-push", "h1", "--rollback", "2"]);
    one.code(2).stderr_has(
        "error: host `h1` keeps 1 backup, too few for `--rollback 2`; its live Caddyfile is untouched",
    );
    assert_eq!(lab.host("h1").live(), lives[0]);
}

#[tokio::test(flavor = "multi_thread")]
async fn rollback_and_history_refuse_the_plan_flags_and_each_other() {
    let boma = Boma::new().catalog(crate::support::ONE_SERVICE);
    for args in [
        ["--rollback", "--check"],
        ["--rollback", "--diff"],
        ["--history", "--check"],
        ["--history", "--diff"],
        ["--history", "--rollback"],
        ["--checksum=0123456789abcdef", "--history"],
    ] {
        let refused = boma.run_with(["caddy-push"].into_iter().chain(args));
        refused.code(2).stderr_has("cannot be used with");
    }
    let hosts_after = boma.run_with(["caddy-push", "--rollback", "indri"]);
    hosts_after
        .code(2)
        .stderr_has("invalid value 'indri' for '--rollback [<N>]': not a number; name hosts before it: `caddy-push indri --rollback`");
    boma.run_with(["caddy-push", "--rollback", "0"])
        .code(2)
        .stderr_has("invalid value '0' for '--rollback [<N>]': N counts the backups a host keeps, from 1 (boma keeps 5)");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_deploy_user_with_only_the_push_sudo_commands_can_roll_back() {
    if !crate::support::lab::can_add_sudoers() {
        return;
    }
    // Not the push test's user: the two tests may create theirs at the same time.
    let user = "bomarollback";
    let spec = crate::support::lab::HostSpec {
        user: Some(user.to_string()),
    };
    let Some(lab) = Lab::with_hosts(&[spec]).await else {
        return;
    };
    let host = lab.host("h1");
    // The README's list for a push, and nothing more.
    let _sudoers = crate::support::lab::push_sudoers(host, user);

    let boma = Boma::new().catalog(&lab.catalog());
    let first = round_backend(1).await;
    push(&boma, &catalog_to(&lab, &first));
    let pushed = host.live();
    let second = round_backend(2).await;
    push(&boma, &catalog_to(&lab, &second));
    assert_serves(host, "round 2").await;

    boma.run_with(["caddy-push", "--rollback"])
        .success()
        .stdout_has("rolled back");
    assert_eq!(host.live(), pushed);
    assert_serves(host, "round 1").await;
    let meta = std::fs::metadata(&host.config).unwrap_or_else(|e| panic!("{e}"));
    {
        use std::os::unix::fs::MetadataExt;
        assert_eq!(meta.mode() & 0o7777, 0o640, "mode kept");
        assert_eq!(meta.uid(), 0, "owner kept");
    }
    assert!(host.leftovers().is_empty(), "{:?}", host.leftovers());
}
