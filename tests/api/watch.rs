//! Watching: the film library and player, the genre page, and live updates.

use serde_json::{Value, json};

use crate::helpers::{SpawnOptions, spawn_with};

#[tokio::test]
async fn a_finished_film_is_in_the_library_and_plays_in_slot_order() {
    let app = spawn_with(SpawnOptions {
        demo: Some(aimoviez::demo::DemoOptions { total_slots: 2, slot_duration_secs: 1 }),
        ..SpawnOptions::default()
    })
    .await;
    app.eventually(10, "the two-slot film to finish", || async {
        app.get_json("/api/story").await["season"].is_null()
    })
    .await;
    let library = app.get("/watch").await.text().await.expect("html");
    assert!(library.contains("href=\"/watch/1\""), "{library}");
    assert!(library.contains("2 scenes"), "{library}");
    let film = app.get("/watch/1").await.text().await.expect("html");
    assert!(film.contains("id=\"film-player\""));
    assert_eq!(film.matches("data-video=\"/media/").count(), 2, "two scenes in the playlist");
    assert!(film.contains("· 2 scenes</p>"), "{film}");
    let first = film.find("<li value=\"1\"").expect("scene 1 in the playlist");
    let second = film.find("<li value=\"2\"").expect("scene 2 in the playlist");
    assert!(first < second);
    // The list numbers the scenes; the titles are not numbered a second time.
    assert!(!film.contains(">1. ") && !film.contains(">2. "), "{film}");
    let scene_two = app.get("/watch/1?scene=1").await.text().await.expect("html");
    assert!(scene_two.contains("Scene 2:"));
    assert_eq!(app.get("/watch/99").await.status(), 404);
    assert_eq!(app.get("/watch/abc").await.status(), 404);
}

#[tokio::test]
async fn the_genre_page_votes_between_seasons_without_javascript() {
    let app = spawn_with(SpawnOptions { demo: None, ..SpawnOptions::default() }).await;
    let page = app.get("/genres").await.text().await.expect("html");
    assert!(page.contains("action=\"/genres\""));
    let no_redirects = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none()).build().expect("client");
    let voted = no_redirects.post(app.url("/genres")).form(&[("genre", "horror")]).send().await.expect("vote");
    assert_eq!(voted.status(), 303);
    let tallies = app.get_json("/api/genre-vote").await;
    let horror = tallies["tallies"].as_array().expect("tallies").iter().find(|t| t["genre"] == "horror").cloned();
    assert_eq!(horror.map(|h| h["votes"].clone()), Some(json!(1)));
    let unknown = no_redirects.post(app.url("/genres")).form(&[("genre", "polka")]).send().await.expect("vote");
    assert_eq!(unknown.status(), 400);
    // Admins see the result where they create the next season.
    app.create_admin("boss", "correct horse battery").await;
    let admin = app.log_in("boss", "correct horse battery").await;
    let seasons = admin.get(app.url("/admin/seasons")).send().await.expect("page").text().await.expect("html");
    assert!(seasons.contains("horror: 100% (1)"), "{seasons}");
}

/// Reads SSE frames until one with the given event name arrives.
async fn next_event(response: &mut reqwest::Response, buffer: &mut String, name: &str) -> Value {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        if let Some(end) = buffer.find("\n\n") {
            let frame: String = buffer.drain(..end + 2).collect();
            if frame.lines().any(|line| line == format!("event: {name}")) {
                let data: String =
                    frame.lines().filter_map(|line| line.strip_prefix("data: ")).collect::<Vec<_>>().join("\n");
                return serde_json::from_str(&data).expect("event data is JSON");
            }
            continue;
        }
        assert!(std::time::Instant::now() < deadline, "no {name} event");
        let chunk = tokio::time::timeout(std::time::Duration::from_secs(10), response.chunk())
            .await
            .expect("stream alive")
            .expect("chunk")
            .expect("stream not closed");
        buffer.push_str(&String::from_utf8_lossy(&chunk));
    }
}

#[tokio::test]
async fn a_live_client_gets_counts_after_a_vote_and_a_slot_event_after_an_advance() {
    let app = spawn_with(SpawnOptions::default()).await;
    let clip = app.clip_ids().await[0];
    let mut live = app.get("/api/live").await;
    assert_eq!(live.status(), 200);
    assert_eq!(live.headers()["content-type"], "text/event-stream");
    assert_eq!(live.headers()["x-accel-buffering"], "no");
    let mut buffer = String::new();
    assert_eq!(app.vote(clip).await.status(), 200);
    let counts = next_event(&mut live, &mut buffer, "counts").await;
    let entry = counts["clips"].as_array().expect("clips").iter().find(|c| c["id"] == clip).cloned().expect("clip");
    assert_eq!(entry["voteCount"], 1);
    app.create_admin("boss", "correct horse battery").await;
    let admin = app.log_in("boss", "correct horse battery").await;
    assert_eq!(admin.post(app.url("/api/admin/slots/advance")).send().await.expect("advance").status(), 200);
    next_event(&mut live, &mut buffer, "slot").await;
}
