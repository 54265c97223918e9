//! Profiles, follows and notifications over HTTP: numbers after real votes,
//! follow rules, and the notifications that moderation, wins, comments,
//! followers and new voting rounds produce.

use aimoviez::domain::account::Username;
use aimoviez::store::writer::MAX_FOLLOWERS_NOTIFIED;
use reqwest::Client;
use serde_json::{Value, json};

use crate::helpers::{SHORT_MP4, TestApp, assert_error, spawn_app};

async fn json_of(client: &Client, app: &TestApp, path: &str) -> Value {
    let response = client.get(app.url(path)).send().await.expect("request");
    assert_eq!(response.status(), 200, "GET {path}");
    response.json().await.expect("json")
}

async fn unread(client: &Client, app: &TestApp) -> u64 {
    json_of(client, app, "/api/notifications/unread-count").await["unreadCount"].as_u64().expect("unreadCount")
}

async fn notifications(client: &Client, app: &TestApp) -> Vec<Value> {
    json_of(client, app, "/api/notifications").await["notifications"].as_array().expect("list").clone()
}

/// Uploads a clip as `creator` and has `admin` approve it into the open slot.
async fn approved_clip(app: &TestApp, admin: &Client, creator: &Client, title: &str) -> u64 {
    let clip = app.upload(creator, SHORT_MP4, title).await;
    let approved = admin.post(app.url(&format!("/api/admin/clips/{clip}/approve"))).send().await.expect("approve");
    assert_eq!(approved.status(), 200);
    clip
}

async fn vote(client: &Client, app: &TestApp, clip: u64) {
    let response = client.post(app.url("/api/vote")).json(&json!({ "clipId": clip })).send().await.expect("vote");
    assert_eq!(response.status(), 200, "vote on {clip}");
}

fn badge<'a>(profile: &'a Value, key: &str) -> &'a Value {
    profile["badges"].as_array().expect("badges").iter().find(|b| b["key"] == key).expect("badge")
}

/// The form token on a page (signed-in pages carry it in every form).
async fn form_token(client: &Client, app: &TestApp, path: &str) -> String {
    let html = client.get(app.url(path)).send().await.expect("page").text().await.expect("html");
    crate::helpers::form_token(&html)
}

#[tokio::test]
async fn profile_numbers_follow_real_votes() {
    let app = spawn_app().await;
    let voter = app.signed_in("counter").await;
    let clips = app.clip_ids().await;
    vote(&voter, &app, clips[0]).await;
    vote(&voter, &app, clips[1]).await;

    let me = json_of(&voter, &app, "/api/me/profile").await;
    let profile = &me["profile"];
    assert_eq!(profile["username"], "counter");
    assert_eq!(profile["votesTotal"], 2);
    assert_eq!(profile["votesToday"], 2);
    assert_eq!(profile["streak"], 1);
    assert_eq!(profile["bestStreak"], 1);
    assert_eq!(profile["xp"], 20, "10 XP per counted vote");
    assert_eq!(profile["level"], 1);
    assert_eq!(profile["xpIntoLevel"], 20);
    assert_eq!(profile["xpForNextLevel"], 100);
    assert_eq!(profile["rank"], 1, "the only signed-in voter leads the voters board");
    assert_eq!(badge(profile, "votes_1")["state"], "unlocked");
    assert_eq!(badge(profile, "votes_10")["state"], "in_progress");
    assert_eq!(badge(profile, "votes_10")["progress"], 2);
    assert_eq!(badge(profile, "votes_10")["goal"], 10);
    assert_eq!(badge(profile, "streak_3")["state"], "in_progress");
    assert_eq!(badge(profile, "first_win")["state"], "locked");
    let recent: Vec<u64> = profile["recentVotes"]
        .as_array()
        .expect("recent votes")
        .iter()
        .map(|v| v["clipId"].as_u64().expect("clipId"))
        .collect();
    assert_eq!(recent, vec![clips[1], clips[0]], "newest first");
    assert_eq!(json_of(&voter, &app, "/api/profile/stats").await["profile"], *profile, "same numbers");

    // A revoke takes the vote off the totals and today's count, not the streak.
    let revoke = voter.delete(app.url("/api/vote")).json(&json!({ "clipId": clips[1] })).send().await;
    assert_eq!(revoke.expect("revoke").status(), 200);
    let profile = json_of(&voter, &app, "/api/me/profile").await["profile"].clone();
    assert_eq!((profile["votesTotal"].as_u64(), profile["votesToday"].as_u64()), (Some(1), Some(1)));
    assert_eq!(profile["streak"], 1);
    let history = json_of(&voter, &app, "/api/profile/history").await;
    assert_eq!(history["votes"][0]["state"], "revoked");

    // The public view has the numbers but not the private parts.
    let public = app.get_json("/api/users/COUNTER").await;
    assert_eq!(public["profile"]["votesTotal"], 1);
    assert_eq!(public["profile"]["votesToday"], Value::Null);
    assert_eq!(public["profile"]["recentVotes"], Value::Null);
    assert_eq!(public["isFollowing"], false);

    // The pages show the same, with a generated avatar and no JavaScript needed.
    let page = voter.get(app.url("/profile")).send().await.expect("profile");
    assert_eq!(page.status(), 200);
    let html = page.text().await.expect("html");
    assert!(html.contains("@counter") && html.contains("<svg class=\"avatar\""), "{html}");
    assert!(html.contains("Centurion") && html.contains("1 / 10"), "badges with progress: {html}");
    assert!(html.contains("Last votes"));
    let public_page = app.get("/u/counter").await;
    assert_eq!(public_page.status(), 200);
    let public_html = public_page.text().await.expect("html");
    assert!(public_html.contains("@counter") && !public_html.contains("Last votes"));
    assert_eq!(app.get("/u/nobody_here").await.status(), 404);
}

