//! `GET /api/tally/{season}/{position}` (a locked slot's votes as canonical
//! JSON lines, streamed) and `GET /api/tally/{season}/{position}/proof/{voteId}`
//! (the RFC 6962 inclusion proof of one vote). See `service::tally`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, HeaderName, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use futures_util::StreamExt;
use serde::Serialize;
use utoipa::ToSchema;

use crate::domain::ids::{SeasonId, SlotPosition, VoteId};
use crate::domain::tally::FrozenTally;
use crate::http::error::ErrorBody;
use crate::http::extract::{Segments, Segments3};
use crate::http::response::{IMMUTABLE, with_cache};
use crate::service::tally::{
    self, PUBLISHED_DAILY_BUDGET, PUBLISHED_MULTI_VOTE, PUBLISHED_VOTES, PUBLISHED_WINNER, PUBLISHED_WINNER_ASSIGNED,
};
use crate::service::{ServiceError, Services};

/// The root as an entity tag: the lines cannot change while it stands.
fn etag(head: &FrozenTally) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", head.root)).unwrap_or(HeaderValue::from_static("\"\""))
}

/// The head as response headers, so a verifier reads it with the lines.
fn published_headers(head: &FrozenTally) -> [(HeaderName, HeaderValue); 5] {
    let value = |text: String| HeaderValue::from_str(&text).unwrap_or(HeaderValue::from_static(""));
    [
        (HeaderName::from_static(PUBLISHED_VOTES), value(head.tree_size.to_string())),
        (HeaderName::from_static(PUBLISHED_DAILY_BUDGET), value(head.rules.daily_budget.to_string())),
        (HeaderName::from_static(PUBLISHED_MULTI_VOTE), value(head.rules.multi_vote_mode.to_string())),
        (HeaderName::from_static(PUBLISHED_WINNER), value(head.winner.to_string())),
        (HeaderName::from_static(PUBLISHED_WINNER_ASSIGNED), value(head.winner_assigned.to_string())),
    ]
}

/// `GET /api/tally/{season}/{position}`.
#[utoipa::path(get, path = "/api/tally/{season}/{position}", tag = "tally",
    params(
        ("season" = u64, Path, description = "Season id"),
        ("position" = u32, Path, description = "Slot position, from 1"),
    ),
    responses(
        (status = 200, description = "Every vote of the locked slot, counted or not, one canonical JSON line each \
            (`{\"voteId\",\"voter\",\"clipId\",\"voteType\",\"weight\",\"castAt\",\"counted\"}`, keys in that order, \
            no whitespace) in vote-id order, each ending with `\\n`. The RFC 6962 Merkle root of the lines is the \
            `ETag`; the rules and winner it is checked against come as headers.",
            content_type = "application/x-ndjson", body = String,
            headers(
                ("ETag" = String, description = "The published root, 64 hex digits in quotes"),
                ("X-Tally-Votes" = u64, description = "Number of lines"),
                ("X-Tally-Daily-Budget" = u32, description = "Daily budget in weight units when the slot locked"),
                ("X-Tally-Multi-Vote" = bool, description = "Whether multi-vote mode was on when the slot locked"),
                ("X-Tally-Winner" = u64, description = "The winning clip's id"),
                ("X-Tally-Winner-Assigned" = bool, description = "Whether an admin assigned the winner"),
            )),
        (status = 304, description = "`If-None-Match` names the root: nothing changed"),
        (status = 404, description = "`not_found`: no such slot, or it locked before tallies were published", body = ErrorBody),
        (status = 409, description = "`not_locked`: the slot has not locked yet", body = ErrorBody),
    ))]
pub async fn get_tally(
    State(services): State<Services>,
    headers: HeaderMap,
    Segments(season, position): Segments<SeasonId, SlotPosition>,
) -> Result<Response, ServiceError> {
    let head = tally::head(&services, season, position).await?;
    let tag = etag(&head);
    if crate::http::if_none_match(&headers, tag.to_str().unwrap_or_default()) == Some(true) {
        let mut response = with_cache(StatusCode::NOT_MODIFIED, IMMUTABLE);
        response.headers_mut().insert(header::ETAG, tag);
        return Ok(response);
    }
    let export = tally::export(&services, season, position).await?;
    // Fused: the compression layer polls a body once more after its end
    // (for trailers), and a bare `unfold` panics when polled after `None`.
    let pieces = futures_util::stream::unfold(export.pieces, |mut pieces| async move {
        let piece = pieces.recv().await?;
        Some((piece.map_err(|error| std::io::Error::other(error.message().to_owned())), pieces))
    })
    .fuse();
    let mut response = with_cache(Body::from_stream(pieces), IMMUTABLE);
    let response_headers = response.headers_mut();
    response_headers.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/x-ndjson"));
    response_headers.insert(header::ETAG, tag);
    for (name, value) in published_headers(&export.head) {
        response_headers.insert(name, value);
    }
    Ok(response)
}

/// Body of `GET /api/tally/{season}/{position}/proof/{voteId}`.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct ProofResponse {
    /// The vote's line, exactly as in the export (without its newline).
    line: String,
    /// Its 0-based position among the lines (the leaf index).
    index: u64,
    /// Number of lines.
    tree_size: u64,
    /// RFC 6962 §2.1.1 audit path: sibling hashes (hex) from the leaf up.
    audit_path: Vec<String>,
    /// The published root (hex).
    root: String,
}

/// `GET /api/tally/{season}/{position}/proof/{voteId}`.
#[utoipa::path(get, path = "/api/tally/{season}/{position}/proof/{voteId}", tag = "tally",
    params(
        ("season" = u64, Path, description = "Season id"),
        ("position" = u32, Path, description = "Slot position, from 1"),
        ("voteId" = u64, Path, description = "The vote's id (the receipt of a vote answer)"),
    ),
    responses(
        (status = 200, description = "The vote's line and its inclusion proof against the published root", body = ProofResponse),
        (status = 404, description = "`not_found`: no such slot, or the vote is not in its tally", body = ErrorBody),
        (status = 409, description = "`not_locked`: the slot has not locked yet", body = ErrorBody),
    ))]
pub async fn get_proof(
    State(services): State<Services>,
    Segments3(season, position, vote): Segments3<SeasonId, SlotPosition, VoteId>,
) -> Result<Response, ServiceError> {
    let proof = tally::proof(&services, season, position, vote).await?;
    let body = ProofResponse {
        line: proof.line,
        index: proof.index,
        tree_size: proof.tree_size,
        audit_path: proof.audit_path.iter().map(|hash| hash.to_hex()).collect(),
        root: proof.root.to_hex(),
    };
    // A proof never changes while the root stands; the root may go if an
    // admin unlocks the slot, so it is not immutable.
    Ok(with_cache(Json(body), crate::http::response::PUBLIC_SHORT).into_response())
}
