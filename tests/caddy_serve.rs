//! A rendered Caddyfile served by a real `caddy run` on loopback: a proxied site and an
//! Authentik-protected one (wiremock stands in for the app and for the outpost).

use std::time::{Duration, Instant};

use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, ResponseTemplate};

use crate::support::{Boma, Daemon, free_port, require};

fn catalog(app: &str, dashboard: &str, outpost: &str, admin: u16, http: u16, https: u16) -> String {
    format!(
        r#"
version = 1
[dns]
provider = "zonefile"
zone = "lab.test"
path = "lab.test.zone"
[hosts.box]
address = "local"
ip = "127.0.0.1"
[hosts.box.caddy]
admin = "127.0.0.1:{admin}"
http_port = {http}
https_port = {https}
[auth.authentik]
outpost = "{outpost}"
[services.app]
host = "box"
upstream = "{app}"
names = ["app.lab.test"]
[services.dashboard]
host = "box"
upstream = "{dashboard}"
names = ["dash.lab.test"]
auth = "authentik"
"#
    )
}

/// `caddy run` of `config`, its state and `caddy.log` in `dir`.
fn caddy_run(caddy: &std::path::Path, config: &std::path::Path, dir: &std::path::Path) -> Daemon {
    Daemon(
        std::process::Command::new(caddy)
            .args(["run", "--adapter", "caddyfile", "--config"])
            .arg(config)
            .env("HOME", dir)
            .env("XDG_DATA_HOME", dir.join("data"))
            .env("XDG_CONFIG_HOME", dir.join("config"))
            .stdout(std::process::Stdio::null())
            .stderr(std::fs::File::create(dir.join("caddy.log")).unwrap_or_else(|e| panic!("{e}")))
            .spawn()
            .unwrap_or_else(|error| panic!("cannot start caddy: {error}")),
    )
}

/// GET `url`, retried for up to 20 s while the handshake fails: Caddy listens before its internal
/// CA has issued the certificates.
async fn get_when_served(client: &reqwest::Client, url: String) -> reqwest::Response {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        match client.get(&url).send().await {
            Ok(response) => return response,
            Err(error) if Instant::now() > deadline => panic!("{url}: {error}"),
            Err(_) => tokio::time::sleep(Duration::from_millis(200)).await,
        }
    }
}

