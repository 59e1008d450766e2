//! `fly-deploy` against a Machines API contract server (bodies from Fly's API reference): the
//! checks before anything is sent, certificates, the one-machine-at-a-time roll with the rendered
//! files, the deployed render kept in `[edge].dir`, and every way it must stop without deploying.

use base64::Engine as _;
use serde_json::Value;

use crate::support::fly::{AUTH_KEY, FLYCTL_SECRETS, FlyApi, TOKEN};
use crate::support::{Boma, repo_file, require, snapshot};

/// The shipped catalog, its edge pointed at `api_url`.
fn edge_catalog(api_url: &str) -> String {
    let shipped = std::fs::read_to_string(repo_file("services.toml")).unwrap_or_default();
    assert!(shipped.contains("[edge]\n"));
    shipped.replace("[edge]\n", &format!("[edge]\napi_url = \"{api_url}\"\n"))
}

/// The shipped catalog's edge joins the tailnet: its auth key is read from `TS_AUTHKEY`.
fn boma_for(api_url: &str) -> Boma {
    Boma::new()
        .catalog(&edge_catalog(api_url))
        .env("FLY_API_TOKEN", TOKEN)
        .env("TS_AUTHKEY", AUTH_KEY)
}

/// Whether nginx and fail2ban are here (a skip on a laptop without them, a failure in CI).
fn tools() -> bool {
    require("nginx").is_some() && require("fail2ban-regex").is_some()
}

fn no_token(run: &crate::support::Run) {
    assert!(!run.stdout.contains(TOKEN), "{}", run.stdout);
    assert!(!run.stderr.contains(TOKEN), "{}", run.stderr);
}

