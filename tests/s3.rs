//! The S3 foundation against a real S3-compatible server (moto, see
//! `tests/common/moto.rs`): the client built from `[media.s3]` stores,
//! reads ranges of, lists and deletes objects, and a bucket that cannot be
//! used gives one clear error naming the bucket and the endpoint.

mod common;

use aimoviez::objstore::{self, ObjectPath, ObjectStoreExt};
use common::moto::Moto;
use futures_util::TryStreamExt;

#[tokio::test]
async fn the_client_from_the_settings_stores_reads_ranges_lists_and_deletes() {
    let Some(moto) = Moto::start("film") else { return };
    let s3 = moto.s3_config();
    let store = objstore::connect(&s3).expect("client");
    objstore::check_bucket(store.as_ref(), &s3, &s3.bucket).await.expect("the new bucket is usable");
    let path = ObjectPath::from("ab/abcdef.mp4");
    let bytes: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    store.put(&path, bytes.clone().into()).await.expect("put");
    let range = store.get_range(&path, 1000..1100).await.expect("ranged get");
    assert_eq!(&range[..], &bytes[1000..1100]);
    let listed: Vec<_> = store.list(None).map_ok(|meta| meta.location.to_string()).try_collect().await.expect("list");
    assert_eq!(listed, vec!["ab/abcdef.mp4".to_owned()]);
    store.delete(&path).await.expect("delete");
    let listed: Vec<_> = store.list(None).try_collect().await.expect("list");
    assert!(listed.is_empty(), "deleted: {listed:?}");
}

#[tokio::test]
async fn an_unknown_bucket_or_a_dead_endpoint_is_one_clear_error() {
    let Some(moto) = Moto::start("film") else { return };
    let mut s3 = moto.s3_config();
    s3.bucket = "no-such-bucket".into();
    let store = objstore::connect(&s3).expect("client");
    let error = objstore::check_bucket(store.as_ref(), &s3, &s3.bucket).await.expect_err("unknown bucket");
    let message = error.to_string();
    assert!(message.contains("\"no-such-bucket\"") && message.contains(&moto.endpoint), "{message}");
    assert!(message.contains("NoSuchBucket") || message.contains("404"), "{message}");

    // Nothing listens on a port just released.
    let port = std::net::TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()).expect("port").port();
    let mut dead = moto.s3_config();
    dead.endpoint = format!("http://127.0.0.1:{port}");
    let store = objstore::connect(&dead).expect("client");
    let error = objstore::check_bucket(store.as_ref(), &dead, &dead.bucket).await.expect_err("dead endpoint");
    assert!(error.to_string().contains(&dead.endpoint), "{error}");
}

/// `aimoviez` with the moto settings (and `extra`) in its environment.
async fn run_cli(moto: &Moto, args: &[&str], extra: &[(&str, &str)]) -> std::process::Output {
    let args: Vec<String> = args.iter().map(|arg| (*arg).to_owned()).collect();
    let mut env = moto.env();
    env.extend(extra.iter().map(|(key, value)| ((*key).to_owned(), (*value).to_owned())));
    tokio::task::spawn_blocking(move || {
        std::process::Command::new(common::BINARY)
            .args(&args)
            .envs(env)
            .env("RUST_LOG", "warn")
            .output()
            .expect("the CLI runs")
    })
    .await
    .expect("join")
}

/// Media names (`ab/….ext`) under a data dir's `media/`.
fn local_media(data: &std::path::Path) -> std::collections::BTreeSet<String> {
    let mut names = std::collections::BTreeSet::new();
    for shard in std::fs::read_dir(data.join("media")).expect("media dir").flatten() {
        let shard_name = shard.file_name().to_string_lossy().into_owned();
        if shard_name.len() != 2 || !shard.path().is_dir() {
            continue;
        }
        for file in std::fs::read_dir(shard.path()).expect("shard").flatten() {
            names.insert(format!("{shard_name}/{}", file.file_name().to_string_lossy()));
        }
    }
    names
}

async fn bucket_names(store: &std::sync::Arc<dyn objstore::ObjectStore>) -> std::collections::BTreeSet<String> {
    store.list(None).map_ok(|meta| meta.location.to_string()).try_collect().await.expect("list")
}

