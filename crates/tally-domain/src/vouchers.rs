//! Voucher codes: pools of unique, single-use codes that take money off a basket.
//!
//! A pool holds the terms (the discount, a minimum basket, the categories it applies to, a
//! validity window); its codes are generated here (random, from an alphabet without look-alike
//! characters) or imported. A code is checked against a basket before it is taken
//! ([`Terms::discount_for`]): the answer is the discount in minor units or why not.
//!
//! Codes are compared in a canonical form: upper case, without spaces and hyphens, so
//! `spring-7kq4-…` typed at a till finds `SPRING-7KQ4-…`.

use crate::Timestamp;
use crate::error::{DomainError, Fields};
use crate::inputs::{LineInput, MemberRef, Obj, identifier, int, parse_lines, text, timestamp};
use crate::money::Money;
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Characters of generated codes: no 0/O, 1/I/L look-alikes (31 characters, 4.95 bits each).
pub const CODE_ALPHABET: &[u8] = b"23456789ABCDEFGHJKMNPQRSTUVWXYZ";
/// Random characters in a generated code: 13 × 4.95 = 64 bits, so guessing one of a million
/// codes takes about 2^44 tries.
pub const CODE_RANDOM_CHARS: usize = 13;
/// The longest prefix an operator may put before generated codes.
pub const MAX_PREFIX_CHARS: usize = 12;
/// Most codes generated in one request (one transaction).
pub const MAX_CODES_PER_REQUEST: usize = 1_000_000;
/// Most codes imported in one request (a request body is at most 256 KiB anyway).
pub const MAX_IMPORTED_PER_REQUEST: usize = 10_000;
/// Lengths an imported code may have (canonical form).
pub const IMPORTED_CODE_CHARS: std::ops::RangeInclusive<usize> = 4..=40;

/// Guessing does not pay: after this many failed look-ups (unknown codes, or another member's)
/// by one API key, member or client address within [`FAILURE_WINDOW_SECONDS`], further
/// look-ups from it are refused until the window ends.
pub const MAX_FAILURES: i64 = 10;
pub const FAILURE_WINDOW_SECONDS: i64 = 15 * 60;

/// How much a code takes off.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Discount {
    /// A fixed amount, never more than the eligible part of the basket.
    Amount { amount_minor: i64 },
    /// A percentage of the eligible part, rounded down to the minor unit, at most `max_minor`.
    Percent {
        percent: i64,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        max_minor: Option<i64>,
    },
}

/// What a code of a pool gives, and when.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Terms {
    pub discount: Discount,
    /// The eligible part of the basket must reach this.
    #[serde(default)]
    pub min_basket_minor: i64,
    /// Only lines of these categories are eligible; empty: the whole basket.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub categories: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_from: Option<Timestamp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub valid_until: Option<Timestamp>,
}

/// A basket a code is checked against: its total and, when categories matter, its lines.
#[derive(Clone, Debug, PartialEq)]
pub struct Basket {
    pub total: Money,
    pub lines: Vec<LineInput>,
}

impl Basket {
    /// `{"total": {"amount_minor", "currency"}, "lines": [...]}` (lines as in a purchase).
    pub(crate) fn parse(o: &Obj<'_>, f: &mut Fields) -> Option<Basket> {
        o.only(f, &["total", "lines"]);
        let total = o.obj(f, "total", true).and_then(|t| {
            t.only(f, &["amount_minor", "currency"]);
            let amount_minor = t.req(f, "amount_minor", int(0, Money::MAX_AMOUNT_MINOR));
            let currency = t.req(f, "currency", crate::inputs::currency);
            Some(Money {
                amount_minor: amount_minor?,
                currency: currency?,
            })
        });
        let lines = parse_lines(o, f);
        Some(Basket {
            total: total?,
            lines,
        })
    }
}

