//! Media in an S3-compatible bucket (issue #17), against a real one (moto,
//! `tests/common/moto.rs`) and the real server: the demo and uploads are
//! stored in the bucket and not on disk, `/media/` streams them with ranges,
//! validators and the same cache headers, a rejected clip's objects leave
//! the bucket, a refused upload stores nothing, the hot cache serves small
//! files without the bucket, and a bucket that cannot be used stops the start.

use std::collections::BTreeSet;
use std::sync::Arc;

use aimoviez::app::{App, BuildOptions, StartStep};
use aimoviez::config::{Config, Overrides};
use aimoviez::objstore::{self, ObjectPath, ObjectStore, ObjectStoreExt};
use futures_util::TryStreamExt;
use serde_json::Value;

use crate::helpers::{LONG_MP4, SHORT_MP4, SpawnOptions, TestApp, spawn_with, upload_form};
use crate::moto::Moto;

/// The server with its media in `moto`'s bucket, plus `extra` settings.
async fn spawn_on(moto: &Moto, extra: &[(&str, &str)]) -> TestApp {
    let mut env = moto.env();
    env.push(("AIMOVIEZ_MEDIA_STORE".into(), "s3".into()));
    env.extend(extra.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())));
    spawn_with(SpawnOptions { env, ..SpawnOptions::default() }).await
}

fn bucket(moto: &Moto) -> Arc<dyn ObjectStore> {
    objstore::connect(&moto.s3_config()).expect("client")
}

async fn objects(store: &Arc<dyn ObjectStore>) -> BTreeSet<String> {
    store.list(None).map_ok(|meta| meta.location.to_string()).try_collect().await.expect("list the bucket")
}

/// Files under the local media root, `.incoming/` aside.
fn local_files(app: &TestApp) -> Vec<String> {
    let mut found = Vec::new();
    let root = app.data_dir().join("media");
    for shard in std::fs::read_dir(&root).expect("media root").flatten() {
        if shard.file_name() == ".incoming" || !shard.path().is_dir() {
            continue;
        }
        found.extend(std::fs::read_dir(shard.path()).expect("shard").flatten().map(|f| f.path().display().to_string()));
    }
    found
}

/// The video and poster names (`ab/….mp4`) of `clip` in its creator's list.
async fn names_of(app: &TestApp, creator: &reqwest::Client, clip: u64) -> (String, String) {
    let mine: Value =
        creator.get(app.url("/api/profile/clips")).send().await.expect("mine").json().await.expect("json");
    let entry = mine["clips"].as_array().expect("clips").iter().find(|c| c["id"] == clip).expect("listed").clone();
    let name = |key: &str| entry[key].as_str().expect("url").strip_prefix("/media/").expect("origin url").to_owned();
    (name("videoUrl"), name("posterUrl"))
}

#[tokio::test]
async fn uploads_go_to_the_bucket_stream_with_ranges_and_leave_it_when_rejected() {
    let Some(moto) = Moto::start("film-media") else { return };
    // Nothing is small enough for the memory cache: every GET streams from the bucket.
    let app = spawn_on(&moto, &[("AIMOVIEZ_MEDIA_MAX_CACHED_FILE_MB", "0")]).await;
    let store = bucket(&moto);
    let seeded = objects(&store).await;
    assert_eq!(seeded.len(), 8, "the demo's 4 videos and 4 posters are in the bucket: {seeded:?}");
    assert!(local_files(&app).is_empty(), "nothing on disk: {:?}", local_files(&app));

    let creator = app.signed_in("maker").await;
    let admin = app.admin().await;
    let clip = app.upload(&creator, SHORT_MP4, "Harbour lights").await;
    let (video, poster) = names_of(&app, &creator, clip).await;
    let stored = objects(&store).await;
    assert!(stored.contains(&video) && stored.contains(&poster), "{video} and {poster} in {stored:?}");
    assert!(local_files(&app).is_empty(), "the upload left nothing on disk");
    let object = store.get(&ObjectPath::from(video.as_str())).await.expect("get").bytes().await.expect("bytes");
    assert!(object.len() > 1000, "the stored video");

    // Pending: still private, from the bucket.
    assert_eq!(app.client.get(app.url(&format!("/media/{video}"))).send().await.expect("get").status(), 404);
    app.moderate(&admin, clip, "approve").await;

    let url = app.url(&format!("/media/{video}"));
    let whole = app.client.get(&url).send().await.expect("whole");
    assert_eq!(whole.status(), 200);
    let etag = whole.headers()["etag"].to_str().expect("etag").to_owned();
    let modified = whole.headers()["last-modified"].to_str().expect("date").to_owned();
    let cache = whole.headers()["cache-control"].to_str().expect("cache").to_owned();
    assert_eq!(etag, format!("\"{}\"", video.split('/').nth(1).and_then(|f| f.split('.').next()).expect("hash")));
    assert!(cache.contains("public") && cache.contains("immutable"), "{cache}");
    assert_eq!(whole.headers()["accept-ranges"], "bytes");
    assert_eq!(whole.bytes().await.expect("body"), object, "the whole file through the origin");

    let ranged = app.client.get(&url).header("range", "bytes=100-1099").send().await.expect("range");
    assert_eq!(ranged.status(), 206);
    assert_eq!(ranged.headers()["content-range"], format!("bytes 100-1099/{}", object.len()));
    assert_eq!(ranged.bytes().await.expect("body"), object.slice(100..1100), "the range, byte for byte");
    let tail = app.client.get(&url).header("range", "bytes=-10").send().await.expect("suffix");
    assert_eq!(tail.bytes().await.expect("body"), object.slice(object.len() - 10..));
    let beyond = app.client.get(&url).header("range", format!("bytes={}-", object.len())).send().await.expect("416");
    assert_eq!(beyond.status(), 416);

    let same = app.client.get(&url).header("if-none-match", &etag).send().await.expect("304");
    assert_eq!(same.status(), 304);
    let since = app.client.get(&url).header("if-modified-since", &modified).send().await.expect("304");
    assert_eq!(since.status(), 304);
    let head = app.client.head(&url).send().await.expect("head");
    assert_eq!(head.headers()["content-length"], object.len().to_string().as_str());

    app.moderate(&admin, clip, "reject").await;
    assert_eq!(app.client.get(&url).send().await.expect("get").status(), 404);
    app.eventually(10, "the rejected clip's objects to leave the bucket", || {
        let store = store.clone();
        let (video, poster) = (video.clone(), poster.clone());
        async move {
            let now = objects(&store).await;
            !now.contains(&video) && !now.contains(&poster)
        }
    })
    .await;
    assert_eq!(objects(&store).await, seeded, "only the demo's objects are left");
    assert!(app.check_mismatches().is_empty());
}

