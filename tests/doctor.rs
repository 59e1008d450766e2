//! `boma doctor` against real components: sshd test hosts with their Caddy (one down, sudo users
//! with and without the push's reload), a PowerDNS asked with a right and a wrong key (and for a
//! zone it lacks), a secret file that is missing, a real registry and the Fly.io contract server.

use crate::support::fly::{FlyApi, TOKEN};
use crate::support::lab::{HostSpec, Lab, can_add_sudoers, push_sudoers, run};
use crate::support::powerdns::{API_KEY, PowerDns};
use crate::support::registry::{PASSWORD, Registry};
use crate::support::{Boma, Run, require, snapshot};

/// What every test shows: stdout, then stderr.
fn shown(run: &Run) -> String {
    format!("{}--- stderr\n{}", run.stdout, run.stderr)
}

/// Asserts `secret` appears nowhere in what boma printed, in a report that has the rows of the
/// checks that used it (`used`: a row's text that proves the value was read and sent), so an
/// empty or cut-short output cannot pass.
#[track_caller]
fn assert_never_shown(run: &Run, secret: &str, used: &str) {
    assert!(
        run.stdout.contains(used),
        "the report lacks `{used}`, the proof the secret was used:\n{}",
        run.stdout
    );
    for (name, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(!text.contains(secret), "{name} shows a secret:\n{text}");
    }
}

/// The lab's catalog with its one zone-file `[dns]` replaced by `sections`.
fn with_sections(lab: &Lab, sections: &str) -> String {
    let catalog = lab.catalog();
    let hosts = catalog
        .split_once("\n[hosts.")
        .map(|(_, hosts)| format!("\n[hosts.{hosts}"))
        .unwrap_or_else(|| panic!("the lab's catalog has hosts:\n{catalog}"));
    format!("version = 1\n{sections}{hosts}")
}

