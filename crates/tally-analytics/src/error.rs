//! The one error type of the crate.
//!
//! Policy: every public function validates its input and answers `Err(AnalyticsError)` instead of
//! panicking or returning a NaN. `InvalidInput` names the field and what is wrong with it, so a
//! caller can show it to an operator as is; `NotConverged` means the input was valid but a fit
//! (or a series) did not reach its tolerance, which a caller should report, not retry blindly.

use std::fmt;

/// What went wrong in an analytics computation.
#[derive(Clone, Debug, PartialEq)]
pub enum AnalyticsError {
    /// There is nothing to compute on (no purchases, no customers, no repeat buyers).
    Empty {
        /// What was empty, e.g. "purchases".
        what: &'static str,
    },
    /// An input value is out of its domain.
    InvalidInput {
        /// The field, e.g. "first_to_last_periods".
        field: &'static str,
        /// What is wrong and what is allowed.
        reason: String,
    },
    /// A maximum-likelihood fit did not converge, or converged to a degenerate boundary
    /// (a parameter running off to zero or infinity).
    NotConverged {
        /// The model, e.g. "BG/NBD".
        model: &'static str,
        /// Why, in words.
        reason: String,
    },
    /// A computation produced a non-finite number for valid input (for example a series that
    /// did not converge within its term limit).
    Numerical {
        /// What was being computed.
        what: &'static str,
    },
}

impl AnalyticsError {
    pub(crate) fn invalid(field: &'static str, reason: impl Into<String>) -> Self {
        AnalyticsError::InvalidInput {
            field,
            reason: reason.into(),
        }
    }
}

impl fmt::Display for AnalyticsError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AnalyticsError::Empty { what } => write!(f, "no {what} to analyse"),
            AnalyticsError::InvalidInput { field, reason } => {
                write!(f, "invalid {field}: {reason}")
            }
            AnalyticsError::NotConverged { model, reason } => {
                write!(f, "the {model} fit did not converge: {reason}")
            }
            AnalyticsError::Numerical { what } => {
                write!(f, "numerical failure while computing {what}")
            }
        }
    }
}

impl std::error::Error for AnalyticsError {}

/// Turn a non-finite result into an error.
pub(crate) fn finite(value: f64, what: &'static str) -> Result<f64, AnalyticsError> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(AnalyticsError::Numerical { what })
    }
}