impl Terms {
    /// The discount this basket gets at `now`, or why it gets none (a refusal naming the rule).
    pub fn discount_for(&self, basket: &Basket, now: Timestamp) -> Result<i64, DomainError> {
        if self.valid_from.is_some_and(|from| now < from) {
            return Err(DomainError::refused(
                "voucher_not_yet_valid",
                format!(
                    "this code is valid from {}",
                    self.valid_from.expect("checked")
                ),
            ));
        }
        if self.valid_until.is_some_and(|until| now >= until) {
            return Err(DomainError::refused(
                "voucher_expired",
                format!(
                    "this code expired at {}",
                    self.valid_until.expect("checked")
                ),
            ));
        }
        let eligible = if self.categories.is_empty() {
            basket.total.amount_minor
        } else {
            let in_categories: i64 = basket
                .lines
                .iter()
                .filter(|l| {
                    l.category
                        .as_ref()
                        .is_some_and(|c| self.categories.contains(c))
                })
                .map(|l| l.quantity * l.unit_price_minor)
                .sum();
            // Lines may not add up to the total (a discount already applied): never more.
            in_categories.min(basket.total.amount_minor)
        };
        if eligible == 0 && !self.categories.is_empty() {
            return Err(DomainError::refused(
                "voucher_not_applicable",
                format!(
                    "this code applies only to {} and the basket has none",
                    self.categories.join(", ")
                ),
            ));
        }
        if eligible < self.min_basket_minor {
            return Err(DomainError::refused(
                "voucher_basket_too_small",
                format!(
                    "this code needs a basket of at least {} (minor units){}, this one has {}",
                    self.min_basket_minor,
                    if self.categories.is_empty() {
                        String::new()
                    } else {
                        format!(" in {}", self.categories.join(", "))
                    },
                    eligible
                ),
            ));
        }
        Ok(match self.discount {
            Discount::Amount { amount_minor } => amount_minor.min(eligible),
            Discount::Percent { percent, max_minor } => {
                let off = (i128::from(eligible) * i128::from(percent) / 100) as i64;
                max_minor.map_or(off, |max| off.min(max))
            }
        })
    }
}

/// A new pool as an operator writes it.
#[derive(Clone, Debug, PartialEq)]
pub struct PoolInput {
    pub name: String,
    pub description: Option<String>,
    pub terms: Terms,
    /// Put before generated codes (canonical: upper-case letters and digits).
    pub prefix: String,
}

impl PoolInput {
    pub fn parse(body: &Value) -> Result<PoolInput, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "name",
                "description",
                "discount",
                "min_basket_minor",
                "categories",
                "valid_from",
                "valid_until",
                "prefix",
            ],
        );
        let name = o.req(&mut f, "name", text(200));
        let description = o.opt(&mut f, "description", text(2000));
        let discount = o.obj(&mut f, "discount", true).and_then(|d| {
            let kind = d.req(&mut f, "kind", |v| match v.as_str() {
                Some(k @ ("amount" | "percent")) => Ok(k.to_owned()),
                _ => Err("must be \"amount\" or \"percent\"".to_owned()),
            })?;
            if kind == "amount" {
                d.only(&mut f, &["kind", "amount_minor"]);
                let amount_minor = d.req(&mut f, "amount_minor", int(1, Money::MAX_AMOUNT_MINOR));
                Some(Discount::Amount {
                    amount_minor: amount_minor?,
                })
            } else {
                d.only(&mut f, &["kind", "percent", "max_minor"]);
                let percent = d.req(&mut f, "percent", int(1, 100));
                let max_minor = d.opt(&mut f, "max_minor", int(1, Money::MAX_AMOUNT_MINOR));
                Some(Discount::Percent {
                    percent: percent?,
                    max_minor,
                })
            }
        });
        let min_basket_minor = o
            .opt(&mut f, "min_basket_minor", int(0, Money::MAX_AMOUNT_MINOR))
            .unwrap_or(0);
        let categories = o
            .opt(&mut f, "categories", |v| {
                let items = v.as_array().ok_or("must be a list of categories")?;
                if items.len() > 100 {
                    return Err("at most 100 categories".to_owned());
                }
                items.iter().map(identifier).collect::<Result<Vec<_>, _>>()
            })
            .unwrap_or_default();
        let valid_from = o.opt(&mut f, "valid_from", timestamp);
        let valid_until = o.opt(&mut f, "valid_until", timestamp);
        if let (Some(from), Some(until)) = (valid_from, valid_until)
            && until <= from
        {
            f.push("/valid_until", "must be after valid_from");
        }
        let prefix = o
            .opt(&mut f, "prefix", |v| {
                let raw = crate::inputs::string(v)?;
                let canonical = canonical_code(raw);
                if canonical.len() > MAX_PREFIX_CHARS
                    || !canonical.bytes().all(|b| b.is_ascii_alphanumeric())
                {
                    return Err(format!(
                        "must be at most {MAX_PREFIX_CHARS} letters and digits"
                    ));
                }
                Ok(canonical)
            })
            .unwrap_or_default();
        f.finish()?;
        Ok(PoolInput {
            name: name.expect("checked"),
            description,
            terms: Terms {
                discount: discount.expect("checked"),
                min_basket_minor,
                categories,
                valid_from,
                valid_until,
            },
            prefix,
        })
    }
}

