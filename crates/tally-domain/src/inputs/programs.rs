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

/// Changes to an earning rule; absent fields stay as they are.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EarningPatch {
    pub points_per_unit_milli: Option<i64>,
    pub rounding: Option<Rounding>,
    pub excluded_categories: Option<Vec<String>>,
    pub min_order_minor: Option<i64>,
    pub pending_days: Option<u16>,
}

impl EarningPatch {
    fn parse(e: &Obj<'_>, f: &mut Fields) -> EarningPatch {
        e.only(
            f,
            &[
                "points_per_unit",
                "rounding",
                "excluded_categories",
                "min_order_minor",
                "pending_days",
            ],
        );
        EarningPatch {
            points_per_unit_milli: e.opt(f, "points_per_unit", parse_with(EarningRule::parse_rate)),
            rounding: e.opt(f, "rounding", parse_with(Rounding::parse)),
            excluded_categories: e.opt(f, "excluded_categories", tags),
            min_order_minor: e.opt(f, "min_order_minor", int(0, Money::MAX_AMOUNT_MINOR)),
            pending_days: e
                .opt(
                    f,
                    "pending_days",
                    int(0, i64::from(EarningRule::MAX_PENDING_DAYS)),
                )
                .map(|d| u16::try_from(d).expect("bounded")),
        }
    }

    pub fn apply(&self, rule: &mut EarningRule) {
        if let Some(rate) = self.points_per_unit_milli {
            rule.points_per_unit_milli = rate;
        }
        if let Some(rounding) = self.rounding {
            rule.rounding = rounding;
        }
        if let Some(excluded) = &self.excluded_categories {
            rule.excluded_categories = excluded.clone();
        }
        if let Some(min_order) = self.min_order_minor {
            rule.min_order_minor = min_order;
        }
        if let Some(days) = self.pending_days {
            rule.pending_days = days;
        }
    }
}

fn parse_earning(e: &Obj<'_>, f: &mut Fields) -> Option<EarningRule> {
    let mut rule = EarningRule::default_rule();
    EarningPatch::parse(e, f).apply(&mut rule);
    Some(rule)
}

/// A change to a program's settings. The money currency cannot change: the program's purchases
/// and points were recorded in it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct ProgramPatch {
    pub name: Option<String>,
    pub points_name: Option<String>,
    pub time_zone: Option<TimeZoneName>,
    pub negative_balance: Option<NegativeBalancePolicy>,
    pub earning: EarningPatch,
}

impl ProgramPatch {
    pub fn parse(body: &Value) -> Result<ProgramPatch, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        if o.has("currency") {
            f.push(
                "/currency",
                "cannot change: the program's purchases and points are recorded in it",
            );
        }
        o.only(
            &mut f,
            &[
                "name",
                "points_name",
                "time_zone",
                "earning",
                "negative_balance",
                "currency",
            ],
        );
        let patch = ProgramPatch {
            name: o.opt(&mut f, "name", text(NAME_CHARS)),
            points_name: o.opt(&mut f, "points_name", text(40)),
            time_zone: o.opt(&mut f, "time_zone", parse_with(TimeZoneName::parse)),
            negative_balance: o.opt(
                &mut f,
                "negative_balance",
                parse_with(NegativeBalancePolicy::parse),
            ),
            earning: o
                .obj(&mut f, "earning", false)
                .map(|e| EarningPatch::parse(&e, &mut f))
                .unwrap_or_default(),
        };
        f.finish()?;
        Ok(patch)
    }
}

impl EarningRule {
    /// One point per currency unit, rounded down, nothing excluded.
    pub fn default_rule() -> EarningRule {
        EarningRule {
            points_per_unit_milli: 1000,
            rounding: Rounding::Down,
            excluded_categories: Vec::new(),
            min_order_minor: 0,
            pending_days: 0,
        }
    }
}
