//! Leaderboards over HTTP: order after real votes, ties, periods across UTC
//! days with a hand-moved writer clock, revokes and voids, a restart, page
//! bounds, and the HTML page.

use aimoviez::domain::clock::Timestamp;
use serde_json::{Value, json};

use crate::helpers::{DAY_MILLIS, HandClock, SpawnOptions, TestApp, assert_error, spawn_app, spawn_with};

const PASSWORD: &str = "correct horse battery";

/// `(id, score)` of every entry of a board page.
async fn board(app: &TestApp, path: &str) -> Vec<(u64, u64)> {
    let page = app.get_json(path).await;
    page["entries"]
        .as_array()
        .expect("entries")
        .iter()
        .map(|e| (e["id"].as_u64().expect("id"), e["score"].as_u64().expect("score")))
        .collect()
}

async fn user_id(app: &TestApp, client: &reqwest::Client) -> u64 {
    let me: Value = client.get(app.url("/api/me")).send().await.expect("me").json().await.expect("json");
    me["user"]["id"].as_u64().expect("user id")
}

async fn vote_as(app: &TestApp, client: &reqwest::Client, clip: u64, vote_type: &str) {
    let response = client
        .post(app.url("/api/vote"))
        .json(&json!({ "clipId": clip, "voteType": vote_type }))
        .send()
        .await
        .expect("vote");
    assert_eq!(response.status(), 200, "vote on {clip}");
}

#[tokio::test]
async fn boards_rank_clips_by_weighted_score_creators_by_score_received_and_voters_by_votes() {
    let app = spawn_app().await;
    let ids = app.clip_ids().await;
    let (alice, bob, carol) = (app.signed_in("alice").await, app.signed_in("bob").await, app.signed_in("carol").await);
    for clip in [ids[2], ids[1], ids[0]] {
        vote_as(&app, &alice, clip, "standard").await;
    }
    vote_as(&app, &bob, ids[2], "standard").await;
    vote_as(&app, &bob, ids[0], "super").await;
    vote_as(&app, &carol, ids[2], "standard").await;
    // Anonymous votes count for clips and creators, but list no voter.
    assert_eq!(app.vote(ids[1]).await.status(), 200);
    assert_eq!(app.vote(ids[3]).await.status(), 200);

    // ids[0] = 1 + super (3) = 4, ids[2] = 3, ids[1] = 2, ids[3] = 1.
    let clips = board(&app, "/api/leaderboard/clips?period=all").await;
    assert_eq!(clips, vec![(ids[0], 4), (ids[2], 3), (ids[1], 2), (ids[3], 1)]);
    for (clip, score) in &clips {
        let api: Value = app.get_json(&format!("/api/clips/{clip}")).await;
        assert_eq!(api["weightedScore"].as_u64(), Some(*score), "board agrees with the clip's counter");
    }

    let (a, b, c) = (user_id(&app, &alice).await, user_id(&app, &bob).await, user_id(&app, &carol).await);
    assert_eq!(board(&app, "/api/leaderboard/voters").await, vec![(a, 3), (b, 2), (c, 1)]);

    // Creators: the sum of their clips' weighted scores, best first, ties by lower id.
    let mut by_creator: std::collections::BTreeMap<u64, u64> = Default::default();
    for (clip, score) in &clips {
        let api: Value = app.get_json(&format!("/api/clips/{clip}")).await;
        *by_creator.entry(api["creator"]["id"].as_u64().expect("creator")).or_default() += score;
    }
    let mut expected: Vec<(u64, u64)> = by_creator.into_iter().collect();
    expected.sort_by(|x, y| y.1.cmp(&x.1).then(x.0.cmp(&y.0)));
    assert_eq!(board(&app, "/api/leaderboard/creators?period=day").await, expected);

    let page = app.get_json("/api/leaderboard/clips?period=week&limit=2").await;
    assert_eq!(page["board"], "clips");
    assert_eq!(page["period"], "week");
    assert_eq!(page["total"], 4);
    assert_eq!(page["hasMore"], true);
    let first = &page["entries"][0];
    assert_eq!(first["rank"], 1);
    assert_eq!(first["trend"], "new");
    assert!(first["name"].as_str().is_some_and(|n| !n.is_empty()), "{first}");
    assert!(first["creator"].as_str().is_some_and(|n| !n.is_empty()), "{first}");
    let voters = app.get_json("/api/leaderboard/voters?period=day").await;
    assert_eq!(voters["entries"][0]["name"], "alice");
    assert_eq!(voters["total"], 3, "the anonymous voter is not listed");
}

