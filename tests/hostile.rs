//! A hostile API on loopback: it redirects elsewhere, pages forever, echoes the token, answers
//! with control characters or huge bodies, and applies writes it never answers. boma must never
//! leak the token, panic, hang or send a change twice.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use wiremock::matchers::{any, method, path, query_param};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use crate::support::{Boma, Run};

const TOKEN: &str = "hostile-token-5e1f9a7c3b2d";
const PDNS_ZONE: &str = "/api/v1/servers/localhost/zones/example.org.";
const GANDI_RECORDS: &str = "/v5/livedns/domains/example.org/records";
const ZONE_ID: &str = "0123456789abcdef0123456789abcdef";

fn catalog(provider: &str, url: &str) -> String {
    format!(
        "version = 1\n[secrets]\napi = {{ env = \"API_TOKEN\" }}\n\
         [dns]\nprovider = \"{provider}\"\nzone = \"example.org\"\ncredentials = \"api\"\nurl = \"{url}\"\n\
         [hosts.indri]\naddress = \"indri.tail.ts.net\"\nip = \"192.0.2.1\"\n\
         [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:80\"\nnames = [\"app.example.org\"]\n"
    )
}

/// boma against `provider` at `url`, with a short HTTP timeout; the token is never printed.
fn run(provider: &str, url: &str, args: &[&str]) -> Run {
    let run = Boma::new()
        .catalog(&catalog(provider, url))
        .env("API_TOKEN", TOKEN)
        .env("BOMA_HTTP_TIMEOUT", "1")
        .run_with(args);
    assert_no_token(&run);
    run
}

