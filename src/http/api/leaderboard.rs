//! `GET /api/leaderboard/{clips,creators,voters}?period=day|week|all&limit=&offset=`:
//! a page of a board from the in-memory structures, with the names of its
//! entries read by one point read each. Nothing here grows with the number
//! of clips, creators, voters or votes.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderValue, header};
use axum::response::{IntoResponse, Response};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::admin::Page;
use super::error::ApiError;
use super::error::ErrorBody;
use super::extract::ApiQuery;
use crate::domain::leaderboard::{Board, MAX_OFFSET, Period};
use crate::http::state::AppState;

/// Query of a leaderboard page.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LeaderboardQuery {
    /// `day`, `week` or `all` (default).
    period: Option<String>,
    /// Entries per page, 1 to 100 (default 20).
    limit: Option<i64>,
    /// Entries to skip, 0 to 10,000 (default 0).
    offset: Option<i64>,
}

/// One row of a board, with its name resolved.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaderboardEntryDto {
    /// 1-based rank: score descending, then id ascending.
    pub rank: u32,
    /// Clip id or user id.
    pub id: u64,
    /// Clip title or username; `null` for a deleted account.
    pub name: Option<String>,
    /// For clips, the creator's username.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub creator: Option<String>,
    /// Weighted score (clips, creators) or votes cast (voters).
    pub score: u64,
    /// `up`, `down`, `same` or `new` against the previous day/week (all
    /// time: against the start of today).
    pub trend: &'static str,
}

/// A page of a board.
#[derive(Debug, Clone, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct LeaderboardResponse {
    /// `clips`, `creators` or `voters`.
    pub board: &'static str,
    /// `day`, `week` or `all`.
    pub period: &'static str,
    /// The rows in rank order.
    pub entries: Vec<LeaderboardEntryDto>,
    /// Entries on the board for this period.
    pub total: usize,
    /// The page size used.
    pub limit: usize,
    /// The offset used.
    pub offset: usize,
    /// Whether a next page may be asked for.
    pub has_more: bool,
}

/// Parses the board of the path; unknown boards are not found.
pub fn parse_board(raw: &str) -> Result<Board, ApiError> {
    Board::parse(raw).ok_or_else(|| ApiError::not_found("no such leaderboard; use clips, creators or voters"))
}

/// Parses `period` (default `all`).
pub fn parse_period(raw: Option<&str>) -> Result<Period, ApiError> {
    match raw {
        None => Ok(Period::All),
        Some(text) => Period::parse(text).ok_or_else(|| ApiError::invalid("period must be day, week or all")),
    }
}

/// Checks `limit` (1..=100, default 20) and `offset` (0..=10,000).
pub fn page_bounds(limit: Option<i64>, offset: Option<i64>) -> Result<(usize, usize), ApiError> {
    let (limit, offset) = Page::new(limit, offset).bounds()?;
    if offset > MAX_OFFSET {
        return Err(ApiError::invalid(format!("offset must be at most {MAX_OFFSET}")));
    }
    Ok((limit, offset))
}

/// A page of a board with names: the page from memory, then one read
/// transaction with a point read per entry (at most `limit`).
pub async fn named_page(
    state: &AppState,
    board: Board,
    period: Period,
    limit: usize,
    offset: usize,
) -> Result<LeaderboardResponse, ApiError> {
    let page = state.leaderboards.page(board, period, offset, limit);
    let ids: Vec<u64> = page.entries.iter().map(|entry| entry.id).collect();
    let mut names = if ids.is_empty() {
        Default::default()
    } else {
        state.read_store(move |store| store.leaderboard_names(board, &ids)).await?
    };
    let entries = page
        .entries
        .iter()
        .map(|entry| {
            let name = names.remove(&entry.id);
            LeaderboardEntryDto {
                rank: entry.rank,
                id: entry.id,
                creator: name.as_ref().and_then(|name| name.creator.clone()),
                name: name.map(|name| name.name),
                score: entry.score,
                trend: entry.trend.as_str(),
            }
        })
        .collect();
    Ok(LeaderboardResponse {
        board: board.as_str(),
        period: period.as_str(),
        entries,
        total: page.total,
        limit,
        offset,
        has_more: page.has_more,
    })
}

/// The marker a page shows for a trend.
pub fn trend_marker(trend: &str) -> &'static str {
    match trend {
        "up" => "▲",
        "down" => "▼",
        "same" => "=",
        _ => "new",
    }
}

/// `GET /api/leaderboard/{board}`.
#[utoipa::path(get, path = "/api/leaderboard/{board}", tag = "leaderboards",
    params(("board" = String, Path, description = "`clips`, `creators` or `voters`"), LeaderboardQuery),
    responses(
        (status = 200, description = "A page of the board", body = LeaderboardResponse),
        (status = 404, description = "`not_found`: no such board", body = ErrorBody),
    ))]
pub async fn get_leaderboard(
    State(state): State<AppState>,
    Path(board): Path<String>,
    ApiQuery(query): ApiQuery<LeaderboardQuery>,
) -> Result<Response, ApiError> {
    let board = parse_board(&board)?;
    let period = parse_period(query.period.as_deref())?;
    let (limit, offset) = page_bounds(query.limit, query.offset)?;
    let page = named_page(&state, board, period, limit, offset).await?;
    let mut response = Json(page).into_response();
    // Public and the same for everyone: a proxy may absorb bursts.
    response.headers_mut().insert(header::CACHE_CONTROL, HeaderValue::from_static("public, max-age=5"));
    Ok(response)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::leaderboard::Trend;

    #[test]
    fn bounds_and_names_are_checked() {
        assert_eq!(page_bounds(None, None).ok(), Some((20, 0)));
        assert_eq!(page_bounds(Some(100), Some(10_000)).ok(), Some((100, 10_000)));
        for (limit, offset) in [(Some(0), None), (Some(101), None), (None, Some(-1)), (None, Some(10_001))] {
            assert_eq!(page_bounds(limit, offset).err().map(|e| e.code()), Some("invalid_request"));
        }
        assert_eq!(parse_period(None).ok(), Some(Period::All));
        assert_eq!(parse_period(Some("month")).err().map(|e| e.code()), Some("invalid_request"));
        assert_eq!(parse_board("films").err().map(|e| e.code()), Some("not_found"));
        assert_eq!(trend_marker(Trend::Up.as_str()), "▲");
        assert_eq!(trend_marker(Trend::New.as_str()), "new");
    }
}
