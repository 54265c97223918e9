//! What the live hub knows about the active season: its slots and the open
//! slot's clips with their counts, copied from the read model after each
//! structural change. From two such views it derives the events a structural
//! change means for live pages (slot opened or locked, clip approved or
//! removed), and it ranks the open slot's clips for the `top` event.
//!
//! Everything here is bounded by the season's slot count and the open slot's
//! clip count, never by the number of votes or of all clips.

use std::collections::HashMap;

use serde::Serialize;

use crate::domain::model::Clip;
use crate::domain::tournament::{ClipStatus, SlotStatus};
use crate::media::urls::MediaUrls;
use crate::readmodel::ReadState;

/// How many clips the `top` event and the snapshot's `top` list carry.
pub const TOP_CLIPS: usize = 5;

/// Most clips whose counts a snapshot lists (the best ranked ones); the
/// snapshot says `"truncated": true` when the open slot holds more.
pub const MAX_SNAPSHOT_CLIPS: usize = 1_000;

/// One slot as the hub tracks it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SlotInfo {
    /// Its position, from 1.
    pub position: u32,
    /// Its lifecycle state.
    pub status: SlotStatus,
    /// The winning clip (locked slots).
    pub winner: Option<u64>,
    /// When voting closes (voting slots), RFC 3339.
    pub voting_ends_at: Option<String>,
}

/// One clip of the open slot with its counts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LiveClip {
    /// Title given by the creator.
    pub title: String,
    /// The creator's username.
    pub creator: String,
    /// Upload (or approval) time in ms, the third tie-break of the ranking.
    pub created_at: i64,
    /// Votes that count.
    pub vote_count: u64,
    /// Sum of their weights.
    pub weighted_score: u64,
}

/// The active season's slots and the open slot's clips.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SlotView {
    /// The active season, if any.
    pub season: Option<u64>,
    /// Its slots in order.
    pub slots: Vec<SlotInfo>,
    /// The open slot's clips by id.
    pub clips: HashMap<u64, LiveClip>,
}

impl SlotView {
    /// Copies what the hub needs out of the read model.
    pub fn from_read_state(state: &ReadState) -> SlotView {
        SlotView {
            season: state.season.as_ref().map(|season| season.id.get()),
            slots: state
                .slots
                .iter()
                .map(|slot| SlotInfo {
                    position: slot.position.get(),
                    status: slot.status,
                    winner: slot.winner.map(|clip| clip.get()),
                    voting_ends_at: slot.voting_ends_at.map(|at| at.to_rfc3339()),
                })
                .collect(),
            clips: state
                .open_clips
                .iter()
                .map(|counted| {
                    let clip = &counted.clip;
                    let live = LiveClip {
                        title: clip.title.clone(),
                        creator: clip.creator_username.clone(),
                        created_at: clip.created_at.millis(),
                        vote_count: counted.counter.vote_count,
                        weighted_score: counted.counter.weighted_score,
                    };
                    (clip.id.get(), live)
                })
                .collect(),
        }
    }

    /// The slot that is voting or waiting for clips.
    pub fn open_slot(&self) -> Option<&SlotInfo> {
        self.slots.iter().find(|slot| matches!(slot.status, SlotStatus::Voting | SlotStatus::WaitingForClips))
    }

    /// The open slot's clips, best first, at most `limit`: highest weighted
    /// score, then more votes, then the earlier upload, then the lower id —
    /// the order `domain::tournament::pick_winner` uses, so the first entry
    /// is the clip that would win if the slot closed now. Costs one pass
    /// over the open slot's clips plus a sort of `limit` entries.
    pub fn ranked(&self, limit: usize) -> Vec<(u64, &LiveClip)> {
        let key = |(id, clip): &(u64, &LiveClip)| {
            (std::cmp::Reverse(clip.weighted_score), std::cmp::Reverse(clip.vote_count), clip.created_at, *id)
        };
        let mut all: Vec<(u64, &LiveClip)> = self.clips.iter().map(|(id, clip)| (*id, clip)).collect();
        if all.len() > limit && limit > 0 {
            all.select_nth_unstable_by_key(limit - 1, key);
            all.truncate(limit);
        } else if limit == 0 {
            all.clear();
        }
        all.sort_unstable_by_key(key);
        all
    }

