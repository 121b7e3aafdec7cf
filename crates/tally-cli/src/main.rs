//! `tally`: the single binary. Picks the storage backend from the database URL once, here, and
//! hands everything else a statically dispatched `AnyDb`.

use tally_cli::{admin, app, config, demo, export, import, operators, serve, smtp_sink};

use clap::{Parser, Subcommand};
use std::path::PathBuf;
use std::process::ExitCode;

/// mimalloc instead of the system's allocator: a purchase allocates and frees many small
/// strings and JSON values, and glibc's malloc took a fifth of the writer thread's time
/// (SQLite's own allocations still go to the system's).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[derive(Parser)]
#[command(
    name = "tally",
    version,
    about = "Tally: a self-hosted loyalty and customer-engagement engine"
)]
struct Cli {
    /// Configuration file (default: ./tally.toml if present).
    #[arg(long, global = true)]
    config: Option<PathBuf>,
    /// Database URL: sqlite://tally.db or postgres://user:password@host/db.
    #[arg(long, global = true, env = "TALLY_DATABASE_URL")]
    database: Option<String>,
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the HTTP server.
    Serve {
        /// Address to listen on, e.g. 127.0.0.1:8080.
        #[arg(long)]
        listen: Option<String>,
    },
    /// Create or update the database schema.
    Migrate,
    /// Build a demo music shop from the real CDNOW purchase log, then serve it.
    Demo {
        /// Where the demo database goes.
        #[arg(long, default_value = "sqlite://tally-demo.db")]
        database: String,
        #[arg(long, default_value = "127.0.0.1:8080")]
        listen: String,
        /// Build the demo and exit without serving.
        #[arg(long)]
        no_serve: bool,
        /// Rebuild even if a complete demo database exists.
        #[arg(long)]
        fresh: bool,
    },
    /// Manage tenants (merchants or coalition operators).
    #[command(subcommand)]
    Tenants(admin::TenantCommand),
    /// Manage API keys.
    #[command(subcommand)]
    Keys(admin::KeyCommand),
    /// Manage programs.
    #[command(subcommand)]
    Programs(admin::ProgramCommand),
    /// Manage console operators (owners, managers, cashiers).
    #[command(subcommand)]
    Operators(operators::OperatorCommand),
    /// Import data from CSV.
    #[command(subcommand)]
    Import(import::ImportCommand),
    /// Export members or the ledger as CSV.
    #[command(subcommand)]
    Export(export::ExportCommand),
    /// Configuration helpers.
    #[command(subcommand)]
    Config(ConfigCommand),
    /// Development: an SMTP server that writes every message it gets to a file (JSON lines).
    SmtpSink {
        #[arg(long, default_value = "127.0.0.1:2525")]
        listen: String,
        #[arg(long, default_value = "tally-mail.jsonl")]
        out: String,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Print a documented default configuration file.
    Default,
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if let Command::Config(ConfigCommand::Default) = cli.command {
        print!("{}", config::DEFAULT_FILE);
        return ExitCode::SUCCESS;
    }
    let mut config = match config::Config::load(cli.config.as_deref()) {
        Ok(config) => config,
        Err(e) => {
            eprintln!("error: {e}");
            return ExitCode::from(2);
        }
    };
    if let Some(database) = cli.database {
        config.database_url = database;
    }
    app::init_logging(&config);
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let result = runtime.block_on(async move {
        match cli.command {
            Command::Serve { listen } => {
                if let Some(listen) = listen {
                    config.listen = listen;
                }
                serve::run(&config).await
            }
            Command::Migrate => app::open(&config.database_url)
                .await
                .map(|_| println!("the database schema is up to date")),
            Command::Demo {
                database,
                listen,
                no_serve,
                fresh,
            } => demo::run(&database, &listen, no_serve, fresh).await,
            Command::Tenants(c) => admin::tenants(&config, c).await,
            Command::Keys(c) => admin::keys(&config, c).await,
            Command::Programs(c) => admin::programs(&config, c).await,
            Command::Operators(c) => operators::run(&config, c).await,
            Command::Import(c) => import::run(&config, c).await,
            Command::Export(c) => export::run(&config, c).await,
            Command::Config(ConfigCommand::Default) => unreachable!("handled before start-up"),
            Command::SmtpSink { listen, out } => smtp_sink::run(&listen, &out).await,
        }
    });
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