async fn wait_for_port(port: u16, caddy: &mut Daemon) {
    let deadline = Instant::now() + Duration::from_secs(20);
    while Instant::now() < deadline {
        if tokio::net::TcpStream::connect(("127.0.0.1", port))
            .await
            .is_ok()
        {
            return;
        }
        if let Ok(Some(status)) = caddy.0.try_wait() {
            panic!("caddy exited early with {status}");
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    panic!("caddy did not listen on {port} within 20 s");
}

#[tokio::test(flavor = "multi_thread")]
async fn caddy_serves_the_rendered_sites_and_enforces_authentik() {
    let Some(caddy) = require("caddy") else {
        return;
    };
    let app = MockServer::start().await;
    Mock::given(method("GET"))
        .and(path("/hello"))
        .respond_with(ResponseTemplate::new(200).set_body_string("hello from app"))
        .mount(&app)
        .await;
    let dashboard = MockServer::start().await;
    Mock::given(method("GET"))
        .and(header("x-authentik-username", "alice"))
        .respond_with(ResponseTemplate::new(200).set_body_string("dashboard for alice"))
        .mount(&dashboard)
        .await;
    let outpost = MockServer::start().await;
    Mock::given(path("/outpost.goauthentik.io/auth/caddy"))
        .and(header("cookie", "authentik_session=valid"))
        .respond_with(ResponseTemplate::new(200).insert_header("X-Authentik-Username", "alice"))
        .mount(&outpost)
        .await;
    Mock::given(path("/outpost.goauthentik.io/auth/caddy"))
        .respond_with(
            ResponseTemplate::new(302).insert_header("Location", "https://auth.lab.test/login"),
        )
        .mount(&outpost)
        .await;

    let (admin, http, https) = (free_port(), free_port(), free_port());
    let boma = Boma::new()
        .catalog(&catalog(
            &app.uri(),
            &dashboard.uri(),
            &outpost.uri(),
            admin,
            http,
            https,
        ))
        .args(["render", "--out", "out"]);
    boma.run().success();
    let config = boma.path().join("out/caddy/box/Caddyfile");
    let mut daemon = caddy_run(&caddy, &config, boma.path());
    wait_for_port(https, &mut daemon).await;

    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .resolve("app.lab.test", ([127, 0, 0, 1], https).into())
        .resolve("dash.lab.test", ([127, 0, 0, 1], https).into())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let get = |url: String, cookie: Option<&'static str>| {
        let mut request = client.get(url);
        if let Some(cookie) = cookie {
            request = request.header("cookie", cookie);
        }
        request.send()
    };
    let log = || std::fs::read_to_string(boma.path().join("caddy.log")).unwrap_or_default();

    // Caddy listens before its internal CA has issued the certificates: retry the handshake.
    let deadline = Instant::now() + Duration::from_secs(20);
    let proxied = loop {
        match get(format!("https://app.lab.test:{https}/hello"), None).await {
            Ok(response) => break response,
            Err(error) if Instant::now() > deadline => panic!("{error}\n{}", log()),
            Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
        }
    };
    assert_eq!(proxied.status(), 200, "{}", log());
    assert_eq!(proxied.text().await.unwrap_or_default(), "hello from app");

    let anonymous = get(format!("https://dash.lab.test:{https}/"), None)
        .await
        .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        anonymous.status(),
        302,
        "without a session the outpost's redirect is returned"
    );
    assert_eq!(
        anonymous
            .headers()
            .get("location")
            .and_then(|v| v.to_str().ok()),
        Some("https://auth.lab.test/login")
    );

    let signed_in = get(
        format!("https://dash.lab.test:{https}/"),
        Some("authentik_session=valid"),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        signed_in.status(),
        200,
        "the upstream sees the copied X-Authentik-Username"
    );
    assert_eq!(
        signed_in.text().await.unwrap_or_default(),
        "dashboard for alice"
    );

    let outpost_route = get(
        format!("https://dash.lab.test:{https}/outpost.goauthentik.io/auth/caddy"),
        Some("authentik_session=valid"),
    )
    .await
    .unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        outpost_route.status(),
        200,
        "/outpost.goauthentik.io/* is proxied to the outpost itself"
    );
    assert_eq!(
        outpost_route
            .headers()
            .get("x-authentik-username")
            .and_then(|v| v.to_str().ok()),
        Some("alice")
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn sites_that_answer_redirect_or_carry_a_snippet_are_served_by_a_real_caddy() {
    let Some(caddy) = require("caddy") else {
        return;
    };
    let app = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("from the app"))
        .mount(&app)
        .await;
    let (admin, http, https, extra) = (free_port(), free_port(), free_port(), free_port());
    let catalog = format!(
        r#"
version = 1
[dns]
provider = "zonefile"
zone = "lab.test"
path = "lab.test.zone"
[hosts.box]
address = "local"
ip = "127.0.0.1"
[hosts.box.caddy]
admin = "127.0.0.1:{admin}"
http_port = {http}
https_port = {https}
global = """
servers {{
	protocols h1 h2
}}
"""
extra = """
http://127.0.0.1:{extra} {{
	respond "from the extra block" 200
}}
"""
[services.landing]
host = "box"
names = ["lab.test"]
respond = {{ status = 200, body = "Say \"hi\" at {{http.request.host}}\nsecond line" }}
[services.gone]
host = "box"
names = ["old.lab.test"]
redirect = "https://new.lab.test/docs/"
[services.app]
host = "box"
upstream = "{app}"
names = ["app.lab.test"]
caddy = """
header X-Snippet "from the catalog"
"""
"#,
        app = app.uri()
    );
    let boma = Boma::new()
        .catalog(&catalog)
        .args(["render", "--out", "out"]);
    boma.run().success();
    let config = boma.path().join("out/caddy/box/Caddyfile");
    let mut daemon = caddy_run(&caddy, &config, boma.path());
    wait_for_port(https, &mut daemon).await;
    wait_for_port(extra, &mut daemon).await;
    let client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .redirect(reqwest::redirect::Policy::none())
        .resolve("lab.test", ([127, 0, 0, 1], https).into())
        .resolve("old.lab.test", ([127, 0, 0, 1], https).into())
        .resolve("app.lab.test", ([127, 0, 0, 1], https).into())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap_or_else(|error| panic!("{error}"));
    let log = || std::fs::read_to_string(boma.path().join("caddy.log")).unwrap_or_default();
    // Caddy listens before its internal CA has issued the certificates: retry the handshake.
    let get = |url: String| get_when_served(&client, url);

    let landing = get(format!("https://lab.test:{https}/anything")).await;
    assert_eq!(landing.status().as_u16(), 200, "{}", log());
    assert_eq!(
        landing.text().await.unwrap_or_default(),
        format!("Say \"hi\" at lab.test\nsecond line")
    );

    let moved = get(format!("https://old.lab.test:{https}/page")).await;
    assert_eq!(moved.status().as_u16(), 301, "{}", log());
    assert_eq!(
        moved
            .headers()
            .get("location")
            .and_then(|value| value.to_str().ok()),
        Some("https://new.lab.test/docs/")
    );

    let proxied = get(format!("https://app.lab.test:{https}/")).await;
    assert_eq!(
        (
            proxied.status().as_u16(),
            proxied
                .headers()
                .get("x-snippet")
                .and_then(|value| value.to_str().ok())
                .map(str::to_string),
        ),
        (200, Some("from the catalog".to_string()))
    );
    assert_eq!(proxied.text().await.unwrap_or_default(), "from the app");

    let extra_block = get(format!("http://127.0.0.1:{extra}/")).await;
    assert_eq!(
        extra_block.text().await.unwrap_or_default(),
        "from the extra block"
    );
}

