//! The recipes in `examples/`: the CI workflow's comment script (`examples/ci/plan-comment.py`)
//! run with the real boma against a stand-in of the forge's comments API, the workflow's own
//! text, and the mise and just tasks. actionlint, just and mise check the files themselves in
//! `scripts/check-examples` (CI runs it).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::Duration;

use clap::Parser as _;
use serde_json::Value;

use crate::support::forge::{BOT, Forge, HEAD_SHA, PULL_REQUEST, REPOSITORY, TOKEN};
use crate::support::{Boma, ONE_SERVICE, Run, finish_within, repo_file, require, snapshot};

const MARKER: &str = "<!-- boma-plan -->";
/// The commit a merged pull request became on main.
const MERGED: &str = "fedcba9876543210fedcba9876543210fedcba98";

/// Runs the comment script in `boma`'s folder with `args`, `env` added to what the workflow sets.
/// The token appears in neither output.
fn script(python: &Path, boma: &Boma, api_url: &str, args: &[&str], env: &[(&str, &str)]) -> Run {
    let mut command = Command::new(python);
    command
        .arg(repo_file("examples/ci/plan-comment.py"))
        .args(args)
        .current_dir(boma.path())
        .env_remove("BOMA_CATALOG")
        .env_remove("NO_COLOR")
        .env_remove("PLAN_COMMENT_AUTHOR")
        .env("GITHUB_API_URL", api_url)
        .env("GITHUB_REPOSITORY", REPOSITORY)
        .env("PR_NUMBER", PULL_REQUEST.to_string())
        .env("FORGE_TOKEN", TOKEN)
        .env("HEAD_SHA", HEAD_SHA)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    for (key, value) in env {
        command.env(key, value);
    }
    let child = command
        .spawn()
        .unwrap_or_else(|error| panic!("cannot run plan-comment.py: {error}"));
    let (run, _) = finish_within(child, Duration::from_secs(120));
    assert!(
        !run.stdout.contains(TOKEN) && !run.stderr.contains(TOKEN),
        "the token was printed:\n{}\n{}",
        run.stdout,
        run.stderr
    );
    run
}

/// The script with the command the workflow gives it, `boma plan --output markdown`, kept to the
/// DNS stage, which needs no host and no network; `boma`'s `services.toml` is the catalog.
fn comment(python: &Path, boma: &Boma, api_url: &str) -> Run {
    let boma_bin = env!("CARGO_BIN_EXE_boma");
    let args = [
        "--", boma_bin, "plan", "--output", "markdown", "--only", "dns",
    ];
    script(python, boma, api_url, &args, &[])
}

/// `reviewed-checksum` for the commit `sha`, as the `up` job runs it.
fn reviewed(python: &Path, boma: &Boma, api_url: &str, sha: &str) -> Run {
    script(
        python,
        boma,
        api_url,
        &["reviewed-checksum"],
        &[("GITHUB_SHA", sha)],
    )
}

/// Every request carried the token in its Authorization header and nowhere else: not in the
/// path or query, not in another header, not in a body. There were requests.
async fn token_only_in_authorization(forge: &Forge) {
    let requests = forge.requests().await;
    assert!(!requests.is_empty(), "the stand-in received no request");
    for (line, request) in requests {
        assert!(!request.url.as_str().contains(TOKEN), "{line}");
        assert!(
            !String::from_utf8_lossy(&request.body).contains(TOKEN),
            "{line}: the token is in the body"
        );
        for (name, value) in &request.headers {
            let value = String::from_utf8_lossy(value.as_bytes());
            if name.as_str() == "authorization" {
                assert_eq!(value, format!("Bearer {TOKEN}"), "{line}");
            } else {
                assert!(!value.contains(TOKEN), "{line}: the token is in {name}");
            }
        }
    }
}

/// The requests that write: `POST ...` and `PATCH ...`, in order.
async fn writes(forge: &Forge) -> Vec<String> {
    forge
        .requests()
        .await
        .into_iter()
        .map(|(line, _)| line)
        .filter(|line| !line.starts_with("GET "))
        .collect()
}

/// The comments the script wrote: the stand-in's own, with the marker.
fn ours(forge: &Forge) -> Vec<Value> {
    forge
        .comments()
        .into_iter()
        .filter(|comment| {
            comment["body"].as_str().unwrap_or("").starts_with(MARKER)
                && comment["user"]["login"] == BOT
        })
        .collect()
}

