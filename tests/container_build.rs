//! `container-build` with real buildah and podman and a real registry (htpasswd auth) on loopback:
//! tags, labels, reproducible ids, the pushed digest, pinned files, a builder host over SSH, and
//! every way a build can fail without showing the registry password.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::lab::Lab;
use crate::support::registry::{self, PASSWORD, Registry, git, repository};
use crate::support::{Boma, require};

const OCI: &str = "application/vnd.oci.image.manifest.v1+json";

/// Everything the tests drive, or `None` (a skip; a failure in CI).
fn components() -> Option<Registry> {
    require("buildah")?;
    require("podman")?;
    require("skopeo")?;
    require("git")?;
    Registry::start()
}

/// A Boma in a fresh repository holding the app image, its catalog pointed at `registry`.
fn project(registry: &Registry, builder: Option<&str>, run_step: bool) -> Boma {
    let boma = Boma::new();
    repository(boma.path(), &format!("{}/ops/app", registry.host), run_step);
    boma.catalog(&registry::catalog(&registry.host, builder))
        .env("FORGE_PASSWORD", PASSWORD)
}

fn storage(boma: &Boma) -> String {
    boma.path().join("store").display().to_string()
}

fn no_password(run: &crate::support::Run) {
    assert!(!run.stdout.contains(PASSWORD), "{}", run.stdout);
    assert!(!run.stderr.contains(PASSWORD), "{}", run.stderr);
}

fn image_of(report: &Value) -> &Value {
    &report["images"][0]
}

#[test]
fn buildah_builds_pushes_labels_and_pins_and_podman_gets_the_same_image() {
    let Some(registry) = components() else {
        return;
    };
    let boma = project(&registry, None, true);
    let revision = git(boma.path(), &["rev-parse", "HEAD"]);
    let tag = format!("v1.0.0-{}", &revision[..7]);
    let image = format!("{}/ops/app", registry.host);
    let kustomization =
        std::fs::read_to_string(boma.path().join("deploy/kustomization.yaml")).unwrap_or_default();
    let compose =
        std::fs::read_to_string(boma.path().join("deploy/compose.yml")).unwrap_or_default();

    // The check: the registry lacks the tag, both files lag.
    let check = boma.run_with(["container-build", "--check", "--output", "json"]);
    check.code(1);
    let planned = check.json();
    assert_eq!(image_of(&planned)["status"], "would build");
    assert_eq!(image_of(&planned)["registry"], "lacks the tag");
    assert_eq!(image_of(&planned)["reference"], format!("{image}:{tag}"));

    let store = storage(&boma);
    let run = boma.run_with([
        "container-build",
        "--tool",
        "buildah",
        "--storage",
        &store,
        "--output",
        "json",
    ]);
    run.success();
    no_password(&run);
    let built = run.json();
    let result = image_of(&built);
    assert_eq!(result["status"], "pushed", "{built}");
    assert_eq!(result["revision"], revision.as_str());
    let digest = result["digest"].as_str().unwrap_or_default().to_string();
    assert!(digest.starts_with("sha256:"), "{built}");

    // In the registry, with the digest boma reported.
    let (_, _, tags) = registry.get("/v2/ops/app/tags/list", None);
    assert!(tags.contains(&tag), "{tags}");
    let (status, headers, _) = registry.get(&format!("/v2/ops/app/manifests/{tag}"), Some(OCI));
    assert_eq!(status, 200);
    assert_eq!(
        headers
            .get("docker-content-digest")
            .and_then(|v| v.to_str().ok()),
        Some(digest.as_str())
    );

    // The labels, read back by skopeo.
    let inspect = std::process::Command::new("skopeo")
        .args(["inspect", "--tls-verify=false", "--creds"])
        .arg(format!("{}:{PASSWORD}", registry::USER))
        .arg(format!("docker://{image}:{tag}"))
        .output()
        .unwrap_or_else(|e| panic!("{e}"));
    let inspected: Value = serde_json::from_slice(&inspect.stdout).unwrap_or(Value::Null);
    let labels = &inspected["Labels"];
    assert_eq!(labels["org.opencontainers.image.version"], "1.0.0");
    assert_eq!(
        labels["org.opencontainers.image.revision"],
        revision.as_str()
    );
    assert_eq!(
        labels["org.opencontainers.image.source"], "https://forge.example.org/ops/homelab.git",
        "the remote's credentials are not in a public label"
    );
    let commit_time = git(boma.path(), &["show", "-s", "--format=%cI", "HEAD"]);
    assert!(
        labels["org.opencontainers.image.created"].is_string(),
        "{labels}"
    );
    assert!(
        inspected["Created"]
            .as_str()
            .is_some_and(|created| created.starts_with(&commit_time[..16])),
        "the image time is the commit time: {} vs {commit_time}",
        inspected["Created"]
    );
    assert!(
        labels.get("io.buildah.version").is_none(),
        "no tool-version label"
    );

    // Pinned: only the tag's text changed in each file.
    let pinned = |name: &str| std::fs::read_to_string(boma.path().join(name)).unwrap_or_default();
    assert_eq!(
        pinned("deploy/kustomization.yaml"),
        kustomization.replace("v0.9.0-0000000", &tag)
    );
    assert_eq!(
        pinned("deploy/compose.yml"),
        compose.replace("v0.9.0-0000000", &tag)
    );
    assert_eq!(
        result["bumped"],
        serde_json::json!(["deploy/kustomization.yaml", "deploy/compose.yml"])
    );

    // Nothing behind now; --all skips what the registry has.
    boma.run_with(["container-build", "--check"]).success();
    let again = boma.run_with(["container-build", "--all", "--output", "json"]);
    again.success();
    assert_eq!(image_of(&again.json())["status"], "up to date");

    // The same commit, cloned elsewhere, built by podman in its own storage: the same image.
    let elsewhere = Boma::new();
    git(
        elsewhere.path(),
        &["clone", "-q", &boma.path().display().to_string(), "."],
    );
    // Cloned from the same remote as the first (the source label names it).
    let remote = git(boma.path(), &["remote", "get-url", "origin"]);
    git(elsewhere.path(), &["remote", "set-url", "origin", &remote]);
    let elsewhere = elsewhere
        .catalog(&registry::catalog(&registry.host, None))
        .env("FORGE_PASSWORD", PASSWORD);
    let other_store = storage(&elsewhere);
    let podman = elsewhere.run_with([
        "container-build",
        "--tool",
        "podman",
        "--storage",
        &other_store,
        "--no-push",
        "--output",
        "json",
    ]);
    podman.success();
    let rebuilt = podman.json();
    assert_eq!(image_of(&rebuilt)["status"], "built");
    assert_eq!(
        image_of(&rebuilt)["image_id"],
        result["image_id"],
        "the same commit gives the same image id with another tool, folder and storage"
    );
}

