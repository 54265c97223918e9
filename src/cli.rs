//! The command line: `serve`, `check` and `admin`.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Args, Parser, Subcommand};

use crate::accounts::{self, AdminOperation};
use crate::adminsock::AdminRequest;
#[cfg(unix)]
use crate::adminsock::{self, AdminReply};
use crate::app::{App, BuildOptions};
use crate::config::{Config, LogFormat, Overrides};
use crate::demo::DemoOptions;
use crate::store::Store;
use crate::store::writer::{self, WriterSettings};
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
}

#[derive(Debug, Subcommand)]
enum AdminCommand {
    /// Create an admin account, or make an existing user an admin with a new password.
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
        Command::Admin(AdminCommand::Create(args)) => admin(args, AdminOperation::CreateAdmin),
        Command::Admin(AdminCommand::ResetPassword(args)) => admin(args, AdminOperation::ResetPassword),
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
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(format!("cannot start the async runtime: {error}")),
    };
    let options = BuildOptions { demo: args.demo.then(DemoOptions::default) };
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

fn admin(args: AdminArgs, operation: AdminOperation) -> ExitCode {
    let config = match load_config(&args.common, None) {
        Ok(config) => config,
        Err(error) => return fail(error),
    };
    let password = match read_password(args.password_stdin) {
        Ok(password) => password,
        Err(error) => return fail(error),
    };
    let request = AdminRequest { operation, username: args.username.clone(), password };
    #[cfg(unix)]
    match adminsock::send(&config.data_dir, &request) {
        Ok(Some(AdminReply { user_id: Some(id), .. })) => {
            println!("done: user {} (id {id}), through the running server", args.username.to_ascii_lowercase());
            return ExitCode::SUCCESS;
        }
        Ok(Some(AdminReply { error, .. })) => return fail(error.unwrap_or_else(|| "refused".into())),
        Ok(None) => {}
        Err(error) => return fail(format!("cannot talk to the running server: {error}")),
    }
    // No server is running: open the data dir and run the same operation here.
    let runtime = match tokio::runtime::Builder::new_current_thread().enable_all().build() {
        Ok(runtime) => runtime,
        Err(error) => return fail(format!("cannot start the async runtime: {error}")),
    };
    if let Err(error) = std::fs::create_dir_all(&config.data_dir) {
        return fail(format!("cannot create {}: {error}", config.data_dir.display()));
    }
    let store = match Store::open(&config.database_path(), config.storage.cache_mb * 1024 * 1024) {
        Ok(store) => store,
        Err(error) => return fail(format!("{error} (is a server running without its admin socket?)")),
    };
    let settings = WriterSettings {
        batch_max: 16,
        queue_capacity: 16,
        daily_budget: config.votes.daily_budget,
        clock: std::sync::Arc::new(crate::domain::clock::Timestamp::now),
    };
    let (writer, thread) = match writer::start(&store, settings, Box::new(|_| {})) {
        Ok(started) => started,
        Err(error) => return fail(format!("cannot start the writer: {error}")),
    };
    let result = runtime.block_on(accounts::run_admin_operation(
        &writer,
        request.operation,
        &request.username,
        &request.password,
    ));
    thread.stop();
    match result {
        Ok(user) => {
            println!("done: user {} (id {})", user.username, user.id);
            ExitCode::SUCCESS
        }
        Err(error) => fail(error),
    }
}

fn check(args: CommonArgs) -> ExitCode {
    let config = match load_config(&args, None) {
        Ok(config) => config,
        Err(error) => return fail(error),
    };
    telemetry::init(config.log_format == LogFormat::Json);
    let path = config.database_path();
    if !path.exists() {
        return fail(format!("no database at {}", path.display()));
    }
    let store = match Store::open(&path, config.storage.cache_mb * 1024 * 1024) {
        Ok(store) => store,
        Err(error) => return fail(format!("{error} (is the server running? stop it first)")),
    };
    let report = store.check(|done, total| {
        if total > 0 {
            eprint!("\rchecking votes: {done}/{total}");
        }
    });
    eprintln!();
    match report {
        Ok(report) => {
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
        Err(error) => fail(error),
    }
}
