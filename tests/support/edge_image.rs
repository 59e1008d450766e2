//! Builds and runs container images locally for the edge-image tests: a buildah/podman store of
//! the test run, the Debian base image (made by mmdebstrap, its tar cached under the target
//! folder), the Tailscale stand-in image, `buildah build`, and a running container.
//!
//! `podman run` cannot start containers on these machines (facts.md, "Running built images
//! here"); `buildah run --isolation chroot` can, with these differences from a real runtime:
//! - no PID namespace: the container's processes are host processes (the test reads their
//!   `/proc`), and `/proc` inside is the host's, so a process inside sees every host process;
//! - host network: a server inside listening on 127.0.0.1:PORT is reached from the test at once;
//! - `/dev` is the host's devtmpfs mounted read-only, `/dev/shm` the host's;
//! - root, with a reduced capability set (no `CAP_NET_ADMIN` or `CAP_NET_RAW`: iptables cannot
//!   work inside, and must not: the network is the host's); open files limited to 1024;
//! - a UTS namespace of its own: the host name is the container's id;
//! - `/run` and `/tmp` are plain folders of the container (what is written there is still there at
//!   the next start of the same working container);
//! - `ENTRYPOINT` and `CMD` are not applied: the command is always given;
//! - a SIGTERM to `buildah run` itself makes it SIGKILL the container's main process at once
//!   (no trap runs) and leaves that process's children running; when the main process ends, its
//!   children also live on (nothing kills a PID namespace). [`Container::stop`] therefore signals
//!   the container's own processes, and kills whatever is left of them afterwards.

use std::collections::HashMap;
use std::fs::File;
use std::io::{Read as _, Write as _};
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use super::{repo_file, require};

/// The Debian base of the edge images, made from Debian's own packages.
pub const BASE_IMAGE: &str = "localhost/edge-base:bookworm";
/// The Debian release of [`BASE_IMAGE`].
pub const BASE_SUITE: &str = "bookworm";
/// The packages `mmdebstrap --variant=apt` adds to [`BASE_IMAGE`].
pub const BASE_PACKAGES: &[&str] = &[
    "nginx-light",
    "fail2ban",
    "bind9-dnsutils",
    "ca-certificates",
    "iptables",
];
/// The image holding the Tailscale stand-ins at `/usr/local/bin/tailscaled` and `tailscale`.
pub const STANDIN_IMAGE: &str = "localhost/tailscale-standin:test";

/// How long a `buildah build` may take.
pub const BUILD_LIMIT: Duration = Duration::from_secs(300);
/// How long making the base tar may take (22 to 50 s here for a 270 MB tar).
const MMDEBSTRAP_LIMIT: Duration = Duration::from_secs(900);
/// How long `podman import`, `buildah from` or `buildah rm` may take.
const STORE_COMMAND_LIMIT: Duration = Duration::from_secs(300);
/// How long [`Container::start`] waits for the container's first process.
const START_LIMIT: Duration = Duration::from_secs(30);
/// How long [`Container::stop`] waits after SIGTERM before it kills.
const STOP_LIMIT: Duration = Duration::from_secs(10);

/// The names of [`Container`]s start with it; the containers a build leaves never do.
const CONTAINER_PREFIX: &str = "edge-test-";
/// Where the command line of a container started with secret environment variables finds them.
const SECRETS_GUEST: &str = "/run/edge-harness-secrets";
/// Exports each file of [`SECRETS_GUEST`] as a variable named after it, then runs the command:
/// the values are read from files, never written on a command line (`$(cat ...; printf x)` keeps
/// trailing newlines).
const SECRETS_WRAPPER: &str = "for file in /run/edge-harness-secrets/*; do \
     [ -f \"$file\" ] || continue; value=$(cat \"$file\"; printf x); \
     export \"${file##*/}=${value%x}\"; done; exec \"$@\"";

/// Where the stores' `--runroot` folders are: short, for podman.
pub const RUNROOTS: &str = "/tmp/boma-edge-image";

/// The target folder's `edge-image/`: the base tar cache and the stores of test runs.
pub fn cache_dir() -> PathBuf {
    // CARGO_TARGET_TMPDIR is `<target>/tmp`, also when CARGO_TARGET_DIR moves the target folder.
    let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .parent()
        .map(Path::to_path_buf)
        .unwrap_or_else(|| repo_file("target"));
    target.join("edge-image")
}

/// A buildah/podman storage root of its own (`--root`, `--runroot`), shared by the edge-image
/// tests of one test run, under `target/edge-image/stores/PID-START/` (its runroot under
/// [`RUNROOTS`]).
///
/// The overlay driver with `overlay.skip_mount_home=true`: without that option the store's
/// `overlay` folder stays bind-mounted on itself on the host (and working containers' `merged`
/// with it), so `cargo clean` would fail with "Device or resource busy"; with it nothing stays
/// mounted on the host once `buildah run` has ended or `buildah rm` has removed a container (a
/// running container's `merged` is mounted while it runs). vfs mounts nothing either but copies
/// the whole base image for each build and each `buildah from`: about 15 s against 0.7 s for a
/// build here with other tests running.
///
/// The base image is not imported into it: it lives in a store of its own that persists between
/// runs, `target/edge-image/base-KEY/`, which every run's store reads as an additional, read-only
/// image store (`--storage-opt overlay.imagestore=DIR`), so a run starts without the 10 s import.
///
/// The store of a finished test run is removed by the next run that opens one, after `buildah rm
/// --all` and unmounting what a killed run left mounted in it.
#[derive(Clone, Debug)]
pub struct Store {
    /// `--root`: images, layers and working containers.
    pub root: PathBuf,
    /// `--runroot`: locks and run state, under [`RUNROOTS`] (podman refuses a runroot path longer
    /// than 50 characters: "the specified runroot is longer than 50 characters").
    pub runroot: PathBuf,
    /// `TMPDIR` of every buildah and podman call: `buildah run` keeps its bundle there (a run
    /// killed with SIGKILL leaves it behind), so nothing lands in /var/tmp.
    pub tmp: PathBuf,
    /// The read-only image store it also reads images from (the base image's store).
    pub image_store: Option<PathBuf>,
}

