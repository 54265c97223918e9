//! The admin console (`/admin/...`): plain HTML forms, as a browser without
//! JavaScript would use them.

use reqwest::{Client, Response};
use serde_json::{Value, json};

use crate::helpers::{TestApp, form_token, spawn_app};

const ADMIN: &str = "boss";
const PASSWORD: &str = "correct horse battery";

const SECTIONS: [&str; 8] = [
    "/admin",
    "/admin/clips",
    "/admin/seasons",
    "/admin/flags",
    "/admin/users",
    "/admin/audit",
    "/admin/flagged",
    "/admin/reports",
];

/// A browser that keeps cookies and shows redirects instead of following them.
/// Creates the admin and signs in through the `/login` form.
async fn admin_browser(app: &TestApp) -> Client {
    app.create_admin(ADMIN, PASSWORD).await;
    let client = app.form_browser();
    let response = client
        .post(app.url("/login"))
        .form(&[("username", ADMIN), ("password", PASSWORD)])
        .send()
        .await
        .expect("login");
    assert_eq!(response.status(), 303, "login form");
    client
}

async fn get_html(client: &Client, app: &TestApp, path: &str) -> String {
    let response = client.get(app.url(path)).send().await.expect("get");
    assert_eq!(response.status(), 200, "GET {path}");
    response.text().await.expect("html")
}

/// The session's form token, read from a page's hidden field.
async fn csrf(client: &Client, app: &TestApp) -> String {
    form_token(&get_html(client, app, "/admin/flags").await)
}

/// Posts a form with the session's token; expects the 303 back and returns its target.
async fn post_form(client: &Client, app: &TestApp, path: &str, fields: &[(&str, &str)]) -> String {
    let token = csrf(client, app).await;
    let mut form: Vec<(&str, &str)> = vec![("csrf", token.as_str())];
    form.extend_from_slice(fields);
    let response = client.post(app.url(path)).form(&form).send().await.expect("post");
    assert_eq!(response.status(), 303, "POST {path}");
    location(&response)
}

fn location(response: &Response) -> String {
    response.headers()["location"].to_str().expect("ascii").to_owned()
}

/// Follows a redirect target and returns the page.
async fn follow(client: &Client, app: &TestApp, target: &str) -> String {
    get_html(client, app, target).await
}

/// Text as the templates escape it.
fn escaped(text: &str) -> String {
    text.replace('&', "&#38;").replace('<', "&#60;").replace('>', "&#62;").replace('"', "&#34;").replace('\'', "&#39;")
}

async fn story(app: &TestApp) -> Value {
    app.get_json("/api/story").await
}

fn slot_status(story: &Value, position: usize) -> String {
    story["slots"][position - 1]["status"].as_str().expect("status").to_owned()
}

#[tokio::test]
async fn anonymous_visitors_go_to_login_and_members_get_403() {
    let app = spawn_app().await;
    let anonymous = app.form_browser();
    let member = app.signed_in("viewer").await;
    for path in SECTIONS.iter().copied().chain(["/admin/clips?status=active", "/admin/no-such-section"]) {
        let response = anonymous.get(app.url(path)).send().await.expect("get");
        assert_eq!(response.status(), 303, "anonymous GET {path}");
        assert_eq!(location(&response), "/login");

        let response = member.get(app.url(path)).send().await.expect("get");
        assert_eq!(response.status(), 403, "member GET {path}");
        assert_eq!(response.headers()["cache-control"], "private, no-store");
        let html = response.text().await.expect("html");
        assert!(html.contains("Admins only"), "{html}");
    }
    // Posts too: a member's post changes nothing.
    let response = member
        .post(app.url("/admin/flags/special_votes"))
        .form(&[("enabled", "false"), ("csrf", "whatever")])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 403);
    let response =
        anonymous.post(app.url("/admin/slots/advance")).form(&[("position", "1")]).send().await.expect("post");
    assert_eq!(response.status(), 303);
    assert_eq!(location(&response), "/login");
    assert_eq!(app.get_json("/api/features").await["flags"]["special_votes"], true);
    assert_eq!(slot_status(&story(&app).await, 1), "voting");
}

