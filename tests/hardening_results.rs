//! Results that are right, in every output format, within bounds: a secret JSON or Markdown would
//! escape is masked there as in text; services whose names differ only by `-`, `_` or case get
//! bans of their own in a real nginx and fail2ban; a duration with a newline is a catalog error;
//! absurd waits are refused before anything is touched; flyctl is read in bounded memory,
//! stopped at its deadline and when the run is asked to stop.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::json;
use wiremock::matchers::any;
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::fly::{AUTH_KEY, FLYCTL_SECRETS, FlyApi, TOKEN};
use crate::support::lab::wait_for_port;
use crate::support::{Boma, Daemon, Run, finish_within, free_port, repo_file, require, snapshot};

// 1. Masking covers every output format.

/// A PowerDNS key made of what JSON and Markdown escape, as a header can carry it: a quote, a
/// backslash, a pipe, a tab, non-ASCII letters and spaces.
const PDNS_KEY: &str = "Qz\"8\\Kp|Wt\tVé🔑 Jx";
/// A Fly token with a newline and an escape character, which no header carries: it is read (and
/// refused) by the edge stage of the same run.
const FLY_TOKEN: &str = "Fv\"3\\Rm\nYq\x1bHé🔑 Ld|9";
/// A secret file's value, one line, echoed by another secret's failing command.
const FILE_SECRET: &str = "Sa\"5\\Nb\x1bGc|Pé🔑 Tm\tXy";

/// The forms `window` may take in boma's output: as is, JSON-escaped (by boma or by an API that
/// echoed it), and as a Markdown table cell writes it.
fn forms(window: &str) -> Vec<String> {
    let json = serde_json::to_string(window).unwrap_or_default();
    vec![
        window.to_string(),
        json[1..json.len() - 1].to_string(),
        window.replace('|', "\\|").replace('\n', " "),
    ]
}

/// The first piece of `secret` (any five characters of it, in any of its forms) found in `text`.
fn leaked(text: &str, secret: &str) -> Option<String> {
    let chars: Vec<char> = secret.chars().collect();
    chars
        .windows(5)
        .flat_map(|window| forms(&window.iter().collect::<String>()))
        .find(|form| text.contains(form.as_str()))
}

#[track_caller]
fn assert_masked(run: &Run, secrets: &[&str]) {
    for secret in secrets {
        for text in [&run.stdout, &run.stderr] {
            if let Some(piece) = leaked(text, secret) {
                panic!(
                    "`{}` of a secret was printed:\n{text}",
                    piece.escape_debug()
                );
            }
        }
    }
}

#[test]
fn the_leak_check_finds_every_form_of_a_secret() {
    // The control for every absence asserted below: each form boma could print is found.
    for secret in [PDNS_KEY, FLY_TOKEN, FILE_SECRET] {
        let escaped = serde_json::to_string(secret).unwrap_or_default();
        let cell = secret.replace('|', "\\|").replace('\n', " ");
        for text in [format!("x {secret} y"), escaped, cell] {
            assert!(leaked(&text, secret).is_some(), "{text:?}");
        }
        assert_eq!(leaked("[redacted]", secret), None);
    }
}

#[test]
fn a_secret_a_failing_command_echoes_is_masked_in_json_as_in_text() {
    // `b` echoes the secret `a` in its error; `c` echoes it where its error line is cut short.
    let secrets = r#"[secrets]
a = { file = "a.txt" }
b = { command = ["sh", "-c", "printf 'cannot use %s\n' \"$(cat a.txt)\" >&2; exit 3"] }
c = { command = ["sh", "-c", "printf '%0190d %s\n' 0 \"$(cat a.txt)\" >&2; exit 3"] }
[dns]"#;
    let catalog = crate::support::ONE_SERVICE.replace("[dns]", secrets);
    let boma = Boma::new().catalog(&catalog).file("a.txt", FILE_SECRET);
    let text = boma.run_with(["check", "--secrets"]);
    text.code(2)
        .stderr_has("cannot use [redacted]")
        .stderr_has("0000 [redacted");
    assert_masked(&text, &[FILE_SECRET]);
    let json = boma.run_with(["check", "--secrets", "--output", "json"]);
    json.code(2);
    assert_masked(&json, &[FILE_SECRET]);
    snapshot(
        "hardening_results__echoed_secret_check",
        &format!("{}\n--- stderr\n{}", json.stdout, text.stderr),
    );
}