impl Store {
    /// The store of this test run, made on first use. `None` (a skip) without buildah or podman
    /// on a laptop; a panic when CI is set.
    pub fn shared() -> Option<&'static Store> {
        require("buildah")?;
        require("podman")?;
        static STORE: OnceLock<Store> = OnceLock::new();
        Some(STORE.get_or_init(|| {
            remove_stale_stores();
            let me = std::process::id();
            let store = Store::named(&format!("{me}-{}", start_time(me).unwrap_or(0)));
            for folder in [&store.root, &store.runroot, &store.tmp] {
                std::fs::create_dir_all(folder)
                    .unwrap_or_else(|e| panic!("mkdir {}: {e}", folder.display()));
            }
            store
        }))
    }

    fn named(name: &str) -> Store {
        let stores = cache_dir().join("stores");
        let images = base_folder().join("root");
        std::fs::create_dir_all(&images)
            .unwrap_or_else(|e| panic!("mkdir {}: {e}", images.display()));
        Store {
            root: stores.join(name).join("root"),
            runroot: Path::new(RUNROOTS).join(name),
            tmp: stores.join(name).join("tmp"),
            image_store: Some(images),
        }
    }

    /// The persistent store holding [`BASE_IMAGE`] alone, `target/edge-image/base-KEY/` (KEY: see
    /// [`base_image`]); written only by [`base_image`], under the base lock, with a runroot of
    /// its own for that time.
    fn base(runroot: &Path) -> Store {
        let folder = base_folder();
        Store {
            root: folder.join("root"),
            runroot: runroot.to_path_buf(),
            tmp: folder.join("tmp"),
            image_store: None,
        }
    }

    /// `buildah --root R --runroot RR --storage-driver overlay --storage-opt ...` (no subcommand
    /// yet), with `TMPDIR` set.
    pub fn buildah(&self) -> Command {
        self.tool("buildah")
    }

    /// `podman --root R --runroot RR --storage-driver overlay --storage-opt ...` (no subcommand
    /// yet), with `TMPDIR` set.
    pub fn podman(&self) -> Command {
        self.tool("podman")
    }

    fn tool(&self, program: &str) -> Command {
        let mut command = Command::new(program);
        command
            .arg("--root")
            .arg(&self.root)
            .arg("--runroot")
            .arg(&self.runroot)
            .args(["--storage-driver", "overlay"])
            .args(["--storage-opt", "overlay.skip_mount_home=true"]);
        if let Some(image_store) = &self.image_store {
            command
                .arg("--storage-opt")
                .arg(format!("overlay.imagestore={}", image_store.display()));
        }
        command.env("TMPDIR", &self.tmp).stdin(Stdio::null());
        command
    }

    /// Whether the store holds an image of that name.
    pub fn has_image(&self, name: &str) -> bool {
        let mut command = self.podman();
        command.args(["image", "exists", name]);
        run_bounded(&mut command, STORE_COMMAND_LIMIT, "podman image exists")
            .status
            .success()
    }
}

/// Removes the stores of test runs that have ended (their process is gone): their containers
/// (`buildah rm --all`), what is still mounted in them, their folders. A store in which a process
/// still runs (a container of a killed run) is kept.
fn remove_stale_stores() {
    let stores = cache_dir().join("stores");
    let mut names: Vec<String> = [stores.as_path(), Path::new(RUNROOTS)]
        .iter()
        .flat_map(|dir| std::fs::read_dir(dir).into_iter().flatten().flatten())
        .map(|entry| entry.file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names.dedup();
    let roots = process_roots();
    for name in names {
        let Some((pid, started)) = name.split_once('-') else {
            continue;
        };
        let (Ok(pid), Ok(started)) = (pid.parse::<u32>(), started.parse::<u64>()) else {
            continue;
        };
        if start_time(pid) == Some(started) {
            continue;
        }
        let store = Store::named(&name);
        let folder = stores.join(&name);
        if roots.iter().any(|root| root.starts_with(&folder)) {
            eprintln!(
                "edge-image: keeping {}: a process still runs in it",
                folder.display()
            );
            continue;
        }
        if store.root.exists() {
            let _ = std::fs::create_dir_all(&store.runroot);
            let _ = std::fs::create_dir_all(&store.tmp);
            let mut remove = store.buildah();
            remove.args(["rm", "--all"]);
            run_bounded(&mut remove, STORE_COMMAND_LIMIT, "buildah rm --all");
        }
        for mount in mounts_below(&folder).iter().rev() {
            let _ = Command::new("umount").arg(mount).status();
        }
        if !mounts_below(&folder).is_empty() {
            eprintln!("edge-image: keeping {}: still mounted", folder.display());
            continue;
        }
        for path in [&folder, &store.runroot] {
            if let Err(error) = std::fs::remove_dir_all(path)
                && error.kind() != std::io::ErrorKind::NotFound
            {
                eprintln!("edge-image: cannot remove {}: {error}", path.display());
            }
        }
    }
}

/// The mount points at or below `folder`, in the order they were mounted.
fn mounts_below(folder: &Path) -> Vec<PathBuf> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap_or_default()
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|point| {
            PathBuf::from(
                point
                    .replace("\\040", " ")
                    .replace("\\011", "\t")
                    .replace("\\012", "\n")
                    .replace("\\134", "\\"),
            )
        })
        .filter(|point| point.starts_with(folder))
        .collect()
}