fn body(comment: &Value) -> String {
    comment["body"]
        .as_str()
        .unwrap_or_else(|| panic!("a comment without a body: {comment:#}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread")]
async fn the_plan_is_one_comment_updated_in_place_and_others_are_left_alone() {
    let Some(python) = require("python3") else {
        return;
    };
    // Two comments per page: the script's own comment, fourth, is on the second page.
    let forge = Forge::start("", 2).await;
    let someone = forge.comment_as("octocat", "Me too");
    let quoting = forge.comment_as(
        "alice",
        &format!("The bot's comment starts with {MARKER}, this one does not."),
    );
    // Someone else's comment that starts with the marker is not the script's to edit.
    let impostor = forge.comment_as("mallory", &format!("{MARKER}\n\nApprove: nothing changes."));
    let boma = Boma::new().catalog(ONE_SERVICE);

    let first = comment(&python, &boma, &forge.api_url());
    first.success();
    assert_eq!(
        writes(&forge).await,
        [format!(
            "POST /repos/{REPOSITORY}/issues/{PULL_REQUEST}/comments"
        )]
    );
    let created = ours(&forge);
    assert_eq!(created.len(), 1, "{created:#?}");
    let id = created[0]["id"].as_u64().unwrap_or_default();
    snapshot("ci_recipe__created_comment", &body(&created[0]));
    // The plan is in the job's log too.
    first.stdout_has("## boma plan · checksum");

    // A push changes the catalog: the same comment shows the new plan.
    let boma = boma.file(
        "services.toml",
        ONE_SERVICE.replace(
            r#"["app.example.org"]"#,
            r#"["app.example.org", "api.example.org"]"#,
        ),
    );
    comment(&python, &boma, &forge.api_url()).success();
    assert_eq!(
        writes(&forge).await,
        [
            format!("POST /repos/{REPOSITORY}/issues/{PULL_REQUEST}/comments"),
            format!("PATCH /repos/{REPOSITORY}/issues/comments/{id}"),
        ]
    );
    let updated = ours(&forge);
    assert_eq!(updated.len(), 1, "{updated:#?}");
    assert_eq!(updated[0]["id"], id);
    snapshot("ci_recipe__updated_comment", &body(&updated[0]));

    // The same plan again writes nothing.
    comment(&python, &boma, &forge.api_url())
        .success()
        .stderr_has(&format!("comment {id} already shows this plan"));
    assert_eq!(writes(&forge).await.len(), 2);

    // The others' comments are as they were, and no write named them.
    let comments = forge.comments();
    assert_eq!(comments.len(), 4);
    let body_of = |id: u64| {
        comments
            .iter()
            .find(|comment| comment["id"] == id)
            .map(body)
    };
    assert_eq!(body_of(someone).as_deref(), Some("Me too"));
    assert_eq!(
        body_of(quoting).as_deref(),
        Some(format!("The bot's comment starts with {MARKER}, this one does not.").as_str())
    );
    assert_eq!(
        body_of(impostor).as_deref(),
        Some(format!("{MARKER}\n\nApprove: nothing changes.").as_str())
    );
    for line in writes(&forge).await {
        for other in [someone, quoting, impostor] {
            assert!(!line.ends_with(&format!("/comments/{other}")), "{line}");
        }
    }
    token_only_in_authorization(&forge).await;
}

/// Forgejo's and Gitea's routes live under `/api/v1`. A catalog boma refuses fails the check
/// (exit 2) after the comment says why; once fixed, the same comment shows the plan.
#[tokio::test(flavor = "multi_thread")]
async fn an_invalid_catalog_fails_the_check_and_says_why_in_the_comment() {
    let Some(python) = require("python3") else {
        return;
    };
    let forge = Forge::start("/api/v1", 50).await;
    let boma = Boma::new().catalog(&ONE_SERVICE.replace("upstream =", "upstrem ="));

    let failed = comment(&python, &boma, &forge.api_url());
    failed
        .code(2)
        .stderr_has("::error::boma plan failed with exit 2");
    let created = ours(&forge);
    assert_eq!(created.len(), 1, "{created:#?}");
    snapshot("ci_recipe__invalid_catalog_comment", &body(&created[0]));

    let boma = boma.file("services.toml", ONE_SERVICE);
    comment(&python, &boma, &forge.api_url()).success();
    let id = created[0]["id"].clone();
    assert_eq!(
        writes(&forge).await,
        [
            format!("POST /api/v1/repos/{REPOSITORY}/issues/{PULL_REQUEST}/comments"),
            format!("PATCH /api/v1/repos/{REPOSITORY}/issues/comments/{id}"),
        ]
    );
    let fixed = ours(&forge);
    assert_eq!(fixed.len(), 1, "{fixed:#?}");
    snapshot("ci_recipe__fixed_catalog_comment", &body(&fixed[0]));
    token_only_in_authorization(&forge).await;
}

/// A paging link or a redirect to another origin is not followed: the token reaches only the
/// API's own origin, and a list that could not be read creates no comment (it might be a second
/// one).
#[tokio::test(flavor = "multi_thread")]
async fn the_token_never_leaves_the_apis_origin() {
    let Some(python) = require("python3") else {
        return;
    };
    let elsewhere = wiremock::MockServer::start().await;
    let boma = Boma::new().catalog(ONE_SERVICE);

    let forge = Forge::start("", 1).await;
    forge.comment_as("octocat", "Me too");
    forge.comment_as("alice", "LGTM");
    forge.next_page_at(&elsewhere.uri());
    let run = comment(&python, &boma, &forge.api_url());
    run.code(1).stderr_has("not the API's origin");
    assert!(writes(&forge).await.is_empty());
    token_only_in_authorization(&forge).await;

    let forge = Forge::start("", 50).await;
    forge.redirect_lists_to(&elsewhere.uri());
    let run = comment(&python, &boma, &forge.api_url());
    run.code(1).stderr_has("a redirect, not followed");
    assert!(writes(&forge).await.is_empty());
    token_only_in_authorization(&forge).await;

    let reached = elsewhere
        .received_requests()
        .await
        .unwrap_or_else(|| panic!("the other server does not record requests"));
    assert!(reached.is_empty(), "{reached:#?}");
}

/// An error answer that repeats the token (the Authorization header, echoed by a proxy) is shown
/// with the token redacted: the search `script` makes for the token in the output finds it
/// there otherwise.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_echoed_in_an_error_is_redacted() {
    let Some(python) = require("python3") else {
        return;
    };
    let forge = Forge::start("", 50).await;
    forge.echo_authorization_in_errors();
    let run = comment(&python, &Boma::new().catalog(ONE_SERVICE), &forge.api_url());
    run.code(1)
        .stderr_has("upstream refused Authorization: Bearer [redacted]");
    assert!(writes(&forge).await.is_empty());
    token_only_in_authorization(&forge).await;
}

