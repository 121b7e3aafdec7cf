//! Money is an integer amount of minor units (cents, grosze) plus an ISO 4217 currency.

use serde::{Deserialize, Serialize};

/// ISO 4217 currencies we accept, with their number of minor-unit digits. A short, explicit list
/// beats accepting any three letters: a typo such as `PNL` is refused instead of stored.
const CURRENCIES: &[(&str, u8)] = &[
    ("AED", 2),
    ("AUD", 2),
    ("BGN", 2),
    ("BHD", 3),
    ("BRL", 2),
    ("CAD", 2),
    ("CHF", 2),
    ("CLP", 0),
    ("CNY", 2),
    ("CZK", 2),
    ("DKK", 2),
    ("EUR", 2),
    ("GBP", 2),
    ("HKD", 2),
    ("HUF", 2),
    ("IDR", 2),
    ("ILS", 2),
    ("INR", 2),
    ("ISK", 0),
    ("JPY", 0),
    ("KRW", 0),
    ("KWD", 3),
    ("MXN", 2),
    ("MYR", 2),
    ("NOK", 2),
    ("NZD", 2),
    ("PHP", 2),
    ("PLN", 2),
    ("RON", 2),
    ("RSD", 2),
    ("SAR", 2),
    ("SEK", 2),
    ("SGD", 2),
    ("THB", 2),
    ("TRY", 2),
    ("TWD", 2),
    ("UAH", 2),
    ("USD", 2),
    ("VND", 0),
    ("ZAR", 2),
];

/// An ISO 4217 currency code that Tally knows the minor units of.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Currency {
    code: [u8; 3],
    minor_digits: u8,
}

impl Currency {
    pub fn parse(raw: &str) -> Result<Currency, String> {
        CURRENCIES
            .iter()
            .find(|(code, _)| *code == raw)
            .map(|(code, digits)| Currency {
                code: code
                    .as_bytes()
                    .try_into()
                    .expect("codes have three letters"),
                minor_digits: *digits,
            })
            .ok_or_else(|| format!("`{raw}` is not a supported ISO 4217 currency code"))
    }

    pub fn code(&self) -> &str {
        std::str::from_utf8(&self.code).expect("codes are ASCII")
    }

    /// Digits after the decimal point: 2 for EUR, 0 for JPY.
    pub fn minor_digits(&self) -> u8 {
        self.minor_digits
    }

    /// Minor units in one major unit: 100 for EUR, 1 for JPY.
    pub fn minor_per_major(&self) -> i64 {
        10i64.pow(u32::from(self.minor_digits))
    }
}

impl TryFrom<String> for Currency {
    type Error = String;
    fn try_from(raw: String) -> Result<Self, String> {
        Currency::parse(&raw)
    }
}

impl From<Currency> for String {
    fn from(c: Currency) -> String {
        c.code().to_owned()
    }
}

impl std::fmt::Display for Currency {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.code())
    }
}

/// An amount of money in minor units.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount_minor: i64,
    pub currency: Currency,
}

impl Money {
    /// The largest amount a single purchase may carry (10^13 minor units, 100 billion in major
    /// units): absurd totals are refused instead of risking overflow in points arithmetic.
    pub const MAX_AMOUNT_MINOR: i64 = 10_000_000_000_000;
}

/// Parses a decimal such as `"12.99"` into minor units of `currency`; used by the CSV import.
pub fn parse_decimal_minor(raw: &str, currency: Currency) -> Result<i64, String> {
    let raw = raw.trim();
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    let digits = usize::from(currency.minor_digits());
    let bad = || format!("`{raw}` is not an amount with at most {digits} decimals");
    if whole.is_empty() || !whole.bytes().all(|b| b.is_ascii_digit()) || frac.len() > digits {
        return Err(bad());
    }
    if !frac.bytes().all(|b| b.is_ascii_digit()) {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let frac_value: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    let frac_scaled = frac_value * 10i64.pow((digits - frac.len()) as u32);
    whole
        .checked_mul(currency.minor_per_major())
        .and_then(|w| w.checked_add(frac_scaled))
        .filter(|v| *v <= Money::MAX_AMOUNT_MINOR)
        .ok_or_else(bad)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn known_currencies_have_their_minor_units() {
        assert_eq!(Currency::parse("PLN").unwrap().minor_per_major(), 100);
        assert_eq!(Currency::parse("JPY").unwrap().minor_per_major(), 1);
        assert_eq!(Currency::parse("KWD").unwrap().minor_per_major(), 1000);
        assert!(Currency::parse("PNL").is_err());
        assert!(Currency::parse("usd").is_err());
    }

    #[test]
    fn decimals_become_minor_units() {
        let usd = Currency::parse("USD").unwrap();
        assert_eq!(parse_decimal_minor("11.77", usd), Ok(1177));
        assert_eq!(parse_decimal_minor("12", usd), Ok(1200));
        assert_eq!(parse_decimal_minor("0.5", usd), Ok(50));
        assert!(parse_decimal_minor("1.234", usd).is_err());
        assert!(parse_decimal_minor("-1", usd).is_err());
        assert!(parse_decimal_minor("abc", usd).is_err());
    }
}
