//! The admin console: server-rendered pages under `/admin`, usable without
//! JavaScript. Each page reads what the matching admin API route reads, and
//! each form does what the matching API route does, through the same writer
//! calls, so the same rules apply and the writer audit-logs every change.
//!
//! Every route needs an admin session: without one the browser is sent to
//! `/login`, other users get a 403 page. Every form post carries the
//! session's form token and answers with a 303 back to its section, carrying
//! a short notice or error in the query string. Those messages come with a
//! keyed tag, so a crafted link cannot make the console show words it did
//! not write.

use std::collections::HashMap;

use askama::Template;
use axum::extract::rejection::{FormRejection, QueryRejection};
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{any, get, post};
use axum::{Form, Router};
use serde::Deserialize;

use super::render;
use super::{Chrome, constant_time_eq, form_token_ok};
use crate::api::error::ApiError;
use crate::api::extract::Caller;
use crate::app::AppState;
use crate::domain::clock::Timestamp;
use crate::domain::flags;
use crate::domain::fraud::RiskReason;
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, UserId, VoteId};
use crate::domain::tournament::{ClipStatus, SeasonStatus, SlotStatus};
use crate::sessions::SessionUser;
use crate::store::StoreError;
use crate::store::writer::{AdvanceOutcome, AdvanceTrigger, NewSeason};

/// Clips per page of the moderation queue.
const CLIPS_PER_PAGE: usize = 20;
/// Users per page of the user search.
const USERS_PER_PAGE: usize = 20;
/// Entries per page of the audit log.
const AUDIT_PER_PAGE: usize = 50;
/// Votes per page of the fraud review.
const FLAGGED_PER_PAGE: usize = 50;
/// Bars in the dashboard chart.
const CHART_MAX_BARS: usize = 20;
/// Deepest page offset accepted (offsets skip entries one by one).
const MAX_OFFSET: usize = 100_000;
/// Most fields a posted form may have.
const MAX_FORM_FIELDS: usize = 1_100;
/// Most clips one bulk moderation may touch (as the API).
const MAX_BULK_CLIPS: usize = 100;
/// Most votes one void may touch (as the API).
const MAX_VOID_VOTES: usize = 1_000;
/// Longest notice or error carried back after a post.
const MAX_FLASH_CHARS: usize = 300;
/// Longest user-name prefix searched for.
const MAX_QUERY_CHARS: usize = 32;

/// Routes under `/admin`.
pub fn router() -> Router<AppState> {
    Router::new()
        .route("/admin", get(dashboard))
        .route("/admin/clips", get(clips_page))
        .route("/admin/clips/bulk", post(bulk_clips))
        .route("/admin/clips/{id}/{action}", post(clip_action))
        .route("/admin/seasons", get(seasons_page).post(create_season))
        .route("/admin/seasons/{id}/{action}", post(season_action))
        .route("/admin/slots/advance", post(advance_now))
        .route("/admin/slots/{position}/{action}", post(slot_action))
        .route("/admin/flags", get(flags_page))
        .route("/admin/flags/{key}", post(set_flag))
        .route("/admin/users", get(users_page))
        .route("/admin/users/{id}/{action}", post(user_action))
        .route("/admin/audit", get(audit_page))
        .route("/admin/flagged", get(flagged_page))
        .route("/admin/flagged/void", post(void_votes))
        .route("/admin/{*rest}", any(unknown_page))
}

type QueryResult = Result<Query<PageQuery>, QueryRejection>;
type FormResult = Result<Form<Vec<(String, String)>>, FormRejection>;
type PageResult = Result<Response, Early>;

/// A page answered before the handler's end (redirect to sign in, 403, 400,
/// a failed read), boxed so results stay small.
struct Early(Box<Response>);

impl From<Response> for Early {
    fn from(response: Response) -> Self {
        Early(Box::new(response))
    }
}

impl IntoResponse for Early {
    fn into_response(self) -> Response {
        *self.0
    }
}

// ---------------------------------------------------------------------------
// Shared machinery: access, rendering, forms, messages, paging.

/// A page that only says what went wrong.
#[derive(Template)]
#[template(path = "admin/problem.html")]
struct ProblemPage {
    chrome: Chrome,
    heading: &'static str,
    message: String,
}

fn problem(state: &AppState, caller: &Caller, status: StatusCode, heading: &'static str, message: &str) -> Early {
    let page = ProblemPage { chrome: Chrome::new(state, caller), heading, message: message.to_owned() };
    render(&page, status).into()
}

fn bad_request(state: &AppState, caller: &Caller, message: &str) -> Early {
    problem(state, caller, StatusCode::BAD_REQUEST, "That request could not be read", message)
}

