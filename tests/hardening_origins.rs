//! Credentials go only to their own origin: a backup ping URL (a secret itself) is never followed
//! off its origin nor sent as a `Referer`, a registry password reaches only the registry's own
//! origin (scheme, host and port), the registry's token answer is read bounded, a ping URL's query
//! stays its query, an API's redirect within its origin carries no `Referer`, and a far
//! `Retry-After` date is ignored like a far number of seconds. Real borg repositories make the
//! findings; wiremock (and a raw socket, for an answer without a length) plays Healthchecks,
//! Uptime Kuma, a registry with its token realm, and PowerDNS.

use std::io::{Read, Write};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde_json::json;
use wiremock::matchers::{any, header, method, path, path_regex};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::backups::{self, BORG_PASSPHRASE, borg_repo};
use crate::support::registry::{self, PASSWORD, repository};
use crate::support::{Boma, Run, free_port, require, snapshot};

// 1. A ping URL holds a token: it stays on its own origin.

/// A fresh and a stale borg repository, or `None` (a skip; a failure in CI).
struct Repositories {
    _dir: tempfile::TempDir,
    fresh: PathBuf,
    stale: PathBuf,
}

fn repositories() -> Option<Repositories> {
    backups::tools()?;
    let dir = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let fresh = borg_repo(dir.path(), "fresh.borg", &[("a", None)]);
    let stale = borg_repo(
        dir.path(),
        "stale.borg",
        &[("a", Some("2026-01-01T03:00:00"))],
    );
    Some(Repositories {
        _dir: dir,
        fresh,
        stale,
    })
}

/// A catalog of borg backups `(service, repository, ping table)`.
fn backup_catalog(services: &[(&str, &Path, String)]) -> String {
    let mut catalog = String::from("version = 1\n[secrets]\nborg = { env = \"BORG_SECRET\" }\n");
    for (name, repository, ping) in services {
        catalog += &format!(
            "\n[services.{name}]\nupstream = \"http://127.0.0.1:1\"\n[services.{name}.backup]\n\
             tool = \"borg\"\nrepository = \"{}\"\npassphrase = \"borg\"\nmax_age = \"26h\"\nping = {ping}\n",
            repository.display()
        );
    }
    catalog
}

fn backup_check(catalog: &str) -> Run {
    let run = Boma::new()
        .catalog(catalog)
        .env("BORG_SECRET", BORG_PASSPHRASE)
        .run_with(["backup-check", "--output", "json"]);
    run.code(1);
    run
}

/// Each finding's status and ping warning, one line a service.
fn ping_warnings(run: &Run) -> String {
    run.json()["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|finding| {
            format!(
                "{}: {}, ping: {}\n",
                finding["service"].as_str().unwrap_or_default(),
                finding["status"].as_str().unwrap_or_default(),
                finding["ping"].as_str().unwrap_or("sent")
            )
        })
        .collect()
}

