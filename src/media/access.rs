//! Who may fetch which media file, and when a file can go: an in-memory map
//! from media name to the clips that use it, kept from committed clips only.
//!
//! - A file used by an approved clip (active or locked) is **public**: served
//!   to anyone, immutable.
//! - A file used only by pending clips is **private** to those clips'
//!   creators and to admins (`private, no-store`), so the upload form is not
//!   a free file host.
//! - A file used by no clip but rejected ones is **gone**: it is hidden at
//!   once and removed from storage. Names are content addresses, so one file
//!   may back several clips (the same bytes uploaded twice, the shared
//!   placeholder poster): it goes only when the last clip using it does.
//!
//! An upload in progress holds a [`Claim`] on the names it is placing from
//! before its file is stored until the writer has committed (or refused) its
//! clip, so a rejection elsewhere cannot remove bytes a new clip is about to
//! use, and a refused upload's files are removed as soon as its claims go.
//!
//! The map is built at start from the clips that are not rejected and then
//! changed only by committed clip events (`apply`), before the writer
//! answers anyone. Serving asks [`MediaAccess::visibility`]: a read lock and
//! one hash lookup, no storage read.

use std::collections::HashMap;

use parking_lot::{Mutex, RwLock};

use crate::domain::ids::{ClipId, UserId};
use crate::domain::model::Clip;
use crate::domain::tournament::ClipStatus;

/// Who may see a file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Visibility {
    /// Anyone: an approved clip uses it.
    Public,
    /// Its pending clips' creators and admins.
    Private,
    /// Nobody: no live clip uses it (rejected, deleted, or never recorded).
    Hidden,
}

/// What one name is used by.
#[derive(Debug, Default)]
struct Uses {
    /// Approved clips using it.
    public: u32,
    /// Creators of pending clips using it (one entry per clip).
    pending: Vec<UserId>,
    /// Uploads in progress placing it.
    claims: u32,
    /// Its removal is under way; new claims wait for it.
    removing: bool,
}

impl Uses {
    fn is_unused(&self) -> bool {
        self.public == 0 && self.pending.is_empty() && self.claims == 0
    }
}

/// One clip's part in the map.
#[derive(Debug, Clone)]
struct ClipUse {
    creator: UserId,
    approved: bool,
    names: [String; 2],
}

impl ClipUse {
    /// `None` for a rejected clip (it uses nothing).
    fn of(clip: &Clip) -> Option<ClipUse> {
        let approved = match clip.status {
            ClipStatus::Active | ClipStatus::Locked => true,
            ClipStatus::Pending => false,
            ClipStatus::Rejected => return None,
        };
        Some(ClipUse { creator: clip.creator, approved, names: [clip.video_path.clone(), clip.poster_path.clone()] })
    }
}

#[derive(Default)]
struct State {
    names: HashMap<String, Uses>,
    clips: HashMap<ClipId, ClipUse>,
    /// Pending clips per creator.
    pending_by_creator: HashMap<UserId, usize>,
}

impl State {
    fn add(&mut self, clip: &ClipUse) {
        if !clip.approved {
            *self.pending_by_creator.entry(clip.creator).or_default() += 1;
        }
        for name in &clip.names {
            let uses = self.names.entry(name.clone()).or_default();
            if clip.approved {
                uses.public += 1;
            } else {
                uses.pending.push(clip.creator);
            }
        }
    }

    /// Takes `clip` out; names left unused are pushed to `unused`.
    fn remove(&mut self, clip: &ClipUse, unused: &mut Vec<String>) {
        if !clip.approved
            && let Some(count) = self.pending_by_creator.get_mut(&clip.creator)
        {
            *count = count.saturating_sub(1);
            if *count == 0 {
                self.pending_by_creator.remove(&clip.creator);
            }
        }
        for name in &clip.names {
            let Some(uses) = self.names.get_mut(name) else { continue };
            if clip.approved {
                uses.public = uses.public.saturating_sub(1);
            } else if let Some(at) = uses.pending.iter().position(|creator| *creator == clip.creator) {
                uses.pending.swap_remove(at);
            }
            if uses.is_unused() && !uses.removing {
                unused.push(name.clone());
            }
        }
    }
}

