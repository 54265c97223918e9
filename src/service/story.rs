//! Public reads of the film: the active season's story so far, one public
//! clip, the feature flags, and the library of finished films with each
//! film's scenes. The story and flags come from the read model; clips
//! outside the open slot and films from storage.

use std::collections::BTreeMap;

use crate::domain::flags;
use crate::domain::ids::{ClipId, SeasonId};
use crate::domain::model::{Clip, Season, Slot};
use crate::domain::tally::FrozenTally;
use crate::domain::tournament::{ClipStatus, SeasonStatus};
use crate::service::{ServiceError, Services};
use crate::store::{CountedClip, SeasonFilm};

/// The active season and its slots, each with its winner once locked.
#[derive(Debug, Clone, Default)]
pub struct Story {
    /// The active season; `None` between seasons.
    pub season: Option<Season>,
    /// Its slots in order.
    pub slots: Vec<(Slot, Option<CountedClip>)>,
    /// The published tally of each locked slot, by position.
    pub tallies: BTreeMap<u32, FrozenTally>,
}

impl Story {
    /// How many slots are locked with a winner.
    pub fn locked(&self) -> usize {
        self.slots.iter().filter(|(_, winner)| winner.is_some()).count()
    }
}

/// The story so far, from memory.
pub fn story(services: &Services) -> Story {
    services.read_model.read(|model| Story {
        season: model.season.clone(),
        slots: model
            .slots
            .iter()
            .map(|slot| (slot.clone(), model.winners.get(&slot.position.get()).cloned()))
            .collect(),
        tallies: model.tallies.clone(),
    })
}

/// The open slot's leading `count` clips by weighted score (ties: the
/// older clip first), from memory in one pass over the slot's clips.
pub fn open_top(services: &Services, count: usize) -> Vec<CountedClip> {
    services.read_model.read(|model| {
        let mut top: Vec<&CountedClip> = Vec::with_capacity(count + 1);
        for candidate in &model.open_clips {
            let rank = |c: &CountedClip| (std::cmp::Reverse(c.counter.weighted_score), c.clip.id);
            let place = top.partition_point(|held| rank(held) < rank(candidate));
            if place < count {
                top.insert(place, candidate);
                top.truncate(count);
            }
        }
        top.into_iter().cloned().collect()
    })
}

/// An approved clip (competing or a winner): from memory when it is in the
/// open slot, with its live counts, else from storage. Pending and rejected
/// clips are not public, so they are not found.
pub async fn public_clip(services: &Services, id: ClipId) -> Result<CountedClip, ServiceError> {
    if let Some(open) = services.read_model.read(|model| model.open_clip(id).cloned()) {
        return Ok(open);
    }
    match services.read(move |store| store.clip(id)).await? {
        Some(counted) if matches!(counted.clip.status, ClipStatus::Active | ClipStatus::Locked) => Ok(counted),
        _ => Err(ServiceError::not_found("no such clip")),
    }
}

/// Every feature flag's key and effective value.
pub fn features(services: &Services) -> Vec<(&'static str, bool)> {
    services.read_model.read(|model| flags::effective_flags(&model.stored_flags))
}

/// Most films listed in the library.
pub const LIBRARY_LIMIT: usize = 50;

/// A finished film in the library: its season and winning clips in slot order.
#[derive(Debug, Clone)]
pub struct Film {
    /// The season.
    pub season: Season,
    /// Each locked slot's winner, in slot order.
    pub scenes: Vec<(Slot, Clip)>,
}

impl Film {
    fn from_season_film((season, slots): SeasonFilm) -> Film {
        let scenes = slots.into_iter().filter_map(|(slot, winner)| winner.map(|clip| (slot, clip))).collect();
        Film { season, scenes }
    }

    /// The film's length: its scenes' durations added up.
    pub fn runtime_ms(&self) -> u64 {
        self.scenes.iter().map(|(_, clip)| u64::from(clip.duration_ms)).sum()
    }
}

/// Finished and archived seasons as films, newest first, at most
/// [`LIBRARY_LIMIT`].
pub async fn library(services: &Services) -> Result<Vec<Film>, ServiceError> {
    services
        .read(|store| {
            let mut films = Vec::new();
            for season in store
                .seasons()?
                .into_iter()
                .filter(|s| matches!(s.status, SeasonStatus::Finished | SeasonStatus::Archived))
                .take(LIBRARY_LIMIT)
            {
                if let Some(film) = store.season_film(season.id)? {
                    films.push(Film::from_season_film(film));
                }
            }
            Ok(films)
        })
        .await
}

/// One season's film (the locked scenes so far); drafts are not films.
pub async fn film(services: &Services, season: SeasonId) -> Result<Film, ServiceError> {
    match services.read(move |store| store.season_film(season)).await? {
        Some(film) if film.0.status != SeasonStatus::Draft => Ok(Film::from_season_film(film)),
        _ => Err(ServiceError::not_found("no such film")),
    }
}
