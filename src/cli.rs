//! The command line: `serve`, `check`, `admin`, `backup`, `restore`,
//! `reindex`, `tally verify` (in `cli/tally.rs`) and `media migrate` (in
//! `cli/media.rs`); `backup`/`restore` to and from `s3://` in `cli/s3.rs`.

mod media;
mod s3;
mod tally;

use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::adminsock::AdminRequest;
#[cfg(unix)]
use crate::adminsock::{self, AdminReply};
use crate::app::{App, BuildOptions};
use crate::config::S3Url;
use crate::config::{Config, LogFormat, Overrides};
use crate::demo::DemoOptions;
use crate::service::accounts::{self, AdminOperation, AdminOutcome, AdminRefusal};
use crate::store::backup::{self, BackupError, BackupSummary};
use crate::store::writer::{self, WriterSettings};
use crate::store::{CheckReport, Store};
use crate::telemetry;

/// A self-hosted appliance for a community that makes a film together, one
/// 8-second clip at a time.
#[derive(Debug, Parser)]
#[command(name = "aimoviez", version, about, long_about = None)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the web server (HTML pages, JSON API, media).
    Serve(ServeArgs),
    /// Recount every vote counter and daily budget from the stored votes and
    /// report mismatches (exit code 1 when any). Run it with the server stopped.
    Check(CommonArgs),
    /// Manage accounts (works while the server runs, through its local socket).
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Take a consistent backup (database snapshot, media, secret key) into
    /// DEST. With the server running, the server takes it (through its local
    /// socket) while it keeps serving; otherwise the data dir is opened here.
    Backup(BackupArgs),
    /// Restore a backup into a new or empty data dir, then check every
    /// counter (exit code 1 on any mismatch).
    Restore(RestoreArgs),
    /// Rebuild the search index from the database. Run it with the server
    /// stopped (the server rebuilds a missing or stale index at start too).
    Reindex(CommonArgs),
    /// Check a locked slot's published tally (see docs/verify.md).
    #[command(subcommand)]
    Tally(tally::TallyCommand),
    /// Media files: `migrate --to s3|disk` moves them between the data dir
    /// and the bucket of `[media.s3]`.
    #[command(subcommand)]
    Media(media::MediaCommand),
}

#[derive(Debug, Args)]
struct BackupArgs {
    /// Backup directory; it must not exist or be empty. It receives
    /// aimoviez.redb, media/, secret.key and BACKUP.txt.
    #[arg(value_name = "DEST")]
    dest: PathBuf,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
struct RestoreArgs {
    /// A backup directory made by `aimoviez backup`.
    #[arg(value_name = "SRC")]
    src: PathBuf,
    /// Data directory to restore into; it must not exist or be empty.
    #[arg(long = "data", value_name = "DIR")]
    data_dir: PathBuf,
    /// Optional TOML config file; AIMOVIEZ_* env vars and flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write logs as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an admin account, or make an existing user an admin with a new
    /// password (asks first on a terminal; signs that user out everywhere).
    Create(AdminArgs),
    /// Set a user's password and sign out all their sessions.
    ResetPassword(AdminArgs),
}

#[derive(Debug, Args)]
struct AdminArgs {
    /// The account's username.
    #[arg(long)]
    username: String,
    /// Read the password from standard input (one line) instead of a prompt.
    #[arg(long)]
    password_stdin: bool,
    /// `create`: promote an existing account without asking.
    #[arg(long)]
    yes: bool,
    #[command(flatten)]
    common: CommonArgs,
}

#[derive(Debug, Args)]
struct CommonArgs {
    /// Data directory (database, media, secrets). Default: ./data
    #[arg(long = "data", value_name = "DIR")]
    data_dir: Option<PathBuf>,
    /// Optional TOML config file; AIMOVIEZ_* env vars and flags override it.
    #[arg(long, value_name = "FILE")]
    config: Option<PathBuf>,
    /// Write logs as JSON lines instead of text.
    #[arg(long)]
    log_json: bool,
}

#[derive(Debug, Args)]
struct ServeArgs {
    /// Address to listen on. Default: 127.0.0.1:8080
    #[arg(long, value_name = "ADDR")]
    listen: Option<SocketAddr>,
    /// Seed a demo season with sample clips (once; later starts keep it).
    #[arg(long)]
    demo: bool,
    #[command(flatten)]
    common: CommonArgs,
}

fn load_config(common: &CommonArgs, listen: Option<SocketAddr>) -> Result<Config, String> {
    let overrides = Overrides { listen, data_dir: common.data_dir.clone(), log_json: common.log_json };
    Config::load(common.config.as_deref(), std::env::vars(), &overrides).map_err(|error| error.to_string())
}

/// Runs the parsed command line.
pub fn run(cli: Cli) -> ExitCode {
    match cli.command {
        Command::Serve(args) => serve(args),
        Command::Check(args) => check(args),
        Command::Reindex(args) => reindex(args),
        Command::Admin(AdminCommand::Create(args)) => admin(args, AdminOperation::CreateAdmin),
        Command::Admin(AdminCommand::ResetPassword(args)) => admin(args, AdminOperation::ResetPassword),
        Command::Backup(args) => backup(args),
        Command::Restore(args) => restore(args),
        Command::Tally(command) => tally::run(command),
        Command::Media(command) => media::run(command),
    }
}

fn fail(message: impl std::fmt::Display) -> ExitCode {
    eprintln!("error: {message}");
    ExitCode::FAILURE
}

fn serve(args: ServeArgs) -> ExitCode {
    let config = match load_config(&args.common, args.listen) {
        Ok(config) => config,
        Err(error) => return fail(error),
    };
    telemetry::init(config.log_format == LogFormat::Json);
    crate::app::raise_open_file_limit();
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(format!("cannot start the async runtime: {error}")),
    };
    let options = BuildOptions { demo: args.demo.then(DemoOptions::default), ..BuildOptions::default() };
    runtime.block_on(async move {
        let app = match App::build(config, options).await {
            Ok(app) => app,
            Err(error) => return fail(error),
        };
        match app.run_until_stopped(shutdown_signal()).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(error) => fail(format!("server error: {error}")),
        }
    })
}

