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
        .stderr_has("ok: 1 host, 1 service, 1 DNS record");
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
            "16:12 `services.third.upstream`: wrong type: integer `5`, expected text in quotes",
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
    run.success().stderr_has("1 secret readable");
    assert!(!run.stderr.contains("value-x"));
}

#[test]
fn quiet_check_prints_nothing_on_success() {
    let run = Boma::new().catalog(ONE_SERVICE).args(["-q", "check"]).run();
    run.success();
    assert_eq!((run.stdout.as_str(), run.stderr.as_str()), ("", ""));
}

/// `--catalog DIR` reads `DIR/services.toml`; a folder without one says which file is missing;
/// `--catalog .` shows the file it read, never an empty path.
#[test]
fn a_folder_given_as_the_catalog_means_its_services_toml() {
    let boma = Boma::new()
        .file("lab/services.toml", ONE_SERVICE)
        .file("empty/.keep", "")
        .catalog(&ONE_SERVICE.replace("host = \"indri\"", "host = \"indir\""));
    let shown = |args: &[&str]| {
        let run = boma.run_with(args.iter().copied());
        format!(
            "$ boma {}\n[exit {}]\n{}",
            args.join(" "),
            run.code,
            run.stderr
        )
    };
    let runs: Vec<String> = [
        &["--catalog", "lab", "check"][..],
        &["--catalog", "lab/", "check"],
        &["--catalog", ".", "check"],
        &["--catalog", "./", "check"],
        &["--catalog", "empty", "check"],
    ]
    .iter()
    .map(|args| shown(args))
    .collect();
    crate::support::snapshot("check__catalog_folder", &runs.join("\n"));
}

/// A secret that cannot be read names the secret, where the catalog declares it and what to
/// set, for `check --secrets` and for a command that needs it.
#[test]
fn a_missing_secret_says_where_it_is_declared_and_what_to_set() {
    let catalog = "version = 1\n[secrets]\n\
                   token = { env = \"BOMA_TEST_UNSET_TOKEN\" }\n\
                   key = { file = \"secrets/key\" }\n\
                   vault = { command = [\"boma-no-such-vault\", \"show\", \"key\"] }\n\
                   [dns]\nprovider = \"powerdns\"\nzone = \"example.org\"\nurl = \"http://127.0.0.1:9\"\ncredentials = \"token\"\n";
    let boma = Boma::new().catalog(catalog);
    let check = boma.run_with(["check", "--secrets"]);
    check.code(2);
    let preview = boma.run_with(["dns-preview"]);
    preview.code(2);
    crate::support::snapshot(
        "check__missing_secrets",
        &format!(
            "$ boma check --secrets\n{}$ boma dns-preview\n{}",
            check.stderr, preview.stderr
        ),
    );
}

/// Counts read as English: one of a thing is singular.
#[test]
fn summaries_count_in_the_singular_and_the_plural() {
    let one = Boma::new()
        .catalog(ONE_SERVICE)
        .env("BOMA_TEST_TOKEN", "value-x")
        .args(["check"])
        .run();
    one.success();
    let two = format!(
        "{ONE_SERVICE}[services.wiki]\nhost = \"indri\"\nupstream = \"http://127.0.0.1:8001\"\nnames = [\"wiki.example.org\"]\n\
         [hosts.box]\naddress = \"box.example.net\"\n\
         [secrets]\na = {{ env = \"BOMA_TEST_TOKEN\" }}\nb = {{ env = \"BOMA_TEST_TOKEN\" }}\n"
    );
    let two = Boma::new()
        .catalog(&two)
        .env("BOMA_TEST_TOKEN", "value-x")
        .args(["check", "--secrets"])
        .run();
    two.success();
    assert_eq!(
        (one.stderr.as_str(), two.stderr.as_str()),
        (
            "ok: 1 host, 1 service, 1 DNS record\n",
            "ok: 2 hosts, 2 services, 2 DNS records, 2 secrets readable\n"
        )
    );
}

/// `boma --version` names the commit it was built from, as git sees this checkout (`-dirty`
/// when its tracked files had changes), or `unknown` outside a git checkout.
#[test]
fn version_names_the_commit() {
    let run = Boma::new().args(["--version"]).run();
    run.success();
    let head = std::process::Command::new("git")
        .args(["-c", "safe.directory=*", "rev-parse", "--short=7", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|output| output.status.success())
        .map(|output| String::from_utf8_lossy(&output.stdout).trim().to_string());
    let shown = match &head {
        Some(sha) => run
            .stdout
            .replace(&format!("{sha}-dirty"), "[COMMIT]")
            .replace(sha, "[COMMIT]"),
        None => run.stdout.replace("unknown", "[COMMIT]"),
    };
    assert_eq!(
        shown,
        format!("boma {} (commit [COMMIT])\n", env!("CARGO_PKG_VERSION"))
    );
}

/// The repository's `.gitignore` ignores no file it tracks: `git ls-files -ci --exclude-standard`
/// lists none, and does list a tracked file once a pattern matches it.
#[test]
fn gitignore_ignores_no_tracked_file() {
    if crate::support::require("git").is_none() {
        return;
    }
    let repo = env!("CARGO_MANIFEST_DIR");
    let listed = |extra: &[&str]| {
        let output = std::process::Command::new("git")
            .args([
                "-c",
                "safe.directory=*",
                "ls-files",
                "-ci",
                "--exclude-standard",
            ])
            .args(extra)
            .current_dir(repo)
            .output()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(
            output.status.success(),
            "not a git checkout: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(listed(&["--exclude=/services.toml"]), "services.toml\n");
    assert_eq!(listed(&[]), "");
}