/// The root folder of every process that has one other than `/`.
fn process_roots() -> Vec<PathBuf> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| std::fs::read_link(entry.path().join("root")).ok())
        .filter(|root| root != Path::new("/"))
        .collect()
}

/// A process's start time (clock ticks after boot): with its pid, it names one process for ever.
fn start_time(pid: u32) -> Option<u64> {
    stat(pid).map(|stat| stat.start_time)
}

struct Stat {
    ppid: u32,
    start_time: u64,
}

/// Fields of `/proc/PID/stat`, read after the command name (which may hold spaces and parens).
fn stat(pid: u32) -> Option<Stat> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let (_, rest) = text.rsplit_once(')')?;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the name: state (field 3), ppid (4), ..., starttime (22).
    Some(Stat {
        ppid: fields.get(1)?.parse().ok()?,
        start_time: fields.get(19)?.parse().ok()?,
    })
}

/// The Debian base [`BASE_IMAGE`], readable in `store` (through its read-only image store);
/// made on first use, then kept between test runs. `None` (a skip) without mmdebstrap when it must
/// be made, on a laptop; a panic when CI is set.
///
/// Made in two steps, each kept under `target/edge-image/`: the tar
/// `edge-base-bookworm-KEY.tar` (`mmdebstrap --variant=apt --include=PACKAGES bookworm`, about
/// 25 s), then `podman import` of it into the base store `base-KEY/` (about 10 s). KEY is a hash of
/// the suite, variant and package list: a changed list makes a new tar and store. Both are made
/// under a file lock (`base.lock`), the tar into a temp file then renamed, the store marked
/// complete (`base-KEY/complete`) only after its import, so tests or test runs asking at once
/// make them once, and a killed run leaves nothing half made in use. Neither is refreshed when
/// Debian updates a package: delete `target/edge-image/` to get the updates.
pub fn base_image(store: &Store) -> Option<&'static str> {
    static IMPORT: Mutex<()> = Mutex::new(());
    let _one_at_a_time = IMPORT.lock().unwrap_or_else(|e| e.into_inner());
    if store.has_image(BASE_IMAGE) {
        return Some(BASE_IMAGE);
    }
    let dir = cache_dir();
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| panic!("mkdir {}: {e}", dir.display()));
    let lock = File::create(dir.join("base.lock"))
        .unwrap_or_else(|e| panic!("cannot create the base image's lock file: {e}"));
    lock.lock()
        .unwrap_or_else(|e| panic!("cannot lock the base image's lock file: {e}"));
    let complete = base_folder().join("complete");
    if !complete.exists() {
        let tar = base_tar(&dir)?;
        // What a killed run left half imported.
        let _ = std::fs::remove_dir_all(base_folder());
        // Short (podman's limit) and its own: a runroot serves one store.
        let runroot = tempfile::Builder::new()
            .prefix("boma-edge-base")
            .tempdir_in("/tmp")
            .unwrap_or_else(|e| panic!("{e}"));
        let base = Store::base(runroot.path());
        for folder in [&base.root, &base.runroot, &base.tmp] {
            std::fs::create_dir_all(folder)
                .unwrap_or_else(|e| panic!("mkdir {}: {e}", folder.display()));
        }
        let started = Instant::now();
        let mut import = base.podman();
        import.arg("import").arg(&tar).arg(BASE_IMAGE);
        run_bounded(&mut import, STORE_COMMAND_LIMIT, "podman import").success("podman import");
        std::fs::write(&complete, "")
            .unwrap_or_else(|e| panic!("write {}: {e}", complete.display()));
        eprintln!(
            "edge-image: imported {BASE_IMAGE} into {} in {:.1}s",
            base.root.display(),
            started.elapsed().as_secs_f64()
        );
    }
    assert!(
        store.has_image(BASE_IMAGE),
        "{BASE_IMAGE} is in {} but the store does not see it",
        base_folder().display()
    );
    Some(BASE_IMAGE)
}

/// `target/edge-image/base-KEY/`: the base store (`root/`, `tmp/`) and its `complete` mark.
fn base_folder() -> PathBuf {
    cache_dir().join(format!("base-{}", base_key()))
}

/// What the base image is made with.
fn base_recipe() -> String {
    format!(
        "mmdebstrap --variant=apt --include={} {BASE_SUITE}",
        BASE_PACKAGES.join(",")
    )
}

/// The key of the base tar and store: a hash of [`base_recipe`].
fn base_key() -> String {
    use sha2::Digest as _;
    hex::encode(&sha2::Sha256::digest(base_recipe().as_bytes())[..8])
}