/// What `server` received, one line a request: method, path, query (the free-text `msg` and the
/// timing `ping` values elided) and any `Referer`.
async fn received(server: &MockServer) -> String {
    let requests = server.received_requests().await.unwrap_or_default();
    if requests.is_empty() {
        return "(nothing)\n".into();
    }
    requests
        .iter()
        .map(|request| {
            let query: Vec<String> = request
                .url
                .query_pairs()
                .map(|(key, value)| match key.as_ref() {
                    "msg" | "ping" => format!("{key}=…"),
                    _ => format!("{key}={value}"),
                })
                .collect();
            let query = if request.url.query().is_some() {
                format!("?{}", query.join("&"))
            } else {
                String::new()
            };
            let referer = request
                .headers
                .get("referer")
                .map(|value| format!(" referer: {}", value.to_str().unwrap_or("?")))
                .unwrap_or_default();
            format!(
                "{} {}{query}{referer}\n",
                request.method,
                request.url.path()
            )
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ping_redirected_to_another_origin_is_not_followed() {
    let Some(repositories) = repositories() else {
        return;
    };
    // Same host, another port: another origin.
    let (pings, elsewhere) = (MockServer::start().await, MockServer::start().await);
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&elsewhere)
        .await;
    let away = |status: u16| {
        ResponseTemplate::new(status)
            .insert_header("Location", format!("{}/collect", elsewhere.uri()).as_str())
    };
    for (verb, route, status) in [
        ("GET", "/hc/good-uuid", 302),
        ("POST", "/hc/bad-uuid/fail", 307),
        ("GET", "/api/push/kuma-token", 302),
    ] {
        Mock::given(method(verb))
            .and(path(route))
            .respond_with(away(status))
            .mount(&pings)
            .await;
    }
    let base = pings.uri();
    let catalog = backup_catalog(&[
        (
            "good",
            &repositories.fresh,
            format!("{{ healthchecks = \"{base}/hc/good-uuid\" }}"),
        ),
        (
            "bad",
            &repositories.stale,
            format!("{{ healthchecks = \"{base}/hc/bad-uuid\" }}"),
        ),
        (
            "kuma",
            &repositories.stale,
            format!("{{ uptime_kuma = \"{base}/api/push/kuma-token\" }}"),
        ),
    ]);
    let run = backup_check(&catalog);
    assert!(!run.stdout.contains("uuid") && !run.stderr.contains("uuid"));
    snapshot(
        "hardening_origins__ping_redirected_off_origin",
        &format!(
            "findings:\n{}\nthe ping server received:\n{}\nthe other origin received:\n{}",
            ping_warnings(&run),
            received(&pings).await,
            received(&elsewhere).await
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ping_redirect_within_its_origin_is_followed_without_a_referer() {
    let Some(repositories) = repositories() else {
        return;
    };
    let pings = MockServer::start().await;
    for (verb, route, status, to) in [
        ("GET", "/hc/moved-uuid", 301, Some("/hc/new-uuid")),
        ("GET", "/hc/new-uuid", 200, None),
        ("POST", "/hc/moved-bad/fail", 307, Some("/hc/new-bad/fail")),
        ("POST", "/hc/new-bad/fail", 200, None),
    ] {
        let mut answer = ResponseTemplate::new(status);
        if let Some(to) = to {
            answer = answer.insert_header("Location", to);
        }
        Mock::given(method(verb))
            .and(path(route))
            .respond_with(answer)
            .mount(&pings)
            .await;
    }
    let base = pings.uri();
    let catalog = backup_catalog(&[
        (
            "good",
            &repositories.fresh,
            format!("{{ healthchecks = \"{base}/hc/moved-uuid\" }}"),
        ),
        (
            "bad",
            &repositories.stale,
            format!("{{ healthchecks = \"{base}/hc/moved-bad\" }}"),
        ),
    ]);
    let run = backup_check(&catalog);
    snapshot(
        "hardening_origins__ping_redirect_within_origin",
        &format!(
            "findings:\n{}\nthe ping server received:\n{}",
            ping_warnings(&run),
            received(&pings).await
        ),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_ping_url_with_a_query_keeps_it_and_a_failure_pings_fail() {
    let Some(repositories) = repositories() else {
        return;
    };
    let pings = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200))
        .mount(&pings)
        .await;
    let base = pings.uri();
    let catalog = backup_catalog(&[
        (
            "a-stale",
            &repositories.stale,
            format!("{{ healthchecks = \"{base}/hc/stale-uuid?create=1\" }}"),
        ),
        (
            "b-slash",
            &repositories.stale,
            format!("{{ healthchecks = \"{base}/hc/slash-uuid/?rid=7\" }}"),
        ),
        (
            "c-fresh",
            &repositories.fresh,
            format!("{{ healthchecks = \"{base}/hc/fresh-uuid?create=1\" }}"),
        ),
        // The push URL as Uptime Kuma shows it, defaults included.
        (
            "d-kuma",
            &repositories.stale,
            format!("{{ uptime_kuma = \"{base}/api/push/kuma-token?status=up&msg=OK&ping=\" }}"),
        ),
        (
            "e-kuma",
            &repositories.fresh,
            format!("{{ uptime_kuma = \"{base}/api/push/kuma-fresh?status=up&msg=OK&ping=\" }}"),
        ),
    ]);
    let run = backup_check(&catalog);
    snapshot(
        "hardening_origins__ping_url_with_a_query",
        &format!(
            "findings:\n{}\nthe ping server received:\n{}",
            ping_warnings(&run),
            received(&pings).await
        ),
    );
}

// 2. A registry password goes only to the registry's own origin.

const IMAGE_PATH: &str = "ops/app";
const TOKEN: &str = "registry-bearer-token-9d2c";

/// A project whose image `app` lives in the registry at `host` (plain HTTP, with credentials),
/// or `None` (a skip; a failure in CI).
fn registry_project(host: &str) -> Option<Boma> {
    require("git")?;
    let boma = Boma::new();
    repository(boma.path(), &format!("{host}/{IMAGE_PATH}"), false);
    Some(
        boma.catalog(&registry::catalog(host, None))
            .env("FORGE_PASSWORD", PASSWORD),
    )
}

fn check(boma: &Boma) -> Run {
    let run = boma.run_with(["container-build", "--check"]);
    assert!(!run.stdout.contains(PASSWORD) && !run.stderr.contains(PASSWORD));
    run
}

/// `v1.0.0-` and the short commit, which changes with the commit time, shown as `[TAG]`.
fn hide_tag(text: &str) -> String {
    let mut shown = String::new();
    let mut rest = text;
    while let Some(at) = rest.find("v1.0.0-") {
        shown.push_str(&rest[..at]);
        shown.push_str("[TAG]");
        rest = rest.get(at + "v1.0.0-".len() + 7..).unwrap_or_default();
    }
    shown + rest
}

fn output(run: &Run) -> String {
    hide_tag(&format!(
        "exit {}\n--- stdout\n{}--- stderr\n{}",
        run.code, run.stdout, run.stderr
    ))
}

/// A registry at `server` that answers a manifest `HEAD` with `Bearer TOKEN` (200 and a digest)
/// and challenges anything else to fetch a token from `realm`.
async fn bearer_registry(server: &MockServer, realm: &str) {
    let manifests = format!("^/v2/{IMAGE_PATH}/manifests/[^/]+$");
    Mock::given(method("HEAD"))
        .and(path_regex(manifests.as_str()))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(
            ResponseTemplate::new(200).insert_header("Docker-Content-Digest", "sha256:feed"),
        )
        .with_priority(1)
        .mount(server)
        .await;
    let challenge = format!(
        "Bearer realm=\"{realm}\",service=\"registry\",scope=\"repository:{IMAGE_PATH}:pull\""
    );
    Mock::given(method("HEAD"))
        .and(path_regex(manifests.as_str()))
        .respond_with(
            ResponseTemplate::new(401).insert_header("WWW-Authenticate", challenge.as_str()),
        )
        .mount(server)
        .await;
}

/// What `server` received, one line a request, with the credentials it carried decoded.
async fn received_credentials(server: &MockServer) -> String {
    use base64::Engine as _;
    let requests = server.received_requests().await.unwrap_or_default();
    if requests.is_empty() {
        return "(nothing)\n".into();
    }
    requests
        .iter()
        .map(|request| {
            let authorization = request
                .headers
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                .map(|value| match value.strip_prefix("Basic ") {
                    Some(encoded) => format!(
                        "Basic {}",
                        base64::engine::general_purpose::STANDARD
                            .decode(encoded)
                            .map(|pair| String::from_utf8_lossy(&pair).into_owned())
                            .unwrap_or_default()
                            .replace(PASSWORD, "[PASSWORD]")
                    ),
                    None => value.to_string(),
                })
                .unwrap_or_else(|| "none".into());
            let path = request.url.path();
            let path = if path.contains("/manifests/") {
                format!("/v2/{IMAGE_PATH}/manifests/[TAG]")
            } else {
                path.to_string()
            };
            format!("{} {path} authorization: {authorization}\n", request.method)
        })
        .collect()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_realm_on_another_port_of_the_registry_host_gets_no_password() {
    let (registry, realm) = (MockServer::start().await, MockServer::start().await);
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "token": TOKEN })))
        .mount(&realm)
        .await;
    bearer_registry(&registry, &format!("{}/token", realm.uri())).await;
    let host = registry.address().to_string();
    let Some(boma) = registry_project(&host) else {
        return;
    };
    let refused = check(&boma);

    // The control: the same realm on the registry's own origin gets the password and its token
    // opens the registry, so the realm above would have been asked had boma allowed it.
    let own = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "token": TOKEN })))
        .mount(&own)
        .await;
    bearer_registry(&own, &format!("{}/token", own.uri())).await;
    let Some(control) = registry_project(&own.address().to_string()) else {
        return;
    };
    let allowed = check(&control);
    let text = format!(
        "a realm on another port:\n{}the registry received:\n{}the realm received:\n{}\n\
             a realm on the registry's origin:\n{}the registry received:\n{}",
        output(&refused),
        received_credentials(&registry).await,
        received_credentials(&realm).await,
        output(&allowed),
        received_credentials(&own).await,
    );
    // The snapshot filter hides ports: the realm's is named, to show which origin is which.
    let realm_port = format!("127.0.0.1:{}", realm.address().port());
    snapshot(
        "hardening_origins__token_realm_on_another_port",
        &text.replace(&realm_port, "127.0.0.1:[REALM PORT]"),
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_realm_that_redirects_elsewhere_is_not_followed() {
    let (registry, elsewhere) = (MockServer::start().await, MockServer::start().await);
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "token": TOKEN })))
        .mount(&elsewhere)
        .await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(307)
                .insert_header("Location", format!("{}/token", elsewhere.uri()).as_str()),
        )
        .mount(&registry)
        .await;
    bearer_registry(&registry, &format!("{}/token", registry.uri())).await;
    let Some(boma) = registry_project(&registry.address().to_string()) else {
        return;
    };
    let run = check(&boma);
    snapshot(
        "hardening_origins__token_realm_redirect",
        &format!(
            "{}the registry received:\n{}the other origin received:\n{}",
            output(&run),
            received_credentials(&registry).await,
            received_credentials(&elsewhere).await
        ),
    );
}