#[tokio::test]
async fn an_admin_sees_every_section() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let markers: [(&str, &[&str]); 9] = [
        ("/admin", &["Votes per clip in the open slot", "<svg", "<rect", "1 of 75", "The Signal", "pending"]),
        ("/admin/clips", &["Moderation queue", "No pending clips."]),
        (
            "/admin/clips?status=active",
            &["<video controls preload=\"none\"", "poster=\"/media/", "/reject\"", "form=\"bulk\""],
        ),
        (
            "/admin/seasons",
            &["The Signal", "Advance now", "name=\"position\" value=\"1\"", "Assign winner", "Reset votes", "sci-fi"],
        ),
        ("/admin/flags", &["multi_vote_mode", "special_votes", "require_auth_voting", "require_captcha_voting"]),
        ("/admin/users", &["@boss", "<span class=\"meta\">you</span>"]),
        ("/admin/audit", &["Audit log"]),
        ("/admin/flagged", &["Flagged votes"]),
        ("/admin/reports", &["Reports", "No open reports.", "href=\"/admin/reports\" aria-current=\"page\""]),
    ];
    for (path, expected) in markers {
        let response = admin.get(app.url(path)).send().await.expect("get");
        assert_eq!(response.status(), 200, "GET {path}");
        assert_eq!(response.headers()["cache-control"], "private, no-store");
        let html = response.text().await.expect("html");
        for marker in expected {
            assert!(html.contains(marker), "{path} should contain {marker}:\n{html}");
        }
        assert!(!html.contains("<script>"), "no inline script on {path}");
        assert!(!html.contains("style="), "no inline style on {path}");
        assert!(html.contains("aria-current=\"page\""), "{path} marks its section");
    }
    // The active tab lists the four demo clips, each with per-clip forms.
    let html = get_html(&admin, &app, "/admin/clips?status=active").await;
    assert_eq!(html.matches("<video controls").count(), 4);
    // Bad query values are a 400 page, not a crash.
    for path in ["/admin/clips?status=bogus", "/admin/audit?offset=-1", "/admin/users?offset=abc"] {
        assert_eq!(admin.get(app.url(path)).send().await.expect("get").status(), 400, "{path}");
    }
    let unknown = admin.get(app.url("/admin/no-such-section")).send().await.expect("get");
    assert_eq!(unknown.status(), 404);
}

#[tokio::test]
async fn flags_toggle_through_the_form() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    assert_eq!(app.get_json("/api/features").await["flags"]["special_votes"], true);
    let target = post_form(&admin, &app, "/admin/flags/special_votes", &[("enabled", "false")]).await;
    assert!(target.starts_with("/admin/flags?notice="), "{target}");
    assert_eq!(app.get_json("/api/features").await["flags"]["special_votes"], false);
    let html = follow(&admin, &app, &target).await;
    assert!(html.contains("special_votes is now off."), "{html}");
    assert!(html.contains("value=\"true\""), "the toggle now turns it back on");

    let target = post_form(&admin, &app, "/admin/flags/special_votes", &[("enabled", "true")]).await;
    assert_eq!(app.get_json("/api/features").await["flags"]["special_votes"], true);
    assert!(follow(&admin, &app, &target).await.contains("special_votes is now on."));

    // Bad values and unknown flags change nothing.
    let target = post_form(&admin, &app, "/admin/flags/special_votes", &[("enabled", "maybe")]).await;
    assert!(target.contains("error="), "{target}");
    assert_eq!(app.get_json("/api/features").await["flags"]["special_votes"], true);
    let token = csrf(&admin, &app).await;
    let response = admin
        .post(app.url("/admin/flags/no_such_flag"))
        .form(&[("csrf", token.as_str()), ("enabled", "true")])
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 404);
}

#[tokio::test]
async fn messages_in_the_address_are_shown_only_when_the_server_wrote_them() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let target = post_form(&admin, &app, "/admin/flags/multi_vote_mode", &[("enabled", "true")]).await;
    let forged =
        target.replace("multi_vote_mode%20is%20now%20on.", "Your%20session%20expired%2C%20sign%20in%20at%20evil.test");
    assert_ne!(forged, target);
    let html = follow(&admin, &app, &forged).await;
    assert!(!html.contains("evil.test"), "{html}");
    let html = follow(&admin, &app, "/admin/flags?notice=Visit%20evil.test").await;
    assert!(!html.contains("evil.test"));
}

