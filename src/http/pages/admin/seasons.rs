//! Admin console: seasons and slots.

use super::*;
use crate::domain::genre;

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
    /// The community's genre vote (the open round), most votes first, as
    /// "genre: N% (votes)".
    genre_votes: Vec<String>,
    /// The open round's winner, pre-selected in the create form.
    next_genre: Option<String>,
    /// The newest closed genre rounds with their results.
    past_rounds: Vec<GenreRoundRow>,
}

/// A closed genre round on the console.
struct GenreRoundRow {
    round: u64,
    /// The season whose finish closed it.
    closed_by: String,
    closed_at: String,
    /// The winning genre, or empty when nobody voted.
    winner: String,
    /// "genre: N% (votes)", most votes first.
    lines: Vec<String>,
}

/// A round's tallies, most votes first, as "genre: N% (votes)".
fn tally_lines(tallies: &[(String, u64)]) -> Vec<String> {
    let mut tallies: Vec<&(String, u64)> = tallies.iter().filter(|(_, votes)| *votes > 0).collect();
    tallies.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(&b.0)));
    let total: u64 = tallies.iter().map(|(_, n)| n).sum();
    tallies
        .iter()
        .map(|(genre, votes)| format!("{genre}: {}% ({votes})", genres::whole_percent(*votes, total)))
        .collect()
}

fn slot_hours(secs: u64) -> String {
    if secs.is_multiple_of(3600) { format!("{} h", secs / 3600) } else { format!("{secs} s") }
}

/// `GET /admin/seasons`: every season, the create form, and the active season's slots.
pub async fn seasons_page(State(state): State<AppState>, caller: Caller, query: QueryResult) -> PageResult {
    let (_, query) = admin_page(&state, &caller, query)?;
    let overview =
        moderation::seasons(&state.services).await.map_err(|error| server_problem(&state, &caller, &error))?;
    let genre_votes = tally_lines(&overview.genre_votes);
    let past_rounds = overview
        .past_genre_rounds
        .iter()
        .map(|round| {
            let season = round.closed_by.and_then(|id| overview.seasons.iter().find(|season| season.id == id));
            GenreRoundRow {
                round: round.round,
                closed_by: match (season, round.closed_by) {
                    (Some(season), _) => format!("\u{201c}{}\u{201d}", season.title),
                    (None, Some(id)) => format!("season {id}"),
                    (None, None) => "a season".to_owned(),
                },
                closed_at: when(round.closed_at),
                winner: genre::round_winner(&round.tallies).unwrap_or_default().to_owned(),
                lines: tally_lines(&round.tallies),
            }
        })
        .collect();
    let seasons = overview
        .seasons
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
    let board = moderation::slot_board(&state.services);
    let slots = board
        .slots
        .iter()
        .map(|(slot, winner)| SlotRow {
            position: slot.position.get(),
            status: slot.status.as_str(),
            winner: winner.clone(),
            ends_at: slot.voting_ends_at.map(when).unwrap_or_default(),
        })
        .collect();
    let choices = board
        .choices
        .iter()
        .map(|c| ClipChoice { id: c.clip.id.get(), title: c.clip.title.clone(), votes: c.counter.vote_count })
        .collect();
    let page = SeasonsPage {
        chrome: Chrome::new(&state, &caller),
        flash: Flash::from_query(&state, &query),
        section: "seasons",
        seasons,
        genres: state.services.config.genres.clone(),
        active_title: board.season_title,
        slots,
        open_position: board.open.as_ref().map(|slot| slot.position.get()),
        open_status: board.open.as_ref().map(|slot| slot.status.as_str()).unwrap_or(""),
        choices,
        unlockable: board.unlockable.map(|position| position.get()),
        genre_votes,
        next_genre: overview.next_genre.map(|genre| genre.into_string()),
        past_rounds,
    };
    Ok(render(&page, StatusCode::OK))
}

/// The create form as a draft (the service checks it as it checks the
/// API's body); only the numbers are read here, as whole hours and slots.
fn season_draft(fields: &Fields) -> Result<SeasonDraft, ServiceError> {
    let number = |key: &str, default: u64| match fields.one(key).map(str::trim).filter(|raw| !raw.is_empty()) {
        None => Some(default),
        Some(raw) => raw.parse::<u64>().ok(),
    };
    let total_slots = number("total_slots", 75)
        .and_then(|n| u32::try_from(n).ok())
        .filter(|n| (1..=500).contains(n))
        .ok_or_else(|| ServiceError::invalid("total slots must be a whole number from 1 to 500"))?;
    let hours = number("slot_hours", 24)
        .filter(|n| (1..=720).contains(n))
        .ok_or_else(|| ServiceError::invalid("the slot duration must be a whole number of hours from 1 to 720"))?;
    Ok(SeasonDraft {
        title: fields.one("title").unwrap_or("").to_owned(),
        genre: fields.one("genre").unwrap_or("").to_owned(),
        description: fields.one("description").unwrap_or("").to_owned(),
        total_slots: Some(total_slots),
        slot_duration_secs: Some(hours * 3600),
    })
}

