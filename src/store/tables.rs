//! Every redb table, declared in one place and registered once in
//! [`visit_every_table`], the list that backup, the schema migration and
//! `check` walk. Keys are tuples of plain numbers and strings; values are
//! either plain numbers or versioned rkyv records (see `records.rs`).

use redb::{Key, TableDefinition, TableHandle, Value};

/// Named counters and markers: `schema_version`, `next_vote_id`, …
pub const META: TableDefinition<&str, u64> = TableDefinition::new("meta");
/// Season id → season record.
pub const SEASON_ID_TO_SEASON: TableDefinition<u64, &[u8]> = TableDefinition::new("season_id_to_season");
/// (season id, position) → slot record.
pub const SLOT_TO_SLOT: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("slot_to_slot");
/// Clip id → clip record.
pub const CLIP_ID_TO_CLIP: TableDefinition<u64, &[u8]> = TableDefinition::new("clip_id_to_clip");
/// (season id, position, clip id) → () for every clip competing in or winning a slot.
pub const SLOT_CLIP_TO_MEMBERSHIP: TableDefinition<(u64, u32, u64), ()> =
    TableDefinition::new("slot_clip_to_membership");
/// (season id, position, clip id) → (vote count, weighted score), updated once per batch.
pub const SLOT_CLIP_TO_COUNTER: TableDefinition<(u64, u32, u64), (u64, u64)> =
    TableDefinition::new("slot_clip_to_counter");
/// Clip id → view count, flushed from in-memory counters.
pub const CLIP_ID_TO_VIEWS: TableDefinition<u64, u64> = TableDefinition::new("clip_id_to_views");
/// User id → user record.
pub const USER_ID_TO_USER: TableDefinition<u64, &[u8]> = TableDefinition::new("user_id_to_user");
/// Lowercase username → user id.
pub const USERNAME_TO_USER_ID: TableDefinition<&str, u64> = TableDefinition::new("username_to_user_id");
/// (season id, position, vote id) → the vote (`vote_layout::VOTE_BYTES`
/// bytes: voter key, clip, cast time, type, state, risk), kept after a
/// revoke or void for history and recounts. The slot is folded into the key,
/// so a slot's votes are one range in vote-id order (what a reset and a
/// tally read) and no separate slot index is needed; ids increase in cast
/// order, so new votes append at the right edge of the open slot.
pub const SLOT_VOTE_TO_VOTE: TableDefinition<(u64, u32, u64), &super::vote_layout::VoteBytes> =
    TableDefinition::new("slot_vote_to_vote");
/// First vote id of a run of consecutive votes cast in one slot → that
/// (season id, position): finds a vote's slot, and so its key, from its id
/// alone (a flagged vote to void, a user's vote history). A run starts only
/// when votes move to another slot, so this holds a handful of rows.
pub const VOTE_RUN_TO_SLOT: TableDefinition<u64, (u64, u32)> = TableDefinition::new("vote_run_to_slot");
/// Voter key (17 bytes, see `vote_layout`) → the voter's ledger head: the
/// budget spent on their latest voting day and their facts (counted votes,
/// specials) in the slot they voted in last. One record per voter; the
/// heads of recent votes wait in `LEDGER_RUN_TO_HEADS` and are folded in
/// here in key order. See `domain::ledger` and `store::head_runs`.
pub const VOTER_TO_LEDGER: TableDefinition<&super::vote_layout::VoterBytes, &[u8]> =
    TableDefinition::new("voter_to_ledger");
/// Run id (one per batch that changed ledger heads, increasing) → the heads
/// that batch changed, not written to `VOTER_TO_LEDGER` then: appended at
/// the right edge, and folded into it later in key order, many per leaf
/// (`store::head_runs`). Runs older than a full fold cycle are deleted; a
/// clean stop folds and deletes them all.
pub const LEDGER_RUN_TO_HEADS: TableDefinition<u64, &[u8]> = TableDefinition::new("ledger_run_to_heads");
/// (season id, position, voter key) → the voter's facts in a slot they
/// voted in before moving on, when there are any; brought back to the head
/// when they vote there again (an admin reopened the slot).
pub const SLOT_VOTER_TO_LEDGER: TableDefinition<(u64, u32, &super::vote_layout::VoterBytes), &[u8]> =
    TableDefinition::new("slot_voter_to_ledger");
