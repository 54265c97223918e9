//! `aimoviez media migrate --to s3|disk`: moves the media files between the
//! data dir and the bucket of `[media.s3]` (see `media::migrate`), with the
//! server stopped (the database is opened, and so locked, for the run).

use std::process::ExitCode;

use clap::{Args, Subcommand, ValueEnum};

use super::{CommonArgs, Progress, fail, open_existing};
use crate::media::migrate::{self, Target};
use crate::objstore;

/// `aimoviez media …`
#[derive(Debug, Subcommand)]
pub enum MediaCommand {
    /// Move every media file into the bucket of `[media.s3]` (`--to s3`) or
    /// back into the data dir (`--to disk`), verifying each copy's hash
    /// before the original is removed. Resumable: run it again after an
    /// interruption. Stop the server first; set `[media] store` to match
    /// before starting it again. Exit code 1 when any file stayed behind.
    Migrate(MigrateArgs),
}

/// Where `migrate` moves the files.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum MigrateTo {
    /// Into the bucket of `[media.s3]`.
    S3,
    /// Into `<data dir>/media/`.
    Disk,
}

/// `aimoviez media migrate` options.
#[derive(Debug, Args)]
pub struct MigrateArgs {
    /// Where the files go.
    #[arg(long, value_enum)]
    to: MigrateTo,
    #[command(flatten)]
    common: CommonArgs,
}

/// Runs `aimoviez media …`.
pub fn run(command: MediaCommand) -> ExitCode {
    match command {
        MediaCommand::Migrate(args) => migrate_media(args),
    }
}

fn migrate_media(args: MigrateArgs) -> ExitCode {
    // Opening the database takes its lock: a running server makes this fail.
    let (config, _store) = match open_existing(&args.common) {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    let s3 = &config.media.s3;
    if s3.bucket.trim().is_empty() {
        return fail("set `media.s3.bucket` (and the endpoint and credentials of `[media.s3]`) first");
    }
    let target = match args.to {
        MigrateTo::S3 => Target::Bucket,
        MigrateTo::Disk => Target::Disk,
    };
    let runtime = match tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(format!("cannot start the async runtime: {error}")),
    };
    let root = config.media_dir();
    let result = runtime.block_on(async {
        let store = objstore::connect(s3).map_err(|error| error.to_string())?;
        objstore::check_bucket(store.as_ref(), s3, &s3.bucket).await.map_err(|error| error.to_string())?;
        let mut progress = Progress::new();
        let report = migrate::migrate(&root, &store, target, |state| {
            progress.show(&migrate::progress_line(target, state));
        })
        .await
        .map_err(|error| error.to_string());
        progress.finish();
        report
    });
    let report = match result {
        Ok(report) => report,
        Err(error) => return fail(error),
    };
    let place = match target {
        Target::Bucket => format!("bucket {:?}", s3.bucket),
        Target::Disk => root.display().to_string(),
    };
    println!(
        "moved {} media files ({:.1} MiB) to {place}; {} were already there; {} stayed behind",
        report.moved,
        report.bytes as f64 / (1024.0 * 1024.0),
        report.already_there,
        report.failed.len()
    );
    for (name, why) in &report.failed {
        eprintln!("not moved: {name}: {why}");
    }
    if !report.failed.is_empty() {
        return fail("some files were not moved; run the same command again once the cause is fixed");
    }
    let store = match target {
        Target::Bucket => "s3",
        Target::Disk => "disk",
    };
    println!("set `[media] store = \"{store}\"` (or AIMOVIEZ_MEDIA_STORE={store}) before starting the server");
    ExitCode::SUCCESS
}
