//! Comments (validation, replies, likes, sorting, paging, deletion), the
//! clip page that shows them, and reports into the moderation queue.

use reqwest::Client;
use reqwest::redirect::Policy;
use serde_json::{Value, json};

use crate::helpers::{TestApp, assert_error, form_token, spawn_app};

const PASSWORD: &str = "correct horse battery";

async fn first_clip(app: &TestApp) -> u64 {
    *app.clip_ids().await.first().expect("the demo has clips")
}

async fn post(client: &Client, app: &TestApp, clip: u64, body: &str, parent: Option<u64>) -> reqwest::Response {
    let mut request = json!({ "clipId": clip, "body": body });
    if let Some(parent) = parent {
        request["parentId"] = json!(parent);
    }
    client.post(app.url("/api/comments")).json(&request).send().await.expect("post comment")
}

/// Posts a comment expecting 201; returns it.
async fn comment(client: &Client, app: &TestApp, clip: u64, body: &str, parent: Option<u64>) -> Value {
    let response = post(client, app, clip, body, parent).await;
    assert_eq!(response.status(), 201, "post {body:?}");
    response.json().await.expect("json")
}

async fn list(client: &Client, app: &TestApp, query: &str) -> Value {
    let response = client.get(app.url(&format!("/api/comments?{query}"))).send().await.expect("list");
    assert_eq!(response.status(), 200, "GET /api/comments?{query}");
    response.json().await.expect("json")
}

fn ids(page: &Value) -> Vec<u64> {
    page["comments"].as_array().expect("comments").iter().map(|c| c["id"].as_u64().expect("id")).collect()
}

async fn like(client: &Client, app: &TestApp, id: u64, on: bool) -> Value {
    let url = app.url(&format!("/api/comments/{id}/like"));
    let request = if on { client.post(url) } else { client.delete(url) };
    let response = request.send().await.expect("like");
    assert_eq!(response.status(), 200, "like {id} {on}");
    response.json().await.expect("json")
}

#[tokio::test]
async fn comments_are_validated_and_cleaned() {
    let app = spawn_app().await;
    let clip = first_clip(&app).await;
    let ann = app.signed_in("ann").await;

    assert_error(post(&app.client, &app, clip, "hello", None).await, 401, "auth_required").await;
    assert_error(post(&ann, &app, clip, "  \n\t ", None).await, 400, "invalid_request").await;
    assert_error(post(&ann, &app, clip, &"x".repeat(501), None).await, 400, "invalid_request").await;
    assert_error(post(&ann, &app, 999_999, "hello", None).await, 404, "not_found").await;
    let response = ann.post(app.url("/api/comments")).json(&json!({ "clipId": clip })).send().await.expect("post");
    assert_error(response, 400, "invalid_request").await;

    let longest = comment(&ann, &app, clip, &"é".repeat(500), None).await;
    assert_eq!(longest["body"].as_str().expect("body").chars().count(), 500);
    let cleaned = comment(&ann, &app, clip, "  hi\u{7}\u{1b}[31m there\r\nsecond line\t ", None).await;
    assert_eq!(cleaned["body"], "hi[31m there\nsecond line");
    assert_eq!(cleaned["author"]["username"], "ann");
    assert_eq!(cleaned["clipId"], clip);
    assert_eq!(cleaned["likeCount"], 0);
    assert_eq!(cleaned["deleted"], false);
    assert!(cleaned["createdAt"].as_str().is_some_and(|t| t.contains('T')));

    // Nothing of the refused posts was stored.
    let page = list(&app.client, &app, &format!("clipId={clip}")).await;
    assert_eq!(page["commentCount"], 2);
    assert_eq!(ids(&page).len(), 2);

    assert_error(app.get(&format!("/api/comments?clipId={}", 999_999)).await, 404, "not_found").await;
    assert_error(app.get("/api/comments").await, 400, "invalid_request").await;
    assert_error(app.get(&format!("/api/comments?clipId={clip}&sort=hot")).await, 400, "invalid_request").await;
}

