use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    let cli = boma::cli::Cli::parse();
    boma::run(cli)
}
