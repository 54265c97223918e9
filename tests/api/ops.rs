//! Operations over HTTP: the Prometheus exposition parses and moves with
//! the traffic, `/metrics` is refused to remote clients (whatever proxy
//! headers say) unless they bring the token, `/api/health` reports the
//! writer without touching storage, and an older data dir is migrated with
//! a backup first.

use std::collections::BTreeMap;
use std::path::Path;

use crate::helpers::{SpawnOptions, TestApp, assert_error, spawn_app, spawn_with};

/// Parses Prometheus text format 0.0.4 strictly enough to catch a broken
/// exposition: every line is a `# HELP`/`# TYPE` comment or
/// `name{label="value",…} value`, names and label names are valid, label
/// values are quoted with only `\\`, `\"` and `\n` escapes, values are
/// numbers, and every sample belongs to a family declared by a TYPE line.
/// Returns each series (name plus its label text) with its value.
fn parse_exposition(text: &str) -> BTreeMap<String, f64> {
    let valid_name = |name: &str, colon: bool| {
        let mut chars = name.chars();
        chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_' || (colon && c == ':'))
            && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || (colon && c == ':'))
    };
    let mut families: Vec<String> = Vec::new();
    let mut series = BTreeMap::new();
    for (number, line) in text.lines().enumerate() {
        let at = format!("line {}: {line:?}", number + 1);
        if line.is_empty() {
            continue;
        }
        if let Some(comment) = line.strip_prefix('#') {
            let mut words = comment.trim_start().splitn(3, ' ');
            match (words.next(), words.next(), words.next()) {
                (Some("TYPE"), Some(name), Some(kind)) => {
                    assert!(valid_name(name, true), "{at}");
                    assert!(["counter", "gauge", "histogram", "summary", "untyped"].contains(&kind), "{at}");
                    families.push(name.to_owned());
                }
                (Some("HELP"), Some(name), _) => assert!(valid_name(name, true), "{at}"),
                _ => {}
            }
            continue;
        }
        let (name_and_labels, value) = line.rsplit_once(' ').unwrap_or_else(|| panic!("no value: {at}"));
        let parsed = match value {
            "+Inf" => f64::INFINITY,
            "-Inf" => f64::NEG_INFINITY,
            "NaN" => f64::NAN,
            number => number.parse::<f64>().unwrap_or_else(|_| panic!("bad value: {at}")),
        };
        let (name, labels) = match name_and_labels.split_once('{') {
            Some((name, rest)) => {
                let labels = rest.strip_suffix('}').unwrap_or_else(|| panic!("unclosed labels: {at}"));
                check_labels(labels, &at);
                (name, Some(labels))
            }
            None => (name_and_labels, None),
        };
        assert!(valid_name(name, true), "bad metric name: {at}");
        let family_declared = families.iter().any(|family| {
            name == family
                || ["_bucket", "_sum", "_count"]
                    .iter()
                    .any(|suffix| name.strip_suffix(suffix).is_some_and(|base| base == family))
        });
        assert!(family_declared, "sample without a TYPE line: {at}");
        let key = match labels {
            Some(labels) => format!("{name}{{{labels}}}"),
            None => name.to_owned(),
        };
        assert!(series.insert(key, parsed).is_none(), "duplicate series: {at}");
    }
    series
}

/// `label="value",label="value"` with escaped values.
fn check_labels(mut rest: &str, at: &str) {
    while !rest.is_empty() {
        let (name, after) = rest.split_once("=\"").unwrap_or_else(|| panic!("bad label: {at}"));
        assert!(
            name.chars().next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
                && name.chars().all(|c| c.is_ascii_alphanumeric() || c == '_'),
            "bad label name {name:?}: {at}"
        );
        let mut chars = after.char_indices();
        let mut end = None;
        while let Some((index, c)) = chars.next() {
            match c {
                '\\' => {
                    let escaped = chars.next().map(|(_, c)| c);
                    assert!(matches!(escaped, Some('\\' | '"' | 'n')), "bad escape: {at}");
                }
                '"' => {
                    end = Some(index);
                    break;
                }
                '\n' => panic!("raw newline in a label value: {at}"),
                _ => {}
            }
        }
        let end = end.unwrap_or_else(|| panic!("unterminated label value: {at}"));
        rest = &after[end + 1..];
        rest = rest.strip_prefix(',').unwrap_or(rest);
    }
}