/// Session token hash (blake3 of the cookie token) → session record.
pub const SESSION_HASH_TO_SESSION: TableDefinition<&[u8], &[u8]> = TableDefinition::new("session_hash_to_session");
/// (user id, session token hash) → (), to revoke all of a user's sessions at once.
pub const USER_SESSION_TO_MEMBERSHIP: TableDefinition<(u64, &[u8]), ()> =
    TableDefinition::new("user_session_to_membership");
/// (user id, vote id) → (), the votes a signed-in user cast (for export).
/// Anonymous votes have no such index: they belong to no account.
pub const USER_VOTE_TO_MEMBERSHIP: TableDefinition<(u64, u64), ()> = TableDefinition::new("user_vote_to_membership");
/// Vote id → () for every flagged vote not yet voided (the fraud review queue).
pub const FLAGGED_VOTE_TO_MEMBERSHIP: TableDefinition<u64, ()> = TableDefinition::new("flagged_vote_to_membership");
/// Audit entry id (increasing) → audit record.
pub const AUDIT_ID_TO_ENTRY: TableDefinition<u64, &[u8]> = TableDefinition::new("audit_id_to_entry");
/// (clip status tag, clip id) → (), the moderation queues by status.
pub const CLIP_STATUS_TO_MEMBERSHIP: TableDefinition<(u8, u64), ()> = TableDefinition::new("clip_status_to_membership");
/// (genre round, voter key) → the genre they voted for in that round. A
/// round is the between-seasons vote; each season's finish opens the next
/// (`meta_keys::GENRE_ROUND`), so a new round starts empty and old rounds
/// are kept without deleting anything.
pub const GENRE_ROUND_VOTER_TO_GENRE: TableDefinition<(u64, &str), &str> =
    TableDefinition::new("genre_round_voter_to_genre");
/// (genre round, genre) → voters choosing it in that round: a round's
/// result is one range of at most as many rows as there are genres.
pub const GENRE_ROUND_GENRE_TO_COUNT: TableDefinition<(u64, &str), u64> =
    TableDefinition::new("genre_round_genre_to_count");
/// Closed genre round → (id of the season whose finish closed it, when, in
/// milliseconds since the epoch).
pub const GENRE_ROUND_TO_CLOSING: TableDefinition<u64, (u64, i64)> = TableDefinition::new("genre_round_to_closing");
/// (creator user id, clip id) → (), a creator's uploads (for their profile).
pub const USER_CLIP_TO_MEMBERSHIP: TableDefinition<(u64, u64), ()> = TableDefinition::new("user_clip_to_membership");
/// Feature flag key → enabled.
pub const FLAG_TO_ENABLED: TableDefinition<&str, bool> = TableDefinition::new("flag_to_enabled");
/// Comment id → comment record (top-level comments and replies).
pub const COMMENT_ID_TO_COMMENT: TableDefinition<u64, &[u8]> = TableDefinition::new("comment_id_to_comment");
/// (clip id, comment id) → () for every top-level comment: a clip's comments by newest.
pub const CLIP_COMMENT_TO_MEMBERSHIP: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("clip_comment_to_membership");
/// (clip id, like count, comment id) → () for every top-level comment, kept in
/// step with likes, so "top" is a reverse range read.
pub const CLIP_TOP_TO_MEMBERSHIP: TableDefinition<(u64, u64, u64), ()> = TableDefinition::new("clip_top_to_membership");
/// (parent comment id, reply id) → (): a comment's replies, oldest first.
pub const PARENT_REPLY_TO_MEMBERSHIP: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("parent_reply_to_membership");
/// (comment id, user id) → (): who liked a comment (one like per user).
pub const COMMENT_LIKE_TO_MEMBERSHIP: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("comment_like_to_membership");
/// Clip id → number of comments and replies not deleted.
pub const CLIP_TO_COMMENT_COUNT: TableDefinition<u64, u64> = TableDefinition::new("clip_to_comment_count");
/// Report id (increasing) → report record: the open reports, the moderation queue.
pub const REPORT_ID_TO_REPORT: TableDefinition<u64, &[u8]> = TableDefinition::new("report_id_to_report");
/// Reports an admin resolved, moved out of `REPORT_ID_TO_REPORT` unchanged
/// (what was done is in the audit log), so the open queue is the whole of
/// that table and listing it never skips over closed reports.
pub const RESOLVED_REPORT_ID_TO_REPORT: TableDefinition<u64, &[u8]> =
    TableDefinition::new("resolved_report_id_to_report");
