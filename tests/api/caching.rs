//! Shared caching of what anonymous visitors see (issue #17): a weak ETag,
//! `public, max-age, stale-while-revalidate`, `Vary: Cookie,
//! Accept-Encoding` and 304 on `If-None-Match` for every route of the
//! issue's list; signed-in answers private; per-voter answers never shared.

use reqwest::header::{CACHE_CONTROL, ETAG, IF_NONE_MATCH, VARY};

use crate::helpers::{SpawnOptions, TestApp, form_token, spawn_app, spawn_with};

/// Every route the issue lists as the same for all anonymous visitors, with
/// real ids: a finished film (`/watch/1`), a clip, a user.
fn shared_paths(clip: u64) -> Vec<String> {
    vec![
        "/story".to_owned(),
        "/watch".to_owned(),
        "/watch/1".to_owned(),
        "/leaderboard".to_owned(),
        format!("/clip/{clip}"),
        "/u/regular".to_owned(),
        "/genres".to_owned(),
        "/api/story".to_owned(),
        "/api/seasons/active".to_owned(),
        "/api/leaderboard/clips".to_owned(),
        "/api/leaderboard/creators".to_owned(),
        "/api/leaderboard/voters".to_owned(),
        format!("/api/clips/{clip}"),
        format!("/api/comments?clipId={clip}"),
    ]
}

/// An app whose two-slot demo film has finished, so `/watch/1` exists.
async fn app_with_a_finished_film() -> TestApp {
    let app = spawn_with(SpawnOptions {
        demo: Some(aimoviez::demo::DemoOptions { total_slots: 2, slot_duration_secs: 1 }),
        ..SpawnOptions::default()
    })
    .await;
    app.eventually(10, "the two-slot film to finish", || async {
        app.get_json("/api/story").await["season"].is_null()
    })
    .await;
    app
}

#[tokio::test]
async fn anonymous_answers_are_shareable_and_signed_in_ones_private() {
    let app = app_with_a_finished_film().await;
    // The demo's first clip won the first slot: public for good.
    let clip = 1;
    assert_eq!(app.get("/api/clips/1").await.status(), 200, "the film's first clip");
    let member = app.signed_in("regular").await;
    for path in &shared_paths(clip) {
        let response = app.client.get(app.url(path)).send().await.expect("get");
        assert_eq!(response.status(), 200, "{path}");
        let headers = response.headers().clone();
        assert_eq!(headers[CACHE_CONTROL], "public, max-age=5, stale-while-revalidate=30", "{path}");
        assert_eq!(headers[VARY], "Cookie, Accept-Encoding", "{path}");
        assert!(headers.get("set-cookie").is_none(), "{path}: a shared answer sets no cookie");
        let tag = headers[ETAG].clone();
        assert!(tag.to_str().expect("tag").starts_with("W/\""), "{path}: {tag:?}");
        let body = response.text().await.expect("body");
        // Nothing personal in what anyone may be served: no form token.
        let tokens = body.matches("name=\"csrf\" value=\"").count();
        assert_eq!(body.matches("name=\"csrf\" value=\"\"").count(), tokens, "{path}: a form token in a shared page");

        let mut again = app.client.get(app.url(path)).header(IF_NONE_MATCH, tag.clone()).send().await.expect("get");
        if again.status() == 200 {
            // A background commit (a view flush) moved the tag in between: once more.
            let tag = again.headers()[ETAG].clone();
            again = app.client.get(app.url(path)).header(IF_NONE_MATCH, tag).send().await.expect("get");
        }
        assert_eq!(again.status(), 304, "{path}");
        let tag = again.headers()[ETAG].clone();
        assert_eq!(again.headers()[CACHE_CONTROL], "public, max-age=5, stale-while-revalidate=30", "{path}");
        let head = app.client.head(app.url(path)).send().await.expect("head");
        assert_eq!(head.status(), 200, "{path}");
        assert!(head.headers()[ETAG].to_str().expect("tag").starts_with("W/\""), "{path}: HEAD is shared too");

        let signed_in = member.get(app.url(path)).header(IF_NONE_MATCH, tag.clone()).send().await.expect("get");
        assert_eq!(signed_in.status(), 200, "{path}: a signed-in request is never answered from a shared tag");
        assert_eq!(signed_in.headers()[CACHE_CONTROL], "private, no-store", "{path}");
        assert_eq!(signed_in.headers()[VARY], "Cookie, Accept-Encoding", "{path}");
        assert!(signed_in.headers().get(ETAG).is_none(), "{path}");
    }
    // A refusal is never shared: it keeps the handler's private answer.
    let missing = app.get("/clip/999999").await;
    assert_eq!(missing.status(), 404);
    assert_eq!(missing.headers()[CACHE_CONTROL], "private, no-store");
    assert!(missing.headers().get(ETAG).is_none());
}