/// The names a served certificate is for, as `openssl x509 -ext subjectAltName` prints them.
fn served_names(port: u16, server_name: &str) -> String {
    let Some(openssl) = require("openssl") else {
        return String::new();
    };
    let mut client = std::process::Command::new(&openssl)
        .args(["s_client", "-connect", &format!("127.0.0.1:{port}")])
        .args(["-servername", server_name])
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    let mut pem = String::new();
    if let Some(mut out) = client.stdout.take() {
        use std::io::Read as _;
        let _ = out.read_to_string(&mut pem);
    }
    let _ = client.wait();
    let mut x509 = std::process::Command::new(&openssl)
        .args(["x509", "-noout", "-ext", "subjectAltName"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("{e}"));
    if let Some(mut input) = x509.stdin.take() {
        use std::io::Write as _;
        let _ = input.write_all(pem.as_bytes());
    }
    let output = x509.wait_with_output().unwrap_or_else(|e| panic!("{e}"));
    // The extension's value: the line after its `X509v3 Subject Alternative Name:` header.
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .skip(1)
        .map(str::trim)
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test(flavor = "multi_thread")]
async fn a_wildcard_site_answers_its_services_under_one_certificate_and_404s_the_rest() {
    let (Some(caddy), Some(_)) = (require("caddy"), require("openssl")) else {
        return;
    };
    let app = MockServer::start().await;
    Mock::given(method("GET"))
        .respond_with(ResponseTemplate::new(200).set_body_string("from the app"))
        .mount(&app)
        .await;
    let (admin, http, https) = (free_port(), free_port(), free_port());
    let catalog = format!(
        r#"
version = 1
[dns]
provider = "zonefile"
zone = "lab.test"
path = "lab.test.zone"
[hosts.box]
address = "local"
ip = "127.0.0.1"
[hosts.box.caddy]
admin = "127.0.0.1:{admin}"
http_port = {http}
https_port = {https}
dns_challenge = {{ provider = "gandi", token_env = "GANDI_TOKEN" }}
wildcard = ["ops.lab.test"]
[services.app]
host = "box"
upstream = "{app}"
names = ["app.ops.lab.test", "deep.app.ops.lab.test"]
[services.hello]
host = "box"
names = ["hello.ops.lab.test"]
respond = {{ body = "hello through the wildcard" }}
"#,
        app = app.uri()
    );
    let boma = Boma::new()
        .catalog(&catalog)
        .args(["render", "--out", "out"]);
    boma.run().success();
    let rendered =
        std::fs::read_to_string(boma.path().join("out/caddy/box/Caddyfile")).unwrap_or_default();
    let ports = rendered
        .replace(&format!("http_port {http}"), "http_port HTTP")
        .replace(&format!("https_port {https}"), "https_port HTTPS");
    crate::support::snapshot("caddy_serve__wildcard_caddyfile", &ports);
    // Caddy's internal CA stands in for the DNS challenge (the DNS module cannot be built here).
    let config = boma.path().join("Caddyfile.internal");
    let challenge = "\ttls {\n\t\tdns gandi {env.GANDI_TOKEN}\n\t}\n";
    std::fs::write(&config, rendered.replace(challenge, "\ttls internal\n"))
        .unwrap_or_else(|e| panic!("{e}"));
    let served = std::fs::read_to_string(&config).unwrap_or_default();
    assert_eq!(served.matches("tls internal").count(), 2, "{served}");
    let mut daemon = caddy_run(&caddy, &config, boma.path());
    wait_for_port(https, &mut daemon).await;
    let mut client = reqwest::Client::builder()
        .danger_accept_invalid_certs(true)
        .timeout(Duration::from_secs(10));
    for name in [
        "app.ops.lab.test",
        "hello.ops.lab.test",
        "nothing.ops.lab.test",
        "deep.app.ops.lab.test",
    ] {
        client = client.resolve(name, ([127, 0, 0, 1], https).into());
    }
    let client = client.build().unwrap_or_else(|e| panic!("{e}"));
    let get = async |name: &str| {
        let response = get_when_served(&client, format!("https://{name}:{https}/")).await;
        let status = response.status().as_u16();
        (status, response.text().await.unwrap_or_default())
    };
    assert_eq!(get("app.ops.lab.test").await, (200, "from the app".into()));
    assert_eq!(
        get("hello.ops.lab.test").await,
        (200, "hello through the wildcard".into())
    );
    assert_eq!(
        get("nothing.ops.lab.test").await,
        (404, "unknown service".into())
    );
    // A name two labels down is no wildcard's: it keeps a site and certificate of its own.
    assert_eq!(
        get("deep.app.ops.lab.test").await,
        (200, "from the app".into())
    );

    assert_eq!(
        served_names(https, "app.ops.lab.test"),
        "DNS:*.ops.lab.test"
    );
    assert_eq!(
        served_names(https, "nothing.ops.lab.test"),
        "DNS:*.ops.lab.test"
    );
    assert_eq!(
        served_names(https, "deep.app.ops.lab.test"),
        "DNS:deep.app.ops.lab.test"
    );
    // Caddy issued the wildcard's certificate and the deep name's, none for a name under it.
    let issued = boma.path().join("data/caddy/certificates/local");
    let mut certificates: Vec<String> = std::fs::read_dir(&issued)
        .into_iter()
        .flatten()
        .flatten()
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    certificates.sort();
    assert_eq!(
        certificates,
        ["deep.app.ops.lab.test", "wildcard_.ops.lab.test"]
    );
}