#[tokio::test]
async fn posts_without_the_form_token_change_nothing() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    for fields in [vec![("enabled", "false")], vec![("enabled", "false"), ("csrf", "0123456789abcdef0123456789abcdef")]]
    {
        let response = admin.post(app.url("/admin/flags/special_votes")).form(&fields).send().await.expect("post");
        assert_eq!(response.status(), 403);
        assert!(response.text().await.expect("html").contains("Form expired"));
    }
    let response = admin.post(app.url("/admin/slots/advance")).form(&[("position", "1")]).send().await.expect("post");
    assert_eq!(response.status(), 403);
    // A body that is not a form at all is a 400 page.
    let response = admin
        .post(app.url("/admin/flags/special_votes"))
        .header("content-type", "application/json")
        .body("{\"enabled\":false}")
        .send()
        .await
        .expect("post");
    assert_eq!(response.status(), 400);
    assert_eq!(app.get_json("/api/features").await["flags"]["special_votes"], true);
    assert_eq!(slot_status(&story(&app).await, 1), "voting");
    let audit = get_html(&admin, &app, "/admin/audit").await;
    assert!(!audit.contains("set_feature_flag") && !audit.contains("advance_slot"), "{audit}");
}

#[tokio::test]
async fn advance_now_locks_the_slot_the_admin_saw_and_only_that_one() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let clip = app.clip_ids().await[2];
    assert_eq!(app.vote(clip).await.status(), 200);

    let target = post_form(&admin, &app, "/admin/slots/advance", &[("position", "1")]).await;
    assert!(target.starts_with("/admin/seasons?notice="), "{target}");
    let html = follow(&admin, &app, &target).await;
    assert!(html.contains(&format!("Slot 1 is locked with clip #{clip} as its winner.")), "{html}");
    let story = story(&app).await;
    assert_eq!(slot_status(&story, 1), "locked");
    assert_eq!(story["slots"][0]["winner"]["id"], clip);
    assert_eq!(slot_status(&story, 2), "voting");
    assert!(html.contains("name=\"position\" value=\"2\""), "the form now shows slot 2");

    // A second click from the stale page (still saying slot 1) is refused.
    let target = post_form(&admin, &app, "/admin/slots/advance", &[("position", "1")]).await;
    assert!(target.contains("error="), "{target}");
    let html = follow(&admin, &app, &target).await;
    assert!(html.contains("Slot 2 is open now, not the one you saw."), "{html}");
    assert_eq!(slot_status(&app.get_json("/api/story").await, 2), "voting");

    // Unlock needs the confirmation box, then reopens slot 1.
    let target = post_form(&admin, &app, "/admin/slots/1/unlock", &[]).await;
    assert!(target.contains("error="), "{target}");
    assert_eq!(slot_status(&app.get_json("/api/story").await, 1), "locked");
    let target = post_form(&admin, &app, "/admin/slots/1/unlock", &[("confirm", "yes")]).await;
    assert!(target.contains("notice="), "{target}");
    let story = app.get_json("/api/story").await;
    assert_eq!(slot_status(&story, 1), "voting");
    assert_eq!(slot_status(&story, 2), "upcoming");
}

#[tokio::test]
async fn assign_winner_locks_the_chosen_clip() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let ids = app.clip_ids().await;
    assert_eq!(app.vote(ids[0]).await.status(), 200);
    let chosen = ids[3].to_string();
    // Only the open slot.
    let target = post_form(&admin, &app, "/admin/slots/2/assign-winner", &[("clip_id", &chosen)]).await;
    assert!(target.contains("error="), "{target}");
    let target = post_form(&admin, &app, "/admin/slots/1/assign-winner", &[("clip_id", &chosen)]).await;
    assert!(target.contains("notice="), "{target}");
    let story = story(&app).await;
    assert_eq!(slot_status(&story, 1), "locked");
    assert_eq!(story["slots"][0]["winner"]["id"], ids[3]);
}