/// A failed read shown as a page (the cause is logged by `ApiError::internal`).
fn server_problem(state: &AppState, caller: &Caller, error: &ApiError) -> Early {
    let status =
        if error.code() == "unavailable" { StatusCode::SERVICE_UNAVAILABLE } else { StatusCode::INTERNAL_SERVER_ERROR };
    problem(state, caller, status, "Something went wrong", &sentence(error.message()))
}

/// The signed-in admin behind a request: anonymous callers are sent to
/// `/login`, other users get a 403 page.
fn require_admin(state: &AppState, caller: &Caller) -> Result<SessionUser, Early> {
    match &caller.user {
        None => Err(Redirect::to("/login").into_response().into()),
        Some(user) if user.is_admin => Ok(user.clone()),
        Some(_) => Err(problem(
            state,
            caller,
            StatusCode::FORBIDDEN,
            "Admins only",
            "This part of the site is for its admins.",
        )),
    }
}

/// `/admin/...` paths that name no section.
async fn unknown_page(State(state): State<AppState>, caller: Caller) -> PageResult {
    require_admin(&state, &caller)?;
    Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "There is no such admin page."))
}

/// Runs a storage read off the async threads.
async fn load<T: Send + 'static>(read: impl FnOnce() -> Result<T, StoreError> + Send + 'static) -> Result<T, ApiError> {
    Ok(tokio::task::spawn_blocking(read).await??)
}

/// A posted form's fields, in order; repeated keys (checkbox lists) kept.
struct Fields(Vec<(String, String)>);

impl Fields {
    /// The first value of a field.
    fn one(&self, key: &str) -> Option<&str> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v.as_str())
    }

    /// Every value of a repeated field.
    fn all<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.0.iter().filter(move |(k, _)| k == key).map(|(_, v)| v.as_str())
    }
}

/// What every form post does first: an admin session, a readable form, the
/// session's form token.
fn admin_form(state: &AppState, caller: &Caller, form: FormResult) -> Result<(SessionUser, Fields), Early> {
    let admin = require_admin(state, caller)?;
    let Ok(Form(pairs)) = form else {
        return Err(bad_request(state, caller, "The form was not sent as a form, or it was too large."));
    };
    if pairs.len() > MAX_FORM_FIELDS {
        return Err(bad_request(state, caller, "The form has too many fields."));
    }
    let fields = Fields(pairs);
    if !form_token_ok(state, caller, fields.one("csrf")) {
        return Err(problem(
            state,
            caller,
            StatusCode::FORBIDDEN,
            "Form expired",
            "This form does not belong to your session. Reload the page and try again.",
        ));
    }
    Ok((admin, fields))
}

/// Query of every admin page (each reads what it needs).
#[derive(Debug, Default, Deserialize)]
struct PageQuery {
    notice: Option<String>,
    error: Option<String>,
    sig: Option<String>,
    status: Option<String>,
    offset: Option<String>,
    q: Option<String>,
}

/// What every admin page starts with: an admin session and its query.
fn admin_page(state: &AppState, caller: &Caller, query: QueryResult) -> Result<(SessionUser, PageQuery), Early> {
    let admin = require_admin(state, caller)?;
    match query {
        Ok(Query(query)) => Ok((admin, query)),
        Err(_) => Err(bad_request(state, caller, "The address has a malformed query string.")),
    }
}

/// The notice or error carried back to a section after a post.
struct Flash {
    notice: Option<String>,
    error: Option<String>,
}

impl Flash {
    /// Shows the message only if this server tagged it.
    fn from_query(state: &AppState, query: &PageQuery) -> Flash {
        let tagged = |kind: &str, text: &Option<String>| {
            let text = text.as_ref()?;
            let sig = query.sig.as_deref()?;
            constant_time_eq(sig.as_bytes(), flash_tag(state, kind, text).as_bytes()).then(|| text.clone())
        };
        Flash { notice: tagged("notice", &query.notice), error: tagged("error", &query.error) }
    }
}

fn flash_tag(state: &AppState, kind: &str, text: &str) -> String {
    let mut hasher = blake3::Hasher::new_keyed(&state.form_token_key);
    hasher.update(b"aimoviez admin flash\0");
    hasher.update(kind.as_bytes());
    hasher.update(b"\0");
    hasher.update(text.as_bytes());
    hasher.finalize().to_hex()[..32].to_owned()
}

/// Percent-encodes text for a query value (everything but unreserved ASCII).
fn encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// A message as a sentence: capitalised, ended with a stop.
fn sentence(text: &str) -> String {
    let text = text.trim();
    let mut chars = text.chars();
    let mut out: String = match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => return "Something went wrong.".to_owned(),
    };
    if !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

/// The 303 back to a section after a post, with what happened.
fn back(state: &AppState, to: &str, outcome: Result<String, ApiError>) -> Response {
    let (kind, text) = match outcome {
        Ok(text) => ("notice", text),
        Err(error) => ("error", sentence(error.message())),
    };
    let text: String = text.chars().take(MAX_FLASH_CHARS).collect();
    let separator = if to.contains('?') { '&' } else { '?' };
    let tag = flash_tag(state, kind, &text);
    Redirect::to(&format!("{to}{separator}{kind}={}&sig={tag}", encode(&text))).into_response()
}

