//! Published slot tallies (issue #15): the head, the streamed export and
//! the proof of one vote that the API serves, and the offline verification
//! `aimoviez tally verify` runs on an export (a file or a server's URL,
//! opened by the CLI), line by line through `domain::tally`, so a slot of any
//! size is checked in memory bounded by its voters and clips.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::Path;

use tokio::sync::mpsc;

use crate::domain::ids::{SeasonId, SlotPosition, VoteId};
use crate::domain::tally::{
    Discrepancy, Expected, FrozenTally, LineError, MAX_LINE_BYTES, TallyChecker, TallyProof, TallyReport, TallyRules,
    TallyWinner,
};
use crate::domain::tournament::SlotStatus;
use crate::service::{ErrorKind, ServiceError, Services};
use crate::store::tally::{ExportError, ProofLookup};
use crate::store::{Store, StoreError};

/// Why a slot has no published tally, once its head was looked up.
fn unpublished(store: &Store, season: SeasonId, position: SlotPosition) -> Result<ServiceError, StoreError> {
    Ok(match store.slot_status(season, position)? {
        None => ServiceError::not_found("no such slot"),
        Some(SlotStatus::Locked) => ServiceError::not_found("this slot locked before tallies were published"),
        Some(_) => ServiceError::new(
            ErrorKind::Conflict,
            "not_locked",
            "this slot is not locked yet: its tally is published when it locks",
        ),
    })
}

/// A locked slot's published head: root, size, rules and winner. 404 for
/// an unknown slot, 409 `not_locked` before the lock.
pub async fn head(services: &Services, season: SeasonId, position: SlotPosition) -> Result<FrozenTally, ServiceError> {
    services
        .read(move |store| match store.tally_head(season, position)? {
            Some(head) => Ok(Ok(head)),
            None => Ok(Err(unpublished(store, season, position)?)),
        })
        .await?
}

/// A tally being streamed: its head, then its lines in pieces of whole
/// lines (about 64 KiB each), each piece regenerated from the votes and
/// checked against the frozen hashes before it is sent.
pub struct TallyExport {
    /// What the lines hash to.
    pub head: FrozenTally,
    /// The pieces; an `Err` ends the stream early (the cause is logged), so a
    /// reader never gets bytes that differ from the frozen ones.
    pub pieces: mpsc::Receiver<Result<Vec<u8>, ServiceError>>,
}

/// Bytes gathered before a piece is handed on.
const PIECE_BYTES: usize = 64 * 1024;

/// Starts streaming a locked slot's tally. The lines are read on the
/// blocking pool in one read transaction, one chunk of 64 at a time, and
/// wait for the reader (a bounded channel), so memory stays flat whatever
/// the slot's size.
pub async fn export(
    services: &Services,
    season: SeasonId,
    position: SlotPosition,
) -> Result<TallyExport, ServiceError> {
    let head = head(services, season, position).await?;
    let (sender, pieces) = mpsc::channel(2);
    let store = services.store.clone();
    let root = head.root;
    tokio::task::spawn_blocking(move || {
        let mut piece = Vec::with_capacity(PIECE_BYTES + 16 * 1024);
        let outcome = store.tally_export(season, position, &root, |text| {
            piece.extend_from_slice(text);
            piece.len() < PIECE_BYTES || sender.blocking_send(Ok(std::mem::take(&mut piece))).is_ok()
        });
        let error = match outcome {
            Ok(()) if piece.is_empty() => return,
            Ok(()) => {
                let _ = sender.blocking_send(Ok(piece));
                return;
            }
            Err(ExportError::Changed | ExportError::NotFrozen) => {
                ServiceError::conflict("the slot was unlocked while its tally was being read")
            }
            Err(ExportError::Store(error)) => ServiceError::from(error),
        };
        tracing::error!(season = %season, slot = %position, error = %error.message(), "tally export stopped");
        let _ = sender.blocking_send(Err(error));
    });
    Ok(TallyExport { head, pieces })
}

