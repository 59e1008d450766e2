//! Command-line types: global options and one variant per subcommand.

use std::path::PathBuf;

use crate::stop::LONGEST_WAIT;
use clap::{Args, Parser, Subcommand, ValueEnum};

/// `0.1.0 (commit abc1234)`: the git commit (`-dirty` when the tree had changes, `unknown`
/// outside a git checkout) captured by `build.rs`.
pub const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("BOMA_COMMIT"),
    ")"
);

#[derive(Debug, Parser)]
#[command(
    name = "boma",
    version = VERSION,
    about = "One catalog (services.toml) for DNS, Caddy, the edge proxy, images and backups"
)]
pub struct Cli {
    #[command(flatten)]
    pub global: Global,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Args)]
pub struct Global {
    /// The catalog; a folder means the `services.toml` in it
    #[arg(
        long,
        global = true,
        env = "BOMA_CATALOG",
        default_value = "services.toml",
        value_name = "PATH"
    )]
    pub catalog: PathBuf,
    /// Templates that override the built-in ones [default: `templates/` beside the catalog, when present]
    #[arg(long, global = true, value_name = "DIR")]
    pub templates: Option<PathBuf>,
    /// Output format for data on stdout
    #[arg(long, global = true, value_enum, default_value_t = Output::Text)]
    pub output: Output,
    /// Print only errors and data
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// More detail on stderr (repeat for more)
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Colors on stderr (progress, errors)
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    /// Tables and text, as on a terminal
    Text,
    /// JSON with stable keys (see the README for each command's keys)
    Json,
    /// Markdown for a pull-request comment (plan, dns-preview, dns-up); other commands print text
    Markdown,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    /// On a terminal, unless NO_COLOR is set
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Plan every stage the catalog has and check its backups: one review, one checksum
    Plan(PlanArgs),
    /// Apply every stage in order: images, caddy, edge, dns, then certificates
    Up(UpArgs),
    /// Validate the catalog: syntax, keys, types and every cross-reference
    Check(CheckArgs),
    /// Render the artifacts the catalog implies (each host's Caddyfile, the edge's files)
    Render(RenderArgs),
    /// List the catalog's services: host, names, exposure, image, backup
    Services,
    /// Show the DNS changes the catalog implies for its zones, without applying them
    DnsPreview(DnsPreviewArgs),
    /// Apply the DNS plan to the catalog's zones
    DnsUp(DnsUpArgs),
    /// Print the live zone's records that no service derives as [[dns.records]] to paste
    DnsImport(DnsImportArgs),
    /// Push each host's rendered Caddyfile over SSH: validate, back up, install, reload, roll back
    CaddyPush(CaddyPushArgs),
    /// Check and roll out the public edge on Fly.io: nginx, fail2ban, certificates, machines
    FlyDeploy(FlyDeployArgs),
    /// Push the edge's nginx and fail2ban files to its host over SSH: check, install, reload, roll back
    EdgePush(EdgePushArgs),
    /// Build, tag, push and pin the catalog's images (service containers and [images])
    ContainerBuild(ContainerBuildArgs),
    /// Prove every backup is fresh and sound: archive age, paths, SQLite integrity
    BackupCheck(BackupCheckArgs),
    /// Check what each stage of this catalog needs: local tools, secrets, hosts and their tools,
    /// sudo lines, API tokens (read-only; exit 1 when a stage would fail)
    Doctor(DoctorArgs),
    /// Print a shell completion script
    Completions(CompletionsArgs),
    /// Print the catalog's JSON Schema, for editors that complete and check services.toml
    Schema,
    /// Print a manual page (roff), or write every page into a folder
    Man(ManArgs),
}

impl Command {
    /// Whether the command reaches hosts or APIs. Such a run watches for Ctrl-C from its start
    /// (`stop::watch`) and stops between steps; the local ones keep the default action.
    pub fn reaches_out(&self) -> bool {
        !matches!(
            self,
            Self::Check(_)
                | Self::Render(_)
                | Self::Services
                | Self::Completions(_)
                | Self::Schema
                | Self::Man(_)
        )
    }