/// The cached base tar in `dir`, made with mmdebstrap when missing (the caller holds the lock).
fn base_tar(dir: &Path) -> Option<PathBuf> {
    let key = base_key();
    let tar = dir.join(format!("edge-base-{BASE_SUITE}-{key}.tar"));
    if tar.exists() {
        return Some(tar);
    }
    let mmdebstrap = require("mmdebstrap")?;
    // What a killed run was making (every maker holds the lock).
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        if entry.file_name().to_string_lossy().contains(".partial-") {
            let _ = std::fs::remove_file(entry.path());
        }
    }
    let partial = dir.join(format!(
        "edge-base-{BASE_SUITE}-{key}.partial-{}.tar",
        std::process::id()
    ));
    let started = Instant::now();
    let mut command = Command::new(mmdebstrap);
    command
        .args(["--variant=apt", "--format=tar"])
        .arg(format!("--include={}", BASE_PACKAGES.join(",")))
        .arg(BASE_SUITE)
        .arg(&partial)
        .stdin(Stdio::null());
    let run = run_bounded(&mut command, MMDEBSTRAP_LIMIT, "mmdebstrap");
    if !run.status.success() {
        let _ = std::fs::remove_file(&partial);
    }
    run.success(&base_recipe());
    std::fs::rename(&partial, &tar).unwrap_or_else(|e| panic!("rename to {}: {e}", tar.display()));
    eprintln!(
        "edge-image: made {} in {:.1}s",
        tar.display(),
        started.elapsed().as_secs_f64()
    );
    Some(tar)
}

/// [`STANDIN_IMAGE`] in `store` (`FROM scratch`, COPY only), built once per store from
/// `tests/fixtures/tailscale-standin/`. Returns its name.
pub fn standin_tailscale_image(store: &Store) -> &'static str {
    static BUILT: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());
    let mut built = BUILT.lock().unwrap_or_else(|e| e.into_inner());
    if built.contains(&store.root) {
        return STANDIN_IMAGE;
    }
    let context = tempfile::tempdir().unwrap_or_else(|e| panic!("{e}"));
    for name in ["tailscaled", "tailscale"] {
        let target = context.path().join(name);
        std::fs::copy(
            repo_file("tests/fixtures/tailscale-standin").join(name),
            &target,
        )
        .unwrap_or_else(|e| panic!("copy the {name} stand-in: {e}"));
        // Executable whatever mode the checkout gave the fixture.
        use std::os::unix::fs::PermissionsExt as _;
        std::fs::set_permissions(&target, std::fs::Permissions::from_mode(0o755))
            .unwrap_or_else(|e| panic!("chmod {}: {e}", target.display()));
    }
    std::fs::write(
        context.path().join("Containerfile"),
        "FROM scratch\nCOPY tailscaled tailscale /usr/local/bin/\n",
    )
    .unwrap_or_else(|e| panic!("{e}"));
    build(store, context.path(), &[], STANDIN_IMAGE);
    built.push(store.root.clone());
    STANDIN_IMAGE
}

/// `buildah build --isolation chroot --build-arg K=V ... -f CONTEXT/Containerfile -t TAG CONTEXT`
/// in `store`, within [`BUILD_LIMIT`]; panics with the build's output when it fails. Returns the
/// image id.
///
/// Builds run one at a time: buildah 1.28 leaves the working container of a stage that has no
/// instruction of its own (`FROM image AS name`, used only by `COPY --from=name`) behind, mounted
/// (containers/buildah#4572, fixed in 1.30), so each build removes the containers it added.
pub fn build(store: &Store, context: &Path, build_args: &[(&str, &str)], tag: &str) -> String {
    static BUILDS: Mutex<()> = Mutex::new(());
    let _one_at_a_time = BUILDS.lock().unwrap_or_else(|e| e.into_inner());
    let before = container_names(store);
    let iidfile = tempfile::NamedTempFile::new().unwrap_or_else(|e| panic!("{e}"));
    let mut command = store.buildah();
    command.args(["build", "--isolation", "chroot"]);
    for (name, value) in build_args {
        command.arg("--build-arg").arg(format!("{name}={value}"));
    }
    command
        .arg("--iidfile")
        .arg(iidfile.path())
        .arg("-f")
        .arg(context.join("Containerfile"))
        .args(["-t", tag])
        .arg(context);
    let built = run_bounded(&mut command, BUILD_LIMIT, "buildah build");
    let left: Vec<String> = container_names(store)
        .into_iter()
        .filter(|name| !before.contains(name) && !name.starts_with(CONTAINER_PREFIX))
        .collect();
    if !left.is_empty() {
        let mut remove = store.buildah();
        remove.arg("rm").args(&left);
        run_bounded(&mut remove, STORE_COMMAND_LIMIT, "buildah rm")
            .success("removing the containers a build left");
    }
    built.success(&format!("buildah build {tag}"));
    let id = std::fs::read_to_string(iidfile.path()).unwrap_or_default();
    let id = id.trim();
    assert!(!id.is_empty(), "buildah build {tag} wrote no image id");
    id.trim_start_matches("sha256:").to_string()
}

/// The names of the store's containers, buildah's and podman's.
fn container_names(store: &Store) -> Vec<String> {
    let mut list = store.buildah();
    list.args(["containers", "--all", "--format", "{{.ContainerName}}"]);
    let listed = run_bounded(&mut list, STORE_COMMAND_LIMIT, "buildah containers");
    listed.success("buildah containers");
    listed.stdout.lines().map(str::to_string).collect()
}

/// What a bounded command did.
pub struct Finished {
    pub status: ExitStatus,
    pub stdout: String,
    pub stderr: String,
    pub took: Duration,
}