/// A page offset from the query.
fn parse_offset(raw: Option<&str>) -> Result<usize, String> {
    match raw.map(str::trim).filter(|raw| !raw.is_empty()) {
        None => Ok(0),
        Some(raw) => raw
            .parse::<usize>()
            .ok()
            .filter(|offset| *offset <= MAX_OFFSET)
            .ok_or_else(|| format!("offset must be a whole number up to {MAX_OFFSET}.")),
    }
}

/// Links to the newer and older page of a list.
struct Pager {
    prev: Option<String>,
    next: Option<String>,
}

impl Pager {
    fn new(base: &str, offset: usize, per_page: usize, has_more: bool) -> Pager {
        let separator = if base.contains('?') { '&' } else { '?' };
        let link = |offset: usize| {
            if offset == 0 { base.to_owned() } else { format!("{base}{separator}offset={offset}") }
        };
        Pager {
            prev: (offset > 0).then(|| link(offset.saturating_sub(per_page))),
            next: has_more.then(|| link(offset + per_page)),
        }
    }
}

/// A time as the console shows it: `2025-01-31 18:04 UTC`.
fn when(at: Timestamp) -> String {
    let format = time::macros::format_description!("[year]-[month]-[day] [hour]:[minute] UTC");
    time::OffsetDateTime::from_unix_timestamp_nanos(i128::from(at.millis()) * 1_000_000)
        .ok()
        .and_then(|t| t.format(&format).ok())
        .unwrap_or_default()
}

/// How long until a time: `5h 12m`, or `now` once it passed.
fn until(at: Timestamp) -> String {
    let secs = (at.millis() - Timestamp::now().millis()) / 1000;
    if secs <= 0 {
        return "now".to_owned();
    }
    let (days, hours, minutes) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if days > 0 {
        format!("{days}d {hours}h")
    } else if hours > 0 {
        format!("{hours}h {minutes}m")
    } else {
        format!("{}m", minutes.max(1))
    }
}

/// Shortens text to `max` characters with an ellipsis.
fn shorten(text: &str, max: usize) -> String {
    if text.chars().count() <= max {
        text.to_owned()
    } else {
        let mut short: String = text.chars().take(max.saturating_sub(1)).collect();
        short.push('…');
        short
    }
}

// ---------------------------------------------------------------------------
// Dashboard.

/// The open slot in a few facts.
struct SlotSummary {
    position: u32,
    total_slots: u32,
    status: &'static str,
    ends_at: String,
    ends_in: String,
    clip_count: usize,
}

/// One bar of the chart, laid out in SVG user units.
struct Bar {
    label: String,
    title: String,
    count: u64,
    y: u32,
    text_y: u32,
    width: u32,
    count_x: u32,
}

/// The "votes per clip" chart, laid out on the server.
struct Chart {
    width: u32,
    height: u32,
    bar_x: u32,
    bar_height: u32,
    bars: Vec<Bar>,
    hidden: usize,
}

impl Chart {
    const WIDTH: u32 = 360;
    const BAR_X: u32 = 136;
    const ROW: u32 = 24;
    const BAR_HEIGHT: u32 = 16;
    /// Room left of the bars for labels, right of them for counts.
    const BAR_MAX: u32 = Self::WIDTH - Self::BAR_X - 44;

    fn new(mut clips: Vec<(u64, String, u64)>) -> Chart {
        clips.sort_by(|a, b| b.2.cmp(&a.2).then(a.0.cmp(&b.0)));
        let hidden = clips.len().saturating_sub(CHART_MAX_BARS);
        clips.truncate(CHART_MAX_BARS);
        let max = clips.iter().map(|clip| clip.2).max().unwrap_or(0).max(1);
        let bars: Vec<Bar> = clips
            .into_iter()
            .zip(0u32..)
            .map(|((id, title, count), row)| {
                let y = 4 + row * Self::ROW;
                let scaled = u128::from(count) * u128::from(Self::BAR_MAX) / u128::from(max);
                let width = u32::try_from(scaled).unwrap_or(Self::BAR_MAX);
                Bar {
                    label: shorten(&title, 18),
                    title: format!("#{id} {title}"),
                    count,
                    y,
                    text_y: y + 12,
                    width,
                    count_x: Self::BAR_X + width + 6,
                }
            })
            .collect();
        let rows = u32::try_from(bars.len()).unwrap_or(0);
        Chart {
            width: Self::WIDTH,
            height: rows * Self::ROW + 8,
            bar_x: Self::BAR_X,
            bar_height: Self::BAR_HEIGHT,
            bars,
            hidden,
        }
    }
}