    /// The subcommand as typed, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Self::Plan(_) => "plan",
            Self::Up(_) => "up",
            Self::Check(_) => "check",
            Self::Render(_) => "render",
            Self::Services => "services",
            Self::DnsPreview(_) => "dns-preview",
            Self::DnsUp(_) => "dns-up",
            Self::DnsImport(_) => "dns-import",
            Self::CaddyPush(_) => "caddy-push",
            Self::FlyDeploy(_) => "fly-deploy",
            Self::EdgePush(_) => "edge-push",
            Self::ContainerBuild(_) => "container-build",
            Self::BackupCheck(_) => "backup-check",
            Self::Doctor(_) => "doctor",
            Self::Completions(_) => "completions",
            Self::Schema => "schema",
            Self::Man(_) => "man",
        }
    }
}

/// What `boma plan` and `boma up` share: which stages, and how they reach hosts and APIs.
#[derive(Debug, Args)]
pub struct RunArgs {
    /// Only these stages (comma-separated)
    #[arg(long, value_enum, value_delimiter = ',', value_name = "STAGE")]
    pub only: Vec<StageName>,
    /// Every stage but these (comma-separated)
    #[arg(long, value_enum, value_delimiter = ',', value_name = "STAGE")]
    pub skip: Vec<StageName>,
    /// DNS: take over declared names held by records no boma marks (never another owner's)
    #[arg(long)]
    pub adopt: bool,
    /// Images: build from uncommitted changes, tagged `...-dirty` (plan and up alike, so the
    /// reviewed checksum is the applied one)
    #[arg(long)]
    pub allow_dirty: bool,
    /// Images: the build tool [default: defaults.build_tool, else podman, buildah or docker on PATH]
    #[arg(long, value_parser = ["podman", "buildah", "docker"])]
    pub tool: Option<String>,
    /// Images: keep podman's or buildah's images in DIR (`--root DIR/root --runroot DIR/run`)
    #[arg(long, value_name = "DIR")]
    pub storage: Option<std::path::PathBuf>,
    /// Hosts handled at once
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    #[command(flatten)]
    pub ssh: SshArgs,
    #[command(flatten)]
    pub fly: FlyArgs,
}

/// The stages of `boma plan` and `boma up`, in the order `up` applies them; `backups` are checks
/// that `plan` reports and `up` never applies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, ValueEnum)]
pub enum StageName {
    Images,
    Caddy,
    Edge,
    Dns,
    Certificates,
    Backups,
}

#[derive(Debug, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Exit 1 when anything would change or a backup check fails (drift detection in CI)
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Debug, Args)]
pub struct UpArgs {
    #[command(flatten)]
    pub run: RunArgs,
    /// Apply only if the fresh plan has this checksum (from a reviewed `boma plan`)
    #[arg(long, value_name = "CHECKSUM")]
    pub checksum: Option<String>,
    /// DNS: apply even when updates plus deletes exceed `max_change_percent` of the records boma
    /// owns
    #[arg(long)]
    pub force: bool,
    /// How long to wait when another push holds a host's lock
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = wait)]
    pub lock_wait: std::time::Duration,
}

/// How the edge reaches Fly.io.
#[derive(Debug, Args)]
pub struct FlyArgs {
    /// The flyctl to deploy with [default: `flyctl` or `fly` on PATH, else the Machines API]
    #[arg(long, value_name = "PATH", conflicts_with = "machines_api")]
    pub flyctl: Option<std::path::PathBuf>,
    /// Roll the machines through the Machines API even when flyctl is on PATH
    #[arg(long)]
    pub machines_api: bool,
    /// How long one machine may take to start after its update before the roll stops
    #[arg(long, value_name = "DURATION", default_value = "5m", value_parser = timeout)]
    pub machine_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct CaddyPushArgs {
    /// Hosts to push to (or list, or roll back) [default: every host that serves a site]
    #[arg(value_name = "HOST")]
    pub hosts: Vec<String>,
    /// A host to push to (or list, or roll back), as a positional HOST does; repeatable
    #[arg(long = "host", value_name = "HOST")]
    pub host: Vec<String>,
    /// Change nothing: report each host as `would change` or `unchanged`; exit 1 on drift
    #[arg(long)]
    pub check: bool,
    /// Show a unified diff of each live Caddyfile against the rendered one
    #[arg(long)]
    pub diff: bool,
    /// Push only if the fresh plan has this checksum (from a reviewed `caddy-push --check`)
    #[arg(long, value_name = "CHECKSUM", conflicts_with = "check")]
    pub checksum: Option<String>,
    /// Put back each host's Nth kept Caddyfile, newest first, copies of the live one skipped (1:
    /// the one the last push replaced), validated and reloaded like a push; `--history` lists them
    #[arg(
        long,
        value_name = "N",
        num_args = 0..=1,
        default_missing_value = "1",
        value_parser = |text: &str| match text.parse::<u16>() {
            Ok(back) if back > 0 => Ok(back),
            _ if text.bytes().all(|byte| byte.is_ascii_digit()) => {
                Err("N counts the backups a host keeps, from 1 (boma keeps 5)".to_string())
            }
            // `--rollback` takes the word after it: a host named there is read as N.
            _ => Err(format!("not a number; name hosts before it: `caddy-push {text} --rollback`")),
        },
        conflicts_with_all = ["check", "diff", "checksum", "history"]
    )]
    pub rollback: Option<u16>,
    /// List the Caddyfiles each host keeps, newest first, with the N `--rollback N` puts back
    #[arg(long, conflicts_with_all = ["check", "diff", "checksum"])]
    pub history: bool,
    /// Hosts handled at once
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    /// How long to wait when another push holds a host's lock
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = wait)]
    pub lock_wait: std::time::Duration,
    #[command(flatten)]
    pub ssh: SshArgs,
}