#[tokio::test]
async fn a_commit_moves_the_tag_and_an_old_tag_gets_the_new_page() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    for path in ["/api/story".to_owned(), format!("/clip/{clip}"), "/leaderboard".to_owned()] {
        // Background commits (view flushes every 3 s) and the minute also
        // move the tag, so "unchanged" may take a second try.
        let mut revalidated = None;
        for _ in 0..5 {
            let tag = app.get(&path).await.headers()[ETAG].clone();
            let again = app.client.get(app.url(&path)).header(IF_NONE_MATCH, tag.clone()).send().await.expect("get");
            if again.status() == 304 {
                revalidated = Some(tag);
                break;
            }
        }
        let before = revalidated.unwrap_or_else(|| panic!("{path}: nothing committed, yet never a 304"));
        assert_eq!(app.vote_as(clip, Some(&format!("10.9.0.{}", path.len())), "standard").await.status(), 200);
        let after = app.client.get(app.url(&path)).header(IF_NONE_MATCH, before.clone()).send().await.expect("get");
        assert_eq!(after.status(), 200, "{path}: a commit makes the old tag stale");
        assert_ne!(after.headers()[ETAG], before, "{path}");
    }
}

#[tokio::test]
async fn per_voter_answers_are_never_shared() {
    let app = spawn_app().await;
    let member = app.signed_in("voter").await;
    for path in ["/", "/api/vote"] {
        for client in [&app.client, &member] {
            let response = client.get(app.url(path)).send().await.expect("get");
            assert_eq!(response.status(), 200, "{path}");
            assert_eq!(response.headers()[CACHE_CONTROL], "private, no-store", "{path}");
            assert!(response.headers().get(ETAG).is_none(), "{path}");
            let tagged = client.get(app.url(path)).header(IF_NONE_MATCH, "*").send().await.expect("get");
            assert_eq!(tagged.status(), 200, "{path}: never a 304 for a per-voter answer");
        }
    }
}

#[tokio::test]
async fn the_genre_page_marks_only_a_signed_in_pick() {
    let app = spawn_with(SpawnOptions { demo: None, ..SpawnOptions::default() }).await;
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let voted = no_redirects.post(app.url("/genres")).form(&[("genre", "horror")]).send().await.expect("vote");
    assert_eq!(voted.status(), 303);
    assert_eq!(voted.headers()["location"], "/genres?voted=1");
    // The anonymous page is the same for everyone: it says nobody's pick,
    // and the page the vote returned to confirms it.
    let anonymous = app.get("/genres").await.text().await.expect("html");
    assert!(!anonymous.contains("Your pick"), "{anonymous}");
    assert!(anonymous.contains("class=\"genre-name\">horror"), "{anonymous}");
    let confirmed = app.get("/genres?voted=1").await.text().await.expect("html");
    assert!(confirmed.contains("Your vote is counted"), "{confirmed}");
    // A signed-in page is private, so it marks the member's own pick.
    let member = app.signed_in("picker").await;
    let form = member.get(app.url("/genres")).send().await.expect("page").text().await.expect("html");
    let token = form_token(&form);
    let cast = member
        .post(app.url("/genres"))
        .form(&[("csrf", token.as_str()), ("genre", "comedy")])
        .send()
        .await
        .expect("vote")
        .text()
        .await
        .expect("html");
    let mine = cast.split("<li class=\"mine\">").nth(1).expect("the member's pick is marked");
    assert!(mine.contains("comedy") && mine.contains("Your pick"), "{mine}");
}