/// The map from media names to the clips and uploads using them.
#[derive(Default)]
pub struct MediaAccess {
    state: RwLock<State>,
    /// Pending uploads per creator reserved by uploads in progress (see
    /// [`MediaAccess::reserve_pending`]).
    reservations: Mutex<HashMap<UserId, u32>>,
}

impl MediaAccess {
    /// The map of `clips` (rejected ones are skipped).
    pub fn load(clips: impl IntoIterator<Item = Clip>) -> MediaAccess {
        let mut state = State::default();
        for clip in clips {
            if let Some(usage) = ClipUse::of(&clip) {
                state.add(&usage);
                state.clips.insert(clip.id, usage);
            }
        }
        MediaAccess { state: RwLock::new(state), reservations: Mutex::new(HashMap::new()) }
    }

    /// Who may see `name` (a relative media path).
    pub fn visibility(&self, name: &str) -> Visibility {
        match self.state.read().names.get(name) {
            Some(uses) if uses.public > 0 => Visibility::Public,
            Some(uses) if !uses.pending.is_empty() => Visibility::Private,
            _ => Visibility::Hidden,
        }
    }

    /// Whether `viewer` may fetch the private file `name`: one of its
    /// pending clips is theirs.
    pub fn is_pending_of(&self, name: &str, viewer: UserId) -> bool {
        self.state.read().names.get(name).is_some_and(|uses| uses.pending.contains(&viewer))
    }

    /// Pending clips `creator` has now.
    pub fn pending_of(&self, creator: UserId) -> usize {
        self.state.read().pending_by_creator.get(&creator).copied().unwrap_or(0)
    }

    /// Applies committed clips (new ones and status changes). Returns the
    /// names no clip or upload uses any more: the caller removes them.
    pub fn apply(&self, clips: &[Clip]) -> Vec<String> {
        let mut unused = Vec::new();
        let mut state = self.state.write();
        for clip in clips {
            if let Some(old) = state.clips.remove(&clip.id) {
                state.remove(&old, &mut unused);
            }
            if let Some(usage) = ClipUse::of(clip) {
                state.add(&usage);
                state.clips.insert(clip.id, usage);
            }
        }
        // A name freed by one clip and taken by another in the same batch stays.
        unused.retain(|name| state.names.get(name).is_some_and(|uses| uses.is_unused() && !uses.removing));
        unused.sort_unstable();
        unused.dedup();
        unused
    }

    /// Takes a claim on `name` for an upload in progress, unless its removal
    /// is under way (then the caller waits and tries again).
    pub(super) fn try_claim(&self, name: &str) -> bool {
        let mut state = self.state.write();
        let uses = state.names.entry(name.to_owned()).or_default();
        if uses.removing {
            return false;
        }
        uses.claims += 1;
        true
    }

    /// Drops a claim; `true` when nothing uses `name` any more.
    pub(super) fn release(&self, name: &str) -> bool {
        let mut state = self.state.write();
        let Some(uses) = state.names.get_mut(name) else { return false };
        uses.claims = uses.claims.saturating_sub(1);
        if uses.is_unused() && !uses.removing {
            return true;
        }
        false
    }

    /// Marks `name` as being removed if nothing uses it; `false` when
    /// something took it meanwhile (then it stays).
    pub(super) fn begin_removal(&self, name: &str) -> bool {
        let mut state = self.state.write();
        match state.names.get_mut(name) {
            Some(uses) if uses.is_unused() && !uses.removing => {
                uses.removing = true;
                true
            }
            Some(uses) if uses.is_unused() => false,
            Some(_) => false,
            // Never seen (a file left by a crash): nothing can claim it
            // without an entry, so record the removal.
            None => {
                state.names.insert(name.to_owned(), Uses { removing: true, ..Uses::default() });
                true
            }
        }
    }

    /// Ends a removal: the entry goes unless something was added meanwhile.
    pub(super) fn end_removal(&self, name: &str) {
        let mut state = self.state.write();
        if let Some(uses) = state.names.get_mut(name) {
            uses.removing = false;
            if uses.is_unused() {
                state.names.remove(name);
            }
        }
    }

