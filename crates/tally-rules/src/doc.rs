//! The rule document: what an operator writes, parsed by hand from JSON so every mistake comes
//! back with its JSON pointer (`/effect/per_item/points`), all at once, like the other inputs of
//! Tally. Parsing also compiles and checks every expression, so a stored rule always compiles.

use crate::check::{self, Want};
use jiff::Timestamp;
use jiff::civil::Weekday;
use serde_json::Value;
use tally_domain::error::{DomainError, Fields};
use tally_domain::events::EventTypeName;
use tally_domain::ids::LocationId;
use tally_domain::inputs::{Obj, boolean, identifier, int, string, text, timestamp};
use tally_domain::model::SalesChannel;

const NAME_CHARS: usize = 200;
const MAX_BONUS: i64 = 1_000_000_000;
const MAX_AUDIENCE: usize = 100;

/// What kind of event a rule reacts to.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Trigger {
    Purchase,
    Enrolment,
    /// Once a year, on the member's birthday in the program's zone (28 February for those born
    /// on 29 February, in other years).
    Birthday,
    /// Once a year, on the anniversary of the member's enrolment.
    Anniversary,
    /// A custom event of the type the rule names in `event_type` (`check_in`, `review_posted`…).
    Event,
    /// A referral of the member was rewarded (the referred friend's first qualifying purchase
    /// cleared its return window): the rule gives to the referrer, beyond the referral policy.
    Referral,
    /// A return of (part of) an order: `purchase` is what came back (the returned lines and
    /// amount, on the order's channel and location), `base_points` the points it took back.
    Return,
}

impl Trigger {
    pub const NAMES: &'static [&'static str] = &[
        "purchase",
        "return",
        "enrolment",
        "birthday",
        "anniversary",
        "event",
        "referral",
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Trigger::Purchase => "purchase",
            Trigger::Enrolment => "enrolment",
            Trigger::Birthday => "birthday",
            Trigger::Anniversary => "anniversary",
            Trigger::Event => "event",
            Trigger::Referral => "referral",
            Trigger::Return => "return",
        }
    }

    /// Whether the event carries an order (`purchase`, its items, channel and location).
    pub fn has_order(self) -> bool {
        matches!(self, Trigger::Purchase | Trigger::Return)
    }

    pub fn parse(raw: &str) -> Result<Trigger, String> {
        match raw {
            "purchase" => Ok(Trigger::Purchase),
            "enrolment" => Ok(Trigger::Enrolment),
            "birthday" => Ok(Trigger::Birthday),
            "anniversary" => Ok(Trigger::Anniversary),
            "event" => Ok(Trigger::Event),
            "referral" => Ok(Trigger::Referral),
            "return" => Ok(Trigger::Return),
            _ => Err(format!("must be one of {}", Trigger::NAMES.join(", "))),
        }
    }
}

/// What a matched rule awards.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// A CEL formula giving an int or a double (rounded with the program's rounding).
    Points { formula: String },
    /// A formula summed over the purchase's items, for those matching the optional condition.
    PerItem {
        condition: Option<String>,
        points: String,
    },
    /// Extra points = base_points × (m − 1), rounded with the program's rounding; m is stored
    /// in thousandths (2.5 → 2500), in (1000, 100_000].
    Multiplier { permille: i64 },
    /// A fixed number of points, 1..=1_000_000_000.
    Bonus { points: i64 },
    /// `count` stamps (1..=10) on a stamp card: limits and budgets count stamps.
    Stamp { card: String, count: i64 },
    /// A free redemption of a catalog reward: limits and budgets count rewards.
    Reward { reward: String },
    /// Cashback (money in minor units into the member's cashback wallet): a share of the
    /// purchase's total in basis points (5 % is 500), or a fixed amount. Limits and budgets
    /// count minor units.
    Cashback {
        basis_points: i64,
        amount_minor: i64,
    },
}

impl Effect {
    /// Whether the effect grants something other than points (a stamp, a reward).
    pub fn is_grant(&self) -> bool {
        matches!(
            self,
            Effect::Stamp { .. } | Effect::Reward { .. } | Effect::Cashback { .. }
        )
    }
}

