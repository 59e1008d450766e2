//! `boma render`: snapshots of every shipped Caddyfile, stable paths, overrides and strictness.

use crate::support::{Boma, ONE_SERVICE, SHIPPED};

fn render_json(catalog: &str) -> Vec<(String, String)> {
    let run = Boma::new()
        .shipped(catalog)
        .args(["--output", "json", "render"])
        .run();
    run.success();
    let artifacts = run.json();
    artifacts
        .as_array()
        .map(|list| {
            list.iter()
                .map(|a| {
                    (
                        a["path"].as_str().unwrap_or("").to_string(),
                        a["content"].as_str().unwrap_or("").to_string(),
                    )
                })
                .collect()
        })
        .unwrap_or_default()
}

#[test]
fn caddyfiles_of_the_shipped_catalogs() {
    for catalog in SHIPPED {
        let artifacts = render_json(catalog);
        assert!(!artifacts.is_empty(), "{catalog} renders nothing");
        for (path, content) in artifacts {
            let name = format!(
                "{}__{}",
                catalog.replace(['/', '.'], "_"),
                path.replace('/', "_")
            );
            insta::assert_snapshot!(name, content);
        }
    }
}

#[test]
fn dns_challenge_uses_a_placeholder_never_the_token() {
    let run = Boma::new()
        .env("GANDI_BEARER_TOKEN", "tok-must-not-appear")
        .shipped("services.toml")
        .args(["render", "caddy/indri"])
        .run();
    run.success()
        .stdout_has("dns gandi {env.GANDI_BEARER_TOKEN}");
    assert!(!run.stdout.contains("tok-must-not-appear"));
    assert!(
        !run.stdout.contains("==>"),
        "one artifact prints without a header"
    );
}

#[test]
fn out_writes_stable_paths_and_is_idempotent() {
    let shipped =
        std::fs::read_to_string(crate::support::repo_file("services.toml")).unwrap_or_default();
    let boma = Boma::new()
        .catalog(&shipped)
        .args(["render", "--out", "rendered"]);
    boma.run().success().stderr_has("16 written, 0 unchanged");
    let indri = boma.path().join("rendered/caddy/indri/Caddyfile");
    let first = std::fs::read(&indri).unwrap_or_default();
    assert!(!first.is_empty());
    assert!(
        boma.path()
            .join("rendered/caddy/ringtail/Caddyfile")
            .is_file()
    );
    for edge in [
        "nginx.conf",
        "deny.geo",
        "bans/shower.map",
        "bans/forge.map",
        "fail2ban/fail2ban.conf",
        "fail2ban/jail.conf",
        "fail2ban/action.d/boma-nginx-map.conf",
        "fail2ban/filter.d/boma-shower.conf",
        "fail2ban/filter.d/boma-forge.conf",
        "fly.toml",
        "Containerfile",
        "entrypoint.sh",
    ] {
        assert!(
            boma.path().join("rendered/edge").join(edge).is_file(),
            "{edge}"
        );
    }
    boma.run().success().stderr_has("0 written, 16 unchanged");
    assert_eq!(
        std::fs::read(&indri).unwrap_or_default(),
        first,
        "byte-identical on a second run"
    );
}

#[test]
fn unknown_artifact_lists_the_known_ones() {
    let run = Boma::new()
        .shipped("services.toml")
        .args(["render", "caddy/nope"])
        .run();
    run.code(2)
        .stderr_has("error: artifact `caddy/nope` is not in the catalog")
        .stderr_has("artifacts: caddy/indri, caddy/ringtail");
}

#[test]
fn templates_folder_beside_the_catalog_overrides_the_built_in() {
    let boma = Boma::new()
        .catalog(ONE_SERVICE)
        .file("templates/Caddyfile.j2", "# custom for {{ host }}\n")
        .args(["render"]);
    let run = boma.run();
    run.success();
    assert_eq!(run.stdout, "# custom for indri\n");
}

#[test]
fn templates_flag_overrides_too() {
    let boma = Boma::new().catalog(ONE_SERVICE).file(
        "mine/Caddyfile.j2",
        "{% for site in sites %}{{ site.addresses | join(' ') }}\n{% endfor %}",
    );
    let run = boma.args(["render", "--templates", "mine"]).run();
    run.success();
    assert_eq!(run.stdout, "app.example.org\n");
}

#[test]
fn undefined_variables_are_errors() {
    let boma = Boma::new()
        .catalog(ONE_SERVICE)
        .file("templates/Caddyfile.j2", "{{ hostname }}\n")
        .args(["render"]);
    let run = boma.run();
    run.code(2)
        .stderr_has("error: cannot render `caddy/indri` from template `Caddyfile.j2`")
        .stderr_has("undefined");
    // minijinja's own words come as a `caused by:` line under boma's.
    crate::support::snapshot("render__undefined_variable", &run.stderr);
}

#[test]
fn internal_ca_for_private_names_without_a_dns_challenge() {
    let run = Boma::new().catalog(ONE_SERVICE).args(["render"]).run();
    run.success()
        .stdout_has("app.example.org {\n\ttls internal\n\treverse_proxy http://127.0.0.1:8000\n}");
}

/// Each `==> NAME <==` header names the artifact as `boma render NAME` takes it, and the path
/// `--out` writes it to is taken too.
#[test]
fn headers_name_artifacts_as_render_takes_them() {
    let catalog = format!(
        "{ONE_SERVICE}[hosts.web]\naddress = \"web.example.net\"\n\
         [services.site]\nhost = \"web\"\nupstream = \"http://127.0.0.1:8080\"\nnames = [\"site.example.org\"]\n"
    );
    let boma = Boma::new().catalog(&catalog);
    let all = boma.run_with(["render"]);
    all.success();
    let headers: Vec<&str> = all
        .stdout
        .lines()
        .filter_map(|line| line.strip_prefix("==> ")?.strip_suffix(" <=="))
        .collect();
    assert_eq!(headers, ["caddy/indri", "caddy/web"], "{}", all.stdout);
    for name in &headers {
        let one = boma.run_with(["render", name]);
        one.success();
        let by_path = boma.run_with(["render", &format!("{name}/Caddyfile")]);
        by_path.success();
        assert_eq!(one.stdout, by_path.stdout);
        assert!(all.stdout.contains(&one.stdout), "{name}");
    }
    crate::support::snapshot("render__headers", &all.stdout);
}