#[tokio::test]
async fn replies_nest_one_level() {
    let app = spawn_app().await;
    let clips = app.clip_ids().await;
    let (clip, other_clip) = (clips[0], clips[1]);
    let ann = app.signed_in("ann").await;
    let bob = app.signed_in("bob").await;

    let top = comment(&ann, &app, clip, "first!", None).await;
    let top_id = top["id"].as_u64().expect("id");
    let first_reply = comment(&bob, &app, clip, "reply one", Some(top_id)).await;
    assert_eq!(first_reply["parentId"], top_id);
    let second_reply = comment(&ann, &app, clip, "reply two", Some(top_id)).await;
    let reply_id = first_reply["id"].as_u64().expect("id");

    assert_error(post(&ann, &app, clip, "too deep", Some(reply_id)).await, 422, "reply_too_deep").await;
    assert_error(post(&ann, &app, other_clip, "wrong clip", Some(top_id)).await, 400, "invalid_request").await;
    assert_error(post(&ann, &app, clip, "nobody", Some(999_999)).await, 404, "not_found").await;

    let page = list(&app.client, &app, &format!("clipId={clip}")).await;
    assert_eq!(ids(&page), vec![top_id], "replies are not top-level comments");
    let replies = page["comments"][0]["replies"].as_array().expect("replies");
    let reply_ids: Vec<&Value> = replies.iter().map(|r| &r["id"]).collect();
    assert_eq!(reply_ids, vec![&first_reply["id"], &second_reply["id"]], "oldest first");
    assert_eq!(replies[0]["author"]["username"], "bob");
    assert_eq!(page["commentCount"], 3);
}

#[tokio::test]
async fn likes_are_idempotent_and_personal() {
    let app = spawn_app().await;
    let clip = first_clip(&app).await;
    let ann = app.signed_in("ann").await;
    let bob = app.signed_in("bob").await;
    let id = comment(&ann, &app, clip, "like me", None).await["id"].as_u64().expect("id");
    let reply = comment(&ann, &app, clip, "a reply", Some(id)).await["id"].as_u64().expect("id");

    assert_eq!(like(&bob, &app, id, true).await["likeCount"], 1);
    let again = like(&bob, &app, id, true).await;
    assert_eq!((again["likeCount"].clone(), again["likedByMe"].clone()), (json!(1), json!(true)));
    like(&bob, &app, reply, true).await;

    let as_bob = list(&bob, &app, &format!("clipId={clip}")).await;
    assert_eq!(as_bob["comments"][0]["likeCount"], 1);
    assert_eq!(as_bob["comments"][0]["likedByMe"], true);
    assert_eq!(as_bob["comments"][0]["replies"][0]["likedByMe"], true);
    let as_ann = list(&ann, &app, &format!("clipId={clip}")).await;
    assert_eq!(as_ann["comments"][0]["likedByMe"], false);
    let anonymous = list(&app.client, &app, &format!("clipId={clip}")).await;
    assert_eq!(anonymous["comments"][0]["likedByMe"], false);
    assert_eq!(anonymous["comments"][0]["replies"][0]["likeCount"], 1);

    assert_eq!(like(&bob, &app, id, false).await["likeCount"], 0);
    let again = like(&bob, &app, id, false).await;
    assert_eq!((again["likeCount"].clone(), again["likedByMe"].clone()), (json!(0), json!(false)));
    let page = list(&bob, &app, &format!("clipId={clip}")).await;
    assert_eq!(page["comments"][0]["likeCount"], 0);
    assert_eq!(page["comments"][0]["likedByMe"], false);

    let response = app.client.post(app.url(&format!("/api/comments/{id}/like"))).send().await.expect("like");
    assert_error(response, 401, "auth_required").await;
    let response = bob.post(app.url("/api/comments/999999/like")).send().await.expect("like");
    assert_error(response, 404, "not_found").await;
}

#[tokio::test]
async fn top_sorts_by_likes_then_newest() {
    let app = spawn_app().await;
    let clip = first_clip(&app).await;
    let ann = app.signed_in("ann").await;
    let bob = app.signed_in("bob").await;
    let mut made = Vec::new();
    for body in ["oldest", "middle", "newest", "newest two"] {
        made.push(comment(&ann, &app, clip, body, None).await["id"].as_u64().expect("id"));
    }
    let (oldest, middle, newest, newest_two) = (made[0], made[1], made[2], made[3]);
    like(&ann, &app, oldest, true).await;
    like(&bob, &app, oldest, true).await;
    like(&bob, &app, middle, true).await;
    // A like taken back moves the comment back down.
    like(&bob, &app, newest, true).await;
    like(&bob, &app, newest, false).await;

    let top = list(&app.client, &app, &format!("clipId={clip}&sort=top")).await;
    assert_eq!(ids(&top), vec![oldest, middle, newest_two, newest]);
    let new = list(&app.client, &app, &format!("clipId={clip}&sort=new")).await;
    assert_eq!(ids(&new), vec![newest_two, newest, middle, oldest]);
    let default = list(&app.client, &app, &format!("clipId={clip}")).await;
    assert_eq!(ids(&default), ids(&new));
    let second = list(&app.client, &app, &format!("clipId={clip}&sort=top&limit=2&offset=2")).await;
    assert_eq!(ids(&second), vec![newest_two, newest]);
    assert_eq!(second["hasMore"], false);
}

