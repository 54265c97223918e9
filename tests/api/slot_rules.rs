//! The voting rules across slots and admin actions (issue #14): one vote per
//! (slot, clip, voter) and one super and one mega per (slot, voter), whatever
//! the admins do between the votes.

use reqwest::Response;
use serde_json::{Value, json};

use crate::helpers::{SpawnOptions, TestApp, assert_error, spawn_with};

const PASSWORD: &str = "correct horse battery";
const VOTER: &str = "198.51.100.50";

async fn app_with_admin() -> (TestApp, reqwest::Client) {
    let options = SpawnOptions {
        demo: Some(aimoviez::demo::DemoOptions { total_slots: 3, slot_duration_secs: 3600 }),
        ..SpawnOptions::default()
    };
    let app = spawn_with(options).await;
    app.create_admin("boss", PASSWORD).await;
    let admin = app.log_in("boss", PASSWORD).await;
    (app, admin)
}

async fn feed_of(app: &TestApp, voter: &str) -> Value {
    let response = app.client.get(app.url("/api/vote?limit=20")).header("x-forwarded-for", voter).send().await;
    let response = response.expect("feed");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

async fn ok(response: Response, what: &str) {
    let status = response.status();
    let body = response.text().await.unwrap_or_default();
    assert_eq!(status, 200, "{what}: {body}");
}

#[tokio::test]
async fn votes_and_specials_are_once_per_slot_whatever_the_admins_do() {
    let (app, admin) = app_with_admin().await;
    let ids = app.clip_ids().await;
    let (a, b, c) = (ids[0], ids[1], ids[2]);

    // Slot 1: a standard vote for A and the mega for B.
    ok(app.vote_as(a, Some(VOTER), "standard").await, "A in slot 1").await;
    ok(app.vote_as(b, Some(VOTER), "mega").await, "mega in slot 1").await;
    // An admin picks B; A and C carry over to slot 2 with fresh counts.
    let assign = admin.post(app.url("/api/admin/slots/1/assign-winner")).json(&json!({"clipId": b})).send().await;
    ok(assign.expect("assign"), "assign winner").await;
    assert_eq!(feed_of(&app, VOTER).await["currentSlot"], 2);
    // Slot 2 is a new slot: the same clip and the mega are the voter's again.
    ok(app.vote_as(a, Some(VOTER), "standard").await, "A in slot 2").await;
    ok(app.vote_as(c, Some(VOTER), "mega").await, "mega in slot 2").await;

    // The admin reopens slot 1: the voter's votes there still stand.
    ok(admin.post(app.url("/api/admin/slots/1/unlock")).send().await.expect("unlock"), "unlock").await;
    let feed = feed_of(&app, VOTER).await;
    assert_eq!(feed["currentSlot"], 1);
    assert_eq!(feed["votedClipIds"], json!([a, b]), "{feed}");
    assert_eq!(feed["remainingVotes"]["mega"], 0, "{feed}");
    assert_error(app.vote_as(a, Some(VOTER), "standard").await, 409, "already_voted").await;
    assert_error(app.vote_as(c, Some(VOTER), "mega").await, 422, "special_vote_used").await;
    assert_eq!(app.vote_count(a).await, 1, "still one vote for A in slot 1");
    // A super is still the voter's to spend in slot 1.
    ok(app.vote_as(c, Some(VOTER), "super").await, "super in slot 1").await;

    // Closing slot 1 again brings slot 2 back with the voter's votes in it.
    let advance = admin.post(app.url("/api/admin/slots/advance")).json(&json!({"position": 1})).send().await;
    ok(advance.expect("advance"), "advance").await;
    let feed = feed_of(&app, VOTER).await;
    assert_eq!(feed["currentSlot"], 2, "{feed}");
    let voted: Vec<u64> = feed["votedClipIds"].as_array().expect("ids").iter().filter_map(Value::as_u64).collect();
    assert!(voted.contains(&a), "{feed}");
    assert_error(app.vote_as(a, Some(VOTER), "standard").await, 409, "already_voted").await;
    assert_error(app.vote_as(a, Some(VOTER), "mega").await, 422, "special_vote_used").await;
    // Another voter was never held back by any of this.
    ok(app.vote_as(a, Some("198.51.100.51"), "mega").await, "someone else").await;
    assert_eq!(app.check_mismatches(), Vec::<String>::new());
}

async fn remaining_of(app: &TestApp, voter: &str) -> Value {
    feed_of(app, voter).await["remainingVotes"].clone()
}

#[tokio::test]
async fn a_reset_gives_voters_back_their_specials_and_todays_spend_and_a_void_does_not() {
    let (app, admin) = app_with_admin().await;
    let ids = app.clip_ids().await;
    let (a, b, c) = (ids[0], ids[1], ids[2]);
    let fresh = remaining_of(&app, "198.51.100.59").await;

    // The voter spends the mega, the super and a standard vote in slot 1.
    ok(app.vote_as(a, Some(VOTER), "mega").await, "mega").await;
    ok(app.vote_as(b, Some(VOTER), "super").await, "super").await;
    ok(app.vote_as(c, Some(VOTER), "standard").await, "standard").await;
    let spent = remaining_of(&app, VOTER).await;
    assert_eq!((spent["super"].as_u64(), spent["mega"].as_u64()), (Some(0), Some(0)), "{spent}");
    assert!(spent["standard"].as_u64() < fresh["standard"].as_u64(), "{spent} vs {fresh}");

    // The admin resets the open slot: the voter stands where they stood before it.
    let reset = admin.post(app.url("/api/admin/slots/1/reset-votes")).send().await.expect("reset");
    let body: Value = reset.json().await.expect("json");
    assert_eq!(body["voidedVotes"], 3, "{body}");
    let feed = feed_of(&app, VOTER).await;
    assert_eq!(feed["remainingVotes"], fresh, "specials usable, today's spend refunded: {feed}");
    assert_eq!(feed["votedClipIds"], json!([]), "{feed}");

    // A flagged vote voided by an admin refunds nothing. It is the only counted
    // vote now, so voiding every id up to 1,000 voids just that one.
    ok(app.vote_as(a, Some("198.51.100.60"), "mega").await, "the other voter's mega").await;
    let after_mega = remaining_of(&app, "198.51.100.60").await;
    let every_id: Vec<u64> = (1..=1000).collect();
    let void = admin.post(app.url("/api/admin/flagged-votes/void")).json(&json!({"voteIds": every_id})).send().await;
    let voided: Value = void.expect("void").json().await.expect("json");
    assert_eq!(voided["voided"], 1, "{voided}");
    assert_eq!(app.vote_count(a).await, 0);
    assert_eq!(remaining_of(&app, "198.51.100.60").await, after_mega, "a void refunds nothing");
    assert_error(app.vote_as(b, Some("198.51.100.60"), "mega").await, 422, "special_vote_used").await;

    // The reset voter spends their specials again, on the same clips.
    ok(app.vote_as(a, Some(VOTER), "mega").await, "mega after the reset").await;
    ok(app.vote_as(b, Some(VOTER), "super").await, "super after the reset").await;
    assert_eq!(app.vote_count(a).await, 1);
    assert_eq!(app.check_mismatches(), Vec::<String>::new());
}
