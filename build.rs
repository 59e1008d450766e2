//! The git commit boma is built from, for `boma --version`: the short sha, `-dirty` when tracked
//! files differ from it, `unknown` outside a git checkout of boma (a copy without `.git`) or
//! without git. A CI build in a clone gets the clone's commit.

use std::path::{Path, PathBuf};
use std::process::Command;

fn main() {
    let dir = PathBuf::from(std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_default());
    let commit = commit(&dir).unwrap_or_else(|| "unknown".to_string());
    println!("cargo:rustc-env=BOMA_COMMIT={commit}");
    println!("cargo:rerun-if-changed=build.rs");
    // Again when HEAD moves or the index changes (a commit, a checkout, `git add`); an edit not
    // yet added shows as `-dirty` from the next of those on. Only files that exist: a missing
    // one would run this on every build.
    let mut watched = vec![
        "HEAD".to_string(),
        "index".to_string(),
        "packed-refs".to_string(),
    ];
    if let Some(branch) = git(&dir, &["symbolic-ref", "-q", "HEAD"]) {
        watched.push(branch);
    }
    for name in watched {
        if let Some(path) = git(&dir, &["rev-parse", "--git-path", &name])
            .map(|path| dir.join(path))
            .filter(|path| path.is_file())
        {
            println!("cargo:rerun-if-changed={}", path.display());
        }
    }
}

/// `abc1234` or `abc1234-dirty`; `None` when `dir` is not in a git checkout that tracks boma (a
/// copy of the source inside some other repository must not take that repository's commit).
fn commit(dir: &Path) -> Option<String> {
    git(dir, &["ls-files", "--error-unmatch", "Cargo.toml"])?;
    let sha = git(dir, &["rev-parse", "--short=7", "HEAD"])?;
    // `--no-optional-locks`: status would otherwise refresh the index, whose change would run
    // this script again on every build.
    let changes = git(
        dir,
        &[
            "--no-optional-locks",
            "status",
            "--porcelain",
            "--untracked-files=no",
        ],
    )?;
    Some(if changes.is_empty() {
        sha
    } else {
        format!("{sha}-dirty")
    })
}

/// Git's trimmed output, `None` when git is missing or fails. `safe.directory`: a CI checkout
/// owned by another user is still read.
fn git(dir: &Path, args: &[&str]) -> Option<String> {
    let output = Command::new("git")
        .args(["-c", "safe.directory=*"])
        .args(args)
        .current_dir(dir)
        .output()
        .ok()?;
    output
        .status
        .success()
        .then(|| String::from_utf8_lossy(&output.stdout).trim().to_string())
}