#[tokio::test]
async fn follows_are_idempotent_counted_and_never_of_yourself() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice").await;
    let bob = app.signed_in("bob").await;
    for _ in 0..2 {
        let response = alice.post(app.url("/api/users/bob/follow")).send().await.expect("follow");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        assert_eq!((body["following"].as_bool(), body["followers"].as_u64()), (Some(true), Some(1)));
    }
    assert_eq!(app.get_json("/api/users/bob").await["profile"]["followers"], 1);
    assert_eq!(app.get_json("/api/users/alice").await["profile"]["following"], 1);
    assert_eq!(json_of(&alice, &app, "/api/users/bob").await["isFollowing"], true);
    let followers = app.get_json("/api/users/bob/followers").await;
    assert_eq!(followers["users"][0]["username"], "alice");
    assert_eq!(app.get_json("/api/users/alice/following").await["users"][0]["username"], "bob");

    // Bob heard about it once, though alice followed twice.
    let inbox = notifications(&bob, &app).await;
    let follows: Vec<&Value> = inbox.iter().filter(|n| n["kind"] == "new_follower").collect();
    assert_eq!(follows.len(), 1, "{inbox:?}");
    assert_eq!(follows[0]["actor"], "alice");

    assert_error(alice.post(app.url("/api/users/alice/follow")).send().await.expect("self"), 400, "invalid_request")
        .await;
    assert_error(alice.post(app.url("/api/users/nobody_here/follow")).send().await.expect("404"), 404, "not_found")
        .await;
    assert_error(alice.post(app.url("/api/users/no%20such!/follow")).send().await.expect("404"), 404, "not_found")
        .await;
    assert_error(app.client.post(app.url("/api/users/bob/follow")).send().await.expect("anon"), 401, "auth_required")
        .await;
    assert_error(app.get("/api/users/bob/followers?limit=101").await, 400, "invalid_request").await;

    for _ in 0..2 {
        let response = alice.delete(app.url("/api/users/bob/follow")).send().await.expect("unfollow");
        assert_eq!(response.status(), 200);
        let body: Value = response.json().await.expect("json");
        assert_eq!((body["following"].as_bool(), body["followers"].as_u64()), (Some(false), Some(0)));
    }
    assert_eq!(app.get_json("/api/users/alice").await["profile"]["following"], 0);
    assert_eq!(app.get_json("/api/users/bob/followers").await["users"], json!([]));

    // The no-JavaScript form follows with the session's form token, and
    // refuses a post without it.
    let token = form_token(&alice, &app, "/u/bob").await;
    let refused = alice.post(app.url("/u/bob/follow")).form(&[("action", "follow"), ("csrf", "wrong")]).send().await;
    assert_eq!(refused.expect("form").status(), 403);
    assert_eq!(app.get_json("/api/users/bob").await["profile"]["followers"], 0, "refused form changed nothing");
    let followed =
        alice.post(app.url("/u/bob/follow")).form(&[("action", "follow"), ("csrf", token.as_str())]).send().await;
    assert_eq!(followed.expect("form").status(), 200, "redirected back to the profile");
    assert_eq!(app.get_json("/api/users/bob").await["profile"]["followers"], 1);
    let html = alice.get(app.url("/u/bob")).send().await.expect("page").text().await.expect("html");
    assert!(html.contains("Unfollow"));
    // Unfollowing and following again does not notify bob again.
    let inbox = notifications(&bob, &app).await;
    assert_eq!(inbox.iter().filter(|n| n["kind"] == "new_follower").count(), 1, "{inbox:?}");
    assert_eq!(app.check_mismatches(), Vec::<String>::new(), "counters agree with a recount");
}