/// (author user id, comment id) → (), so deleting an account deletes its comments.
pub const USER_COMMENT_TO_MEMBERSHIP: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("user_comment_to_membership");
/// Signed-in voter's user id → (counted votes cast, their weight), all
/// time: the voters leaderboard and profile totals. Anonymous voters have no
/// row: no page shows their totals. Updated once per batch.
pub const USER_ID_TO_VOTE_TALLY: TableDefinition<u64, (u64, u64)> = TableDefinition::new("user_id_to_vote_tally");
/// (UTC day, board, id) → score that day: per board (see [`day_boards`])
/// the weighted score of each clip and creator and the votes of each
/// signed-in voter counted on that day. The leaderboards' day and week
/// buckets are rebuilt from these at start, not from the votes. Updated once
/// per batch; days before the window the boards restore are pruned.
pub const DAY_ENTRY_TO_SCORE: TableDefinition<(u32, u8, u64), u64> = TableDefinition::new("day_entry_to_score");
/// Creator user id → (counted votes received, weighted score), all time,
/// across all their clips. Updated once per batch.
pub const CREATOR_TO_TALLY: TableDefinition<u64, (u64, u64)> = TableDefinition::new("creator_to_tally");
/// User id → profile stats record (streak, wins, approved clips, follow
/// counts, notification markers). See `store::social`.
pub const USER_ID_TO_STATS: TableDefinition<u64, &[u8]> = TableDefinition::new("user_id_to_stats");
/// (follower user id, followee user id) → (): whom a user follows.
pub const FOLLOWER_FOLLOWEE_TO_MEMBERSHIP: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("follower_followee_to_membership");
/// (followee user id, follower user id) → (): who follows a user.
pub const FOLLOWEE_FOLLOWER_TO_MEMBERSHIP: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("followee_follower_to_membership");
/// (user id, notification id) → notification record: a user's own
/// notifications, newest last.
pub const USER_NOTIFICATION_TO_NOTIFICATION: TableDefinition<(u64, u64), &[u8]> =
    TableDefinition::new("user_notification_to_notification");
/// Notification id → notification record for everyone ("new voting
/// round"), stored once and merged into each user's list by id.
pub const BROADCAST_ID_TO_NOTIFICATION: TableDefinition<u64, &[u8]> =
    TableDefinition::new("broadcast_id_to_notification");
/// (followee, follower) → () once a new-follower notification was sent for
/// the pair, so unfollowing and following again cannot spam the followee.
pub const FOLLOW_NOTIFIED_TO_MEMBERSHIP: TableDefinition<(u64, u64), ()> =
    TableDefinition::new("follow_notified_to_membership");
/// (season id, position) → the frozen tally head of a locked slot (root,
/// size, secret salt, the last chunk, the rules and winner it published).
/// Written in the locking transaction, removed by an unlock. See `store::tally`.
pub const SLOT_TO_TALLY_HEAD: TableDefinition<(u64, u32), &[u8]> = TableDefinition::new("slot_to_tally_head");
/// (season id, position, first vote id) → (chunk index, counted mask) for
/// each run of 64 consecutive lines of a frozen tally: the chunk of a vote
/// is one range look-up, and the counted bits published at the lock stay as
/// they were whatever happens to the votes later.
pub const SLOT_FIRST_VOTE_TO_TALLY_CHUNK: TableDefinition<(u64, u32, u64), (u64, u64)> =
    TableDefinition::new("slot_first_vote_to_tally_chunk");
/// (season id, position, level, index) → the hash of that perfect aligned
/// subtree of a frozen tally, for every level at or above the chunk level
/// (6): what a proof reads instead of the slot's lines.
pub const SLOT_TREE_NODE_TO_TALLY_HASH: TableDefinition<(u64, u32, u8, u64), &TallyHash> =
    TableDefinition::new("slot_tree_node_to_tally_hash");

/// A SHA-256 value as a frozen tally stores it.
pub type TallyHash = [u8; 32];

/// Something done to every table in turn: backup copies it, the schema
/// migration creates it, `check` compares the file's tables with the list.
/// Each table has its own key and value types, so the list is a sequence of
/// calls to one generic method rather than an array of definitions.
pub trait TableVisitor {
    /// Why a visit failed.
    type Error;

