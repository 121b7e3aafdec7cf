//! The models against the CDNOW data and published values.

mod cdnow_holdout;
mod cdnow_published;