/// A valid token answer padded past 1 MiB: boma must not read it, however well-formed.
fn padded_token_answer() -> String {
    format!("{{\"token\": \"{TOKEN}\"{}}}", " ".repeat(4 << 20))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_token_answer_over_a_mebibyte_is_refused_naming_the_registry() {
    let registry = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(
            ResponseTemplate::new(200).set_body_raw(padded_token_answer(), "application/json"),
        )
        .mount(&registry)
        .await;
    bearer_registry(&registry, &format!("{}/token", registry.uri())).await;
    let Some(boma) = registry_project(&registry.address().to_string()) else {
        return;
    };
    let run = check(&boma);
    snapshot(
        "hardening_origins__token_answer_with_a_length",
        &format!(
            "{}the registry received:\n{}",
            output(&run),
            received_credentials(&registry).await
        ),
    );
}

/// A registry on a raw socket whose token answer has no length (it ends when the connection
/// closes), so only the reader's own bound stops it. Returns its `host:port` and its request log.
fn close_delimited_registry() -> (String, Arc<Mutex<Vec<String>>>) {
    let port = free_port();
    let listener =
        TcpListener::bind(("127.0.0.1", port)).unwrap_or_else(|e| panic!("bind {port}: {e}"));
    let host = format!("127.0.0.1:{port}");
    let log = Arc::new(Mutex::new(Vec::new()));
    let (seen, realm) = (Arc::clone(&log), format!("http://{host}/token"));
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { continue };
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") && stream.read(&mut byte).is_ok_and(|n| n == 1) {
                head.push(byte[0]);
            }
            let head = String::from_utf8_lossy(&head).into_owned();
            let mut words = head.split_whitespace();
            let (verb, target) = (
                words.next().unwrap_or_default(),
                words.next().unwrap_or_default(),
            );
            let route = target.split('?').next().unwrap_or_default();
            let bearer = head
                .lines()
                .any(|line| line.eq_ignore_ascii_case(&format!("authorization: Bearer {TOKEN}")));
            let answer = if route == "/token" {
                format!(
                    "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nConnection: close\r\n\r\n{}",
                    padded_token_answer()
                )
            } else if bearer {
                "HTTP/1.1 200 OK\r\nDocker-Content-Digest: sha256:feed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_string()
            } else {
                format!(
                    "HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Bearer realm=\"{realm}\",service=\"registry\"\r\n\
                     Content-Length: 0\r\nConnection: close\r\n\r\n"
                )
            };
            let route = if route.contains("/manifests/") {
                format!("/v2/{IMAGE_PATH}/manifests/[TAG]")
            } else {
                route.to_string()
            };
            let credentials = if bearer { "Bearer" } else { "no Bearer" };
            if let Ok(mut seen) = seen.lock() {
                seen.push(format!("{verb} {route} ({credentials})"));
            }
            let _ = stream.write_all(answer.as_bytes());
        }
    });
    (host, log)
}