#[tokio::test]
async fn ties_go_to_the_lower_id_on_every_page() {
    let app = spawn_app().await;
    let ids = app.clip_ids().await;
    let (first, second) = (app.signed_in("first_voter").await, app.signed_in("second_voter").await);
    // Cast in reverse id order, so arrival order cannot explain the result.
    vote_as(&app, &second, ids[3], "standard").await;
    vote_as(&app, &first, ids[1], "standard").await;
    let clips = board(&app, "/api/leaderboard/clips?period=day").await;
    assert_eq!(clips, vec![(ids[1], 1), (ids[3], 1)]);
    assert_eq!(board(&app, "/api/leaderboard/clips?period=day&limit=1&offset=1").await, vec![(ids[3], 1)]);
    let voters = board(&app, "/api/leaderboard/voters?period=all").await;
    let (one, two) = (user_id(&app, &first).await, user_id(&app, &second).await);
    assert!(one < two);
    assert_eq!(voters, vec![(one, 1), (two, 1)]);
}

#[tokio::test]
async fn page_bounds_are_checked_and_change_nothing() {
    let app = spawn_app().await;
    let ids = app.clip_ids().await;
    assert_eq!(app.vote(ids[0]).await.status(), 200);
    for (path, status, code) in [
        ("/api/leaderboard/clips?limit=101", 400, "invalid_request"),
        ("/api/leaderboard/clips?limit=0", 400, "invalid_request"),
        ("/api/leaderboard/clips?limit=-5", 400, "invalid_request"),
        ("/api/leaderboard/clips?offset=-1", 400, "invalid_request"),
        ("/api/leaderboard/clips?offset=10001", 400, "invalid_request"),
        ("/api/leaderboard/clips?limit=ten", 400, "invalid_request"),
        ("/api/leaderboard/clips?period=month", 400, "invalid_request"),
        ("/api/leaderboard/films", 404, "not_found"),
        ("/api/leaderboard", 404, "not_found"),
    ] {
        let body = assert_error(app.get(path).await, status, code).await;
        if path.contains("limit=101") {
            assert!(body["error"]["message"].as_str().is_some_and(|m| m.contains("100")), "{body}");
        }
    }
    let defaults = app.get_json("/api/leaderboard/clips").await;
    assert_eq!((defaults["period"].as_str(), defaults["limit"].as_u64()), (Some("all"), Some(20)));
    let max = app.get_json("/api/leaderboard/clips?limit=100").await;
    assert_eq!(max["entries"].as_array().map(Vec::len), Some(1));
    let beyond = app.get_json("/api/leaderboard/clips?offset=50").await;
    assert_eq!(beyond["entries"], json!([]));
    assert_eq!(beyond["total"], 1);
    assert_eq!(beyond["hasMore"], false);
    assert_eq!(board(&app, "/api/leaderboard/clips").await, vec![(ids[0], 1)], "bad requests changed nothing");
}

