//! `tally-bench`: benchmarks that run Tally and a named baseline in the same run and print the
//! ratio. Absolute numbers mean little on a shared machine; the ratio is the result.
//!
//! ```sh
//! cargo run --release -p tally-bench -- ingest                       # SQLite
//! TALLY_BENCH_POSTGRES_URL=postgres://postgres@127.0.0.1/postgres \
//!   cargo run --release -p tally-bench -- ingest                     # and PostgreSQL
//! cargo run --release -p tally-bench -- ingest --only rules --backends sqlite  # to profile
//! cargo run --release -p tally-bench -- pages                        # console pages, demo data
//! cargo run --release -p tally-bench -- rules                        # rule evaluation, one core
//! cargo run --release -p tally-bench -- segments                     # segment updates per purchase
//! cargo run --release -p tally-bench -- rfm                          # RFM + segments, 10M purchases
//! cargo run --release -p tally-bench -- vouchers                     # 1M codes; validation at 1,000/s
//! cargo run --release -p tally-bench -- messages                     # emails/s; purchase → email
//! ```

mod ingest;
mod loopback;
mod messages;
mod pages;
mod rfm;
mod rules;
mod segments;
mod stats;
mod vouchers;

/// The allocator of the `tally` binary (see its `main.rs`), so the figures are the product's.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Runs an async benchmark on a multi-threaded runtime.
fn block_on(benchmark: impl std::future::Future<Output = ()>) {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("a runtime")
        .block_on(benchmark);
}

fn main() {
    // Tally's own logs (a write that failed, say), to stderr, when asked for.
    if std::env::var("RUST_LOG").is_ok() {
        tally_cli::app::init_logging(&tally_cli::config::Config::default());
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let text = |name: &str| -> Option<String> {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .cloned()
    };
    let flag = |name: &str, default: usize| -> usize {
        text(name).and_then(|v| v.parse().ok()).unwrap_or(default)
    };
    let backends = || text("--backends").unwrap_or_else(|| "sqlite,postgres".into());
    match args.first().map(String::as_str) {
        Some("ingest") => block_on(ingest::run(ingest::Options {
            purchases: flag("--purchases", 20_000),
            import_rows: flag("--import-rows", 100_000),
            clients: flag("--clients", 32),
            members: flag("--members", 2_000),
            backends: backends(),
            rounds: flag("--rounds", 3),
            only: text("--only"),
        })),
        Some("segments") => block_on(segments::run(segments::Options {
            members: flag("--members", 10_000),
            history: flag("--history", 10),
            purchases: flag("--purchases", 500),
            backends: backends(),
        })),
        Some("rfm") => rfm::run(rfm::Options {
            members: flag("--members", 1_000_000),
            purchases: flag("--purchases", 10_000_000),
            runs: flag("--runs", 3),
            out: text("--out").map(Into::into),
        }),
        Some("messages") => block_on(messages::run(messages::Options {
            emails: flag("--emails", 10_000),
            purchases: flag("--purchases", 200),
            campaign_members: flag("--campaign-members", 1_000_000),
            backends: backends(),
        })),
        Some("vouchers") => block_on(vouchers::run(vouchers::Options {
            codes: flag("--codes", 1_000_000),
            rate: flag("--rate", 1_000),
            seconds: flag("--seconds", 10),
            backends: backends(),
        })),
        Some("rules") => rules::run(rules::Options {
            purchases: flag("--purchases", 200_000),
        }),
        Some("pages") => block_on(pages::run(pages::Options {
            requests: flag("--requests", 200),
            database: text("--database").unwrap_or_else(|| "sqlite://tally-bench-demo.db".into()),
        })),
        _ => {
            eprintln!(
                "usage: tally-bench ingest [--purchases N] [--import-rows N] [--clients N] [--members N]\n       tally-bench pages [--requests N] [--database sqlite://FILE]\n       tally-bench rules [--purchases N]\n       tally-bench segments [--members N] [--history N] [--purchases N] [--backends sqlite,postgres]\n       tally-bench rfm [--members N] [--purchases N] [--runs N] [--out DIR]\n       tally-bench vouchers [--codes N] [--rate N] [--seconds N] [--backends sqlite,postgres]\n       tally-bench messages [--emails N] [--purchases N] [--campaign-members N] [--backends sqlite,postgres]"
            );
            std::process::exit(2);
        }
    }
}