/// Caps on what a rule awards; all optional, all positive.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Limits {
    pub per_event: Option<i64>,
    pub per_member_day: Option<i64>,
    pub per_member_week: Option<i64>,
    pub per_member_month: Option<i64>,
    pub per_member_lifetime: Option<i64>,
    /// Total points this rule may ever award, over all members.
    pub budget: Option<i64>,
}

/// When a rule applies, in the program's time zone. Empty means always.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Schedule {
    /// Inclusive.
    pub starts_at: Option<Timestamp>,
    /// Exclusive.
    pub ends_at: Option<Timestamp>,
    /// Local days of the week, Monday first, no duplicates; empty means every day.
    pub days: Vec<Weekday>,
    /// Local minutes since midnight, `from` inclusive, `to` exclusive (`to` may be 1440, "24:00").
    pub hours: Option<(u16, u16)>,
}

/// Who a rule applies to; each empty list means everyone.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Audience {
    pub channels: Vec<SalesChannel>,
    pub locations: Vec<String>,
    pub tiers: Vec<String>,
    /// The member is in at least one of them.
    pub segments: Vec<String>,
    /// The member has at least one of them.
    pub tags: Vec<String>,
}

/// A validated rule document.
#[derive(Clone, Debug, PartialEq)]
pub struct RuleDoc {
    pub name: String,
    pub trigger: Trigger,
    /// The custom event type an `event` rule reacts to; `None` for every other trigger. Only
    /// its shape is checked here: whether the program declares it is the caller's to check.
    pub event_type: Option<EventTypeName>,
    pub condition: Option<String>,
    pub effect: Effect,
    pub limits: Limits,
    pub schedule: Schedule,
    pub audience: Audience,
    /// Higher runs first; ties by rule id.
    pub priority: i32,
    /// When this rule matches, later rules are not applied.
    pub stop_further: bool,
}

impl RuleDoc {
    /// Checks an `event` rule's expressions against the declaration of its event type: each
    /// `event.properties.<name>` must be declared, and is typed as declared (integer → int,
    /// number → double, boolean → bool, string and timestamp → string), so a misspelt
    /// property or a comparison of text with a number is refused when the rule is saved, at
    /// the expression's place, instead of never matching.
    pub fn check_event_properties(
        &self,
        declared: &tally_domain::events::EventTypeDoc,
    ) -> Result<(), DomainError> {
        use tally_domain::events::PropertyType;
        let typed: check::Properties = declared
            .properties
            .iter()
            .map(|(name, spec)| {
                let ty = match spec.kind {
                    PropertyType::Integer { .. } => crate::types::Ty::Int,
                    PropertyType::Number { .. } => crate::types::Ty::Double,
                    PropertyType::Boolean => crate::types::Ty::Bool,
                    PropertyType::String { .. } | PropertyType::Timestamp => crate::types::Ty::Str,
                };
                (name.clone(), ty)
            })
            .collect();
        let mut expressions: Vec<(&str, &str, bool, Want)> = Vec::new();
        if let Some(c) = &self.condition {
            expressions.push(("/condition", c, false, Want::Bool));
        }
        match &self.effect {
            Effect::Points { formula } => {
                expressions.push(("/effect/points", formula, false, Want::Points))
            }
            Effect::PerItem { condition, points } => {
                if let Some(c) = condition {
                    expressions.push(("/effect/per_item/condition", c, true, Want::Bool));
                }
                expressions.push(("/effect/per_item/points", points, true, Want::Points));
            }
            _ => {}
        }
        let mut f = Fields::new();
        for (pointer, source, item, want) in expressions {
            if let Err(e) = check::compile_typed(source, self.trigger, item, want, Some(&typed)) {
                f.push(pointer, e);
            }
        }
        f.finish()
    }
}

pub(crate) const DAYS: [(&str, Weekday, &str); 7] = [
    ("mon", Weekday::Monday, "Monday"),
    ("tue", Weekday::Tuesday, "Tuesday"),
    ("wed", Weekday::Wednesday, "Wednesday"),
    ("thu", Weekday::Thursday, "Thursday"),
    ("fri", Weekday::Friday, "Friday"),
    ("sat", Weekday::Saturday, "Saturday"),
    ("sun", Weekday::Sunday, "Sunday"),
];

