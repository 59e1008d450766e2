//! Gandi LiveDNS v5 against a contract server that serves the real bodies in tests/fixtures/gandi
//! and checks every request boma sends.

use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Boma, Run};

const TOKEN: &str = "gandi-pat-7f3a9c1d2e";
const RECORDS: &str = "/v5/livedns/domains/unit.tests/records";

fn fixture(name: &str) -> Value {
    let path = crate::support::repo_file(&format!("tests/fixtures/gandi/{name}"));
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

fn catalog(server: &MockServer, ip: &str, ttl: u32) -> String {
    format!(
        "version = 1\n[defaults]\nttl = {ttl}\n[secrets]\ngandi = {{ env = \"GANDI_PAT\" }}\n\
         [dns]\nprovider = \"gandi\"\nzone = \"unit.tests\"\ncredentials = \"gandi\"\nurl = \"{}/v5/livedns\"\n\
         [hosts.indri]\naddress = \"indri.tail.ts.net\"\nip = \"{ip}\"\n\
         [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:80\"\nnames = [\"app.unit.tests\"]\n",
        server.uri()
    )
}

fn run(boma: &Boma, args: &[&str]) -> Run {
    let run = boma.run_with(args);
    assert!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        "the token was printed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

async fn serve_pages(server: &MockServer, total: usize) {
    for (page, name) in [("1", "gandi-records-1.json"), ("2", "gandi-records-2.json")] {
        Mock::given(method("GET"))
            .and(path(RECORDS))
            .and(query_param("page", page))
            .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(fixture(name))
                    .insert_header("Total-Count", total.to_string().as_str()),
            )
            .mount(server)
            .await;
    }
}

/// Two failed reads, then the real pages: boma retries and the plan comes out whole.
async fn read_succeeds_after(failure: ResponseTemplate, logged: &str) {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(RECORDS))
        .respond_with(failure)
        .up_to_n_times(2)
        .with_priority(1)
        .mount(&server)
        .await;
    serve_pages(&server, 14).await;
    let boma = Boma::new()
        .catalog(&catalog(&server, "192.0.2.1", 300))
        .env("GANDI_PAT", TOKEN);
    run(&boma, &["-v", "dns-preview"])
        .success()
        .stderr_has(logged)
        .stdout_has("2 to create");
}

#[tokio::test(flavor = "multi_thread")]
async fn first_sync_pages_by_total_count_and_puts_each_rrset() {
    let server = MockServer::start().await;
    serve_pages(&server, 14).await;
    Mock::given(method("PUT"))
        .and(path(format!("{RECORDS}/app/A")))
        .and(body_json(
            json!({ "rrset_ttl": 300, "rrset_values": ["192.0.2.1"] }),
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({ "message": "DNS Record Created" })),
        )
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{RECORDS}/_boma.app/TXT")))
        .and(body_json(
            json!({ "rrset_ttl": 300, "rrset_values": ["\"heritage=boma v=2 owner=boma types=A\""] }),
        ))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({ "message": "DNS Record Created" })),
        )
        .expect(1)
        .mount(&server)
        .await;

    // A TTL of 60 is below Gandi's minimum: it is sent as 300 and compared as 300.
    let boma = Boma::new()
        .catalog(&catalog(&server, "192.0.2.1", 60))
        .env("GANDI_PAT", TOKEN);
    let preview = run(&boma, &["dns-preview"]);
    preview
        .success()
        .stdout_has("2 to create, 0 to update, 0 to delete, 0 unchanged");
    assert!(
        !preview.stdout.contains("webmail"),
        "records boma does not own are not in the plan"
    );
    run(&boma, &["dns-up"])
        .success()
        .stderr_has("applied 2 changes to zone unit.tests (4 HTTP requests)");
    let gets = server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| request.method.as_str() == "GET")
        .count();
    assert_eq!(gets, 4, "two pages per read, two reads");
}