async fn scrape(app: &TestApp) -> BTreeMap<String, f64> {
    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"].to_str().expect("ascii").to_owned();
    assert!(content_type.starts_with("text/plain; version=0.0.4"), "{content_type}");
    parse_exposition(&response.text().await.expect("text"))
}

fn value(metrics: &BTreeMap<String, f64>, series: &str) -> f64 {
    metrics.get(series).copied().unwrap_or(0.0)
}

#[test]
fn the_parser_rejects_what_prometheus_would() {
    let good = "# HELP a_total x.\n# TYPE a_total counter\na_total{route=\"/a/{id}\",q=\"\\\"\"} 3\n";
    assert_eq!(parse_exposition(good).len(), 1);
    for bad in [
        "# TYPE a counter\na 1 2 3\n",
        "# TYPE a counter\na{route=/x} 1\n",
        "# TYPE a counter\na{route=\"x} 1\n",
        "b 1\n",
        "# TYPE a counter\na one\n",
        "# TYPE a counter\n9a 1\n",
    ] {
        assert!(std::panic::catch_unwind(|| parse_exposition(bad)).is_err(), "accepted {bad:?}");
    }
}

#[tokio::test]
async fn metrics_parse_and_move_with_votes_requests_and_views() {
    let app = spawn_app().await;
    let clip = app.clip_ids().await[0];
    let before = scrape(&app).await;
    assert_eq!(app.vote(clip).await.status(), 200);
    assert_error(app.vote(clip).await, 409, "already_voted").await;
    assert_eq!(app.get(&format!("/api/clips/{clip}")).await.status(), 200);
    assert_eq!(app.get("/definitely/not/a/route-12345?x=1").await.status(), 404);
    let after = scrape(&app).await;

    let moved = |series: &str| value(&after, series) - value(&before, series);
    let vote_ok = "aimoviez_http_requests_total{route=\"/api/vote\",method=\"POST\",status=\"200\"}";
    let vote_conflict = "aimoviez_http_requests_total{route=\"/api/vote\",method=\"POST\",status=\"409\"}";
    assert_eq!(moved(vote_ok), 1.0, "{after:#?}");
    assert_eq!(moved(vote_conflict), 1.0);
    assert_eq!(moved("aimoviez_votes_accepted_total"), 1.0);
    assert_eq!(moved("aimoviez_votes_refused_total{reason=\"already_voted\"}"), 1.0);
    let latency_count = "aimoviez_http_request_duration_seconds_count{route=\"/api/vote\",method=\"POST\"}";
    assert_eq!(moved(latency_count), 2.0);
    let inf_bucket = "aimoviez_http_request_duration_seconds_bucket{route=\"/api/vote\",method=\"POST\",le=\"+Inf\"}";
    assert_eq!(value(&after, inf_bucket), value(&after, latency_count));

    // Route templates, never raw paths: label values stay bounded.
    assert!(
        value(&after, "aimoviez_http_requests_total{route=\"/api/clips/{id}\",method=\"GET\",status=\"200\"}") >= 1.0
    );
    assert!(value(&after, "aimoviez_http_requests_total{route=\"unmatched\",method=\"GET\",status=\"404\"}") >= 1.0);
    assert!(
        after.keys().all(|series| !series.contains("route-12345") && !series.contains(&format!("/api/clips/{clip}"))),
        "a raw path became a label"
    );

    // The writer's figures.
    assert!(moved("aimoviez_writer_batch_size_count") >= 2.0, "two casts, at least one batch each");
    assert!(value(&after, "aimoviez_writer_commit_seconds_bucket{le=\"+Inf\"}") >= 2.0);
    // Bounds in seconds as written, not binary-floating-point residue.
    assert!(after.contains_key("aimoviez_writer_commit_seconds_bucket{le=\"0.025\"}"), "{:?}", after.keys());
    assert!(value(&after, "aimoviez_writer_commit_seconds_sum") > 0.0);
    assert_eq!(value(&after, "aimoviez_writer_running"), 1.0);
    assert!(after.contains_key("aimoviez_writer_queue_depth"));
    assert!(after.contains_key("aimoviez_live_clients"));
    assert!(after.contains_key("aimoviez_search_index_lag"));
    assert_eq!(
        value(&after, "aimoviez_search_committed_sequence") - value(&after, "aimoviez_search_indexed_sequence"),
        value(&after, "aimoviez_search_index_lag")
    );

    // Showing the feed counts views, flushed every few seconds.
    app.eventually(10, "a view flush is counted", || async {
        value(&scrape(&app).await, "aimoviez_view_flushes_total") >= 1.0
    })
    .await;
    assert!(value(&scrape(&app).await, "aimoviez_views_flushed_total") >= 1.0);
}