/// A catalog whose DNS is a PowerDNS at `dns_url` and whose edge token is `FLY_TOKEN`.
fn echo_catalog(dns_url: &str) -> String {
    format!(
        "version = 1\n[secrets]\npdns = {{ env = \"PDNS_KEY\" }}\nfly = {{ env = \"FLY_TOKEN\" }}\n\
         [dns]\nprovider = \"powerdns\"\nzone = \"example.org\"\ncredentials = \"pdns\"\nurl = \"{dns_url}\"\n\
         [hosts.indri]\naddress = \"indri.tail.ts.net\"\nip = \"192.0.2.1\"\n\
         [edge]\napp = \"example-proxy\"\ntarget = \"example-proxy.fly.dev\"\ntoken = \"fly\"\nresolver = \"100.100.100.100\"\n\
         api_url = \"http://127.0.0.1:9/v1\"\n\
         [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:80\"\n\
         names = [\"app.ops.example.org\"]\npublic = [\"app.example.org\"]\n\
         [services.app.edge]\ndeny = [\"/admin/\"]\n"
    )
}

/// `boma plan` of the DNS and edge stages in every format, against a PowerDNS that answers
/// every request with `answer`; each run checked for both secrets.
async fn plan_everywhere(answer: ResponseTemplate) -> Vec<Run> {
    let api = MockServer::start().await;
    Mock::given(any()).respond_with(answer).mount(&api).await;
    let boma = Boma::new()
        .catalog(&echo_catalog(&api.uri()))
        .env("PDNS_KEY", PDNS_KEY)
        .env("FLY_TOKEN", FLY_TOKEN);
    let plan = ["plan", "--only", "dns,edge"];
    let runs: Vec<Run> = [
        vec![],
        vec!["-v"],
        vec!["--output", "json"],
        vec!["--output", "markdown"],
    ]
    .into_iter()
    .map(|extra| boma.run_with(extra.into_iter().chain(plan)))
    .collect();
    // The key reached the server: the answers below did echo it.
    let received = api.received_requests().await.unwrap_or_default();
    assert!(!received.is_empty());
    for request in &received {
        let key = request
            .headers
            .get("x-api-key")
            .map(|value| value.as_bytes());
        assert_eq!(key, Some(PDNS_KEY.as_bytes()));
    }
    for run in &runs {
        run.code(2);
        assert_masked(run, &[PDNS_KEY, FLY_TOKEN]);
    }
    runs
}

