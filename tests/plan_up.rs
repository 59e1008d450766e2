//! `boma plan` and `boma up` over every stage at once, against the real components the stage
//! tests start: loopback sshd hosts with Caddy, PowerDNS, buildah and a registry, nginx and
//! fail2ban for the edge checks, borg for the backup findings, and the Fly.io contract server.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use serde_json::{Value, json};

use crate::support::backups::{self, BORG_PASSPHRASE};
use crate::support::fly::{FlyApi, TOKEN};
use crate::support::lab::Lab;
use crate::support::powerdns::{API_KEY, PowerDns};
use crate::support::registry::{PASSWORD, Registry, git, repository};
use crate::support::{Boma, Run, finish_within, require, snapshot};

/// The `[dns]` of the lab's own catalog, replaced by each test's.
const LAB_DNS: &str =
    "[dns]\nprovider = \"zonefile\"\nzone = \"lab.test\"\npath = \"lab.test.zone\"\n";

/// Every component, the catalog with every stage, and the boma that runs it.
struct World {
    lab: Lab,
    pdns: PowerDns,
    fly: FlyApi,
    registry: Registry,
    boma: Boma,
}

async fn world() -> Option<World> {
    for tool in ["nginx", "fail2ban-regex", "buildah", "git"] {
        require(tool)?;
    }
    backups::tools()?;
    let registry = Registry::start()?;
    let pdns = PowerDns::start()?;
    let lab = Lab::start(2).await?;
    let fly = FlyApi::start(&[("m1", "started")]).await;
    let boma = Boma::new();
    let image = format!("{}/ops/app", registry.host);
    repository(boma.path(), &image, false);
    let repo = backups::borg_repo(boma.path(), "app-backup", &[("app-1", None)]);
    let h1 = lab.host("h1");
    let catalog = lab.catalog().replacen(
        LAB_DNS,
        &format!(
            "[defaults]\nbuild_tool = \"buildah\"\n\
             [secrets]\nforge = {{ env = \"FORGE_PASSWORD\" }}\npdns = {{ env = \"PDNS_KEY\" }}\n\
             fly = {{ env = \"FLY_API_TOKEN\" }}\nborg = {{ env = \"BORG_SECRET\" }}\n\
             [dns]\nprovider = \"powerdns\"\nzone = \"lab.test\"\ncredentials = \"pdns\"\nurl = \"{api}\"\n\
             [registries.local]\nhost = \"{host}\"\nuser = \"ops\"\npassword = \"forge\"\ntls_verify = false\n\
             [images.app]\ncontext = \"containers/app\"\nimage = \"{image}\"\nversion = \"1.0.0\"\n\
             bump = [\"deploy/kustomization.yaml\"]\n\
             [edge]\napp = \"example-proxy\"\ntarget = \"example-proxy.fly.dev\"\ndir = \"fly\"\n\
             token = \"fly\"\napi_url = \"{fly}\"\nresolver = \"100.100.100.100\"\n\
             image = \"app\"\n",
            api = pdns.api,
            host = registry.host,
            fly = fly.api_url(),
        ),
        1,
    ) + &format!(
        "[services.app-h1.backup]\ntool = \"borg\"\nhost = \"h1\"\nrepository = \"{repo}\"\n\
         passphrase = \"borg\"\nmax_age = \"26h\"\n\
         [services.web]\nhost = \"h1\"\nupstream = \"{backend}\"\nnames = [\"web.h1.lab.test\"]\n\
         public = [\"www.lab.test\"]\n[services.web.edge]\ndeny = [\"/admin/\"]\n",
        repo = repo.display(),
        backend = h1.backend,
    );
    let boma = boma
        .catalog(&catalog)
        .env("FORGE_PASSWORD", PASSWORD)
        .env("PDNS_KEY", API_KEY)
        .env("FLY_API_TOKEN", TOKEN)
        .env("BORG_SECRET", BORG_PASSPHRASE);
    pdns.create_zone("lab.test");
    Some(World {
        lab,
        pdns,
        fly,
        registry,
        boma,
    })
}

