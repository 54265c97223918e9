//! The in-memory read model: what hot reads need, kept off storage.
//!
//! It holds the active season, its slots, the open slot's clips with their
//! counts, the winners and the feature flags. It is built from redb at start
//! and changed only by the writer after a batch commits, so a reader never
//! sees a vote that could still be lost.
//!
//! Beside it, the feed's ranking of the open slot's clips
//! ([`FeedOrder`]): rebuilt with the clip set, moved by every view the
//! moment it is counted (views change with every feed request, so the order
//! is kept up to date in place rather than copied per change), and walked by
//! each request for its page.

use std::collections::{BTreeMap, HashMap};

use parking_lot::{Mutex, RwLock};

use crate::domain::clock::Timestamp;
use crate::domain::feed::FeedOrder;
use crate::domain::flags;
use crate::domain::ids::ClipId;
use crate::domain::model::{Season, Slot};
use crate::domain::tally::FrozenTally;
use crate::domain::tournament::SlotStatus;
use crate::domain::vote::VotingFlags;
use crate::store::writer::CommittedEvent;
use crate::store::{ActiveSnapshot, CountedClip, Store, StoreError};

/// What the pages and the feed read.
#[derive(Debug, Clone, Default)]
pub struct ReadState {
    /// The active season.
    pub season: Option<Season>,
    /// Its slots in order.
    pub slots: Vec<Slot>,
    /// Clips competing in the open slot, in upload order.
    pub open_clips: Vec<CountedClip>,
    /// Index into `open_clips` by id.
    open_index: HashMap<ClipId, usize>,
    /// Winners of locked slots, by position.
    pub winners: BTreeMap<u32, CountedClip>,
    /// Stored flag values.
    pub stored_flags: HashMap<String, bool>,
    /// Published tallies of locked slots, by position.
    pub tallies: BTreeMap<u32, FrozenTally>,
}

impl ReadState {
    fn from_snapshot(mut snapshot: ActiveSnapshot) -> Self {
        snapshot.open_clips.sort_by_key(|counted| (counted.clip.created_at, counted.clip.id));
        let open_index = snapshot.open_clips.iter().enumerate().map(|(i, c)| (c.clip.id, i)).collect();
        ReadState {
            season: snapshot.season,
            slots: snapshot.slots,
            open_clips: snapshot.open_clips,
            open_index,
            winners: snapshot.winners,
            stored_flags: snapshot.flags,
            tallies: snapshot.tallies,
        }
    }

    /// The slot that is voting or waiting for clips.
    pub fn open_slot(&self) -> Option<&Slot> {
        self.slots.iter().find(|slot| matches!(slot.status, SlotStatus::Voting | SlotStatus::WaitingForClips))
    }

    /// A clip of the open slot.
    pub fn open_clip(&self, id: ClipId) -> Option<&CountedClip> {
        self.open_index.get(&id).and_then(|index| self.open_clips.get(*index))
    }

    /// A clip's place in `open_clips`, if it competes in the open slot.
    pub fn open_index(&self, id: ClipId) -> Option<usize> {
        self.open_index.get(&id).copied()
    }

    /// The flags the vote rules read.
    pub fn voting_flags(&self) -> VotingFlags {
        flags::voting_flags(&self.stored_flags)
    }

    /// The open slot's clips as the feed ranks them: id, upload time, views.
    fn feed_clips(&self) -> impl Iterator<Item = (ClipId, Timestamp, u64)> + '_ {
        self.open_clips.iter().map(|counted| (counted.clip.id, counted.clip.created_at, counted.view_count))
    }
}

/// Shared, lock-protected read state. Writers hold the lock only to apply a
/// committed batch; readers copy out what they need.
///
/// Lock order: `state` before `feed`; [`ReadModel::count_views`] takes
/// `feed` alone.
pub struct ReadModel {
    state: RwLock<ReadState>,
    /// The feed's ranking of `state.open_clips`.
    feed: Mutex<FeedOrder>,
    store: Store,
}

impl ReadModel {
    /// Builds the model from storage.
    pub fn load(store: Store) -> Result<ReadModel, StoreError> {
        let state = ReadState::from_snapshot(store.active_snapshot()?);
        let feed = Mutex::new(FeedOrder::new(state.feed_clips(), Timestamp::now()));
        Ok(ReadModel { state: RwLock::new(state), feed, store })
    }

    /// Runs `read` against the current state.
    pub fn read<T>(&self, read: impl FnOnce(&ReadState) -> T) -> T {
        read(&self.state.read())
    }

    /// Runs `read` against the current state and the feed's ranking of its
    /// open clips (the two always agree on the clip set).
    pub fn read_with_feed<T>(&self, read: impl FnOnce(&ReadState, &mut FeedOrder) -> T) -> T {
        let state = self.state.read();
        read(&state, &mut self.feed.lock())
    }

    /// Counts one view of each of `clips` in the feed's ranking, the moment
    /// they are shown (storage gets them with the next view flush).
    pub fn count_views(&self, clips: &[u64]) {
        if clips.is_empty() {
            return;
        }
        let mut feed = self.feed.lock();
        for clip in clips.iter().filter_map(|clip| ClipId::new(*clip)) {
            feed.add_views(clip, 1);
        }
    }

    /// Applies a committed batch. Called on the writer thread only.
    pub fn apply(&self, events: &[CommittedEvent]) {
        if events.iter().any(|event| matches!(event, CommittedEvent::StructureChanged)) {
            match self.store.active_snapshot() {
                Ok(snapshot) => {
                    let mut state = self.state.write();
                    *state = ReadState::from_snapshot(snapshot);
                    self.feed.lock().replace(state.feed_clips(), Timestamp::now());
                }
                Err(error) => tracing::error!(error = %error, "cannot reload read model after commit"),
            }
            return;
        }
        let mut state = self.state.write();
        let open_position = state.open_slot().map(|slot| slot.position);
        for event in events {
            match event {
                CommittedEvent::Counter { clip, position, counter } => {
                    if Some(*position) != open_position {
                        continue;
                    }
                    if let Some(index) = state.open_index.get(clip).copied()
                        && let Some(entry) = state.open_clips.get_mut(index)
                    {
                        entry.counter = *counter;
                    }
                }
                CommittedEvent::ViewsChanged { totals } => {
                    // The ranking counted these views when they were shown;
                    // a flushed total only catches it up, never lowers it.
                    let mut feed = self.feed.lock();
                    for (clip, total) in totals {
                        feed.raise_views(*clip, *total);
                        if let Some(index) = state.open_index.get(clip).copied()
                            && let Some(entry) = state.open_clips.get_mut(index)
                        {
                            entry.view_count = *total;
                        }
                    }
                }
                CommittedEvent::FlagChanged { key, enabled } => {
                    state.stored_flags.insert(key.clone(), *enabled);
                }
                _ => {}
            }
        }
    }
}