#[test]
fn failures_are_clear_and_never_show_the_password() {
    let Some(registry) = components() else {
        return;
    };
    // A Containerfile the tool rejects: exit 1 with the tool's own words.
    let boma = project(&registry, None, false);
    let file = boma.path().join("containers/app/Containerfile");
    std::fs::write(&file, "FROM scratch\nCOPY no-such-file /x\n").unwrap_or_else(|e| panic!("{e}"));
    git(boma.path(), &["commit", "-qam", "broken"]);
    let store = storage(&boma);
    let run = boma.run_with(["container-build", "--tool", "buildah", "--storage", &store]);
    run.code(1)
        .stdout_has("the build failed")
        .stdout_has("no-such-file");
    no_password(&run);

    // Uncommitted changes are refused, then built as `-dirty` when allowed.
    let boma = project(&registry, None, false);
    std::fs::write(boma.path().join("containers/app/extra.txt"), "new")
        .unwrap_or_else(|e| panic!("{e}"));
    boma.run_with(["container-build", "--no-push"])
        .code(2)
        .stderr_has("`app`: the context or its Containerfile has uncommitted changes")
        .stderr_has("--allow-dirty");
    let store = storage(&boma);
    let dirty = boma.run_with([
        "container-build",
        "--allow-dirty",
        "--no-push",
        "--storage",
        &store,
        "--output",
        "json",
    ]);
    dirty.success();
    assert!(
        image_of(&dirty.json())["tag"]
            .as_str()
            .is_some_and(|tag| tag.ends_with("-dirty"))
    );

    // Wrong credentials: exit 1, and the password is in no output and no process's arguments.
    let boma = project(&registry, None, false).env("FORGE_PASSWORD", "wrong-pa55word-xyz");
    let store = storage(&boma);
    let watcher = watch_processes_for(&["wrong-pa55word-xyz"]);
    let run = boma.run_with(["container-build", "--tool", "buildah", "--storage", &store]);
    let seen = watcher.stop();
    run.code(1);
    assert!(
        run.stdout.contains("login to") || run.stdout.contains("the push"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("wrong-pa55word-xyz") && !run.stderr.contains("wrong-pa55word-xyz")
    );
    assert!(
        seen.is_empty(),
        "a password was in a command line: {seen:?}"
    );

    // The registry down: the check says so (exit 1), a build's push fails (exit 1).
    let port = crate::support::free_port();
    let down = Boma::new();
    repository(down.path(), &format!("127.0.0.1:{port}/ops/app"), false);
    let down = down
        .catalog(&registry::catalog(&format!("127.0.0.1:{port}"), None))
        .env("FORGE_PASSWORD", PASSWORD);
    down.run_with(["container-build", "--check"])
        .code(1)
        .stdout_has("cannot connect");
    let store = storage(&down);
    down.run_with(["container-build", "--tool", "buildah", "--storage", &store])
        .code(1)
        .stdout_has("failed");

    // No context; no build tool at all.
    let missing = project(&registry, None, false);
    std::fs::remove_dir_all(missing.path().join("containers/app"))
        .unwrap_or_else(|e| panic!("{e}"));
    missing
        .run_with(["container-build"])
        .code(2)
        .stderr_has("the context `./containers/app` is not a folder");
    // A PATH with git and nothing to build with.
    let bin = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    let git_path = which::which("git").unwrap_or_else(|e| panic!("{e}"));
    std::os::unix::fs::symlink(git_path, bin.path().join("git")).unwrap_or_else(|e| panic!("{e}"));
    let bare = project(&registry, None, false).env("PATH", bin.path());
    bare.run_with(["container-build", "--no-push"])
        .code(2)
        .stderr_has("no build tool found: podman, buildah or docker is not on PATH")
        .stderr_has("hint: install one");
    // An unknown name suggests the closest one.
    project(&registry, None, false)
        .run_with(["container-build", "ap"])
        .code(2)
        .stderr_has("did you mean `app`?");
}

/// Only a push needs the registry password: without it, `--check` still asks the registry (as
/// anyone) and says why no credentials went; a push refuses, naming the secret, where the
/// catalog declares it and what to set.
#[test]
fn check_needs_no_registry_password_and_a_push_says_what_to_set() {
    let Some(registry) = components() else {
        return;
    };
    let boma = Boma::new();
    repository(boma.path(), &format!("{}/ops/app", registry.host), false);
    let boma = boma.catalog(&registry::catalog(&registry.host, None));
    let revision = git(boma.path(), &["rev-parse", "HEAD"]);
    let check = boma.run_with(["container-build", "--check"]);
    check.code(1);
    let store = storage(&boma);
    let push = boma.run_with(["container-build", "--tool", "buildah", "--storage", &store]);
    push.code(2);
    let shown = format!(
        "{}--- stderr\n{}--- push stdout\n{}--- push stderr\n{}",
        check.stdout, check.stderr, push.stdout, push.stderr
    )
    .replace(&revision[..7], "[REV]");
    crate::support::snapshot("container_build__no_registry_password", &shown);
}

#[tokio::test(flavor = "multi_thread")]
async fn a_builder_host_gets_the_context_over_ssh_and_pushes_there() {
    let Some(registry) = components() else {
        return;
    };
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let boma = Boma::new();
    repository(boma.path(), &format!("{}/ops/app", registry.host), true);
    std::fs::write(
        boma.path().join("containers/app/build.log"),
        "ignored by .containerignore",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    // The lab's hosts (h1: an sshd on loopback) and the image, built on h1.
    let catalog = format!(
        "{}\n{}",
        lab.catalog(),
        registry::catalog(&registry.host, Some("h1")).replace("version = 1\n", "")
    );
    let boma = boma.catalog(&catalog).env("FORGE_PASSWORD", PASSWORD);
    let store = boma.path().join("builder-store").display().to_string();
    let run = boma.run_with([
        "-v",
        "container-build",
        "--tool",
        "buildah",
        "--storage",
        &store,
        "--output",
        "json",
    ]);
    run.success();
    no_password(&run);
    let result = run.json();
    assert_eq!(image_of(&result)["builder"], "h1");
    assert_eq!(image_of(&result)["status"], "pushed", "{result}");
    run.stderr_has("h1: receive").stderr_has("h1: push");
    let (_, _, tags) = registry.get("/v2/ops/app/tags/list", None);
    let revision = git(boma.path(), &["rev-parse", "HEAD"]);
    assert!(tags.contains(&revision[..7]), "{tags}");
    // The builder's work folder (the unpacked context, the auth file) is gone.
    let left: Vec<_> = std::fs::read_dir("/tmp")
        .into_iter()
        .flatten()
        .flatten()
        .filter(|entry| {
            entry
                .file_name()
                .to_string_lossy()
                .starts_with("boma-build.")
        })
        // Only a builder unpacks a context: local builds of tests running now have none.
        .filter(|entry| entry.path().join("context").exists())
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Polls every process's command line for any of `needles` until stopped.
struct Watcher {
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
    handle: std::thread::JoinHandle<Vec<String>>,
}

fn watch_processes_for(needles: &[&str]) -> Watcher {
    let needles: Vec<String> = needles.iter().map(|n| n.to_string()).collect();
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let started = Instant::now();
        while !flag.load(std::sync::atomic::Ordering::Relaxed)
            && started.elapsed() < Duration::from_secs(120)
        {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let text = String::from_utf8_lossy(&cmdline).replace('\0', " ");
                if needles.iter().any(|needle| text.contains(needle.as_str())) {
                    seen.push(text);
                }
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        seen
    });
    Watcher { stop, handle }
}

impl Watcher {
    fn stop(self) -> Vec<String> {
        self.stop.store(true, std::sync::atomic::Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

#[test]
fn check_shows_what_the_shipped_catalog_would_build_and_pin() {
    if require("git").is_none() {
        return;
    }
    // --no-push: the shipped registry is not on this network, so it is not asked.
    let run = Boma::new()
        .shipped("services.toml")
        .args([
            "container-build",
            "--check",
            "--no-push",
            "--output",
            "json",
        ])
        .run();
    run.code(1);
    let report = run.json();
    let images = report["images"].as_array().cloned().unwrap_or_default();
    let names: Vec<&str> = images
        .iter()
        .filter_map(|image| image["name"].as_str())
        .collect();
    assert_eq!(names, ["shower", "caddy-gandi"]);
    for image in &images {
        assert_eq!(image["status"], "would build");
        assert_eq!(image["registry"], "not asked (--no-push)");
        assert!(
            image["tag"]
                .as_str()
                .is_some_and(|tag| tag.len() == "v1.4.0-".len() + 7 || tag.starts_with("v2.11.4-"))
        );
    }
    assert_eq!(images[0]["builder"], "ringtail");
    assert_eq!(
        images[0]["bumped"],
        serde_json::json!(["deploy/shower/kustomization.yaml"])
    );
    assert_eq!(
        images[1]["bumped"],
        serde_json::json!(["compose/caddy.yml"])
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn a_builder_gets_files_reincluded_under_an_excluded_folder_and_no_special_files() {
    let Some(registry) = components() else {
        return;
    };
    let Some(lab) = Lab::start(1).await else {
        return;
    };
    let boma = Boma::new();
    let context = repository(boma.path(), &format!("{}/ops/app", registry.host), false);
    // The build tools' ignore rules: `conf` leaves the folder out, `!` brings one file back.
    std::fs::create_dir_all(context.join("conf")).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(context.join("conf/public.txt"), "shown").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(context.join("conf/private.txt"), "home").unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(
        context.join(".containerignore"),
        "*.log\nconf\n!conf/public.txt\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let containerfile = context.join("Containerfile");
    let text = std::fs::read_to_string(&containerfile).unwrap_or_default();
    std::fs::write(
        &containerfile,
        text.replace(
            "COPY busybox /bin/busybox\n",
            "COPY busybox /bin/busybox\nCOPY conf/public.txt /public.txt\n",
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    git(boma.path(), &["add", "-A"]);
    git(
        boma.path(),
        &["commit", "-qm", "a public file in an excluded folder"],
    );
    // A FIFO git does not track: tar would write it at the wrong path; it is left out, named.
    let made = std::process::Command::new("mkfifo")
        .arg(context.join("pipe"))
        .status()
        .is_ok_and(|status| status.success());
    assert!(made, "mkfifo");
    let catalog = format!(
        "{}\n{}",
        lab.catalog(),
        registry::catalog(&registry.host, Some("h1")).replace("version = 1\n", "")
    );
    let boma = boma.catalog(&catalog).env("FORGE_PASSWORD", PASSWORD);
    let store = boma.path().join("builder-store").display().to_string();
    let run = boma.run_with(["container-build", "--tool", "buildah", "--storage", &store]);
    run.success();
    let warning = run
        .stdout
        .lines()
        .filter(|line| line.contains("warning"))
        .collect::<Vec<_>>();
    assert_eq!(
        warning,
        ["app: warning: `pipe` is not a file, folder or symlink: left out of the context"],
        "{}",
        run.stdout
    );
}