impl CaddyPushArgs {
    /// The hosts named, positionally or with `--host`, in the order given.
    pub fn named_hosts(&self) -> Vec<String> {
        self.hosts.iter().chain(&self.host).cloned().collect()
    }
}

#[derive(Debug, Args)]
pub struct EdgePushArgs {
    /// Change nothing: report the edge's host as `would change` or `unchanged`; exit 1 on drift
    #[arg(long)]
    pub check: bool,
    /// Show a unified diff of each live file that differs from the rendered one
    #[arg(long)]
    pub diff: bool,
    /// Push only if the fresh plan has this checksum (from a reviewed `edge-push --check`)
    #[arg(long, value_name = "CHECKSUM", conflicts_with = "check")]
    pub checksum: Option<String>,
    /// How long to wait when another push holds the host's lock
    #[arg(long, value_name = "DURATION", default_value = "30s", value_parser = wait)]
    pub lock_wait: std::time::Duration,
    #[command(flatten)]
    pub ssh: SshArgs,
}

#[derive(Debug, Args)]
pub struct FlyDeployArgs {
    /// Render, check and diff against the last deployed render in [edge].dir; deploy nothing,
    /// read nothing from Fly.io, exit 1 on drift
    #[arg(long)]
    pub check: bool,
    /// Deploy only if the plan has this checksum (from a reviewed `fly-deploy --check`, which
    /// reads no app secret; for a deploy that sets one, the edge stage's in `boma plan`)
    #[arg(long, value_name = "CHECKSUM", conflicts_with = "check")]
    pub checksum: Option<String>,
    #[command(flatten)]
    pub fly: FlyArgs,
}

#[derive(Debug, Args)]
pub struct ContainerBuildArgs {
    /// Services or [images] names [default: every image]
    #[arg(value_name = "NAME")]
    pub names: Vec<String>,
    /// Build nothing: show what would be built, pushed and pinned; exit 1 if anything is behind
    #[arg(long)]
    pub check: bool,
    /// Build only the images whose tag is not in their registry yet
    #[arg(long)]
    pub all: bool,
    /// Build from uncommitted changes, tagged `...-dirty`
    #[arg(long)]
    pub allow_dirty: bool,
    /// Build only: no push, no pinning
    #[arg(long)]
    pub no_push: bool,
    /// The build tool [default: defaults.build_tool, else podman, buildah or docker on PATH]
    #[arg(long, value_parser = ["podman", "buildah", "docker"])]
    pub tool: Option<String>,
    /// Keep podman's or buildah's images in DIR (`--root DIR/root --runroot DIR/run`)
    #[arg(long, value_name = "DIR")]
    pub storage: Option<std::path::PathBuf>,
    /// Builds run at once
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    #[command(flatten)]
    pub ssh: SshArgs,
}

#[derive(Debug, Args)]
pub struct BackupCheckArgs {
    /// Services to check [default: every service with a backup]
    #[arg(value_name = "SERVICE")]
    pub services: Vec<String>,
    /// Also run the tool's own consistency check on the newest archive (slower)
    #[arg(long)]
    pub deep: bool,
    /// Write node_exporter textfile metrics to FILE (atomically)
    #[arg(long, value_name = "FILE")]
    pub prometheus: Option<std::path::PathBuf>,
    /// Send no Healthchecks or Uptime Kuma pings
    #[arg(long)]
    pub no_ping: bool,
    /// How long to wait for a repository a running backup holds before calling it locked
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = wait)]
    pub lock_wait: std::time::Duration,
    /// How long one host's checks may take before the host is reported as not answering
    #[arg(long, value_name = "DURATION", default_value = "10m", value_parser = timeout)]
    pub timeout: std::time::Duration,
    /// Hosts checked at once
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    #[command(flatten)]
    pub ssh: SshArgs,
}