impl Finished {
    /// Panics with the whole output unless the command succeeded.
    #[track_caller]
    pub fn success(&self, what: &str) -> &Self {
        assert!(
            self.status.success(),
            "{what} failed ({}) after {:.1}s\n--- stdout\n{}\n--- stderr\n{}",
            self.status,
            self.took.as_secs_f64(),
            self.stdout,
            self.stderr
        );
        self
    }
}

/// Runs `command` in its own process group, its output in temp files (no pipe can fill up); past
/// `limit` the group is killed and the test fails with the output so far.
#[track_caller]
pub fn run_bounded(command: &mut Command, limit: Duration, what: &str) -> Finished {
    let stdout = tempfile::tempfile().unwrap_or_else(|e| panic!("{e}"));
    let stderr = tempfile::tempfile().unwrap_or_else(|e| panic!("{e}"));
    let started = Instant::now();
    let mut child = command
        .stdout(stdout.try_clone().unwrap_or_else(|e| panic!("{e}")))
        .stderr(stderr.try_clone().unwrap_or_else(|e| panic!("{e}")))
        .process_group(0)
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start {what}: {e}"));
    let status = loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            break Some(status);
        }
        if started.elapsed() > limit {
            signal_group(child.id(), "KILL");
            let _ = child.wait();
            break None;
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let read = |mut file: File| {
        use std::io::Seek as _;
        let mut bytes = Vec::new();
        let _ = file.seek(std::io::SeekFrom::Start(0));
        let _ = file.read_to_end(&mut bytes);
        String::from_utf8_lossy(&bytes).into_owned()
    };
    let (stdout, stderr) = (read(stdout), read(stderr));
    let Some(status) = status else {
        panic!("{what} did not end within {limit:?}\n--- stdout\n{stdout}\n--- stderr\n{stderr}");
    };
    Finished {
        status,
        stdout,
        stderr,
        took: started.elapsed(),
    }
}

/// `kill -s SIGNAL -- -PGID`: a process group this harness started (its leader's pid).
fn signal_group(leader: u32, signal: &str) {
    let _ = Command::new("kill")
        .args(["-s", signal, "--", &format!("-{leader}")])
        .stderr(Stdio::null())
        .status();
}

/// `kill -s SIGNAL PID...`: processes of a container this harness started.
fn signal_pids(pids: &[u32], signal: &str) {
    if pids.is_empty() {
        return;
    }
    let _ = Command::new("kill")
        .args(["-s", signal, "--"])
        .args(pids.iter().map(u32::to_string))
        .stderr(Stdio::null())
        .status();
}

/// A process running inside a [`Container`].
#[derive(Clone, Debug)]
pub struct Process {
    pub pid: u32,
    /// The command line: its NUL-separated arguments joined by spaces.
    pub command: String,
    /// The environment it was started with (`/proc/PID/environ`: later changes do not show).
    pub environment: Vec<(String, String)>,
}

impl Process {
    /// The value of `name` in the environment it was started with.
    pub fn env(&self, name: &str) -> Option<&str> {
        self.environment
            .iter()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }
}

/// A working container (`buildah from`) whose command runs with `buildah run --isolation chroot`,
/// started and stopped as often as a test needs (what it wrote, in its own files or in mounted
/// folders, stays between runs); removed (`buildah rm`) on drop, after stopping it.
///
/// Built with [`Container::create`] and the `volume`, `env`, `secret_env` and `command` methods,
/// then [`Container::start`]. The output of each run is captured to files in the container's own
/// temp folder ([`Container::stdout`], [`Container::stderr`]).
pub struct Container {
    store: Store,
    name: String,
    dir: tempfile::TempDir,
    volumes: Vec<(PathBuf, String)>,
    env: Vec<(String, String)>,
    secrets: Vec<(String, String)>,
    command: Vec<String>,
    runs: usize,
    running: Option<Running>,
    last_status: Option<ExitStatus>,
}

/// One `buildah run` of a container.
struct Running {
    buildah: Child,
    /// The root folder of the container's processes in this run, as `/proc/PID/root` shows it
    /// (`TMPDIR/buildahNNN/mnt/rootfs`): it tells them from every other process, also those that
    /// left the process group or lost their parent.
    rootfs: PathBuf,
    /// buildah run's exit status, once it ended.
    ended: Option<ExitStatus>,
}

impl Container {
    /// `buildah from IMAGE` in `store`, under a name of its own.
    pub fn create(store: &Store, image: &str) -> Container {
        static COUNT: AtomicUsize = AtomicUsize::new(0);
        let name = format!(
            "{CONTAINER_PREFIX}{}-{}",
            std::process::id(),
            COUNT.fetch_add(1, Ordering::Relaxed)
        );
        let mut from = store.buildah();
        from.args(["from", "--pull=never", "--name", &name, image]);
        run_bounded(&mut from, STORE_COMMAND_LIMIT, "buildah from")
            .success(&format!("buildah from {image}"));
        let dir = tempfile::Builder::new()
            .prefix("edge-container")
            .tempdir()
            .unwrap_or_else(|e| panic!("{e}"));
        Container {
            store: store.clone(),
            name,
            dir,
            volumes: Vec::new(),
            env: Vec::new(),
            secrets: Vec::new(),
            command: Vec::new(),
            runs: 0,
            running: None,
            last_status: None,
        }
    }

    /// The working container's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Mounts the host folder (or file) `host` at `guest` (`-v HOST:GUEST`; `guest` may end in
    /// `:ro`). A missing `guest` folder is made in the container.
    pub fn volume(mut self, host: &Path, guest: &str) -> Self {
        self.volumes.push((host.to_path_buf(), guest.to_string()));
        self
    }

