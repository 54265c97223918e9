//! The HTML pages, fetched as a browser without JavaScript would.

use crate::helpers::{TestApp, form_token, spawn_app};

#[tokio::test]
async fn the_arena_shows_a_playable_clip_with_a_vote_form() {
    let app = spawn_app().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-security-policy"].to_str().expect("ascii").contains("frame-ancestors 'none'"));
    assert_eq!(response.headers()["x-content-type-options"], "nosniff");
    let html = response.text().await.expect("html");
    assert!(html.contains("<video id=\"clip-video\""), "{html}");
    assert!(html.contains("src=\"/media/"), "{html}");
    assert!(html.contains("action=\"/vote\""));
    for kind in ["standard", "super", "mega"] {
        assert!(html.contains(&format!("name=\"vote_type\" value=\"{kind}\"")), "no {kind} button: {html}");
    }
    assert!(html.contains("formaction=\"/vote/undo\""), "no undo button");
    assert!(html.contains("200 votes left today · super ready · mega ready"), "budget line missing: {html}");
    assert!(html.contains("id=\"vote-count\""));
    assert!(html.contains("id=\"next-clip\""));
    assert!(html.contains("Scene 1 of 75"));
    assert!(html.contains("href=\"/u/"), "the creator is linked");
    assert!(html.contains("id=\"clip-link\" href=\"/clip/"), "the clip page is linked");
    assert!(!html.contains("<script>"), "no inline script");
}

/// A browser without JavaScript posting the arena's forms, redirects not
/// followed.
fn no_redirects() -> reqwest::Client {
    reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client")
}

async fn post_form(app: &TestApp, path: &str, form: &[(&str, &str)]) -> reqwest::Response {
    no_redirects().post(app.url(path)).header("user-agent", "aimoviez-tests").form(form).send().await.expect("post")
}

fn location(response: &reqwest::Response) -> String {
    assert_eq!(response.status(), 303, "not a redirect");
    response.headers()["location"].to_str().expect("ascii").to_owned()
}

/// The `data-clip-id` of the arena's clip.
fn shown_clip(html: &str) -> u64 {
    let rest = html.split("data-arena data-live data-clip-id=\"").nth(1).expect("an arena clip");
    rest.split('"').next().and_then(|id| id.parse().ok()).expect("a numeric clip id")
}

#[tokio::test]
async fn super_vote_undo_and_moving_on_work_without_javascript() {
    let app = spawn_app().await;
    let first = shown_clip(&app.get("/").await.text().await.expect("html"));
    let id = first.to_string();

    let voted = post_form(&app, "/vote", &[("clip_id", &id), ("vote_type", "super")]).await;
    let back = location(&voted);
    assert_eq!(back, format!("/?voted={first}&kind=super"));
    assert_eq!(app.vote_count(first).await, 1);
    let clip = app.get_json(&format!("/api/clips/{first}")).await;
    assert_eq!(clip["weightedScore"], 3, "a super vote weighs 3: {clip}");

    // Back on the arena: the notice with an undo, and a different clip,
    // with the super spent.
    let html = app.get(&back).await.text().await.expect("html");
    assert!(html.contains("Your super vote (×3) for “"), "{html}");
    assert!(
        html.contains(&format!("name=\"clip_id\" value=\"{first}\"")),
        "an undo form for the clip voted on: {html}"
    );
    assert_ne!(shown_clip(&html), first, "the arena moved on after the vote");
    assert!(html.contains("197 votes left today · super spent · mega ready"), "{html}");
    assert!(html.contains("used this slot"), "the spent super says why it is disabled");

    let undone = post_form(&app, "/vote/undo", &[("clip_id", &id)]).await;
    assert_eq!(location(&undone), format!("/?clip={first}&undone=1"));
    assert_eq!(app.vote_count(first).await, 0);
    let html = app.get(&location(&undone)).await.text().await.expect("html");
    assert!(html.contains("Your vote was taken back."));
    assert_eq!(shown_clip(&html), first);

    // Nothing to take back any more.
    let again = post_form(&app, "/vote/undo", &[("clip_id", &id)]).await;
    assert_eq!(location(&again), format!("/?clip={first}&error=not_found"));

    let standard = post_form(&app, "/vote", &[("clip_id", &id)]).await;
    assert_eq!(location(&standard), format!("/?voted={first}&kind=standard"));
    let twice = post_form(&app, "/vote", &[("clip_id", &id), ("vote_type", "standard")]).await;
    assert_eq!(location(&twice), format!("/?clip={first}&error=already_voted"));
    assert_eq!(app.vote_count(first).await, 1);

    // Bad input is refused and changes nothing.
    let unknown = post_form(&app, "/vote", &[("clip_id", &id), ("vote_type", "giga")]).await;
    assert_eq!(unknown.status(), 400);
    let bad = post_form(&app, "/vote", &[("clip_id", "../x")]).await;
    assert_eq!(bad.status(), 400);
    let bad_undo = post_form(&app, "/vote/undo", &[("clip_id", "0")]).await;
    assert_eq!(bad_undo.status(), 400);
    assert_eq!(app.vote_count(first).await, 1);
}

