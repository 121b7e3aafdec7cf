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
//! ```

mod ingest;
mod pages;
mod rules;
mod stats;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let flag = |name: &str, default: usize| -> usize {
        args.iter()
            .position(|a| a == name)
            .and_then(|i| args.get(i + 1))
            .and_then(|v| v.parse().ok())
            .unwrap_or(default)
    };
    match args.first().map(String::as_str) {
        Some("ingest") => {
            let options = ingest::Options {
                purchases: flag("--purchases", 20_000),
                import_rows: flag("--import-rows", 100_000),
                clients: flag("--clients", 32),
                members: flag("--members", 2_000),
                backends: args
                    .iter()
                    .position(|a| a == "--backends")
                    .and_then(|i| args.get(i + 1))
                    .cloned()
                    .unwrap_or_else(|| "sqlite,postgres".into()),
                rounds: flag("--rounds", 3),
                only: args
                    .iter()
                    .position(|a| a == "--only")
                    .and_then(|i| args.get(i + 1))
                    .cloned(),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(ingest::run(options));
        }
        Some("rules") => rules::run(rules::Options {
            purchases: flag("--purchases", 200_000),
        }),
        Some("pages") => {
            let options = pages::Options {
                requests: flag("--requests", 200),
                database: args
                    .iter()
                    .position(|a| a == "--database")
                    .and_then(|i| args.get(i + 1))
                    .cloned()
                    .unwrap_or_else(|| "sqlite://tally-bench-demo.db".into()),
            };
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .expect("a runtime");
            runtime.block_on(pages::run(options));
        }
        _ => {
            eprintln!(
                "usage: tally-bench ingest [--purchases N] [--import-rows N] [--clients N] [--members N]\n       tally-bench pages [--requests N] [--database sqlite://FILE]\n       tally-bench rules [--purchases N]"
            );
            std::process::exit(2);
        }
    }
}