/// The RFC 6962 inclusion proof of one vote in a locked slot's tally.
pub async fn proof(
    services: &Services,
    season: SeasonId,
    position: SlotPosition,
    vote: VoteId,
) -> Result<TallyProof, ServiceError> {
    services
        .read(move |store| match store.tally_proof(season, position, vote)? {
            ProofLookup::Found(proof) => Ok(Ok(proof)),
            ProofLookup::NoSuchVote => Ok(Err(ServiceError::not_found("that vote is not in this slot's tally"))),
            ProofLookup::NotFrozen => Ok(Err(unpublished(store, season, position)?)),
        })
        .await?
}

/// The published tally heads of a season's locked slots (for film pages).
pub async fn heads(services: &Services, season: SeasonId) -> Result<Vec<FrozenTally>, ServiceError> {
    services.read(move |store| store.tally_heads(season)).await
}

/// Names under which an export announces what it is checked against
/// (besides its root, the `ETag`): the server sets them on
/// `GET /api/tally/{season}/{position}` and `tally verify URL` reads them.
pub const PUBLISHED_DAILY_BUDGET: &str = "x-tally-daily-budget";
/// Whether multi-vote mode was on when the slot locked (`true`/`false`).
pub const PUBLISHED_MULTI_VOTE: &str = "x-tally-multi-vote";
/// The slot's winner (a clip id).
pub const PUBLISHED_WINNER: &str = "x-tally-winner";
/// Whether an admin assigned that winner (`true`/`false`).
pub const PUBLISHED_WINNER_ASSIGNED: &str = "x-tally-winner-assigned";
/// The number of lines.
pub const PUBLISHED_VOTES: &str = "x-tally-votes";

/// Why a verification did not produce a verdict, or the verdict "no".
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The source could not be read: no verdict.
    #[error("cannot read {origin}: {error}")]
    Unreadable {
        /// The file or URL.
        origin: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The tally does not check out.
    #[error("{0}")]
    Discrepancy(#[from] Discrepancy),
}

/// Verifies a tally file: canonical lines in vote-id order, the root (against
/// `expected.root` when given), the rules, and the winner (against
/// `expected.winner` when given).
pub fn verify_file(path: &Path, rules: TallyRules, expected: &Expected) -> Result<TallyReport, VerifyError> {
    let source = path.display().to_string();
    let file = File::open(path).map_err(|error| VerifyError::Unreadable { origin: source.clone(), error })?;
    verify_reader(BufReader::with_capacity(1 << 16, file), rules, expected).map_err(|error| error.with_source(&source))
}

impl VerifyError {
    /// Names the file or URL an unreadable error came from.
    pub fn with_source(self, source: &str) -> Self {
        match self {
            VerifyError::Unreadable { error, .. } => VerifyError::Unreadable { origin: source.to_owned(), error },
            other => other,
        }
    }
}

/// Verifies a tally read from any byte stream (one line at a time; a line
/// longer than [`MAX_LINE_BYTES`] is refused without reading the rest of it).
pub fn verify_reader(
    mut reader: impl BufRead,
    rules: TallyRules,
    expected: &Expected,
) -> Result<TallyReport, VerifyError> {
    let mut checker = TallyChecker::new(rules);
    let mut line = Vec::with_capacity(256);
    loop {
        line.clear();
        let limit = MAX_LINE_BYTES as u64 + 2;
        let read = reader
            .by_ref()
            .take(limit)
            .read_until(b'\n', &mut line)
            .map_err(|error| VerifyError::Unreadable { origin: String::new(), error })?;
        if read == 0 {
            break;
        }
        let number = checker.lines() + 1;
        let Some(text) = line.strip_suffix(b"\n") else {
            let error = if line.len() > MAX_LINE_BYTES { LineError::TooLong } else { LineError::NoNewline };
            return Err(Discrepancy::Malformed { line: number, error }.into());
        };
        checker.push_line(text)?;
    }
    Ok(checker.finish(expected)?)
}

/// The short report `tally verify` prints on success.
pub struct ReportText<'a> {
    /// The recount.
    pub report: &'a TallyReport,
    /// What it was checked against.
    pub expected: &'a Expected,
    /// The rules it was checked under.
    pub rules: TallyRules,
}

