//! Genres over HTTP: one configured list offered and accepted everywhere,
//! and the between-seasons genre vote in rounds.

use serde_json::{Value, json};

use crate::helpers::{PASSWORD, SHORT_MP4, SpawnOptions, TestApp, assert_error, spawn_with, upload_form};

/// The values of the `<option>`s of the `<select name="{name}">` in `html`.
fn options(html: &str, name: &str) -> Vec<String> {
    let select = html.split(&format!("<select name=\"{name}\"")).nth(1).expect("the select");
    let select = select.split("</select>").next().expect("closed");
    select
        .split("<option value=\"")
        .skip(1)
        .map(|option| option.split('"').next().expect("value").to_owned())
        .filter(|value| !value.is_empty())
        .collect()
}

async fn page(client: &reqwest::Client, app: &TestApp, path: &str) -> String {
    let response = client.get(app.url(path)).send().await.expect("page");
    assert_eq!(response.status(), 200, "{path}");
    response.text().await.expect("html")
}

#[tokio::test]
async fn every_place_offers_and_accepts_exactly_the_configured_genres() {
    let configured = vec!["noir".to_owned(), "action".to_owned()];
    let app = spawn_with(SpawnOptions {
        env: vec![("AIMOVIEZ_GENRES".into(), r#"["noir", "action"]"#.into())],
        ..SpawnOptions::default()
    })
    .await;
    let admin = app.admin().await;
    let creator = app.signed_in("genre_creator").await;

    // Offered: the upload form, the admin's season form, the genre vote.
    assert_eq!(options(&page(&creator, &app, "/upload").await, "genre"), configured);
    assert_eq!(options(&page(&admin, &app, "/admin/seasons").await, "genre"), configured);
    assert_eq!(app.get_json("/api/genre-vote").await["genres"], json!(configured));

    // Accepted on upload: a configured genre, not one of the built-in defaults.
    for (genre, status) in [("sci-fi", 400), ("drama", 400), ("Noir", 201), ("action", 201)] {
        let response = creator
            .post(app.url("/api/upload"))
            .multipart(upload_form(SHORT_MP4, "clip.mp4", &format!("A {genre} clip"), genre))
            .send()
            .await
            .expect("upload");
        assert_eq!(response.status(), status, "upload as {genre}");
    }
    // Accepted on season creation.
    let create = |genre: &'static str| {
        admin
            .post(app.url("/api/admin/seasons"))
            .json(&json!({"title": format!("A {genre} film"), "genre": genre}))
            .send()
    };
    assert_error(create("comedy").await.expect("create"), 400, "invalid_request").await;
    assert_eq!(create("noir").await.expect("create").status(), 201);
    // Accepted by the genre vote (between seasons).
    let finished = admin.post(app.url("/api/admin/seasons/1/finish")).send().await.expect("finish");
    assert_eq!(finished.status(), 200);
    let vote = |genre: &'static str| app.client.post(app.url("/api/genre-vote")).json(&json!({"genre": genre})).send();
    assert_error(vote("horror").await.expect("vote"), 400, "invalid_request").await;
    assert_eq!(vote("action").await.expect("vote").status(), 200);
    let page = page(&app.client, &app, "/genres").await;
    assert!(page.contains("value=\"noir\"") && page.contains("value=\"action\"") && !page.contains("value=\"horror\""));
}

#[tokio::test]
async fn the_default_list_has_the_common_film_genres() {
    let app = spawn_with(SpawnOptions::default()).await;
    let genres: Vec<String> =
        serde_json::from_value(app.get_json("/api/genre-vote").await["genres"].clone()).expect("a list of genres");
    for common in ["action", "comedy", "drama", "horror", "sci-fi", "thriller", "romance", "animation"] {
        assert!(genres.iter().any(|genre| genre == common), "{common} missing from {genres:?}");
    }
    let creator = app.signed_in("action_fan").await;
    assert_eq!(options(&page(&creator, &app, "/upload").await, "genre"), genres);
    let upload = creator
        .post(app.url("/api/upload"))
        .multipart(upload_form(SHORT_MP4, "clip.mp4", "Explosions", "action"))
        .send()
        .await
        .expect("upload");
    assert_eq!(upload.status(), 201);
    let _: Value = upload.json().await.expect("json");
}

async fn seasons_overview(admin: &reqwest::Client, app: &TestApp) -> Value {
    let response = admin.get(app.url("/api/admin/seasons")).send().await.expect("seasons");
    assert_eq!(response.status(), 200);
    response.json().await.expect("json")
}

async fn vote_genre(client: &reqwest::Client, app: &TestApp, genre: &str) -> reqwest::Response {
    client.post(app.url("/api/genre-vote")).json(&json!({"genre": genre})).send().await.expect("genre vote")
}

#[tokio::test]
async fn each_finish_opens_an_empty_genre_round_and_the_winner_seeds_the_next_season() {
    let app = spawn_with(SpawnOptions::default()).await;
    let admin = app.admin().await;
    let voters = [app.signed_in("genre_a").await, app.signed_in("genre_b").await, app.signed_in("genre_c").await];

    // While the demo season runs the vote is closed, and the page says so.
    assert_error(vote_genre(&voters[0], &app, "horror").await, 409, "conflict").await;
    let closed = page(&app.client, &app, "/genres").await;
    assert!(closed.contains("Votes cannot change while voting is closed"), "{closed}");
    assert!(!closed.contains("You can change your vote"), "{closed}");

    // The demo season finishes: round 1 closes (nobody could vote), round 2 opens.
    let finished = admin.post(app.url("/api/admin/seasons/1/finish")).send().await.expect("finish");
    assert_eq!(finished.status(), 200);
    let open = page(&app.client, &app, "/genres").await;
    assert!(open.contains("You can change your vote until the next season starts"), "{open}");
    for (voter, genre) in voters.iter().zip(["horror", "comedy", "horror"]) {
        assert_eq!(vote_genre(voter, &app, genre).await.status(), 200);
    }
    let overview = seasons_overview(&admin, &app).await;
    assert_eq!(overview["nextGenre"], "horror", "{overview}");
    let rounds = overview["pastGenreRounds"].as_array().expect("rounds").clone();
    assert_eq!(rounds.len(), 1, "{overview}");
    assert_eq!((rounds[0]["round"].clone(), rounds[0]["winner"].clone()), (json!(1), Value::Null));
    // The console's create form offers the winner.
    let console = page(&admin, &app, "/admin/seasons").await;
    assert!(console.contains("<option value=\"horror\" selected>"), "{console}");

    // A season created without a genre gets the winner.
    let created = admin
        .post(app.url("/api/admin/seasons"))
        .json(&json!({"title": "Chosen by the vote", "totalSlots": 2}))
        .send()
        .await
        .expect("create");
    assert_eq!(created.status(), 201);
    let season: Value = created.json().await.expect("json");
    assert_eq!(season["season"]["genre"], "horror");
    let id = season["season"]["id"].as_u64().expect("id");
    for action in ["activate", "finish"] {
        let response = admin.post(app.url(&format!("/api/admin/seasons/{id}/{action}"))).send().await.expect(action);
        assert_eq!(response.status(), 200, "{action}");
    }

    // Its finish closed round 2 with its result and opened round 3, empty.
    let ballot = voters[0].get(app.url("/api/genre-vote")).send().await.expect("ballot");
    let ballot: Value = ballot.json().await.expect("json");
    assert_eq!((ballot["open"].clone(), ballot["tallies"].clone()), (json!(true), json!([])), "{ballot}");
    assert_eq!(ballot["myVote"], Value::Null, "{ballot}");
    let overview = seasons_overview(&admin, &app).await;
    assert_eq!((overview["genreVotes"].clone(), overview["nextGenre"].clone()), (json!([]), Value::Null));
    let last = &overview["pastGenreRounds"][0];
    assert_eq!(last["round"], 2, "{overview}");
    assert_eq!(last["closedBySeasonId"], id);
    assert_eq!(last["winner"], "horror");
    let tallies: Vec<(String, u64)> = last["tallies"]
        .as_array()
        .expect("tallies")
        .iter()
        .map(|t| (t["genre"].as_str().expect("genre").to_owned(), t["votes"].as_u64().expect("votes")))
        .collect();
    assert_eq!(tallies, vec![("comedy".to_owned(), 1), ("horror".to_owned(), 2)]);
    let console = page(&admin, &app, "/admin/seasons").await;
    assert!(console.contains("Round 2, closed when \u{201c}Chosen by the vote\u{201d} finished"), "{console}");
    assert!(console.contains("<strong>horror</strong> won — horror: 67% (2) · comedy: 33% (1)"), "{console}");

    // With no vote in the open round, a season needs a genre named.
    let unnamed = admin.post(app.url("/api/admin/seasons")).json(&json!({"title": "Unnamed"})).send().await;
    assert_error(unnamed.expect("create"), 400, "invalid_request").await;
    // Everyone may vote again in the new round; it is all kept across a restart.
    assert_eq!(vote_genre(&voters[0], &app, "comedy").await.status(), 200);
    let app = app.restart().await;
    let admin = app.log_in("boss", PASSWORD).await;
    let overview = seasons_overview(&admin, &app).await;
    assert_eq!(overview["nextGenre"], "comedy");
    assert_eq!(overview["pastGenreRounds"][0]["winner"], "horror");
}
