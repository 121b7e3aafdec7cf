//! What every model fit returns, and the shared fitting harness: log-parameters, a start, the
//! optimiser, and the checks that turn a degenerate optimum into an error.

use crate::AnalyticsError;
use crate::optimize::{self, Options};

/// A fitted model with how well it fits.
#[derive(Clone, Debug, PartialEq)]
pub struct Fit<M> {
    /// The maximum-likelihood parameters.
    pub model: M,
    /// The log-likelihood of the data at those parameters (the sum over customers).
    pub log_likelihood: f64,
    /// The customers the model was fitted on.
    pub customers: usize,
    /// Distinct rows the likelihood was evaluated on (after compression).
    pub distinct_rows: usize,
    /// Likelihood evaluations the optimiser used.
    pub evaluations: usize,
}

/// Bounds on the fitted log-parameters: beyond them a parameter has run off to 0 or ∞, which
/// means the data cannot identify the model (for example nobody ever came back).
const LOG_PARAM_LIMIT: f64 = 25.0;

/// Maximise `log_likelihood` over positive parameters, searching over their logarithms.
pub(crate) fn maximize(
    model: &'static str,
    start: &[f64],
    mut log_likelihood: impl FnMut(&[f64]) -> f64,
) -> Result<(Vec<f64>, f64, usize), AnalyticsError> {
    let log_start: Vec<f64> = start.iter().map(|p| p.ln()).collect();
    let mut params = vec![0.0; start.len()];
    let minimum = optimize::minimize(
        |log_params: &[f64]| {
            if log_params.iter().any(|p| p.abs() > LOG_PARAM_LIMIT + 5.0) {
                return f64::INFINITY;
            }
            for (p, l) in params.iter_mut().zip(log_params) {
                *p = l.exp();
            }
            -log_likelihood(&params)
        },
        &log_start,
        Options::default(),
    );
    if !minimum.value.is_finite() {
        return Err(AnalyticsError::NotConverged {
            model,
            reason: "the likelihood could not be evaluated anywhere the search went".into(),
        });
    }
    if !minimum.converged {
        return Err(AnalyticsError::NotConverged {
            model,
            reason: format!(
                "no optimum within {} likelihood evaluations",
                minimum.evaluations
            ),
        });
    }
    if let Some(p) = minimum.point.iter().find(|p| p.abs() > LOG_PARAM_LIMIT) {
        return Err(AnalyticsError::NotConverged {
            model,
            reason: format!(
                "a parameter ran off to {} (the data cannot identify the model)",
                if *p > 0.0 { "infinity" } else { "zero" }
            ),
        });
    }
    let params = minimum.point.iter().map(|l| l.exp()).collect();
    Ok((params, -minimum.value, minimum.evaluations))
}
