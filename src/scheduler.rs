//! The scheduler: every couple of seconds it looks at the read model and,
//! when the open slot's voting window has ended, asks the writer to advance
//! it. The writer re-checks inside its transaction, so a late tick, a second
//! tick or an admin's manual advance racing this one can never advance the
//! same slot twice. A window that ended while the server was down is
//! advanced on the first tick after start.

use std::time::Duration;

use crate::domain::advance;
use crate::domain::clock::Timestamp;
use crate::service::Services;
use crate::store::writer::{AdvanceOutcome, AdvanceTrigger};

/// How often the scheduler looks.
pub const TICK: Duration = Duration::from_secs(1);

/// Runs until the task is aborted.
pub async fn run(state: Services) {
    let mut tick = tokio::time::interval(TICK);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tick.tick().await;
        let due = state.read_model.read(|model| {
            let slot = model.open_slot()?;
            advance::window_ended(slot.status, slot.voting_ends_at, Timestamp::now())
                .then_some((slot.season, slot.position))
        });
        let Some((season, position)) = due else { continue };
        match state.writer.advance(AdvanceTrigger::WindowEnded { season, position }).await {
            Ok(AdvanceOutcome::Locked { position, winner, season_finished }) => {
                tracing::info!(slot.position = %position, clip.id = %winner, season_finished, "voting window ended; winner locked");
            }
            Ok(AdvanceOutcome::WaitingForClips { position }) => {
                tracing::info!(slot.position = %position, "voting window ended without clips; waiting for clips");
            }
            Ok(AdvanceOutcome::NothingToDo) => {}
            Err(error) => tracing::warn!(error = %error, "scheduled advance failed; will retry"),
        }
    }
}