#[tokio::test]
async fn approval_rejection_win_and_new_round_notify_the_right_people() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let creator = app.signed_in("maker_one").await;
    let watcher = app.signed_in("watcher").await;
    assert_eq!(unread(&creator, &app).await, 0);

    // Approval: the creator sees one unread notification about their clip.
    let clip = approved_clip(&app, &admin, &creator, "Harbour lights").await;
    assert_eq!(unread(&creator, &app).await, 1);
    let inbox = notifications(&creator, &app).await;
    assert_eq!(inbox.len(), 1);
    assert_eq!(inbox[0]["kind"], "clip_approved");
    assert_eq!(inbox[0]["clipId"], clip);
    assert_eq!(inbox[0]["read"], false);
    assert!(inbox[0]["message"].as_str().is_some_and(|m| m.contains("Harbour lights")));
    assert_eq!(unread(&watcher, &app).await, 0, "someone else's clip is not news to the watcher");
    let page = creator.get(app.url("/profile")).send().await.expect("page").text().await.expect("html");
    assert!(page.contains("unread-badge"), "the nav shows the unread badge");

    let read = creator
        .post(app.url("/api/notifications/read"))
        .json(&json!({ "ids": [inbox[0]["id"]] }))
        .send()
        .await
        .expect("read");
    assert_eq!(read.status(), 200);
    assert_eq!(read.json::<Value>().await.expect("json")["unreadCount"], 0);
    assert_eq!(unread(&creator, &app).await, 0);
    assert_eq!(notifications(&creator, &app).await[0]["read"], true);

    // Rejection tells the creator why.
    let other = app.upload(&creator, SHORT_MP4, "Blurry one").await;
    let rejected = admin
        .post(app.url(&format!("/api/admin/clips/{other}/reject")))
        .json(&json!({ "reason": "too blurry" }))
        .send()
        .await
        .expect("reject");
    assert_eq!(rejected.status(), 200);
    let inbox = notifications(&creator, &app).await;
    assert_eq!(inbox[0]["kind"], "clip_rejected");
    assert!(inbox[0]["message"].as_str().is_some_and(|m| m.contains("too blurry")));
    let all = creator.post(app.url("/api/notifications/read")).json(&json!({ "all": true })).send().await;
    assert_eq!(all.expect("read all").status(), 200);
    assert_eq!(unread(&creator, &app).await, 0);

    // Put the clip on top and close the slot: the creator wins, and the next
    // slot opening is one broadcast that everyone signed up before it sees.
    vote(&watcher, &app, clip).await;
    assert_eq!(app.vote_as(clip, Some("203.0.113.7"), "standard").await.status(), 200);
    let advance = admin.post(app.url("/api/admin/slots/advance")).send().await.expect("advance");
    assert_eq!(advance.status(), 200);
    let inbox = notifications(&creator, &app).await;
    let kinds: Vec<&str> = inbox.iter().filter_map(|n| n["kind"].as_str()).collect();
    assert_eq!(kinds[..2], ["new_round", "clip_won"], "{inbox:?}");
    assert_eq!(inbox[1]["clipId"], clip);
    assert_eq!(inbox[1]["slotPosition"], 1);
    assert_eq!(inbox[0]["slotPosition"], 2);
    assert_eq!(inbox[0]["broadcast"], true);
    assert_eq!(unread(&creator, &app).await, 2);
    let me = json_of(&creator, &app, "/api/me/profile").await;
    assert_eq!(me["profile"]["wins"], 1);
    assert_eq!(me["profile"]["approvedClips"], 1);
    assert_eq!(me["profile"]["clipsUploaded"], 2);
    assert_eq!(badge(&me["profile"], "first_win")["state"], "unlocked");
    assert_eq!(badge(&me["profile"], "first_clip")["state"], "unlocked");
    assert_eq!(me["profile"]["xp"], 100 + 500, "approved clip + win");

    // The watcher gets the round broadcast and can mark it read by id.
    let inbox = notifications(&watcher, &app).await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0]["kind"], "new_round");
    assert_eq!(unread(&watcher, &app).await, 1);
    let read = watcher.post(app.url("/api/notifications/read")).json(&json!({ "ids": [inbox[0]["id"]] })).send().await;
    assert_eq!(read.expect("read").status(), 200);
    assert_eq!(unread(&watcher, &app).await, 0);
    assert_eq!(notifications(&watcher, &app).await[0]["read"], true);
    assert_eq!(unread(&creator, &app).await, 2, "one user's read marker is theirs alone");

    // Someone who signs up later did not miss that round.
    let late = app.signed_in("latecomer").await;
    assert_eq!(unread(&late, &app).await, 0);
    assert!(notifications(&late, &app).await.is_empty());

    // The page lists them and its form marks all read.
    let html = creator.get(app.url("/notifications")).send().await.expect("page").text().await.expect("html");
    assert!(html.contains("won slot 1") && html.contains("Voting opened for slot 2"), "{html}");
    let token = form_token(&creator, &app, "/notifications").await;
    let marked = creator.post(app.url("/notifications/read")).form(&[("csrf", token.as_str())]).send().await;
    assert_eq!(marked.expect("form").status(), 200);
    assert_eq!(unread(&creator, &app).await, 0);
    assert_eq!(app.check_mismatches(), Vec::<String>::new(), "counters agree with a recount");
}

