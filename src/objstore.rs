//! The connection to an S3-compatible bucket (issue #17), shared by media
//! storage (`[media] store = "s3"`) and off-box backups (`backup s3://…`).
//!
//! [`connect`] turns `[media.s3]` into an `Arc<dyn ObjectStore>` (Apache
//! Arrow's `object_store` crate); settings left empty come from the standard
//! `AWS_*` environment variables, which `object_store` reads itself, so
//! session tokens, web-identity files and instance roles work as in every
//! other AWS tool. [`check_bucket`] is the start-up probe: one list request
//! that fails for a missing bucket, bad credentials or an unreachable
//! endpoint, so `serve` refuses to start instead of failing on the first upload.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use futures_util::StreamExt;
use object_store::aws::{AmazonS3Builder, AmazonS3ConfigKey};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};
use tokio::io::AsyncWriteExt;

pub use object_store::path::Path as ObjectPath;
pub use object_store::{ObjectStore, ObjectStoreExt};

use crate::config::S3Config;

/// How long the start-up probe may take in all (retries included).
const CHECK_TIMEOUT: Duration = Duration::from_secs(30);

/// A bucket that cannot be used, with what was tried.
#[derive(Debug, thiserror::Error)]
pub enum ObjStoreError {
    /// The settings do not make a client (e.g. a malformed endpoint).
    #[error("cannot set up the S3 client for bucket {bucket:?}: {source}")]
    Build {
        /// The bucket.
        bucket: String,
        /// Why.
        source: object_store::Error,
    },
    /// The bucket does not answer a list request.
    #[error("cannot list bucket {bucket:?} at {endpoint}: {reason}")]
    Unusable {
        /// The bucket.
        bucket: String,
        /// Where requests went.
        endpoint: String,
        /// The store's answer, or the timeout.
        reason: String,
    },
}

/// A client for `s3.bucket`.
pub fn connect(s3: &S3Config) -> Result<Arc<dyn ObjectStore>, ObjStoreError> {
    connect_to(s3, &s3.bucket)
}

/// A client for `bucket` with the endpoint, region and credentials of `s3`
/// (`backup s3://bucket/prefix` names its own bucket).
pub fn connect_to(s3: &S3Config, bucket: &str) -> Result<Arc<dyn ObjectStore>, ObjStoreError> {
    let builder = builder_for(s3, bucket);
    let store = builder.build().map_err(|source| ObjStoreError::Build { bucket: bucket.to_owned(), source })?;
    Ok(Arc::new(store))
}

/// Where requests for `bucket` go, for messages: the endpoint from the
/// settings or `AWS_ENDPOINT`, else AWS itself.
pub fn describe_endpoint(s3: &S3Config, bucket: &str) -> String {
    builder_for(s3, bucket).get_config_value(&AmazonS3ConfigKey::Endpoint).unwrap_or_else(|| "AWS S3".to_owned())
}

/// Lists one page of a prefix nothing uses: succeeds only when the bucket
/// exists, the credentials may list it and the endpoint answers in time.
pub async fn check_bucket(store: &dyn ObjectStore, s3: &S3Config, bucket: &str) -> Result<(), ObjStoreError> {
    let probe = ObjectPath::from("aimoviez-start-up-check/");
    let listed = tokio::time::timeout(CHECK_TIMEOUT, async { store.list(Some(&probe)).next().await }).await;
    let reason = match listed {
        Ok(None | Some(Ok(_))) => return Ok(()),
        Ok(Some(Err(error))) => error.to_string(),
        Err(_) => format!("no answer within {} s", CHECK_TIMEOUT.as_secs()),
    };
    Err(ObjStoreError::Unusable { bucket: bucket.to_owned(), endpoint: describe_endpoint(s3, bucket), reason })
}

/// Streams the local file `source` into the object at `path` (one PUT when
/// small, a multipart upload otherwise, never the whole file in memory).
/// On failure the upload is aborted, so no half-written multipart upload is
/// left behind in the bucket. Media uploads and `media migrate` both store
/// files this way.
pub async fn put_local_file(store: &Arc<dyn ObjectStore>, path: ObjectPath, source: &Path) -> std::io::Result<()> {
    let mut source = tokio::fs::File::open(source).await?;
    let mut writer = object_store::buffered::BufWriter::new(store.clone(), path);
    let written = async {
        tokio::io::copy(&mut source, &mut writer).await?;
        writer.shutdown().await
    }
    .await;
    if let Err(error) = written {
        let _ = writer.abort().await;
        return Err(error);
    }
    Ok(())
}

fn builder_for(s3: &S3Config, bucket: &str) -> AmazonS3Builder {
    // Bounded retries: a media request or an upload should fail in seconds,
    // not after object_store's default of 10 retries over 3 minutes.
    let retry =
        RetryConfig { backoff: BackoffConfig::default(), max_retries: 3, retry_timeout: Duration::from_secs(30) };
    let options = ClientOptions::new()
        .with_connect_timeout(Duration::from_secs(5))
        .with_timeout(Duration::from_secs(120))
        .with_allow_http(s3.endpoint.starts_with("http://"));
    let mut builder = AmazonS3Builder::from_env()
        .with_bucket_name(bucket)
        .with_retry(retry)
        .with_client_options(options)
        .with_virtual_hosted_style_request(false);
    if !s3.region.is_empty() {
        builder = builder.with_region(&s3.region);
    }
    if !s3.access_key_id.is_empty() {
        builder = builder.with_access_key_id(&s3.access_key_id);
    }
    if !s3.secret_access_key.is_empty() {
        builder = builder.with_secret_access_key(s3.secret_access_key.expose());
    }
    let endpoint = if s3.endpoint.is_empty() {
        builder.get_config_value(&AmazonS3ConfigKey::Endpoint)
    } else {
        Some(s3.endpoint.trim_end_matches('/').to_owned())
    };
    if let Some(endpoint) = endpoint {
        if endpoint.starts_with("http://") {
            builder = builder.with_allow_http(true);
        }
        // object_store's virtual-hosted mode takes the bucket's own URL as
        // the endpoint; build it from the service URL the settings name.
        let endpoint = match s3.path_style {
            true => endpoint,
            false => virtual_hosted(&endpoint, bucket),
        };
        builder = builder.with_endpoint(endpoint).with_virtual_hosted_style_request(!s3.path_style);
    } else if !s3.path_style {
        builder = builder.with_virtual_hosted_style_request(true);
    }
    builder
}

/// `https://host:port` → `https://bucket.host:port`.
fn virtual_hosted(endpoint: &str, bucket: &str) -> String {
    match endpoint.split_once("://") {
        Some((scheme, rest)) => format!("{scheme}://{bucket}.{rest}"),
        None => format!("{bucket}.{endpoint}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn virtual_hosted_style_puts_the_bucket_in_the_host() {
        assert_eq!(virtual_hosted("https://s3.example.net", "film"), "https://film.s3.example.net");
        assert_eq!(virtual_hosted("http://127.0.0.1:9000", "b"), "http://b.127.0.0.1:9000");
    }

    #[test]
    fn the_endpoint_named_in_messages_is_the_configured_one() {
        let s3 = S3Config { endpoint: "http://127.0.0.1:9/".into(), ..S3Config::default() };
        assert_eq!(describe_endpoint(&s3, "film"), "http://127.0.0.1:9");
    }
}