#[tokio::test]
async fn a_refused_upload_stores_nothing_in_the_bucket() {
    let Some(moto) = Moto::start("film-refused") else { return };
    let app = spawn_on(&moto, &[]).await;
    let store = bucket(&moto);
    let before = objects(&store).await;
    let creator = app.signed_in("maker").await;
    let response = creator
        .post(app.url("/api/upload"))
        .multipart(upload_form(LONG_MP4, "long.mp4", "Too long", "sci-fi"))
        .send()
        .await
        .expect("upload");
    assert_eq!(response.status(), 400, "a clip over the duration cap is refused");
    assert_eq!(objects(&store).await, before, "nothing reached the bucket");
    assert!(local_files(&app).is_empty());
}

#[tokio::test]
async fn small_hot_files_are_served_from_memory_when_the_bucket_is_gone() {
    let Some(moto) = Moto::start("film-hot") else { return };
    let app = spawn_on(&moto, &[]).await;
    let text = app.feed().await.to_string();
    let start = text.find("/media/").expect("a media url in the vote feed") + "/media/".len();
    let name: String = text[start..].chars().take_while(|c| *c != '"').collect();
    let url = app.url(&format!("/media/{name}"));
    let first = app.client.get(&url).send().await.expect("first");
    assert_eq!(first.status(), 200);
    let bytes = first.bytes().await.expect("body");
    drop(moto);
    let again = app.client.get(&url).header("range", "bytes=0-9").send().await.expect("again");
    assert_eq!(again.status(), 206, "served from the memory cache, without the bucket");
    assert_eq!(again.bytes().await.expect("body"), bytes.slice(0..10));
}

async fn start_error(env: Vec<(String, String)>) -> String {
    let temp = tempfile::tempdir().expect("temp dir");
    let overrides = Overrides {
        listen: Some("127.0.0.1:0".parse().expect("addr")),
        data_dir: Some(temp.path().to_path_buf()),
        log_json: false,
    };
    let config = Config::load(None, env, &overrides).expect("valid settings");
    match App::build(config, BuildOptions::default()).await {
        Ok(_) => panic!("started with a bucket it cannot use"),
        Err(error) => {
            assert_eq!(error.step(), StartStep::MediaBucket);
            error.to_string()
        }
    }
}

#[tokio::test]
async fn a_bucket_that_cannot_be_used_stops_the_start_with_a_clear_error() {
    let Some(moto) = Moto::start("film-exists") else { return };
    let mut env = moto.env();
    env.push(("AIMOVIEZ_MEDIA_STORE".into(), "s3".into()));
    let mut unknown = env.clone();
    unknown.push(("AIMOVIEZ_MEDIA_S3_BUCKET".into(), "no-such-bucket".into()));
    let message = start_error(unknown).await;
    assert!(message.contains("media bucket") && message.contains("\"no-such-bucket\""), "{message}");
    assert!(message.contains(&moto.endpoint), "{message}");

    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let dead_endpoint = format!("http://127.0.0.1:{port}");
    let mut dead = env.clone();
    dead.push(("AIMOVIEZ_MEDIA_S3_ENDPOINT".into(), dead_endpoint.clone()));
    let message = start_error(dead).await;
    assert!(message.contains(&dead_endpoint), "{message}");
}
