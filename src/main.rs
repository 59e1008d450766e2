use std::process::ExitCode;

use clap::Parser;

/// A catalog of thousands of services is thousands of small allocations: with mimalloc, `check`
/// of 5,000 services takes 37 ms instead of 61 (half of the difference was page faults).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = boma::cli::Cli::parse();
    boma::run(cli)
}