#[tokio::test]
async fn live_clients_are_counted_while_connected() {
    let app = spawn_app().await;
    let stream = app.get("/api/live").await;
    assert_eq!(stream.status(), 200);
    app.eventually(5, "the SSE client is counted", || async {
        value(&scrape(&app).await, "aimoviez_live_clients") >= 1.0
    })
    .await;
    drop(stream);
    app.eventually(5, "the SSE client is gone", || async {
        value(&scrape(&app).await, "aimoviez_live_clients") == 0.0
    })
    .await;
}

#[tokio::test]
async fn metrics_are_refused_to_remote_clients_however_forwarded_and_allowed_with_the_token() {
    let token = "scrape-token-0123456789";
    // The worst case: every peer is a trusted proxy, so X-Forwarded-For is
    // believed all the way; it still cannot make a remote client local.
    let env = vec![
        ("AIMOVIEZ_METRICS_TOKEN".to_owned(), token.to_owned()),
        ("AIMOVIEZ_TRUSTED_PROXIES".to_owned(), r#"["0.0.0.0/0", "::/0"]"#.to_owned()),
    ];
    let app = spawn_with(SpawnOptions { env, ..SpawnOptions::default() }).await;
    assert_eq!(app.get("/metrics").await.status(), 200, "this machine needs no token");
    let request = |headers: &[(&str, &str)]| {
        let mut builder = app.client.get(app.url("/metrics"));
        for (name, value) in headers {
            builder = builder.header(*name, *value);
        }
        builder.send()
    };
    for forwarded in [
        &[("x-forwarded-for", "203.0.113.7")][..],
        &[("x-forwarded-for", "127.0.0.1, 203.0.113.7")],
        &[("x-forwarded-for", "127.0.0.1"), ("x-real-ip", "203.0.113.7")],
        &[("forwarded", "for=203.0.113.7")],
        &[("x-forwarded-for", "203.0.113.7"), ("authorization", "Bearer scrape-token-0123456780")],
        &[("x-forwarded-for", "203.0.113.7"), ("authorization", token)],
    ] {
        let response = request(forwarded).await.expect("request");
        assert_eq!(response.headers().get("www-authenticate").map(|v| v.as_bytes()), Some(&b"Bearer"[..]));
        let body = assert_error(response, 401, "auth_required").await;
        assert!(!body.to_string().contains("aimoviez_"), "{forwarded:?}: {body}");
    }
    let bearer = format!("Bearer {token}");
    let allowed = request(&[("x-forwarded-for", "203.0.113.7"), ("authorization", &bearer)]).await.expect("request");
    assert_eq!(allowed.status(), 200, "a remote scraper with the token is let in");
    assert!(allowed.text().await.expect("text").contains("aimoviez_writer_running 1"));

    // Without a configured token, remote clients do not even learn the route exists.
    let plain = spawn_app().await;
    let response = plain.client.get(plain.url("/metrics")).header("x-real-ip", "203.0.113.7").send().await;
    assert_error(response.expect("request"), 404, "not_found").await;
}

#[tokio::test]
async fn health_reports_storage_and_the_writer_without_reading_storage() {
    let app = spawn_app().await;
    let reads = app.store_reads();
    for _ in 0..20 {
        let response = app.get("/api/health").await;
        assert_eq!(response.status(), 200);
    }
    assert_eq!(app.store_reads(), reads, "health reads no storage");
    let body = app.get_json("/api/health").await;
    assert_eq!(body["status"], "ok", "{body}");
    assert_eq!(body["storage"], "ok");
    assert_eq!(body["writer"]["running"], true);
    assert!(body["writer"]["queueDepth"].as_u64().is_some(), "{body}");
    assert_eq!(body["writer"]["failedBatches"], 0);
    let ago = body["writer"]["lastCommitMsAgo"].as_u64().expect("the demo seed committed");
    assert!(ago < 60_000, "{body}");
    assert!(body["version"].is_string());
}

/// Puts the schema-2 fixture (see `tests/migration.rs`) into a data dir as
/// schema version 1: the tally, profile, follow and notification tables gone
/// and the version marker at 1, as a build before them left it. Returns the tallies the schema-2 writer had
/// kept, to compare with what the migration recounts.
fn schema_1_data_dir(data_dir: &Path) -> Tallies {
    use redb::{ReadableDatabase, TableDefinition};
    let path = data_dir.join("aimoviez.redb");
    std::fs::write(&path, include_bytes!("../fixtures/schema-2.redb")).expect("copy the fixture");
    let meta: TableDefinition<&str, u64> = TableDefinition::new("meta");
    let db = redb::Database::create(&path).expect("open raw");
    let kept = read_tallies(&db);
    let txn = db.begin_write().expect("write");
    assert!(txn.delete_table(VOTER_TALLY).expect("delete voters"));
    assert!(txn.delete_table(CREATOR_TALLY).expect("delete creators"));
    for table in [
        "user_id_to_stats",
        "follower_followee_to_membership",
        "followee_follower_to_membership",
        "user_notification_to_notification",
        "broadcast_id_to_notification",
        "follow_notified_to_membership",
    ] {
        txn.delete_table(TableDefinition::<u64, u64>::new(table)).expect("delete a schema-2 table");
    }
    txn.open_table(meta).expect("meta").insert("schema_version", 1).expect("version");
    txn.commit().expect("commit");
    let read = db.begin_read().expect("read");
    assert!(read.open_table(VOTER_TALLY).is_err(), "the v1 file has no tally table");
    assert_eq!(read.open_table(meta).expect("meta").get("schema_version").expect("get").map(|v| v.value()), Some(1));
    kept
}

const VOTER_TALLY: redb::TableDefinition<&str, (u64, u64)> = redb::TableDefinition::new("voter_to_tally");
const CREATOR_TALLY: redb::TableDefinition<u64, (u64, u64)> = redb::TableDefinition::new("creator_to_tally");
const USER_TALLY: redb::TableDefinition<u64, (u64, u64)> = redb::TableDefinition::new("user_id_to_vote_tally");

type Tallies = (BTreeMap<String, (u64, u64)>, BTreeMap<u64, (u64, u64)>);

fn read_tallies(db: &redb::Database) -> Tallies {
    use redb::{ReadableDatabase, ReadableTable};
    let txn = db.begin_read().expect("read");
    let voters = txn.open_table(VOTER_TALLY).expect("voters");
    let creators = txn.open_table(CREATOR_TALLY).expect("creators");
    (
        voters.iter().expect("iter").map(|e| e.expect("row")).map(|(k, v)| (k.value().to_owned(), v.value())).collect(),
        creators.iter().expect("iter").map(|e| e.expect("row")).map(|(k, v)| (k.value(), v.value())).collect(),
    )
}

/// The tallies schema 3 keeps: signed-in voters (as `u:<id>`) and creators.
fn read_schema_3_tallies(db: &redb::Database) -> Tallies {
    use redb::{ReadableDatabase, ReadableTable};
    let txn = db.begin_read().expect("read");
    let users = txn.open_table(USER_TALLY).expect("users");
    let creators = txn.open_table(CREATOR_TALLY).expect("creators");
    (
        users
            .iter()
            .expect("iter")
            .map(|e| e.expect("row"))
            .map(|(k, v)| (format!("u:{}", k.value()), v.value()))
            .collect(),
        creators.iter().expect("iter").map(|e| e.expect("row")).map(|(k, v)| (k.value(), v.value())).collect(),
    )
}

fn schema_version(db: &redb::Database) -> Option<u64> {
    use redb::{ReadableDatabase, TableDefinition};
    let meta: TableDefinition<&str, u64> = TableDefinition::new("meta");
    let txn = db.begin_read().expect("read");
    txn.open_table(meta).expect("meta").get("schema_version").expect("get").map(|v| v.value())
}

fn pre_migration_copies(data_dir: &Path) -> Vec<std::path::PathBuf> {
    let Ok(entries) = std::fs::read_dir(data_dir.join("backups")) else { return Vec::new() };
    entries
        .filter_map(|entry| entry.ok().map(|e| e.path()))
        .filter(|path| path.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.starts_with("pre-migration-v1-")))
        .collect()
}

