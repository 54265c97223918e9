//! The demo season seed, written once.

use redb::ReadableTable;

use super::super::StoreError;
use super::super::records::{self, SeasonRecord, SlotRecord};
use super::{Batch, WriteError, WriterHandle};
use crate::domain::account::Username;
use crate::domain::clock::Timestamp;
use crate::domain::ids::{ClipId, SeasonId, SlotPosition, UserId};
use crate::domain::model::{Clip, Season, Slot};
use crate::domain::tournament::{ClipStatus, SeasonStatus, SlotStatus};
use crate::store::tables::meta_keys;

/// A clip to create when seeding a demo season.
#[derive(Debug, Clone)]
pub struct SeedClip {
    /// Title.
    pub title: String,
    /// Description.
    pub description: String,
    /// Genre.
    pub genre: String,
    /// Index into [`DemoSeed::creators`].
    pub creator: usize,
    /// Video path under the media root.
    pub video_path: String,
    /// Poster path under the media root.
    pub poster_path: String,
    /// Duration.
    pub duration_ms: u32,
}

/// An active season with approved clips in its first slot.
#[derive(Debug, Clone)]
pub struct DemoSeed {
    /// Season title.
    pub title: String,
    /// Season genre.
    pub genre: String,
    /// Season description.
    pub description: String,
    /// Number of slots.
    pub total_slots: u32,
    /// Voting window per slot.
    pub slot_duration_secs: u64,
    /// Usernames of the demo creators (accounts without a password: they
    /// cannot sign in).
    pub creators: Vec<String>,
    /// Clips for slot 1.
    pub clips: Vec<SeedClip>,
}

impl DemoSeed {
    /// A season for tests and benchmarks: `clips` clips by one creator
    /// (`maker`) in slot 1, whose media files need not exist.
    pub fn placeholder(title: &str, total_slots: u32, slot_duration_secs: u64, clips: u64) -> DemoSeed {
        DemoSeed {
            title: title.to_owned(),
            genre: "test".into(),
            description: String::new(),
            total_slots,
            slot_duration_secs,
            creators: vec!["maker".into()],
            clips: (1..=clips)
                .map(|n| SeedClip {
                    title: format!("clip {n}"),
                    description: String::new(),
                    genre: "test".into(),
                    creator: 0,
                    video_path: format!("{n:02x}/video.mp4"),
                    poster_path: format!("{n:02x}/poster.jpg"),
                    duration_ms: 8000,
                })
                .collect(),
        }
    }
}

impl WriterHandle {
    /// Seeds the demo season once; `Ok(false)` when it was already seeded or
    /// another season is active.
    pub async fn seed_demo(&self, seed: DemoSeed) -> Result<bool, WriteError> {
        self.run(move |batch| Ok(Ok(batch.seed_demo(&seed)?))).await
    }
}

fn zero(what: &'static str) -> StoreError {
    StoreError::Corrupt { what: "meta", reason: format!("zero {what} id") }
}

impl Batch<'_> {
    fn seed_demo(&mut self, seed: &DemoSeed) -> Result<bool, StoreError> {
        if self.meta.get(meta_keys::DEMO_SEEDED)?.is_some() {
            return Ok(false);
        }
        if self.meta.get(meta_keys::ACTIVE_SEASON)?.map(|v| v.value()).unwrap_or(0) != 0 {
            tracing::info!("a season is already active; demo season not seeded");
            return Ok(false);
        }
        let mut creators = Vec::with_capacity(seed.creators.len());
        for name in &seed.creators {
            let username =
                Username::parse(name).map_err(|e| StoreError::Corrupt { what: "seed", reason: e.to_string() })?;
            let existing = self.usernames.get(username.as_str())?.map(|v| v.value()).and_then(UserId::new);
            let id = match existing {
                Some(id) => id,
                None => match self.create_user(&username, String::new(), false)? {
                    Ok(user) => user.id,
                    Err(error) => return Err(StoreError::Corrupt { what: "seed", reason: error.to_string() }),
                },
            };
            creators.push((id, username.as_str().to_owned()));
        }
        let season_id = SeasonId::new(self.next_id(meta_keys::NEXT_SEASON_ID)?).ok_or_else(|| zero("season"))?;
        let season = Season {
            id: season_id,
            title: seed.title.clone(),
            genre: seed.genre.clone(),
            description: seed.description.clone(),
            status: SeasonStatus::Active,
            total_slots: seed.total_slots,
            slot_duration_secs: seed.slot_duration_secs,
            created_at: self.now,
        };
        self.seasons.insert(season_id.get(), records::encode(&SeasonRecord::from(&season)).as_slice())?;
        for position in (1..=seed.total_slots).filter_map(SlotPosition::new) {
            let first = position == SlotPosition::FIRST;
            let slot = Slot {
                season: season_id,
                position,
                status: if first { SlotStatus::Voting } else { SlotStatus::Upcoming },
                voting_started_at: first.then_some(self.now),
                voting_ends_at: first.then(|| self.now.plus_secs(seed.slot_duration_secs)),
                winner: None,
            };
            self.slots
                .insert((season_id.get(), position.get()), records::encode(&SlotRecord::from(&slot)).as_slice())?;
        }
        for (index, seed_clip) in seed.clips.iter().enumerate() {
            let Some((creator, username)) = creators.get(seed_clip.creator).cloned() else { continue };
            let clip_id = ClipId::new(self.next_id(meta_keys::NEXT_CLIP_ID)?).ok_or_else(|| zero("clip"))?;
            let clip = Clip {
                id: clip_id,
                season: season_id,
                slot_position: SlotPosition::FIRST,
                title: seed_clip.title.clone(),
                description: seed_clip.description.clone(),
                genre: seed_clip.genre.clone(),
                creator,
                creator_username: username,
                video_path: seed_clip.video_path.clone(),
                poster_path: seed_clip.poster_path.clone(),
                duration_ms: seed_clip.duration_ms,
                status: ClipStatus::Active,
                rejection_reason: String::new(),
                // Spaced a second apart so "earlier upload wins a tie" is meaningful.
                created_at: Timestamp::from_millis(self.now.millis() + index as i64 * 1000),
            };
            self.put_clip(&clip, None)?;
            let key = (season_id.get(), SlotPosition::FIRST.get(), clip_id.get());
            self.membership.insert(key, ())?;
            self.counters.insert(key, (0, 0))?;
        }
        self.meta.insert(meta_keys::ACTIVE_SEASON, season_id.get())?;
        self.meta.insert(meta_keys::DEMO_SEEDED, 1)?;
        self.structure_changed();
        Ok(true)
    }
}
