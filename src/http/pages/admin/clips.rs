//! Admin console: clip moderation.

use super::*;

/// A clip in the queue.
struct QueueClip {
    id: u64,
    title: String,
    creator: String,
    created_at: String,
    status: &'static str,
    slot_position: u32,
    video_url: String,
    poster_url: String,
    vote_count: u64,
    rejection_reason: String,
    can_approve: bool,
    can_reject: bool,
}

/// `/admin/clips`.
#[derive(Template)]
#[template(path = "admin/clips.html")]
struct ClipsPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    status: &'static str,
    clips: Vec<QueueClip>,
    pager: Pager,
}

/// `GET /admin/clips?status=&offset=`: the moderation queue, newest first.
pub async fn clips_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let Some(status) = moderation::parse_queue_status(query.status.as_deref()) else {
        return Err(bad_request(&state, &caller, "status must be pending, active, rejected or locked."));
    };
    let offset = parse_offset(query.offset.as_deref()).map_err(|message| bad_request(&state, &caller, &message))?;
    let page = Page { limit: CLIPS_PER_PAGE, offset };
    let (clips, has_more) = moderation::clip_queue(&state.services, status, page)
        .await
        .map_err(|error| server_problem(&state, &caller, &error))?;
    let clips = clips
        .iter()
        .map(|counted| {
            let clip = &counted.clip;
            QueueClip {
                id: clip.id.get(),
                title: clip.title.clone(),
                creator: clip.creator_username.clone(),
                created_at: when(clip.created_at),
                status: clip.status.as_str(),
                slot_position: clip.slot_position.get(),
                video_url: media_urls(&state).clip(clip).0,
                poster_url: media_urls(&state).clip(clip).1,
                vote_count: counted.counter.vote_count,
                rejection_reason: clip.rejection_reason.clone(),
                can_approve: clip.status == ClipStatus::Pending,
                can_reject: matches!(clip.status, ClipStatus::Pending | ClipStatus::Active),
            }
        })
        .collect();
    let page = ClipsPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "clips",
        status: status.as_str(),
        clips,
        pager: Pager::new(&format!("/admin/clips?status={}", status.as_str()), offset, CLIPS_PER_PAGE, has_more),
    };
    Ok(render(&page, StatusCode::OK))
}

/// Where a clip form returns to: the queue tab it was sent from.
fn clips_back(fields: &Fields) -> String {
    let status = moderation::parse_queue_status(fields.one("status")).unwrap_or(ClipStatus::Pending);
    format!("/admin/clips?status={}", status.as_str())
}

/// Words for a refused selection of clips.
fn clip_selection(ids: Vec<ClipId>) -> Result<ClipSelection, ServiceError> {
    ClipSelection::new(ids).map_err(|error| match error {
        SelectionError::Empty => ServiceError::invalid("tick at least one clip"),
        SelectionError::TooMany { max } => ServiceError::invalid(format!("select at most {max} clips at once")),
    })
}

/// Approves or rejects (with the form's reason) a selection.
async fn decide(
    state: &AppState,
    admin: UserId,
    decision: ClipDecision,
    clips: ClipSelection,
    reason: Option<&str>,
) -> Result<Vec<crate::domain::model::Clip>, ServiceError> {
    match decision {
        ClipDecision::Approve => moderation::approve(&state.services, admin, clips).await,
        ClipDecision::Reject => {
            let reason = RejectReason::parse(reason.unwrap_or(""))?;
            moderation::reject(&state.services, admin, clips, reason).await
        }
    }
}

/// `POST /admin/clips/{id}/{approve|reject}`.
pub async fn clip_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let to = clips_back(&fields);
    let Ok(clip) = id.parse::<ClipId>() else {
        return Ok(back(&state, &to, Err(ServiceError::not_found("no such clip"))));
    };
    let Some(decision) = ClipDecision::parse(&action) else {
        return Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "No such clip action."));
    };
    let outcome = decide(&state, admin.user, decision, ClipSelection::one(clip), fields.one("reason")).await;
    let outcome = outcome.map(|_| match decision {
        ClipDecision::Approve => format!("Approved clip #{clip}; it competes in the open slot."),
        ClipDecision::Reject => format!("Rejected clip #{clip}."),
    });
    Ok(back(&state, &to, outcome))
}

/// `POST /admin/clips/bulk`: `clip_ids` (repeated), `action`, `reason`; all or nothing.
pub async fn bulk_clips(State(state): State<AppState>, caller: Caller, form: FormResult) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let to = clips_back(&fields);
    let ids: Result<Vec<ClipId>, _> = fields.all("clip_ids").map(str::parse::<ClipId>).collect();
    let outcome = match ids {
        Err(_) => Err(ServiceError::invalid("clip ids must be positive whole numbers")),
        Ok(ids) => match (clip_selection(ids), fields.one("action").and_then(ClipDecision::parse)) {
            (Err(error), _) => Err(error),
            (Ok(_), None) => Err(ServiceError::invalid("choose approve or reject")),
            (Ok(clips), Some(decision)) => {
                decide(&state, admin.user, decision, clips, fields.one("reason")).await.map(|clips| {
                    let verb = if decision == ClipDecision::Approve { "Approved" } else { "Rejected" };
                    format!("{verb} {}.", plural(clips.len(), "clip", "clips"))
                })
            }
        },
    };
    Ok(back(&state, &to, outcome))
}