impl RuleDoc {
    /// Parses and validates fully (including compiling and type-checking every expression).
    /// Errors carry JSON pointers relative to the document root.
    pub fn parse(value: &Value) -> Result<RuleDoc, DomainError> {
        let o = Obj::root(value)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "name",
                "trigger",
                "event_type",
                "condition",
                "effect",
                "limits",
                "schedule",
                "audience",
                "priority",
                "stop_further",
            ],
        );
        let name = o.req(&mut f, "name", text(NAME_CHARS));
        let trigger = o.req(&mut f, "trigger", |v| Trigger::parse(string(v)?));
        let event_type = match trigger {
            Some(Trigger::Event) => {
                o.req(&mut f, "event_type", |v| EventTypeName::parse(string(v)?))
            }
            Some(_) if o.has("event_type") => {
                f.push("/event_type", "applies only to trigger event");
                None
            }
            _ => None,
        };
        let condition = trigger
            .and_then(|t| o.opt(&mut f, "condition", |v| expression(v, t, false, Want::Bool)));
        let effect = match (o.obj(&mut f, "effect", true), trigger) {
            (Some(e), Some(t)) => parse_effect(&e, &mut f, t),
            _ => None,
        };
        let limits = o
            .obj(&mut f, "limits", false)
            .map(|l| parse_limits(&l, &mut f))
            .unwrap_or_default();
        let schedule = o
            .obj(&mut f, "schedule", false)
            .map(|s| parse_schedule(&s, value, &mut f))
            .unwrap_or_default();
        let audience = o
            .obj(&mut f, "audience", false)
            .map(|a| parse_audience(&a, value, &mut f))
            .unwrap_or_default();
        if trigger.is_some_and(|t| !t.has_order()) {
            for key in ["channels", "locations"] {
                let given = value
                    .pointer(&format!("/audience/{key}"))
                    .and_then(Value::as_array)
                    .is_some_and(|a| !a.is_empty());
                if given {
                    f.push(
                        format!("/audience/{key}"),
                        "applies only to triggers purchase and return",
                    );
                }
            }
        }
        let priority = o
            .opt(&mut f, "priority", int(i32::MIN.into(), i32::MAX.into()))
            .unwrap_or(0);
        let stop_further = o.opt(&mut f, "stop_further", boolean).unwrap_or(false);
        f.finish()?;
        Ok(RuleDoc {
            name: name.expect("checked"),
            trigger: trigger.expect("checked"),
            event_type,
            condition,
            effect: effect.expect("checked"),
            limits,
            schedule,
            audience,
            priority: i32::try_from(priority).expect("bounded"),
            stop_further,
        })
    }

    /// Whether any per-member limit is set: the caller must then read the member's usage.
    pub fn has_limits_per_member(&self) -> bool {
        let l = &self.limits;
        l.per_member_day.is_some()
            || l.per_member_week.is_some()
            || l.per_member_month.is_some()
            || l.per_member_lifetime.is_some()
    }

    /// Whether the rule's point awards are recorded for counting (`rule_awards`): a limit per
    /// member or a budget counts them. Grants are recorded whatever the rule's limits.
    pub fn counts_awards(&self) -> bool {
        self.has_limits_per_member() || self.limits.budget.is_some()
    }
}

/// ("sat", "Saturday") for a weekday.
pub(crate) fn day_names(day: Weekday) -> (&'static str, &'static str) {
    let (short, _, long) = DAYS
        .iter()
        .find(|(_, d, _)| *d == day)
        .expect("all seven days are listed");
    (short, long)
}

pub(crate) fn hhmm(minutes: u16) -> String {
    format!("{:02}:{:02}", minutes / 60, minutes % 60)
}

fn expression(v: &Value, trigger: Trigger, item: bool, want: Want) -> Result<String, String> {
    let source = string(v)?;
    check::compile(source, trigger, item, want)?;
    Ok(source.to_owned())
}