#[test]
fn a_token_answer_without_a_length_is_read_only_up_to_a_mebibyte() {
    let (host, log) = close_delimited_registry();
    let Some(boma) = registry_project(&host) else {
        return;
    };
    let run = check(&boma);
    let seen = log.lock().map(|seen| seen.join("\n")).unwrap_or_default();
    snapshot(
        "hardening_origins__token_answer_without_a_length",
        &format!("{}the registry received:\n{seen}\n", output(&run)),
    );
}

// 3. An API redirect within its origin is followed without a `Referer`.

#[tokio::test(flavor = "multi_thread")]
async fn an_api_redirect_within_its_origin_carries_no_referer() {
    let api = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(PDNS_ZONE))
        .respond_with(ResponseTemplate::new(307).insert_header("Location", "/moved/zone"))
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path("/moved/zone"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "name": "example.org.", "kind": "Native", "rrsets": [] })),
        )
        .mount(&api)
        .await;
    Boma::new()
        .catalog(&powerdns_catalog(&api.uri()))
        .env("API_TOKEN", "powerdns-api-key")
        .run_with(["dns-preview"])
        .success()
        .stdout_has("to create");
    snapshot(
        "hardening_origins__api_redirect_within_origin",
        &format!("the API received:\n{}", received(&api).await),
    );
}

