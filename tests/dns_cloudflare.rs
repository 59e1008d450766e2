//! Cloudflare v4 against a contract server that serves the real bodies in
//! tests/fixtures/cloudflare and checks every request boma sends.

use serde_json::{Value, json};
use wiremock::matchers::{body_json, header, method, path, query_param};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Boma, Run};

const TOKEN: &str = "cf-token-91b2c3d4e5";
const ZONE_ID: &str = "ff12ab34cd5611334422ab3322997650";
/// The ownership mark of a catalog with no `[dns].owner`: every record boma writes carries it.
const MARK: &str = "heritage=boma v=2 owner=boma";

fn fixture(name: &str) -> Value {
    let path = crate::support::repo_file(&format!("tests/fixtures/cloudflare/{name}"));
    serde_json::from_str(
        &std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display())),
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

/// The zones fixture with its first zone renamed to `unit.tests` (see tests/fixtures/README.md).
fn zones() -> Value {
    let mut zones = fixture("cloudflare-zones-page-1.json");
    zones["result"][0]["name"] = json!("unit.tests");
    zones["result"][0]["id"] = json!(ZONE_ID);
    zones
}

fn catalog(server: &MockServer, extra: &str) -> String {
    format!(
        "version = 1\n[secrets]\ncloudflare = {{ env = \"CF_TOKEN\" }}\n\
         [dns]\nprovider = \"cloudflare\"\nzone = \"unit.tests\"\ncredentials = \"cloudflare\"\nurl = \"{}/client/v4\"\n{extra}\
         [[dns.records]]\nname = \"edge\"\ntype = \"A\"\nvalues = [\"192.0.2.5\"]\nproxied = true\n\
         [hosts.indri]\naddress = \"indri.tail.ts.net\"\nip = \"192.0.2.1\"\n\
         [services.app]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:80\"\nnames = [\"app.unit.tests\"]\n",
        server.uri()
    )
}

async fn serve_zone(server: &MockServer) {
    Mock::given(method("GET"))
        .and(path("/client/v4/zones"))
        .and(query_param("name", "unit.tests"))
        .and(header("authorization", format!("Bearer {TOKEN}").as_str()))
        .respond_with(ResponseTemplate::new(200).set_body_json(zones()))
        .mount(server)
        .await;
    for page in ["1", "2", "3"] {
        Mock::given(method("GET"))
            .and(path(format!("/client/v4/zones/{ZONE_ID}/dns_records")))
            .and(query_param("page", page))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(fixture(&format!("cloudflare-dns_records-page-{page}.json"))),
            )
            .mount(server)
            .await;
    }
}

fn run(boma: &Boma, args: &[&str]) -> Run {
    let run = boma.run_with(args);
    assert!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        "the token was printed"
    );
    run
}

/// Exactly one batch request, with exactly this body.
async fn expect_batch(server: &MockServer, body: Value) {
    Mock::given(method("POST"))
        .and(path(format!(
            "/client/v4/zones/{ZONE_ID}/dns_records/batch"
        )))
        .and(body_json(body))
        .respond_with(batch_ok())
        .expect(1)
        .mount(server)
        .await;
}

fn batch_ok() -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({ "success": true, "errors": [], "messages": [], "result": {} }))
}

#[tokio::test(flavor = "multi_thread")]
async fn first_sync_posts_everything_in_one_batch() {
    let server = MockServer::start().await;
    serve_zone(&server).await;
    // Ownership is each record's comment, in the same post: no marker records.
    let expected = json!({
        "deletes": [],
        "patches": [],
        "posts": [
            { "type": "A", "name": "app.unit.tests", "ttl": 300, "comment": MARK, "proxied": false, "content": "192.0.2.1" },
            { "type": "A", "name": "edge.unit.tests", "ttl": 300, "comment": MARK, "proxied": true, "content": "192.0.2.5" },
        ],
    });
    expect_batch(&server, expected).await;
    let boma = Boma::new()
        .catalog(&catalog(&server, ""))
        .env("CF_TOKEN", TOKEN);
    let preview = run(&boma, &["dns-preview"]);
    preview
        .success()
        .stdout_has("+ A 300 192.0.2.5 (proxied)")
        .stdout_has("2 to create, 0 to update, 0 to delete, 0 unchanged");
    run(&boma, &["dns-up"])
        .success()
        .stderr_has("applied 2 changes to zone unit.tests (5 HTTP requests)");
}