#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// How long each check may take: a host's probe, a secret, an API call
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = timeout)]
    pub timeout: std::time::Duration,
    /// Hosts checked at once
    #[arg(long, value_name = "N", default_value_t = 10, value_parser = clap::value_parser!(u16).range(1..))]
    pub parallel: u16,
    #[command(flatten)]
    pub ssh: SshArgs,
}

#[derive(Debug, Args)]
pub struct SshArgs {
    /// Trust host keys seen for the first time (keys that changed are still refused)
    #[arg(long)]
    pub accept_new_host_keys: bool,
    /// Give up connecting to a host after this long
    #[arg(long, value_name = "DURATION", default_value = "10s", value_parser = timeout)]
    pub connect_timeout: std::time::Duration,
}

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Also read every secret reference (values are never shown)
    #[arg(long)]
    pub secrets: bool,
}

#[derive(Debug, Args)]
pub struct RenderArgs {
    /// Write each artifact to its path under DIR instead of printing
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Artifacts to render, e.g. `caddy/indri` [default: all]
    #[arg(value_name = "ARTIFACT")]
    pub artifacts: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DnsOptions {
    /// Take over declared names held by records no boma marks (records of another owner are
    /// never taken)
    #[arg(long)]
    pub adopt: bool,
    /// PowerDNS: create the zone when it does not exist
    #[arg(long)]
    pub create_zone: bool,
    /// Only this zone: NAME of [dns.zones.NAME], or the domain of a single [dns] zone
    #[arg(long, value_name = "NAME")]
    pub zone: Option<String>,
}

#[derive(Debug, Args)]
pub struct DnsPreviewArgs {
    #[command(flatten)]
    pub options: DnsOptions,
    /// Exit 1 when changes or conflicts are pending (drift detection in cron and CI)
    #[arg(long)]
    pub exit_code: bool,
}

#[derive(Debug, Args)]
pub struct DnsImportArgs {
    /// The zone to read: NAME of [dns.zones.NAME], or the domain of a single [dns] zone
    /// [default: every zone]
    #[arg(long, value_name = "NAME")]
    pub zone: Option<String>,
}

#[derive(Debug, Args)]
pub struct DnsUpArgs {
    #[command(flatten)]
    pub options: DnsOptions,
    /// Apply only if the fresh plan has this checksum (from a reviewed dns-preview)
    #[arg(long, value_name = "CHECKSUM")]
    pub checksum: Option<String>,
    /// Apply even when updates plus deletes exceed `max_change_percent` of the records boma owns
    /// (in zones where it owns 10 or more)
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct CompletionsArgs {
    /// The shell to complete in
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}

#[derive(Debug, Args)]
pub struct ManArgs {
    /// The command whose page to print, e.g. `dns-up` [default: boma's own page]
    #[arg(value_name = "COMMAND")]
    pub command: Option<String>,
    /// Write every page (`boma.1`, `boma-COMMAND.1`) into DIR, each only when it changed
    #[arg(long, value_name = "DIR", conflicts_with = "command")]
    pub out: Option<PathBuf>,
}

/// A wait (`--lock-wait`): nothing up to `LONGEST_WAIT` (24 hours). Past it nothing is waited
/// for on purpose, and a deadline of "now plus it" could overflow (a panic after a machine was
/// already updated) or wrap in a host script's arithmetic: refused before anything runs.
fn wait(text: &str) -> Result<std::time::Duration, String> {
    let duration = humantime::parse_duration(text).map_err(|error| error.to_string())?;
    if duration > LONGEST_WAIT {
        return Err("more than 24h, the longest boma waits".to_string());
    }
    Ok(duration)
}

/// A timeout (`--machine-timeout`, `--connect-timeout`): 1 second to 24 hours. ssh reads a
/// connect timeout in whole seconds and takes 0 as "no timeout of its own".
fn timeout(text: &str) -> Result<std::time::Duration, String> {
    let duration = wait(text)?;
    if duration < std::time::Duration::from_secs(1) {
        return Err("less than 1s; a timeout is at least one second".to_string());
    }
    Ok(duration)
}
