//! Command-line types: global options and one variant per subcommand.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "boma",
    version,
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
    /// The service catalog
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
    /// Colors on stderr
    #[arg(long, global = true, value_enum, default_value_t = Color::Auto)]
    pub color: Color,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Output {
    Text,
    Json,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Color {
    Auto,
    Always,
    Never,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Validate the catalog: syntax, keys, types and every cross-reference
    Check(CheckArgs),
    /// Render the artifacts the catalog implies (each host's Caddyfile)
    Render(RenderArgs),
    /// List the catalog's services: host, names, exposure, image, backup
    Services,
    /// Print a shell completion script
    Completions(CompletionsArgs),
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
pub struct CompletionsArgs {
    #[arg(value_enum)]
    pub shell: clap_complete::Shell,
}