#[tokio::test]
async fn pages_are_bounded() {
    let app = spawn_app().await;
    let clip = first_clip(&app).await;
    let ann = app.signed_in("ann").await;
    for n in 0..25 {
        comment(&ann, &app, clip, &format!("comment {n}"), None).await;
    }
    for query in ["limit=101", "limit=0", "offset=-1", "limit=abc"] {
        let response = app.get(&format!("/api/comments?clipId={clip}&{query}")).await;
        assert_error(response, 400, "invalid_request").await;
    }
    let first = list(&app.client, &app, &format!("clipId={clip}")).await;
    assert_eq!(ids(&first).len(), 20);
    assert_eq!(first["hasMore"], true);
    assert_eq!(first["comments"][0]["body"], "comment 24");
    assert_eq!(first["commentCount"], 25);
    let rest = list(&app.client, &app, &format!("clipId={clip}&offset=20")).await;
    assert_eq!(ids(&rest).len(), 5);
    assert_eq!(rest["hasMore"], false);
    assert_eq!(rest["comments"][4]["body"], "comment 0");
    let all = list(&app.client, &app, &format!("clipId={clip}&limit=100")).await;
    assert_eq!((ids(&all).len(), all["hasMore"].clone()), (25, json!(false)));
    let past = list(&app.client, &app, &format!("clipId={clip}&offset=500")).await;
    assert_eq!((ids(&past).len(), past["hasMore"].clone()), (0, json!(false)));
}

#[tokio::test]
async fn comment_counts_follow_each_clip() {
    let app = spawn_app().await;
    let clips = app.clip_ids().await;
    let ann = app.signed_in("ann").await;
    let first = comment(&ann, &app, clips[0], "one", None).await["id"].as_u64().expect("id");
    comment(&ann, &app, clips[0], "two", Some(first)).await;
    comment(&ann, &app, clips[1], "three", None).await;
    for (clip, expected) in [(clips[0], 2), (clips[1], 1), (clips[2], 0)] {
        let page = list(&app.client, &app, &format!("clipId={clip}")).await;
        assert_eq!(page["commentCount"], expected, "clip {clip}");
        let html = app.get(&format!("/clip/{clip}")).await.text().await.expect("html");
        let words = if expected == 1 { "1 comment<".to_owned() } else { format!("{expected} comments<") };
        assert!(html.contains(&words), "clip page of {clip} shows {words}");
    }
    let response = ann.delete(app.url(&format!("/api/comments/{first}"))).send().await.expect("delete");
    assert_eq!(response.status(), 200);
    let page = list(&app.client, &app, &format!("clipId={}", clips[0])).await;
    assert_eq!(page["commentCount"], 1, "a deleted comment no longer counts");
}

