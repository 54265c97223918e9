//! Admin console: clip moderation.

use super::*;

fn parse_clip_status(raw: Option<&str>) -> Option<ClipStatus> {
    match raw.map(str::trim).filter(|raw| !raw.is_empty()).unwrap_or("pending") {
        "pending" => Some(ClipStatus::Pending),
        "active" => Some(ClipStatus::Active),
        "rejected" => Some(ClipStatus::Rejected),
        "locked" => Some(ClipStatus::Locked),
        _ => None,
    }
}

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
pub(super) async fn clips_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let Some(status) = parse_clip_status(query.status.as_deref()) else {
        return Err(bad_request(&state, &caller, "status must be pending, active, rejected or locked."));
    };
    let offset = parse_offset(query.offset.as_deref()).map_err(|message| bad_request(&state, &caller, &message))?;
    let store = state.store.clone();
    let (clips, has_more) = load(move || store.clips_by_status(status, CLIPS_PER_PAGE, offset))
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
                video_url: format!("/media/{}", clip.video_path),
                poster_url: format!("/media/{}", clip.poster_path),
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
    let status = parse_clip_status(fields.one("status")).unwrap_or(ClipStatus::Pending);
    format!("/admin/clips?status={}", status.as_str())
}

fn check_reason(reason: Option<&str>) -> Result<String, ApiError> {
    let reason = reason.unwrap_or("").trim();
    if reason.is_empty() || reason.chars().count() > 300 {
        return Err(ApiError::invalid("give a reason of 1 to 300 characters"));
    }
    Ok(reason.to_owned())
}

/// `POST /admin/clips/{id}/{approve|reject}`.
pub(super) async fn clip_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let to = clips_back(&fields);
    let Ok(clip) = id.parse::<ClipId>() else {
        return Ok(back(&state, &to, Err(ApiError::not_found("no such clip"))));
    };
    let outcome = match action.as_str() {
        "approve" => state
            .writer
            .approve_clips(admin.user, vec![clip])
            .await
            .map(|_| format!("Approved clip #{clip}; it competes in the open slot."))
            .map_err(ApiError::from),
        "reject" => match check_reason(fields.one("reason")) {
            Ok(reason) => state
                .writer
                .reject_clips(admin.user, vec![clip], reason)
                .await
                .map(|_| format!("Rejected clip #{clip}."))
                .map_err(ApiError::from),
            Err(error) => Err(error),
        },
        _ => return Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "No such clip action.")),
    };
    Ok(back(&state, &to, outcome))
}

/// `POST /admin/clips/bulk`: `clip_ids` (repeated), `action`, `reason`; all or nothing.
pub(super) async fn bulk_clips(State(state): State<AppState>, caller: Caller, form: FormResult) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let to = clips_back(&fields);
    let ids: Result<Vec<ClipId>, _> = fields.all("clip_ids").map(str::parse::<ClipId>).collect();
    let outcome = match ids {
        Err(_) => Err(ApiError::invalid("clip ids must be positive whole numbers")),
        Ok(ids) if ids.is_empty() => Err(ApiError::invalid("tick at least one clip")),
        Ok(ids) if ids.len() > MAX_BULK_CLIPS => Err(ApiError::invalid("select at most 100 clips at once")),
        Ok(ids) => match fields.one("action") {
            Some("approve") => state
                .writer
                .approve_clips(admin.user, ids)
                .await
                .map(|clips| format!("Approved {}.", plural(clips.len(), "clip", "clips")))
                .map_err(ApiError::from),
            Some("reject") => match check_reason(fields.one("reason")) {
                Ok(reason) => state
                    .writer
                    .reject_clips(admin.user, ids, reason)
                    .await
                    .map(|clips| format!("Rejected {}.", plural(clips.len(), "clip", "clips")))
                    .map_err(ApiError::from),
                Err(error) => Err(error),
            },
            _ => Err(ApiError::invalid("choose approve or reject")),
        },
    };
    Ok(back(&state, &to, outcome))
}