#[test]
fn check_passes_on_the_shipped_catalog_and_shows_drift() {
    if !tools() {
        return;
    }
    // The repository keeps the shipped edge's deployed render in fly/.
    Boma::new()
        .shipped("services.toml")
        .args(["fly-deploy", "--check"])
        .run()
        .success();

    let shipped = std::fs::read_to_string(repo_file("services.toml")).unwrap_or_default();
    let changed = shipped.replace("\"192.0.2.66\"]", "\"192.0.2.66\", \"203.0.113.9\"]");
    assert_ne!(changed, shipped);
    let mut boma = Boma::new().catalog(&changed);
    for local in ["nginx.conf", "deny.geo", "fail2ban/jail.conf"] {
        let deployed = std::fs::read(repo_file(&format!("fly/{local}"))).unwrap_or_default();
        boma = boma.file(&format!("fly/{local}"), deployed);
    }
    boma = boma.file("fly/bans/retired.map", "");
    let run = boma.run_with(["fly-deploy", "--check"]);
    run.code(1);
    snapshot(
        "fly_deploy__check_drift",
        &format!("{}\n--- stderr\n{}", run.stdout, run.stderr),
    );
    let json = boma.run_with(["fly-deploy", "--check", "--output", "json"]);
    json.code(1);
    let report = json.json();
    let change = |path: &str| {
        report["files"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|file| file["path"] == path)
            .map(|file| file["change"].clone())
            .unwrap_or(Value::Null)
    };
    assert_eq!(change("deny.geo"), "update");
    assert_eq!(change("nginx.conf"), "unchanged");
    assert_eq!(change("bans/retired.map"), "delete");
    assert_eq!(change("fly.toml"), "create");
    assert_eq!(
        report["certificates"],
        Value::Null,
        "--check reads nothing from Fly.io"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deploy_requests_certificates_and_rolls_one_machine_at_a_time() {
    if !tools() {
        return;
    }
    let api = FlyApi::start(&[("m1", "started"), ("m2", "stopped"), ("m3", "started")]).await;
    let boma = boma_for(&api.api_url());
    let run = boma.run_with(["fly-deploy", "--machines-api", "--output", "json"]);
    run.success();
    no_token(&run);
    let report = run.json();
    assert_eq!(report["mode"], "deployed");

    // The order: read certificates and machines, request the missing certificates, then each
    // machine updated and (when it was running) waited for before the next is touched.
    let requests = api.requests().await;
    let lines: Vec<&str> = requests.iter().map(|(line, _)| line.as_str()).collect();
    snapshot("fly_deploy__requests", &lines.join("\n"));

    // Each update carries the machine's own config with the rendered files and the image.
    let reference = crate::support::fly::fixture("machine.json")["config"].clone();
    let updates: Vec<&wiremock::Request> = requests
        .iter()
        .filter(|(line, _)| line.starts_with("POST /v1/apps/example-proxy/machines/"))
        .map(|(_, request)| request)
        .collect();
    assert_eq!(updates.len(), 3);
    for (index, update) in updates.iter().enumerate() {
        let body: Value = serde_json::from_slice(&update.body).unwrap_or(Value::Null);
        let config = &body["config"];
        for key in ["init", "guest", "restart", "auto_destroy", "dns"] {
            assert_eq!(config[key], reference[key], "{key} kept");
        }
        assert_eq!(
            config["image"],
            "registry.fly.io/example-proxy:v3-nginx-f2b"
        );
        assert_eq!(body["current_version"], format!("01INITIAL{index}"));
        assert_eq!(
            body["skip_launch"] == true,
            index == 1,
            "only the stopped machine stays stopped"
        );
        let files = config["files"].as_array().cloned().unwrap_or_default();
        assert_eq!(files.len(), 11, "{files:?}");
        for file in files {
            let guest = file["guest_path"].as_str().unwrap_or_default();
            let local = guest
                .strip_prefix("/srv/edge/conf/")
                .or_else(|| guest.strip_prefix("/srv/edge/"))
                .unwrap_or_else(|| panic!("{guest} is outside the edge prefix"));
            let content = base64::engine::general_purpose::STANDARD
                .decode(file["raw_value"].as_str().unwrap_or_default())
                .unwrap_or_default();
            let kept = std::fs::read(boma.path().join("fly").join(local)).unwrap_or_default();
            assert_eq!(content, kept, "{guest} is the render kept in fly/");
        }
    }
    assert_eq!(api.machine("m2")["state"], "stopped");
    assert_eq!(api.machine("m3")["state"], "started");
    let requested: Vec<String> = requests
        .iter()
        .filter(|(line, _)| line.ends_with("/certificates/acme"))
        .map(|(_, request)| String::from_utf8_lossy(&request.body).into_owned())
        .collect();
    assert_eq!(
        requested,
        [
            r#"{"hostname":"forge.example.org"}"#,
            r#"{"hostname":"shower.example.org"}"#
        ]
    );
    let certificates = report["certificates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(certificates.iter().all(|cert| cert["action"] == "requested"
        && cert["status"] == "pending_validation"
        && cert["dns"][0] == "CNAME my-app-name.fly.dev"));

    // Again: nothing differs, nothing is sent but the reads.
    let again = boma.run_with(["fly-deploy", "--machines-api", "--output", "json"]);
    again.success();
    assert_eq!(api.updates(), 3);
    let report = again.json();
    assert!(
        report["machines"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|m| m["action"] == "unchanged")
    );
    assert!(
        report["certificates"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|c| c["action"] == "present")
    );
    // Still pending: each names the DNS Fly waits for, from the name's own details.
    let pending = report["certificates"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(pending.iter().all(|c| {
        c["status"] == "pending_validation"
            && c["dns"][1]
                .as_str()
                .is_some_and(|dns| dns.starts_with("_acme-challenge."))
    }));
    let text = boma.run_with(["fly-deploy", "--machines-api"]);
    text.success();
    snapshot(
        "fly_deploy__deployed_again",
        &format!("{}\n--- stderr\n{}", text.stdout, text.stderr),
    );
    boma.run_with(["fly-deploy", "--check"]).success();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_machine_that_never_starts_stops_the_roll_and_keeps_nothing() {
    if !tools() {
        return;
    }
    let api = FlyApi::start(&[("m1", "started"), ("m2", "started")]).await;
    api.never_starts("m1");
    let boma = boma_for(&api.api_url());
    let run = boma.run_with(["fly-deploy", "--machines-api", "--machine-timeout", "2s"]);
    run.code(2)
        .stderr_has("machine m1 did not reach `started` within 2s: the roll stopped there")
        .stdout_has("not reached");
    no_token(&run);
    assert_eq!(
        api.machine("m2")["instance_id"],
        "01INITIAL1",
        "m2 was not touched"
    );
    assert!(
        !boma.path().join("fly/nginx.conf").exists(),
        "nothing kept as deployed"
    );
    // The next run sees the same drift and rolls again.
    boma.run_with(["fly-deploy", "--check"]).code(1);
}

#[tokio::test(flavor = "multi_thread")]
async fn api_failures_name_the_request_and_deploy_nothing() {
    if !tools() {
        return;
    }
    let api = FlyApi::start(&[("m1", "started")]).await;
    api.fail_with(401);
    let boma = boma_for(&api.api_url());
    let run = boma.run_with(["fly-deploy", "--machines-api"]);
    run.code(2)
        .stderr_has("fly: GET /v1/apps/example-proxy/certificates failed: status 401");
    no_token(&run);

    // A wrong token: the server's 401, and the token is not echoed.
    let api = FlyApi::start(&[("m1", "started")]).await;
    let wrong = boma_for(&api.api_url()).env("FLY_API_TOKEN", "not-the-right-token");
    let run = wrong.run_with(["fly-deploy", "--machines-api"]);
    run.code(2).stderr_has("status 401");
    assert!(!run.stderr.contains("not-the-right-token"));
    assert_eq!(api.updates(), 0);

    // Nothing listens there.
    let port = crate::support::free_port();
    let unreachable =
        boma_for(&format!("http://127.0.0.1:{port}/v1")).env("BOMA_HTTP_TIMEOUT", "2");
    let run = unreachable.run_with(["fly-deploy", "--machines-api"]);
    run.code(2)
        .stderr_has("fly: GET /v1/apps/example-proxy/certificates failed");
    assert!(!unreachable.path().join("fly").exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn a_config_the_tools_reject_is_never_sent() {
    if !tools() {
        return;
    }
    let api = FlyApi::start(&[("m1", "started")]).await;
    let broken = std::fs::read_to_string(repo_file("templates/edge/nginx.conf.j2"))
        .unwrap_or_default()
        .replace(
            "    server_tokens off;\n",
            "    server_tokens off;\n    bogus_directive on;\n",
        );
    let boma = boma_for(&api.api_url()).file("templates/edge/nginx.conf.j2", broken);
    let run = boma.run_with(["fly-deploy", "--machines-api"]);
    run.code(2)
        .stderr_has("nginx -t rejects the rendered edge config")
        .stderr_has("unknown directive \"bogus_directive\" in edge/nginx.conf:15");
    assert!(api.requests().await.is_empty(), "nothing reached the API");

    // A filter that counts every line as a failure fails its own sample lines.
    let greedy = "[Definition]\nfailregex = ^<HOST> \n";
    let boma = boma_for(&api.api_url()).file("templates/edge/fail2ban/filter.conf.j2", greedy);
    let run = boma.run_with(["fly-deploy", "--machines-api"]);
    run.code(2)
        .stderr_has("the fail2ban filter of `forge` does not read its own sample lines right")
        .stderr_has("other line(s) matched");
    // One that matches nothing misses the failures.
    let blind = "[Definition]\nfailregex = ^<HOST> never-in-a-log-line\n";
    let boma = boma_for(&api.api_url()).file("templates/edge/fail2ban/filter.conf.j2", blind);
    boma.run_with(["fly-deploy", "--check"])
        .code(2)
        .stderr_has("failing line(s) not matched");
    assert!(api.requests().await.is_empty(), "nothing reached the API");
}

#[tokio::test(flavor = "multi_thread")]
async fn a_reviewed_checksum_deploys_only_that_render() {
    if !tools() {
        return;
    }
    let api = FlyApi::start(&[("m1", "started")]).await;
    // The shipped edge joins the tailnet: its first deploy also sets the auth key, which a
    // `--check` does not read, so it goes without a review (tests/fly_secrets.rs has that case).
    let boma = boma_for(&api.api_url());
    boma.run_with(["fly-deploy", "--machines-api"]).success();
    assert_eq!(api.updates(), 1);
    let with_ban = |address: &str| {
        edge_catalog(&api.api_url()).replace("\"192.0.2.66\"]", &format!("\"{address}\"]"))
    };
    let boma = boma.file("services.toml", with_ban("192.0.2.67"));
    let reviewed = boma
        .run_with(["fly-deploy", "--check", "--output", "json"])
        .json()["checksum"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let changed = boma.file("services.toml", with_ban("192.0.2.68"));
    changed
        .run_with(["fly-deploy", "--machines-api", "--checksum", &reviewed])
        .code(2)
        .stderr_has("the plan changed since it was reviewed");
    assert_eq!(api.updates(), 1);
    let boma = changed.file("services.toml", with_ban("192.0.2.67"));
    boma.run_with(["fly-deploy", "--machines-api", "--checksum", &reviewed])
        .success();
    assert_eq!(api.updates(), 2);
}

#[tokio::test(flavor = "multi_thread")]
async fn with_flyctl_the_token_goes_in_its_environment_not_its_arguments() {
    if !tools() {
        return;
    }
    let api = FlyApi::start(&[("m1", "started")]).await;
    let boma = boma_for(&api.api_url());
    let log = boma.path().join("flyctl.log");
    let fake = format!(
        "#!/bin/sh\n{FLYCTL_SECRETS}\
         # What flyctl was asked, and whether it got the token where it reads it.\n\
         echo \"args: $*\" >> {log}\n\
         [ \"$FLY_API_TOKEN\" = '{TOKEN}' ] && echo 'token: in FLY_API_TOKEN' >> {log}\n\
         if [ \"$1\" = deploy ]; then cp \"$2/fly.toml\" {log}.fly.toml && ls \"$2/fail2ban/filter.d\" >> {log}; fi\n",
        log = log.display()
    );
    let boma = boma.file("bin/flyctl", fake);
    let flyctl = boma.path().join("bin/flyctl");
    let mut permissions = std::fs::metadata(&flyctl)
        .map(|m| m.permissions())
        .unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::PermissionsExt::set_mode(&mut permissions, 0o755);
    std::fs::set_permissions(&flyctl, permissions).unwrap_or_else(|e| panic!("{e}"));
    let run = boma.run_with(["fly-deploy", "--flyctl", &flyctl.display().to_string()]);
    run.success();
    no_token(&run);
    let said = std::fs::read_to_string(&log).unwrap_or_default();
    let said = said.replace(&boma.path().display().to_string(), "TMP");
    let said: String = said
        .lines()
        .map(|line| {
            // The staging folder's random name.
            let line = regex_free_staging(line);
            format!("{line}\n")
        })
        .collect();
    snapshot("fly_deploy__flyctl_calls", &said);
    assert!(!said.contains(TOKEN));
    let staged = std::fs::read_to_string(format!("{}.fly.toml", log.display())).unwrap_or_default();
    assert_eq!(
        staged,
        std::fs::read_to_string(boma.path().join("fly/fly.toml")).unwrap_or_default()
    );
    assert_eq!(api.updates(), 0, "flyctl deployed, not boma");
}

/// `TMP/.boma-edge.AbC123` as `TMP/.boma-edge.STAGED`.
fn regex_free_staging(line: &str) -> String {
    let mut out = String::new();
    let mut rest = line;
    while let Some(at) = rest.find(".boma-edge.") {
        out.push_str(&rest[..at]);
        out.push_str(".boma-edge.STAGED");
        rest = &rest[at + ".boma-edge.".len()..];
        let end = rest.find(['/', ' ']).unwrap_or(rest.len());
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

#[test]
fn no_edge_and_missing_tools_are_clear_errors() {
    Boma::new()
        .catalog(crate::support::ONE_SERVICE)
        .run_with(["fly-deploy", "--check"])
        .code(2)
        .stderr_has("the catalog has no [edge] table")
        .stderr_has("hint: add an [edge] table");
    // fail2ban is not where boma looks: nothing is checked, nothing deployed.
    Boma::new()
        .shipped("services.toml")
        .env("PATH", "/nonexistent")
        .args(["fly-deploy", "--check"])
        .run()
        .code(2)
        .stderr_has("is not installed: the edge is checked with the real nginx and fail2ban")
        .stderr_has("hint: install them: apt-get install nginx-light fail2ban");
}