/// Resolves on SIGINT or SIGTERM.
async fn shutdown_signal() {
    let interrupt = async {
        if let Err(error) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %error, "cannot listen for ctrl-c");
            std::future::pending::<()>().await;
        }
    };
    #[cfg(unix)]
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(error) => {
                tracing::error!(error = %error, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    #[cfg(not(unix))]
    let terminate = std::future::pending::<()>();
    tokio::select! {
        () = interrupt => tracing::info!("received SIGINT; shutting down"),
        () = terminate => tracing::info!("received SIGTERM; shutting down"),
    }
}

fn read_password(from_stdin: bool) -> Result<String, String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().read_line(&mut line).map_err(|e| format!("cannot read the password: {e}"))?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ").map_err(|e| format!("cannot read the password: {e}"))?;
    let second = rpassword::prompt_password("Repeat it: ").map_err(|e| format!("cannot read the password: {e}"))?;
    if first != second {
        return Err("the passwords differ".into());
    }
    Ok(first)
}

/// Asks on the terminal whether to promote an existing account.
fn confirm_promotion(username: &str) -> bool {
    eprint!(
        "An account named {username} exists. Make it an admin, set its password and sign out all its sessions? [y/N] "
    );
    let mut answer = String::new();
    if std::io::stdin().read_line(&mut answer).is_err() {
        return false;
    }
    matches!(answer.trim().to_ascii_lowercase().as_str(), "y" | "yes")
}

fn admin(args: AdminArgs, operation: AdminOperation) -> ExitCode {
    let config = match load_config(&args.common, None) {
        Ok(config) => config,
        Err(error) => return fail(error),
    };
    let password = match read_password(args.password_stdin) {
        Ok(password) => password,
        Err(error) => return fail(error),
    };
    // Promoting hands an existing name admin rights: at a terminal the
    // operator is asked first (unless `--yes`); a script proceeds and the
    // printed line says what happened.
    let ask_first = !args.yes && std::io::stdin().is_terminal();
    let mut promote_existing = !ask_first;
    loop {
        let request = AdminRequest::account(operation, args.username.clone(), password.clone(), promote_existing);
        match run_account_operation(&config, &request) {
            Ok(done) => {
                println!("{done}");
                return ExitCode::SUCCESS;
            }
            Err(refusal) if refusal.needs_confirmation && !promote_existing => {
                if !confirm_promotion(&args.username.to_ascii_lowercase()) {
                    return fail("nothing changed");
                }
                promote_existing = true;
            }
            Err(refusal) => return fail(refusal.message),
        }
    }
}