    /// The `top` payload: the open slot's position and its best clips.
    pub fn top_json(&self) -> serde_json::Result<String> {
        serde_json::to_string(&TopPayload {
            position: self.open_slot().map(|slot| slot.position),
            clips: self.ranked(TOP_CLIPS).into_iter().map(TopClip::from).collect(),
        })
    }

    /// The `snapshot` payload: season, open slot, the counts of its clips
    /// (sorted by id, at most [`MAX_SNAPSHOT_CLIPS`]) and its top clips.
    pub fn snapshot_json(&self) -> serde_json::Result<String> {
        let ranked = self.ranked(MAX_SNAPSHOT_CLIPS);
        let mut clips: Vec<ClipCounts> = ranked.iter().map(|(id, clip)| ClipCounts::of(*id, clip)).collect();
        clips.sort_unstable_by_key(|clip| clip.id);
        let open = self.open_slot();
        serde_json::to_string(&SnapshotPayload {
            season_id: self.season,
            slot: open.map(|slot| OpenSlotPayload {
                position: slot.position,
                status: slot.status.as_str(),
                voting_ends_at: slot.voting_ends_at.as_deref(),
            }),
            truncated: self.clips.len() > clips.len(),
            clips,
            top: ranked.into_iter().take(TOP_CLIPS).map(TopClip::from).collect(),
        })
    }

    /// The events that turning `previous` into `self` means for live pages,
    /// in order, as `(event name, JSON payload)`:
    ///
    /// - a new (or no longer any) active season: one `slot` event with
    ///   `"change": "season"`;
    /// - otherwise one `slot` event per slot whose status changed:
    ///   `"locked"` (with `winnerId`), `"opened"` (with `votingEndsAt`),
    ///   `"waiting"` or `"upcoming"`;
    /// - a `clip` event `"approved"` for each changed clip that is now active
    ///   in the open slot and was not there before, and `"removed"` for each
    ///   clip that left the open slot while that slot stayed open.
    pub fn changes_from(
        &self,
        previous: &SlotView,
        changed: &[Clip],
        urls: MediaUrls<'_>,
    ) -> serde_json::Result<Vec<(&'static str, String)>> {
        let mut events = Vec::new();
        if self.season != previous.season {
            let position = self.open_slot().map(|slot| slot.position);
            events.push((
                "slot",
                serde_json::to_string(&SeasonChange { change: "season", season_id: self.season, position })?,
            ));
        } else {
            for slot in &self.slots {
                // Within one season the slots are fixed; only status changes count.
                let before = previous.slots.iter().find(|old| old.position == slot.position);
                if before.is_none_or(|old| old.status == slot.status) {
                    continue;
                }
                let change = match slot.status {
                    SlotStatus::Locked => "locked",
                    SlotStatus::Voting => "opened",
                    SlotStatus::WaitingForClips => "waiting",
                    SlotStatus::Upcoming => "upcoming",
                };
                events.push((
                    "slot",
                    serde_json::to_string(&SlotChange {
                        change,
                        season_id: self.season,
                        position: slot.position,
                        status: slot.status.as_str(),
                        winner_id: slot.winner,
                        voting_ends_at: slot.voting_ends_at.as_deref(),
                    })?,
                ));
            }
        }
        let open = self.open_slot().map(|slot| slot.position);
        for clip in changed {
            let id = clip.id.get();
            if clip.status == ClipStatus::Active
                && Some(clip.slot_position.get()) == open
                && self.clips.contains_key(&id)
                && !previous.clips.contains_key(&id)
            {
                events.push((
                    "clip",
                    serde_json::to_string(&ClipChange {
                        change: "approved",
                        id,
                        position: clip.slot_position.get(),
                        title: Some(&clip.title),
                        creator: Some(&clip.creator_username),
                        poster_url: Some(urls.clip(clip).1),
                    })?,
                ));
            }
        }
        let same_open_slot =
            self.season == previous.season && open.is_some() && open == previous.open_slot().map(|s| s.position);
        if same_open_slot && let Some(position) = open {
            let mut removed: Vec<u64> =
                previous.clips.keys().filter(|id| !self.clips.contains_key(id)).copied().collect();
            removed.sort_unstable();
            for id in removed {
                let change =
                    ClipChange { change: "removed", id, position, title: None, creator: None, poster_url: None };
                events.push(("clip", serde_json::to_string(&change)?));
            }
        }
        Ok(events)
    }
}