#[tokio::test]
async fn reset_votes_needs_confirmation_then_zeroes_the_counts() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let clip = app.clip_ids().await[0];
    assert_eq!(app.vote(clip).await.status(), 200);
    assert_eq!(app.vote_count(clip).await, 1);

    let target = post_form(&admin, &app, "/admin/slots/1/reset-votes", &[]).await;
    assert!(target.contains("error="), "{target}");
    assert!(follow(&admin, &app, &target).await.contains("Tick the box to confirm resetting the votes."));
    assert_eq!(app.vote_count(clip).await, 1);

    let target = post_form(&admin, &app, "/admin/slots/1/reset-votes", &[("confirm", "yes")]).await;
    assert!(follow(&admin, &app, &target).await.contains("Reset slot 1: voided 1 vote."), "{target}");
    assert_eq!(app.vote_count(clip).await, 0);
    // The voter may vote again.
    assert_eq!(app.vote(clip).await.status(), 200);
}

#[tokio::test]
async fn clips_are_rejected_one_by_one_or_in_bulk() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let ids = app.clip_ids().await;
    let (first, second, third) = (ids[0].to_string(), ids[1].to_string(), ids[2].to_string());

    // Active clips are not pending: approving one is a rule refusal shown as an error.
    let target = post_form(&admin, &app, &format!("/admin/clips/{first}/approve"), &[("status", "active")]).await;
    assert!(target.starts_with("/admin/clips?status=active&error="), "{target}");
    assert!(follow(&admin, &app, &target).await.contains("is active, not pending"));

    // A reject needs a reason.
    let target = post_form(&admin, &app, &format!("/admin/clips/{first}/reject"), &[("reason", "  ")]).await;
    assert!(target.contains("error="), "{target}");
    assert_eq!(app.get_json(&format!("/api/clips/{first}")).await["status"], "active");

    let target = post_form(
        &admin,
        &app,
        &format!("/admin/clips/{first}/reject"),
        &[("reason", "Off-topic <b>spam</b>"), ("status", "active")],
    )
    .await;
    assert!(follow(&admin, &app, &target).await.contains(&format!("Rejected clip #{first}.")));
    // Rejected clips are no longer public; the moderation queue lists them.
    assert_eq!(app.get(&format!("/api/clips/{first}")).await.status(), 404);
    let rejected: serde_json::Value =
        admin.get(app.url("/api/admin/clips?status=rejected")).send().await.expect("queue").json().await.expect("json");
    assert!(rejected["clips"].as_array().is_some_and(|clips| clips.iter().any(|c| c["id"] == ids[0])));

    let target = post_form(
        &admin,
        &app,
        "/admin/clips/bulk",
        &[("clip_ids", &second), ("clip_ids", &third), ("action", "reject"), ("reason", "duplicates")],
    )
    .await;
    assert!(follow(&admin, &app, &target).await.contains("Rejected 2 clips."), "{target}");
    assert_eq!(app.clip_ids().await, vec![ids[3]]);

    // The rejected tab shows them with their reasons, escaped.
    let html = get_html(&admin, &app, "/admin/clips?status=rejected").await;
    assert_eq!(html.matches("<video controls").count(), 3);
    assert!(html.contains(&format!("Rejected: {}", escaped("Off-topic <b>spam</b>"))), "{html}");
    assert!(!html.contains("<b>spam"));
    assert!(html.contains("Rejected: duplicates"));

    // Bulk with nothing ticked, or a bad id, changes nothing.
    let target = post_form(&admin, &app, "/admin/clips/bulk", &[("action", "approve")]).await;
    assert!(target.contains("error="));
    let target = post_form(&admin, &app, "/admin/clips/bulk", &[("clip_ids", "x"), ("action", "approve")]).await;
    assert!(target.contains("error="));
    assert_eq!(app.clip_ids().await, vec![ids[3]]);
}

