//! `aimoviez tally verify SOURCE [--root HEX]`: checks a locked slot's
//! published tally offline (see `docs/verify.md`).

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Subcommand};

use crate::domain::ids::ClipId;
use crate::domain::tally::{Expected, MerkleHash, TallyRules};
use crate::tally::{ReportText, VerifyError, verify_file};

/// `aimoviez tally …`
#[derive(Debug, Subcommand)]
pub enum TallyCommand {
    /// Recompute a slot's Merkle root from its exported lines, recount the
    /// counted weight per clip and the winner, and check every voter's rules.
    /// Exit code 0 when everything matches, 1 naming the first discrepancy,
    /// 2 when the source cannot be read.
    Verify(TallyVerifyArgs),
}

/// `aimoviez tally verify` options.
#[derive(Debug, Args)]
pub struct TallyVerifyArgs {
    /// The slot's export: a file of canonical JSON lines.
    #[arg(value_name = "SOURCE")]
    source: PathBuf,
    /// The published root (64 hex digits) the lines must hash to.
    #[arg(long, value_name = "HEX", value_parser = parse_root)]
    root: Option<MerkleHash>,
    /// The published winner's clip id: the recount must agree.
    #[arg(long, value_name = "CLIP")]
    winner: Option<ClipId>,
    /// The daily vote budget the server ran with (`votes.daily_budget`).
    #[arg(long, value_name = "UNITS", default_value_t = 200)]
    daily_budget: u32,
    /// The slot ran with `multi_vote_mode` on (several standard votes per clip).
    #[arg(long)]
    multi_vote: bool,
}

fn parse_root(text: &str) -> Result<MerkleHash, String> {
    MerkleHash::parse_hex(text).ok_or_else(|| "expected 64 hex digits".to_owned())
}

/// Runs `aimoviez tally …`.
pub fn run(command: TallyCommand) -> ExitCode {
    match command {
        TallyCommand::Verify(args) => verify(args),
    }
}

fn verify(args: TallyVerifyArgs) -> ExitCode {
    let rules = TallyRules { daily_budget: args.daily_budget, multi_vote_mode: args.multi_vote };
    let expected = Expected { root: args.root, winner: args.winner };
    match verify_file(&args.source, rules, &expected) {
        Ok(report) => {
            println!("{}", ReportText { report: &report, expected: &expected, rules });
            ExitCode::SUCCESS
        }
        Err(VerifyError::Discrepancy(discrepancy)) => {
            println!("FAILED: {discrepancy}");
            ExitCode::FAILURE
        }
        Err(unreadable) => {
            eprintln!("error: {unreadable}");
            ExitCode::from(2)
        }
    }
}