/// One clip's counts, as `counts` and `snapshot` events carry them.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClipCounts {
    /// The clip id.
    pub id: u64,
    /// Number of votes.
    pub vote_count: u64,
    /// Weighted score.
    pub weighted_score: u64,
}

impl ClipCounts {
    fn of(id: u64, clip: &LiveClip) -> Self {
        ClipCounts { id, vote_count: clip.vote_count, weighted_score: clip.weighted_score }
    }
}

/// One entry of a top list.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct TopClip<'a> {
    id: u64,
    title: &'a str,
    creator: &'a str,
    vote_count: u64,
    weighted_score: u64,
}

impl<'a> From<(u64, &'a LiveClip)> for TopClip<'a> {
    fn from((id, clip): (u64, &'a LiveClip)) -> Self {
        TopClip {
            id,
            title: &clip.title,
            creator: &clip.creator,
            vote_count: clip.vote_count,
            weighted_score: clip.weighted_score,
        }
    }
}

#[derive(Serialize)]
struct TopPayload<'a> {
    position: Option<u32>,
    clips: Vec<TopClip<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct OpenSlotPayload<'a> {
    position: u32,
    status: &'static str,
    voting_ends_at: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SnapshotPayload<'a> {
    season_id: Option<u64>,
    slot: Option<OpenSlotPayload<'a>>,
    clips: Vec<ClipCounts>,
    truncated: bool,
    top: Vec<TopClip<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SeasonChange {
    change: &'static str,
    season_id: Option<u64>,
    position: Option<u32>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct SlotChange<'a> {
    change: &'static str,
    season_id: Option<u64>,
    position: u32,
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    winner_id: Option<u64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    voting_ends_at: Option<&'a str>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct ClipChange<'a> {
    change: &'static str,
    id: u64,
    position: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    title: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    creator: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    poster_url: Option<String>,
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::domain::clock::Timestamp;
    use crate::domain::ids::{ClipId, SeasonId, SlotPosition, UserId};

    /// A four-slot season 1 view whose slot `open` is voting (earlier slots
    /// locked, won by clip 100 + position) with these `(id, votes, score)` clips.
    pub(crate) fn view(open: u32, clips: &[(u64, u64, u64)]) -> SlotView {
        let slots = (1..=4)
            .map(|position| SlotInfo {
                position,
                status: match position.cmp(&open) {
                    std::cmp::Ordering::Less => SlotStatus::Locked,
                    std::cmp::Ordering::Equal => SlotStatus::Voting,
                    std::cmp::Ordering::Greater => SlotStatus::Upcoming,
                },
                winner: (position < open).then_some(100 + u64::from(position)),
                voting_ends_at: None,
            })
            .collect();
        let clips = clips
            .iter()
            .map(|&(id, vote_count, weighted_score)| {
                let title = format!("clip {id}");
                let live = LiveClip { title, creator: "maker".into(), created_at: 0, vote_count, weighted_score };
                (id, live)
            })
            .collect();
        SlotView { season: Some(1), slots, clips }
    }

    fn clip(id: u64, position: u32, status: ClipStatus) -> Clip {
        Clip {
            id: ClipId::new(id).expect("nonzero"),
            season: SeasonId::new(1).expect("nonzero"),
            slot_position: SlotPosition::new(position).expect("nonzero"),
            title: format!("clip {id}"),
            description: String::new(),
            genre: "drama".into(),
            creator: UserId::new(1).expect("nonzero"),
            creator_username: "maker".into(),
            video_path: "ab/x.mp4".into(),
            poster_path: "ab/x.jpg".into(),
            duration_ms: 8000,
            status,
            rejection_reason: String::new(),
            created_at: Timestamp::from_millis(0),
        }
    }

    #[test]
    fn ranking_follows_the_winner_rule_and_is_bounded() {
        let mut view = view(1, &[(1, 5, 10), (2, 9, 10), (3, 1, 30), (4, 0, 0), (5, 2, 2), (6, 2, 2), (7, 1, 1)]);
        view.clips.get_mut(&6).expect("clip 6").created_at = -1;
        let ids: Vec<u64> = view.ranked(5).into_iter().map(|(id, _)| id).collect();
        assert_eq!(ids, vec![3, 2, 1, 6, 5]);
        assert_eq!(view.ranked(0).len(), 0);
        assert_eq!(view.ranked(100).len(), 7);
    }

    #[test]
    fn top_and_snapshot_payloads() {
        let view = view(2, &[(1, 1, 1), (2, 2, 3)]);
        assert_eq!(
            view.top_json().expect("json"),
            r#"{"position":2,"clips":[{"id":2,"title":"clip 2","creator":"maker","voteCount":2,"weightedScore":3},{"id":1,"title":"clip 1","creator":"maker","voteCount":1,"weightedScore":1}]}"#
        );
        let snapshot: serde_json::Value = serde_json::from_str(&view.snapshot_json().expect("json")).expect("json");
        assert_eq!(snapshot["seasonId"], 1);
        assert_eq!(snapshot["slot"]["position"], 2);
        assert_eq!(snapshot["slot"]["status"], "voting");
        assert_eq!(snapshot["clips"][0]["id"], 1);
        assert_eq!(snapshot["clips"][1]["weightedScore"], 3);
        assert_eq!(snapshot["top"][0]["id"], 2);
        assert_eq!(snapshot["truncated"], false);
    }

    #[test]
    fn an_advance_locks_one_slot_and_opens_the_next() {
        let before = view(1, &[(1, 3, 3), (2, 1, 1)]);
        let mut after = view(2, &[(2, 0, 0)]);
        after.slots[0].winner = Some(1);
        let events = after.changes_from(
            &before,
            &[clip(1, 1, ClipStatus::Locked), clip(2, 2, ClipStatus::Active)],
            MediaUrls::new(""),
        );
        let events = events.expect("json");
        assert_eq!(
            events,
            vec![
                ("slot", r#"{"change":"locked","seasonId":1,"position":1,"status":"locked","winnerId":1}"#.to_owned()),
                ("slot", r#"{"change":"opened","seasonId":1,"position":2,"status":"voting"}"#.to_owned()),
            ],
            "a clip carried into the next slot is not announced as approved"
        );
    }

    #[test]
    fn approvals_and_removals_in_the_open_slot() {
        let before = view(1, &[(1, 3, 3), (2, 1, 1)]);
        let after = view(1, &[(1, 3, 3), (3, 0, 0)]);
        let events = after.changes_from(
            &before,
            &[clip(3, 1, ClipStatus::Active), clip(9, 1, ClipStatus::Rejected)],
            MediaUrls::new(""),
        );
        let events = events.expect("json");
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].0, "clip");
        assert!(events[0].1.starts_with(r#"{"change":"approved","id":3,"position":1,"title":"clip 3""#), "{events:?}");
        assert_eq!(events[1], ("clip", r#"{"change":"removed","id":2,"position":1}"#.to_owned()));
        assert!(after.changes_from(&after, &[], MediaUrls::new("")).expect("json").is_empty(), "no change, no event");
    }

    #[test]
    fn a_new_season_is_one_event() {
        let before = view(3, &[(1, 3, 3)]);
        let mut after = view(1, &[]);
        after.season = Some(2);
        let events = after.changes_from(&before, &[], MediaUrls::new("")).expect("json");
        assert_eq!(events, vec![("slot", r#"{"change":"season","seasonId":2,"position":1}"#.to_owned())]);
    }
}