/// No secret of the world in anything boma printed. Each one is findable: the run that is checked
/// used all of them (the registry push and tag lookup with the password, the zone with the API
/// key, the Fly API with the token, which the test sees arrive, the borg check with the
/// passphrase), so a leak would put the very text searched for into the output.
fn no_secret(run: &Run) {
    for secret in [PASSWORD, API_KEY, TOKEN, BORG_PASSPHRASE] {
        assert!(
            !run.stdout.contains(secret) && !run.stderr.contains(secret),
            "a secret was printed:\n{}\n{}",
            run.stdout,
            run.stderr
        );
    }
}

/// A snapshot of what a run printed, with the image's commit and the backup's age filtered too.
fn snapshot_run(name: &str, text: &str) {
    let mut settings = insta::Settings::clone_current();
    settings.add_filter(r"v1\.0\.0-[0-9a-f]{7}", "v1.0.0-[REV]");
    settings.add_filter(r"(app-1\s+)\S+", "$1[AGE]");
    settings.add_filter(r"127\.0\.0\.1:\d+", "127.0.0.1:[PORT]");
    settings.add_filter(r"sha256:[0-9a-f]{64}", "sha256:[DIGEST]");
    settings.add_filter(r"(https?_port) \d+", "$1 [PORT]");
    settings.bind(|| snapshot(name, text));
}

fn both(run: &Run) -> String {
    format!("{}\n--- stderr\n{}", run.stdout, run.stderr)
}

/// `Accepted publickey` lines in each host's sshd log: the SSH connections it took.
fn accepted(lab: &Lab) -> Vec<usize> {
    lab.hosts
        .iter()
        .map(|host| {
            std::fs::read_to_string(host.dir.join("sshd.log"))
                .unwrap_or_default()
                .matches("Accepted publickey")
                .count()
        })
        .collect()
}

/// Each stage's name, state and summary in a plan document: its shape without the volatile plans.
fn shape(document: &Value) -> Value {
    let stages: Vec<Value> = document["stages"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|stage| {
            json!({
                "name": stage["name"],
                "state": stage["state"],
                "summary": stage["summary"],
                "has_plan": stage["plan"].is_object() || stage["plan"].is_array(),
                "checksum": stage["checksum"].as_str().map(str::len),
            })
        })
        .collect();
    let findings: Vec<Value> = document["findings"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|finding| json!({"service": finding["service"], "status": finding["status"]}))
        .collect();
    json!({
        "checksum": document["checksum"].as_str().map(str::len),
        "summary": document["summary"],
        "stages": stages,
        "findings": findings,
        "applied": document["applied"],
    })
}