#[tokio::test]
async fn a_version_1_data_dir_is_backed_up_then_migrated_and_checks_clean() {
    let mut app = spawn_with(SpawnOptions { demo: None, ..SpawnOptions::default() }).await;
    app.stop().await;
    let data_dir = app.data_dir().to_owned();
    let (voters_before, creators_before) = schema_1_data_dir(&data_dir);
    // Schema 2 kept a tally for every voter; schema 3 only for signed-in ones.
    let users_before: BTreeMap<String, (u64, u64)> =
        voters_before.into_iter().filter(|(voter, tally)| voter.starts_with("u:") && *tally != (0, 0)).collect();
    assert_eq!(users_before.len(), 2, "{users_before:?}");
    assert!(pre_migration_copies(&data_dir).is_empty());

    let app = app.restart().await;
    assert!(app.check_mismatches().is_empty(), "{:?}", app.check_mismatches());
    let copies = pre_migration_copies(&data_dir);
    assert_eq!(copies.len(), 1, "one copy before migrating: {copies:?}");
    let mut app = app;
    app.stop().await;

    let copy = redb::Database::open(&copies[0]).expect("the copy opens");
    assert_eq!(schema_version(&copy), Some(1), "the copy is the untouched version 1 file");
    drop(copy);
    let db = redb::Database::open(data_dir.join("aimoviez.redb")).expect("reopen");
    assert_eq!(schema_version(&db), Some(aimoviez::store::SCHEMA_VERSION));
    let (users_after, creators_after) = read_schema_3_tallies(&db);
    assert_eq!(users_after, users_before, "the recount equals what the writer had kept");
    assert_eq!(creators_after, creators_before);
    assert_eq!(users_after.values().map(|t| t.0).sum::<u64>(), 6);
    assert_eq!(users_after.values().map(|t| t.1).sum::<u64>(), 3 + 5, "alice: three standard; bob: two and a super");
    drop(db);

    // A second start migrates nothing and copies nothing.
    let app = app.restart().await;
    assert!(app.check_mismatches().is_empty());
    assert_eq!(pre_migration_copies(&data_dir).len(), 1);
}

