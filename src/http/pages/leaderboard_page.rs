//! `/leaderboard`: the three boards for three periods as plain links (tabs
//! work without JavaScript), medals for the top three, trend markers and
//! pagination. The data comes from `service::leaderboards`, as the JSON
//! API's.

use askama::Template;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::Response;
use serde::Deserialize;

use super::{Chrome, render};
use crate::domain::leaderboard::{Board, Period, Trend};
use crate::http::extract::{ApiQuery, Caller};
use crate::http::state::AppState;
use crate::service::leaderboards::{self, NamedEntry};
use crate::service::{Page, ServiceError};

/// Rows per page on the HTML page.
const PAGE_SIZE: usize = 20;

/// Query of `/leaderboard`.
#[derive(Debug, Deserialize)]
pub struct LeaderboardParams {
    board: Option<String>,
    period: Option<String>,
    offset: Option<i64>,
}

/// A tab: a plain link, marked when it is the one shown.
pub struct Tab {
    label: &'static str,
    href: String,
    current: bool,
}

/// One row as shown.
pub struct Row {
    rank: u32,
    medal: Option<&'static str>,
    name: String,
    href: Option<String>,
    detail: Option<String>,
    score: u64,
    trend: &'static str,
    marker: &'static str,
}

/// `/leaderboard`.
#[derive(Template)]
#[template(path = "leaderboard.html")]
pub struct LeaderboardPage {
    chrome: Chrome,
    board_tabs: Vec<Tab>,
    period_tabs: Vec<Tab>,
    rows: Vec<Row>,
    total: usize,
    unit: &'static str,
    previous_href: Option<String>,
    next_href: Option<String>,
}

fn href(board: Board, period: Period, offset: usize) -> String {
    let mut link = format!("/leaderboard?board={}&period={}", board.as_str(), period.as_str());
    if offset > 0 {
        link.push_str(&format!("&offset={offset}"));
    }
    link
}

fn medal(rank: u32) -> Option<&'static str> {
    match rank {
        1 => Some("🥇"),
        2 => Some("🥈"),
        3 => Some("🥉"),
        _ => None,
    }
}

/// The marker a page shows for a trend.
fn trend_marker(trend: Trend) -> &'static str {
    match trend {
        Trend::Up => "▲",
        Trend::Down => "▼",
        Trend::Same => "=",
        Trend::New => "new",
    }
}

fn row(board: Board, entry: NamedEntry) -> Row {
    let href = (board == Board::Clips).then(|| format!("/clip/{}", entry.id));
    let detail = entry.creator.map(|creator| format!("@{creator}"));
    let name = match entry.name {
        Some(title) if board == Board::Clips => title,
        Some(username) => format!("@{username}"),
        None => "deleted account".to_owned(),
    };
    Row {
        rank: entry.rank,
        medal: medal(entry.rank),
        name,
        href,
        detail,
        score: entry.score,
        trend: entry.trend.as_str(),
        marker: trend_marker(entry.trend),
    }
}

/// `GET /leaderboard?board=&period=&offset=`: clips of all time by default.
pub async fn leaderboard_page(
    State(state): State<AppState>,
    caller: Caller,
    ApiQuery(params): ApiQuery<LeaderboardParams>,
) -> Result<Response, ServiceError> {
    let board = match params.board.as_deref() {
        None => Board::Clips,
        Some(raw) => {
            Board::parse(raw).ok_or_else(|| ServiceError::invalid("board must be clips, creators or voters"))?
        }
    };
    let period = match params.period.as_deref() {
        None => Period::All,
        Some(raw) => Period::parse(raw).ok_or_else(|| ServiceError::invalid("period must be day, week or all"))?,
    };
    let page = Page::new(Some(PAGE_SIZE as i64), params.offset)?;
    let offset = page.offset;
    let page = leaderboards::page(&state.services, board, period, page).await?;
    let board_tabs = [(Board::Clips, "Clips"), (Board::Creators, "Creators"), (Board::Voters, "Voters")]
        .into_iter()
        .map(|(tab, label)| Tab { label, href: href(tab, period, 0), current: tab == board })
        .collect();
    let period_tabs = [(Period::Day, "Today"), (Period::Week, "This week"), (Period::All, "All time")]
        .into_iter()
        .map(|(tab, label)| Tab { label, href: href(board, tab, 0), current: tab == period })
        .collect();
    let view = LeaderboardPage {
        chrome: Chrome::new(&state, &caller),
        board_tabs,
        period_tabs,
        total: page.total,
        unit: if board == Board::Voters { "votes" } else { "points" },
        previous_href: (offset > 0).then(|| href(board, period, offset.saturating_sub(PAGE_SIZE))),
        next_href: page.has_more.then(|| href(board, period, offset + PAGE_SIZE)),
        rows: page.entries.into_iter().map(|entry| row(board, entry)).collect(),
    };
    Ok(render(&view, StatusCode::OK))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trends_have_markers() {
        assert_eq!(trend_marker(Trend::Up), "▲");
        assert_eq!(trend_marker(Trend::Down), "▼");
        assert_eq!(trend_marker(Trend::New), "new");
    }
}
