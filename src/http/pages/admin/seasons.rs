//! Admin console: seasons and slots.

use super::*;

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
pub(super) async fn seasons_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
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
pub(super) async fn create_season(State(state): State<AppState>, caller: Caller, form: FormResult) -> PageResult {
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
pub(super) async fn season_action(
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
pub(super) async fn advance_now(State(state): State<AppState>, caller: Caller, form: FormResult) -> PageResult {
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
pub(super) async fn slot_action(
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

pub(super) async fn assign_winner(
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
