//! The commands of the `tally` binary, as a library so that benchmarks and tests can run the
//! very code the commands run (`main.rs` only parses arguments and dispatches).

pub mod admin;
pub mod app;
pub mod config;
pub mod demo;
pub mod export;
pub mod import;
pub mod operators;
pub mod progress;
pub mod serve;
pub mod smtp_sink;