/// What an account operation did, as the command prints it.
struct AccountDone {
    username: String,
    user_id: u64,
    outcome: AdminOutcome,
    through_server: bool,
}

impl std::fmt::Display for AccountDone {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let (name, id) = (&self.username, self.user_id);
        match self.outcome {
            AdminOutcome::Created => write!(f, "created: admin {name} (id {id})")?,
            AdminOutcome::Promoted => write!(
                f,
                "promoted: existing user {name} (id {id}) is now an admin; password set, every session signed out"
            )?,
            AdminOutcome::PasswordReset => {
                write!(f, "password reset: user {name} (id {id}); every session signed out")?
            }
        }
        if self.through_server { write!(f, ", through the running server") } else { Ok(()) }
    }
}

/// Runs an account operation through the running server's admin socket, or,
/// with no server running, by opening the data dir here.
fn run_account_operation(config: &Config, request: &AdminRequest) -> Result<AccountDone, AdminRefusal> {
    let Some((operation, username, password, promote_existing)) = request.account_operation() else {
        return Err("not an account operation".into());
    };
    #[cfg(unix)]
    match adminsock::send(&config.data_dir, request) {
        Ok(Some(AdminReply { user_id: Some(id), outcome: Some(outcome), .. })) => {
            let username = username.to_ascii_lowercase();
            return Ok(AccountDone { username, user_id: id, outcome, through_server: true });
        }
        Ok(Some(AdminReply { error, needs_confirmation, .. })) => {
            let message = error.unwrap_or_else(|| "refused".into());
            return Err(AdminRefusal { message, needs_confirmation });
        }
        Ok(None) => {}
        Err(error) => return Err(format!("cannot talk to the running server: {error}").into()),
    }
    // No server is running: open the data dir and run the same operation here.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .map_err(|error| format!("cannot start the async runtime: {error}"))?;
    std::fs::create_dir_all(&config.data_dir)
        .map_err(|error| format!("cannot create {}: {error}", config.data_dir.display()))?;
    let store = Store::open(&config.database_path(), config.storage.cache_mb * 1024 * 1024)
        .map_err(|error| format!("{error} (is a server running without its admin socket?)"))?;
    let settings = WriterSettings {
        batch_max: 16,
        queue_capacity: 16,
        daily_budget: config.votes.daily_budget,
        clock: std::sync::Arc::new(crate::domain::clock::Timestamp::now),
    };
    let (writer, thread) = writer::start(&store, settings, Box::new(|_| {}))
        .map_err(|error| format!("cannot start the writer: {error}"))?;
    let result =
        runtime.block_on(accounts::run_admin_operation(&writer, operation, username, password, promote_existing));
    thread.stop();
    let (user, outcome) = result?;
    Ok(AccountDone { username: user.username, user_id: user.id.get(), outcome, through_server: false })
}

/// Loads the config and opens an existing data dir for an offline command.
fn open_existing(args: &CommonArgs) -> Result<(Config, Store), ExitCode> {
    let config = load_config(args, None).map_err(fail)?;
    telemetry::init(config.log_format == LogFormat::Json);
    let path = config.database_path();
    if !path.exists() {
        return Err(fail(format!("no database at {}", path.display())));
    }
    let store = Store::open(&path, config.storage.cache_mb * 1024 * 1024)
        .map_err(|error| fail(format!("{error} (is the server running? stop it first)")))?;
    Ok((config, store))
}

