//! The voting streak as the real writer keeps it, on a real redb file, with a
//! clock the test moves across UTC midnights.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use aimoviez::domain::account::Username;
use aimoviez::domain::clock::{Timestamp, UtcDay};
use aimoviez::domain::ids::{ClipId, VoterKey};
use aimoviez::domain::vote::VoteType;
use aimoviez::store::Store;
use aimoviez::store::writer::{self, CastRequest, DemoSeed};

const DAY_MS: i64 = 86_400_000;
const FIRST_DAY: i64 = 20_000;

fn seed() -> DemoSeed {
    DemoSeed::placeholder("Streaks", 2, 30 * 24 * 3600, 5)
}

#[tokio::test]
async fn streak_counts_utc_days_resets_after_a_missed_day_and_keeps_the_best() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = Store::open(&dir.path().join("db.redb"), 8 << 20).expect("store");
    // 23:00 UTC on day 1: the next hour is already day 2.
    let clock = Arc::new(AtomicI64::new(FIRST_DAY * DAY_MS + 23 * 3_600_000));
    let clock_for_writer = clock.clone();
    let settings = writer::WriterSettings {
        batch_max: 64,
        queue_capacity: 64,
        daily_budget: 100,
        clock: Arc::new(move || Timestamp::from_millis(clock_for_writer.load(Ordering::SeqCst))),
    };
    let (handle, thread) = writer::start(&store, settings, Box::new(|_| {})).expect("writer");
    assert!(handle.seed_demo(seed()).await.expect("seeded"));
    let user = handle.create_user(Username::parse("streaker").expect("name"), String::new()).await.expect("user");
    let voter = VoterKey::user(user.id);
    let cast = |clip: u64| {
        let request = CastRequest {
            voter: voter.clone(),
            clip: ClipId::new(clip).expect("id"),
            vote_type: VoteType::Standard,
            network: 1,
        };
        let handle = handle.clone();
        async move { handle.cast_vote(request).await.expect("vote counts") }
    };
    let day = |n: i64| UtcDay::from_number(u32::try_from(FIRST_DAY + n - 1).expect("day"));
    let move_hours = |hours: i64| clock.fetch_add(hours * 3_600_000, Ordering::SeqCst);

    // Day 1: two votes are still one day of streak.
    cast(1).await;
    cast(2).await;
    let stats = store.user_stats(user.id).expect("stats");
    assert_eq!((stats.streak.current, stats.streak.best), (1, 1));
    assert_eq!(stats.votes_on(day(1)), 2, "both votes count as today's");

    // Day 2, one hour later across midnight UTC.
    move_hours(1);
    cast(3).await;
    let stats = store.user_stats(user.id).expect("stats");
    assert_eq!((stats.streak.current, stats.streak.best), (2, 2));
    assert_eq!(stats.votes_on(day(2)), 1, "a new day starts its own count");
    assert_eq!(stats.streak.current_on(day(3)), 2, "still alive on the next day before voting");

    // Skip day 3 entirely; vote on day 4.
    move_hours(48);
    assert_eq!(store.user_stats(user.id).expect("stats").streak.current_on(day(4)), 0, "broken by the missed day");
    cast(4).await;
    let stats = store.user_stats(user.id).expect("stats");
    assert_eq!((stats.streak.current, stats.streak.best), (1, 2), "restarts at 1, best stays 2");

    // Revoking a vote leaves the streak alone but takes it off today's count.
    handle.revoke_vote(voter.clone(), ClipId::new(4).expect("id")).await.expect("revoked");
    let stats = store.user_stats(user.id).expect("stats");
    assert_eq!((stats.streak.current, stats.streak.best), (1, 2));
    assert_eq!(stats.votes_on(day(4)), 0);

    // Day 5 continues the new run.
    move_hours(24);
    cast(5).await;
    let stats = store.user_stats(user.id).expect("stats");
    assert_eq!((stats.streak.current, stats.streak.best), (2, 2));
    drop(handle);
    tokio::task::spawn_blocking(move || thread.stop()).await.expect("writer stops");
}