#[tokio::test]
async fn authors_soft_delete_and_admins_remove() {
    let app = spawn_app().await;
    let clip = first_clip(&app).await;
    let ann = app.signed_in("ann").await;
    let bob = app.signed_in("bob").await;
    let id = comment(&ann, &app, clip, "regrettable", None).await["id"].as_u64().expect("id");
    let reply = comment(&bob, &app, clip, "a reply that stays", Some(id)).await["id"].as_u64().expect("id");

    let response = bob.delete(app.url(&format!("/api/comments/{id}"))).send().await.expect("delete");
    assert_error(response, 403, "forbidden").await;
    let response = app.client.delete(app.url(&format!("/api/comments/{id}"))).send().await.expect("delete");
    assert_error(response, 401, "auth_required").await;

    let response = ann.delete(app.url(&format!("/api/comments/{id}"))).send().await.expect("delete");
    assert_eq!(response.status(), 200);
    let deleted: Value = response.json().await.expect("json");
    assert_eq!((deleted["deleted"].clone(), deleted["body"].clone()), (json!(true), json!("")));
    let response = ann.delete(app.url(&format!("/api/comments/{id}"))).send().await.expect("delete again");
    assert_eq!(response.status(), 200, "deleting twice changes nothing");
    let page = list(&app.client, &app, &format!("clipId={clip}")).await;
    assert_eq!(page["comments"][0]["deleted"], true);
    assert_eq!(page["comments"][0]["body"], "");
    assert_eq!(page["comments"][0]["replies"][0]["id"], reply);
    assert_eq!(page["comments"][0]["replies"][0]["body"], "a reply that stays");
    assert_error(post(&bob, &app, clip, "late reply", Some(id)).await, 404, "not_found").await;
    let response = bob.delete(app.url("/api/comments/999999")).send().await.expect("delete");
    assert_error(response, 404, "not_found").await;

    app.create_admin("boss", PASSWORD).await;
    let admin = app.log_in("boss", PASSWORD).await;
    let response = admin.delete(app.url(&format!("/api/comments/{reply}"))).send().await.expect("remove");
    assert_eq!(response.status(), 200);
    let removed: Value = response.json().await.expect("json");
    assert_eq!((removed["deleted"].clone(), removed["body"].clone()), (json!(true), json!("")));
    let logs: Value =
        admin.get(app.url("/api/admin/audit-logs")).send().await.expect("logs").json().await.expect("json");
    let entry = &logs["entries"][0];
    assert_eq!(entry["action"], "remove_comment");
    assert_eq!(entry["resource"], format!("comment:{reply}"));
    let actions: Vec<&str> =
        logs["entries"].as_array().expect("entries").iter().filter_map(|e| e["action"].as_str()).collect();
    assert_eq!(actions.iter().filter(|a| **a == "remove_comment").count(), 1, "the author's own delete is not audited");
}

/// `username` registered and signed in, in a browser that keeps cookies
/// and shows redirects instead of following them.
async fn form_browser(app: &TestApp, username: &str) -> Client {
    let client = app.form_browser();
    let response = client
        .post(app.url("/api/auth/register"))
        .json(&json!({ "username": username, "password": PASSWORD }))
        .send()
        .await
        .expect("register");
    assert_eq!(response.status(), 201);
    client
}

fn location(response: &reqwest::Response) -> String {
    response.headers().get("location").and_then(|v| v.to_str().ok()).expect("location").to_owned()
}

