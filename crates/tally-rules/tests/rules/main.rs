//! The rule language: parsing, evaluation, golden templates, agreement with GoRules and the docs.

mod agreement;
mod docs;
mod eval;
mod events;
mod golden;
mod parse;
