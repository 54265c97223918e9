//! Admin console: flagged votes.

use super::*;

/// A vote awaiting fraud review.
struct FlaggedRow {
    id: u64,
    voter: String,
    clip: u64,
    position: u32,
    vote_type: &'static str,
    weight: u32,
    cast_at: String,
    risk_score: u8,
    reasons: String,
}

/// `/admin/flagged`.
#[derive(Template)]
#[template(path = "admin/flagged.html")]
struct FlaggedPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    votes: Vec<FlaggedRow>,
    pager: Pager,
}

/// `GET /admin/flagged?offset=`: flagged votes, newest first.
pub async fn flagged_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let offset = parse_offset(query.offset.as_deref()).map_err(|message| bad_request(&state, &caller, &message))?;
    let page = Page { limit: FLAGGED_PER_PAGE, offset };
    let (votes, has_more) = moderation::flagged_votes(&state.services, page)
        .await
        .map_err(|error| server_problem(&state, &caller, &error))?;
    let votes = votes
        .iter()
        .map(|vote| FlaggedRow {
            id: vote.id.get(),
            voter: shorten(vote.voter.as_str(), 14),
            clip: vote.clip.get(),
            position: vote.position.get(),
            vote_type: vote.vote_type.as_str(),
            weight: vote.weight,
            cast_at: when(vote.cast_at),
            risk_score: vote.risk_score,
            reasons: RiskReason::from_bits(vote.risk_reasons)
                .iter()
                .map(|reason| reason.as_str().replace('_', " "))
                .collect::<Vec<_>>()
                .join(", "),
        })
        .collect();
    let page = FlaggedPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "flagged",
        votes,
        pager: Pager::new("/admin/flagged", offset, FLAGGED_PER_PAGE, has_more),
    };
    Ok(render(&page, StatusCode::OK))
}

/// `POST /admin/flagged/void` with `vote_ids` (repeated): removes the votes
/// from the counts; unknown or already voided ids are skipped.
pub async fn void_votes(State(state): State<AppState>, caller: Caller, form: FormResult) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let ids: Result<Vec<VoteId>, _> = fields.all("vote_ids").map(str::parse::<VoteId>).collect();
    let selection = match ids {
        Err(_) => Err(ServiceError::invalid("vote ids must be positive whole numbers")),
        Ok(ids) => VoteSelection::new(ids).map_err(|error| match error {
            SelectionError::Empty => ServiceError::invalid("tick at least one vote"),
            SelectionError::TooMany { max } => ServiceError::invalid(format!("select at most {max} votes at once")),
        }),
    };
    let outcome = match selection {
        Ok(votes) => moderation::void_votes(&state.services, admin.user, votes)
            .await
            .map(|voided| format!("Voided {}.", plural(voided, "vote", "votes"))),
        Err(error) => Err(error),
    };
    Ok(back(&state, "/admin/flagged", outcome))
}
