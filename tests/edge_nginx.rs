//! The edge's rendered nginx config, run by a real nginx on loopback in front of a local backend:
//! deny and allow prefixes, rate limits keyed on the client after realip, the Clacks header, and
//! hand-written CIDR bans; then the whole edge (nginx and a real fail2ban-server, started by the
//! rendered entrypoint) banning a client that fails to log in.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::lab::wait_for_port;
use crate::support::{Boma, Daemon, SHIPPED, free_port, require};

/// A scratch nginx prefix `P/` holding the rendered edge folder as `P/conf/`.
fn prefix_with(rendered: &Path, dir: &Path) -> PathBuf {
    let prefix = dir.join("prefix");
    for sub in ["conf/bans", "logs", "tmp", "run", "state", "cache"] {
        std::fs::create_dir_all(prefix.join(sub)).unwrap_or_else(|e| panic!("{e}"));
    }
    copy_tree(&rendered.join("edge"), &prefix.join("conf"));
    prefix
}

fn copy_tree(from: &Path, to: &Path) {
    for entry in std::fs::read_dir(from).into_iter().flatten().flatten() {
        let target = to.join(entry.file_name());
        if entry.path().is_dir() {
            std::fs::create_dir_all(&target).unwrap_or_else(|e| panic!("{e}"));
            copy_tree(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).unwrap_or_else(|e| panic!("{e}"));
        }
    }
}