    /// Does the work for one table.
    fn visit<K: Key + 'static, V: Value + 'static>(
        &mut self,
        table: TableDefinition<'static, K, V>,
    ) -> Result<(), Self::Error>;
}

/// THE list of tables: every table declared above, once, in the order backup
/// copies them. A table declared but missing here fails the
/// `every_declared_table_is_registered` test below, and a file holding a
/// table this list lacks is refused by backup and reported by `check`.
pub fn visit_every_table<T: TableVisitor>(visitor: &mut T) -> Result<(), T::Error> {
    visitor.visit(META)?;
    visitor.visit(SEASON_ID_TO_SEASON)?;
    visitor.visit(SLOT_TO_SLOT)?;
    visitor.visit(CLIP_ID_TO_CLIP)?;
    visitor.visit(SLOT_CLIP_TO_MEMBERSHIP)?;
    visitor.visit(SLOT_CLIP_TO_COUNTER)?;
    visitor.visit(CLIP_ID_TO_VIEWS)?;
    visitor.visit(USER_ID_TO_USER)?;
    visitor.visit(USERNAME_TO_USER_ID)?;
    visitor.visit(SLOT_VOTE_TO_VOTE)?;
    visitor.visit(VOTE_RUN_TO_SLOT)?;
    visitor.visit(VOTER_TO_LEDGER)?;
    visitor.visit(LEDGER_RUN_TO_HEADS)?;
    visitor.visit(SLOT_VOTER_TO_LEDGER)?;
    visitor.visit(SESSION_HASH_TO_SESSION)?;
    visitor.visit(USER_SESSION_TO_MEMBERSHIP)?;
    visitor.visit(USER_VOTE_TO_MEMBERSHIP)?;
    visitor.visit(FLAGGED_VOTE_TO_MEMBERSHIP)?;
    visitor.visit(AUDIT_ID_TO_ENTRY)?;
    visitor.visit(CLIP_STATUS_TO_MEMBERSHIP)?;
    visitor.visit(GENRE_ROUND_VOTER_TO_GENRE)?;
    visitor.visit(GENRE_ROUND_GENRE_TO_COUNT)?;
    visitor.visit(GENRE_ROUND_TO_CLOSING)?;
    visitor.visit(USER_CLIP_TO_MEMBERSHIP)?;
    visitor.visit(FLAG_TO_ENABLED)?;
    visitor.visit(COMMENT_ID_TO_COMMENT)?;
    visitor.visit(CLIP_COMMENT_TO_MEMBERSHIP)?;
    visitor.visit(CLIP_TOP_TO_MEMBERSHIP)?;
    visitor.visit(PARENT_REPLY_TO_MEMBERSHIP)?;
    visitor.visit(COMMENT_LIKE_TO_MEMBERSHIP)?;
    visitor.visit(CLIP_TO_COMMENT_COUNT)?;
    visitor.visit(REPORT_ID_TO_REPORT)?;
    visitor.visit(RESOLVED_REPORT_ID_TO_REPORT)?;
    visitor.visit(USER_COMMENT_TO_MEMBERSHIP)?;
    visitor.visit(USER_ID_TO_VOTE_TALLY)?;
    visitor.visit(DAY_ENTRY_TO_SCORE)?;
    visitor.visit(CREATOR_TO_TALLY)?;
    visitor.visit(USER_ID_TO_STATS)?;
    visitor.visit(FOLLOWER_FOLLOWEE_TO_MEMBERSHIP)?;
    visitor.visit(FOLLOWEE_FOLLOWER_TO_MEMBERSHIP)?;
    visitor.visit(USER_NOTIFICATION_TO_NOTIFICATION)?;
    visitor.visit(BROADCAST_ID_TO_NOTIFICATION)?;
    visitor.visit(FOLLOW_NOTIFIED_TO_MEMBERSHIP)?;
    visitor.visit(SLOT_TO_TALLY_HEAD)?;
    visitor.visit(SLOT_FIRST_VOTE_TO_TALLY_CHUNK)?;
    visitor.visit(SLOT_TREE_NODE_TO_TALLY_HASH)?;
    Ok(())
}

/// The names of every table, in registry order.
pub fn table_names() -> Vec<String> {
    struct Names(Vec<String>);
    impl TableVisitor for Names {
        type Error = std::convert::Infallible;

        fn visit<K: Key + 'static, V: Value + 'static>(
            &mut self,
            table: TableDefinition<'static, K, V>,
        ) -> Result<(), Self::Error> {
            self.0.push(table.name().to_owned());
            Ok(())
        }
    }
    let mut names = Names(Vec::new());
    match visit_every_table(&mut names) {
        Ok(()) => names.0,
        Err(never) => match never {},
    }
}

