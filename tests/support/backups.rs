//! Real backup repositories for the checks: borg (archives at chosen times), borgmatic configs,
//! restic (snapshots at chosen times), and SQLite files healthy or broken in each known way.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use super::require;

pub const BORG_PASSPHRASE: &str = "borg-pa55phrase-for-tests";
pub const RESTIC_PASSWORD: &str = "restic-pa55word-for-tests";

/// borg, borgmatic, restic and sqlite3, or `None` (a skip; a failure in CI).
pub fn tools() -> Option<()> {
    require("borg")?;
    require("borgmatic")?;
    require("restic")?;
    require("sqlite3")?;
    Some(())
}

fn run(program: &str, args: &[&str], env: &[(&str, &str)], dir: &Path) {
    let output = Command::new(program)
        .args(args)
        .envs(env.iter().copied())
        .env("TZ", "UTC")
        .env("BORG_BASE_DIR", dir.join(".borg-home"))
        .env("RESTIC_CACHE_DIR", dir.join(".restic-cache"))
        .current_dir(dir)
        .stdin(Stdio::null())
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e}"));
    assert!(
        output.status.success(),
        "{program} {args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// A borg repository at `dir/NAME` (repokey) with archives `(name, UTC time or None for now)`.
pub fn borg_repo(dir: &Path, name: &str, archives: &[(&str, Option<&str>)]) -> PathBuf {
    let repo = dir.join(name);
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(data.join("file"), "backed up").unwrap_or_else(|e| panic!("{e}"));
    let env = [("BORG_PASSPHRASE", BORG_PASSPHRASE)];
    let repo_text = repo.display().to_string();
    run(
        "borg",
        &["init", "--encryption", "repokey", &repo_text],
        &env,
        dir,
    );
    for (archive, time) in archives {
        let target = format!("{repo_text}::{archive}");
        match time {
            Some(time) => run(
                "borg",
                &["create", "--timestamp", time, &target, "data"],
                &env,
                dir,
            ),
            None => run("borg", &["create", &target, "data"], &env, dir),
        }
    }
    repo
}

/// A restic repository at `dir/NAME` with snapshots `(tag, local time "YYYY-MM-DD HH:MM:SS" or
/// None for now)`.
pub fn restic_repo(dir: &Path, name: &str, snapshots: &[(&str, Option<&str>)]) -> PathBuf {
    let repo = dir.join(name);
    let data = dir.join("data");
    std::fs::create_dir_all(&data).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(data.join("file"), "backed up").unwrap_or_else(|e| panic!("{e}"));
    let repo_text = repo.display().to_string();
    let env = [
        ("RESTIC_REPOSITORY", repo_text.as_str()),
        ("RESTIC_PASSWORD", RESTIC_PASSWORD),
    ];
    run("restic", &["init", "--quiet"], &env, dir);
    for (tag, time) in snapshots {
        let mut args = vec!["backup", "--quiet", "--tag", tag];
        if let Some(time) = time {
            args.extend(["--time", time]);
        }
        args.push("data");
        run("restic", &args, &env, dir);
    }
    repo
}

/// A borgmatic 1.7 config that lists `repo` (its passphrase in the config, as borgmatic users
/// keep it).
pub fn borgmatic_config(dir: &Path, repo: &Path) -> PathBuf {
    let config = dir.join("borgmatic.yaml");
    std::fs::write(
        &config,
        format!(
            "location:\n    source_directories:\n        - {data}\n    repositories:\n        - {repo}\n\
             storage:\n    encryption_passphrase: \"{BORG_PASSPHRASE}\"\n",
            data = dir.join("data").display(),
            repo = repo.display()
        ),
    )
    .unwrap_or_else(|e| panic!("{e}"));
    config
}

/// SQLite files: `healthy`, `truncated`, `random`, `empty` (zero bytes) and `flipped` (one byte
/// of a row changed: integrity_check sees it, quick_check would not).
pub fn databases(dir: &Path) -> PathBuf {
    let folder = dir.join("db");
    std::fs::create_dir_all(&folder).unwrap_or_else(|e| panic!("{e}"));
    let make = |name: &str| {
        let path = folder.join(name);
        let script = "PRAGMA journal_mode=DELETE; CREATE TABLE guests(id INTEGER PRIMARY KEY, name TEXT UNIQUE);\
                      WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i+1 FROM n WHERE i < 400)\
                      INSERT INTO guests(name) SELECT 'guest-number-' || i FROM n;";
        let status = Command::new("sqlite3")
            .arg(&path)
            .arg(script)
            .stdout(Stdio::null())
            .status()
            .unwrap_or_else(|e| panic!("{e}"));
        assert!(status.success());
        path
    };
    make("healthy.sqlite3");
    let truncated = make("truncated.sqlite3");
    let bytes = std::fs::read(&truncated).unwrap_or_default();
    std::fs::write(&truncated, &bytes[..bytes.len() / 3]).unwrap_or_else(|e| panic!("{e}"));
    let random: Vec<u8> = (0..8192u32)
        .map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8)
        .collect();
    std::fs::write(folder.join("random.sqlite3"), random).unwrap_or_else(|e| panic!("{e}"));
    std::fs::write(folder.join("empty.sqlite3"), "").unwrap_or_else(|e| panic!("{e}"));
    let flipped = make("flipped.sqlite3");
    let mut bytes = std::fs::read(&flipped).unwrap_or_default();
    let needle = b"guest-number-200";
    let at = bytes
        .windows(needle.len())
        .position(|window| window == needle)
        .unwrap_or_else(|| panic!("row not found"));
    bytes[at + needle.len() - 1] = b'9'; // "guest-number-209": the index still says ...200
    std::fs::write(&flipped, bytes).unwrap_or_else(|e| panic!("{e}"));
    folder
}