#[track_caller]
fn assert_no_token(run: &Run) {
    // Any 8 bytes of the token give it away.
    for start in 0..=TOKEN.len() - 8 {
        let piece = &TOKEN[start..start + 8];
        assert!(
            !run.stdout.contains(piece) && !run.stderr.contains(piece),
            "part of the token (`{piece}`) was printed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

fn empty_zone() -> Value {
    json!({ "name": "example.org.", "kind": "Native", "rrsets": [] })
}

fn gandi_record(name: &str) -> Value {
    json!({ "rrset_name": name, "rrset_type": "TXT", "rrset_ttl": 300, "rrset_values": ["\"x\""] })
}

/// Gandi answering every records page with `records` and one header.
async fn gandi_pages(api: &MockServer, records: Value, header: (&str, &str)) {
    Mock::given(method("GET"))
        .and(path(GANDI_RECORDS))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(records)
                .insert_header(header.0, header.1),
        )
        .mount(api)
        .await;
}

fn gandi_preview(api: &MockServer) -> Run {
    run(
        "gandi",
        &format!("{}/v5/livedns", api.uri()),
        &["dns-preview"],
    )
}

fn cloudflare_preview(api: &MockServer) -> Run {
    run(
        "cloudflare",
        &format!("{}/client/v4", api.uri()),
        &["dns-preview"],
    )
}

async fn requests(server: &MockServer) -> usize {
    server.received_requests().await.map_or(0, |all| all.len())
}

// 1. A token goes only to its provider.

#[tokio::test(flavor = "multi_thread")]
async fn a_redirect_to_another_origin_is_refused_and_the_key_stays_home() {
    let (api, elsewhere) = (MockServer::start().await, MockServer::start().await);
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(empty_zone()))
        .mount(&elsewhere)
        .await;
    Mock::given(method("GET"))
        .and(path(PDNS_ZONE))
        .respond_with(ResponseTemplate::new(307).insert_header(
            "Location",
            format!("{}{PDNS_ZONE}", elsewhere.uri()).as_str(),
        ))
        .mount(&api)
        .await;
    run("powerdns", &api.uri(), &["dns-preview"])
        .code(2)
        .stderr_has("was refused: the token goes only to http://127.0.0.1:");
    assert_eq!(
        requests(&elsewhere).await,
        0,
        "nothing reached the other origin"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_gandi_next_link_to_another_host_is_not_followed() {
    let (api, elsewhere) = (MockServer::start().await, MockServer::start().await);
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(json!([])))
        .mount(&elsewhere)
        .await;
    let link = format!("<{}{GANDI_RECORDS}?page=2>; rel=\"next\"", elsewhere.uri());
    gandi_pages(&api, json!([gandi_record("@")]), ("Link", link.as_str())).await;
    gandi_preview(&api)
        .code(2)
        .stderr_has("is on another origin (http://127.0.0.1:");
    assert_eq!(requests(&elsewhere).await, 0);
}

// 2. Every printed text passes the one redaction step, before any cut.

#[tokio::test(flavor = "multi_thread")]
async fn an_echoed_token_is_masked_even_where_the_excerpt_is_cut() {
    let api = MockServer::start().await;
    // The token straddles the 300-character excerpt.
    let body = format!("{}{TOKEN} is not a valid key", "x".repeat(290));
    Mock::given(any())
        .respond_with(ResponseTemplate::new(401).set_body_string(body))
        .mount(&api)
        .await;
    run("powerdns", &api.uri(), &["dns-preview"])
        .code(2)
        .stderr_has("status 401");
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudflare_error_bodies_that_echo_the_token_are_masked() {
    let api = MockServer::start().await;
    let errors = json!({ "success": false, "errors": [{ "code": 9109, "message": format!("Invalid access token {TOKEN}") }] });
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_json(errors))
        .mount(&api)
        .await;
    cloudflare_preview(&api)
        .code(2)
        .stderr_has("Invalid access token [redacted]");
}

#[test]
fn a_failing_secret_command_never_shows_what_it_printed() {
    let catalog = crate::support::ONE_SERVICE.replace(
        "[dns]",
        "[secrets]\nvault = { command = [\"sh\", \"-c\", \"echo s3cret-value-77; echo \\\"cannot use s3cret-value-77\\\" >&2; exit 3\"] }\n[dns]",
    );
    let run = Boma::new()
        .catalog(&catalog)
        .args(["check", "--secrets"])
        .run();
    run.code(2).stderr_has("cannot use [redacted]");
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
}

// 3. No panic, ever.

#[tokio::test(flavor = "multi_thread")]
async fn odd_retry_after_values_neither_panic_nor_hang() {
    for value in [
        "-1",
        "nan",
        "inf",
        "1e300",
        "Wed, 21 Oct 2015 07:28:00 GMT",
        "soon",
    ] {
        let api = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(429).insert_header("Retry-After", value))
            .up_to_n_times(1)
            .with_priority(1)
            .mount(&api)
            .await;
        Mock::given(method("GET"))
            .and(path(PDNS_ZONE))
            .respond_with(ResponseTemplate::new(200).set_body_json(empty_zone()))
            .mount(&api)
            .await;
        let started = Instant::now();
        run("powerdns", &api.uri(), &["dns-preview"])
            .success()
            .stdout_has("to create");
        assert!(
            started.elapsed() < Duration::from_secs(20),
            "Retry-After: {value} made boma wait {:?}",
            started.elapsed()
        );
    }
}

#[test]
fn bad_http_timeouts_are_errors_not_panics() {
    for value in ["nan", "inf", "-1", "1e30", "abc", "0"] {
        Boma::new()
            .catalog(&catalog("powerdns", "http://127.0.0.1:9"))
            .env("API_TOKEN", TOKEN)
            .env("BOMA_HTTP_TIMEOUT", value)
            .args(["dns-preview"])
            .run()
            .code(2)
            .stderr_has(&format!(
                "BOMA_HTTP_TIMEOUT must be a number of seconds above 0 and at most 3600, not `{value}`"
            ));
    }
}

// 4. Everything is bounded.

#[tokio::test(flavor = "multi_thread")]
async fn gandi_paging_that_loops_or_announces_too_much_is_stopped() {
    let api = MockServer::start().await;
    let same_page = format!(
        "<{}{GANDI_RECORDS}?page=1&per_page=100>; rel=\"next\"",
        api.uri()
    );
    gandi_pages(
        &api,
        json!([gandi_record("@")]),
        ("Link", same_page.as_str()),
    )
    .await;
    gandi_preview(&api)
        .code(2)
        .stderr_has("came back to a page already read");
    assert!(requests(&api).await <= 2);

    let api = MockServer::start().await;
    gandi_pages(
        &api,
        json!([gandi_record("@")]),
        ("Total-Count", "1000000000"),
    )
    .await;
    gandi_preview(&api)
        .code(2)
        .stderr_has("announces 1000000000 records, more than boma reads");
    assert_eq!(requests(&api).await, 1);

    let api = MockServer::start().await;
    gandi_pages(&api, json!([]), ("Total-Count", "500")).await;
    gandi_preview(&api)
        .code(2)
        .stderr_has("is empty although more records were announced");
}

/// Cloudflare answers with one more page every time it is asked.
struct GrowingPages(AtomicUsize);

impl Respond for GrowingPages {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let asked = self.0.fetch_add(1, Ordering::SeqCst) + 1;
        ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "result": [{ "id": format!("r{asked}"), "type": "TXT", "name": format!("t{asked}.example.org"), "content": "\"x\"", "ttl": 300 }],
            "result_info": { "page": asked, "total_pages": asked + 1 }
        }))
    }
}