    /// Reserves one of `creator`'s at most `cap` pending uploads for an
    /// upload in progress; `false` when the committed pending clips and the
    /// other reservations already reach the cap. Each reservation is undone
    /// by [`MediaAccess::unreserve_pending`] (after its clip is committed it
    /// counts as a pending clip instead).
    pub(super) fn reserve_pending(&self, creator: UserId, cap: usize) -> bool {
        let mut reservations = self.reservations.lock();
        let reserved = reservations.get(&creator).copied().unwrap_or(0);
        if self.pending_of(creator) + reserved as usize >= cap {
            return false;
        }
        *reservations.entry(creator).or_insert(0) += 1;
        true
    }

    /// Undoes one [`MediaAccess::reserve_pending`].
    pub(super) fn unreserve_pending(&self, creator: UserId) {
        let mut reservations = self.reservations.lock();
        if let Some(count) = reservations.get_mut(&creator) {
            *count = count.saturating_sub(1);
            if *count == 0 {
                reservations.remove(&creator);
            }
        }
    }
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;
    use crate::domain::clock::Timestamp;
    use crate::domain::ids::{SeasonId, SlotPosition};

    fn clip(id: u64, creator: u64, status: ClipStatus, video: &str, poster: &str) -> Clip {
        Clip {
            id: ClipId::new(id).unwrap(),
            season: SeasonId::new(1).unwrap(),
            slot_position: SlotPosition::FIRST,
            title: "t".into(),
            description: String::new(),
            genre: "drama".into(),
            creator: UserId::new(creator).unwrap(),
            creator_username: "c".into(),
            video_path: video.into(),
            poster_path: poster.into(),
            duration_ms: 1000,
            status,
            rejection_reason: String::new(),
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn shared_bytes_stay_until_the_last_clip_using_them_goes() {
        let access = MediaAccess::load([clip(1, 7, ClipStatus::Pending, "v1", "p")]);
        assert_eq!(access.visibility("v1"), Visibility::Private);
        assert!(access.is_pending_of("v1", UserId::new(7).unwrap()));
        assert!(!access.is_pending_of("v1", UserId::new(8).unwrap()));
        assert_eq!(access.visibility("elsewhere"), Visibility::Hidden);
        // A second clip (another creator) with the same poster, approved.
        assert!(access.apply(&[clip(2, 8, ClipStatus::Active, "v2", "p")]).is_empty());
        assert_eq!(access.visibility("p"), Visibility::Public);
        // Rejecting the first frees its video only: the poster is shared.
        assert_eq!(access.apply(&[clip(1, 7, ClipStatus::Rejected, "v1", "p")]), ["v1"]);
        assert_eq!(access.visibility("v1"), Visibility::Hidden);
        assert_eq!(access.visibility("p"), Visibility::Public);
        assert_eq!(access.apply(&[clip(2, 8, ClipStatus::Rejected, "v2", "p")]), ["p", "v2"]);
    }

    #[test]
    fn a_claimed_name_is_not_freed_and_a_freed_name_waits_for_its_removal() {
        let access = MediaAccess::load([clip(1, 7, ClipStatus::Pending, "v", "p")]);
        assert!(access.try_claim("v"));
        assert!(access.apply(&[clip(1, 7, ClipStatus::Rejected, "v", "p")]) == ["p"]);
        assert_eq!(access.visibility("v"), Visibility::Hidden, "claims do not make a file visible");
        assert!(access.release("v"), "the last use went with the claim");
        assert!(access.begin_removal("v"));
        assert!(!access.try_claim("v"), "a claim waits for the removal");
        access.end_removal("v");
        assert!(access.try_claim("v"));
        assert!(!access.begin_removal("v"), "claimed again: it stays");
    }

    #[test]
    fn pending_reservations_count_against_the_cap() {
        let access =
            MediaAccess::load([clip(1, 7, ClipStatus::Pending, "a", "p"), clip(2, 7, ClipStatus::Active, "b", "p")]);
        let creator = UserId::new(7).unwrap();
        assert_eq!(access.pending_of(creator), 1);
        assert!(access.reserve_pending(creator, 3));
        assert!(access.reserve_pending(creator, 3));
        assert!(!access.reserve_pending(creator, 3));
        access.unreserve_pending(creator);
        assert!(access.reserve_pending(creator, 3));
        assert!(access.reserve_pending(UserId::new(8).unwrap(), 1));
    }
}