#[tokio::test]
async fn after_a_vote_the_arena_offers_clips_not_yet_voted_on() {
    let app = spawn_app().await;
    let total = app.clip_ids().await.len();
    assert!(total >= 3, "the demo slot has clips to move through");
    let mut voted = Vec::new();
    let mut html = app.get("/").await.text().await.expect("html");
    // Vote on every clip in turn, the way the arena leads: never the same
    // clip twice while unvoted ones remain.
    for _ in 0..total {
        let shown = shown_clip(&html);
        assert!(!voted.contains(&shown), "clip {shown} offered again while others are unvoted ({voted:?})");
        voted.push(shown);
        let response = post_form(&app, "/vote", &[("clip_id", &shown.to_string())]).await;
        html = app.get(&location(&response)).await.text().await.expect("html");
        if voted.len() < total {
            assert!(html.contains("data-arena"), "still clips to vote on");
        }
    }
    assert_eq!(voted.len(), total);
}

/// Every clip's view count (flushed and pending), read by a voter whose
/// reads count nothing.
async fn view_counts(app: &TestApp) -> std::collections::BTreeMap<u64, u64> {
    let observer = reqwest::Client::builder().user_agent("view-observer").build().expect("client");
    let response = observer.get(app.url("/api/vote?limit=20&countViews=false")).send().await.expect("feed");
    let feed: serde_json::Value = response.json().await.expect("json");
    let clips = feed["clips"].as_array().expect("clips");
    clips.iter().map(|clip| (clip["id"].as_u64().expect("id"), clip["viewCount"].as_u64().expect("views"))).collect()
}

#[tokio::test]
async fn the_arena_counts_a_view_only_for_the_clip_it_shows() {
    let app = spawn_app().await;
    let before = view_counts(&app).await;
    assert!(before.len() >= 3, "the demo slot has clips: {before:?}");
    let shown = shown_clip(&app.get("/").await.text().await.expect("html"));

    // Fetching ahead without counting, then saying a clip is on screen.
    let ahead = app.get_json("/api/vote?limit=3&countViews=false").await;
    assert!(ahead["clips"][0]["commentCount"].is_u64(), "feed clips carry their comment count: {ahead}");
    let next = ahead["clips"][0]["id"].as_u64().expect("a clip");
    assert_ne!(next, shown, "the clip seen is not first in the feed any more");
    let response = app.client.post(app.url("/api/vote/view")).json(&serde_json::json!({ "clipId": next })).send().await;
    let body: serde_json::Value = response.expect("view").json().await.expect("json");
    assert_eq!(body["counted"], true);
    let bad = app.client.post(app.url("/api/vote/view")).json(&serde_json::json!({ "clipId": "x" })).send().await;
    assert_eq!(bad.expect("view").status(), 400);

    // Views reach the counts with the next flush (every few seconds); the
    // two views are flushed together with anything counted before them.
    let expected = |clip: u64| before[&clip] + u64::from(clip == shown || clip == next);
    app.eventually(15, "the two views to be flushed", || async {
        let now = view_counts(&app).await;
        now[&shown] == expected(shown) && now[&next] == expected(next)
    })
    .await;
    for (clip, views) in view_counts(&app).await {
        assert_eq!(views, expected(clip), "clip {clip}: only the clips shown ({shown}, {next}) gained a view");
    }
}

#[tokio::test]
async fn the_story_lists_every_slot_and_the_one_voting() {
    let app = spawn_app().await;
    let html = app.get("/story").await.text().await.expect("html");
    assert!(html.contains("The Signal"));
    assert_eq!(html.matches("class=\"slot slot-").count(), 75);
    assert_eq!(html.matches("slot-voting").count(), 1);
    assert!(html.contains("0 of 75 scenes locked"));
}