#[tokio::test]
async fn seasons_are_created_activated_and_deleted_through_forms() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    // Only one season may be active: activating a draft while the demo runs is refused.
    let target = post_form(
        &admin,
        &app,
        "/admin/seasons",
        &[
            ("title", "Second <Film>"),
            ("genre", "sci-fi"),
            ("description", ""),
            ("total_slots", "3"),
            ("slot_hours", "2"),
        ],
    )
    .await;
    let html = follow(&admin, &app, &target).await;
    assert!(html.contains(&escaped("Created the draft season \"Second <Film>\".")), "{html}");
    assert!(html.contains(&format!("<strong>{}</strong>", escaped("Second <Film>"))));
    assert!(!html.contains("<Film>"));
    assert!(html.contains("3 × 2 h"));
    let seasons = app.get_json("/api/story").await;
    assert_eq!(seasons["season"]["title"], "The Signal");

    // Bad input is refused with a message.
    let target = post_form(&admin, &app, "/admin/seasons", &[("title", "X"), ("genre", "opera")]).await;
    assert!(follow(&admin, &app, &target).await.contains("The genre must be one of"));

    // Delete needs the exact title.
    let target = post_form(&admin, &app, "/admin/seasons/2/delete", &[("confirm", "Second")]).await;
    assert!(target.contains("error="), "{target}");
    assert!(get_html(&admin, &app, "/admin/seasons").await.contains(&escaped("Second <Film>")));

    let target = post_form(&admin, &app, "/admin/seasons/1/finish", &[]).await;
    assert!(follow(&admin, &app, &target).await.contains(&escaped("Season \"The Signal\" is now finished.")));
    let target = post_form(&admin, &app, "/admin/seasons/2/activate", &[]).await;
    assert!(target.contains("notice="), "{target}");
    let story = app.get_json("/api/story").await;
    assert_eq!(story["season"]["title"], "Second <Film>");
    assert_eq!(story["slots"].as_array().map(Vec::len), Some(3));

    let target = post_form(&admin, &app, "/admin/seasons/1/archive", &[]).await;
    assert!(target.contains("notice="), "{target}");
    let target = post_form(&admin, &app, "/admin/seasons", &[("title", "Third"), ("genre", "sci-fi")]).await;
    assert!(target.contains("notice="), "{target}");
    let target = post_form(&admin, &app, "/admin/seasons/3/delete", &[("confirm", "Third")]).await;
    assert!(follow(&admin, &app, &target).await.contains("Deleted season #3."), "{target}");
    assert!(!get_html(&admin, &app, "/admin/seasons").await.contains("<strong>Third</strong>"));
}

#[tokio::test]
async fn a_ban_through_the_form_ends_the_session() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let member = app.signed_in("troll").await;
    let me = member.get(app.url("/api/me")).send().await.expect("me");
    assert_eq!(me.status(), 200);
    let id = me.json::<Value>().await.expect("json")["user"]["id"].as_u64().expect("id");

    let html = get_html(&admin, &app, "/admin/users?q=TRO").await;
    assert!(html.contains("@troll"), "{html}");
    assert!(!html.contains("<strong>@boss</strong>"), "only names starting with the prefix");

    let target = post_form(&admin, &app, &format!("/admin/users/{id}/ban"), &[("q", "tro")]).await;
    assert!(target.starts_with("/admin/users?q=tro&notice="), "{target}");
    assert!(follow(&admin, &app, &target).await.contains("@troll is banned and signed out everywhere."));
    assert_eq!(member.get(app.url("/api/me")).send().await.expect("me").status(), 401);

    let target = post_form(&admin, &app, &format!("/admin/users/{id}/unban"), &[]).await;
    assert!(follow(&admin, &app, &target).await.contains("@troll is no longer banned."));

    // Admins cannot ban or demote themselves.
    let boss = admin.get(app.url("/api/me")).send().await.expect("me").json::<Value>().await.expect("json");
    let boss = boss["user"]["id"].as_u64().expect("id");
    let target = post_form(&admin, &app, &format!("/admin/users/{boss}/revoke-admin"), &[]).await;
    assert!(target.contains("error="), "{target}");
    assert_eq!(admin.get(app.url("/admin")).send().await.expect("get").status(), 200);
}

#[tokio::test]
async fn flagged_void_validates_the_selection() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let target = post_form(&admin, &app, "/admin/flagged/void", &[]).await;
    assert!(follow(&admin, &app, &target).await.contains("Tick at least one vote."), "{target}");
    let target = post_form(&admin, &app, "/admin/flagged/void", &[("vote_ids", "1; drop")]).await;
    assert!(target.contains("error="), "{target}");
    // Unknown ids are skipped, as in the API.
    let target = post_form(&admin, &app, "/admin/flagged/void", &[("vote_ids", "999999")]).await;
    assert!(follow(&admin, &app, &target).await.contains("Voided 0 votes."), "{target}");
}