/// A plan longer than a comment holds is cut at a line, or at the limit when it has no newline;
/// a whole comment over GitHub's 65,536 characters is cut and says so.
#[tokio::test(flavor = "multi_thread")]
async fn a_long_plan_is_cut_to_what_a_comment_holds() {
    let Some(python) = require("python3") else {
        return;
    };
    let python_text = python.to_string_lossy().to_string();
    let program = "import sys; sys.stdout.write('x' * 70000); sys.stderr.write('e' * 10000); \
                   sys.exit(int(sys.argv[1]))";

    let forge = Forge::start("", 50).await;
    let boma = Boma::new();
    let args = ["--", python_text.as_str(), "-c", program, "0"];
    script(&python, &boma, &forge.api_url(), &args, &[]).success();
    let created = ours(&forge);
    let text = body(&created[0]);
    assert!(text.chars().count() <= 65_536, "{}", text.len());
    assert!(
        text.contains(&format!(
            "{}\n\n… the plan is longer than a comment holds",
            "x".repeat(100)
        )),
        "the plan was not cut at 60,000 characters"
    );
    assert!(
        !text.contains("this comment was cut"),
        "the whole comment was cut"
    );

    // A marker of 6,000 characters and a failure's messages: the whole comment is cut.
    let forge = Forge::start("", 50).await;
    let marker = "m".repeat(6000);
    let args = [
        "--marker",
        marker.as_str(),
        "--",
        python_text.as_str(),
        "-c",
        program,
        "1",
    ];
    script(&python, &boma, &forge.api_url(), &args, &[]).code(0);
    let comments = forge.comments();
    assert_eq!(comments.len(), 1);
    let text = body(&comments[0]);
    assert!(text.starts_with(&format!("<!-- {marker} -->\n")));
    assert!(text.chars().count() <= 65_536, "{}", text.chars().count());
    assert!(
        text.ends_with(
            "\n\n… this comment was cut to the forge's 65,536 characters: the job's log has all \
             of it.\n"
        ),
        "{}",
        &text[text.len() - 200..]
    );
}