/// `/admin`.
#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct DashboardPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    season_title: Option<String>,
    slot: Option<SlotSummary>,
    chart: Chart,
    pending: String,
    flagged: String,
}

/// A count from a bounded page: `20+` when there are more.
fn count_label(count: usize, more: bool) -> String {
    if more { format!("{count}+") } else { count.to_string() }
}

/// `GET /admin`.
async fn dashboard(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let (season_title, slot, clips) = state.read_model.read(|model| {
        let season = model.season.as_ref();
        let slot = model.open_slot().map(|slot| SlotSummary {
            position: slot.position.get(),
            total_slots: season.map(|s| s.total_slots).unwrap_or(0),
            status: slot.status.as_str(),
            ends_at: slot.voting_ends_at.map(when).unwrap_or_else(|| "—".to_owned()),
            ends_in: slot.voting_ends_at.map(until).unwrap_or_default(),
            clip_count: model.open_clips.len(),
        });
        let clips: Vec<(u64, String, u64)> =
            model.open_clips.iter().map(|c| (c.clip.id.get(), c.clip.title.clone(), c.counter.vote_count)).collect();
        (season.map(|s| s.title.clone()), slot, clips)
    });
    let store = state.store.clone();
    let counts = load(move || {
        let (pending, pending_more) = store.clips_by_status(ClipStatus::Pending, CLIPS_PER_PAGE, 0)?;
        let (flagged, flagged_more) = store.flagged_votes(FLAGGED_PER_PAGE, 0)?;
        Ok((count_label(pending.len(), pending_more), count_label(flagged.len(), flagged_more)))
    })
    .await;
    let (pending, flagged) = counts.map_err(|error| server_problem(&state, &caller, &error))?;
    let page = DashboardPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "dashboard",
        season_title,
        slot,
        chart: Chart::new(clips),
        pending,
        flagged,
    };
    Ok(render(&page, StatusCode::OK))
}

// ---------------------------------------------------------------------------
// Clip moderation.

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
async fn clips_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
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

fn plural(count: usize, one: &str, many: &str) -> String {
    format!("{count} {}", if count == 1 { one } else { many })
}

/// `POST /admin/clips/{id}/{approve|reject}`.
async fn clip_action(
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
async fn bulk_clips(State(state): State<AppState>, caller: Caller, form: FormResult) -> PageResult {
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

// ---------------------------------------------------------------------------
// Seasons and slots.

/// A season in the list.
struct SeasonRow {
    id: u64,
    title: String,
    genre: String,
    status: &'static str,
    total_slots: u32,
    slot_hours: String,
    created_at: String,
    can_activate: bool,
    can_finish: bool,
    can_archive: bool,
    can_delete: bool,
}

/// A slot of the active season.
struct SlotRow {
    position: u32,
    status: &'static str,
    winner: Option<String>,
    ends_at: String,
}

/// A clip an admin can pick as the open slot's winner.
struct ClipChoice {
    id: u64,
    title: String,
    votes: u64,
}

/// `/admin/seasons`.
#[derive(Template)]
#[template(path = "admin/seasons.html")]
struct SeasonsPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    seasons: Vec<SeasonRow>,
    genres: Vec<String>,
    active_title: Option<String>,
    slots: Vec<SlotRow>,
    open_position: Option<u32>,
    open_status: &'static str,
    choices: Vec<ClipChoice>,
    unlockable: Option<u32>,
    /// The community's genre vote, most votes first, as "genre: N% (votes)".
    genre_votes: Vec<String>,
}

fn slot_hours(secs: u64) -> String {
    if secs.is_multiple_of(3600) { format!("{} h", secs / 3600) } else { format!("{secs} s") }
}

/// `GET /admin/seasons`: every season, the create form, and the active season's slots.
async fn seasons_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let store = state.store.clone();
    let seasons = load(move || store.seasons()).await.map_err(|error| server_problem(&state, &caller, &error))?;
    let store = state.store.clone();
    let (mut tallies, _) =
        load(move || store.genre_tallies("")).await.map_err(|error| server_problem(&state, &caller, &error))?;
    tallies.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let total: u64 = tallies.iter().map(|(_, n)| n).sum();
    let genre_votes = tallies
        .iter()
        .filter(|(_, votes)| *votes > 0)
        .map(|(genre, votes)| {
            format!("{genre}: {}% ({votes})", (votes * 100 + total / 2).checked_div(total).unwrap_or(0))
        })
        .collect();
    let seasons = seasons
        .iter()
        .map(|season| SeasonRow {
            id: season.id.get(),
            title: season.title.clone(),
            genre: season.genre.clone(),
            status: season.status.as_str(),
            total_slots: season.total_slots,
            slot_hours: slot_hours(season.slot_duration_secs),
            created_at: when(season.created_at),
            can_activate: season.status == SeasonStatus::Draft,
            can_finish: season.status == SeasonStatus::Active,
            can_archive: season.status == SeasonStatus::Finished,
            can_delete: season.status == SeasonStatus::Draft,
        })
        .collect();
    let (active_title, slots, open, choices, unlockable) = state.read_model.read(|model| {
        let slots: Vec<SlotRow> = model
            .slots
            .iter()
            .map(|slot| SlotRow {
                position: slot.position.get(),
                status: slot.status.as_str(),
                winner: model.winners.get(&slot.position.get()).map(|w| w.clip.title.clone()),
                ends_at: slot.voting_ends_at.map(when).unwrap_or_default(),
            })
            .collect();
        let open = model.open_slot().map(|slot| (slot.position.get(), slot.status.as_str()));
        let mut choices: Vec<ClipChoice> = model
            .open_clips
            .iter()
            .map(|c| ClipChoice { id: c.clip.id.get(), title: c.clip.title.clone(), votes: c.counter.vote_count })
            .collect();
        choices.sort_by(|a, b| b.votes.cmp(&a.votes).then(a.id.cmp(&b.id)));
        // Only the most recently locked slot can be unlocked: the last locked
        // one whose successor is open (or which ends the film).
        let unlockable = model.slots.iter().rev().find(|slot| slot.status == SlotStatus::Locked).and_then(|slot| {
            let next = model.slots.iter().find(|s| s.position == slot.position.next());
            next.is_none_or(|next| matches!(next.status, SlotStatus::Voting | SlotStatus::WaitingForClips))
                .then_some(slot.position.get())
        });
        (model.season.as_ref().map(|s| s.title.clone()), slots, open, choices, unlockable)
    });
    let page = SeasonsPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "seasons",
        seasons,
        genres: state.config.genres.clone(),
        active_title,
        slots,
        open_position: open.map(|(position, _)| position),
        open_status: open.map(|(_, status)| status).unwrap_or(""),
        choices,
        unlockable,
        genre_votes,
    };
    Ok(render(&page, StatusCode::OK))
}

