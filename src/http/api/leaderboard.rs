//! `GET /api/leaderboard/{clips,creators,voters}?period=day|week|all&limit=&offset=`:
//! a page of a board with the names of its entries (`service::leaderboards`).

use axum::Json;
use axum::extract::State;
use axum::response::Response;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::domain::leaderboard::{Board, Period};
use crate::http::error::ErrorBody;
use crate::http::extract::{ApiQuery, Segment};
use crate::http::response::public_short;
use crate::service::{Page, ServiceError, Services, leaderboards};

/// Query of a leaderboard page.
#[derive(Debug, Deserialize, IntoParams)]
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

/// `GET /api/leaderboard/{board}`.
#[utoipa::path(get, path = "/api/leaderboard/{board}", tag = "leaderboards",
    params(("board" = String, Path, description = "`clips`, `creators` or `voters`"), LeaderboardQuery),
    responses(
        (status = 200, description = "A page of the board", body = LeaderboardResponse),
        (status = 404, description = "`not_found`: no such board", body = ErrorBody),
    ))]
pub async fn get_leaderboard(
    State(services): State<Services>,
    Segment(board): Segment<Board>,
    ApiQuery(query): ApiQuery<LeaderboardQuery>,
) -> Result<Response, ServiceError> {
    let period = parse_period(query.period.as_deref())?;
    let page = leaderboards::page(&services, board, period, Page::new(query.limit, query.offset)?).await?;
    let body = LeaderboardResponse {
        board: page.board.as_str(),
        period: page.period.as_str(),
        entries: page
            .entries
            .into_iter()
            .map(|entry| LeaderboardEntryDto {
                rank: entry.rank,
                id: entry.id,
                name: entry.name,
                creator: entry.creator,
                score: entry.score,
                trend: entry.trend.as_str(),
            })
            .collect(),
        total: page.total,
        limit: page.page.limit,
        offset: page.page.offset,
        has_more: page.has_more,
    };
    // Public and the same for everyone: a proxy may absorb bursts.
    Ok(public_short(Json(body)))
}

/// Parses `period` (default `all`).
pub fn parse_period(raw: Option<&str>) -> Result<Period, ServiceError> {
    match raw {
        None => Ok(Period::All),
        Some(text) => Period::parse(text).ok_or_else(|| ServiceError::invalid("period must be day, week or all")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn periods_are_checked() {
        assert_eq!(parse_period(None).ok(), Some(Period::All));
        assert_eq!(parse_period(Some("month")).err().map(|e| e.code()), Some("invalid_request"));
    }
}