/// A command that runs longer than `--timeout` is killed, and the check fails saying so.
#[tokio::test(flavor = "multi_thread")]
async fn a_command_past_its_timeout_is_killed_and_fails_the_check() {
    let Some(python) = require("python3") else {
        return;
    };
    let Some(sleep) = require("sleep") else {
        return;
    };
    let sleep = sleep.to_string_lossy().to_string();
    let forge = Forge::start("", 50).await;
    let started = std::time::Instant::now();
    let args = ["--timeout", "1", "--", sleep.as_str(), "60"];
    script(&python, &Boma::new(), &forge.api_url(), &args, &[])
        .code(124)
        .stderr_has("plan-comment: killed after 1 s (--timeout)");
    assert!(started.elapsed() < Duration::from_secs(30));
    let created = ours(&forge);
    assert_eq!(created.len(), 1, "{created:#?}");
    snapshot("ci_recipe__timed_out_comment", &body(&created[0]));
}

/// `reviewed-checksum` prints the checksum of the plan in the merged pull request's comment
/// (GitHub's `commits/{sha}/pulls`, Forgejo's `commits/{sha}/pull`), and `boma up --checksum`
/// takes it; without a reviewed plan it fails saying why.
#[tokio::test(flavor = "multi_thread")]
async fn merging_applies_the_reviewed_plan_or_nothing() {
    let Some(python) = require("python3") else {
        return;
    };
    for prefix in ["", "/api/v1"] {
        let forge = Forge::start(prefix, 50).await;
        let boma = Boma::new().catalog(ONE_SERVICE);
        let api = forge.api_url();

        // Not merged yet: no pull request was merged as this commit.
        reviewed(&python, &boma, &api, MERGED)
            .code(1)
            .stderr_has(&format!(
                "no reviewed plan: commit {} is no pull request's merge",
                &MERGED[..12]
            ));

        // Merged without a plan comment; one by someone else with the marker does not count.
        forge.merge_as(MERGED);
        forge.comment_as(
            "mallory",
            &format!("{MARKER}\n\n## boma plan · checksum `0000000000000000`\n"),
        );
        reviewed(&python, &boma, &api, MERGED)
            .code(1)
            .stderr_has(&format!(
                "no reviewed plan: pull request #{PULL_REQUEST} has no plan comment"
            ));

        // The plan failed: there is no checksum to apply.
        let broken = Boma::new().catalog(&ONE_SERVICE.replace("upstream =", "upstrem ="));
        comment(&python, &broken, &api).code(2);
        reviewed(&python, &boma, &api, MERGED)
            .code(1)
            .stderr_has("shows no complete plan");

        // The plan of an earlier push than the pull request's last commit is not the reviewed one.
        let args = [
            "--",
            env!("CARGO_BIN_EXE_boma"),
            "plan",
            "--output",
            "markdown",
            "--only",
            "dns",
        ];
        script(&python, &boma, &api, &args, &[("HEAD_SHA", MERGED)]).success();
        reviewed(&python, &boma, &api, MERGED)
            .code(1)
            .stderr_has(&format!(
                "is for commit {}, not its last commit {}",
                &MERGED[..12],
                &HEAD_SHA[..12]
            ));

        // The plan of the last commit: its checksum, which boma up takes.
        let plan = comment(&python, &boma, &api);
        plan.success();
        let checksum = plan
            .stdout
            .split('`')
            .nth(1)
            .unwrap_or_else(|| panic!("no checksum in the plan: {}", plan.stdout))
            .to_string();
        let run = reviewed(&python, &boma, &api, MERGED);
        run.success();
        assert_eq!(run.stdout, format!("{checksum}\n"), "{prefix}");
        assert_eq!(ours(&forge).len(), 1, "{prefix}");
        token_only_in_authorization(&forge).await;
    }
}