/// A code checked against a basket (`validate`), or taken for an order (`redeem`, with the
/// order id). The member is optional: a personal code needs its owner.
#[derive(Clone, Debug, PartialEq)]
pub struct VoucherUse {
    /// Canonical.
    pub code: String,
    pub basket: Basket,
    pub member: Option<MemberRef>,
    pub order_id: Option<String>,
}

impl VoucherUse {
    /// `{"code", "basket", "member"?}`, plus `"order_id"` when `for_order`.
    pub fn parse(body: &Value, for_order: bool) -> Result<VoucherUse, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        if for_order {
            o.only(&mut f, &["code", "basket", "member", "order_id"]);
        } else {
            o.only(&mut f, &["code", "basket", "member"]);
        }
        let code = o.req(&mut f, "code", code_field);
        let basket = o
            .obj(&mut f, "basket", true)
            .and_then(|b| Basket::parse(&b, &mut f));
        let member = o
            .obj(&mut f, "member", false)
            .and_then(|m| MemberRef::parse(&m, &mut f));
        let order_id = for_order
            .then(|| o.req(&mut f, "order_id", identifier))
            .flatten();
        f.finish()?;
        Ok(VoucherUse {
            code: code.expect("checked"),
            basket: basket.expect("checked"),
            member,
            order_id,
        })
    }
}

/// A code given back when its order is cancelled: `{"code", "order_id"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct VoucherRelease {
    pub code: String,
    pub order_id: String,
}

impl VoucherRelease {
    pub fn parse(body: &Value) -> Result<VoucherRelease, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["code", "order_id"]);
        let code = o.req(&mut f, "code", code_field);
        let order_id = o.req(&mut f, "order_id", identifier);
        f.finish()?;
        Ok(VoucherRelease {
            code: code.expect("checked"),
            order_id: order_id.expect("checked"),
        })
    }
}

/// Codes to add to a pool: `{"generate": N}`, `{"codes": ["…", …]}` or `{"csv": "…"}`.
#[derive(Clone, Debug, PartialEq)]
pub enum NewCodes {
    Generate(usize),
    /// As given; checked by [`check_imported`] when written, so every bad row is reported.
    Import(Vec<String>),
}