fn parse_effect(e: &Obj<'_>, f: &mut Fields, trigger: Trigger) -> Option<Effect> {
    const KINDS: [&str; 7] = [
        "points",
        "per_item",
        "multiplier",
        "bonus",
        "stamp",
        "reward",
        "cashback",
    ];
    e.only(f, &KINDS);
    let given: Vec<&str> = KINDS.into_iter().filter(|k| e.has(k)).collect();
    let kind = match given.as_slice() {
        [kind] => *kind,
        [] => {
            f.push("/effect", format!("must have one of: {}", KINDS.join(", ")));
            return None;
        }
        _ => {
            f.push(
                "/effect",
                format!(
                    "must have exactly one of {}; got {}",
                    KINDS.join(", "),
                    given.join(" and ")
                ),
            );
            return None;
        }
    };
    if kind == "per_item" && !trigger.has_order() {
        f.push(
            "/effect/per_item",
            "applies only to triggers purchase and return",
        );
        return None;
    }
    if kind == "multiplier" && trigger != Trigger::Purchase {
        f.push("/effect/multiplier", "applies only to trigger purchase");
        return None;
    }
    match kind {
        "points" => e
            .req(f, "points", |v| expression(v, trigger, false, Want::Points))
            .map(|formula| Effect::Points { formula }),
        "per_item" => {
            let p = e.obj(f, "per_item", true)?;
            p.only(f, &["condition", "points"]);
            let condition = p.opt(f, "condition", |v| expression(v, trigger, true, Want::Bool));
            let points = p.req(f, "points", |v| expression(v, trigger, true, Want::Points))?;
            Some(Effect::PerItem { condition, points })
        }
        "multiplier" => e
            .req(f, "multiplier", multiplier)
            .map(|permille| Effect::Multiplier { permille }),
        "stamp" => {
            let s = e.obj(f, "stamp", true)?;
            s.only(f, &["card_id", "count"]);
            let card = s.req(f, "card_id", |v| {
                tally_domain::ids::StampCardId::parse(string(v)?).map(|id| id.to_string())
            });
            let count = s.opt(f, "count", int(1, 10)).unwrap_or(1);
            Some(Effect::Stamp { card: card?, count })
        }
        "cashback" => {
            let cb = e.obj(f, "cashback", true)?;
            cb.only(f, &["percent", "amount_minor"]);
            match (cb.has("percent"), cb.has("amount_minor")) {
                (true, false) if trigger != Trigger::Purchase => {
                    f.push(
                        "/effect/cashback/percent",
                        "applies only to trigger purchase (give amount_minor otherwise)",
                    );
                    None
                }
                (true, false) => cb
                    .req(f, "percent", |v| match v.as_f64() {
                        Some(p) if p > 0.0 && p <= 100.0 && (p * 100.0).fract().abs() < 1e-9 => {
                            Ok((p * 100.0).round() as i64)
                        }
                        _ => Err(
                            "must be a percentage above 0 and at most 100, with at most 2 decimals"
                                .to_owned(),
                        ),
                    })
                    .map(|basis_points| Effect::Cashback {
                        basis_points,
                        amount_minor: 0,
                    }),
                (false, true) => cb
                    .req(f, "amount_minor", int(1, MAX_BONUS))
                    .map(|amount_minor| Effect::Cashback {
                        basis_points: 0,
                        amount_minor,
                    }),
                _ => {
                    f.push(
                        "/effect/cashback",
                        "must have exactly one of percent and amount_minor",
                    );
                    None
                }
            }
        }
        "reward" => {
            let r = e.obj(f, "reward", true)?;
            r.only(f, &["reward_id"]);
            r.req(f, "reward_id", |v| {
                tally_domain::ids::RewardId::parse(string(v)?).map(|id| id.to_string())
            })
            .map(|reward| Effect::Reward { reward })
        }
        _ => e
            .req(f, "bonus", int(1, MAX_BONUS))
            .map(|points| Effect::Bonus { points }),
    }
}

fn multiplier(v: &Value) -> Result<i64, String> {
    const MESSAGE: &str = "must be a number above 1 and at most 100, with at most 3 decimals";
    let m = v.as_f64().ok_or(MESSAGE)?;
    let thousandths = m * 1000.0;
    let permille = thousandths.round();
    if !(m > 1.0 && m <= 100.0) || (thousandths - permille).abs() > 1e-6 {
        return Err(MESSAGE.into());
    }
    Ok(permille as i64)
}

fn parse_limits(l: &Obj<'_>, f: &mut Fields) -> Limits {
    l.only(f, &["per_event", "per_member", "budget"]);
    let positive = int(1, i64::MAX);
    let mut limits = Limits {
        per_event: l.opt(f, "per_event", &positive),
        budget: l.opt(f, "budget", &positive),
        ..Limits::default()
    };
    if let Some(m) = l.obj(f, "per_member", false) {
        m.only(f, &["day", "week", "month", "lifetime"]);
        limits.per_member_day = m.opt(f, "day", &positive);
        limits.per_member_week = m.opt(f, "week", &positive);
        limits.per_member_month = m.opt(f, "month", &positive);
        limits.per_member_lifetime = m.opt(f, "lifetime", &positive);
    }
    limits
}