#[tokio::test]
async fn the_clip_page_shows_comments_escaped_and_takes_forms() {
    let app = spawn_app().await;
    let clip = first_clip(&app).await;
    let ann = app.signed_in("ann").await;
    let script = comment(&ann, &app, clip, "<script>alert(1)</script>", None).await;
    assert_eq!(script["body"], "<script>alert(1)</script>", "JSON carries the raw text");
    let script_id = script["id"].as_u64().expect("id");
    comment(&ann, &app, clip, "nice & \"quoted\"", Some(script_id)).await;

    let response = app.get(&format!("/clip/{clip}")).await;
    assert_eq!(response.status(), 200);
    let html = response.text().await.expect("html");
    assert!(html.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "escaped");
    assert!(!html.contains("<script>alert(1)"), "never raw");
    assert!(html.contains("nice &amp; &quot;quoted&quot;"));
    assert!(html.contains("<video"), "the clip plays");
    let back_here = format!("href=\"/login?next=/clip/{clip}\"");
    assert!(html.contains(&back_here), "anonymous visitors are asked to sign in, and come back here");
    assert!(!html.contains("action=\"/clip/"), "no forms for anonymous visitors");

    assert_eq!(app.get("/clip/999999").await.status(), 404);
    assert_eq!(app.get("/clip/nope").await.status(), 404);

    let bob = form_browser(&app, "bob").await;
    let page = bob.get(app.url(&format!("/clip/{clip}"))).send().await.expect("page").text().await.expect("html");
    let token = form_token(&page);
    let response = bob
        .post(app.url(&format!("/clip/{clip}/comments")))
        .form(&[("body", "from a form"), ("csrf", "wrong")])
        .send()
        .await
        .expect("post");
    assert_error(response, 403, "csrf_failed").await;
    let response = bob
        .post(app.url(&format!("/clip/{clip}/comments")))
        .form(&[("body", "from a form"), ("csrf", token.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 303);
    assert!(location(&response).starts_with(&format!("/clip/{clip}?notice=posted#comment-")));
    let response = bob
        .post(app.url(&format!("/clip/{clip}/comments")))
        .form(&[("body", "a form reply"), ("parent_id", &script_id.to_string()), ("csrf", token.as_str())])
        .send()
        .await
        .expect("reply");
    assert_eq!(response.status(), 303);
    let response = bob
        .post(app.url(&format!("/clip/{clip}/comments")))
        .form(&[("body", " "), ("csrf", token.as_str())])
        .send()
        .await
        .expect("post");
    assert_eq!(location(&response), format!("/clip/{clip}?error=invalid_request#comments"));
    let response = bob
        .post(app.url(&format!("/clip/{clip}/like")))
        .form(&[("comment_id", script_id.to_string().as_str()), ("action", "like"), ("csrf", token.as_str())])
        .send()
        .await
        .expect("like");
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), format!("/clip/{clip}#comment-{script_id}"));
    let response = bob
        .post(app.url(&format!("/clip/{clip}/report")))
        .form(&[
            ("target_type", "clip"),
            ("target_id", clip.to_string().as_str()),
            ("reason", "spam"),
            ("csrf", &token),
        ])
        .send()
        .await
        .expect("report");
    assert_eq!(location(&response), format!("/clip/{clip}?notice=reported#report"));

    let page = list(&bob, &app, &format!("clipId={clip}")).await;
    assert_eq!(page["comments"][0]["body"], "from a form");
    assert_eq!(page["comments"][1]["likedByMe"], true);
    assert_eq!(page["comments"][1]["replies"][1]["body"], "a form reply");
    let html = bob.get(app.url(&format!("/clip/{clip}"))).send().await.expect("page").text().await.expect("html");
    assert!(html.contains("from a form"));
    assert!(html.contains("value=\"unlike\""), "bob sees his like");

    // The anonymous form post is sent to sign in, and changes nothing.
    let anonymous = Client::builder().redirect(Policy::none()).build().expect("client");
    let response = anonymous
        .post(app.url(&format!("/clip/{clip}/comments")))
        .form(&[("body", "who am I")])
        .send()
        .await
        .expect("post");
    assert_eq!((response.status().as_u16(), location(&response)), (303, "/login".to_owned()));
}

#[tokio::test]
async fn the_clip_page_loads_more_comments() {
    let app = spawn_app().await;
    let clip = first_clip(&app).await;
    let ann = app.signed_in("ann").await;
    for n in 0..21 {
        comment(&ann, &app, clip, &format!("note number {n}."), None).await;
    }
    let html = app.get(&format!("/clip/{clip}")).await.text().await.expect("html");
    assert!(html.contains("note number 20."));
    assert!(!html.contains("note number 0."));
    assert!(
        html.contains(&format!("/clip/{clip}?sort=new&amp;offset=20#comments")),
        "a load-more link, keeping the sort"
    );
    let html = app.get(&format!("/clip/{clip}?offset=20")).await.text().await.expect("html");
    assert!(html.contains("note number 0."));
    assert!(!html.contains("note number 1."));
    assert!(!html.contains("offset=40"));
}