/// The workflow hands secrets to steps only through `env:` (never into a `run:` script's text,
/// never echoed), runs the script on pull requests, one plan at a time for each, in an
/// environment the operator protects, and on the main branch applies the reviewed plan's
/// checksum; the SSH key never lands in ~/.ssh and known_hosts is appended to, then restored.
#[test]
fn the_workflow_runs_the_plan_comment_and_keeps_secrets_in_env() {
    let workflow = std::fs::read_to_string(repo_file("examples/ci/boma.yml"))
        .unwrap_or_else(|error| panic!("examples/ci/boma.yml: {error}"));
    for needle in [
        "pull_request:",
        "branches: [main]",
        "pull-requests: write",
        "pull-requests: read",
        "environment: boma-plan",
        "group: boma-plan-${{ github.event.pull_request.number }}\n      cancel-in-progress: true",
        "group: boma-up\n      cancel-in-progress: false",
        "plan-comment.py -- boma plan --output markdown",
        "checksum=$(python3 ci/plan-comment.py reviewed-checksum)\n          boma up --checksum \"$checksum\"",
        "FORGE_TOKEN: ${{ secrets.GITHUB_TOKEN }}",
        "ssh-add -q -",
        ">>~/.ssh/known_hosts",
        "if: always()",
        "--rev \"$BOMA_REV\"",
        "--branch \"$BOMA_BRANCH\"",
    ] {
        assert!(workflow.contains(needle), "the workflow lacks {needle:?}");
    }
    for needle in ["run: boma up", "~/.ssh/id_", ">~/.ssh/known_hosts"] {
        let found = workflow.lines().any(|line| {
            line.contains(needle)
                && !(needle.starts_with('>') && line.contains(&format!(">{needle}")))
        });
        assert!(!found, "the workflow has {needle:?}");
    }
    assert_eq!(workflow.matches("if: always()").count(), 2);
    for (number, line) in workflow.lines().enumerate() {
        let code = line.split(" #").next().unwrap_or(line);
        assert!(!code.contains("set -x"), "line {}: {line}", number + 1);
        if code.contains("secrets.") {
            let mapping = code.trim_start().split_once(": ${{ secrets.");
            assert!(
                mapping.is_some_and(|(key, rest)| {
                    key.bytes()
                        .all(|b| b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_')
                        && rest.trim_end().ends_with("}}")
                }),
                "line {}: a secret outside an env mapping: {line}",
                number + 1
            );
        }
    }
    let script = repo_file("examples/ci/plan-comment.py");
    let text = std::fs::read_to_string(&script).unwrap_or_default();
    assert!(text.starts_with("#!/usr/bin/env python3\n"));
}

/// The task names the examples give, the same in mise.toml and the justfile.
const TASKS: [&str; 8] = [
    "backup-check",
    "caddy-push",
    "container-build",
    "dns-preview",
    "dns-up",
    "fly-deploy",
    "plan",
    "up",
];

/// `examples/mise.toml` and `examples/justfile` have the same tasks, each with a description,
/// running the same command line, one boma takes (the task's own name as the command).
#[test]
fn the_mise_and_just_tasks_are_the_same_boma_commands() {
    let text = std::fs::read_to_string(repo_file("examples/mise.toml"))
        .unwrap_or_else(|error| panic!("examples/mise.toml: {error}"));
    let mise: toml::Table =
        toml::from_str(&text).unwrap_or_else(|error| panic!("examples/mise.toml: {error}"));
    assert_eq!(mise.keys().collect::<Vec<_>>(), ["tasks"]);
    let Some(tasks) = mise["tasks"].as_table() else {
        panic!("[tasks] is not a table");
    };
    let mut from_mise = BTreeMap::new();
    for (name, task) in tasks {
        let description = task.get("description").and_then(toml::Value::as_str);
        assert!(description.is_some_and(|d| !d.is_empty()), "{name}");
        let run = task.get("run").and_then(toml::Value::as_str).unwrap_or("");
        from_mise.insert(name.clone(), run.to_string());
    }
    assert_eq!(from_mise.keys().collect::<Vec<_>>(), TASKS);

    // A recipe is a `NAME *ARGS:` line after its `# description`, then its command indented.
    let justfile = std::fs::read_to_string(repo_file("examples/justfile"))
        .unwrap_or_else(|error| panic!("examples/justfile: {error}"));
    let lines: Vec<&str> = justfile.lines().collect();
    let mut from_just = BTreeMap::new();
    for (index, line) in lines.iter().enumerate() {
        let Some(name) = line.strip_suffix(" *ARGS:") else {
            continue;
        };
        assert!(
            index > 0 && lines[index - 1].starts_with("# "),
            "recipe {name} has no description"
        );
        let command = lines.get(index + 1).map_or("", |line| line.trim());
        let Some(command) = command.strip_suffix(r#" "$@""#) else {
            panic!("recipe {name} does not pass its arguments on: {command}");
        };
        from_just.insert(name.to_string(), command.to_string());
    }
    assert_eq!(
        from_just, from_mise,
        "examples/justfile and examples/mise.toml differ"
    );

    for (name, run) in &from_mise {
        let words: Vec<&str> = run.split_whitespace().collect();
        let cli = boma::cli::Cli::try_parse_from(&words)
            .unwrap_or_else(|error| panic!("task {name}: {run}: {error}"));
        assert_eq!(cli.command.name(), name, "task {name} runs {run}");
    }
}