/// The create form, checked as the API checks its body.
fn new_season(state: &AppState, fields: &Fields) -> Result<NewSeason, ApiError> {
    let title = fields.one("title").unwrap_or("").trim().to_owned();
    if title.is_empty() || title.chars().count() > 80 {
        return Err(ApiError::invalid("the title must be 1 to 80 characters"));
    }
    let genre = fields.one("genre").unwrap_or("").trim().to_ascii_lowercase();
    if !state.config.genres.contains(&genre) {
        return Err(ApiError::invalid(format!("the genre must be one of: {}", state.config.genres.join(", "))));
    }
    let description = fields.one("description").unwrap_or("").trim().to_owned();
    if description.chars().count() > 1000 {
        return Err(ApiError::invalid("the description must be at most 1000 characters"));
    }
    let number = |key: &str, default: u64| match fields.one(key).map(str::trim).filter(|raw| !raw.is_empty()) {
        None => Some(default),
        Some(raw) => raw.parse::<u64>().ok(),
    };
    let total_slots = number("total_slots", 75)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (1..=500).contains(n))
        .ok_or_else(|| ApiError::invalid("total slots must be a whole number from 1 to 500"))?;
    let hours = number("slot_hours", 24)
        .filter(|n| (1..=720).contains(n))
        .ok_or_else(|| ApiError::invalid("the slot duration must be a whole number of hours from 1 to 720"))?;
    Ok(NewSeason { title, genre, description, total_slots, slot_duration_secs: hours * 3600 })
}

/// `POST /admin/seasons`: a draft season.
async fn create_season(State(state): State<AppState>, caller: Caller, form: FormResult) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let outcome = match new_season(&state, &fields) {
        Ok(new) => state
            .writer
            .create_season(admin.user, new)
            .await
            .map(|season| format!("Created the draft season \"{}\".", season.title))
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    Ok(back(&state, "/admin/seasons", outcome))
}

/// `POST /admin/seasons/{id}/{activate|finish|archive|delete}`.
async fn season_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let to = match action.as_str() {
        "activate" => SeasonStatus::Active,
        "finish" => SeasonStatus::Finished,
        "archive" => SeasonStatus::Archived,
        "delete" => SeasonStatus::Draft,
        _ => return Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "No such season action.")),
    };
    let Ok(season) = id.parse::<SeasonId>() else {
        return Ok(back(&state, "/admin/seasons", Err(ApiError::not_found("no such season"))));
    };
    let outcome = if action == "delete" {
        let confirm = fields.one("confirm").unwrap_or("").trim().to_owned();
        state
            .writer
            .delete_season(admin.user, season, confirm)
            .await
            .map(|()| format!("Deleted season #{season}."))
            .map_err(ApiError::from)
    } else {
        state
            .writer
            .season_transition(admin.user, season, to)
            .await
            .map(|season| format!("Season \"{}\" is now {}.", season.title, season.status.as_str()))
            .map_err(ApiError::from)
    };
    Ok(back(&state, "/admin/seasons", outcome))
}