#[tokio::test(flavor = "multi_thread")]
async fn every_stage_is_checked_and_a_host_that_is_down_fails_alone() {
    if require("borg").is_none() {
        return;
    }
    let Some(pdns) = PowerDns::start() else {
        return;
    };
    let Some(mut lab) = Lab::start(2).await else {
        return;
    };
    pdns.create_zone("lab.test");
    let down_port = lab.host("h2").ssh_port;
    lab.host_mut("h2").stop_ssh();
    let wrong_key = "pdns-wrong-key-7f3a91";
    let sections = format!(
        r#"[secrets]
pdns = {{ env = "DOCTOR_PDNS_KEY" }}
pdns_old = {{ file = "old-key" }}
borg = {{ file = "secrets/borg-passphrase" }}

[dns.zones.lab]
provider = "powerdns"
zone = "lab.test"
url = "{api}"
credentials = "pdns"

[dns.zones.other]
provider = "powerdns"
zone = "other.test"
url = "{api}"
credentials = "pdns_old"

[dns.zones.absent]
provider = "powerdns"
zone = "absent.test"
url = "{api}"
credentials = "pdns"
"#,
        api = pdns.api
    );
    let mut catalog = with_sections(&lab, &sections);
    catalog.push_str(
        "[services.app-h1.backup]\ntool = \"borg\"\nhost = \"h1\"\nrepository = \"/srv/borg/app\"\n\
         passphrase = \"borg\"\nmax_age = \"1d\"\n",
    );
    let boma = Boma::new()
        .catalog(&catalog)
        .file("old-key", format!("{wrong_key}\n"))
        .env("DOCTOR_PDNS_KEY", API_KEY)
        .args(["doctor", "--connect-timeout", "5s"]);

    let run = boma.run();
    run.code(1);
    // PowerDNS accepted the right key (lab.test read) and refused the wrong one.
    assert_never_shown(&run, API_KEY, "accepted: the zone read");
    assert_never_shown(&run, wrong_key, "powerdns zone other.test");
    // h2 is down: its one row says why; h1 was still checked in full.
    snapshot(
        "doctor__every_stage_and_a_host_that_is_down",
        &shown(&run).replace(&format!("port {down_port}"), "port [PORT]"),
    );

    // JSON, with every debug line on stderr: still no secret anywhere.
    let json = boma.run_with([
        "doctor",
        "--connect-timeout",
        "5s",
        "--output",
        "json",
        "-v",
    ]);
    json.code(1);
    assert_never_shown(&json, API_KEY, "accepted: the zone read");
    assert_never_shown(&json, wrong_key, "powerdns zone other.test");
    let report = json.json();
    let row = |check: &str, place: &str| {
        report["checks"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|row| row["check"] == check && row["where"] == place)
            .cloned()
            .unwrap_or_else(|| panic!("no row {check} at {place}: {report}"))
    };
    assert_eq!(row("connection", "h2")["status"], "failed");
    assert_eq!(row("caddy", "h1")["status"], "ok");
    assert_eq!(
        row("powerdns zone other.test", &pdns.api[7..])["status"],
        "failed"
    );
    assert_eq!(row("secret `borg`", "this machine")["status"], "missing");
    assert_eq!(
        report["failing_stages"],
        serde_json::json!(["caddy", "dns", "backups"])
    );
    let mut keys: Vec<&String> = report["checks"][0]
        .as_object()
        .map(|row| row.keys().collect())
        .unwrap_or_default();
    keys.sort();
    assert_eq!(keys, ["check", "detail", "stage", "status", "where"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn sudo_hosts_are_told_apart_by_the_commands_their_sudoers_allow() {
    if !can_add_sudoers() {
        return;
    }
    let specs = [
        HostSpec {
            user: Some("bomadoctor1".to_string()),
        },
        HostSpec {
            user: Some("bomadoctor2".to_string()),
        },
        HostSpec {
            user: Some("bomadoctor3".to_string()),
        },
    ];
    let Some(lab) = Lab::with_hosts(&specs).await else {
        return;
    };
    // h1 allows every command a push runs through sudo; h2 all but the reload.
    let _allowed = push_sudoers(lab.host("h1"), "bomadoctor1");
    let lacking = push_sudoers(lab.host("h2"), "bomadoctor2");
    lacking.without_reload();
    // h3 may run everything with a password, and one unrelated command without: `sudo -n -l
    // COMMAND` says yes for each push command (one NOPASSWD rule lets it list), `sudo -n` asks
    // for a password.
    let mixed = sudoers(
        &format!("mixed-{}", lab.host("h3").ssh_port),
        "bomadoctor3 ALL=(ALL) ALL\nbomadoctor3 ALL=(root) NOPASSWD: /usr/bin/true\n",
    );
    let asks = std::process::Command::new("su")
        .args([
            "bomadoctor3",
            "-s",
            "/bin/sh",
            "-c",
            "sudo -n -l -- cp -p /etc/hostname /tmp/x",
        ])
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    assert!(
        asks.status.success(),
        "sudo -l must permit what needs a password here, or the case tests nothing: {asks:?}"
    );
    // h1 also runs the edge from a prefix owned by root (a push stages inside it as the SSH
    // user), with the README's edge-push lines for that prefix and the reloads.
    let prefix = lab.host("h1").dir.join("edge");
    std::fs::create_dir_all(&prefix).unwrap_or_else(|e| panic!("{e}"));
    let prefix = format!("{}/", prefix.display());
    let edge_sudoers = sudoers(
        &format!("edge-{}", lab.host("h1").ssh_port),
        &format!(
            "bomadoctor1 ALL=(root) NOPASSWD: /usr/sbin/nginx -t -q -p {prefix} -c .boma-new/conf/nginx.conf, \\\n\
             \x20   /usr/bin/fail2ban-client -c {prefix}.boma-new/fail2ban -t, \\\n\
             \x20   /usr/bin/systemctl reload-or-restart boma-edge-nginx.service, \\\n\
             \x20   /usr/bin/systemctl reload-or-restart boma-edge-fail2ban.service\n"
        ),
    );
    let catalog = format!(
        "{}\n[edge]\nhost = \"h1\"\nprefix = \"{prefix}\"\n",
        lab.catalog()
    );
    let run = Boma::new().catalog(&catalog).args(["doctor"]).run();
    run.code(1);
    snapshot("doctor__sudo_hosts", &shown(&run));
    drop((mixed, edge_sudoers));
}

/// `/etc/sudoers.d/boma-doctor-NAME` with `lines`, checked with visudo, removed when dropped.
fn sudoers(name: &str, lines: &str) -> Removed {
    let file = Removed(format!("/etc/sudoers.d/boma-doctor-{name}"));
    std::fs::write(&file.0, lines).unwrap_or_else(|e| panic!("{e}"));
    run("chmod", &["0440", &file.0]);
    run("visudo", &["-c", "-q", "-f", &file.0]);
    file
}

/// A file removed when the test ends, pass or fail.
struct Removed(String);

impl Drop for Removed {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn a_catalog_whose_stages_have_everything_exits_0() {
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    if require("named-checkzone").is_none() {
        return;
    }
    let run = Boma::new().catalog(&lab.catalog()).args(["doctor"]).run();
    run.success();
    snapshot("doctor__everything_there", &shown(&run));
}

#[tokio::test(flavor = "multi_thread")]
async fn a_fly_edge_and_a_registry_are_asked_with_their_tokens() {
    for tool in [
        "nginx",
        "fail2ban-client",
        "fail2ban-regex",
        "caddy",
        "git",
        "podman",
    ] {
        if require(tool).is_none() {
            return;
        }
    }
    let Some(registry) = Registry::start() else {
        return;
    };
    let fly = FlyApi::start(&[("m1", "started")]).await;
    let boma = Boma::new();
    let live = boma.path().join("Caddyfile");
    let catalog = format!(
        r#"version = 1
[secrets]
forge = {{ env = "FORGE_PASSWORD" }}
fly = {{ env = "FLY_TOKEN" }}

[dns]
provider = "zonefile"
zone = "example.org"
path = "example.org.zone"

[registries.local]
host = "{registry}"
user = "ops"
password = "forge"
tls_verify = false

[images.app]
context = "containers/app"
image = "{registry}/ops/app"
version = "1.0.0"

[hosts.here]
address = "local"
ip = "127.0.0.1"
[hosts.here.caddy]
config = "{live}"

[edge]
app = "example-proxy"
target = "example-proxy.fly.dev"
token = "fly"
api_url = "{api}"
resolver = "127.0.0.53"

[services.site]
host = "here"
upstream = "http://127.0.0.1:8000"
names = ["site.ops.example.org"]
public = ["site.example.org"]
[services.site.edge]
"#,
        registry = registry.host,
        live = live.display(),
        api = fly.api_url(),
    );
    // Kept to the end: the other runs' live Caddyfile is in its folder.
    let boma = boma
        .catalog(&catalog)
        .env("FORGE_PASSWORD", PASSWORD)
        .env("FLY_TOKEN", TOKEN)
        .args(["doctor"]);
    let run = boma.run();
    run.success();
    assert_never_shown(&run, PASSWORD, "accepted: asked for");
    assert_never_shown(&run, TOKEN, "accepted: GET /apps/example-proxy/machines");
    snapshot("doctor__fly_edge_and_registry", &shown(&run));
    // Only reads reached the app, one for each stage that needs the token, each with the token
    // the secret holds.
    let mut requests: Vec<String> = fly
        .requests()
        .await
        .into_iter()
        .map(|(line, request)| {
            let authorization = request
                .headers
                .get("authorization")
                .and_then(|value| value.to_str().ok())
                .unwrap_or("none")
                .to_string();
            format!("{line} authorization: {authorization}")
        })
        .collect();
    requests.sort();
    let bearer = format!("authorization: Bearer {TOKEN}");
    assert_eq!(
        requests,
        [
            format!("GET /v1/apps/example-proxy/certificates {bearer}"),
            format!("GET /v1/apps/example-proxy/machines {bearer}"),
        ]
    );

    // A token Fly refuses: the edge and certificates stages would fail.
    let wrong = Boma::new()
        .catalog(&catalog)
        .env("FORGE_PASSWORD", PASSWORD)
        .env("FLY_TOKEN", "not-the-fly-token")
        .args(["doctor", "--output", "json"])
        .run();
    wrong.code(1);
    assert_eq!(
        wrong.json()["failing_stages"],
        serde_json::json!(["edge", "certificates"])
    );

    // A registry password it refuses: the images stage would fail, so the password is what is sent.
    let refused = Boma::new()
        .catalog(&catalog)
        .env("FORGE_PASSWORD", "not-the-forge-password")
        .env("FLY_TOKEN", TOKEN)
        .args(["doctor", "--output", "json"])
        .run();
    refused.code(1);
    assert_eq!(
        refused.json()["failing_stages"],
        serde_json::json!(["images"])
    );
}

#[test]
fn a_catalog_that_does_not_load_is_an_error_of_its_own() {
    let run = Boma::new()
        .catalog("version = 1\n[hosts.h1]\nadress = \"h1.example.net\"\n")
        .args(["doctor"])
        .run();
    run.code(2);
    snapshot("doctor__catalog_does_not_load", &shown(&run));
}

/// A secret command and an API that never answer, and an SSH host that accepts connections and
/// says nothing: each is reported by itself, and boma ends within the timeouts.
#[tokio::test(flavor = "multi_thread")]
async fn every_check_ends_by_its_timeout() {
    if require("ssh").is_none() {
        return;
    }
    // Accepts connections (the kernel does) and never answers: an API, and an SSH server.
    let silent = std::net::TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("{e}"));
    let port = silent.local_addr().unwrap_or_else(|e| panic!("{e}")).port();
    let catalog = format!(
        r#"version = 1
[secrets]
slow = {{ command = ["sleep", "6"] }}
key = {{ env = "DOCTOR_KEY" }}

[dns.zones.slow]
provider = "powerdns"
zone = "slow.test"
url = "http://127.0.0.1:{port}"
credentials = "slow"

[dns.zones.silent]
provider = "powerdns"
zone = "silent.test"
url = "http://127.0.0.1:{port}"
credentials = "key"

[hosts.mute]
address = "127.0.0.1"
ssh = {{ port = {port}, user = "root" }}

[services.app]
host = "mute"
upstream = "http://127.0.0.1:8000"
names = ["app.silent.test"]
"#
    );
    let started = std::time::Instant::now();
    let run = Boma::new()
        .catalog(&catalog)
        .env("DOCTOR_KEY", "doctor-key-for-a-silent-api")
        .args(["doctor", "--timeout", "2s", "--connect-timeout", "2s"])
        .run();
    let took = started.elapsed();
    run.code(1);
    assert!(took < std::time::Duration::from_secs(10), "took {took:?}");
    snapshot(
        "doctor__timeouts",
        &shown(&run).replace(&format!("port {port}"), "port [PORT]"),
    );
    drop(silent);
}