async fn cloudflare_zone(api: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/client/v4/zones"))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "result": [{ "id": ZONE_ID, "name": "example.org" }],
            "result_info": { "page": 1, "total_pages": 1 }
        })))
        .mount(api)
        .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn cloudflare_paging_that_keeps_growing_is_stopped() {
    let api = MockServer::start().await;
    cloudflare_zone(&api).await;
    Mock::given(method("GET"))
        .and(path(format!("/client/v4/zones/{ZONE_ID}/dns_records")))
        .respond_with(GrowingPages(AtomicUsize::new(0)))
        .mount(&api)
        .await;
    cloudflare_preview(&api)
        .code(2)
        .stderr_has("the page count of `example.org` changed while boma read it (2, then 3)");
    assert!(requests(&api).await <= 3);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_huge_answer_is_refused_before_it_fills_memory() {
    let api = MockServer::start().await;
    Mock::given(any())
        .respond_with(ResponseTemplate::new(200).set_body_string("x".repeat(40 * 1024 * 1024)))
        .mount(&api)
        .await;
    run("powerdns", &api.uri(), &["dns-preview"])
        .code(2)
        .stderr_has("the answer is larger than 32 MiB; boma does not read it");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zone_of_the_wrong_shape_is_an_error_not_a_guess() {
    for body in [
        json!({ "name": "example.org." }),
        json!({ "rrsets": "none" }),
        json!({ "rrsets": [{ "name": "app.example.org.", "type": "A", "ttl": 300, "records": [{ "content": 7 }] }] }),
        json!({ "rrsets": [{ "name": "app.example.org.", "type": "A", "ttl": -1, "records": [] }] }),
    ] {
        let api = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path(PDNS_ZONE))
            .respond_with(ResponseTemplate::new(200).set_body_json(&body))
            .mount(&api)
            .await;
        let run = run("powerdns", &api.uri(), &["dns-preview"]);
        run.code(2).stderr_has(
            "powerdns: GET zone `example.org` answered JSON that is not a zone with `rrsets`",
        );
        assert_eq!(requests(&api).await, 1, "{body}");
    }
}

#[test]
fn a_catalog_that_never_ends_is_refused() {
    Boma::new()
        .args(["--catalog", "/dev/zero", "check"])
        .run()
        .code(2)
        .stderr_has("/dev/zero:1:1: the catalog is larger than 8388608 bytes, the most boma reads");
}

#[test]
fn secret_files_and_commands_are_capped_and_timed() {
    let with_secret = |source: &str| {
        crate::support::ONE_SERVICE.replace("[dns]", &format!("[secrets]\nbig = {source}\n[dns]"))
    };
    Boma::new()
        .catalog(&with_secret("{ file = \"big.txt\" }"))
        .file("big.txt", "x".repeat(100 * 1024))
        .args(["check", "--secrets"])
        .run()
        .code(2)
        .stderr_has("it holds more than 64 KiB, more than a secret");
    let started = Instant::now();
    Boma::new()
        .catalog(&with_secret("{ command = [\"sleep\", \"1000\"] }"))
        .env("BOMA_SECRET_TIMEOUT", "1")
        .args(["check", "--secrets"])
        .run()
        .code(2)
        .stderr_has("command `sleep` exited with no answer within 1s");
    Boma::new()
        .catalog(&with_secret("{ command = [\"yes\"] }"))
        .args(["check", "--secrets"])
        .run()
        .code(2)
        .stderr_has("more than 64 KiB of output");
    assert!(
        started.elapsed() < Duration::from_secs(20),
        "{:?}",
        started.elapsed()
    );
}

// 5. Nothing from outside reaches the terminal raw.

#[tokio::test(flavor = "multi_thread")]
async fn control_characters_in_an_api_answer_are_shown_escaped() {
    let api = MockServer::start().await;
    let body = "\x1b[2K\rapplied 3 changes to zone example.org\x1b]0;owned\x07";
    Mock::given(any())
        .respond_with(ResponseTemplate::new(400).set_body_string(body))
        .mount(&api)
        .await;
    let run = run("powerdns", &api.uri(), &["dns-preview"]);
    run.code(2).stderr_has("\\u{1b}[2K\\rapplied 3 changes");
    assert!(
        !run.stderr.contains(['\x1b', '\r', '\x07']),
        "{:?}",
        run.stderr
    );
}

#[test]
fn control_characters_in_catalog_values_are_shown_escaped() {
    let catalog = crate::support::ONE_SERVICE.replace(
        "address = \"indri.example.net\"",
        "address = \"indri\\u001b[2K\\r.example.net\"",
    );
    let run = Boma::new().catalog(&catalog).args(["check"]).run();
    run.code(2).stderr_has("indri\\u{1b}[2K\\r.example.net");
    assert!(!run.stderr.contains(['\x1b', '\r']), "{:?}", run.stderr);
}

// 8. A write that timed out is not blindly sent again.

/// The batch endpoint applies the change at once and answers too late to be heard.
struct AppliedButSlow {
    applied: Arc<AtomicBool>,
    calls: Arc<AtomicUsize>,
}

impl Respond for AppliedButSlow {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        self.applied.store(true, Ordering::SeqCst);
        self.calls.fetch_add(1, Ordering::SeqCst);
        ResponseTemplate::new(200)
            .set_body_json(json!({ "success": true, "result": {} }))
            .set_delay(Duration::from_secs(3))
    }
}