#[tokio::test]
async fn the_audit_log_lists_the_actions() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    post_form(&admin, &app, "/admin/flags/require_auth_voting", &[("enabled", "true")]).await;
    post_form(&admin, &app, "/admin/slots/advance", &[("position", "1")]).await;
    let html = get_html(&admin, &app, "/admin/audit").await;
    for marker in ["set_feature_flag", "flag:require_auth_voting", "enabled=true", "advance_slot", "@boss"] {
        assert!(html.contains(marker), "audit should show {marker}:\n{html}");
    }
    // Newest first.
    let advance = html.find("advance_slot").expect("advance");
    let flag = html.find("set_feature_flag").expect("flag");
    assert!(advance < flag);
}

#[tokio::test]
async fn reports_are_listed_with_what_they_point_at_and_resolved_by_forms() {
    let app = spawn_app().await;
    let admin = admin_browser(&app).await;
    let clip = *app.clip_ids().await.first().expect("demo clips");
    let ann = app.signed_in("ann_writes").await;
    let bob = app.signed_in("bob_reports").await;
    let posted = ann.post(app.url("/api/comments")).json(&json!({ "clipId": clip, "body": "<i>spam</i> link" })).send();
    let comment = posted.await.expect("comment").json::<Value>().await.expect("json")["id"].as_u64().expect("id");
    for (target_type, target_id, reason) in [("comment", comment, "spam"), ("clip", clip, "copyright")] {
        let body =
            json!({ "targetType": target_type, "targetId": target_id, "reason": reason, "details": "seen twice" });
        let filed = bob.post(app.url("/api/reports")).json(&body).send().await.expect("report");
        assert_eq!(filed.status(), 201);
    }

    // The page shows each report's target, reporter, reason and details,
    // with a dismiss and a confirmed remove form.
    let html = get_html(&admin, &app, "/admin/reports").await;
    for marker in [
        &escaped("<i>spam</i> link") as &str,
        "by <a href=\"/u/ann_writes\">@ann_writes</a>",
        "Reported by <a href=\"/u/bob_reports\">@bob_reports</a> for <strong>copyright</strong>: seen twice",
        "data-confirm=\"Delete this comment?\"",
        "data-confirm=\"Reject this clip? Its creator is told why.\"",
        "name=\"action\" value=\"dismiss\"",
    ] {
        assert!(html.contains(marker), "the reports page should contain {marker}:\n{html}");
    }
    let report_ids: Vec<String> =
        html.split("/admin/reports/").skip(1).filter_map(|rest| rest.split('/').next()).map(str::to_owned).collect();
    let (clip_report, comment_report) = (report_ids[0].clone(), report_ids[report_ids.len() - 1].clone());

    // A bad action or an unknown report is said on the page; nothing changes.
    let target =
        post_form(&admin, &app, &format!("/admin/reports/{comment_report}/resolve"), &[("action", "ban")]).await;
    assert!(follow(&admin, &app, &target).await.contains("Choose dismiss or remove"), "{target}");
    let target = post_form(&admin, &app, "/admin/reports/999999/resolve", &[("action", "dismiss")]).await;
    assert!(follow(&admin, &app, &target).await.contains("No such report"), "{target}");
    assert_eq!(get_html(&admin, &app, "/admin/reports").await.matches("class=\"admin-report\"").count(), 2);

    // Remove deletes the comment; dismiss keeps the clip; then the queue is empty.
    let path = format!("/admin/reports/{comment_report}/resolve");
    let target = post_form(&admin, &app, &path, &[("action", "remove")]).await;
    assert!(follow(&admin, &app, &target).await.contains("Removed the comment"), "{target}");
    let comments = app.get_json(&format!("/api/comments?clipId={clip}")).await;
    assert_eq!(comments["comments"][0]["deleted"], true);
    let target =
        post_form(&admin, &app, &format!("/admin/reports/{clip_report}/resolve"), &[("action", "dismiss")]).await;
    let html = follow(&admin, &app, &target).await;
    assert!(html.contains("Dismissed report") && html.contains("No open reports."), "{html}");
    assert!(app.clip_ids().await.contains(&clip), "a dismissed report leaves the clip in the vote");
    let target = post_form(&admin, &app, &path, &[("action", "dismiss")]).await;
    assert!(follow(&admin, &app, &target).await.contains("already resolved"), "{target}");
}
