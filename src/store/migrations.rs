//! Schema version check and migrations, run once at open inside one write
//! transaction, so an upgrade either completes or leaves the file untouched.

use redb::{Database, ReadableTable};

use super::tables::*;
use super::{SCHEMA_VERSION, StoreError};

/// Creates every table on a new file, refuses files from a newer build, and
/// migrates older ones step by step.
pub fn run(db: &Database) -> Result<(), StoreError> {
    let txn = db.begin_write()?;
    {
        let mut meta = txn.open_table(META)?;
        let found = meta.get(meta_keys::SCHEMA_VERSION)?.map(|v| v.value());
        match found {
            Some(version) if version > SCHEMA_VERSION => return Err(StoreError::NewerSchema { found: version }),
            Some(version) if version == SCHEMA_VERSION => {}
            Some(older) => {
                // No released schema precedes version 1; later versions add a
                // `migrate_from_N` step per version here.
                tracing::info!(from = older, to = SCHEMA_VERSION, "migrating database schema");
                meta.insert(meta_keys::SCHEMA_VERSION, SCHEMA_VERSION)?;
            }
            None => {
                tracing::info!(version = SCHEMA_VERSION, "initialising new database");
                meta.insert(meta_keys::SCHEMA_VERSION, SCHEMA_VERSION)?;
            }
        }
    }
    // Opening every table once makes them exist, so readers never meet a
    // missing table on a fresh file.
    txn.open_table(SEASON_ID_TO_SEASON)?;
    txn.open_table(SLOT_TO_SLOT)?;
    txn.open_table(CLIP_ID_TO_CLIP)?;
    txn.open_table(SLOT_CLIP_TO_MEMBERSHIP)?;
    txn.open_table(SLOT_CLIP_TO_COUNTER)?;
    txn.open_table(CLIP_ID_TO_VIEWS)?;
    txn.open_table(USER_ID_TO_USER)?;
    txn.open_table(USERNAME_TO_USER_ID)?;
    txn.open_table(VOTE_ID_TO_VOTE)?;
    txn.open_table(VOTER_TO_LEDGER)?;
    txn.open_table(SESSION_HASH_TO_SESSION)?;
    txn.open_table(USER_SESSION_TO_MEMBERSHIP)?;
    txn.open_table(USER_VOTE_TO_MEMBERSHIP)?;
    txn.open_table(FLAGGED_VOTE_TO_MEMBERSHIP)?;
    txn.open_table(AUDIT_ID_TO_ENTRY)?;
    txn.open_table(SLOT_VOTE_TO_MEMBERSHIP)?;
    txn.open_table(CLIP_STATUS_TO_MEMBERSHIP)?;
    txn.open_table(GENRE_VOTER_TO_GENRE)?;
    txn.open_table(GENRE_TO_COUNT)?;
    txn.open_table(USER_CLIP_TO_MEMBERSHIP)?;
    txn.open_table(FLAG_TO_ENABLED)?;
    txn.open_table(COMMENT_ID_TO_COMMENT)?;
    txn.open_table(CLIP_COMMENT_TO_MEMBERSHIP)?;
    txn.open_table(CLIP_TOP_TO_MEMBERSHIP)?;
    txn.open_table(PARENT_REPLY_TO_MEMBERSHIP)?;
    txn.open_table(COMMENT_LIKE_TO_MEMBERSHIP)?;
    txn.open_table(CLIP_TO_COMMENT_COUNT)?;
    txn.open_table(REPORT_ID_TO_REPORT)?;
    txn.open_table(USER_COMMENT_TO_MEMBERSHIP)?;
    txn.open_table(VOTER_TO_TALLY)?;
    txn.open_table(CREATOR_TO_TALLY)?;
    txn.open_table(USER_ID_TO_STATS)?;
    txn.open_table(FOLLOWER_FOLLOWEE_TO_MEMBERSHIP)?;
    txn.open_table(FOLLOWEE_FOLLOWER_TO_MEMBERSHIP)?;
    txn.open_table(USER_NOTIFICATION_TO_NOTIFICATION)?;
    txn.open_table(BROADCAST_ID_TO_NOTIFICATION)?;
    txn.commit()?;
    Ok(())
}
