//! Programs.

use super::*;

#[derive(Clone, Debug, PartialEq)]
pub struct NewProgram {
    pub name: String,
    pub points_name: String,
    pub currency: Currency,
    pub time_zone: TimeZoneName,
    pub earning: EarningRule,
    pub negative_balance: NegativeBalancePolicy,
}

impl NewProgram {
    pub fn parse(body: &Value) -> Result<NewProgram, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "name",
                "points_name",
                "currency",
                "time_zone",
                "earning",
                "negative_balance",
            ],
        );
        let name = o.req(&mut f, "name", text(NAME_CHARS));
        let points_name = o
            .opt(&mut f, "points_name", text(40))
            .unwrap_or_else(|| "points".into());
        let currency = o.req(&mut f, "currency", currency);
        let time_zone = o.opt(&mut f, "time_zone", parse_with(TimeZoneName::parse));
        let negative_balance = o.opt(
            &mut f,
            "negative_balance",
            parse_with(NegativeBalancePolicy::parse),
        );
        let earning = match o.obj(&mut f, "earning", false) {
            Some(e) => parse_earning(&e, &mut f),
            None => Some(EarningRule::default_rule()),
        };
        f.finish()?;
        Ok(NewProgram {
            name: name.expect("checked"),
            points_name,
            currency: currency.expect("checked"),
            time_zone: time_zone.unwrap_or_else(|| TimeZoneName::from_trusted("UTC".into())),
            earning: earning.expect("checked"),
            negative_balance: negative_balance.unwrap_or(NegativeBalancePolicy::AllowNegative),
        })
    }
}

fn parse_earning(e: &Obj<'_>, f: &mut Fields) -> Option<EarningRule> {
    e.only(
        f,
        &[
            "points_per_unit",
            "rounding",
            "excluded_categories",
            "min_order_minor",
        ],
    );
    let rate = e.opt(f, "points_per_unit", parse_with(EarningRule::parse_rate));
    let rounding = e.opt(f, "rounding", parse_with(Rounding::parse));
    let excluded = e.opt(f, "excluded_categories", tags);
    let min_order = e.opt(f, "min_order_minor", int(0, Money::MAX_AMOUNT_MINOR));
    Some(EarningRule {
        points_per_unit_milli: rate.unwrap_or(1000),
        rounding: rounding.unwrap_or(Rounding::Down),
        excluded_categories: excluded.unwrap_or_default(),
        min_order_minor: min_order.unwrap_or(0),
    })
}

impl EarningRule {
    /// One point per currency unit, rounded down, nothing excluded.
    pub fn default_rule() -> EarningRule {
        EarningRule {
            points_per_unit_milli: 1000,
            rounding: Rounding::Down,
            excluded_categories: Vec::new(),
            min_order_minor: 0,
        }
    }
}