/// `POST /admin/seasons`: a draft season.
pub async fn create_season(State(state): State<AppState>, caller: Caller, form: FormResult) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let outcome = match season_draft(&fields) {
        Ok(draft) => moderation::create_season(&state.services, admin.user, draft)
            .await
            .map(|season| format!("Created the draft season \"{}\".", season.title)),
        Err(error) => Err(error),
    };
    Ok(back(&state, "/admin/seasons", outcome))
}

/// `POST /admin/seasons/{id}/{activate|finish|archive|delete}`.
pub async fn season_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((id, action)): Path<(String, String)>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    // The console deletes drafts through the same path as the transitions.
    let action = match action.as_str() {
        "delete" => None,
        other => match SeasonAction::parse(other) {
            Some(action) => Some(action),
            None => {
                return Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "No such season action."));
            }
        },
    };
    let Ok(season) = id.parse::<SeasonId>() else {
        return Ok(back(&state, "/admin/seasons", Err(ServiceError::not_found("no such season"))));
    };
    let outcome = match action {
        None => moderation::delete_season(&state.services, admin.user, season, fields.one("confirm").unwrap_or(""))
            .await
            .map(|()| format!("Deleted season #{season}.")),
        Some(action) => moderation::season_action(&state.services, admin.user, season, action)
            .await
            .map(|season| format!("Season \"{}\" is now {}.", season.title, season.status.as_str())),
    };
    Ok(back(&state, "/admin/seasons", outcome))
}

fn parse_position(raw: Option<&str>) -> Result<SlotPosition, ServiceError> {
    raw.and_then(|raw| raw.trim().parse::<u32>().ok())
        .and_then(SlotPosition::new)
        .ok_or_else(|| ServiceError::invalid("the slot position must be a whole number from 1"))
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
pub async fn advance_now(State(state): State<AppState>, caller: Caller, form: FormResult) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    let outcome = match parse_position(fields.one("position")) {
        Ok(expected) => {
            moderation::advance(&state.services, admin.user, Some(expected)).await.map(|outcome| advance_text(&outcome))
        }
        Err(error) => Err(error),
    };
    Ok(back(&state, "/admin/seasons", outcome))
}

/// `POST /admin/slots/{position}/{assign-winner|reset-votes|unlock}`.
pub async fn slot_action(
    State(state): State<AppState>,
    caller: Caller,
    Path((raw, action)): Path<(String, String)>,
    form: FormResult,
) -> PageResult {
    let (admin, fields) = admin_form(&state, &caller, form)?;
    // The console names assigning a winner as a slot action too.
    let action = match action.as_str() {
        "assign-winner" => None,
        other => match SlotAction::parse(other) {
            Some(action) => Some(action),
            None => {
                return Err(problem(&state, &caller, StatusCode::NOT_FOUND, "Nothing here", "No such slot action."));
            }
        },
    };
    let position = match parse_position(Some(&raw)) {
        Ok(position) => position,
        Err(_) => return Ok(back(&state, "/admin/seasons", Err(ServiceError::not_found("no such slot")))),
    };
    // Unlocking and voiding votes are not undone by a click: the box must be ticked.
    let confirmed = fields.one("confirm") == Some("yes");
    let outcome = match action {
        None => assign_winner(&state, &admin, position, fields.one("clip_id")).await,
        Some(SlotAction::ResetVotes) if !confirmed => {
            Err(ServiceError::invalid("tick the box to confirm resetting the votes"))
        }
        Some(SlotAction::Unlock) if !confirmed => {
            Err(ServiceError::invalid("tick the box to confirm unlocking the slot"))
        }
        Some(action) => {
            moderation::slot_action(&state.services, admin.user, position, action).await.map(|done| match done {
                SlotActionOutcome::Reset { voided } => {
                    format!("Reset slot {position}: voided {}.", plural(voided, "vote", "votes"))
                }
                SlotActionOutcome::Unlocked => format!("Slot {position} is open for voting again."),
            })
        }
    };
    Ok(back(&state, "/admin/seasons", outcome))
}

pub async fn assign_winner(
    state: &AppState,
    admin: &SessionUser,
    position: SlotPosition,
    clip: Option<&str>,
) -> Result<String, ServiceError> {
    let clip = clip
        .and_then(|raw| raw.parse::<ClipId>().ok())
        .ok_or_else(|| ServiceError::invalid("choose the winning clip"))?;
    let outcome = moderation::assign_winner(&state.services, admin.user, position, clip).await?;
    Ok(advance_text(&outcome))
}