#[tokio::test]
async fn periods_follow_utc_days_and_weeks_and_survive_a_restart() {
    // Monday 00:00 UTC of the real current week; the writer clock starts on
    // the Sunday before it (previous week), so real time stays inside the
    // demo slot's window and the scheduler leaves it open.
    let now_day = Timestamp::now().millis().div_euclid(DAY_MILLIS);
    let monday = ((now_day + 3) / 7) * 7 - 3;
    let noon = |day: i64| day * DAY_MILLIS + DAY_MILLIS / 2;
    let (sunday, tuesday) = (monday - 1, monday + 1);
    let clock = HandClock::at(noon(sunday));
    let options = SpawnOptions {
        demo: Some(aimoviez::demo::DemoOptions { total_slots: 3, slot_duration_secs: 30 * 24 * 3600 }),
        clock: Some(clock.as_override()),
        ..SpawnOptions::default()
    };
    let app = spawn_with(options).await;
    let ids = app.clip_ids().await;
    let users = ["ana", "ben", "cyd", "dee", "eve"];
    let mut clients = Vec::new();
    for name in users {
        clients.push(app.signed_in(name).await);
    }
    let [ana, ben, cyd, dee, eve] = [0, 1, 2, 3, 4].map(|i| &clients[i]);

    // Sunday (last week): ids[0] gets two votes.
    vote_as(&app, ana, ids[0], "standard").await;
    vote_as(&app, ben, ids[0], "standard").await;
    // Monday: ids[1] gets one.
    clock.set(noon(monday));
    vote_as(&app, cyd, ids[1], "standard").await;
    // Tuesday: ids[2] gets two, eve votes and takes it back.
    clock.set(noon(tuesday));
    vote_as(&app, dee, ids[2], "standard").await;
    vote_as(&app, ana, ids[2], "standard").await;
    vote_as(&app, eve, ids[3], "standard").await;
    let revoked = eve.delete(app.url("/api/vote")).json(&json!({ "clipId": ids[3] })).send().await.expect("revoke");
    assert_eq!(revoked.status(), 200);

    assert_eq!(board(&app, "/api/leaderboard/clips?period=day").await, vec![(ids[2], 2)]);
    assert_eq!(board(&app, "/api/leaderboard/clips?period=week").await, vec![(ids[2], 2), (ids[1], 1)]);
    // All time: a tie at 2 between ids[0] and ids[2] goes to the lower id.
    assert_eq!(board(&app, "/api/leaderboard/clips?period=all").await, vec![(ids[0], 2), (ids[2], 2), (ids[1], 1)]);
    let trends = |page: &Value| -> Vec<String> {
        page["entries"].as_array().expect("entries").iter().map(|e| e["trend"].as_str().unwrap_or("").into()).collect()
    };
    // Against the start of Tuesday: ids[0] first (same), ids[2] new, ids[1] from 2nd to 3rd.
    let all = app.get_json("/api/leaderboard/clips?period=all").await;
    assert_eq!(trends(&all), vec!["same", "new", "down"]);
    let week = app.get_json("/api/leaderboard/clips?period=week").await;
    assert_eq!(trends(&week), vec!["new", "new"], "last week only ranked ids[0]");

    // An admin voids dee's vote: it leaves every period.
    app.create_admin("boss", PASSWORD).await;
    let admin = app.log_in("boss", PASSWORD).await;
    let export: Value =
        dee.get(app.url("/api/account/export")).send().await.expect("export").json().await.expect("json");
    let vote_id = export["votes"][0]["id"].as_u64().expect("vote id");
    let voided = admin
        .post(app.url("/api/admin/flagged-votes/void"))
        .json(&json!({ "voteIds": [vote_id] }))
        .send()
        .await
        .expect("void");
    assert_eq!(voided.status(), 200);
    assert_eq!(board(&app, "/api/leaderboard/clips?period=day").await, vec![(ids[2], 1)]);
    assert_eq!(board(&app, "/api/leaderboard/clips?period=all").await, vec![(ids[0], 2), (ids[1], 1), (ids[2], 1)]);
    let voters_all = board(&app, "/api/leaderboard/voters?period=all").await;
    assert_eq!(voters_all.len(), 3, "ana (2), ben and cyd; dee's only vote was voided, eve revoked");
    assert_eq!(voters_all[0].1, 2);

    let mut before = Vec::new();
    for board_name in ["clips", "creators", "voters"] {
        for period in ["day", "week", "all"] {
            before.push(app.get_json(&format!("/api/leaderboard/{board_name}?period={period}")).await);
        }
    }
    assert!(app.check_mismatches().is_empty(), "{:?}", app.check_mismatches());
    let app = app.restart().await;
    let mut after = Vec::new();
    for board_name in ["clips", "creators", "voters"] {
        for period in ["day", "week", "all"] {
            after.push(app.get_json(&format!("/api/leaderboard/{board_name}?period={period}")).await);
        }
    }
    assert_eq!(after, before, "boards rebuilt at start equal the boards before the restart");

    // The next day rolls the day board over; today's trend compares with Tuesday.
    clock.set(noon(tuesday + 1));
    assert_eq!(board(&app, "/api/leaderboard/clips?period=day").await, vec![]);
    let wednesday_voter = app.signed_in("wed").await;
    vote_as(&app, &wednesday_voter, ids[2], "standard").await;
    let day = app.get_json("/api/leaderboard/clips?period=day").await;
    assert_eq!(day["entries"][0]["id"], ids[2]);
    assert_eq!(day["entries"][0]["trend"], "same", "ranked first on Tuesday too");
}