/// The zone's records: empty until the batch was applied, then what it created.
struct Records(Arc<AtomicBool>);

impl Respond for Records {
    fn respond(&self, _: &Request) -> ResponseTemplate {
        let records = if self.0.load(Ordering::SeqCst) {
            json!([
                { "id": "a1", "type": "A", "name": "app.example.org", "content": "192.0.2.1", "ttl": 300, "proxied": false, "comment": "heritage=boma v=2 owner=boma" }
            ])
        } else {
            json!([])
        };
        ResponseTemplate::new(200).set_body_json(json!({
            "success": true, "result": records, "result_info": { "page": 1, "total_pages": 1 }
        }))
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_batch_that_timed_out_after_being_applied_is_not_sent_twice() {
    let api = MockServer::start().await;
    cloudflare_zone(&api).await;
    let applied = Arc::new(AtomicBool::new(false));
    let calls = Arc::new(AtomicUsize::new(0));
    Mock::given(method("GET"))
        .and(path(format!("/client/v4/zones/{ZONE_ID}/dns_records")))
        .and(query_param("page", "1"))
        .respond_with(Records(Arc::clone(&applied)))
        .mount(&api)
        .await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/client/v4/zones/{ZONE_ID}/dns_records/batch"
        )))
        .respond_with(AppliedButSlow {
            applied: Arc::clone(&applied),
            calls: Arc::clone(&calls),
        })
        .mount(&api)
        .await;
    run(
        "cloudflare",
        &format!("{}/client/v4", api.uri()),
        &["dns-up"],
    )
    .success()
    .stderr_has("a write timed out; reading the zone again before going on")
    .stderr_has("after re-reading the zone once");
    assert_eq!(calls.load(Ordering::SeqCst), 1, "the batch was sent once");
}
