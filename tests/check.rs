//! `boma check`: the shipped catalogs pass, errors are all reported with positions, secrets on demand.

use crate::support::{Boma, ONE_SERVICE, SHIPPED};

#[test]
fn shipped_catalog_and_examples_pass() {
    for catalog in SHIPPED {
        Boma::new()
            .shipped(catalog)
            .args(["check"])
            .run()
            .success()
            .stderr_has("ok: ");
    }
}

#[test]
fn catalog_path_comes_from_boma_catalog() {
    let boma = Boma::new()
        .file("elsewhere/catalog.toml", ONE_SERVICE)
        .env("BOMA_CATALOG", "elsewhere/catalog.toml")
        .args(["check"]);
    boma.run()
        .success()
        .stderr_has("ok: 1 hosts, 1 services, 1 DNS records");
}

#[test]
fn missing_catalog_is_an_error_with_a_hint() {
    Boma::new()
        .args(["check"])
        .run()
        .code(2)
        .stderr_has("error: catalog `services.toml` not found")
        .stderr_has("hint: ");
}

#[test]
fn json_summary_when_valid() {
    let run = Boma::new()
        .catalog(ONE_SERVICE)
        .args(["--output", "json", "check"])
        .run();
    run.success();
    let report = run.json();
    assert_eq!(report["ok"], true);
    assert_eq!(report["summary"]["records"], 1);
    assert_eq!(report["errors"].as_array().map(Vec::len), Some(0));
}

#[test]
fn every_error_is_reported_at_once_in_json() {
    let catalog = ONE_SERVICE.replace("host = \"indri\"", "host = \"indir\"")
        + "[services.other]\nhots = 1\n[services.third]\nupstream = 5\n";
    let run = Boma::new()
        .catalog(&catalog)
        .args(["--output", "json", "check"])
        .run();
    run.code(2);
    let report = run.json();
    assert_eq!(report["ok"], false);
    let errors = report["errors"].as_array().cloned().unwrap_or_default();
    let summary: Vec<String> = errors
        .iter()
        .map(|e| {
            format!(
                "{}:{} {}",
                e["line"],
                e["column"],
                e["message"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            "10:8 `services.app.host`: host `indir` is not in the catalog",
            "14:1 unknown key `hots` in `services.other`",
            "16:12 `services.third.upstream`: wrong type: integer `5`, expected a string",
        ],
        "{errors:#?}"
    );
    assert_eq!(errors[0]["hint"], "did you mean `indri`?");
    run.stderr_has("services.toml:10:8: `services.app.host`")
        .stderr_has("error: `services.toml` has 3 errors");
}

#[test]
fn secrets_are_not_read_by_a_plain_check() {
    let catalog = format!("{ONE_SERVICE}[secrets]\nbroken = {{ command = [\"false\"] }}\n");
    Boma::new()
        .catalog(&catalog)
        .args(["check"])
        .run()
        .success();
}

#[test]
fn check_secrets_reads_each_and_points_at_the_failing_one() {
    let catalog = format!(
        "{ONE_SERVICE}[secrets]\nfrom_env = {{ env = \"BOMA_TEST_TOKEN\" }}\nfrom_file = {{ file = \"token.txt\" }}\n\
         broken = {{ command = [\"sh\", \"-c\", \"echo leaked-secret-value; exit 4\"] }}\n"
    );
    let boma = Boma::new()
        .catalog(&catalog)
        .file("token.txt", "file-secret-value\n")
        .env("BOMA_TEST_TOKEN", "env-secret-value");
    let run = boma.args(["check", "--secrets"]).run();
    run.code(2)
        .stderr_has("services.toml:16:10: secret `broken`: command `sh` exited with status 4");
    for output in [&run.stdout, &run.stderr] {
        for value in [
            "leaked-secret-value",
            "env-secret-value",
            "file-secret-value",
        ] {
            assert!(
                !output.contains(value),
                "a secret value was printed:\n{output}"
            );
        }
    }
}

#[test]
fn check_secrets_passes_when_all_resolve() {
    let catalog = format!("{ONE_SERVICE}[secrets]\ntoken = {{ env = \"BOMA_TEST_TOKEN\" }}\n");
    let run = Boma::new()
        .catalog(&catalog)
        .env("BOMA_TEST_TOKEN", "value-x")
        .args(["check", "--secrets"])
        .run();
    run.success().stderr_has("1 secrets readable");
    assert!(!run.stderr.contains("value-x"));
}

#[test]
fn quiet_check_prints_nothing_on_success() {
    let run = Boma::new().catalog(ONE_SERVICE).args(["-q", "check"]).run();
    run.success();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
}
