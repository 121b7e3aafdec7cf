//! The `tally` command line: imports through the library, and the binary itself as an operator
//! runs it.

mod commands;
mod import;