impl NewCodes {
    pub fn parse(body: &Value) -> Result<NewCodes, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["generate", "codes", "csv"]);
        let given = ["generate", "codes", "csv"]
            .iter()
            .filter(|k| o.has(k))
            .count();
        if given != 1 {
            return Err(DomainError::invalid(
                "",
                "give exactly one of generate, codes and csv",
            ));
        }
        let generate = o.opt(&mut f, "generate", int(1, MAX_CODES_PER_REQUEST as i64));
        let limit = MAX_IMPORTED_PER_REQUEST;
        let codes = o.opt(&mut f, "codes", |v| {
            let items = v.as_array().ok_or("must be a list of codes")?;
            if items.len() > limit {
                return Err(format!("at most {limit} codes at a time"));
            }
            items
                .iter()
                .map(|c| crate::inputs::string(c).map(str::to_owned))
                .collect()
        });
        let csv = o.opt(&mut f, "csv", |v| {
            let rows = codes_from_csv(crate::inputs::string(v)?);
            if rows.len() > limit {
                return Err(format!("at most {limit} codes at a time"));
            }
            Ok(rows)
        });
        f.finish()?;
        Ok(match (generate, codes.or(csv)) {
            (Some(n), _) => NewCodes::Generate(n as usize),
            (None, Some(codes)) => NewCodes::Import(codes),
            (None, None) => unreachable!("exactly one was given and parsed"),
        })
    }
}

/// A change to a pool; `None` leaves a field as it is (`Some(None)` clears a date).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct PoolPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub status: Option<String>,
    pub valid_from: Option<Option<Timestamp>>,
    pub valid_until: Option<Option<Timestamp>>,
}

impl PoolPatch {
    pub fn parse(body: &Value) -> Result<PoolPatch, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &["name", "description", "status", "valid_from", "valid_until"],
        );
        let patch = PoolPatch {
            name: o.opt(&mut f, "name", text(200)),
            description: o.patch(&mut f, "description", text(2000)),
            status: o.opt(&mut f, "status", |v| match v.as_str() {
                Some(s @ ("active" | "archived")) => Ok(s.to_owned()),
                _ => Err("must be \"active\" or \"archived\"".to_owned()),
            }),
            valid_from: o.patch(&mut f, "valid_from", timestamp),
            valid_until: o.patch(&mut f, "valid_until", timestamp),
        };
        f.finish()?;
        Ok(patch)
    }
}

/// A code field: canonical, letters and digits, of a length a code can have.
fn code_field(v: &Value) -> Result<String, String> {
    let canonical = canonical_code(crate::inputs::string(v)?);
    if canonical.is_empty() || canonical.len() > MAX_PREFIX_CHARS + 40 {
        return Err("must be a voucher code".to_owned());
    }
    Ok(canonical)
}

/// A code as it is compared: upper case, spaces and hyphens removed.
pub fn canonical_code(raw: &str) -> String {
    raw.chars()
        .filter(|c| !matches!(c, ' ' | '-'))
        .flat_map(char::to_uppercase)
        .collect()
}

/// A new random code: the prefix, then [`CODE_RANDOM_CHARS`] characters of [`CODE_ALPHABET`]
/// from the operating system's CSPRNG. Returns `(canonical, shown)`, e.g.
/// `("SPRING7KQ4M2XP9TRC", "SPRING-7KQ4-M2XP-9TRCW")`.
pub fn generate_code(prefix: &str) -> (String, String) {
    use rand::Rng;
    let mut rng = rand::rng();
    let body: String = (0..CODE_RANDOM_CHARS)
        .map(|_| char::from(CODE_ALPHABET[rng.random_range(0..CODE_ALPHABET.len())]))
        .collect();
    let groups = [&body[..4], &body[4..8], &body[8..]];
    let shown = if prefix.is_empty() {
        groups.join("-")
    } else {
        format!("{prefix}-{}", groups.join("-"))
    };
    (format!("{prefix}{body}"), shown)
}

/// Imported codes, checked: each canonical, of letters and digits, of a sensible length, and
/// once; one problem per offending row.
/// A bad row of an import: its row (from 1), the code as given, and what is wrong.
#[derive(Clone, Debug, PartialEq)]
pub struct ImportProblem {
    pub row: usize,
    pub given: String,
    pub problem: String,
}

/// Codes `(canonical, as given)` ready to insert, and the rows that are not.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct CheckedImport {
    pub codes: Vec<(String, String)>,
    pub problems: Vec<ImportProblem>,
}

