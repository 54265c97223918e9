//! `aimoviez backup s3://bucket/prefix` and `aimoviez restore
//! s3://bucket/prefix/<name> --data DIR` (see `backup_s3` for the layout).
//!
//! The bucket and prefix come from the URL; endpoint, region and credentials
//! from `[media.s3]` and the standard `AWS_*` variables. The URL is parsed
//! and the bucket listed before anything is staged or written, so a typo or
//! an unknown bucket fails at once and leaves nothing behind. The backup is
//! staged in the data dir the way `backup DIR` makes one (through the
//! running server when one runs), uploaded by this process with its own
//! credentials, and the staged copy removed.

use std::process::ExitCode;

use time::OffsetDateTime;

use super::{Progress, fail, print_backup_summary, take_backup};
use crate::backup_s3::{self, S3BackupError};
use crate::config::Config;
use crate::config::{MediaStore, S3Url};
use crate::objstore::{self, ObjectStore};
use crate::store::backup::{BackupError, backup_name};

/// A client for `url`'s bucket with the `[media.s3]` settings, checked with
/// one list request.
async fn reach(config: &Config, url: &S3Url) -> Result<std::sync::Arc<dyn ObjectStore>, String> {
    let objects = objstore::connect_to(&config.media.s3, &url.bucket).map_err(|error| error.to_string())?;
    backup_s3::check_reachable(objects.as_ref(), url).await.map_err(|error| error.to_string())?;
    Ok(objects)
}

/// The media objects of the `[media.s3]` bucket.
async fn media_objects(config: &Config) -> Result<Vec<backup_s3::FileEntry>, String> {
    let media = objstore::connect(&config.media.s3).map_err(|error| error.to_string())?;
    backup_s3::list_media(media.as_ref()).await.map_err(|error| error.to_string())
}

fn runtime() -> Result<tokio::runtime::Runtime, ExitCode> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| fail(format!("cannot start the async runtime: {error}")))
}

/// `aimoviez backup s3://…`.
pub(super) fn backup(config: &Config, text: &str) -> ExitCode {
    let target = match S3Url::parse(text) {
        Ok(target) => target,
        Err(error) => return fail(format!("refusing to back up: {error}")),
    };
    let runtime = match runtime() {
        Ok(runtime) => runtime,
        Err(exit) => return exit,
    };
    runtime.block_on(async {
        let objects = match reach(config, &target).await {
            Ok(objects) => objects,
            Err(error) => return fail(format!("refusing to back up: {error}")),
        };
        let name = backup_name(OffsetDateTime::now_utc());
        let staged = backup_s3::staging_dir(&config.data_dir, &name);
        let staged = match std::path::absolute(&staged) {
            Ok(staged) => staged,
            Err(error) => return fail(format!("cannot resolve {}: {error}", staged.display())),
        };
        // With media in a bucket the manifest lists them (no copy): listed
        // before the snapshot, so every file it can name is already there.
        let remote_media = match config.media.store {
            MediaStore::S3 => match media_objects(config).await {
                Ok(media) => Some(media),
                Err(error) => return fail(format!("refusing to back up: {error}")),
            },
            MediaStore::Disk => None,
        };
        let mut progress = Progress::new();
        let taken = take_backup(config, &staged, &mut progress);
        let uploading = taken.is_ok();
        let outcome = match taken {
            Ok((summary, how)) => {
                let uploaded =
                    backup_s3::upload(objects.as_ref(), &staged, &summary, &target, &name, remote_media, |text| {
                        progress.show(&text)
                    })
                    .await;
                progress.finish();
                uploaded.map(|report| (summary, how, report))
            }
            Err(error) => Err(S3BackupError::Refused(error)),
        };
        backup_s3::remove_staging(&config.data_dir, &name);
        match outcome {
            Ok((mut summary, how, report)) => {
                summary.dest = report.url.to_string().into();
                print_backup_summary(&summary, how);
                println!(
                    "uploaded to {}: {} files ({} bytes) sent, {} media files copied from the previous backup",
                    report.url, report.uploaded, report.uploaded_bytes, report.reused
                );
                ExitCode::SUCCESS
            }
            Err(error) if uploading => {
                eprintln!(
                    "note: anything uploaded under {} is an unfinished backup (no {}): restore refuses it, and \
                     scheduled backups to that prefix delete it",
                    target.child(&name),
                    backup_s3::S3_MANIFEST
                );
                fail(error)
            }
            Err(error) => fail(error),
        }
    })
}

/// `aimoviez restore s3://… --data DIR`: downloads and verifies; the
/// caller then opens the data dir and checks it.
pub(super) fn restore(config: &Config, text: &str, progress: &mut Progress) -> Result<(), ExitCode> {
    let source = S3Url::parse(text).map_err(|error| fail(format!("refusing to restore: {error}")))?;
    if source.prefix.is_empty() {
        return Err(fail(format!(
            "refusing to restore: {source} names a bucket, not a backup (write s3://bucket/prefix/aimoviez-<UTC>)"
        )));
    }
    let runtime = runtime()?;
    let restored = runtime.block_on(async {
        let objects = reach(config, &source).await.map_err(S3BackupError::Refused)?;
        let (manifest, summary) =
            backup_s3::download(objects.as_ref(), &source, &config.data_dir, |text| progress.show(&text)).await?;
        // Media kept in a bucket are not in the backup: say if any is gone.
        let missing = match manifest.remote_media.is_empty() {
            true => Vec::new(),
            false => match objstore::connect(&config.media.s3) {
                Ok(media) => backup_s3::missing_media(media.as_ref(), &manifest)
                    .await
                    .unwrap_or_else(|error| vec![format!("(cannot list the media bucket: {error})")]),
                Err(error) => vec![format!("(cannot reach the media bucket: {error})")],
            },
        };
        Ok((manifest, summary, missing))
    });
    progress.finish();
    let (manifest, summary, missing) = match restored {
        Ok(restored) => restored,
        Err(S3BackupError::Refused(reason) | S3BackupError::Local(BackupError::Refused(reason))) => {
            return Err(fail(format!("refusing to restore: {reason}")));
        }
        Err(error) => return Err(fail(format!("restore failed: {error} (nothing was kept in the target)"))),
    };
    println!(
        "restored {source} (taken {}) into {}: database {} bytes, {} media files, secret.key {}; every file's \
         blake3 matched the manifest",
        manifest.created,
        config.data_dir.display(),
        summary.database_bytes,
        summary.media.files,
        if summary.secret_key { "restored" } else { "absent in the backup (a new one is generated at start)" }
    );
    if !manifest.remote_media.is_empty() {
        println!(
            "media: {} objects in the bucket of [media.s3] (store = \"s3\"), not in the backup; {} missing",
            manifest.remote_media.len(),
            missing.len()
        );
        for name in missing.iter().take(20) {
            eprintln!("warning: media object missing from the bucket: {name}");
        }
    }
    Ok(())
}