/// The DNS stage's error as each format shows it: the echoed secrets masked in place.
fn dns_errors(runs: &[Run]) -> String {
    let json = runs[2].json();
    let stages = json["stages"].as_array().cloned().unwrap_or_default();
    let dns = stages
        .iter()
        .find(|stage| stage["name"] == "dns")
        .map(|stage| stage["error"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default();
    let line = |text: &str, needle: &str| {
        text.lines()
            .find(|line| line.contains(needle))
            .unwrap_or_default()
            .to_string()
    };
    format!(
        "text: {}\njson: {dns}\nmarkdown: {}\n",
        line(&runs[0].stdout, "powerdns: GET"),
        line(&runs[3].stdout, "| dns |"),
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_an_api_echoes_raw_are_masked_in_json_and_markdown_too() {
    if require("nginx").is_none() || require("fail2ban-regex").is_none() {
        return;
    }
    let body = format!("Invalid key {PDNS_KEY}; the edge token is {FLY_TOKEN}");
    let runs = plan_everywhere(ResponseTemplate::new(401).set_body_string(body)).await;
    snapshot("hardening_results__echoed_raw", &dns_errors(&runs));
}

#[tokio::test(flavor = "multi_thread")]
async fn secrets_an_api_echoes_json_escaped_are_masked_in_every_format() {
    if require("nginx").is_none() || require("fail2ban-regex").is_none() {
        return;
    }
    // As a JSON API writes them back: quote, backslash, tab and newline escaped; and as an API
    // that writes ASCII only (`\u00e9`, surrogate pairs) does.
    let message = format!("Invalid key {PDNS_KEY}; the edge token is {FLY_TOKEN}");
    let escaped = serde_json::to_string(&json!({ "error": message })).unwrap_or_default();
    let ascii: String = escaped
        .encode_utf16()
        .map(|unit| match unit {
            0x20..=0x7e => char::from(unit as u8).to_string(),
            unit => format!("\\u{unit:04x}"),
        })
        .collect();
    for body in [escaped, ascii] {
        let runs = plan_everywhere(
            ResponseTemplate::new(401).set_body_raw(body.into_bytes(), "application/json"),
        )
        .await;
        snapshot("hardening_results__echoed_escaped", &dns_errors(&runs));
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn an_escaped_token_cut_by_the_excerpt_leaves_no_piece() {
    // The escaped key straddles the 300-character excerpt of the error body.
    let api = MockServer::start().await;
    let message = format!("{}{PDNS_KEY} is not a valid key", "x".repeat(280));
    let body = serde_json::to_string(&json!({ "error": message })).unwrap_or_default();
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401).set_body_raw(body, "application/json"))
        .mount(&api)
        .await;
    let boma = Boma::new()
        .catalog(&echo_catalog(&api.uri()))
        .env("PDNS_KEY", PDNS_KEY);
    let run = boma.run_with(["dns-preview"]);
    run.code(2).stderr_has("status 401");
    assert_masked(&run, &[PDNS_KEY]);
    assert!(run.stderr.contains("xxxx[redacted]"), "{}", run.stderr);
}

// 2. Every service gets identifiers of its own at the edge.

/// Four banned services whose names nginx would fold together (`-` and `_`, upper and lower
/// case), each with its own public name, failing on `/login/` with one 401.
fn look_alike_catalog() -> String {
    let mut catalog = String::from(
        "version = 1\n[secrets]\nfly = { env = \"FLY_API_TOKEN\" }\n\
         [dns]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"example.org.zone\"\n\
         [hosts.indri]\naddress = \"indri.example.net\"\n\
         [edge]\napp = \"example-proxy\"\ntarget = \"example-proxy.fly.dev\"\ntoken = \"fly\"\nresolver = \"100.100.100.100\"\n",
    );
    for (service, public) in LOOK_ALIKES {
        catalog.push_str(&format!(
            "[services.{service}]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:8000\"\n\
             names = [\"{public}.ops.example.org\"]\npublic = [\"{public}.example.org\"]\n\
             [services.{service}.edge]\nrate_limit = {{ rate = \"50r/s\", burst = 50, paths = [\"/\"] }}\n\
             ban = {{ paths = [\"/login/\"], statuses = [401], maxretry = 1, findtime = \"10m\", bantime = \"1h\" }}\n"
        ));
    }
    catalog
}

const LOOK_ALIKES: [(&str, &str); 4] = [
    ("a-b", "dash"),
    ("a_b", "underscore"),
    ("App", "upper"),
    ("app", "lower"),
];

/// The rendered edge laid out under a scratch prefix as on the machine, nginx on loopback `port`
/// proxying every service to `backend` and trusting loopback as Fly's proxy; returns the prefix
/// and the entrypoint.
fn look_alike_machine(dir: &Path, port: u16, backend: &str) -> (PathBuf, PathBuf) {
    let boma = Boma::new()
        .catalog(&look_alike_catalog())
        .args(["render", "--out", "out"]);
    boma.run().success();
    let prefix = dir.join("prefix");
    let scratch = format!("{}/", prefix.display());
    let rendered = boma.path().join("out/edge");
    for sub in ["conf/bans", "logs", "tmp", "run"] {
        std::fs::create_dir_all(prefix.join(sub)).unwrap_or_else(|e| panic!("{e}"));
    }
    let mut pending = vec![rendered.clone()];
    while let Some(folder) = pending.pop() {
        for entry in std::fs::read_dir(&folder).into_iter().flatten().flatten() {
            let path = entry.path();
            if path.is_dir() {
                pending.push(path);
                continue;
            }
            let local = path
                .strip_prefix(&rendered)
                .unwrap_or_else(|e| panic!("{e}"))
                .display()
                .to_string();
            let target = if local.starts_with("fail2ban/") || local == "entrypoint.sh" {
                prefix.join(&local)
            } else {
                prefix.join("conf").join(&local)
            };
            let mut text = std::fs::read_to_string(&path)
                .unwrap_or_default()
                .replace("/srv/edge/", &scratch);
            if local == "nginx.conf" {
                text = text
                    .replace("listen 8080", &format!("listen 127.0.0.1:{port}"))
                    .replace("set_real_ip_from fdaa::/16;", "set_real_ip_from 127.0.0.1;")
                    .replace("worker_processes auto;", "worker_processes 1;");
                for (_, public) in LOOK_ALIKES {
                    text = text.replace(&format!("https://{public}.ops.example.org"), backend);
                }
            }
            if let Some(parent) = target.parent() {
                std::fs::create_dir_all(parent).unwrap_or_else(|e| panic!("{e}"));
            }
            std::fs::write(&target, text).unwrap_or_else(|e| panic!("{e}"));
        }
    }
    let entrypoint = prefix.join("entrypoint.sh");
    (prefix, entrypoint)
}

/// The status of `method /path` on `public`.example.org through the edge, as `client`.
async fn status(port: u16, method: &str, public: &str, path: &str, client: &str) -> u16 {
    let method = reqwest::Method::from_bytes(method.as_bytes()).unwrap_or(reqwest::Method::GET);
    reqwest::Client::new()
        .request(method, format!("http://127.0.0.1:{port}{path}"))
        .header("Host", format!("{public}.example.org"))
        .header("Fly-Client-IP", client)
        .send()
        .await
        .map(|response| response.status().as_u16())
        .unwrap_or_else(|e| panic!("{public}{path}: {e}"))
}

/// What each service answers `client` on `/`, as `public=status` pairs.
async fn answers(port: u16, client: &str) -> Vec<String> {
    let mut shown = Vec::new();
    for (_, public) in LOOK_ALIKES {
        let status = status(port, "GET", public, "/", client).await;
        shown.push(format!("{public}={status}"));
    }
    shown
}

/// What each service answers `client` once it answers `expected` (nginx's old worker may answer
/// for a moment after a reload), or after 10 s.
async fn settled(port: u16, client: &str, expected: [&str; 4]) -> Vec<String> {
    let started = Instant::now();
    loop {
        let shown = answers(port, client).await;
        if shown == expected || started.elapsed() > Duration::from_secs(10) {
            return shown;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// Fails once on `public`'s ban path as `client`, then waits until that service bans it.
async fn get_banned(port: u16, public: &str, client: &str, stderr: &Path) {
    assert_eq!(status(port, "POST", public, "/login/", client).await, 401);
    let started = Instant::now();
    while status(port, "GET", public, "/", client).await != 403 {
        let said = std::fs::read_to_string(stderr).unwrap_or_default();
        assert!(
            started.elapsed() < Duration::from_secs(15),
            "{client} was not banned from {public}:\n{said}"
        );
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

/// The entrypoint stopped with SIGTERM, so it takes nginx and fail2ban down with it.
struct Edge(Daemon);

impl Drop for Edge {
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
async fn services_whose_names_differ_in_dash_underscore_or_case_ban_on_their_own() {
    if require("nginx").is_none()
        || require("fail2ban-server").is_none()
        || require("fail2ban-client").is_none()
    {
        return;
    }
    let backend = MockServer::start().await;
    Mock::given(wiremock::matchers::method("POST"))
        .and(wiremock::matchers::path("/login/"))
        .respond_with(ResponseTemplate::new(401))
        .mount(&backend)
        .await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&backend)
        .await;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let port = free_port();
    let (prefix, entrypoint) = look_alike_machine(dir.path(), port, &backend.uri());
    let stderr = dir.path().join("entrypoint.err");
    let _edge = Edge(Daemon(
        Command::new("bash")
            .arg(&entrypoint)
            .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&stderr).unwrap_or_else(|e| panic!("{e}")))
            .spawn()
            .unwrap_or_else(|e| panic!("{e}")),
    ));
    wait_for_port(port, "the edge's nginx");
    let deadline = Instant::now() + Duration::from_secs(20);
    while !prefix.join("run/fail2ban.sock").exists() {
        let said = std::fs::read_to_string(&stderr).unwrap_or_default();
        assert!(Instant::now() < deadline, "fail2ban did not start:\n{said}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let (first, second) = ("203.0.113.30", "203.0.113.31");
    assert_eq!(
        answers(port, first).await,
        ["dash=200", "underscore=200", "upper=200", "lower=200"]
    );
    get_banned(port, "dash", first, &stderr).await;
    get_banned(port, "upper", second, &stderr).await;
    let maps = || {
        let said = std::fs::read_to_string(&stderr).unwrap_or_default();
        let mut shown = String::new();
        for (service, _) in LOOK_ALIKES {
            let path = prefix.join(format!("conf/bans/{service}.map"));
            let map = std::fs::read_to_string(path).unwrap_or_default();
            shown.push_str(&format!("bans/{service}.map: {map:?}\n"));
        }
        let nginx = std::fs::read_to_string(prefix.join("logs/error.log")).unwrap_or_default();
        format!("{shown}{said}\n--- nginx\n{nginx}")
    };
    let expected = ["dash=403", "underscore=200", "upper=200", "lower=200"];
    assert_eq!(
        settled(port, first, expected).await,
        expected,
        "a ban on `a-b` bans from `a-b` alone\n{}",
        maps()
    );
    let expected = ["dash=200", "underscore=200", "upper=403", "lower=200"];
    assert_eq!(
        settled(port, second, expected).await,
        expected,
        "a ban on `App` bans from `App` alone\n{}",
        maps()
    );
}

// 3. A duration is one line.

/// A service `name` served through the edge, with `edge` as its edge table's body.
fn edge_service(name: &str, edge: &str) -> String {
    format!(
        "[services.{name}]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:8000\"\n\
         names = [\"{name}.ops.example.org\"]\npublic = [\"{name}.example.org\"]\n\
         [services.{name}.edge]\n{edge}\n"
    )
}

#[test]
fn durations_with_a_newline_or_other_whitespace_inside_are_catalog_errors() {
    let ban = |findtime: &str, bantime: &str| {
        format!(
            "ban = {{ paths = [\"/login/\"], statuses = [401], maxretry = 3, findtime = \"{findtime}\", bantime = \"{bantime}\" }}"
        )
    };
    let backup = |name: &str, max_age: &str| {
        format!(
            "[services.{name}]\n[services.{name}.backup]\ntool = \"borg\"\nrepository = \"/r\"\nmax_age = \"{max_age}\"\n"
        )
    };
    let head = "version = 1\n[secrets]\nfly = { env = \"FLY_API_TOKEN\" }\n\
         [dns]\nprovider = \"zonefile\"\nzone = \"example.org\"\npath = \"example.org.zone\"\n\
         [hosts.indri]\naddress = \"indri.example.net\"\n\
         [edge]\napp = \"example-proxy\"\ntarget = \"example-proxy.fly.dev\"\ntoken = \"fly\"\nresolver = \"100.100.100.100\"\n";
    // TOML escapes: each value holds a real newline, tab, carriage return or line separator.
    let catalog = |findtime: &str, bantime: &str, rate: &str, ages: [&str; 2]| {
        [
            head.to_string(),
            edge_service("a", &ban(findtime, "1h")),
            edge_service("b", &ban("10m", bantime)),
            edge_service(
                "c",
                &format!("rate_limit = {{ rate = \"{rate}\", paths = [\"/\"] }}"),
            ),
            backup("d", ages[0]),
            backup("e", ages[1]),
        ]
        .concat()
    };
    let run = Boma::new()
        .catalog(&catalog(
            "10m\\n",
            "1h\\n5m",
            "3r/s\\n",
            ["26h\\u2028", " 26h\\t\\r"],
        ))
        .args(["check"])
        .run();
    run.code(2);
    snapshot("hardening_results__durations_on_one_line", &run.stderr);
    // Spaces between the parts of a duration stay fine.
    let spaced = catalog("10m", "1h 5m", "3r/s", ["26h", "1d 2h"]);
    Boma::new().catalog(&spaced).args(["check"]).run().success();
}

// 4. Absurd waits are refused before anything is touched.

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_timeout_past_any_clock_is_refused_before_a_machine_is_touched() {
    let api = FlyApi::start(&[("m1", "started"), ("m2", "started")]).await;
    let shipped = std::fs::read_to_string(repo_file("services.toml")).unwrap_or_default();
    let catalog = shipped.replace(
        "[edge]\n",
        &format!("[edge]\napi_url = \"{}\"\n", api.api_url()),
    );
    let boma = Boma::new().catalog(&catalog).env("FLY_API_TOKEN", TOKEN);
    // Past what `Instant` holds (a panic once the first machine was updated), and merely absurd.
    for timeout in ["500000000000years", "1000000000years"] {
        let run = boma.run_with(["fly-deploy", "--machines-api", "--machine-timeout", timeout]);
        run.code(2);
        snapshot(
            "hardening_results__machine_timeout_refused",
            &run.stderr.replace(timeout, "T"),
        );
        assert!(api.requests().await.is_empty(), "nothing reached the API");
        assert_eq!(api.machine("m1")["instance_id"], "01INITIAL0");
    }
}

#[test]
fn every_wait_flag_refuses_values_it_cannot_keep() {
    let mut shown = String::new();
    for args in [
        &["caddy-push", "--lock-wait", "1000000000years"][..],
        &["caddy-push", "--connect-timeout", "1000000000years"],
        &["caddy-push", "--connect-timeout", "0s"],
        &["caddy-push", "--connect-timeout", "500ms"],
        &["backup-check", "--lock-wait", "1000000000years"],
        &["backup-check", "--connect-timeout", "0s"],
        &["up", "--lock-wait", "1000000000years"],
        &["up", "--machine-timeout", "0s"],
        &["plan", "--machine-timeout", "1000000000years"],
    ] {
        let run = Boma::new()
            .catalog(crate::support::ONE_SERVICE)
            .run_with(args.iter().copied());
        run.code(2);
        let first = run.stderr.lines().next().unwrap_or_default();
        shown.push_str(&format!("{}\n  {first}\n", args.join(" ")));
    }
    snapshot("hardening_results__wait_flags_refused", &shown);
}

// 5. flyctl is read in bounded memory and stopped at its deadline or when the run stops.

/// The shipped catalog against a Machines API contract server, and a fake flyctl with `script`
/// as its body (`$LOG` is a file beside it), after the part that plays `flyctl secrets` (the
/// shipped edge joins the tailnet, so boma lists and stages its auth key).
async fn with_fake_flyctl(script: &str) -> (FlyApi, Boma, PathBuf) {
    let api = FlyApi::start(&[("m1", "started")]).await;
    let shipped = std::fs::read_to_string(repo_file("services.toml")).unwrap_or_default();
    let catalog = shipped.replace(
        "[edge]\n",
        &format!("[edge]\napi_url = \"{}\"\n", api.api_url()),
    );
    let boma = Boma::new()
        .catalog(&catalog)
        .env("FLY_API_TOKEN", TOKEN)
        .env("TS_AUTHKEY", AUTH_KEY);
    let log = boma.path().join("flyctl.log");
    let body = format!(
        "#!/bin/sh\nLOG={}\n{FLYCTL_SECRETS}echo \"$$ $1\" >> \"$LOG\"\n{script}",
        log.display()
    );
    let boma = boma.file("bin/flyctl", body);
    let flyctl = boma.path().join("bin/flyctl");
    let mut permissions = std::fs::metadata(&flyctl)
        .map(|m| m.permissions())
        .unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&flyctl, permissions).unwrap_or_else(|e| panic!("{e}"));
    (api, boma, flyctl)
}

/// boma in `boma`'s folder, killed (and the test failed) when it runs past `limit`.
fn spawn(boma: &Boma, args: &[&str], env: &[(&str, &str)]) -> std::process::Child {
    Command::new(env!("CARGO_BIN_EXE_boma"))
        .args(args)
        .current_dir(boma.path())
        .env_remove("BOMA_CATALOG")
        .env("FLY_API_TOKEN", TOKEN)
        .env("TS_AUTHKEY", AUTH_KEY)
        .envs(env.iter().copied())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run boma: {error}"))
}

/// The process ids the fake flyctl logged, each with the command it was asked.
fn fake_calls(boma: &Boma) -> Vec<(String, String)> {
    logged_calls(&boma.path().join("flyctl.log"))
}

fn logged_calls(log: &Path) -> Vec<(String, String)> {
    std::fs::read_to_string(log)
        .unwrap_or_default()
        .lines()
        .filter_map(|line| {
            let (pid, command) = line.split_once(' ')?;
            Some((pid.to_string(), command.to_string()))
        })
        .collect()
}

/// Kills whatever fake flyctl is still running when a test ends, pass or fail.
struct Reaper(PathBuf);

impl Drop for Reaper {
    fn drop(&mut self) {
        for (pid, _) in logged_calls(&self.0) {
            let _ = Command::new("kill").args(["-KILL", &pid]).status();
        }
    }
}

#[track_caller]
fn assert_gone(pid: &str) {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    assert!(
        status.is_empty() || status.contains("State:\tZ"),
        "flyctl {pid} still runs:\n{status}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn flyctl_printing_300_megabytes_is_read_in_bounded_memory() {
    if require("nginx").is_none() || require("fail2ban-regex").is_none() {
        return;
    }
    // The peak memory of its parent (boma) once everything is written, measured by flyctl.
    let script = "[ \"$1\" = deploy ] || exit 0\n\
         yes 'flyctl: building the image, a line of output of no interest' | head -c 300000000\n\
         echo 'Error: the machines did not take the new image'\n\
         grep VmHWM /proc/$PPID/status > \"$LOG.peak\"\n\
         exit 1\n";
    let (_api, boma, flyctl) = with_fake_flyctl(script).await;
    let flyctl = flyctl.display().to_string();
    let (run, _) = finish_within(
        spawn(&boma, &["fly-deploy", "--flyctl", &flyctl], &[]),
        Duration::from_secs(120),
    );
    run.code(2)
        .stderr_has("flyctl deploy failed (exit status: 1)")
        .stderr_has("Error: the machines did not take the new image");
    let peak = std::fs::read_to_string(boma.path().join("flyctl.log.peak")).unwrap_or_default();
    let kilobytes: u64 = peak
        .split_whitespace()
        .nth(1)
        .and_then(|number| number.parse().ok())
        .unwrap_or_else(|| panic!("no peak measured: {peak:?}"));
    assert!(
        kilobytes < 100 * 1024,
        "boma held {kilobytes} kB while flyctl printed 300 MB"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn flyctl_that_never_ends_is_stopped_at_its_deadline() {
    if require("nginx").is_none() || require("fail2ban-regex").is_none() {
        return;
    }
    let (api, boma, flyctl) = with_fake_flyctl("while :; do sleep 0.1; done\n").await;
    let _reaper = Reaper(boma.path().join("flyctl.log"));
    let flyctl = flyctl.display().to_string();
    let started = Instant::now();
    let (run, _) = finish_within(
        spawn(
            &boma,
            &["fly-deploy", "--flyctl", &flyctl],
            &[("BOMA_FLYCTL_TIMEOUT", "2")],
        ),
        Duration::from_secs(60),
    );
    run.code(2);
    let took = started.elapsed();
    snapshot(
        "hardening_results__flyctl_deadline",
        &format!("{}\n--- stderr\n{}", run.stdout, run.stderr),
    );
    // Two certificates and the deploy, each stopped after 2 s.
    assert!(took < Duration::from_secs(30), "{took:?}");
    let calls = fake_calls(&boma);
    let asked: Vec<&str> = calls.iter().map(|(_, command)| command.as_str()).collect();
    assert_eq!(asked, ["certs", "certs", "deploy"]);
    for (pid, _) in &calls {
        assert_gone(pid);
    }
    assert_eq!(api.updates(), 0);
    assert!(
        !boma.path().join("fly/nginx.conf").exists(),
        "nothing kept as deployed"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_flyctl_deploy_stops_flyctl_and_boma() {
    if require("nginx").is_none() || require("fail2ban-regex").is_none() {
        return;
    }
    let script = "[ \"$1\" = deploy ] || exit 0\nwhile :; do sleep 0.1; done\n";
    let (_api, boma, flyctl) = with_fake_flyctl(script).await;
    let _reaper = Reaper(boma.path().join("flyctl.log"));
    let flyctl = flyctl.display().to_string();
    let child = spawn(&boma, &["fly-deploy", "--flyctl", &flyctl], &[]);
    let deadline = Instant::now() + Duration::from_secs(60);
    while !fake_calls(&boma)
        .iter()
        .any(|(_, command)| command == "deploy")
    {
        assert!(Instant::now() < deadline, "flyctl deploy never started");
        std::thread::sleep(Duration::from_millis(50));
    }
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|error| panic!("kill: {error}"));
    assert!(status.success());
    let (run, _) = finish_within(child, Duration::from_secs(15));
    run.code(130);
    snapshot(
        "hardening_results__flyctl_interrupted",
        &format!("{}\n--- stderr\n{}", run.stdout, run.stderr),
    );
    for (pid, _) in fake_calls(&boma) {
        assert_gone(&pid);
    }
}

// 6. The progress line on a terminal is masked like everything else.

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_id_that_echoes_the_token_is_masked_on_the_progress_line() {
    if require("script").is_none()
        || require("nginx").is_none()
        || require("fail2ban-regex").is_none()
    {
        return;
    }
    // The app lists a machine whose id carries the token: the roll names it on its progress line.
    let api = FlyApi::start(&[("m1", "stopped")]).await;
    let mut machine = crate::support::fly::fixture("machine.json");
    machine["id"] = json!(format!("m-{TOKEN}"));
    machine["state"] = json!("stopped");
    Mock::given(wiremock::matchers::method("GET"))
        .and(wiremock::matchers::path("/v1/apps/example-proxy/machines"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([machine])))
        .with_priority(1)
        .mount(&api.server)
        .await;
    let shipped = std::fs::read_to_string(repo_file("services.toml")).unwrap_or_default();
    let catalog = shipped.replace(
        "[edge]\n",
        &format!("[edge]\napi_url = \"{}\"\n", api.api_url()),
    );
    let boma = Boma::new().catalog(&catalog);
    // On a terminal (a pseudo-terminal from `script`), outside CI: progress is drawn.
    let command = format!("{} fly-deploy --machines-api", env!("CARGO_BIN_EXE_boma"));
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .current_dir(boma.path())
        .env_remove("CI")
        .env_remove("BOMA_CATALOG")
        .env("TERM", "xterm")
        .env("FLY_API_TOKEN", TOKEN)
        .env("TS_AUTHKEY", AUTH_KEY)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|error| panic!("cannot run script: {error}"));
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert!(
        terminal.contains("updating m-[redacted]"),
        "the progress line names the machine, masked:\n{terminal}"
    );
    assert!(!terminal.contains(TOKEN), "{terminal}");
}