fn parse_position(raw: Option<&str>) -> Result<SlotPosition, ApiError> {
    raw.and_then(|raw| raw.trim().parse::<u32>().ok())
        .and_then(SlotPosition::new)
        .ok_or_else(|| ApiError::invalid("the slot position must be a whole number from 1"))
}

fn advance_text(outcome: &AdvanceOutcome) -> String {
    match outcome {
        AdvanceOutcome::Locked { position, winner, season_finished } => {
            let mut text = format!("Slot {position} is locked with clip #{winner} as its winner.");
            if *season_finished {
                text.push_str(" That was the last slot: the season is finished.");
            }
            text
        }
        AdvanceOutcome::WaitingForClips { position } => {
            format!("Slot {position} had no clips; it now waits for some.")
        }
        AdvanceOutcome::NothingToDo => "Nothing to do.".to_owned(),
    }
}

/// `POST /admin/slots/advance` with `position` (the slot the admin saw open):
/// close it now, by the scheduler's code; refused if another slot is open by now.
async fn advance_now(State(state): State<AppState>, caller: Caller, form: FormResult) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let outcome = match parse_position(fields.one("position")) {
        Ok(expected) => state
            .writer
            .advance(AdvanceTrigger::Manual { actor: admin.user, winner: None, expected: Some(expected) })
            .await
            .map(|outcome| advance_text(&outcome))
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    Ok(back(&state, "/admin/seasons", outcome))
}

/// `POST /admin/slots/{position}/{assign-winner|reset-votes|unlock}`.
async fn slot_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((raw, action)): Path<(String, String)>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    if !matches!(action.as_str(), "assign-winner" | "reset-votes" | "unlock") {
        return Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "No such slot action."));
    }
    let position = match parse_position(Some(&raw)) {
        Ok(position) => position,
        Err(_) => return Ok(back(&state, "/admin/seasons", Err(ApiError::not_found("no such slot")))),
    };
    let confirmed = fields.one("confirm") == Some("yes");
    let outcome = match action.as_str() {
        "assign-winner" => assign_winner(&state, &admin, position, fields.one("clip_id")).await,
        "reset-votes" if !confirmed => Err(ApiError::invalid("tick the box to confirm resetting the votes")),
        "reset-votes" => state
            .writer
            .reset_slot_votes(admin.user, position)
            .await
            .map(|voided| format!("Reset slot {position}: voided {}.", plural(voided, "vote", "votes")))
            .map_err(ApiError::from),
        _ if !confirmed => Err(ApiError::invalid("tick the box to confirm unlocking the slot")),
        _ => state
            .writer
            .unlock_slot(admin.user, position)
            .await
            .map(|()| format!("Slot {position} is open for voting again."))
            .map_err(ApiError::from),
    };
    Ok(back(&state, "/admin/seasons", outcome))
}

async fn assign_winner(
    state: &AppState,
    admin: &SessionUser,
    position: SlotPosition,
    clip: Option<&str>,
) -> Result<String, ApiError> {
    let clip =
        clip.and_then(|raw| raw.parse::<ClipId>().ok()).ok_or_else(|| ApiError::invalid("choose the winning clip"))?;
    let open = state.read_model.read(|model| model.open_slot().map(|slot| slot.position));
    if open != Some(position) {
        return Err(ApiError::conflict("a winner can only be assigned in the open slot"));
    }
    let trigger = AdvanceTrigger::Manual { actor: admin.user, winner: Some(clip), expected: Some(position) };
    let outcome = state.writer.advance(trigger).await?;
    Ok(advance_text(&outcome))
}

// ---------------------------------------------------------------------------
// Feature flags.

/// A flag with its value.
struct FlagRow {
    key: &'static str,
    description: &'static str,
    enabled: bool,
    default: bool,
}

/// `/admin/flags`.
#[derive(Template)]
#[template(path = "admin/flags.html")]
struct FlagsPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    flags: Vec<FlagRow>,
}

/// `GET /admin/flags`.
async fn flags_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let stored = state.read_model.read(|model| model.stored_flags.clone());
    let flags = flags::FLAGS
        .iter()
        .map(|spec| FlagRow {
            key: spec.key,
            description: spec.description,
            enabled: stored.get(spec.key).copied().unwrap_or(spec.default),
            default: spec.default,
        })
        .collect();
    let page = FlagsPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "flags",
        flags,
    };
    Ok(render(&page, StatusCode::OK))
}