    /// An environment variable of the command (`--env NAME=VALUE`: the value is on buildah's
    /// command line, so never a secret).
    pub fn env(mut self, name: &str, value: &str) -> Self {
        self.env.push((name.to_string(), value.to_string()));
        self
    }

    /// An environment variable whose value appears on no command line.
    ///
    /// buildah 1.28 offers no safe way: `buildah run --env NAME=VALUE` puts it on buildah's
    /// command line and in the run's `config.json` on disk (left behind if buildah is killed);
    /// `--env NAME` without a value does not take it from buildah's own environment (the variable
    /// is simply not set); `buildah config --env` puts it on a (short-lived) command line and
    /// stores it in the working container's `buildah.json` (and in any image committed from it).
    /// So the value goes into a file (mode 0600, in this container's private temp folder) mounted
    /// read-only at `/run/edge-harness-secrets/NAME`, and the command runs through
    /// `/bin/sh -c 'export NAME="$(cat FILE)"...; exec "$@"' COMMAND...`: the command starts with
    /// the variable in its environment, as on Fly, and `sh`'s arguments hold only file names. The
    /// image needs `/bin/sh` and `cat`; the mounted file stays readable inside while it runs.
    pub fn secret_env(mut self, name: &str, value: &str) -> Self {
        self.secrets.push((name.to_string(), value.to_string()));
        self
    }

    /// The command and its arguments (the image's entrypoint path is given explicitly: buildah run
    /// does not apply ENTRYPOINT or CMD).
    pub fn command<I, S>(mut self, argv: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.command = argv.into_iter().map(Into::into).collect();
        self
    }

    /// Starts the command (again, after [`Container::stop`]) with `buildah run --isolation chroot`
    /// in a process group of its own, and waits until its first process runs inside.
    #[track_caller]
    pub fn start(&mut self) {
        assert!(self.running.is_none(), "{} is already running", self.name);
        assert!(!self.command.is_empty(), "{}: no command given", self.name);
        self.runs += 1;
        let mut command = self.store.buildah();
        command.args(["run", "--isolation", "chroot"]);
        for (host, guest) in &self.volumes {
            command.arg("-v").arg(format!("{}:{guest}", host.display()));
        }
        for (name, value) in &self.env {
            command.arg("--env").arg(format!("{name}={value}"));
        }
        if !self.secrets.is_empty() {
            let folder = self.write_secrets();
            command
                .arg("-v")
                .arg(format!("{}:{SECRETS_GUEST}:ro", folder.display()));
        }
        command.arg(&self.name).arg("--");
        if !self.secrets.is_empty() {
            command.args(["/bin/sh", "-c", SECRETS_WRAPPER, "edge-harness-secrets"]);
        }
        command.args(&self.command);
        let stdout = File::create(self.stdout_path())
            .unwrap_or_else(|e| panic!("cannot create the output file: {e}"));
        let stderr = File::create(self.stderr_path())
            .unwrap_or_else(|e| panic!("cannot create the output file: {e}"));
        let mut buildah = command
            .stdout(stdout)
            .stderr(stderr)
            .process_group(0)
            .spawn()
            .unwrap_or_else(|e| panic!("cannot start buildah run: {e}"));
        let started = Instant::now();
        let rootfs = loop {
            if let Some(rootfs) = rootfs_below(buildah.id()) {
                break rootfs;
            }
            if let Some(status) = buildah.try_wait().ok().flatten() {
                self.last_status = Some(status);
                panic!(
                    "{} ended ({status}) before anything ran inside\n{}",
                    self.name,
                    self.output()
                );
            }
            if started.elapsed() > START_LIMIT {
                signal_group(buildah.id(), "KILL");
                let _ = buildah.wait();
                panic!(
                    "{}: nothing ran inside within {START_LIMIT:?}\n{}",
                    self.name,
                    self.output()
                );
            }
            std::thread::sleep(Duration::from_millis(10));
        };
        self.running = Some(Running {
            buildah,
            rootfs,
            ended: None,
        });
    }

    /// Writes each secret to a file of its own in a private folder (made again for every start).
    fn write_secrets(&self) -> PathBuf {
        use std::os::unix::fs::{DirBuilderExt as _, OpenOptionsExt as _};
        let folder = self.dir.path().join("secrets");
        let _ = std::fs::remove_dir_all(&folder);
        std::fs::DirBuilder::new()
            .mode(0o700)
            .create(&folder)
            .unwrap_or_else(|e| panic!("mkdir {}: {e}", folder.display()));
        for (name, value) in &self.secrets {
            let mut file = std::fs::OpenOptions::new()
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(folder.join(name))
                .unwrap_or_else(|e| panic!("cannot write the secret {name}: {e}"));
            file.write_all(value.as_bytes())
                .unwrap_or_else(|e| panic!("cannot write the secret {name}: {e}"));
        }
        folder
    }

    /// Whether the command still runs (buildah run has not ended). Processes its main process
    /// left behind still show in [`Container::processes`] until [`Container::stop`].
    pub fn is_running(&mut self) -> bool {
        let Some(running) = self.running.as_mut() else {
            return false;
        };
        if running.ended.is_none() {
            running.ended = running.buildah.try_wait().ok().flatten();
        }
        running.ended.is_none()
    }

    /// buildah run's exit status if it ended (the latest run's, after [`Container::stop`]).
    pub fn exit_status(&mut self) -> Option<ExitStatus> {
        self.is_running();
        match &self.running {
            Some(running) => running.ended,
            None => self.last_status,
        }
    }