#[tokio::test]
async fn media_migrate_moves_every_file_both_ways_resumably_and_check_passes() {
    let Some(moto) = Moto::start("film-migrate") else { return };
    let client = reqwest::Client::new();
    let temp = tempfile::tempdir().expect("temp dir");
    let data = temp.path();
    let data_arg = data.to_str().expect("utf-8 path");
    let mut server = common::start(data, common::Serve::demo(), &client).await;
    server.terminate();
    drop(server);
    let on_disk = local_media(data);
    assert_eq!(on_disk.len(), 8, "the demo's videos and posters: {on_disk:?}");

    // An interrupted earlier run: one object already copied, one cut short;
    // and an object that is no media file (a backup, say) to be left alone.
    let store = objstore::connect(&moto.s3_config()).expect("client");
    let mut names = on_disk.iter();
    let (copied, cut) = (names.next().expect("one"), names.next().expect("two"));
    let bytes = std::fs::read(data.join("media").join(copied)).expect("read");
    store.put(&ObjectPath::from(copied.as_str()), bytes.into()).await.expect("put");
    store.put(&ObjectPath::from(cut.as_str()), b"half a file".to_vec().into()).await.expect("put");
    store.put(&ObjectPath::from("backups/notes.txt"), b"keep me".to_vec().into()).await.expect("put");

    // Refused while the server runs (it holds the database).
    let mut running = common::start(data, common::Serve::default(), &client).await;
    let refused = run_cli(&moto, &["media", "migrate", "--to", "s3", "--data", data_arg], &[]).await;
    assert!(!refused.status.success(), "{}", common::text(&refused));
    assert!(common::text(&refused).contains("stop it first"), "{}", common::text(&refused));
    running.terminate();
    drop(running);

    let to_s3 = run_cli(&moto, &["media", "migrate", "--to", "s3", "--data", data_arg], &[]).await;
    let said = common::text(&to_s3);
    assert!(to_s3.status.success(), "{said}");
    assert!(said.contains("moved 7 media files") && said.contains("1 were already there"), "{said}");
    assert!(said.contains("migrating media to s3: 8/8 files"), "a progress line: {said}");
    assert!(local_media(data).is_empty(), "the local copies are gone");
    let mut expected = on_disk.clone();
    expected.insert("backups/notes.txt".to_owned());
    assert_eq!(bucket_names(&store).await, expected);
    let cut_now = store.get(&ObjectPath::from(cut.as_str())).await.expect("get").bytes().await.expect("bytes");
    assert!(cut.contains(&blake3::hash(&cut_now).to_hex().to_string()), "the cut-short copy was replaced");

    // The server on the bucket serves what was moved.
    let s3_env = vec![("AIMOVIEZ_MEDIA_STORE".to_owned(), "s3".to_owned())];
    let mut serve = common::Serve { env: moto.env(), ..common::Serve::default() };
    serve.env.extend(s3_env);
    let mut server = common::start(data, serve, &client).await;
    let feed: serde_json::Value =
        client.get(format!("{}/api/vote", server.base)).send().await.expect("feed").json().await.expect("json");
    let text = feed.to_string();
    let start = text.find("/media/").expect("a media url") + "/media/".len();
    let name: String = text[start..].chars().take_while(|c| *c != '"').collect();
    let served = client.get(format!("{}/media/{name}", server.base)).send().await.expect("media");
    assert_eq!(served.status(), 200);
    let body = served.bytes().await.expect("body");
    assert!(name.contains(&blake3::hash(&body).to_hex().to_string()), "the bytes of {name}");
    server.terminate();
    drop(server);

    let to_disk = run_cli(&moto, &["media", "migrate", "--to", "disk", "--data", data_arg], &[]).await;
    let said = common::text(&to_disk);
    assert!(to_disk.status.success(), "{said}");
    assert!(said.contains("moved 8 media files"), "{said}");
    assert_eq!(local_media(data), on_disk, "every file is back on disk");
    for name in &on_disk {
        let bytes = std::fs::read(data.join("media").join(name)).expect("read");
        assert!(name.contains(&blake3::hash(&bytes).to_hex().to_string()), "{name} has its bytes");
    }
    let left: Vec<String> = bucket_names(&store).await.into_iter().collect();
    assert_eq!(left, vec!["backups/notes.txt".to_owned()], "only media objects moved");
    let again = run_cli(&moto, &["media", "migrate", "--to", "disk", "--data", data_arg], &[]).await;
    assert!(common::text(&again).contains("moved 0 media files"), "{}", common::text(&again));

    let check = run_cli(&moto, &["check", "--data", data_arg], &[]).await;
    assert!(check.status.success(), "{}", common::text(&check));
}