#[tokio::test]
async fn reports_reach_the_moderation_queue() {
    let app = spawn_app().await;
    let clip = first_clip(&app).await;
    let ann = app.signed_in("ann").await;
    let comment_id = comment(&ann, &app, clip, "spam spam spam", None).await["id"].as_u64().expect("id");
    let report = |client: &Client, body: Value| {
        let request = client.post(app.url("/api/reports")).json(&body);
        async move { request.send().await.expect("report") }
    };

    let response = report(&app.client, json!({ "targetType": "clip", "targetId": clip, "reason": "spam" })).await;
    assert_error(response, 401, "auth_required").await;
    for bad in [
        json!({ "targetType": "song", "targetId": clip, "reason": "spam" }),
        json!({ "targetType": "clip", "targetId": clip, "reason": "boring" }),
        json!({ "targetType": "clip", "reason": "spam" }),
        json!({ "targetType": "clip", "targetId": clip, "reason": "other", "details": "x".repeat(1001) }),
    ] {
        assert_error(report(&ann, bad).await, 400, "invalid_request").await;
    }
    let response = report(&ann, json!({ "targetType": "comment", "targetId": 999_999, "reason": "spam" })).await;
    assert_error(response, 404, "not_found").await;

    let response = report(&ann, json!({ "targetType": "clip", "targetId": clip, "reason": "copyright" })).await;
    assert_eq!(response.status(), 201);
    let filed: Value = response.json().await.expect("json");
    assert_eq!(filed["targetType"], "clip");
    let response = report(
        &ann,
        json!({ "targetType": "comment", "targetId": comment_id.to_string(), "reason": "spam", "details": " bot\u{7} " }),
    )
    .await;
    assert_eq!(response.status(), 201);
    let response = report(&ann, json!({ "targetType": "user", "targetId": 1, "reason": "harassment" })).await;
    assert_eq!(response.status(), 201);

    let response = ann.get(app.url("/api/admin/reports")).send().await.expect("list");
    assert_error(response, 403, "forbidden").await;
    assert_error(app.get("/api/admin/reports").await, 401, "auth_required").await;

    app.create_admin("boss", PASSWORD).await;
    let admin = app.log_in("boss", PASSWORD).await;
    let queue: Value = admin.get(app.url("/api/admin/reports")).send().await.expect("list").json().await.expect("json");
    let reports = queue["reports"].as_array().expect("reports");
    let kinds: Vec<&str> = reports.iter().filter_map(|r| r["targetType"].as_str()).collect();
    assert_eq!(kinds, vec!["user", "comment", "clip"], "newest first");
    assert_eq!(reports[1]["targetId"], comment_id);
    assert_eq!(reports[1]["reason"], "spam");
    assert_eq!(reports[1]["details"], "bot");
    assert_eq!(reports[1]["reporter"]["username"], "ann");
    assert_eq!(queue["hasMore"], false);
    let page: Value = admin
        .get(app.url("/api/admin/reports?limit=1&offset=1"))
        .send()
        .await
        .expect("list")
        .json()
        .await
        .expect("json");
    assert_eq!(page["reports"][0]["targetType"], "comment");
    assert_eq!(page["hasMore"], true);
    let response = admin.get(app.url("/api/admin/reports?limit=101")).send().await.expect("list");
    assert_error(response, 400, "invalid_request").await;
}

/// The open reports as an admin sees them, newest first: (id, target type).
async fn open_reports(admin: &Client, app: &TestApp) -> Vec<(u64, String)> {
    let queue: Value = admin.get(app.url("/api/admin/reports")).send().await.expect("list").json().await.expect("json");
    let reports = queue["reports"].as_array().expect("reports");
    reports
        .iter()
        .map(|r| (r["id"].as_u64().expect("id"), r["targetType"].as_str().expect("type").to_owned()))
        .collect()
}