#[tokio::test]
async fn static_assets_are_immutable_and_unknown_pages_are_404() {
    let app = spawn_app().await;
    let html = app.get("/").await.text().await.expect("html");
    let css =
        html.split("rel=\"stylesheet\" href=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("css link");
    let css = css.to_owned();
    assert!(css.starts_with("/static/app.") && css.ends_with(".css"), "{css}");
    let response = app.get(&css).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
    assert_eq!(app.get("/static/app.000000000000.css").await.status(), 404);
    assert_eq!(app.get("/no-such-page").await.status(), 404);
}

#[tokio::test]
async fn sign_up_sign_out_and_delete_with_plain_forms() {
    let app = spawn_app().await;
    let page = app.get("/login").await.text().await.expect("html");
    assert!(page.contains("action=\"/login\""));
    let browser = app.signed_up_with_form("Form_User", "form user password").await;
    let settings = browser.get(app.url("/settings")).send().await.expect("settings").text().await.expect("html");
    assert!(settings.contains("@form_user"));
    let token = form_token(&settings);
    assert_eq!(token.len(), 32);

    // A signed-in form post without the session's token is refused.
    let clip = app.clip_ids().await[0];
    let forged = browser.post(app.url("/vote")).form(&[("clip_id", clip.to_string())]).send().await.expect("vote");
    assert_eq!(forged.status(), 403);
    assert_eq!(app.vote_count(clip).await, 0);
    let voted = browser
        .post(app.url("/vote"))
        .form(&[("clip_id", clip.to_string()), ("csrf", token.clone())])
        .send()
        .await
        .expect("vote");
    assert_eq!(voted.status(), 303);
    assert_eq!(app.vote_count(clip).await, 1);

    // A refused deletion goes back to the settings with what was wrong.
    let wrong_phrase = browser
        .post(app.url("/settings/delete"))
        .form(&[("csrf", token.as_str()), ("confirm", "nope"), ("password", "form user password")])
        .send()
        .await
        .expect("delete");
    assert_eq!(wrong_phrase.status(), 303);
    assert_eq!(wrong_phrase.headers()["location"], "/settings?error=confirm");
    let shown = browser.get(app.url("/settings?error=confirm")).send().await.expect("settings");
    assert!(shown.text().await.expect("html").contains("to confirm. Nothing was deleted."));
    let wrong_password = browser
        .post(app.url("/settings/delete"))
        .form(&[("csrf", token.as_str()), ("confirm", "delete my account"), ("password", "a stolen cookie")])
        .send()
        .await
        .expect("delete");
    assert_eq!(wrong_password.headers()["location"], "/settings?error=wrong_password");
    assert_eq!(browser.get(app.url("/settings")).send().await.expect("settings").status(), 200, "still signed in");
    let deleted = browser
        .post(app.url("/settings/delete"))
        .form(&[("csrf", token.as_str()), ("confirm", "delete my account"), ("password", "form user password")])
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 303);
    let after = browser.get(app.url("/settings")).send().await.expect("settings");
    assert_eq!(after.status(), 303, "signed out after deletion");
    let bad_login = browser
        .post(app.url("/login"))
        .form(&[("username", "form_user"), ("password", "form user password")])
        .send()
        .await
        .expect("login");
    assert_eq!(bad_login.status(), 401);
    assert!(bad_login.text().await.expect("html").contains("wrong username or password"));
}

#[tokio::test]
async fn every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let first = app.get("/api/health").await;
    let second = app.get("/no-such-page").await;
    let id = |response: &reqwest::Response| response.headers()["x-request-id"].to_str().expect("ascii").to_owned();
    assert_ne!(id(&first), id(&second));
    let given = app.client.get(app.url("/api/health")).header("x-request-id", "abc-123").send().await.expect("health");
    assert_eq!(given.headers()["x-request-id"], "abc-123", "a proxy's request id is kept");
}