#[tokio::test]
async fn comments_notify_the_clip_creator_but_not_for_their_own() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let creator = app.signed_in("filmmaker").await;
    let fan = app.signed_in("fan_club").await;
    let clip = approved_clip(&app, &admin, &creator, "Night swim").await;
    let read_all = creator.post(app.url("/api/notifications/read")).json(&json!({})).send().await;
    assert_eq!(read_all.expect("read").status(), 200, "an empty body marks all read");
    assert_eq!(unread(&creator, &app).await, 0);

    let posted = fan
        .post(app.url("/api/comments"))
        .json(&json!({ "clipId": clip, "body": "<b>love</b> this" }))
        .send()
        .await
        .expect("comment");
    assert_eq!(posted.status(), 201);
    assert_eq!(unread(&creator, &app).await, 1);
    let inbox = notifications(&creator, &app).await;
    assert_eq!(inbox[0]["kind"], "comment");
    assert_eq!(inbox[0]["actor"], "fan_club");
    assert_eq!(inbox[0]["clipId"], clip);
    let html = creator.get(app.url("/notifications")).send().await.expect("page").text().await.expect("html");
    let line = html.lines().find(|l| l.contains("love")).unwrap_or_default();
    assert!(!html.contains("<b>love</b>") && line.contains("&#60;b&#62;love"), "comment text is escaped: {line}");

    let own = creator.post(app.url("/api/comments")).json(&json!({ "clipId": clip, "body": "thanks!" })).send().await;
    assert_eq!(own.expect("comment").status(), 201);
    assert_eq!(unread(&creator, &app).await, 1, "no notification for your own comment");
    assert_eq!(unread(&fan, &app).await, 0);
}