#[tokio::test]
async fn admins_resolve_reports_by_dismissing_or_removing_and_bad_input_changes_nothing() {
    let app = spawn_app().await;
    let clip = first_clip(&app).await;
    let ann = app.signed_in("ann").await;
    let bob = app.signed_in("bob").await;
    let comment_id = comment(&ann, &app, clip, "buy cheap likes", None).await["id"].as_u64().expect("id");
    let file = |target_type: &str, target_id: u64| {
        let body = json!({ "targetType": target_type, "targetId": target_id, "reason": "spam" });
        let request = bob.post(app.url("/api/reports")).json(&body);
        async move {
            let response = request.send().await.expect("report");
            assert_eq!(response.status(), 201);
            response.json::<Value>().await.expect("json")["id"].as_u64().expect("report id")
        }
    };
    let on_comment = file("comment", comment_id).await;
    let on_clip = file("clip", clip).await;
    let ann_id = app.get_json("/api/users/ann").await["profile"]["id"].as_u64().expect("ann's id");
    let on_user = file("user", ann_id).await;
    app.create_admin("boss", PASSWORD).await;
    let admin = app.log_in("boss", PASSWORD).await;
    let everything = open_reports(&admin, &app).await;
    assert_eq!(everything.len(), 3);

    let resolve = |client: &Client, id: String, body: Value| {
        let request = client.post(app.url(&format!("/api/admin/reports/{id}/resolve"))).json(&body);
        async move { request.send().await.expect("resolve") }
    };
    let dismiss = json!({ "action": "dismiss" });
    let remove = json!({ "action": "remove" });
    // Not signed in, not an admin, bad actions, unknown ids and a removal a
    // user report does not allow: the error shape, and nothing changes.
    assert_error(resolve(&app.client, on_comment.to_string(), dismiss.clone()).await, 401, "auth_required").await;
    assert_error(resolve(&bob, on_comment.to_string(), dismiss.clone()).await, 403, "forbidden").await;
    for bad in [json!({ "action": "ban" }), json!({}), json!({ "action": 1 }), json!({ "action": "remove", "x": 1 })] {
        assert_error(resolve(&admin, on_comment.to_string(), bad).await, 400, "invalid_request").await;
    }
    assert_error(resolve(&admin, "999999".into(), dismiss.clone()).await, 404, "not_found").await;
    assert_error(resolve(&admin, "abc".into(), dismiss.clone()).await, 404, "not_found").await;
    assert_error(resolve(&admin, on_user.to_string(), remove.clone()).await, 400, "invalid_request").await;
    assert_eq!(open_reports(&admin, &app).await, everything, "refusals changed nothing");
    assert_eq!(list(&app.client, &app, &format!("clipId={clip}")).await["comments"][0]["body"], "buy cheap likes");

    // Remove on a comment deletes it and closes the report, audit-logged.
    let response = resolve(&admin, on_comment.to_string(), remove.clone()).await;
    assert_eq!(response.status(), 200);
    let resolved: Value = response.json().await.expect("json");
    assert_eq!((resolved["action"].clone(), resolved["removed"].clone()), (json!("remove"), json!(true)));
    assert_eq!(resolved["report"]["id"], on_comment);
    let shown = list(&app.client, &app, &format!("clipId={clip}")).await;
    assert_eq!((shown["comments"][0]["deleted"].clone(), shown["commentCount"].clone()), (json!(true), json!(0)));
    let logs: Value =
        admin.get(app.url("/api/admin/audit-logs")).send().await.expect("logs").json().await.expect("json");
    let entry = &logs["entries"][0];
    assert_eq!(entry["action"], "resolve_report");
    assert_eq!(entry["resource"], format!("report:{on_comment}"));
    assert!(entry["details"].as_str().is_some_and(|d| d.contains("action=remove")), "{entry}");
    assert_eq!(logs["entries"][1]["action"], "remove_comment");
    // Resolving it again is a conflict and writes nothing.
    assert_error(resolve(&admin, on_comment.to_string(), dismiss.clone()).await, 409, "conflict").await;
    let again: Value =
        admin.get(app.url("/api/admin/audit-logs")).send().await.expect("logs").json().await.expect("json");
    assert_eq!(again["entries"][0]["id"], logs["entries"][0]["id"], "no audit entry for a refusal");

    // Remove on a clip rejects it, so it leaves the vote.
    let response = resolve(&admin, on_clip.to_string(), remove).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.expect("json")["removed"], true);
    assert!(!app.clip_ids().await.contains(&clip), "the rejected clip left the arena's feed");

    // Dismiss leaves the account alone and empties the queue.
    let response = resolve(&admin, on_user.to_string(), dismiss).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.json::<Value>().await.expect("json")["removed"], false);
    assert!(open_reports(&admin, &app).await.is_empty());
    assert_eq!(app.get_json("/api/users/ann").await["profile"]["username"], "ann");
    assert_eq!(app.check_mismatches(), Vec::<String>::new());
}

#[tokio::test]
async fn comments_survive_a_restart() {
    let app = spawn_app().await;
    let clip = first_clip(&app).await;
    let ann = app.signed_in("ann").await;
    let id = comment(&ann, &app, clip, "durable", None).await["id"].as_u64().expect("id");
    like(&ann, &app, id, true).await;
    let app = app.restart().await;
    let page = list(&app.client, &app, &format!("clipId={clip}")).await;
    assert_eq!(page["comments"][0]["body"], "durable");
    assert_eq!(page["comments"][0]["likeCount"], 1);
    assert_eq!(page["commentCount"], 1);
    let ann = app.log_in("ann", PASSWORD).await;
    let next = comment(&ann, &app, clip, "after restart", None).await["id"].as_u64().expect("id");
    assert!(next > id, "ids keep increasing");
}
