//! The tally service: `aimoviez tally verify` reads a published slot tally
//! (for now a local file) line by line through `domain::tally`, so a slot of
//! any size is checked in memory bounded by its voters and clips. It moves
//! into `service/` with the rest of the services.

use std::fmt;
use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::domain::tally::{
    Discrepancy, Expected, LineError, MAX_LINE_BYTES, TallyChecker, TallyReport, TallyRules, TallyWinner,
};

/// Why a verification did not produce a verdict, or the verdict "no".
#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The source could not be read: no verdict.
    #[error("cannot read {path}: {error}")]
    Unreadable {
        /// The file.
        path: PathBuf,
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
    let file = File::open(path).map_err(|error| VerifyError::Unreadable { path: path.to_owned(), error })?;
    verify_reader(BufReader::with_capacity(1 << 16, file), rules, expected).map_err(|error| error.with_path(path))
}

impl VerifyError {
    fn with_path(self, path: &Path) -> Self {
        match self {
            VerifyError::Unreadable { error, .. } => VerifyError::Unreadable { path: path.to_owned(), error },
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
            .map_err(|error| VerifyError::Unreadable { path: PathBuf::new(), error })?;
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