/// Keys in [`META`].
pub mod meta_keys {
    /// The schema version the file was written with.
    pub const SCHEMA_VERSION: &str = "schema_version";
    /// The active season's id, or 0.
    pub const ACTIVE_SEASON: &str = "active_season";
    /// Set once the demo season was seeded.
    pub const DEMO_SEEDED: &str = "demo_seeded";
    /// Next id to issue, per kind.
    pub const NEXT_SEASON_ID: &str = "next_season_id";
    /// Next clip id.
    pub const NEXT_CLIP_ID: &str = "next_clip_id";
    /// Next user id.
    pub const NEXT_USER_ID: &str = "next_user_id";
    /// Next vote id.
    pub const NEXT_VOTE_ID: &str = "next_vote_id";
    /// Increases with every batch that creates or changes clips; the search
    /// index stores the value it has applied, so a mismatch at start means rebuild.
    pub const CLIP_CHANGE_SEQUENCE: &str = "clip_change_sequence";
    /// Next audit entry id.
    pub const NEXT_AUDIT_ID: &str = "next_audit_id";
    /// Next comment id.
    pub const NEXT_COMMENT_ID: &str = "next_comment_id";
    /// Next report id.
    pub const NEXT_REPORT_ID: &str = "next_report_id";
    /// Batches the writer committed. When a commit reports an I/O error the
    /// writer cannot tell whether the batch reached the disk (a failed fsync
    /// may come after the write); after reopening the file it compares this
    /// with its own count to find out.
    pub const COMMITTED_BATCHES: &str = "committed_batches";
    /// Next notification id, shared by personal and broadcast notifications
    /// so one id orders both.
    pub const NEXT_NOTIFICATION_ID: &str = "next_notification_id";
    /// `DAY_ENTRY_TO_SCORE` holds no day before this one (pruned).
    pub const DAY_SCORES_KEPT_FROM: &str = "day_scores_kept_from";
    /// The open genre round (absent: 1), raised by each season's finish.
    pub const GENRE_ROUND: &str = "genre_round";
}

/// Boards in the keys of [`DAY_ENTRY_TO_SCORE`].
pub mod day_boards {
    /// Clips by weighted score.
    pub const CLIPS: u8 = 0;
    /// Creators by the weighted score of their clips.
    pub const CREATORS: u8 = 1;
    /// Signed-in voters by counted votes.
    pub const VOTERS: u8 = 2;
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `(constant, table name)` of every `TableDefinition` declared in this
    /// file, read from its source so a new declaration cannot hide.
    fn declared_tables() -> Vec<(String, String)> {
        let source = include_str!("tables.rs");
        let mut declared = Vec::new();
        for chunk in source.split("pub const ").skip(1) {
            let Some(statement) = chunk.split(';').next() else { continue };
            let Some((constant, rest)) = statement.split_once(':') else { continue };
            let Some(name) = rest.split("TableDefinition::new(\"").nth(1) else { continue };
            let Some(name) = name.split('"').next() else { continue };
            declared.push((constant.trim().to_owned(), name.to_owned()));
        }
        declared
    }

    #[test]
    fn every_declared_table_is_registered() {
        let declared = declared_tables();
        assert!(declared.len() > 30, "the source scan finds the declarations: {declared:?}");
        let registered = table_names();
        let unique: BTreeSet<&String> = registered.iter().collect();
        assert_eq!(unique.len(), registered.len(), "a table is registered twice: {registered:?}");
        let declared_names: BTreeSet<&String> = declared.iter().map(|(_, name)| name).collect();
        let missing: Vec<_> = declared_names.difference(&unique).collect();
        assert!(missing.is_empty(), "declared in tables.rs but not in visit_every_table: {missing:?}");
        let undeclared: Vec<_> = unique.difference(&declared_names).collect();
        assert!(undeclared.is_empty(), "registered but not declared here: {undeclared:?}");
    }

    #[test]
    fn each_constant_is_named_after_its_table() {
        for (constant, name) in declared_tables() {
            assert_eq!(constant.to_lowercase(), name, "the constant names its table (KEY_TO_VALUE)");
        }
    }
}