fn reindex(args: CommonArgs) -> ExitCode {
    let (config, store) = match open_existing(&args) {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    let index = match crate::search::SearchIndex::open_or_recreate(&config.search_dir()) {
        Ok((index, _)) => index,
        Err(crate::search::SearchError::Locked) => return fail("the search index is in use: stop the server first"),
        Err(error) => return fail(error),
    };
    let mut progress = Progress::new();
    let mut done = 0u64;
    let started = std::time::Instant::now();
    let result = crate::indexer::rebuild(&index, &store, |n| {
        done += n;
        if done.is_multiple_of(1000) {
            progress.show(&format!("indexed {done} clips"));
        }
    });
    progress.finish();
    match result {
        Ok(count) => {
            println!("reindexed {count} approved clips in {:.1} s", started.elapsed().as_secs_f64());
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}

fn check(args: CommonArgs) -> ExitCode {
    let (_, store) = match open_existing(&args) {
        Ok(opened) => opened,
        Err(exit) => return exit,
    };
    let report = store.check(|done, total| {
        if total > 0 {
            eprint!("\rchecking votes: {done}/{total}");
        }
    });
    eprintln!();
    match report {
        Ok(report) => print_check_report(&report),
        Err(error) => fail(error),
    }
}

/// Prints a check report; failure when any counter disagrees with a recount.
fn print_check_report(report: &CheckReport) -> ExitCode {
    println!(
        "checked {} votes, {} clip counters, {} daily budgets: {} mismatches",
        report.votes,
        report.counters,
        report.budgets,
        report.mismatches.len()
    );
    for mismatch in &report.mismatches {
        println!("mismatch: {mismatch}");
    }
    if report.mismatches.is_empty() { ExitCode::SUCCESS } else { ExitCode::FAILURE }
}

/// Progress on standard error: one line rewritten in place on a terminal,
/// one line per update otherwise (logs, CI).
struct Progress {
    terminal: bool,
    shown: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress { terminal: std::io::stderr().is_terminal(), shown: false }
    }

    fn show(&mut self, text: &str) {
        if self.terminal {
            eprint!("\r{text}\x1b[K");
        } else {
            eprintln!("{text}");
        }
        self.shown = true;
    }

    fn finish(&mut self) {
        if self.terminal && self.shown {
            eprintln!();
        }
        self.shown = false;
    }
}

fn backup(args: BackupArgs) -> ExitCode {
    let config = match load_config(&args.common, None) {
        Ok(config) => config,
        Err(error) => return fail(error),
    };
    telemetry::init(config.log_format == LogFormat::Json);
    if let Some(url) = args.dest.to_str().filter(|text| S3Url::looks_like(text)) {
        return s3::backup(&config, url);
    }
    // The server resolves paths against its own working directory: send it an absolute one.
    let dest = match std::path::absolute(&args.dest) {
        Ok(dest) => dest,
        Err(error) => return fail(format!("cannot resolve {}: {error}", args.dest.display())),
    };
    if let Err(error) =
        backup::ensure_absent_or_empty(&dest, "backup destination", "back up into a new or empty directory")
    {
        return fail(format!("refusing to back up: {error}"));
    }
    let mut progress = Progress::new();
    match take_backup(&config, &dest, &mut progress) {
        Ok((summary, how)) => {
            print_backup_summary(&summary, how);
            ExitCode::SUCCESS
        }
        Err(error) => {
            note_unfinished(&dest);
            fail(error)
        }
    }
}

/// Takes a backup of the data dir into `dest` (absolute; absent or empty)
/// through the running server's admin socket, or, with no server running,
/// by opening the data dir here. Returns the summary and how it was taken.
fn take_backup(config: &Config, dest: &Path, progress: &mut Progress) -> Result<(BackupSummary, &'static str), String> {
    #[cfg(unix)]
    {
        let request = AdminRequest::Backup { dest: dest.to_owned() };
        let sent = adminsock::send_with_progress(&config.data_dir, &request, |text| progress.show(text));
        progress.finish();
        match sent {
            Ok(Some(AdminReply { backup: Some(summary), .. })) => {
                // The server writes in its own view of the file system (a
                // systemd unit may have a private /tmp): check this one sees it.
                if !dest.join(backup::MANIFEST_FILE).is_file() {
                    return Err(format!(
                        "the server reports a backup in {}, but {} is not visible from here; the server may run \
                         in its own mount namespace (systemd PrivateTmp=, ProtectSystem=): choose a directory the \
                         unit may write (its StateDirectory or ReadWritePaths=)",
                        dest.display(),
                        dest.join(backup::MANIFEST_FILE).display()
                    ));
                }
                return Ok((summary, "through the running server"));
            }
            Ok(Some(AdminReply { error, .. })) => {
                let error = error.unwrap_or_else(|| "the server refused the backup".into());
                if error.starts_with("cannot ") {
                    eprintln!(
                        "note: the running server writes the backup itself, as its own user and with its own view \
                         of the file system (under systemd only where the unit may write: its StateDirectory or \
                         ReadWritePaths=)"
                    );
                }
                return Err(error);
            }
            Ok(None) => {}
            Err(error) => return Err(format!("cannot talk to the running server: {error}")),
        }
    }
    // No server is running: open the data dir and take the backup here.
    let path = config.database_path();
    if !path.exists() {
        return Err(format!("no database at {}", path.display()));
    }
    let store = Store::open(&path, config.storage.cache_mb * 1024 * 1024)
        .map_err(|error| format!("{error} (is a server running without its admin socket?)"))?;
    let result = backup::backup_data_dir(&store, &config.data_dir, dest, |update| progress.show(&update.to_string()));
    progress.finish();
    result.map(|summary| (summary, "offline (no server running)")).map_err(|error| error.to_string())
}

/// Tells the operator a failed backup left files behind (`dest` was absent
/// or empty before the attempt).
fn note_unfinished(dest: &Path) {
    let has_files = std::fs::read_dir(dest).map(|mut entries| entries.next().is_some()).unwrap_or(false);
    if has_files && !dest.join(backup::MANIFEST_FILE).exists() {
        eprintln!(
            "note: {} holds an unfinished backup (no {}); delete it before trying again",
            dest.display(),
            backup::MANIFEST_FILE
        );
    }
}

fn print_backup_summary(summary: &BackupSummary, how: &str) {
    println!("backup complete: {} ({how})", summary.dest.display());
    println!(
        "snapshot taken {}, schema version {}, {} rows:",
        summary.created,
        summary.database.schema_version,
        summary.database.total_rows()
    );
    for table in &summary.database.tables {
        println!("  {:<28} {:>10}", table.table, table.rows);
    }
    let media = &summary.media;
    println!(
        "media: {} files, {} bytes ({} hard-linked, {} copied)",
        media.files, media.bytes, media.linked, media.copied
    );
    println!("secret.key: {}", if summary.secret_key { "copied" } else { "absent in the data dir" });
    println!("search index: not backed up (rebuilt from the database at start)");
}

fn restore(args: RestoreArgs) -> ExitCode {
    let common = CommonArgs { data_dir: Some(args.data_dir), config: args.config, log_json: args.log_json };
    let config = match load_config(&common, None) {
        Ok(config) => config,
        Err(error) => return fail(error),
    };
    telemetry::init(config.log_format == LogFormat::Json);
    let mut progress = Progress::new();
    if let Some(url) = args.src.to_str().filter(|text| S3Url::looks_like(text)) {
        return match s3::restore(&config, url, &mut progress) {
            Ok(()) => check_restored(&config, &mut progress),
            Err(exit) => exit,
        };
    }
    let restored = backup::restore_data_dir(&args.src, &config.data_dir, |update| progress.show(&update.to_string()));
    progress.finish();
    let summary = match restored {
        Ok(summary) => summary,
        Err(BackupError::Refused(reason)) => return fail(format!("refusing to restore: {reason}")),
        Err(error) => {
            return fail(format!(
                "restore failed: {error} (the files copied so far are in {})",
                config.data_dir.display()
            ));
        }
    };
    println!(
        "restored {} into {}: database {} bytes, {} media files, secret.key {}",
        args.src.display(),
        config.data_dir.display(),
        summary.database_bytes,
        summary.media.files,
        if summary.secret_key { "restored" } else { "absent in the backup (a new one is generated at start)" }
    );
    check_restored(&config, &mut progress)
}

/// Opens a restored data dir (which checks the schema version and migrates
/// an older one) and checks every counter.
fn check_restored(config: &Config, progress: &mut Progress) -> ExitCode {
    // Opening checks the schema version (and migrates an older one).
    let store = match Store::open(&config.database_path(), config.storage.cache_mb * 1024 * 1024) {
        Ok(store) => store,
        Err(error) => return fail(format!("the restored database cannot be opened: {error}")),
    };
    let report = store.check(|done, total| {
        if total > 0 && progress.terminal {
            eprint!("\rchecking votes: {done}/{total}");
        }
    });
    if progress.terminal {
        eprintln!();
    }
    match report {
        Ok(report) => print_check_report(&report),
        Err(error) => fail(error),
    }
}