/// `POST /admin/flags/{key}` with `enabled=true|false`: effective on the next request.
async fn set_flag(
    State(state): State<AppState>,
    caller: Caller,
    Path(key): Path<String>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let Some(spec) = flags::FLAGS.iter().find(|spec| spec.key == key) else {
        return Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "No such feature flag."));
    };
    let outcome = match fields.one("enabled") {
        Some("true") => Ok(true),
        Some("false") => Ok(false),
        _ => Err(ApiError::invalid("enabled must be true or false")),
    };
    let outcome = match outcome {
        Ok(enabled) => state
            .writer
            .set_flag(spec.key.to_owned(), enabled, Some(admin.user))
            .await
            .map(|()| format!("{} is now {}.", spec.key, if enabled { "on" } else { "off" }))
            .map_err(ApiError::from),
        Err(error) => Err(error),
    };
    Ok(back(&state, "/admin/flags", outcome))
}

// ---------------------------------------------------------------------------
// Users.

/// A user in the search results.
struct UserRow {
    id: u64,
    username: String,
    is_admin: bool,
    banned: bool,
    created_at: String,
    is_me: bool,
}

/// `/admin/users`.
#[derive(Template)]
#[template(path = "admin/users.html")]
struct UsersPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    q: String,
    users: Vec<UserRow>,
    pager: Pager,
}

/// The name prefix searched for, as stored names are: trimmed, lowercase.
fn user_prefix(raw: Option<&str>) -> String {
    raw.unwrap_or("").trim().to_ascii_lowercase().chars().take(MAX_QUERY_CHARS).collect()
}

fn users_path(q: &str) -> String {
    if q.is_empty() { "/admin/users".to_owned() } else { format!("/admin/users?q={}", encode(q)) }
}

/// `GET /admin/users?q=&offset=`: users by name prefix, in name order.
async fn users_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (admin, query) = admin_page(&state, &caller, query)?;
    let offset = parse_offset(query.offset.as_deref()).map_err(|message| bad_request(&state, &caller, &message))?;
    let q = user_prefix(query.q.as_deref());
    let store = state.store.clone();
    let prefix = q.clone();
    let users = load(move || store.users_by_prefix(&prefix, USERS_PER_PAGE + 1, offset))
        .await
        .map_err(|error| server_problem(&state, &caller, &error))?;
    let has_more = users.len() > USERS_PER_PAGE;
    let users = users
        .iter()
        .take(USERS_PER_PAGE)
        .map(|user| UserRow {
            id: user.id.get(),
            username: user.username.clone(),
            is_admin: user.is_admin,
            banned: user.banned,
            created_at: when(user.created_at),
            is_me: user.id == admin.user,
        })
        .collect();
    let page = UsersPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "users",
        pager: Pager::new(&users_path(&q), offset, USERS_PER_PAGE, has_more),
        q,
        users,
    };
    Ok(render(&page, StatusCode::OK))
}

/// `POST /admin/users/{id}/{ban|unban|grant-admin|revoke-admin}`.
async fn user_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let to = users_path(&user_prefix(fields.one("q")));
    let (ban, grant) = match action.as_str() {
        "ban" => (Some(true), None),
        "unban" => (Some(false), None),
        "grant-admin" => (None, Some(true)),
        "revoke-admin" => (None, Some(false)),
        _ => return Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "No such user action.")),
    };
    let Ok(target) = id.parse::<UserId>() else {
        return Ok(back(&state, &to, Err(ApiError::not_found("no such user"))));
    };
    if target == admin.user && (ban == Some(true) || grant == Some(false)) {
        return Ok(back(&state, &to, Err(ApiError::conflict("admins cannot ban or demote themselves"))));
    }
    let outcome = match (ban, grant) {
        (Some(banned), _) => state.writer.set_banned(admin.user, target, banned).await.map(|user| {
            if banned {
                format!("@{} is banned and signed out everywhere.", user.username)
            } else {
                format!("@{} is no longer banned.", user.username)
            }
        }),
        (None, grant) => {
            let grant = grant == Some(true);
            state.writer.set_admin(admin.user, target, grant).await.map(|user| {
                if grant {
                    format!("@{} is now an admin.", user.username)
                } else {
                    format!("@{} is no longer an admin.", user.username)
                }
            })
        }
    };
    Ok(back(&state, &to, outcome.map_err(ApiError::from)))
}

// ---------------------------------------------------------------------------
// Audit log.

/// One audit entry.
struct AuditRow {
    at: String,
    actor: String,
    action: String,
    resource: String,
    details: String,
}

/// `/admin/audit`.
#[derive(Template)]
#[template(path = "admin/audit.html")]
struct AuditPage {
    chrome: Chrome,
    flash: Flash,
    section: &'static str,
    entries: Vec<AuditRow>,
    pager: Pager,
}