#[tokio::test(flavor = "multi_thread")]
async fn batches_are_chunked_by_batch_size() {
    let server = MockServer::start().await;
    serve_zone(&server).await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/client/v4/zones/{ZONE_ID}/dns_records/batch"
        )))
        .respond_with(batch_ok())
        .expect(2)
        .mount(&server)
        .await;
    let boma = Boma::new()
        .catalog(&catalog(&server, "batch_size = 1\n"))
        .env("CF_TOKEN", TOKEN);
    run(&boma, &["dns-up"])
        .success()
        .stderr_has("applied 2 changes");
}

#[tokio::test(flavor = "multi_thread")]
async fn adopting_a_foreign_rrset_patches_kept_values_and_deletes_the_rest() {
    let server = MockServer::start().await;
    serve_zone(&server).await;
    // The fixture's `unit.tests` A holds 1.2.3.4 and 1.2.3.5; the catalog wants only 1.2.3.4.
    let adopt = "[[dns.records]]\nname = \"@\"\ntype = \"A\"\nvalues = [\"1.2.3.4\"]\n";
    let ids: Vec<(String, String)> = (1..=3)
        .flat_map(|page| {
            fixture(&format!("cloudflare-dns_records-page-{page}.json"))["result"]
                .as_array()
                .cloned()
                .unwrap_or_default()
        })
        .filter(|record| record["name"] == "unit.tests" && record["type"] == "A")
        .map(|record| {
            (
                record["content"].as_str().unwrap_or("").to_string(),
                record["id"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect();
    let id_of = |content: &str| {
        ids.iter()
            .find(|(value, _)| value == content)
            .map(|(_, id)| id.clone())
            .unwrap_or_default()
    };
    let expected = json!({
        "deletes": [{ "id": id_of("1.2.3.5") }],
        "patches": [{ "type": "A", "name": "unit.tests", "ttl": 300, "comment": MARK, "proxied": false, "content": "1.2.3.4", "id": id_of("1.2.3.4") }],
        "posts": [
            { "type": "A", "name": "app.unit.tests", "ttl": 300, "comment": MARK, "proxied": false, "content": "192.0.2.1" },
            { "type": "A", "name": "edge.unit.tests", "ttl": 300, "comment": MARK, "proxied": true, "content": "192.0.2.5" },
        ],
    });
    expect_batch(&server, expected).await;
    let boma = Boma::new()
        .catalog(&catalog(&server, adopt))
        .env("CF_TOKEN", TOKEN);
    run(&boma, &["dns-up"])
        .code(2)
        .stdout_has("! unit.tests A: held by a record boma does not own (1.2.3.4, 1.2.3.5)");
    run(&boma, &["dns-up", "--adopt"])
        .success()
        .stdout_has("~ A 300 1.2.3.4, 1.2.3.5 → 1.2.3.4");
}

#[tokio::test(flavor = "multi_thread")]
async fn rate_limit_and_credential_errors() {
    let errors = fixture("errors.json");
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(429)
                .insert_header("Retry-After", "0")
                .set_body_json(errors["429"].clone()),
        )
        .up_to_n_times(1)
        .with_priority(1)
        .mount(&server)
        .await;
    serve_zone(&server).await;
    let boma = Boma::new()
        .catalog(&catalog(&server, ""))
        .env("CF_TOKEN", TOKEN);
    run(&boma, &["dns-preview"])
        .success()
        .stdout_has("2 to create");

    let denied = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(
            ResponseTemplate::new(403).set_body_json(errors["403_bad_credentials"].clone()),
        )
        .mount(&denied)
        .await;
    let boma = Boma::new()
        .catalog(&catalog(&denied, ""))
        .env("CF_TOKEN", TOKEN);
    run(&boma, &["dns-preview"])
        .code(2)
        .stderr_has("cloudflare: GET /client/v4/zones?name=unit.tests failed: status 403")
        .stderr_has("Unknown X-Auth-Key");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_zone_the_token_cannot_see_is_named() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/client/v4/zones"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(fixture("cloudflare-zones-page-3.json")),
        )
        .mount(&server)
        .await;
    let boma = Boma::new()
        .catalog(&catalog(&server, ""))
        .env("CF_TOKEN", TOKEN);
    run(&boma, &["dns-preview"])
        .code(2)
        .stderr_has("cloudflare: zone `unit.tests` not found for this token");
}

#[tokio::test(flavor = "multi_thread")]
async fn records_that_cannot_be_proxied_compare_equal_regardless_of_the_flag() {
    let server = MockServer::start().await;
    serve_zone(&server).await;
    // The fixture's TXT rrset carries `"proxied": false`; declared identically it needs only
    // ownership, no update.
    let same = "[[dns.records]]\nname = \"txt\"\ntype = \"TXT\"\nttl = 600\nvalues = [\"Bah bah black sheep\", \"have you any wool.\", \
                \"v=DKIM1;k=rsa;s=email;h=sha256;p=A/kinda+of/long/string+with+numb3rs\"]\n";
    let boma = Boma::new()
        .catalog(&catalog(&server, same))
        .env("CF_TOKEN", TOKEN);
    run(&boma, &["dns-preview"])
        .success()
        .stdout_has("! txt.unit.tests TXT: the same records exist");
    let preview = run(&boma, &["dns-preview", "--adopt"]);
    preview
        .success()
        .stdout_has("2 to create, 0 to update, 0 to delete, 1 to mark as owned, 0 unchanged");
    assert!(
        !preview.stdout.contains('!'),
        "no conflict:\n{}",
        preview.stdout
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn import_prints_the_zone_as_records_that_then_need_only_ownership() {
    let server = MockServer::start().await;
    serve_zone(&server).await;
    let bare = format!(
        "version = 1\n[secrets]\ncloudflare = {{ env = \"CF_TOKEN\" }}\n\
         [dns]\nprovider = \"cloudflare\"\nzone = \"unit.tests\"\ncredentials = \"cloudflare\"\nurl = \"{}/client/v4\"\n",
        server.uri()
    );
    let boma = Boma::new().catalog(&bare).env("CF_TOKEN", TOKEN);
    let imported = run(&boma, &["dns-import"]);
    imported.success();
    let fragment = imported.stdout.clone();
    // Cloudflare's proxy flag is kept; types the catalog cannot hold are named, not dropped
    // silently; SOA and the apex NS are the zone's, never imported.
    assert!(
        fragment.contains(
            "name = \"www\"\ntype = \"A\"\nttl = 300\nvalues = [\"2.2.3.6\"]\nproxied = false\n"
        ),
        "{fragment}"
    );
    assert!(!fragment.contains("type = \"SOA\""), "{fragment}");
    // The types Cloudflare keeps in `data` (LOC, NAPTR, SSHFP, SVCB, HTTPS) come back in
    // presentation form; SPF (Cloudflare no longer takes it), DS and a name that is not ASCII
    // are named as skipped.
    crate::support::snapshot("dns_cloudflare__import_fragment", &fragment);
    let boma = boma.file("services.toml", format!("{bare}\n{fragment}"));
    run(&boma, &["check"]).success();
    let preview = run(&boma, &["dns-preview", "--adopt"]);
    preview.success();
    crate::support::assert_only_ownership_changes(&preview.stdout);
    // Taking ownership patches each record's comment and nothing else.
    Mock::given(method("POST"))
        .and(path(format!(
            "/client/v4/zones/{ZONE_ID}/dns_records/batch"
        )))
        .respond_with(batch_ok())
        .expect(1)
        .mount(&server)
        .await;
    run(&boma, &["dns-up", "--adopt"]).success();
    let requests = server.received_requests().await.unwrap_or_default();
    let batch: Vec<Value> = requests
        .iter()
        .filter(|request| request.url.path().ends_with("/batch"))
        .filter_map(|request| serde_json::from_slice(&request.body).ok())
        .collect();
    let [batch] = batch.as_slice() else {
        panic!("one batch, got {batch:?}")
    };
    assert_eq!(batch["deletes"], json!([]));
    assert_eq!(batch["posts"], json!([]));
    let patches = batch["patches"].as_array().cloned().unwrap_or_default();
    let pasted = fragment.matches("[[dns.records]]").count();
    assert!(patches.len() >= pasted, "{} < {pasted}", patches.len());
    for patch in &patches {
        let keys: Vec<&String> = patch
            .as_object()
            .map(|o| o.keys().collect())
            .unwrap_or_default();
        assert_eq!(keys, ["comment", "id"], "{patch}");
        assert_eq!(patch["comment"], MARK);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn the_previous_releases_markers_become_comments_in_one_batch() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/client/v4/zones"))
        .respond_with(ResponseTemplate::new(200).set_body_json(zones()))
        .mount(&server)
        .await;
    // The zone as the previous release left it: records without comments and `_boma` markers
    // that name no owner.
    let records = json!({
        "success": true,
        "result_info": { "page": 1, "per_page": 100, "total_pages": 1, "count": 4, "total_count": 4 },
        "result": [
            { "id": "r-app", "type": "A", "name": "app.unit.tests", "content": "192.0.2.1", "ttl": 300, "proxied": false },
            { "id": "r-edge", "type": "A", "name": "edge.unit.tests", "content": "192.0.2.5", "ttl": 300, "proxied": true },
            { "id": "m-app", "type": "TXT", "name": "_boma.app.unit.tests", "content": "\"heritage=boma types=A\"", "ttl": 300 },
            { "id": "m-edge", "type": "TXT", "name": "_boma.edge.unit.tests", "content": "\"heritage=boma types=A\"", "ttl": 300 },
        ],
    });
    Mock::given(method("GET"))
        .and(path(format!("/client/v4/zones/{ZONE_ID}/dns_records")))
        .respond_with(ResponseTemplate::new(200).set_body_json(records))
        .mount(&server)
        .await;
    // The marks are patched onto the records (nothing else about them is sent) and the markers
    // go, in one transaction.
    expect_batch(
        &server,
        json!({
            "deletes": [{ "id": "m-app" }, { "id": "m-edge" }],
            "patches": [{ "id": "r-app", "comment": MARK }, { "id": "r-edge", "comment": MARK }],
            "posts": [],
        }),
    )
    .await;
    let boma = Boma::new()
        .catalog(&catalog(&server, ""))
        .env("CF_TOKEN", TOKEN);
    run(&boma, &["dns-up"])
        .success()
        .stdout_has("* A 300 192.0.2.1 (ownership mark only)")
        .stdout_has("- TXT 300 heritage=boma types=A")
        .stdout_has("0 to create, 0 to update, 2 to delete, 2 to mark as owned, 0 unchanged")
        .stderr_has("applied 4 changes");
}

/// The types Cloudflare keeps in parts, as `[[dns.records]]` write them.
const STRUCTURED: &str = r#"
[[dns.records]]
name = "host"
type = "SSHFP"
values = ["4 2 5B8847AAF90A18CDD78F29FF688C798669A679BF8DBAF77BF530DEA2A8329456"]
[[dns.records]]
name = "_443._tcp.www"
type = "TLSA"
values = ["3 1 1 ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789ABCDEF0123456789"]
[[dns.records]]
name = "sip"
type = "NAPTR"
values = ['100 10 "S" "SIP+D2U" "" _sip._udp.unit.tests.']
[[dns.records]]
name = "tower"
type = "LOC"
values = ["53 14 0 N 2 18 0 W 20m 10m 1000m 2m"]
[[dns.records]]
name = "svc"
type = "SVCB"
values = ["1 . port=8443 alpn=h2"]
[[dns.records]]
name = "www"
type = "HTTPS"
values = ['1 . alpn="h3,h2" ipv4hint=192.0.2.7']
[[dns.records]]
name = "rev"
type = "PTR"
values = ["Host.Example.net"]
"#;

/// What boma posts for `STRUCTURED`: the `data` objects of the API reference (as the octoDNS
/// fixtures hold them), PTR's target as `content` without the final dot.
fn structured_posts() -> Vec<Value> {
    let record = |name: &str, kind: &str, field: &str, value: Value| json!({ "type": kind, "name": name, "ttl": 300, "comment": MARK, field: value });
    vec![
        record(
            "host.unit.tests",
            "SSHFP",
            "data",
            json!({ "algorithm": 4, "type": 2, "fingerprint": "5b8847aaf90a18cdd78f29ff688c798669a679bf8dbaf77bf530dea2a8329456" }),
        ),
        record(
            "_443._tcp.www.unit.tests",
            "TLSA",
            "data",
            json!({ "usage": 3, "selector": 1, "matching_type": 1, "certificate": "abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789" }),
        ),
        record(
            "sip.unit.tests",
            "NAPTR",
            "data",
            json!({ "order": 100, "preference": 10, "flags": "S", "service": "SIP+D2U", "regex": "", "replacement": "_sip._udp.unit.tests." }),
        ),
        record(
            "tower.unit.tests",
            "LOC",
            "data",
            json!({
                "lat_degrees": 53, "lat_minutes": 14, "lat_seconds": 0.0, "lat_direction": "N",
                "long_degrees": 2, "long_minutes": 18, "long_seconds": 0.0, "long_direction": "W",
                "altitude": 20.0, "size": 10.0, "precision_horz": 1000.0, "precision_vert": 2.0,
            }),
        ),
        record(
            "svc.unit.tests",
            "SVCB",
            "data",
            json!({ "priority": 1, "target": ".", "value": "alpn=\"h2\" port=\"8443\"" }),
        ),
        record(
            "www.unit.tests",
            "HTTPS",
            "data",
            json!({ "priority": 1, "target": ".", "value": "alpn=\"h3,h2\" ipv4hint=\"192.0.2.7\"" }),
        ),
        record(
            "rev.unit.tests",
            "PTR",
            "content",
            json!("host.example.net"),
        ),
    ]
}

fn sorted(mut records: Vec<Value>) -> Vec<Value> {
    records.sort_by_key(|record| format!("{} {}", record["name"], record["type"]));
    records
}

#[tokio::test(flavor = "multi_thread")]
async fn structured_types_are_posted_as_data_objects() {
    let server = MockServer::start().await;
    serve_zone(&server).await;
    Mock::given(method("POST"))
        .and(path(format!(
            "/client/v4/zones/{ZONE_ID}/dns_records/batch"
        )))
        .respond_with(batch_ok())
        .expect(1)
        .mount(&server)
        .await;
    let bare = format!(
        "version = 1\n[secrets]\ncloudflare = {{ env = \"CF_TOKEN\" }}\n\
         [dns]\nprovider = \"cloudflare\"\nzone = \"unit.tests\"\ncredentials = \"cloudflare\"\nurl = \"{}/client/v4\"\n{STRUCTURED}",
        server.uri()
    );
    let boma = Boma::new().catalog(&bare).env("CF_TOKEN", TOKEN);
    run(&boma, &["dns-up"])
        .success()
        .stderr_has("applied 7 changes");
    let requests = server.received_requests().await.unwrap_or_default();
    let batch: Value = requests
        .iter()
        .find(|request| request.url.path().ends_with("/batch"))
        .and_then(|request| serde_json::from_slice(&request.body).ok())
        .unwrap_or_default();
    assert_eq!(batch["deletes"], json!([]));
    assert_eq!(batch["patches"], json!([]));
    let posts = batch["posts"].as_array().cloned().unwrap_or_default();
    assert_eq!(sorted(posts), sorted(structured_posts()));
}

/// The same records as Cloudflare answers them (its own `content` rendering beside the `data`
/// boma sent, the comment boma wrote): they read back as what the catalog declares.
#[tokio::test(flavor = "multi_thread")]
async fn structured_types_read_back_as_the_catalog_wrote_them() {
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/client/v4/zones"))
        .respond_with(ResponseTemplate::new(200).set_body_json(zones()))
        .mount(&server)
        .await;
    let contents = [
        "4 2 5b8847aaf90a18cdd78f29ff688c798669a679bf8dbaf77bf530dea2a8329456",
        "3 1 1 abcdef0123456789abcdef0123456789abcdef0123456789abcdef0123456789",
        "100 10 \"S\" \"SIP+D2U\" \"\" _sip._udp.unit.tests.",
        "IN LOC 53 14 0 N 2 18 0 W 20m 10m 1000m 2m",
        "1 . alpn=\"h2\" port=\"8443\"",
        "1 . alpn=\"h3,h2\" ipv4hint=\"192.0.2.7\"",
        "host.example.net",
    ];
    let result: Vec<Value> = structured_posts()
        .into_iter()
        .zip(contents)
        .enumerate()
        .map(|(index, (mut record, content))| {
            record["id"] = json!(format!("r{index}"));
            record["content"] = json!(content);
            record["proxied"] = json!(false);
            record
        })
        .collect();
    let count = result.len();
    Mock::given(method("GET"))
        .and(path(format!("/client/v4/zones/{ZONE_ID}/dns_records")))
        .respond_with(ResponseTemplate::new(200).set_body_json(json!({
            "success": true,
            "result_info": { "page": 1, "per_page": 100, "total_pages": 1, "count": count, "total_count": count },
            "result": result,
        })))
        .mount(&server)
        .await;
    let bare = format!(
        "version = 1\n[secrets]\ncloudflare = {{ env = \"CF_TOKEN\" }}\n\
         [dns]\nprovider = \"cloudflare\"\nzone = \"unit.tests\"\ncredentials = \"cloudflare\"\nurl = \"{}/client/v4\"\n{STRUCTURED}",
        server.uri()
    );
    let boma = Boma::new().catalog(&bare).env("CF_TOKEN", TOKEN);
    run(&boma, &["dns-preview", "--exit-code"])
        .success()
        .stdout_has("0 to create, 0 to update, 0 to delete, 7 unchanged");
}