// 4. A far `Retry-After` date is ignored like a far number of seconds.

const PDNS_ZONE: &str = "/api/v1/servers/localhost/zones/example.org.";

fn powerdns_catalog(url: &str) -> String {
    format!(
        "version = 1\n[secrets]\napi = {{ env = \"API_TOKEN\" }}\n\
         [dns]\nprovider = \"powerdns\"\nzone = \"example.org\"\ncredentials = \"api\"\nurl = \"{url}\"\n\
         [hosts.indri]\naddress = \"indri.tail.ts.net\"\nip = \"192.0.2.1\"\n\
         [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:80\"\nnames = [\"app.example.org\"]\n"
    )
}

/// How long `dns-preview` takes when the first answer is a 429 with `Retry-After: DATE` `ahead`.
async fn preview_after_a_retry_date(ahead: Duration) -> Duration {
    let api = MockServer::start().await;
    let date = httpdate::fmt_http_date(SystemTime::now() + ahead);
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", date.as_str()))
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&api)
        .await;
    Mock::given(method("GET"))
        .and(path(PDNS_ZONE))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({ "name": "example.org.", "kind": "Native", "rrsets": [] })),
        )
        .mount(&api)
        .await;
    let started = Instant::now();
    Boma::new()
        .catalog(&powerdns_catalog(&api.uri()))
        .env("API_TOKEN", "powerdns-api-key")
        .run_with(["dns-preview"])
        .success()
        .stdout_has("to create");
    let requests = api.received_requests().await.map_or(0, |all| all.len());
    assert_eq!(requests, 2, "one 429, then the zone");
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_retry_after_date_beyond_the_longest_wait_is_ignored() {
    // An hour away: ignored, the backoff (half a second) applies.
    let far = preview_after_a_retry_date(Duration::from_secs(3600)).await;
    assert!(
        far < Duration::from_secs(20),
        "a Retry-After date an hour away made boma wait {far:?}"
    );
    // The control: a date 4 s away is honoured (HTTP dates count whole seconds).
    let near = preview_after_a_retry_date(Duration::from_secs(4)).await;
    assert!(
        near >= Duration::from_secs(2),
        "a Retry-After date 4 s away was not waited for ({near:?})"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn an_anonymous_token_from_a_realm_elsewhere_is_fetched_and_the_tag_found() {
    // Docker Hub's way: the realm is another host, and with no credentials in the catalog
    // nothing secret goes there, so the token is asked for (a refusal made every `up` rebuild).
    let (registry, realm) = (MockServer::start().await, MockServer::start().await);
    Mock::given(method("GET"))
        .and(path("/token"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({ "token": TOKEN })))
        .mount(&realm)
        .await;
    bearer_registry(&registry, &format!("{}/token", realm.uri())).await;
    let host = registry.address().to_string();
    let Some(boma) = registry_project(&host) else {
        return;
    };
    let anonymous =
        registry::catalog(&host, None).replace("user = \"ops\"\npassword = \"forge\"\n", "");
    assert!(!anonymous.contains("password"), "{anonymous}");
    let boma = boma.catalog(&anonymous);
    let run = boma.run_with(["container-build", "--check", "--output", "json"]);
    // Exit 1: the pinned files lag behind the tag the registry has.
    run.code(1);
    assert_eq!(
        run.json()["images"][0]["registry"],
        "has the tag",
        "{}",
        run.stdout
    );
    assert_eq!(
        received_credentials(&realm).await.lines().count(),
        1,
        "the realm was asked once, without credentials"
    );
    assert!(!received_credentials(&realm).await.contains("Basic"));
}