/// How many clips the report lists before summing up the rest.
const LISTED_CLIPS: usize = 10;

impl fmt::Display for ReportText<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let report = self.report;
        writeln!(
            f,
            "lines:   {} votes ({} counted, {} not counted) from {} pseudonymous voters",
            report.tree_size,
            report.counted_votes,
            report.tree_size - report.counted_votes,
            report.voters
        )?;
        match self.expected.root {
            Some(_) => writeln!(f, "root:    {} (matches the published root)", report.root)?,
            None => writeln!(f, "root:    {} (no root given: compare it with the published one)", report.root)?,
        }
        for standing in report.standings.iter().take(LISTED_CLIPS) {
            writeln!(f, "clip {:<8} weight {:>8}  votes {:>8}", standing.clip, standing.weight, standing.votes)?;
        }
        if report.standings.len() > LISTED_CLIPS {
            writeln!(f, "… and {} more clips with counted votes", report.standings.len() - LISTED_CLIPS)?;
        }
        let winner_note = match (&report.winner, self.expected.winner) {
            (TallyWinner::Clip(_), Some(_)) => " (matches the published winner)",
            (TallyWinner::Tied(_), Some(_)) => " (the published winner is one of them)",
            (TallyWinner::Undecided, Some(_)) => " (the published winner cannot be checked against the lines)",
            (_, None) => "",
        };
        writeln!(f, "winner:  {}{winner_note}", report.winner)?;
        let per_clip = if self.rules.multi_vote_mode { "any number of" } else { "at most one" };
        writeln!(
            f,
            "rules:   every voter has {per_clip} counted standard vote per clip, at most one super and one mega, \
             and at most {} counted weight per UTC day",
            self.rules.daily_budget
        )?;
        write!(f, "OK")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::clock::Timestamp;
    use crate::domain::ids::{ClipId, VoteId};
    use crate::domain::tally::{Pseudonym, TallyLine};
    use crate::domain::vote::VoteType;

    fn export(count: u64) -> Vec<u8> {
        let mut out = Vec::new();
        for n in 1..=count {
            let line = TallyLine::new(
                VoteId::new(n).expect("id"),
                Pseudonym::from_bytes([n as u8; 32]),
                ClipId::new(1 + n % 3).expect("id"),
                VoteType::Standard,
                1,
                Timestamp::from_millis(1_796_589_841_123),
                true,
            )
            .expect("in range");
            line.write_to(&mut out);
            out.push(b'\n');
        }
        out
    }

    #[test]
    fn reads_lines_and_refuses_bad_framing() {
        let rules = TallyRules::default();
        let report = verify_reader(&export(5)[..], rules, &Expected::default()).expect("valid");
        assert_eq!(report.tree_size, 5);
        let mut no_newline = export(2);
        no_newline.pop();
        assert!(matches!(
            verify_reader(&no_newline[..], rules, &Expected::default()),
            Err(VerifyError::Discrepancy(Discrepancy::Malformed { line: 2, error: LineError::NoNewline }))
        ));
        let mut long = export(1);
        long.extend(std::iter::repeat_n(b'x', 10_000));
        assert!(matches!(
            verify_reader(&long[..], rules, &Expected::default()),
            Err(VerifyError::Discrepancy(Discrepancy::Malformed { line: 2, error: LineError::TooLong }))
        ));
        let mut blank = export(1);
        blank.push(b'\n');
        assert!(matches!(
            verify_reader(&blank[..], rules, &Expected::default()),
            Err(VerifyError::Discrepancy(Discrepancy::Malformed { line: 2, .. }))
        ));
    }

    #[test]
    fn the_report_names_the_root_and_the_winner() {
        let report = verify_reader(&export(4)[..], TallyRules::default(), &Expected::default()).expect("valid");
        let text = ReportText { report: &report, expected: &Expected::default(), rules: TallyRules::default() };
        let text = text.to_string();
        assert!(text.contains(&report.root.to_hex()), "{text}");
        assert!(text.contains("winner:  clip"), "{text}");
        assert!(text.ends_with("OK"), "{text}");
    }
}