pub fn check_imported(raw: &[String]) -> CheckedImport {
    let mut seen = std::collections::HashSet::with_capacity(raw.len());
    let mut codes = Vec::with_capacity(raw.len());
    let mut problems = Vec::new();
    for (i, given) in raw.iter().enumerate() {
        let canonical = canonical_code(given);
        let problem = if given.chars().any(char::is_control) {
            Some("may hold only letters, digits, spaces and hyphens".to_owned())
        } else if !IMPORTED_CODE_CHARS.contains(&canonical.len()) {
            Some(format!(
                "must have {} to {} letters and digits",
                IMPORTED_CODE_CHARS.start(),
                IMPORTED_CODE_CHARS.end()
            ))
        } else if !canonical.bytes().all(|b| b.is_ascii_alphanumeric()) {
            Some("may hold only letters, digits, spaces and hyphens".to_owned())
        } else if !seen.insert(canonical.clone()) {
            Some("appears more than once in the upload".to_owned())
        } else {
            None
        };
        match problem {
            Some(problem) => problems.push(ImportProblem {
                row: i + 1,
                given: given.clone(),
                problem,
            }),
            None => codes.push((canonical, given.trim().to_owned())),
        }
    }
    CheckedImport { codes, problems }
}

/// Reads codes from CSV text: the first column of each non-empty row; a first row `code` (any
/// case) is a header.
pub fn codes_from_csv(csv: &str) -> Vec<String> {
    let mut rows = csv
        .lines()
        .map(|l| {
            l.split([',', ';'])
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"')
        })
        .filter(|l| !l.is_empty())
        .peekable();
    if rows.peek().is_some_and(|h| h.eq_ignore_ascii_case("code")) {
        rows.next();
    }
    rows.map(str::to_owned).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::money::Currency;
    use serde_json::json;

    fn basket(total: i64, lines: &[(&str, i64)]) -> Basket {
        Basket {
            total: Money {
                amount_minor: total,
                currency: Currency::parse("EUR").unwrap(),
            },
            lines: lines
                .iter()
                .enumerate()
                .map(|(i, (category, price))| LineInput {
                    sku: format!("sku-{i}"),
                    name: None,
                    category: Some((*category).to_owned()),
                    brand: None,
                    quantity: 1,
                    unit_price_minor: *price,
                })
                .collect(),
        }
    }

    fn terms(body: Value) -> Terms {
        PoolInput::parse(&body).unwrap().terms
    }

    fn now() -> Timestamp {
        "2026-06-01T12:00:00Z".parse().unwrap()
    }

    #[test]
    fn a_fixed_amount_never_exceeds_the_basket() {
        let t =
            terms(json!({"name": "5 off", "discount": {"kind": "amount", "amount_minor": 500}}));
        assert_eq!(t.discount_for(&basket(2000, &[]), now()).unwrap(), 500);
        assert_eq!(t.discount_for(&basket(300, &[]), now()).unwrap(), 300);
    }

    #[test]
    fn a_percentage_is_of_the_eligible_lines_rounded_down_and_capped() {
        let t = terms(json!({
            "name": "15% off shoes",
            "discount": {"kind": "percent", "percent": 15, "max_minor": 2000},
            "categories": ["shoes"]
        }));
        // 15 % of 9,999 = 1,499.85 → 1,499; the shirt is not eligible.
        let b = basket(12_999, &[("shoes", 9_999), ("shirts", 3_000)]);
        assert_eq!(t.discount_for(&b, now()).unwrap(), 1_499);
        // 15 % of 20,000 = 3,000, capped at 2,000.
        let b = basket(20_000, &[("shoes", 20_000)]);
        assert_eq!(t.discount_for(&b, now()).unwrap(), 2_000);
        let err = t
            .discount_for(&basket(3_000, &[("shirts", 3_000)]), now())
            .unwrap_err();
        assert!(
            matches!(&err, DomainError::Refused { code, .. } if code == "voucher_not_applicable"),
            "{err}"
        );
    }

    #[test]
    fn the_minimum_basket_and_the_validity_window_are_named_when_refused() {
        let t = terms(json!({
            "name": "10 off 50",
            "discount": {"kind": "amount", "amount_minor": 1000},
            "min_basket_minor": 5000,
            "valid_from": "2026-05-01T00:00:00Z",
            "valid_until": "2026-07-01T00:00:00Z"
        }));
        let refusal = |b: &Basket, at: &str| match t.discount_for(b, at.parse().unwrap()) {
            Err(DomainError::Refused { code, detail }) => (code, detail),
            other => panic!("expected a refusal, got {other:?}"),
        };
        let (code, detail) = refusal(&basket(4_999, &[]), "2026-06-01T00:00:00Z");
        assert_eq!(code, "voucher_basket_too_small");
        assert!(
            detail.contains("5000") && detail.contains("4999"),
            "{detail}"
        );
        assert_eq!(
            refusal(&basket(9_000, &[]), "2026-04-30T23:59:59Z").0,
            "voucher_not_yet_valid"
        );
        assert_eq!(
            refusal(&basket(9_000, &[]), "2026-07-01T00:00:00Z").0,
            "voucher_expired"
        );
        assert_eq!(t.discount_for(&basket(5_000, &[]), now()).unwrap(), 1_000);
    }

    #[test]
    fn a_bad_pool_names_every_field() {
        let err = PoolInput::parse(&json!({
            "discount": {"kind": "percent", "percent": 150, "amount_minor": 3},
            "valid_from": "2026-07-01T00:00:00Z",
            "valid_until": "2026-06-01T00:00:00Z",
            "prefix": "no spaces allowed here!",
            "colour": "red"
        }))
        .unwrap_err();
        let text = err.to_string();
        for pointer in [
            "/name",
            "/discount/percent",
            "/discount/amount_minor",
            "/valid_until",
            "/prefix",
            "/colour",
        ] {
            assert!(text.contains(pointer), "{pointer} missing from {text}");
        }
    }

    #[test]
    fn generated_codes_are_long_unambiguous_and_readable() {
        let (canonical, shown) = generate_code("SPRING");
        assert_eq!(canonical.len(), 6 + CODE_RANDOM_CHARS);
        assert!(canonical.starts_with("SPRING"));
        assert_eq!(canonical_code(&shown), canonical);
        assert_eq!(shown.matches('-').count(), 3, "{shown}");
        assert!(canonical[6..].bytes().all(|b| CODE_ALPHABET.contains(&b)));
        // At least 60 bits of randomness.
        assert!(CODE_RANDOM_CHARS as f64 * (CODE_ALPHABET.len() as f64).log2() >= 60.0);
        let codes: std::collections::HashSet<String> =
            (0..10_000).map(|_| generate_code("").0).collect();
        assert_eq!(codes.len(), 10_000);
    }

    #[test]
    fn imported_codes_are_checked_and_duplicates_reported() {
        let csv = "Code\nabc-1234\nABC 1234\nok-code-9\n\nx!\n\"QUOTED99\",extra\n";
        let raw = codes_from_csv(csv);
        assert_eq!(raw, ["abc-1234", "ABC 1234", "ok-code-9", "x!", "QUOTED99"]);
        let CheckedImport { codes, problems } = check_imported(&raw);
        assert_eq!(
            codes.iter().map(|c| c.0.as_str()).collect::<Vec<_>>(),
            ["ABC1234", "OKCODE9", "QUOTED99"]
        );
        assert_eq!(problems.len(), 2);
        assert_eq!(problems[0].row, 2);
        assert!(problems[0].problem.contains("more than once"));
        assert_eq!(problems[1].given, "x!");
        // Control characters never reach the database (codes are packed in tab-separated lines).
        let checked = check_imported(&["TAB\tCODE1".to_owned(), "LINE\nCODE2".to_owned()]);
        assert!(checked.codes.is_empty());
        assert_eq!(checked.problems.len(), 2);
    }
}
