//! The manual pages: `man/` holds exactly what `boma man --out` writes from the clap definitions,
//! each page renders with man-db without a warning, and an installed page is found by its name.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::support::{Boma, repo_file, require};

const REGENERATE: &str = "run `just man` (or `rm -f man/*.1 && cargo run -- man --out man`) and \
                          commit man/: the pages follow src/cli.rs and src/man/";

/// Every `*.1` in `dir`, by file name, sorted.
fn pages_in(dir: &Path) -> Vec<(String, PathBuf)> {
    let mut pages: Vec<(String, PathBuf)> = std::fs::read_dir(dir)
        .unwrap_or_else(|error| panic!("{}: {error}; {REGENERATE}", dir.display()))
        .filter_map(Result::ok)
        .map(|entry| entry.path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "1"))
        .map(|path| {
            let name = path
                .file_name()
                .map(|name| name.to_string_lossy().into_owned())
                .unwrap_or_default();
            (name, path)
        })
        .collect();
    pages.sort();
    pages
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|error| panic!("{}: {error}", path.display()))
}

#[test]
fn the_committed_pages_are_what_the_cli_generates() {
    let boma = Boma::new();
    let out = boma.path().join("generated");
    boma.run_with(["man", "--out"])
        .code(2)
        .stderr_has("a value is required for '--out <DIR>'");
    let run = boma.run_with([
        std::ffi::OsString::from("man"),
        "--out".into(),
        out.clone().into(),
    ]);
    run.success().stderr_has("manual pages into");
    let generated = pages_in(&out);
    let committed = pages_in(&repo_file("man"));
    let names = |pages: &[(String, PathBuf)]| -> Vec<String> {
        pages.iter().map(|(name, _)| name.clone()).collect()
    };
    assert_eq!(
        names(&committed),
        names(&generated),
        "man/ holds other pages than boma generates; {REGENERATE}"
    );
    for ((name, committed), (_, generated)) in committed.iter().zip(&generated) {
        assert!(
            read(committed) == read(generated),
            "man/{name} differs from what `boma man` generates; {REGENERATE}"
        );
    }
    // One page per subcommand `--help` lists, plus boma's own.
    let help = boma.run_with(["--help"]);
    let commands = help
        .stdout
        .lines()
        .skip_while(|line| *line != "Commands:")
        .skip(1)
        .take_while(|line| line.starts_with("  "))
        // A wrapped description goes on deeper; `help` is clap's, with no page.
        .filter(|line| !line[2..].starts_with(' '))
        .filter_map(|line| line.split_whitespace().next())
        .filter(|command| *command != "help");
    for command in commands {
        let file = format!("boma-{command}.1");
        assert!(names(&generated).contains(&file), "no {file}");
    }
    assert!(names(&generated).contains(&"boma.1".to_string()));
}

#[test]
fn a_page_prints_on_stdout_and_a_second_write_changes_nothing() {
    let boma = Boma::new();
    let run = boma.run_with(["man", "dns-up"]);
    run.success();
    assert_eq!(run.stdout, read(&repo_file("man/boma-dns-up.1")));
    let own = boma.run_with(["man"]);
    assert_eq!(own.success().stdout, read(&repo_file("man/boma.1")));
    boma.run_with(["man", "dns-upp"])
        .code(2)
        .stderr_has("error: boma has no command `dns-upp`")
        .stderr_has("hint: did you mean `dns-up`?");
    let out = boma.path().join("pages");
    let out = out.to_string_lossy().into_owned();
    boma.run_with(["man", "--out", &out]).success();
    boma.run_with(["man", "--out", &out])
        .success()
        .stderr_has(&format!(
            "0 written, {} unchanged",
            pages_in(&repo_file("man")).len()
        ));
}

/// `man -l` (man-db and groff, as Debian ships them) renders every page at 80 columns without a
/// warning, with the sections a page must have.
#[test]
fn every_page_renders_with_man_without_warnings() {
    let Some(man) = require("man") else { return };
    let home = tempfile::tempdir().unwrap_or_else(|error| panic!("{error}"));
    for (name, path) in pages_in(&repo_file("man")) {
        let output = Command::new(&man)
            .args(["--warnings", "-l"])
            .arg(&path)
            .env("MANWIDTH", "80")
            .env("HOME", home.path())
            .env_remove("MANPATH")
            .env_remove("MANPAGER")
            .env_remove("PAGER")
            .output()
            .unwrap_or_else(|error| panic!("man: {error}"));
        let stderr = String::from_utf8_lossy(&output.stderr);
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success() && stderr.is_empty(),
            "man --warnings -l man/{name}:\n{stderr}"
        );
        for section in ["NAME", "SYNOPSIS", "DESCRIPTION", "EXIT STATUS", "EXAMPLES"] {
            assert!(
                stdout.lines().any(|line| line == section),
                "man/{name} renders no {section} section:\n{stdout}"
            );
        }
        assert!(
            stdout.lines().all(|line| line.chars().count() <= 80),
            "man/{name} renders past 80 columns:\n{stdout}"
        );
    }
}

/// Pages written where the README's Install section says are found by name: beside a `bin`
/// folder on PATH (`~/.cargo/share/man` for `~/.cargo/bin`), or through MANPATH.
#[test]
fn an_installed_page_is_found_by_name() {
    let Some(man) = require("man") else { return };
    let boma = Boma::new();
    let prefix = boma.path().join("cargo");
    std::fs::create_dir_all(prefix.join("bin")).unwrap_or_else(|error| panic!("{error}"));
    let pages = prefix.join("share/man/man1");
    boma.run_with([
        std::ffi::OsString::from("man"),
        "--out".into(),
        pages.clone().into(),
    ])
    .success();
    let path = format!(
        "{}:{}",
        prefix.join("bin").display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let manpath = prefix.join("share/man").to_string_lossy().into_owned();
    // A HOME of its own: no ~/.manpath of the machine's user takes part.
    let man = |args: &[&str], env: (&str, &str)| {
        let output = Command::new(&man)
            .args(args)
            .env("MANWIDTH", "80")
            .env("HOME", boma.path())
            .env_remove("MANPATH")
            .env(env.0, env.1)
            .output()
            .unwrap_or_else(|error| panic!("man: {error}"));
        assert!(
            output.status.success(),
            "man {args:?}: {}",
            String::from_utf8_lossy(&output.stderr)
        );
        String::from_utf8_lossy(&output.stdout).into_owned()
    };
    assert_eq!(
        man(&["-w", "boma-dns-up"], ("PATH", &path)).trim(),
        pages.join("boma-dns-up.1").to_string_lossy()
    );
    let page = man(&["boma-caddy-push"], ("PATH", &path));
    assert!(page.contains("boma [global options] caddy-push"), "{page}");
    let page = man(&["boma"], ("MANPATH", &manpath));
    assert!(page.contains("boma-dns-up(1)"), "{page}");
}
