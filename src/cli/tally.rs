//! `aimoviez tally verify SOURCE [--root HEX]`: checks a locked slot's
//! published tally (see `docs/verify.md`). SOURCE is a file, or the
//! `http(s)` URL of a slot's export (`…/api/tally/{season}/{position}`), in
//! which case the server's published root, rules and winner (sent with the
//! export) are what the lines are checked against, so no flag is needed.

use std::io::BufReader;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use clap::{Args, Subcommand};

use crate::domain::ids::ClipId;
use crate::domain::tally::{Expected, MerkleHash, TallyRules};
use crate::service::tally::{
    PUBLISHED_DAILY_BUDGET, PUBLISHED_MULTI_VOTE, PUBLISHED_WINNER, PUBLISHED_WINNER_ASSIGNED, ReportText, VerifyError,
    verify_file, verify_reader,
};

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
    /// The slot's export: a file of canonical JSON lines, or the http(s) URL
    /// of `/api/tally/{season}/{position}` on a server.
    #[arg(value_name = "SOURCE")]
    source: String,
    /// The published root (64 hex digits) the lines must hash to. With a
    /// URL the server's root is used, and must equal this one when given.
    #[arg(long, value_name = "HEX", value_parser = parse_root)]
    root: Option<MerkleHash>,
    /// The published winner's clip id: the recount must agree (with a URL,
    /// the server's winner unless an admin assigned it).
    #[arg(long, value_name = "CLIP")]
    winner: Option<ClipId>,
    /// The daily vote budget the server ran with (`votes.daily_budget`;
    /// with a URL, the one the server published with the root; else 200).
    #[arg(long, value_name = "UNITS")]
    daily_budget: Option<u32>,
    /// The slot ran with `multi_vote_mode` on (several standard votes per
    /// clip; with a URL, as the server published it).
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

/// What a server published with an export.
#[derive(Debug, Default)]
struct Published {
    root: Option<MerkleHash>,
    rules: Option<TallyRules>,
    winner: Option<ClipId>,
    winner_assigned: bool,
}

fn verify(args: TallyVerifyArgs) -> ExitCode {
    let is_url = args.source.starts_with("http://") || args.source.starts_with("https://");
    let (outcome, published, rules, expected) = if is_url {
        match fetch(&args.source) {
            Ok((published, body)) => {
                let (rules, expected) = match settle(&args, &published) {
                    Ok(settled) => settled,
                    Err(message) => {
                        println!("FAILED: {message}");
                        return ExitCode::FAILURE;
                    }
                };
                let outcome = verify_reader(BufReader::with_capacity(1 << 16, body), rules, &expected)
                    .map_err(|error| error.with_source(&args.source));
                (outcome, published, rules, expected)
            }
            Err(error) => (Err(error), Published::default(), TallyRules::default(), Expected::default()),
        }
    } else {
        let published = Published::default();
        let (rules, expected) = settle(&args, &published).unwrap_or_default();
        (verify_file(&PathBuf::from(&args.source), rules, &expected), published, rules, expected)
    };
    match outcome {
        Ok(report) => {
            println!("{}", ReportText { report: &report, expected: &expected, rules });
            if published.winner_assigned {
                println!("note:    an admin assigned this slot's winner (clip {})", display(published.winner));
            }
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

fn display(clip: Option<ClipId>) -> String {
    clip.map(|clip| clip.to_string()).unwrap_or_else(|| "?".into())
}

/// The rules and expectations: flags where given, else what the server
/// published, else the defaults. A `--root` that differs from the server's
/// is a discrepancy of its own.
fn settle(args: &TallyVerifyArgs, published: &Published) -> Result<(TallyRules, Expected), String> {
    if let (Some(given), Some(served)) = (args.root, published.root)
        && given != served
    {
        return Err(format!("the server publishes root {served}, not the {given} given with --root"));
    }
    let base = published.rules.unwrap_or_default();
    let rules = TallyRules {
        daily_budget: args.daily_budget.unwrap_or(base.daily_budget),
        multi_vote_mode: args.multi_vote || base.multi_vote_mode,
    };
    let winner = args.winner.or(if published.winner_assigned { None } else { published.winner });
    Ok((rules, Expected { root: args.root.or(published.root), winner }))
}

/// GETs an export; its body is read as it arrives.
fn fetch(url: &str) -> Result<(Published, impl std::io::Read + use<>), VerifyError> {
    let unreadable =
        |message: String| VerifyError::Unreadable { origin: url.to_owned(), error: std::io::Error::other(message) };
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_connect(Some(Duration::from_secs(15)))
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .build()
        .into();
    let response =
        agent.get(url).header("Accept", "application/x-ndjson").call().map_err(|e| unreadable(e.to_string()))?;
    let status = response.status();
    let header = |name: &str| response.headers().get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
    if !status.is_success() {
        let mut body = String::new();
        let _ = std::io::Read::read_to_string(
            &mut std::io::Read::take(response.into_body().into_reader(), 4096),
            &mut body,
        );
        return Err(unreadable(format!("the server answered {status}: {}", body.trim())));
    }
    let root = header("etag").and_then(|etag| MerkleHash::parse_hex(etag.trim_matches('"')));
    let budget = header(PUBLISHED_DAILY_BUDGET).and_then(|text| text.parse().ok());
    let multi_vote = header(PUBLISHED_MULTI_VOTE).map(|text| text == "true");
    let rules = match (budget, multi_vote) {
        (Some(daily_budget), Some(multi_vote_mode)) => Some(TallyRules { daily_budget, multi_vote_mode }),
        _ => None,
    };
    let published = Published {
        root,
        rules,
        winner: header(PUBLISHED_WINNER).and_then(|text| text.parse().ok()),
        winner_assigned: header(PUBLISHED_WINNER_ASSIGNED).is_some_and(|text| text == "true"),
    };
    Ok((published, response.into_body().into_reader()))
}