#[tokio::test(flavor = "multi_thread")]
async fn plan_reviews_every_stage_and_up_applies_them_in_order_then_changes_nothing() {
    let Some(world) = world().await else {
        return;
    };
    let boma = &world.boma;

    let plan = boma.run_with(["plan"]);
    plan.success();
    no_secret(&plan);
    snapshot_run("plan_up__plan_text", &both(&plan));

    let json = boma.run_with(["plan", "--output", "json"]);
    json.success();
    let document = json.json();
    snapshot_run(
        "plan_up__plan_json_shape",
        &serde_json::to_string_pretty(&shape(&document)).unwrap_or_default(),
    );
    let checksum = document["checksum"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert_eq!(checksum.len(), 16);

    let markdown = boma.run_with(["plan", "--output", "markdown"]);
    markdown.success();
    snapshot_run("plan_up__plan_markdown", &markdown.stdout);

    boma.run_with(["plan", "--exit-code"]).code(1);

    // A checksum other than the reviewed one: nothing anywhere is touched.
    let live_before: Vec<Vec<u8>> = world.lab.hosts.iter().map(|host| host.live()).collect();
    let refused = boma.run_with(["up", "--checksum", "0000000000000000"]);
    refused.code(2);
    snapshot_run("plan_up__checksum_refused", &refused.stderr);
    let live_after: Vec<Vec<u8>> = world.lab.hosts.iter().map(|host| host.live()).collect();
    assert_eq!(live_before, live_after);
    assert_eq!(world.fly.updates(), 0);
    assert!(world.pdns.dig("app.h1.lab.test", "A").is_empty());

    // The reviewed plan, applied in order.
    let store = boma.path().join("store").display().to_string();
    let up = boma.run_with(["up", "--checksum", &checksum, "--storage", &store]);
    up.success();
    no_secret(&up);
    snapshot_run("plan_up__up_text", &both(&up));
    let revision = git(boma.path(), &["rev-parse", "HEAD"]);
    let reference = format!("{}/ops/app:v1.0.0-{}", world.registry.host, &revision[..7]);
    // The edge rolled to the image the images stage pushed.
    assert_eq!(world.fly.machine("m1")["config"]["image"], json!(reference));
    let (_, _, tags) = world.registry.get("/v2/ops/app/tags/list", None);
    assert!(
        tags.contains(&format!("v1.0.0-{}", &revision[..7])),
        "{tags}"
    );
    for host in &world.lab.hosts {
        let live = String::from_utf8_lossy(&host.live()).into_owned();
        assert!(
            live.contains(&format!("app.{}.lab.test", host.name)),
            "{live}"
        );
    }
    assert_eq!(
        world.pdns.dig("www.lab.test", "CNAME"),
        ["example-proxy.fly.dev."]
    );
    // Certificates are requested last, after the machines rolled (DNS published the CNAME in
    // between: the stage order, asserted by the report's table in the snapshot above).
    let requests = world.fly.requests().await;
    // boma held the token it must never print: it went to the API, and only there.
    assert!(requests.iter().all(|(_, request)| {
        request
            .headers
            .get("authorization")
            .is_some_and(|value| value.to_str().unwrap_or_default().contains(TOKEN))
    }));
    let lines: Vec<&str> = requests.iter().map(|(line, _)| line.as_str()).collect();
    let certificate = lines
        .iter()
        .position(|line| line.starts_with("POST /v1/apps/example-proxy/certificates"));
    let update = lines
        .iter()
        .position(|line| line.starts_with("POST /v1/apps/example-proxy/machines/m1"));
    assert!(
        matches!((update, certificate), (Some(update), Some(cert)) if update < cert),
        "{lines:#?}"
    );

    // A second up: every stage unchanged, one SSH connection per host.
    let before = accepted(&world.lab);
    let again = boma.run_with(["up", "--output", "json", "--storage", &store]);
    again.success();
    let after = accepted(&world.lab);
    let opened: Vec<usize> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(opened, vec![1; world.lab.hosts.len()], "{}", again.stderr);
    snapshot_run(
        "plan_up__second_up_json_shape",
        &serde_json::to_string_pretty(&shape(&again.json())).unwrap_or_default(),
    );
    // plan on the converged world: nothing pending, one connection per host for caddy and
    // the backup findings together.
    let before = accepted(&world.lab);
    boma.run_with(["plan", "--exit-code"]).success();
    let after = accepted(&world.lab);
    let opened: Vec<usize> = after.iter().zip(&before).map(|(a, b)| a - b).collect();
    assert_eq!(opened, vec![1; world.lab.hosts.len()]);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_failing_stage_stops_the_run_and_the_stages_after_it_never_start() {
    let Some(world) = world().await else {
        return;
    };
    world.fly.never_starts("m1");
    let store = world.boma.path().join("store").display().to_string();
    let up = world.boma.run_with([
        "up",
        "--machine-timeout",
        "1s",
        "--skip",
        "backups",
        "--storage",
        &store,
    ]);
    up.code(2);
    no_secret(&up);
    snapshot_run("plan_up__edge_fails", &both(&up));
    // Caddy ran before the edge; DNS and certificates never started.
    let live = String::from_utf8_lossy(&world.lab.host("h1").live()).into_owned();
    assert!(live.contains("app.h1.lab.test"), "{live}");
    assert!(world.pdns.dig("app.h1.lab.test", "A").is_empty());
    let requests = world.fly.requests().await;
    assert!(
        requests
            .iter()
            .any(|(line, _)| line.starts_with("POST /v1/apps/example-proxy/machines/m1")),
    );
    assert!(
        !requests
            .iter()
            .any(|(line, _)| line.starts_with("POST /v1/apps/example-proxy/certificates")),
        "no certificate before DNS"
    );
}

/// The lab's catalog, its DNS a zone file: a catalog with Caddy and DNS, no edge, no images.
fn lab_only(lab: &Lab) -> Boma {
    let records = "[[dns.records]]\nname = \"@\"\ntype = \"NS\"\nvalues = [\"ns1.example.net.\"]\n";
    Boma::new().catalog(&(lab.catalog() + records))
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalog_without_an_edge_skips_that_stage_and_applies_the_rest() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let boma = lab_only(&lab);
    let plan = boma.run_with(["plan", "--exit-code"]);
    plan.code(1);
    snapshot_run("plan_up__no_edge_plan", &both(&plan));
    let up = boma.run_with(["up", "--only", "caddy,dns"]);
    up.success();
    snapshot_run("plan_up__no_edge_up", &both(&up));
    let zone = std::fs::read_to_string(boma.path().join("lab.test.zone")).unwrap_or_default();
    assert!(zone.contains("app.h1"), "{zone}");
    let skipped = boma.run_with(["up", "--skip", "dns"]);
    skipped.success();
    assert_eq!(
        skipped
            .stdout
            .lines()
            .last()
            .map(str::split_whitespace)
            .map(Iterator::collect::<Vec<_>>),
        Some(vec!["caddy", "unchanged", "-"])
    );
}

/// The lab's catalog with its DNS at a Gandi contract server whose writes each take a while.
async fn slow_gandi(lab: &Lab) -> (wiremock::MockServer, Boma) {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};
    let server = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/v5/livedns/domains/lab.test/records"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!([]))
                .insert_header("Total-Count", "0"),
        )
        .mount(&server)
        .await;
    Mock::given(method("PUT"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(json!({"message": "DNS Record Created"}))
                .set_delay(Duration::from_millis(1500)),
        )
        .mount(&server)
        .await;
    let catalog = lab.catalog().replacen(
        LAB_DNS,
        &format!(
            "[secrets]\ngandi = {{ env = \"GANDI_PAT\" }}\n\
             [dns]\nprovider = \"gandi\"\nzone = \"lab.test\"\ncredentials = \"gandi\"\nurl = \"{}/v5/livedns\"\n\
             [[dns.records]]\nname = \"one\"\ntype = \"TXT\"\nvalues = [\"1\"]\n\
             [[dns.records]]\nname = \"two\"\ntype = \"TXT\"\nvalues = [\"2\"]\n",
            server.uri()
        ),
        1,
    );
    let boma = Boma::new()
        .catalog(&catalog)
        .env("GANDI_PAT", "gandi-pat-0000");
    (server, boma)
}

/// The writes (PUTs) the DNS server received.
async fn writes(server: &wiremock::MockServer) -> usize {
    server
        .received_requests()
        .await
        .unwrap_or_default()
        .iter()
        .filter(|request| request.method.as_str() == "PUT")
        .count()
}

#[tokio::test(flavor = "multi_thread")]
async fn ctrl_c_during_the_dns_stage_after_caddy_ran_stops_with_each_stage_reported() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let (server, boma) = slow_gandi(&lab).await;
    let child = Command::new(env!("CARGO_BIN_EXE_boma"))
        .arg("up")
        .current_dir(boma.path())
        .env("GANDI_PAT", "gandi-pat-0000")
        .env_remove("BOMA_CATALOG")
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run boma: {error}"));
    // The first write reached the DNS server: Caddy is done, DNS is under way.
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        if writes(&server).await > 0 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "boma never wrote to the DNS server"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let live = String::from_utf8_lossy(&lab.host("h1").live()).into_owned();
    assert!(live.contains("app.h1.lab.test"), "caddy ran first: {live}");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap_or_else(|error| panic!("kill: {error}"));
    assert!(status.success());
    let (run, _) = finish_within(child, Duration::from_secs(30));
    run.code(130);
    snapshot_run("plan_up__ctrl_c_during_dns", &both(&run));
    // The write in flight finished; nothing was sent after the signal.
    assert_eq!(writes(&server).await, 1);
    assert!(lab.host("h1").leftovers().is_empty());
}