/// `GET /admin/audit?offset=`: newest first, with the actors' names.
async fn audit_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let offset = parse_offset(query.offset.as_deref()).map_err(|message| bad_request(&state, &caller, &message))?;
    let store = state.store.clone();
    let loaded = load(move || {
        let (entries, has_more) = store.audit_log(AUDIT_PER_PAGE, offset)?;
        // At most one lookup per distinct actor on the page.
        let mut names: HashMap<UserId, String> = HashMap::new();
        for actor in entries.iter().filter_map(|entry| entry.actor) {
            if let std::collections::hash_map::Entry::Vacant(slot) = names.entry(actor) {
                let name = store.user(actor)?.map(|user| format!("@{}", user.username));
                slot.insert(name.unwrap_or_else(|| format!("user #{actor}")));
            }
        }
        Ok((entries, has_more, names))
    })
    .await;
    let (entries, has_more, names) = loaded.map_err(|error| server_problem(&state, &caller, &error))?;
    let entries = entries
        .into_iter()
        .map(|entry| AuditRow {
            at: when(entry.at),
            actor: match entry.actor {
                Some(actor) => names.get(&actor).cloned().unwrap_or_else(|| format!("user #{actor}")),
                None => "system".to_owned(),
            },
            action: entry.action,
            resource: entry.resource,
            details: entry.details,
        })
        .collect();
    let page = AuditPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "audit",
        entries,
        pager: Pager::new("/admin/audit", offset, AUDIT_PER_PAGE, has_more),
    };
    Ok(render(&page, StatusCode::OK))
}

// ---------------------------------------------------------------------------
// Flagged votes.

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
async fn flagged_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let offset = parse_offset(query.offset.as_deref()).map_err(|message| bad_request(&state, &caller, &message))?;
    let store = state.store.clone();
    let (votes, has_more) = load(move || store.flagged_votes(FLAGGED_PER_PAGE, offset))
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
async fn void_votes(State(state): State<AppState>, caller: Caller, form: FormResult) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let ids: Result<Vec<VoteId>, _> = fields.all("vote_ids").map(str::parse::<VoteId>).collect();
    let outcome = match ids {
        Err(_) => Err(ApiError::invalid("vote ids must be positive whole numbers")),
        Ok(ids) if ids.is_empty() => Err(ApiError::invalid("tick at least one vote")),
        Ok(ids) if ids.len() > MAX_VOID_VOTES => Err(ApiError::invalid("select at most 1000 votes at once")),
        Ok(ids) => state
            .writer
            .void_votes(admin.user, ids)
            .await
            .map(|voided| format!("Voided {}.", plural(voided, "vote", "votes")))
            .map_err(ApiError::from),
    };
    Ok(back(&state, "/admin/flagged", outcome))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn encodes_everything_but_unreserved_ascii() {
        assert_eq!(encode("Slot 1 is locked."), "Slot%201%20is%20locked.");
        assert_eq!(encode("a&b=c?d#e+f/%"), "a%26b%3Dc%3Fd%23e%2Bf%2F%25");
        assert_eq!(encode("é"), "%C3%A9");
    }

    #[test]
    fn messages_become_sentences() {
        assert_eq!(sentence("no slot is open"), "No slot is open.");
        assert_eq!(sentence("Done!"), "Done!");
        assert_eq!(sentence("  "), "Something went wrong.");
    }

    #[test]
    fn offsets_are_bounded() {
        assert_eq!(parse_offset(None), Ok(0));
        assert_eq!(parse_offset(Some("")), Ok(0));
        assert_eq!(parse_offset(Some("40")), Ok(40));
        assert!(parse_offset(Some("-1")).is_err());
        assert!(parse_offset(Some("x")).is_err());
        assert!(parse_offset(Some("100001")).is_err());
    }

    #[test]
    fn pager_links_keep_the_query() {
        let pager = Pager::new("/admin/clips?status=active", 20, 20, true);
        assert_eq!(pager.prev.as_deref(), Some("/admin/clips?status=active"));
        assert_eq!(pager.next.as_deref(), Some("/admin/clips?status=active&offset=40"));
        let first = Pager::new("/admin/audit", 0, 50, false);
        assert!(first.prev.is_none() && first.next.is_none());
    }

    #[test]
    fn chart_bars_are_sorted_scaled_and_capped() {
        let clips: Vec<(u64, String, u64)> = (1..=25).map(|id| (id, format!("clip {id}"), id * 2)).collect();
        let chart = Chart::new(clips);
        assert_eq!(chart.bars.len(), CHART_MAX_BARS);
        assert_eq!(chart.hidden, 5);
        assert_eq!(chart.bars[0].count, 50);
        assert_eq!(chart.bars[0].width, Chart::BAR_MAX);
        assert!(chart.bars.windows(2).all(|pair| pair[0].count >= pair[1].count));
        let empty = Chart::new(vec![(1, "quiet".into(), 0)]);
        assert_eq!(empty.bars[0].width, 0);
    }

    #[test]
    fn long_titles_are_shortened() {
        assert_eq!(shorten("short", 18), "short");
        assert_eq!(shorten("a very long title indeed", 10).chars().count(), 10);
    }
}
