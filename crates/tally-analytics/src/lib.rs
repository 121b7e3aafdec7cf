//! Customer intelligence for Tally: who are the best customers, who is drifting away, what is a
//! customer worth, and when to reach them. Pure functions over plain rows; no IO, no clock
//! (every function takes the day it computes "as of").
//!
//! - [`summary`]: from a purchase log to per-customer `(x, t_x, T)` summaries, compressed.
//! - [`rfm`]: recency, frequency, monetary scores 1–5 and the classic named segments.
//! - [`bgnbd`], [`pareto_nbd`]: buy-till-you-die models of the purchase rhythm — P(alive) and
//!   expected purchases. [`gamma_gamma`]: the expected amount per purchase. [`clv`]: the two
//!   combined into a discounted customer lifetime value.
//! - [`holdout`]: fit on a calibration period, compare predictions with a holdout period.
//! - [`lifecycle`]: new / active / at risk / lapsed / lost from a member's own rhythm, and VIPs.
//! - [`send_time`]: the hour of the week a member is most likely to engage.
//! - [`explain`]: a member's numbers in a plain English sentence.
//! - [`recommend`]: next-best products from implicit feedback — item-to-item co-occurrence and
//!   implicit-feedback ALS, with the shared rules (bought items left out unless they are repeat
//!   items, popularity in the customer's segment for a cold start) and offline evaluation.
//!
//! Numbers are `f64`: this is statistics, not the ledger. Every public function checks its input
//! and answers an [`AnalyticsError`] rather than panicking or returning a NaN.

pub mod bgnbd;
pub mod by_customer;
pub mod clv;
mod error;
pub mod explain;
pub mod fit;
pub mod gamma_gamma;
pub mod holdout;
pub mod lifecycle;
mod optimize;
pub mod pareto_nbd;
pub mod profile;
pub mod recommend;
pub mod rfm;
pub mod send_time;
pub mod special;
pub mod summary;
pub mod uplift;

pub use bgnbd::BgNbd;
pub use by_customer::ByCustomer;
pub use clv::customer_lifetime_value;
pub use error::AnalyticsError;
pub use fit::Fit;
pub use gamma_gamma::{GammaGamma, MonetaryRow};
pub use pareto_nbd::ParetoNbd;
pub use summary::{
    Compressed, CustomerRow, CustomerSummary, Purchase, TimeUnit, day_number, summarize,
};

/// What a fitted buy-till-you-die model (BG/NBD, Pareto/NBD) answers about one customer.
pub trait PurchaseModel {
    /// The model's name, for reports.
    fn name(&self) -> &'static str;

    /// The probability that the customer is still "alive" (has not silently left) at the end of
    /// their observation, given their summary.
    fn p_alive(&self, summary: &CustomerSummary) -> Result<f64, AnalyticsError>;

    /// The number of purchases to expect from the customer in the next `horizon_periods`
    /// periods (in the unit the model was fitted in), given their summary.
    fn expected_purchases(
        &self,
        horizon_periods: f64,
        summary: &CustomerSummary,
    ) -> Result<f64, AnalyticsError>;
}