#[tokio::test]
async fn the_page_shows_tabs_medals_trends_and_escaped_names() {
    let app = spawn_app().await;
    let creator = app.signed_in("maker").await;
    let clip = app.upload(&creator, crate::helpers::SHORT_MP4, "<script>alert(1)</script> & co").await;
    app.create_admin("boss", PASSWORD).await;
    let admin = app.log_in("boss", PASSWORD).await;
    let approved = admin.post(app.url(&format!("/api/admin/clips/{clip}/approve"))).send().await.expect("approve");
    assert_eq!(approved.status(), 200);
    let ids = app.clip_ids().await;
    let voters = [app.signed_in("v_one").await, app.signed_in("v_two").await, app.signed_in("v_three").await];
    for (index, voter) in voters.iter().enumerate() {
        for target in ids.iter().filter(|id| **id != clip).take(3 - index) {
            vote_as(&app, voter, *target, "standard").await;
        }
        vote_as(&app, voter, clip, "standard").await;
    }

    let response = app.get("/leaderboard").await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("html");
    for medal in ["🥇", "🥈", "🥉"] {
        assert_eq!(html.matches(medal).count(), 1, "{medal} once");
    }
    assert!(!html.contains("<script>alert(1)"), "clip titles are escaped");
    assert!(html.contains("&#60;script&#62;alert(1)&#60;/script&#62;") || html.contains("&lt;script&gt;"), "{html}");
    assert!(html.contains(&format!("href=\"/clip/{clip}\"")));
    assert!(html.contains("board=voters"), "tabs link the other boards");
    assert!(html.contains("aria-current=\"page\">Clips<"), "the clips tab is current");
    assert!(html.contains("aria-current=\"page\">All time<"), "all time is the default period");
    assert!(html.contains("lb-trend-new"), "first-day entries are new");
    assert!(html.contains("href=\"/leaderboard\" aria-current=\"page\">"), "the nav links the page, marked current");

    let voters = app.get("/leaderboard?board=voters&period=day").await.text().await.expect("html");
    assert!(voters.contains("@v_one") && voters.contains("aria-current=\"page\">Voters<"), "{voters}");
    assert!(voters.contains("aria-current=\"page\">Today<"));
    let creators = app.get("/leaderboard?board=creators&period=week").await.text().await.expect("html");
    assert!(creators.contains("@maker"), "{creators}");

    // One entry per page beyond the first twenty: no next link with five clips.
    assert!(!html.contains("rel=\"next\""));
    assert!(!html.contains("rel=\"prev\""));
    let second = app.get("/leaderboard?offset=20").await.text().await.expect("html");
    assert!(second.contains("rel=\"prev\"") && second.contains("Nobody here yet"));
    assert_eq!(app.get("/leaderboard?offset=-1").await.status(), 400);
    assert_eq!(app.get("/leaderboard?board=films").await.status(), 400);
}