#[tokio::test]
async fn sign_in_returns_to_the_page_it_came_from_on_this_site_only() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    let html = app.get(&format!("/clip/{clip}")).await.text().await.expect("html");
    assert!(html.contains(&format!("href=\"/login?next=/clip/{clip}\"")), "the sign-in link carries the page");
    let login = app.client.get(app.url("/login")).query(&[("next", format!("/clip/{clip}"))]).send().await;
    let login = login.expect("login page").text().await.expect("html");
    assert!(login.contains(&format!("name=\"next\" value=\"/clip/{clip}\"")), "{login}");
    assert!(login.contains(&format!("href=\"/signup?next=/clip/{clip}\"")), "sign-up keeps the way back");

    let back = format!("/clip/{clip}?sort=top");
    let password = "a long password";
    let signed_up =
        post_form(&app, "/signup", &[("username", "wanderer"), ("password", password), ("next", &back)]).await;
    assert_eq!(location(&signed_up), back);
    let signed_in =
        post_form(&app, "/login", &[("username", "wanderer"), ("password", password), ("next", "/story")]).await;
    assert_eq!(location(&signed_in), "/story");
    let wrong =
        post_form(&app, "/login", &[("username", "wanderer"), ("password", "not it at all"), ("next", "/story")]).await;
    assert!(wrong.text().await.expect("html").contains("name=\"next\" value=\"/story\""), "a failed sign-in keeps it");

    let hostile = [
        "//evil.example/",
        "https://evil.example/",
        "/\\evil.example",
        "\\\\evil.example",
        "javascript:alert(1)",
        "/ok\r\nSet-Cookie: a=b",
        "/\té",
        "/é",
        "evil.example",
        "/login?next=//evil.example",
    ];
    for next in hostile {
        let page = app.client.get(app.url("/login")).query(&[("next", next)]).send().await.expect("login page");
        assert_eq!(page.status(), 200, "{next:?}");
        assert!(!page.text().await.expect("html").contains("name=\"next\""), "{next:?} is dropped");
        let response =
            post_form(&app, "/login", &[("username", "wanderer"), ("password", password), ("next", next)]).await;
        assert_eq!(location(&response), "/", "sign-in with next={next:?} stays on this site");
    }
}

#[tokio::test]
async fn the_settings_change_the_password_without_javascript() {
    let app = spawn_app().await;
    let browser = app.signed_up_with_form("form_changer", "form user password").await;
    let elsewhere = app.log_in("form_changer", "form user password").await;
    let settings = browser.get(app.url("/settings")).send().await.expect("settings").text().await.expect("html");
    assert!(settings.contains("action=\"/settings/password\""), "{settings}");
    // The confirmation's words sit in one span, so the column layout of a
    // label keeps them on one line instead of three.
    assert!(settings.contains("<label><span>Type <strong>delete my account</strong> to confirm</span>"), "{settings}");
    let token = form_token(&settings);

    let fields = |current: &'static str, new: &'static str| {
        vec![("csrf", token.clone()), ("current_password", current.to_owned()), ("new_password", new.to_owned())]
    };
    let forged = browser
        .post(app.url("/settings/password"))
        .form(&[("current_password", "form user password"), ("new_password", "a forged new password")])
        .send()
        .await
        .expect("change");
    assert_eq!(forged.status(), 403, "no form token");
    let wrong = browser
        .post(app.url("/settings/password"))
        .form(&fields("not it at all", "a brand new password"))
        .send()
        .await
        .expect("change");
    assert_eq!(wrong.status(), 303);
    assert_eq!(wrong.headers()["location"], "/settings?error=wrong_password");
    let shown = browser.get(app.url("/settings?error=wrong_password")).send().await.expect("page");
    assert!(shown.text().await.expect("html").contains("Your current password is wrong."));
    let short = browser
        .post(app.url("/settings/password"))
        .form(&fields("form user password", "short"))
        .send()
        .await
        .expect("change");
    assert_eq!(short.headers()["location"], "/settings?error=new_password");
    assert_eq!(elsewhere.get(app.url("/api/me")).send().await.expect("me").status(), 200);

    let changed = browser
        .post(app.url("/settings/password"))
        .form(&fields("form user password", "a brand new password"))
        .send()
        .await
        .expect("change");
    assert_eq!(changed.status(), 303);
    assert_eq!(changed.headers()["location"], "/settings?notice=password_changed");
    let shown = browser.get(app.url("/settings?notice=password_changed")).send().await.expect("page");
    assert_eq!(shown.status(), 200, "this browser stays signed in");
    assert!(shown.text().await.expect("html").contains("Your password is changed."));
    assert_eq!(elsewhere.get(app.url("/api/me")).send().await.expect("me").status(), 401);
    app.log_in("form_changer", "a brand new password").await;
    // A crafted link cannot put its own words on the page.
    let crafted = browser.get(app.url("/settings?error=Call%20this%20number")).send().await.expect("page");
    assert!(!crafted.text().await.expect("html").contains("Call this number"));
}