    /// Stops the command: SIGTERM to every process inside, at most [`STOP_LIMIT`] for buildah run
    /// to end, then SIGTERM and, a moment later, SIGKILL to its process group and to every process
    /// still inside; whatever is left inside once buildah ended (children of the main process live
    /// on without a PID namespace) is killed. Returns buildah run's exit status: the main
    /// process's exit code, or 1 when it was killed by a signal (buildah's own way).
    ///
    /// Only processes this container started are signalled: buildah run's process group, and the
    /// processes whose root is this run's root folder.
    pub fn stop(&mut self) -> ExitStatus {
        let Some(mut running) = self.running.take() else {
            return self
                .last_status
                .unwrap_or_else(|| panic!("{} was never started", self.name));
        };
        let leader = running.buildah.id();
        // Not buildah itself: on SIGTERM it SIGKILLs the main process, which then runs no trap.
        signal_pids(&inside(&running.rootfs), "TERM");
        let mut status = match running.ended {
            Some(status) => Some(status),
            None => wait_until_ended(&mut running.buildah, STOP_LIMIT),
        };
        if status.is_none() {
            let left: Vec<String> = self
                .processes_of(&running.rootfs)
                .into_iter()
                .map(|process| format!("{} {}", process.pid, process.command))
                .collect();
            eprintln!(
                "{}: still running {STOP_LIMIT:?} after SIGTERM, killing it; inside: {left:?}",
                self.name
            );
            signal_group(leader, "TERM");
            status = wait_until_ended(&mut running.buildah, Duration::from_secs(2));
        }
        let status = status.unwrap_or_else(|| {
            signal_group(leader, "KILL");
            signal_pids(&inside(&running.rootfs), "KILL");
            running
                .buildah
                .wait()
                .unwrap_or_else(|e| panic!("cannot wait for buildah run: {e}"))
        });
        // Left behind: background processes whose parent ended, processes that left the group.
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            let left = inside(&running.rootfs);
            if left.is_empty() {
                break;
            }
            if Instant::now() > deadline {
                // Not a second panic while a failing test unwinds (that would abort the run).
                if std::thread::panicking() {
                    eprintln!("{}: processes {left:?} survive SIGKILL", self.name);
                    break;
                }
                panic!("{}: processes {left:?} survive SIGKILL", self.name);
            }
            signal_pids(&left, "KILL");
            std::thread::sleep(Duration::from_millis(20));
        }
        remove_bundle(&running.rootfs);
        self.last_status = Some(status);
        status
    }

    /// Every process running inside the container now: the processes below buildah run other than
    /// buildah's own helpers, and any other process with the container's root (one that
    /// daemonized, or that its main process left behind). Empty once stopped.
    pub fn processes(&self) -> Vec<Process> {
        let Some(running) = self.running.as_ref() else {
            return Vec::new();
        };
        self.processes_of(&running.rootfs)
    }

    fn processes_of(&self, rootfs: &Path) -> Vec<Process> {
        inside(rootfs)
            .into_iter()
            .filter_map(|pid| {
                let command = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
                let environ = std::fs::read(format!("/proc/{pid}/environ")).ok()?;
                Some(Process {
                    pid,
                    command: nul_separated(&command).join(" "),
                    environment: nul_separated(&environ)
                        .into_iter()
                        .map(|pair| match pair.split_once('=') {
                            Some((key, value)) => (key.to_string(), value.to_string()),
                            None => (pair, String::new()),
                        })
                        .collect(),
                })
            })
            .collect()
    }

    /// What the latest run printed on stdout so far.
    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.stdout_path()).unwrap_or_default()
    }

    /// What the latest run printed on stderr so far (buildah's own messages included).
    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.stderr_path()).unwrap_or_default()
    }

    /// Both outputs of the latest run, labelled, for failure messages.
    pub fn output(&self) -> String {
        format!(
            "--- {} stdout\n{}\n--- {} stderr\n{}",
            self.name,
            self.stdout(),
            self.name,
            self.stderr()
        )
    }

    fn stdout_path(&self) -> PathBuf {
        self.dir.path().join(format!("run-{}.stdout", self.runs))
    }

    fn stderr_path(&self) -> PathBuf {
        self.dir.path().join(format!("run-{}.stderr", self.runs))
    }

    /// Waits until `condition` (given the container, to read its output) holds, at most `limit`;
    /// fails at once, with the container's output, if the container ends first.
    #[track_caller]
    pub fn wait_until(
        &mut self,
        limit: Duration,
        what: &str,
        mut condition: impl FnMut(&Container) -> bool,
    ) {
        let started = Instant::now();
        loop {
            if condition(self) {
                return;
            }
            if !self.is_running() {
                let status = self.exit_status();
                panic!(
                    "{} ended ({status:?}) before {what}\n{}",
                    self.name,
                    self.output()
                );
            }
            assert!(
                started.elapsed() < limit,
                "not within {limit:?}: {what}\n{}",
                self.output()
            );
            std::thread::sleep(Duration::from_millis(25));
        }
    }

    /// Waits until 127.0.0.1:`port` accepts connections (the container shares the host's
    /// network), at most `limit`.
    #[track_caller]
    pub fn wait_for_port(&mut self, port: u16, limit: Duration) {
        self.wait_until(limit, &format!("127.0.0.1:{port} accepts"), |_| {
            std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()
        });
    }
}

