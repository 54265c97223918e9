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