#[tokio::test]
async fn a_newer_schema_is_refused_and_left_untouched() {
    let mut app = spawn_app().await;
    app.stop().await;
    let path = app.data_dir().join("aimoviez.redb");
    {
        let db = redb::Database::create(&path).expect("open raw");
        let txn = db.begin_write().expect("write");
        let meta: redb::TableDefinition<&str, u64> = redb::TableDefinition::new("meta");
        txn.open_table(meta).expect("meta").insert("schema_version", 99).expect("version");
        txn.commit().expect("commit");
    }
    let error = aimoviez::store::Store::open(&path, 4 * 1024 * 1024).err().expect("a newer file is refused");
    let message = error.to_string();
    assert!(message.contains("version 99") && message.contains("newer aimoviez"), "{message}");
    assert!(pre_migration_copies(app.data_dir()).is_empty(), "nothing is copied for a refused file");
    let db = redb::Database::open(&path).expect("reopen");
    assert_eq!(schema_version(&db), Some(99), "the file is not touched");
}

/// Builds the app on `data_dir` and returns why it did not start.
async fn start_error(data_dir: &Path) -> aimoviez::app::StartError {
    let overrides = aimoviez::config::Overrides {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        data_dir: Some(data_dir.to_path_buf()),
        log_json: false,
    };
    let config = aimoviez::config::Config::load(None, Vec::new(), &overrides).expect("config");
    match aimoviez::app::App::build(config, aimoviez::app::BuildOptions::default()).await {
        Ok(_) => panic!("the app started on {}", data_dir.display()),
        Err(error) => error,
    }
}

#[tokio::test]
async fn a_database_that_does_not_open_is_named_as_the_failing_step() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("aimoviez.redb");
    std::fs::write(&path, b"this is not a redb file, whatever its name says").expect("write");
    let error = start_error(dir.path()).await;
    assert_eq!(error.step(), aimoviez::app::StartStep::Database);
    let message = error.to_string();
    assert!(message.starts_with(&format!("cannot open the database {}: ", path.display())), "{message}");
    assert!(!message.contains("demo"), "{message}");
}

#[tokio::test]
async fn a_damaged_secret_is_named_as_the_failing_step() {
    let dir = tempfile::tempdir().expect("temp dir");
    let path = dir.path().join("secret.key");
    std::fs::write(&path, b"too short").expect("write");
    let error = start_error(dir.path()).await;
    assert_eq!(error.step(), aimoviez::app::StartStep::Secret);
    assert_eq!(error.to_string(), format!("cannot load the server secret {}: not a 32-byte secret", path.display()));
    assert!(!dir.path().join("aimoviez.redb").exists(), "nothing after the secret was tried");
}