impl Drop for Container {
    fn drop(&mut self) {
        if self.running.is_some() {
            self.stop();
        }
        let mut remove = self.store.buildah();
        remove.args(["rm", &self.name]);
        let removed = run_bounded(&mut remove, STORE_COMMAND_LIMIT, "buildah rm");
        if !removed.status.success() {
            eprintln!("{}: buildah rm failed: {}", self.name, removed.stderr);
        }
    }
}

fn wait_until_ended(child: &mut Child, limit: Duration) -> Option<ExitStatus> {
    let started = Instant::now();
    loop {
        if let Some(status) = child.try_wait().ok().flatten() {
            return Some(status);
        }
        if started.elapsed() > limit {
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The root folder of the first process below `ancestor` that runs inside the container.
fn rootfs_below(ancestor: u32) -> Option<PathBuf> {
    let parents = parents();
    parents
        .keys()
        .filter(|pid| descends_from(**pid, ancestor, &parents))
        .find_map(|pid| container_root(*pid))
}

/// The root folder of a process that runs inside a container: a root other than `/` and an
/// executable from below it. buildah's own helpers fail the second test: `buildah-chroot-exec`
/// (chrooted, running from a memfd) and the short-lived `/usr/bin/buildah` children it chroots into
/// the image's storage folder to look up users.
fn container_root(pid: u32) -> Option<PathBuf> {
    let root = std::fs::read_link(format!("/proc/{pid}/root")).ok()?;
    let exe = std::fs::read_link(format!("/proc/{pid}/exe")).ok()?;
    (root != Path::new("/") && exe.starts_with(&root)).then_some(root)
}

/// Every process's parent.
fn parents() -> HashMap<u32, u32> {
    std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter_map(|pid| Some((pid, stat(pid)?.ppid)))
        .collect()
}

fn descends_from(mut pid: u32, ancestor: u32, parents: &HashMap<u32, u32>) -> bool {
    // Bounded: a pid reused while reading /proc could make a loop.
    for _ in 0..64 {
        match parents.get(&pid) {
            Some(&parent) if parent == ancestor => return true,
            Some(&parent) if parent > 1 => pid = parent,
            _ => return false,
        }
    }
    false
}

/// The processes inside the container whose root folder is `rootfs` (see [`container_root`]).
fn inside(rootfs: &Path) -> Vec<u32> {
    let mut pids: Vec<u32> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|entry| entry.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| container_root(*pid).is_some_and(|root| root == rootfs))
        .collect();
    pids.sort_unstable();
    pids
}

/// Removes the bundle folder (`TMPDIR/buildahNNN`) a killed buildah run leaves behind, once its
/// `mnt/rootfs` shows empty from here (the container's mounts live in buildah's own namespace).
fn remove_bundle(rootfs: &Path) {
    let Some(bundle) = rootfs.parent().and_then(Path::parent) else {
        return;
    };
    let empty = std::fs::read_dir(rootfs).is_ok_and(|mut entries| entries.next().is_none());
    let named = bundle
        .file_name()
        .is_some_and(|name| name.to_string_lossy().starts_with("buildah"));
    if empty && named {
        let _ = std::fs::remove_dir_all(bundle);
    }
}

fn nul_separated(bytes: &[u8]) -> Vec<String> {
    bytes
        .split(|byte| *byte == 0)
        .filter(|part| !part.is_empty())
        .map(|part| String::from_utf8_lossy(part).into_owned())
        .collect()
}

/// Polls every process's command line on the machine (every 5 ms) for any of the needles until
/// stopped: proves a secret was on no command line while something ran.
pub struct CommandLineWatcher {
    stop: Arc<AtomicBool>,
    handle: JoinHandle<(Vec<String>, usize)>,
}

/// Starts a [`CommandLineWatcher`] (it gives up by itself after 10 minutes).
pub fn watch_command_lines(needles: &[&str]) -> CommandLineWatcher {
    let needles: Vec<String> = needles.iter().map(|needle| needle.to_string()).collect();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let handle = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut scans = 0;
        let started = Instant::now();
        while !flag.load(Ordering::Relaxed) && started.elapsed() < Duration::from_secs(600) {
            for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
                let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
                let text = nul_separated(&cmdline).join(" ");
                if needles.iter().any(|needle| text.contains(needle.as_str())) {
                    seen.push(text);
                }
            }
            scans += 1;
            std::thread::sleep(Duration::from_millis(5));
        }
        (seen, scans)
    });
    CommandLineWatcher { stop, handle }
}

impl CommandLineWatcher {
    /// Stops watching: the command lines that held a needle, and how many scans of /proc ran.
    pub fn stop(self) -> (Vec<String>, usize) {
        self.stop.store(true, Ordering::Relaxed);
        self.handle.join().unwrap_or_default()
    }
}

/// Reads a file that a container writes to a mounted folder ("" while it is missing).
pub fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// Sends `GET PATH` to 127.0.0.1:`port` over plain TCP (no proxy from the environment applies)
/// and returns the status code and body.
pub fn http_get(port: u16, path: &str) -> (u16, String) {
    let mut stream = std::net::TcpStream::connect(("127.0.0.1", port))
        .unwrap_or_else(|e| panic!("connect to 127.0.0.1:{port}: {e}"));
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .unwrap_or_else(|e| panic!("{e}"));
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    )
    .unwrap_or_else(|e| panic!("send to 127.0.0.1:{port}: {e}"));
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("read from 127.0.0.1:{port}: {e}"));
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("not an HTTP response: {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_string())
        .unwrap_or_default();
    (status, body)
}