fn nginx_test(nginx: &Path, prefix: &Path) -> (bool, String) {
    let output = Command::new(nginx)
        .args(["-t", "-q", "-p"])
        .arg(format!("{}/", prefix.display()))
        .args(["-c", "conf/nginx.conf"])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    (
        output.status.success(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn every_shipped_edge_passes_nginx_t() {
    let Some(nginx) = require("nginx") else {
        return;
    };
    let mut checked = 0;
    for catalog in SHIPPED {
        let boma = Boma::new()
            .shipped(catalog)
            .args(["render", "--out", "out"]);
        boma.run().success();
        if !boma.path().join("out/edge/nginx.conf").exists() {
            continue;
        }
        let prefix = prefix_with(&boma.path().join("out"), boma.path());
        let (ok, said) = nginx_test(&nginx, &prefix);
        assert!(ok, "{catalog}: nginx -t rejects the edge config:\n{said}");
        checked += 1;
    }
    assert!(checked > 0, "no shipped catalog has an edge");
}

/// The shipped catalog (with its hand-written CIDR ban), rendered, then pointed at loopback:
/// nginx listens on `port`, proxies to `backend` over plain HTTP, and trusts loopback as Fly's
/// proxy.
fn local_edge(dir: &Path, port: u16, backend: &str) -> PathBuf {
    let shipped =
        std::fs::read_to_string(crate::support::repo_file("services.toml")).unwrap_or_default();
    assert!(
        shipped.contains("198.51.100.0/24"),
        "the shipped catalog bans a block"
    );
    // The machine joins no tailnet here (its entrypoint runs on this host, which has no
    // Tailscale): the rendered image with the tailnet runs in `edge_image`.
    let start = shipped
        .find("[edge.tailnet]")
        .unwrap_or_else(|| panic!("the shipped edge joins a tailnet"));
    let end = start + shipped[start..].find("\n\n").unwrap_or(0);
    let without_tailnet = format!("{}{}", &shipped[..start], &shipped[end..]);
    let boma = Boma::new()
        .catalog(&without_tailnet)
        .args(["render", "--out", "out"]);
    boma.run().success();
    let prefix = prefix_with(&boma.path().join("out"), dir);
    let config = prefix.join("conf/nginx.conf");
    let rendered = std::fs::read_to_string(&config).unwrap_or_default();
    assert!(rendered.contains("listen 8080;"), "{rendered}");
    let local = rendered
        .replace("listen 8080", &format!("listen 127.0.0.1:{port}"))
        .replace("https://shower.ops.example.org", backend)
        .replace("set_real_ip_from fdaa::/16;", "set_real_ip_from 127.0.0.1;")
        .replace("worker_processes auto;", "worker_processes 1;");
    std::fs::write(&config, local).unwrap_or_else(|e| panic!("{e}"));
    prefix
}

/// GET `path` on shower.example.org through the edge, as `client` (Fly-Client-IP) when given.
async fn get(port: u16, path: &str, client: Option<&str>) -> (u16, String, Option<String>) {
    let http = reqwest::Client::new();
    let mut request = http
        .get(format!("http://127.0.0.1:{port}{path}"))
        .header("Host", "shower.example.org");
    if let Some(client) = client {
        request = request.header("Fly-Client-IP", client);
    }
    let response = request
        .send()
        .await
        .unwrap_or_else(|e| panic!("GET {path}: {e}"));
    let status = response.status().as_u16();
    let clacks = response
        .headers()
        .get("x-clacks-overhead")
        .and_then(|value| value.to_str().ok())
        .map(str::to_string);
    (status, response.text().await.unwrap_or_default(), clacks)
}

/// nginx (or the edge's entrypoint) stopped with SIGTERM first, so its master takes its workers
/// down with it (a SIGKILLed master leaves them running).
struct Graceful(Daemon);

impl Drop for Graceful {
    fn drop(&mut self) {
        let _ = Command::new("kill")
            .args(["-TERM", &self.0.0.id().to_string()])
            .status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline && matches!(self.0.0.try_wait(), Ok(None)) {
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_rendered_edge_denies_allows_limits_and_bans_in_a_real_nginx() {
    let Some(nginx) = require("nginx") else {
        return;
    };
    let backend = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("from the app"))
        .mount(&backend)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let port = free_port();
    let prefix = local_edge(dir.path(), port, &backend.uri());
    let (ok, said) = nginx_test(&nginx, &prefix);
    assert!(ok, "{said}");
    let _nginx = Graceful(Daemon(
        Command::new(&nginx)
            .arg("-p")
            .arg(format!("{}/", prefix.display()))
            .args(["-c", "conf/nginx.conf", "-g", "daemon off;"])
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    ));
    wait_for_port(port, "nginx");
    let clacks = Some("GNU Terry Pratchett".to_string());

    let (status, body, header) = get(port, "/", Some("203.0.113.9")).await;
    assert_eq!((status, body.as_str()), (200, "from the app"));
    assert_eq!(header, clacks, "the header is on a 200");

    let (status, body, header) = get(port, "/admin/users/", Some("203.0.113.9")).await;
    assert_eq!(
        (status, body.as_str()),
        (403, "The admin is reachable from the tailnet only.\n")
    );
    assert_eq!(header, clacks, "the header is on a 403");
    for sneaky in ["/admin/login/../users/", "/%61dmin/users/", "/host/x"] {
        assert_eq!(
            get(port, sneaky, Some("203.0.113.9")).await.0,
            403,
            "{sneaky}"
        );
    }

    // Allowed under a denied prefix, and rate limited at 3r/s with a burst of 10.
    let mut statuses = Vec::new();
    for _ in 0..16 {
        let (status, _, header) = get(port, "/admin/login/", Some("203.0.113.10")).await;
        assert_eq!(header, clacks, "the header is on every answer ({status})");
        statuses.push(status);
    }
    assert_eq!(statuses[0], 200, "{statuses:?}");
    assert!(statuses.contains(&429), "a burst is limited: {statuses:?}");
    // Another client is not limited by the first one's burst.
    assert_eq!(
        get(port, "/admin/login/", Some("203.0.113.11")).await.0,
        200
    );

    // Without Fly-Client-IP the proxy's own address is the client: limited too, never exempt.
    let mut direct = Vec::new();
    for _ in 0..16 {
        direct.push(get(port, "/admin/login/", None).await.0);
    }
    assert!(
        direct.contains(&429),
        "requests without the header are limited: {direct:?}"
    );

    // A hand-written CIDR ban.
    let started = Instant::now();
    assert_eq!(get(port, "/", Some("198.51.100.77")).await.0, 403);
    assert!(started.elapsed() < Duration::from_secs(5));
}

/// The rendered edge moved from `/srv/edge/` to a scratch prefix: every file where the machine
/// has it, nginx pointed at loopback as in [`local_edge`].
fn local_machine(dir: &Path, port: u16, backend: &str) -> (PathBuf, PathBuf) {
    let prefix = local_edge(dir, port, backend);
    let scratch = format!("{}/", prefix.display());
    // `local_edge` put the whole rendered folder in conf/: fail2ban/ and the entrypoint move out.
    let moved = |text: String| text.replace("/srv/edge/", &scratch);
    std::fs::create_dir_all(prefix.join("fail2ban")).unwrap_or_else(|e| panic!("{e}"));
    copy_tree(&prefix.join("conf/fail2ban"), &prefix.join("fail2ban"));
    let mut pending = vec![prefix.join("fail2ban")];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            if entry.path().is_dir() {
                pending.push(entry.path());
            } else {
                let text = std::fs::read_to_string(entry.path()).unwrap_or_default();
                std::fs::write(entry.path(), moved(text)).unwrap_or_else(|e| panic!("{e}"));
            }
        }
    }
    let entrypoint = prefix.join("entrypoint.sh");
    let text = std::fs::read_to_string(prefix.join("conf/entrypoint.sh")).unwrap_or_default();
    std::fs::write(&entrypoint, moved(text)).unwrap_or_else(|e| panic!("{e}"));
    (prefix, entrypoint)
}

async fn post(port: u16, path: &str, client: &str) -> u16 {
    reqwest::Client::new()
        .post(format!("http://127.0.0.1:{port}{path}"))
        .header("Host", "shower.example.org")
        .header("Fly-Client-IP", client)
        .body("username=admin&password=guess")
        .send()
        .await
        .map(|response| response.status().as_u16())
        .unwrap_or_else(|e| panic!("POST {path}: {e}"))
}

/// GETs `/` as `client` until it answers `want`, for at most `limit`.
async fn until(port: u16, client: &str, want: u16, limit: Duration) -> (u16, Duration) {
    let started = Instant::now();
    loop {
        let status = get(port, "/", Some(client)).await.0;
        if status == want || started.elapsed() > limit {
            return (status, started.elapsed());
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn five_failed_logins_get_a_client_banned_by_the_real_fail2ban() {
    let (Some(_), Some(_), Some(client)) = (
        require("nginx"),
        require("fail2ban-server"),
        require("fail2ban-client"),
    ) else {
        return;
    };
    let backend = wiremock::MockServer::start().await;
    wiremock::Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/admin/login/"))
        .respond_with(wiremock::ResponseTemplate::new(401).set_body_string("wrong password"))
        .mount(&backend)
        .await;
    wiremock::Mock::given(wiremock::matchers::any())
        .respond_with(wiremock::ResponseTemplate::new(200).set_body_string("from the app"))
        .mount(&backend)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let port = free_port();
    let (prefix, entrypoint) = local_machine(dir.path(), port, &backend.uri());
    let log = dir.path().join("entrypoint.log");
    let _edge = Graceful(Daemon(
        Command::new("bash")
            .arg(&entrypoint)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&log).unwrap_or_else(|e| panic!("{e}")))
            .stderr(
                std::fs::File::create(dir.path().join("entrypoint.err"))
                    .unwrap_or_else(|e| panic!("{e}")),
            )
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    ));
    wait_for_port(port, "the edge's nginx");
    let socket = prefix.join("run/fail2ban.sock");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !socket.exists() {
        let said = std::fs::read_to_string(dir.path().join("entrypoint.err")).unwrap_or_default();
        assert!(Instant::now() < deadline, "fail2ban did not start:\n{said}");
        std::thread::sleep(Duration::from_millis(100));
    }

    let (attacker, bystander) = ("203.0.113.20", "203.0.113.21");
    assert_eq!(get(port, "/", Some(attacker)).await.0, 200);
    for _ in 0..5 {
        assert_eq!(post(port, "/admin/login/", attacker).await, 401);
    }
    let (status, took) = until(port, attacker, 403, Duration::from_secs(15)).await;
    let said = std::fs::read_to_string(dir.path().join("entrypoint.err")).unwrap_or_default();
    assert_eq!(status, 403, "not banned after {took:?}:\n{said}");
    eprintln!("banned {took:?} after the fifth failure");
    assert_eq!(
        get(port, "/", Some(bystander)).await.0,
        200,
        "another client is not banned"
    );
    let map = std::fs::read_to_string(prefix.join("conf/bans/shower.map")).unwrap_or_default();
    assert_eq!(
        map,
        format!("{attacker} 1;\n"),
        "the ban is in the service's own map"
    );
    let forge = std::fs::read_to_string(prefix.join("conf/bans/forge.map")).unwrap_or_default();
    assert_eq!(forge, "", "another service's map is untouched");

    // Unbanning takes the line out again and nginx lets the client back in.
    let unban = Command::new(&client)
        .arg("-s")
        .arg(&socket)
        .args(["set", "shower", "unbanip", attacker])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        unban.status.success(),
        "{}",
        String::from_utf8_lossy(&unban.stderr)
    );
    let (status, _) = until(port, attacker, 200, Duration::from_secs(10)).await;
    assert_eq!(status, 200, "unbanned");
    assert_eq!(
        std::fs::read_to_string(prefix.join("conf/bans/shower.map")).unwrap_or_default(),
        ""
    );
}
