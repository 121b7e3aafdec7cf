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

/// Bounds on the log-parameters searched (e^±20).
const LOG_PARAM_LIMIT: f64 = 20.0;

/// A fitted parameter beyond e^±13 (below 2.3e-6 or above 4.4e5) is running off to 0 or ∞: the
/// data cannot identify the model (for example nobody ever came back, or a single customer).
/// Real purchase data in days or weeks gives parameters well inside (CDNOW: 0.24 … 12 in weeks).
const LOG_PARAM_DEGENERATE: f64 = 13.0;

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
            // Beyond the limit the data cannot tell values apart, and evaluating there is slow
            // (series near their radius of convergence): keep the search inside.
            if log_params.iter().any(|p| p.abs() > LOG_PARAM_LIMIT) {
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
                "the search did not settle on an optimum ({} likelihood evaluations)",
                minimum.evaluations
            ),
        });
    }
    if let Some(p) = minimum
        .point
        .iter()
        .find(|p| p.abs() > LOG_PARAM_DEGENERATE)
    {
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
