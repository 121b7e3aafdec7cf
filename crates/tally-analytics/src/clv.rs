//! Customer lifetime value over a horizon: expected purchases month by month from a BTYD model,
//! times the expected amount per purchase from the Gamma-Gamma model, discounted monthly.
//!
//! This is the computation of `lifetimes`' `customer_lifetime_value`: for each month m = 1..=M,
//! the purchases expected in that month (the conditional expectation up to the end of month m,
//! less up to the end of month m − 1) times the amount, divided by (1 + monthly rate)^m. Months
//! are 30 days or 4.345 weeks ([`TimeUnit::per_month`]), as there.

use crate::error::finite;
use crate::summary::{CustomerSummary, TimeUnit};
use crate::{AnalyticsError, PurchaseModel};

/// The discounted value of a customer's expected purchases over the next `months` months.
///
/// `amount_per_purchase` is usually [`crate::GammaGamma::expected_amount`] for the customer;
/// `unit` is the time unit the model was fitted in; `monthly_discount_rate` ≥ 0 (0.01 = 1% a
/// month).
pub fn customer_lifetime_value(
    model: &impl PurchaseModel,
    summary: &CustomerSummary,
    amount_per_purchase: f64,
    months: u32,
    monthly_discount_rate: f64,
    unit: TimeUnit,
) -> Result<f64, AnalyticsError> {
    if !(amount_per_purchase.is_finite() && amount_per_purchase >= 0.0) {
        return Err(AnalyticsError::invalid(
            "amount_per_purchase",
            format!("must be a finite amount ≥ 0, got {amount_per_purchase}"),
        ));
    }
    if !(monthly_discount_rate.is_finite() && monthly_discount_rate >= 0.0) {
        return Err(AnalyticsError::invalid(
            "monthly_discount_rate",
            format!("must be a finite rate ≥ 0, got {monthly_discount_rate}"),
        ));
    }
    let per_month = unit.per_month();
    let mut value = 0.0;
    let mut before = 0.0;
    for month in 1..=months {
        let cumulative = model.expected_purchases(f64::from(month) * per_month, summary)?;
        value += amount_per_purchase * (cumulative - before)
            / (1.0 + monthly_discount_rate).powi(month as i32);
        before = cumulative;
    }
    finite(value, "the customer lifetime value")
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::BgNbd;

    #[test]
    fn without_discount_the_value_is_purchases_times_amount() {
        let m = BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let s = CustomerSummary::new(2, 30.43, 38.86).unwrap();
        let clv = customer_lifetime_value(&m, &s, 20.0, 12, 0.0, TimeUnit::Weeks).unwrap();
        let purchases = m.expected_purchases(12.0 * 4.345, &s).unwrap();
        assert!(
            (clv - 20.0 * purchases).abs() < 1e-9,
            "{clv} vs {}",
            20.0 * purchases
        );
    }

    #[test]
    fn discounting_lowers_the_value_and_a_longer_horizon_raises_it() {
        let m = BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let s = CustomerSummary::new(2, 30.43, 38.86).unwrap();
        let clv = |months, rate| {
            customer_lifetime_value(&m, &s, 20.0, months, rate, TimeUnit::Weeks).unwrap()
        };
        assert!(clv(12, 0.01) < clv(12, 0.0));
        assert!(clv(24, 0.01) > clv(12, 0.01));
        assert_eq!(clv(0, 0.01), 0.0);
    }

    #[test]
    fn bad_amounts_and_rates_are_refused() {
        let m = BgNbd::new(0.243, 4.414, 0.793, 2.426).unwrap();
        let s = CustomerSummary::new(2, 30.43, 38.86).unwrap();
        assert!(customer_lifetime_value(&m, &s, -1.0, 12, 0.01, TimeUnit::Weeks).is_err());
        assert!(customer_lifetime_value(&m, &s, 1.0, 12, f64::NAN, TimeUnit::Weeks).is_err());
        assert!(customer_lifetime_value(&m, &s, 1.0, 12, -0.5, TimeUnit::Weeks).is_err());
    }
}
