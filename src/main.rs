//! Entry point: parse the command line and hand over to the library.

use std::process::ExitCode;

use clap::Parser;

/// glibc's malloc keeps what a short-lived thread freed in that thread's
/// arena: under a long mixed load the server grew by one ~19 MiB arena every
/// ~40 s (benches/RESULTS.md, the soak of issue #18). mimalloc returns freed
/// pages to the OS, so memory follows the load instead of its history.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    aimoviez::cli::run(aimoviez::cli::Cli::parse())
}
