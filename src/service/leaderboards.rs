//! Leaderboard pages with names: the page comes from the in-memory boards
//! (`crate::leaderboard`), then one read transaction fetches the names of
//! its entries by point reads (at most `limit`). Nothing here grows with the
//! number of clips, creators, voters or votes.

use crate::domain::leaderboard::{Board, MAX_OFFSET, Period, Trend};
use crate::service::{Page, ServiceError, Services};

/// One row of a board with its name resolved.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedEntry {
    /// 1-based rank: score descending, then id ascending.
    pub rank: u32,
    /// Clip id or user id.
    pub id: u64,
    /// Clip title or username; `None` for a deleted account.
    pub name: Option<String>,
    /// For clips, the creator's username.
    pub creator: Option<String>,
    /// Weighted score (clips, creators) or votes cast (voters).
    pub score: u64,
    /// Movement against the previous day/week (all time: the start of today).
    pub trend: Trend,
}

/// A page of a board.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NamedPage {
    /// The board.
    pub board: Board,
    /// The period.
    pub period: Period,
    /// The rows in rank order.
    pub entries: Vec<NamedEntry>,
    /// Entries on the board for this period.
    pub total: usize,
    /// The page asked for.
    pub page: Page,
    /// Whether a next page may be asked for.
    pub has_more: bool,
}

/// A page of `board` for `period`; the offset may not pass [`MAX_OFFSET`].
pub async fn page(services: &Services, board: Board, period: Period, page: Page) -> Result<NamedPage, ServiceError> {
    let page = page.with_max_offset(MAX_OFFSET)?;
    let ranked = services.leaderboards.page(board, period, page.offset, page.limit);
    let ids: Vec<u64> = ranked.entries.iter().map(|entry| entry.id).collect();
    let mut names = if ids.is_empty() {
        Default::default()
    } else {
        services.read(move |store| store.leaderboard_names(board, &ids)).await?
    };
    let entries = ranked
        .entries
        .iter()
        .map(|entry| {
            let name = names.remove(&entry.id);
            NamedEntry {
                rank: entry.rank,
                id: entry.id,
                creator: name.as_ref().and_then(|name| name.creator.clone()),
                name: name.map(|name| name.name),
                score: entry.score,
                trend: entry.trend,
            }
        })
        .collect();
    Ok(NamedPage { board, period, entries, total: ranked.total, page, has_more: ranked.has_more })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_are_bounded() {
        assert_eq!(Page::new(None, None).ok(), Some(Page { limit: 20, offset: 0 }));
        let deepest = Page::new(Some(100), Some(10_000)).and_then(|page| page.with_max_offset(MAX_OFFSET));
        assert_eq!(deepest.ok(), Some(Page { limit: 100, offset: 10_000 }));
        for (limit, offset) in [(Some(0), None), (Some(101), None), (None, Some(-1)), (None, Some(10_001))] {
            let page = Page::new(limit, offset).and_then(|page| page.with_max_offset(MAX_OFFSET));
            assert_eq!(page.err().map(|e| e.code()), Some("invalid_request"), "{limit:?} {offset:?}");
        }
    }
}