#[tokio::test(flavor = "multi_thread")]
async fn updates_keep_the_label_case_gandi_stores_and_follow_link_next() {
    // The zone as the previous release left it: a marker naming no owner and no format. It
    // counts as this catalog's, and is rewritten in today's format in the same run.
    let server = MockServer::start().await;
    let mut page = fixture("gandi-records-1.json");
    if let Some(items) = page.as_array_mut() {
        items.push(json!({ "rrset_type": "A", "rrset_ttl": 300, "rrset_name": "App", "rrset_values": ["192.0.2.1"] }));
        items.push(json!({ "rrset_type": "TXT", "rrset_ttl": 300, "rrset_name": "_boma.app", "rrset_values": ["\"heritage=boma types=A\""] }));
    }
    let next = format!(
        "<{}{RECORDS}?page=2&per_page=100>; rel=\"next\"",
        server.uri()
    );
    Mock::given(method("GET"))
        .and(path(RECORDS))
        .and(query_param("page", "1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(page)
                .insert_header("Link", next.as_str()),
        )
        .mount(&server)
        .await;
    Mock::given(method("GET"))
        .and(path(RECORDS))
        .and(query_param("page", "2"))
        .respond_with(ResponseTemplate::new(200).set_body_json(fixture("gandi-records-2.json")))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{RECORDS}/App/A")))
        .and(body_json(
            json!({ "rrset_ttl": 300, "rrset_values": ["192.0.2.99"] }),
        ))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{RECORDS}/_boma.app/TXT")))
        .and(body_json(
            json!({ "rrset_ttl": 300, "rrset_values": ["\"heritage=boma v=2 owner=boma types=A\""] }),
        ))
        .respond_with(ResponseTemplate::new(201))
        .expect(1)
        .mount(&server)
        .await;

    let boma = Boma::new()
        .catalog(&catalog(&server, "192.0.2.99", 300))
        .env("GANDI_PAT", TOKEN);
    run(&boma, &["dns-up"])
        .success()
        .stdout_has("~ A 300 192.0.2.1 → 192.0.2.99")
        .stdout_has("~ TXT 300 heritage=boma types=A → heritage=boma v=2 owner=boma types=A")
        .stderr_has("applied 2 changes");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limited_reads_are_retried_after_retry_after() {
    read_succeeds_after(
        ResponseTemplate::new(429)
            .insert_header("Retry-After", "0")
            .set_body_json(json!({ "code": 429, "message": "Too many requests" })),
        "-> 429",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn errors_name_provider_zone_request_and_status() {
    let errors = fixture("errors.json");
    for (status, body, expected) in [
        (
            401,
            errors["401"].to_string(),
            "gandi: GET /v5/livedns/domains/unit.tests/records?page=1&per_page=100 failed: status 401",
        ),
        (403, errors["403"].to_string(), "failed: status 403"),
        (404, errors["404"].to_string(), "failed: status 404"),
        (
            200,
            "{not json".to_string(),
            "gandi: GET records of `unit.tests` (page 1) answered malformed JSON",
        ),
    ] {
        let server = MockServer::start().await;
        Mock::given(method("GET"))
            .respond_with(ResponseTemplate::new(status).set_body_string(body))
            .mount(&server)
            .await;
        let boma = Boma::new()
            .catalog(&catalog(&server, "192.0.2.1", 300))
            .env("GANDI_PAT", TOKEN);
        run(&boma, &["dns-up"])
            .code(2)
            .stderr_has("cannot read zone `unit.tests` from gandi")
            .stderr_has(expected);
        let writes = server
            .received_requests()
            .await
            .unwrap_or_default()
            .iter()
            .filter(|request| request.method.as_str() != "GET")
            .count();
        assert_eq!(writes, 0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failure_part_way_reports_what_was_applied() {
    let server = MockServer::start().await;
    serve_pages(&server, 14).await;
    Mock::given(method("PUT"))
        .and(path(format!("{RECORDS}/_boma.app/TXT")))
        .respond_with(ResponseTemplate::new(201))
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .and(path(format!("{RECORDS}/app/A")))
        .respond_with(
            ResponseTemplate::new(400).set_body_json(fixture("errors.json")["400"].clone()),
        )
        .mount(&server)
        .await;
    let boma = Boma::new()
        .catalog(&catalog(&server, "192.0.2.1", 300))
        .env("GANDI_PAT", TOKEN);
    let failed = run(&boma, &["dns-up"]);
    failed
        .code(2)
        .stderr_has("applied: +_boma.app.unit.tests TXT")
        .stderr_has("not applied: +app.unit.tests A")
        .stderr_has("1 of 2 changes applied before the failure")
        .stderr_has("gandi: PUT /v5/livedns/domains/unit.tests/records/app/A failed: status 400");
}

#[tokio::test(flavor = "multi_thread")]
async fn server_errors_are_retried_and_timeouts_bounded() {
    read_succeeds_after(
        ResponseTemplate::new(503).set_body_string("upstream unavailable"),
        "-> 503",
    )
    .await;

    let slow = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .set_delay(std::time::Duration::from_secs(3)),
        )
        .mount(&slow)
        .await;
    let boma = Boma::new()
        .catalog(&catalog(&slow, "192.0.2.1", 300))
        .env("GANDI_PAT", TOKEN)
        .env("BOMA_HTTP_TIMEOUT", "0.3");
    run(&boma, &["dns-preview"])
        .code(2)
        .stderr_has("gandi: GET /v5/livedns/domains/unit.tests/records?page=1&per_page=100 failed: timed out after 4 attempts");
}

#[tokio::test(flavor = "multi_thread")]
async fn import_prints_the_zone_as_records_that_then_need_only_ownership() {
    let server = MockServer::start().await;
    serve_pages(&server, 14).await;
    let bare = format!(
        "version = 1\n[secrets]\ngandi = {{ env = \"GANDI_PAT\" }}\n\
         [dns]\nprovider = \"gandi\"\nzone = \"unit.tests\"\ncredentials = \"gandi\"\nurl = \"{}/v5/livedns\"\n",
        server.uri()
    );
    let boma = Boma::new().catalog(&bare).env("GANDI_PAT", TOKEN);
    let imported = run(&boma, &["dns-import"]);
    imported.success();
    let fragment = imported.stdout.clone();
    assert!(fragment.contains("[[dns.records]]"), "{fragment}");
    assert!(!fragment.contains("type = \"SOA\""), "{fragment}");
    let boma = boma.file("services.toml", format!("{bare}\n{fragment}"));
    run(&boma, &["check"]).success();
    run(&boma, &["dns-preview"])
        .success()
        .stdout_has("! unit.tests MX: the same records exist (10 spool.mail.gandi.net., 50 fb.mail.gandi.net.), not owned by boma; --adopt takes ownership");
    let preview = run(&boma, &["dns-preview", "--adopt"]);
    preview.success();
    crate::support::assert_only_ownership_changes(&preview.stdout);
}

/// Gandi takes every type in presentation form in `rrset_values`: each rrset is one PUT of the
/// canonical values (text types quoted), whatever spelling the catalog used.
#[tokio::test(flavor = "multi_thread")]
async fn every_type_is_put_in_presentation_form() {
    let server = MockServer::start().await;
    serve_pages(&server, 14).await;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(201).set_body_json(json!({ "message": "DNS Record Created" })),
        )
        .mount(&server)
        .await;
    let records = r#"
[[dns.records]]
name = "host"
type = "SSHFP"
values = ["4 2 5B8847AAF90A18CDD78F29FF688C798669A679BF8DBAF77BF530DEA2A8329456"]
[[dns.records]]
name = "_25._tcp.mx"
type = "TLSA"
values = ["3 1 1 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"]
[[dns.records]]
name = "sip"
type = "NAPTR"
values = ['100 10 S SIP+D2U "" _sip._udp.unit.tests']
[[dns.records]]
name = "tower"
type = "LOC"
values = ["53 14 0 N 2 18 0 W 20m 10m 1000m 2m"]
[[dns.records]]
name = "svc"
type = "SVCB"
values = ["1 . port=8443 alpn=h2"]
[[dns.records]]
name = "web"
type = "HTTPS"
values = ['1 . alpn="h3,h2"']
[[dns.records]]
name = "old"
type = "DNAME"
values = ["New.Example.net"]
[[dns.records]]
name = "rev"
type = "PTR"
values = ["host.example.net"]
[[dns.records]]
name = "spf"
type = "SPF"
values = ["v=spf1 -all"]
"#;
    let bare = format!(
        "version = 1\n[secrets]\ngandi = {{ env = \"GANDI_PAT\" }}\n\
         [dns]\nprovider = \"gandi\"\nzone = \"unit.tests\"\ncredentials = \"gandi\"\nurl = \"{}/v5/livedns\"\n{records}",
        server.uri()
    );
    let boma = Boma::new().catalog(&bare).env("GANDI_PAT", TOKEN);
    run(&boma, &["dns-up"])
        .success()
        .stderr_has("applied 18 changes");
    let requests = server.received_requests().await.unwrap_or_default();
    let mut puts: Vec<String> = requests
        .iter()
        .filter(|request| request.method.as_str() == "PUT")
        .filter(|request| !request.url.path().contains("_boma"))
        .map(|request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap_or_default();
            format!(
                "{} {}",
                request
                    .url
                    .path()
                    .trim_start_matches(&format!("{RECORDS}/")),
                body["rrset_values"]
            )
        })
        .collect();
    puts.sort();
    assert_eq!(
        puts,
        [
            "_25._tcp.mx/TLSA [\"3 1 1 abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789\"]",
            "host/SSHFP [\"4 2 5b8847aaf90a18cdd78f29ff688c798669a679bf8dbaf77bf530dea2a8329456\"]",
            "old/DNAME [\"new.example.net.\"]",
            "rev/PTR [\"host.example.net.\"]",
            "sip/NAPTR [\"100 10 \\\"S\\\" \\\"SIP+D2U\\\" \\\"\\\" _sip._udp.unit.tests.\"]",
            "spf/SPF [\"\\\"v=spf1 -all\\\"\"]",
            "svc/SVCB [\"1 . alpn=h2 port=8443\"]",
            "tower/LOC [\"53 14 0.000 N 2 18 0.000 W 20.00m 10.00m 1000.00m 2.00m\"]",
            "web/HTTPS [\"1 . alpn=h3,h2\"]",
        ]
    );
}

/// octoDNS's no-changes zone (SSHFP, DNAME, PTR, SPF, TLSA beside the common types) imported:
/// what the catalog can hold comes back in presentation form and, pasted, differs from the zone
/// by ownership alone; what it cannot (TLSA digests of the wrong length) is named.
#[tokio::test(flavor = "multi_thread")]
async fn import_of_every_type_round_trips() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path(RECORDS))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(fixture("gandi-no-changes.json"))
                .insert_header("Total-Count", "17"),
        )
        .mount(&server)
        .await;
    let bare = format!(
        "version = 1\n[secrets]\ngandi = {{ env = \"GANDI_PAT\" }}\n\
         [dns]\nprovider = \"gandi\"\nzone = \"unit.tests\"\ncredentials = \"gandi\"\nurl = \"{}/v5/livedns\"\n",
        server.uri()
    );
    let boma = Boma::new().catalog(&bare).env("GANDI_PAT", TOKEN);
    let imported = run(&boma, &["dns-import"]);
    imported.success();
    crate::support::snapshot("dns_gandi__import_fragment", &imported.stdout);
    let boma = boma.file("services.toml", format!("{bare}\n{}", imported.stdout));
    run(&boma, &["check"]).success();
    let preview = run(&boma, &["dns-preview", "--adopt"]);
    preview.success();
    crate::support::assert_only_ownership_changes(&preview.stdout);
}
