//! Entry point: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

fn main() -> ExitCode {
    aimoviez::cli::run(aimoviez::cli::Cli::parse())
}