#[tokio::test]
async fn bad_notification_requests_are_refused_and_change_nothing() {
    let app = spawn_app().await;
    let alice = app.signed_in("alice_b").await;
    let bob = app.signed_in("bob_b").await;
    let follow = bob.post(app.url("/api/users/alice_b/follow")).send().await.expect("follow");
    assert_eq!(follow.status(), 200);
    let id = notifications(&alice, &app).await[0]["id"].as_u64().expect("id");

    let read = |client: &Client, body: &'static str| {
        client.post(app.url("/api/notifications/read")).header("content-type", "application/json").body(body).send()
    };
    assert_error(read(&alice, "{not json").await.expect("read"), 400, "invalid_request").await;
    assert_error(read(&alice, r#"{"ids": "x"}"#).await.expect("read"), 400, "invalid_request").await;
    assert_error(read(&alice, r#"{"ids": []}"#).await.expect("read"), 400, "invalid_request").await;
    assert_error(read(&alice, r#"{"ids": [1], "all": true}"#).await.expect("read"), 400, "invalid_request").await;
    assert_error(read(&alice, r#"{"everything": true}"#).await.expect("read"), 400, "invalid_request").await;
    // Bob cannot read (or mark) alice's notification.
    let theirs = bob.post(app.url("/api/notifications/read")).json(&json!({ "ids": [id] })).send().await;
    assert_error(theirs.expect("read"), 404, "not_found").await;
    assert!(notifications(&bob, &app).await.is_empty(), "alice's notification is not in bob's list");
    assert_eq!(unread(&alice, &app).await, 1, "nothing changed");
    assert_eq!(notifications(&alice, &app).await[0]["read"], false);

    for query in ["limit=0", "limit=51", "limit=abc", "before=-1"] {
        let response = alice.get(app.url(&format!("/api/notifications?{query}"))).send().await.expect("list");
        assert_error(response, 400, "invalid_request").await;
    }
    assert_error(app.get("/api/notifications").await, 401, "auth_required").await;
    assert_error(app.get("/api/notifications/unread-count").await, 401, "auth_required").await;
    assert_error(app.get("/api/me/profile").await, 401, "auth_required").await;
    assert_error(app.get("/api/users/nobody_here").await, 404, "not_found").await;
    assert_error(app.get("/api/users/x").await, 404, "not_found").await;
}

#[tokio::test]
async fn notification_pages_are_newest_first_and_bounded() {
    let app = spawn_app().await;
    let star = app.signed_in("star").await;
    for n in 0..5 {
        let fan = app.signed_in(&format!("fan_{n}")).await;
        assert_eq!(fan.post(app.url("/api/users/star/follow")).send().await.expect("follow").status(), 200);
    }
    assert_eq!(unread(&star, &app).await, 5);
    let first = json_of(&star, &app, "/api/notifications?limit=2").await;
    let actors: Vec<&str> =
        first["notifications"].as_array().expect("list").iter().filter_map(|n| n["actor"].as_str()).collect();
    assert_eq!(actors, ["fan_4", "fan_3"]);
    assert_eq!(first["hasMore"], true);
    let before = first["nextBefore"].as_u64().expect("cursor");
    let second = json_of(&star, &app, &format!("/api/notifications?limit=2&before={before}")).await;
    let actors: Vec<&str> =
        second["notifications"].as_array().expect("list").iter().filter_map(|n| n["actor"].as_str()).collect();
    assert_eq!(actors, ["fan_2", "fan_1"]);
    let before = second["nextBefore"].as_u64().expect("cursor");
    let last = json_of(&star, &app, &format!("/api/notifications?limit=2&before={before}")).await;
    assert_eq!(last["notifications"].as_array().map(Vec::len), Some(1));
    assert_eq!(last["hasMore"], false);
    assert_eq!(last["unreadCount"], 5);
}

#[tokio::test]
async fn a_refused_bulk_approval_changes_nothing_and_notifies_no_one() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let creator = app.signed_in("bulk_maker").await;
    let live = approved_clip(&app, &admin, &creator, "Already live").await;
    let pending = app.upload(&creator, SHORT_MP4, "Still waiting").await;
    assert_eq!(unread(&creator, &app).await, 1, "the first approval");

    // The pending clip comes first, the already-live one makes it a conflict.
    let refused = admin
        .post(app.url("/api/admin/clips/bulk"))
        .json(&json!({ "action": "approve", "clipIds": [pending, live] }))
        .send()
        .await
        .expect("bulk");
    assert_error(refused, 409, "conflict").await;
    assert_eq!(unread(&creator, &app).await, 1, "no notification for a refused command");
    let approved = admin.post(app.url(&format!("/api/admin/clips/{pending}/approve"))).send().await.expect("approve");
    assert_eq!(approved.status(), 200, "the pending clip was left pending");
    assert_eq!(unread(&creator, &app).await, 2);
    assert_eq!(app.check_mismatches(), Vec::<String>::new());
}

#[tokio::test]
async fn an_approved_clip_tells_the_earliest_followers_up_to_the_cap_and_no_more() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let director = app.signed_in("crowd_pleaser").await;
    // One follower past the cap, made in-process: registering each over HTTP
    // would hash 501 passwords.
    let writer = app.services().writer.clone();
    let followers = futures_util::future::join_all((0..=MAX_FOLLOWERS_NOTIFIED).map(|n| {
        let writer = writer.clone();
        async move {
            let name = Username::parse(&format!("crowd_{n:03}")).expect("username");
            let user = writer.create_user(name, "not a password hash".into()).await.expect("create follower");
            writer.follow(user.id, "crowd_pleaser".into(), true).await.expect("follow");
            user.id
        }
    }))
    .await;
    let followed = app.get_json("/api/users/crowd_pleaser").await["profile"]["followers"].as_u64();
    assert_eq!(followed, Some(MAX_FOLLOWERS_NOTIFIED as u64 + 1));

    let clip = approved_clip(&app, &admin, &director, "Full house").await;
    let mut told = Vec::new();
    for &follower in &followers {
        let (inbox, _) =
            app.services().read(move |store| store.notifications(follower, None, 10)).await.expect("inbox");
        if inbox.iter().any(|n| n.kind.as_str() == "followed_clip_approved" && n.clip.map(|c| c.get()) == Some(clip)) {
            told.push(follower.get());
        }
    }
    // The cap's worth, and they are the earliest accounts among the followers.
    let mut earliest: Vec<u64> = followers.iter().map(|id| id.get()).collect();
    earliest.sort_unstable();
    earliest.truncate(MAX_FOLLOWERS_NOTIFIED);
    told.sort_unstable();
    assert_eq!(told, earliest);
    assert_eq!(app.check_mismatches(), Vec::<String>::new());
}

#[tokio::test]
async fn followers_replies_and_mentions_are_told_and_opening_one_marks_it_read() {
    let app = spawn_app().await;
    let admin = app.admin().await;
    let director = app.signed_in("director").await;
    let fan = app.signed_in("big_fan").await;
    let stranger = app.signed_in("stranger").await;
    let follow = fan.post(app.url("/api/users/director/follow")).send().await.expect("follow");
    assert_eq!(follow.status(), 200);

    // The followed creator's clip is approved: the follower is told, with the
    // creator as the actor; someone who does not follow is not.
    let clip = approved_clip(&app, &admin, &director, "Paper moon").await;
    let inbox = notifications(&fan, &app).await;
    assert_eq!(inbox.len(), 1, "{inbox:?}");
    assert_eq!(inbox[0]["kind"], "followed_clip_approved");
    assert_eq!(inbox[0]["actor"], "director");
    assert_eq!(inbox[0]["clipId"], clip);
    assert!(notifications(&stranger, &app).await.is_empty());

    // A comment mentioning the creator, a stranger and a name nobody has:
    // the creator hears once (as the creator), the stranger by mention.
    let comment = |client: &Client, body: &str, parent: Option<u64>| {
        let request = json!({ "clipId": clip, "body": body, "parentId": parent });
        client.post(app.url("/api/comments")).json(&request).send()
    };
    let posted = comment(&fan, "@director look, @Stranger and @nobody_here", None).await.expect("comment");
    assert_eq!(posted.status(), 201);
    let parent = posted.json::<Value>().await.expect("json")["id"].as_u64().expect("comment id");
    let kinds =
        |inbox: Vec<Value>| inbox.iter().map(|n| n["kind"].as_str().unwrap_or("").to_owned()).collect::<Vec<_>>();
    let director_kinds = kinds(notifications(&director, &app).await);
    assert_eq!(director_kinds, ["comment", "clip_approved", "new_follower"]);
    let mentioned = notifications(&stranger, &app).await;
    assert_eq!(kinds(mentioned.clone()), ["mention"]);
    assert_eq!(mentioned[0]["actor"], "big_fan");
    assert!(mentioned[0]["message"].as_str().is_some_and(|m| m.contains("mentioned you")), "{mentioned:?}");
    assert_eq!(unread(&fan, &app).await, 1, "mentioning yourself or posting tells you nothing");

    // Replies: the comment's author is told once even when also mentioned;
    // the creator replying to their own clip's comment hears nothing.
    let reply = comment(&director, "thanks @big_fan!", Some(parent)).await.expect("reply");
    assert_eq!(reply.status(), 201);
    let inbox = notifications(&fan, &app).await;
    assert_eq!(kinds(inbox.clone()), ["reply", "followed_clip_approved"]);
    assert!(inbox[0]["message"].as_str().is_some_and(|m| m.contains("@director replied")), "{inbox:?}");
    assert_eq!(kinds(notifications(&director, &app).await), director_kinds, "nothing for your own reply");

    // The followed creator's clip wins its slot.
    vote(&fan, &app, clip).await;
    let advance = admin.post(app.url("/api/admin/slots/advance")).send().await.expect("advance");
    assert_eq!(advance.status(), 200);
    let inbox = notifications(&fan, &app).await;
    let won = inbox.iter().find(|n| n["kind"] == "followed_clip_won").expect("told of the win");
    assert_eq!(won["slotPosition"], 1);
    assert!(won["message"].as_str().is_some_and(|m| m.contains("by @director won slot 1")), "{won}");

    // The page lists them, each a link that opens it: opening marks it read
    // and leads to the comments of the clip.
    let html = fan.get(app.url("/notifications")).send().await.expect("page").text().await.expect("html");
    let reply_id = inbox.iter().find(|n| n["kind"] == "reply").expect("reply")["id"].as_u64().expect("id");
    assert!(html.contains(&format!(r#"href="/notifications/{reply_id}""#)), "{html}");
    assert!(html.contains("replied to your comment") && html.contains("won slot 1"), "{html}");
    let before = unread(&fan, &app).await;
    let opened = fan.get(app.url(&format!("/notifications/{reply_id}"))).send().await.expect("open");
    assert_eq!(opened.status(), 200);
    assert_eq!(opened.url().path(), format!("/clip/{clip}"));
    assert_eq!(unread(&fan, &app).await, before - 1);
    let inbox = notifications(&fan, &app).await;
    assert_eq!(inbox.iter().find(|n| n["id"] == reply_id).expect("still listed")["read"], true);
    let again = fan.get(app.url(&format!("/notifications/{reply_id}"))).send().await.expect("open again");
    assert_eq!(again.status(), 200, "opening a read one still leads there");
    assert_eq!(unread(&fan, &app).await, before - 1);

    // Someone else's notification, an unknown id or a word open nothing and
    // change nothing; signed out, the link asks to sign in.
    let stranger_unread = unread(&stranger, &app).await;
    for path in [format!("/notifications/{reply_id}"), "/notifications/999999".into(), "/notifications/abc".into()] {
        let client = if path.ends_with(&reply_id.to_string()) { &stranger } else { &fan };
        let refused = client.get(app.url(&path)).send().await.expect("open");
        assert_eq!(refused.status(), 404, "{path}");
    }
    assert_eq!(unread(&fan, &app).await, before - 1);
    assert_eq!(unread(&stranger, &app).await, stranger_unread);
    let anonymous = Client::new().get(app.url(&format!("/notifications/{reply_id}"))).send().await.expect("open");
    assert_eq!(anonymous.url().path(), "/login");
    assert_eq!(app.check_mismatches(), Vec::<String>::new(), "counters agree with a recount");
}
