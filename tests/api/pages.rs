//! The HTML pages, fetched as a browser without JavaScript would.

use crate::helpers::spawn_app;

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
    assert!(html.contains("id=\"vote-count\""));
    assert!(html.contains("id=\"next-clip\""));
    assert!(html.contains("slot 1 of 75"));
    assert!(!html.contains("<script>"), "no inline script");
}

#[tokio::test]
async fn voting_works_without_javascript() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let response = no_redirects
        .post(app.url("/vote"))
        .header("user-agent", "aimoviez-tests")
        .form(&[("clip_id", clip.to_string())])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().expect("ascii").to_owned();
    assert_eq!(location, format!("/?clip={clip}&voted=1"));
    assert_eq!(app.vote_count(clip).await, 1);
    let html = app.get(&location).await.text().await.expect("html");
    assert!(html.contains("Your vote counted."));
    assert!(html.contains("Voted ✓"));
    assert!(html.contains(&format!("data-clip-id=\"{clip}\"")));

    let again = no_redirects
        .post(app.url("/vote"))
        .header("user-agent", "aimoviez-tests")
        .form(&[("clip_id", clip.to_string())])
        .send()
        .await
        .expect("post");
    assert_eq!(again.headers()["location"], format!("/?clip={clip}&error=already_voted").as_str());
    assert_eq!(app.vote_count(clip).await, 1);
    let bad = no_redirects.post(app.url("/vote")).form(&[("clip_id", "../x")]).send().await.expect("post");
    assert_eq!(bad.status(), 400);
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
    let css = html.split("href=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("css link").to_owned();
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
    let browser = reqwest::Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .user_agent("form-browser")
        .build()
        .expect("client");
    let page = browser.get(app.url("/login")).send().await.expect("login page").text().await.expect("html");
    assert!(page.contains("action=\"/login\""));
    let signup = browser
        .post(app.url("/signup"))
        .form(&[("username", "Form_User"), ("password", "form user password")])
        .send()
        .await
        .expect("signup");
    assert_eq!(signup.status(), 303);
    assert!(signup.headers()["set-cookie"].to_str().expect("ascii").contains("HttpOnly"));
    let settings = browser.get(app.url("/settings")).send().await.expect("settings").text().await.expect("html");
    assert!(settings.contains("@form_user"));
    let token = settings
        .split("name=\"csrf\" value=\"")
        .nth(1)
        .and_then(|rest| rest.split('"').next())
        .expect("form token")
        .to_owned();
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

    let wrong_phrase = browser
        .post(app.url("/settings/delete"))
        .form(&[("csrf", token.as_str()), ("confirm", "nope")])
        .send()
        .await
        .expect("delete");
    assert_eq!(wrong_phrase.status(), 400);
    let deleted = browser
        .post(app.url("/settings/delete"))
        .form(&[("csrf", token.as_str()), ("confirm", "delete my account")])
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