/// The strings of the array at `pointer`, each parsed, errors at `pointer/i`.
fn list<T>(
    root: &Value,
    pointer: &str,
    f: &mut Fields,
    parse: impl Fn(&Value) -> Result<T, String>,
) -> Vec<T> {
    match root.pointer(pointer) {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::Array(items)) if items.len() > MAX_AUDIENCE => {
            f.push(pointer, format!("must have at most {MAX_AUDIENCE} entries"));
            Vec::new()
        }
        Some(Value::Array(items)) => items
            .iter()
            .enumerate()
            .filter_map(|(i, v)| f.take(&format!("{pointer}/{i}"), parse(v)))
            .collect(),
        Some(_) => {
            f.push(pointer, "must be an array");
            Vec::new()
        }
    }
}

fn parse_schedule(s: &Obj<'_>, root: &Value, f: &mut Fields) -> Schedule {
    s.only(f, &["starts_at", "ends_at", "days", "hours"]);
    let starts_at = s.opt(f, "starts_at", timestamp);
    let ends_at = s.opt(f, "ends_at", timestamp);
    if let (Some(start), Some(end)) = (starts_at, ends_at)
        && start >= end
    {
        f.push("/schedule/ends_at", "must be after starts_at");
    }
    let mut days = list(root, "/schedule/days", f, |v| {
        let raw = string(v)?;
        DAYS.iter()
            .find(|(short, _, _)| *short == raw)
            .map(|(_, day, _)| *day)
            .ok_or_else(|| "must be one of mon, tue, wed, thu, fri, sat, sun".to_owned())
    });
    if root
        .pointer("/schedule/days")
        .and_then(Value::as_array)
        .is_some_and(Vec::is_empty)
    {
        f.push(
            "/schedule/days",
            "must not be empty (leave it out for every day)",
        );
    }
    days.sort_by_key(|d| d.to_monday_zero_offset());
    days.dedup();
    let hours = s.obj(f, "hours", false).and_then(|h| {
        h.only(f, &["from", "to"]);
        let from = h.req(f, "from", |v| minutes(v, false));
        let to = h.req(f, "to", |v| minutes(v, true));
        let (from, to) = (from?, to?);
        if from >= to {
            f.push("/schedule/hours/to", "must be after from");
            return None;
        }
        Some((from, to))
    });
    Schedule {
        starts_at,
        ends_at,
        days,
        hours,
    }
}

/// "HH:MM" as minutes since midnight; "24:00" only when `end`.
fn minutes(v: &Value, end: bool) -> Result<u16, String> {
    let message = || {
        if end {
            "must be a time such as 17:30 (00:00 to 24:00)".to_owned()
        } else {
            "must be a time such as 09:00 (00:00 to 23:59)".to_owned()
        }
    };
    let raw = string(v)?;
    let bytes = raw.as_bytes();
    if bytes.len() != 5 || bytes[2] != b':' {
        return Err(message());
    }
    let number = |s: &str| {
        s.bytes()
            .all(|b| b.is_ascii_digit())
            .then(|| s.parse::<u16>().ok())
            .flatten()
    };
    let (Some(h), Some(m)) = (number(&raw[..2]), number(&raw[3..])) else {
        return Err(message());
    };
    match (h, m) {
        (24, 0) if end => Ok(1440),
        (0..=23, 0..=59) => Ok(h * 60 + m),
        _ => Err(message()),
    }
}

fn parse_audience(a: &Obj<'_>, root: &Value, f: &mut Fields) -> Audience {
    a.only(f, &["channels", "locations", "tiers", "segments", "tags"]);
    let mut audience = Audience {
        channels: list(root, "/audience/channels", f, |v| {
            SalesChannel::parse(string(v)?)
        }),
        locations: list(root, "/audience/locations", f, |v| {
            LocationId::parse(string(v)?).map(|l| l.to_string())
        }),
        tiers: list(root, "/audience/tiers", f, identifier),
        segments: list(root, "/audience/segments", f, identifier),
        tags: list(root, "/audience/tags", f, identifier),
    };
    audience.channels.dedup();
    audience
}
