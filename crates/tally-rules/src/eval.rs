//! Evaluating a rule set against one event: which rules match, what each awards after its
//! limits, and why, in words an operator can read in the console.
//!
//! Expressions are compiled once, in [`RuleSet::compile`], which also records which parts of
//! the context they read. Per event, those parts alone are built, once, into one inner scope of
//! a root context built with the set (a fresh default context would rebuild the standard library
//! each time), and the local time is computed once. Per rule, the schedule and the audience are
//! checked before any expression runs. per_item effects build the items' values once per event,
//! shared by every per_item rule, and borrow one into a scope per item. Nothing here panics on
//! any input: an evaluation error makes that rule not match, with the error as `why`.
//!
//! Expressions with a native tree ([`crate::native`]) run without the interpreter; its context
//! and items are then never built. The interpreter runs what the trees do not cover, and any
//! expression whose tree gave up.
//!
//! Cost (release, 2-core dev machine): the ten rules of
//! `cargo run --release -p tally-bench -- rules` evaluate about 590,000 purchases/s on one core
//! (170,000 in the interpreter alone, 70,000 when the whole context was built for every event);
//! `examples/evaluate.rs`, five typical rules (two of them need the interpreter), about 5.5 µs for
//! a 5-item purchase and 0.27 ms for a 500-item one (8 µs and 0.5 ms all in the interpreter; the
//! `exists` over the items dominates).

use crate::check::{self, ENV, Want};
use crate::doc::{Effect, RuleDoc, Trigger};
use crate::facts::{Event, Needs};
use crate::native::{self, Facts, Native, Scalar};
use crate::schedule::Outside;
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, Program, Value};
use jiff::civil::DateTime;
use std::cell::OnceCell;
use tally_domain::program::Rounding;

/// Points awarded by one rule for one event are clamped to this.
pub const MAX_POINTS: i64 = 1_000_000_000;

/// Which stored rule, at which version.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct RuleRef {
    pub id: String,
    pub version: i64,
}

/// What the caller has recorded for one rule, summed since the starts given by
/// [`crate::windows`]: the member's awards per window, and all members' awards (`total`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Usage {
    pub member_day: i64,
    pub member_week: i64,
    pub member_month: i64,
    pub member_lifetime: i64,
    pub total: i64,
}

/// What one rule would do for the event.
#[derive(Clone, Debug, PartialEq)]
pub struct Decision {
    pub rule: RuleRef,
    pub name: String,
    pub matched: bool,
    /// Awarded after caps (0 if not matched).
    pub points: i64,
    pub uncapped_points: i64,
    /// "per_event", "per_member.day", "per_member.week", "per_member.month",
    /// "per_member.lifetime" or "budget": the limit that bound the award.
    pub capped_by: Option<&'static str>,
    pub why: String,
    pub stopped_further: bool,
    /// For a stamp or reward rule, what `points` counts: stamps on this card, or rewards.
    pub grant: Option<Grant>,
}

/// What a grant rule gives instead of points.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Grant {
    Stamps {
        card: String,
    },
    Reward {
        reward: String,
    },
    /// Minor units into the member's cashback wallet.
    Cashback,
}

/// Decisions of the rules for the event's trigger, in the order they ran.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Outcome {
    pub decisions: Vec<Decision>,
}

impl Outcome {
    /// Decisions that award points.
    pub fn awarded(&self) -> impl Iterator<Item = &Decision> {
        self.counted().filter(|d| d.grant.is_none())
    }

    /// Decisions that grant stamps or rewards (their `points` are the units).
    pub fn granted(&self) -> impl Iterator<Item = &Decision> {
        self.counted().filter(|d| d.grant.is_some())
    }

    /// Every decision that gives something: what limits and budgets count.
    pub fn counted(&self) -> impl Iterator<Item = &Decision> {
        self.decisions.iter().filter(|d| d.matched && d.points > 0)
    }

    pub fn total_points(&self) -> i64 {
        self.awarded()
            .fold(0, |sum, d| sum.saturating_add(d.points))
    }
}

/// An expression compiled once: the interpreter's program (`Err` only for a document built by
/// hand that `parse` would refuse, which then never matches) and, when the expression is
/// simple, its native tree (see [`crate::native`]).
struct Compiled {
    program: Result<Program, String>,
    native: Option<Native>,
}

enum CompiledEffect {
    Points(Compiled),
    PerItem {
        condition: Option<Compiled>,
        points: Compiled,
    },
    Multiplier(i64),
    Bonus(i64),
    /// Cashback: this many basis points of the purchase's total, rounded down.
    CashbackShare(i64),
    /// A stamp or a reward: this many units.
    Grant(i64),
}

struct CompiledRule {
    rule: RuleRef,
    doc: RuleDoc,
    condition: Option<Compiled>,
    effect: CompiledEffect,
    outside: Outside,
}

/// Compiled rules, sorted by priority (highest first), then rule id.
pub struct RuleSet {
    rules: Vec<CompiledRule>,
    root: Context<'static, 'static>,
    /// The parts of the context some expression reads.
    needs: Needs,
}

impl std::fmt::Debug for RuleSet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(self.rules.iter().map(|r| (&r.rule, &r.doc.name)))
            .finish()
    }
}

impl RuleSet {
    pub fn compile(rules: Vec<(RuleRef, RuleDoc)>) -> RuleSet {
        let needs = std::cell::Cell::new(Needs::default());
        let compile = |source: &str, t: Trigger, item: bool, want: Want| -> Compiled {
            let program = check::compile_with_needs(source, t, item, want).map(|(p, read)| {
                needs.set(needs.get().union(read));
                p
            });
            Compiled {
                native: (program.as_ref().ok()).and_then(|p| native::compile(p.expression(), item)),
                program,
            }
        };
        let mut rules: Vec<CompiledRule> = rules
            .into_iter()
            .map(|(rule, doc)| {
                let t = doc.trigger;
                let condition = doc
                    .condition
                    .as_deref()
                    .map(|c| compile(c, t, false, Want::Bool));
                let effect = match &doc.effect {
                    Effect::Points { formula } => {
                        CompiledEffect::Points(compile(formula, t, false, Want::Points))
                    }
                    Effect::PerItem { condition, points } => CompiledEffect::PerItem {
                        condition: condition
                            .as_deref()
                            .map(|c| compile(c, t, true, Want::Bool)),
                        points: compile(points, t, true, Want::Points),
                    },
                    Effect::Multiplier { permille } => CompiledEffect::Multiplier(*permille),
                    Effect::Bonus { points } => CompiledEffect::Bonus(*points),
                    Effect::Stamp { count, .. } => CompiledEffect::Grant(*count),
                    Effect::Reward { .. } => CompiledEffect::Grant(1),
                    Effect::Cashback { basis_points, .. } if *basis_points > 0 => {
                        CompiledEffect::CashbackShare(*basis_points)
                    }
                    Effect::Cashback { amount_minor, .. } => CompiledEffect::Grant(*amount_minor),
                };
                CompiledRule {
                    rule,
                    outside: doc.schedule.outside(),
                    doc,
                    condition,
                    effect,
                }
            })
            .collect();
        rules.sort_by(|a, b| {
            b.doc
                .priority
                .cmp(&a.doc.priority)
                .then_with(|| a.rule.cmp(&b.rule))
        });
        RuleSet {
            rules,
            root: Context::with_env(ENV.clone()),
            needs: needs.get(),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.rules.is_empty()
    }

    /// Drops the native trees: every expression runs in the interpreter (tests compare both).
    #[cfg(test)]
    fn interpreter_only(mut self) -> RuleSet {
        for rule in &mut self.rules {
            let mut expressions: Vec<&mut Compiled> = rule.condition.iter_mut().collect();
            match &mut rule.effect {
                CompiledEffect::Points(e) => expressions.push(e),
                CompiledEffect::PerItem { condition, points } => {
                    expressions.extend(condition.as_mut());
                    expressions.push(points);
                }
                _ => {}
            }
            for e in expressions {
                e.native = None;
            }
        }
        self
    }

    /// Whether some expression reads this documented path of the context (`member.tags`,
    /// `member.purchases_before`, …): the caller may skip gathering facts nobody reads.
    pub fn reads(&self, path: &str) -> bool {
        self.needs.reads(crate::facts::Needs::path(path))
    }

    /// Whether any rule has this trigger.
    pub fn for_trigger(&self, t: Trigger) -> bool {
        self.rules.iter().any(|r| r.doc.trigger == t)
    }

    /// Whether any rule reacts to custom events of this type.
    pub fn for_event_type(&self, name: &str) -> bool {
        self.rules.iter().any(|r| {
            r.doc
                .event_type
                .as_ref()
                .is_some_and(|t| t.as_str() == name)
        })
    }

    /// Rules for this trigger whose caps need the caller's usage: per-member limits or a
    /// budget. The caller reads their usage first and answers it from `evaluate`'s `usage`.
    pub fn limited(&self, t: Trigger) -> Vec<&RuleRef> {
        self.rules
            .iter()
            .filter(|r| {
                r.doc.trigger == t
                    && (r.doc.has_limits_per_member() || r.doc.limits.budget.is_some())
            })
            .map(|r| &r.rule)
            .collect()
    }

    /// Decides every rule of the event's trigger, in order. `usage` is asked only for rules
    /// that matched and have per-member limits or a budget.
    pub fn evaluate(&self, event: &Event<'_>, usage: &dyn Fn(&RuleRef) -> Usage) -> Outcome {
        if !self.for_trigger(event.trigger) {
            return Outcome::default();
        }
        let mut outcome = Outcome {
            decisions: Vec::with_capacity(self.rules.len()),
        };
        let local_time = OnceCell::new();
        let local = || *local_time.get_or_init(|| event.time_zone.to_datetime(event.occurred_at));
        let shared = Shared {
            event,
            root: &self.root,
            scope: OnceCell::new(),
            local: &local,
            date: OnceCell::new(),
            items: OnceCell::new(),
            needs: self.needs,
        };
        let mut stopped_by: Option<&CompiledRule> = None;
        for rule in self.rules.iter().filter(|r| reacts(&r.doc, event)) {
            let mut decision = Decision {
                rule: rule.rule.clone(),
                name: rule.doc.name.clone(),
                matched: false,
                points: 0,
                uncapped_points: 0,
                capped_by: None,
                why: String::new(),
                stopped_further: false,
                grant: match &rule.doc.effect {
                    Effect::Stamp { card, .. } => Some(Grant::Stamps { card: card.clone() }),
                    Effect::Reward { reward } => Some(Grant::Reward {
                        reward: reward.clone(),
                    }),
                    Effect::Cashback { .. } => Some(Grant::Cashback),
                    _ => None,
                },
            };
            if let Some(by) = stopped_by {
                decision.why = format!("stopped by rule {} ({})", by.rule.id, by.doc.name);
                outcome.decisions.push(decision);
                continue;
            }
            match decide(rule, &shared) {
                Err(why) => decision.why = why,
                Ok((uncapped, why)) => {
                    decision.matched = true;
                    decision.uncapped_points = uncapped;
                    let (points, capped_by) = cap(rule, uncapped, usage);
                    decision.points = points;
                    decision.capped_by = capped_by;
                    decision.why = match capped_by {
                        Some(limit) => format!("{why}; capped by {limit}"),
                        None => why,
                    };
                    if rule.doc.stop_further {
                        decision.stopped_further = true;
                        stopped_by = Some(rule);
                    }
                }
            }
            outcome.decisions.push(decision);
        }
        outcome
    }
}

/// Whether a rule reacts to the event: its trigger, and for trigger event its type.
fn reacts(doc: &RuleDoc, event: &Event<'_>) -> bool {
    doc.trigger == event.trigger
        && (doc.trigger != Trigger::Event
            || doc.event_type.as_ref().map(|t| t.as_str())
                == event.custom.as_ref().map(|c| c.event_type))
}

/// What the rules of one event share: the event, its local time, and for the interpreter its
/// context and its items as CEL values, each built when an expression first needs it (an event
/// whose rules are all simple builds neither).
struct Shared<'s, 'a> {
    event: &'s Event<'a>,
    root: &'s Context<'static, 'static>,
    scope: OnceCell<Context<'s, 'a>>,
    local: &'s dyn Fn() -> DateTime,
    /// `time.date` for native trees.
    date: OnceCell<String>,
    items: OnceCell<Vec<Box<dyn Val + 'a>>>,
    needs: Needs,
}

impl<'s, 'a> Shared<'s, 'a> {
    /// `e`'s value from its native tree, when it has one and the tree answers.
    fn native<T>(
        &self,
        e: &Compiled,
        item: Option<usize>,
        take: impl FnOnce(Scalar<'_>) -> Option<T>,
    ) -> Option<T> {
        let tree = e.native.as_ref()?;
        let item = match item {
            Some(i) => Some(self.event.purchase.as_ref()?.items.get(i)?),
            None => None,
        };
        let facts = Facts {
            event: self.event,
            item,
            local: self.local,
            date: &self.date,
        };
        tree.eval(&facts).ok().and_then(take)
    }

    /// `e`'s value from the interpreter; `item` is the index of the per_item effect's item.
    fn interpret(&self, e: &Compiled, item: Option<usize>) -> Result<Value, String> {
        let program = e
            .program
            .as_ref()
            .map_err(|e| format!("invalid rule: {e}"))?;
        let scope = self.scope.get_or_init(|| {
            let mut scope = self.root.new_inner_scope();
            for (name, value) in self.event.to_cel(self.needs, self.local) {
                scope.add_variable_as_val(name, value);
            }
            scope
        });
        let result = match item {
            None => program.execute(scope),
            Some(i) => {
                let purchase = self.event.purchase.as_ref();
                let items = self.items.get_or_init(|| {
                    purchase.map_or_else(Vec::new, |p| {
                        p.items
                            .iter()
                            .map(|i| i.to_cel(p.minor_per_major, self.needs))
                            .collect()
                    })
                });
                let Some(value) = items.get(i) else {
                    return Err("evaluation error: no such item".into());
                };
                let var = ItemVar(value.as_ref());
                let mut inner = scope.new_inner_scope();
                inner.set_variable_resolver(&var);
                program.execute(&inner)
            }
        };
        result.map_err(|e| format!("evaluation error: {e}"))
    }
}

/// The `item` variable of a per_item effect, borrowed from the event's items.
struct ItemVar<'x, 'a>(&'x (dyn Val + 'a));

impl VariableResolver for ItemVar<'_, '_> {
    fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
        (variable == "item").then_some(CowVal::Borrowed(self.0))
    }
}

/// Uncapped points and why, or why the rule does not match.
fn decide(rule: &CompiledRule, shared: &Shared<'_, '_>) -> Result<(i64, String), String> {
    let event = shared.event;
    rule.doc
        .schedule
        .covers(event.occurred_at, shared.local, &rule.outside)?;
    audience(rule, event)?;
    if let Some(condition) = &rule.condition
        && !truth(condition, shared, None)?
    {
        return Err("condition is false".into());
    }
    match &rule.effect {
        CompiledEffect::Bonus(points) => Ok((clamp(*points), "matched".into())),
        CompiledEffect::Grant(units) => Ok((*units, "matched".into())),
        CompiledEffect::CashbackShare(basis_points) => {
            let Some(purchase) = &event.purchase else {
                return Err("evaluation error: no purchase".into());
            };
            let share =
                i128::from(purchase.total_minor.max(0)) * i128::from(*basis_points) / 10_000;
            Ok((
                clamp_wide(share),
                format!(
                    "matched: {} % of {} (minor units)",
                    *basis_points as f64 / 100.0,
                    purchase.total_minor
                ),
            ))
        }
        CompiledEffect::Multiplier(permille) => {
            let extra = divide(
                event.rounding,
                i128::from(event.base_points.max(0))
                    * i128::from(permille.saturating_sub(1000).max(0)),
                1000,
            );
            Ok((
                clamp_wide(extra),
                format!(
                    "matched: {} base points × {}",
                    event.base_points,
                    *permille as f64 / 1000.0
                ),
            ))
        }
        CompiledEffect::Points(formula) => {
            let number = number(formula, shared, None)?;
            Ok((number.points(event.rounding)?, "matched".into()))
        }
        CompiledEffect::PerItem { condition, points } => {
            let Some(purchase) = &event.purchase else {
                return Err("evaluation error: no purchase".into());
            };
            let mut sum = Number::Int(0);
            let mut counted = 0usize;
            for item in 0..purchase.items.len() {
                if let Some(c) = condition
                    && !truth(c, shared, Some(item))?
                {
                    continue;
                }
                counted += 1;
                sum = sum.add(number(points, shared, Some(item))?);
            }
            let total = purchase.items.len();
            Ok((
                sum.points(event.rounding)?,
                format!("matched: {counted} of {total} items"),
            ))
        }
    }
}

fn audience(rule: &CompiledRule, event: &Event<'_>) -> Result<(), String> {
    let a = &rule.doc.audience;
    let channel = event.purchase.as_ref().map_or("", |p| p.channel);
    if !a.channels.is_empty() && !a.channels.iter().any(|c| c.as_str() == channel) {
        let listed: Vec<&str> = a.channels.iter().map(|c| c.as_str()).collect();
        return Err(format!(
            "channel {channel} not in audience ({})",
            listed.join(", ")
        ));
    }
    let location = event.purchase.as_ref().and_then(|p| p.location);
    if !a.locations.is_empty() && !location.is_some_and(|l| a.locations.iter().any(|x| x == l)) {
        return Err(match location {
            Some(l) => format!("location {l} not in audience"),
            None => "no location, the audience lists locations".into(),
        });
    }
    let m = &event.member;
    if !a.tiers.is_empty() && !m.tier.is_some_and(|t| a.tiers.iter().any(|x| x == t)) {
        return Err(match m.tier {
            Some(t) => format!("tier {t} not in audience"),
            None => "no tier, the audience lists tiers".into(),
        });
    }
    if !a.segments.is_empty() && !m.segments.iter().any(|s| a.segments.contains(s)) {
        return Err("member in none of the audience segments".into());
    }
    if !a.tags.is_empty() && !m.tags.iter().any(|t| a.tags.contains(t)) {
        return Err("member has none of the audience tags".into());
    }
    Ok(())
}

fn truth(e: &Compiled, shared: &Shared<'_, '_>, item: Option<usize>) -> Result<bool, String> {
    let native = shared.native(e, item, |v| match v {
        Scalar::Bool(b) => Some(b),
        _ => None,
    });
    if let Some(b) = native {
        return Ok(b);
    }
    match shared.interpret(e, item)? {
        Value::Bool(b) => Ok(b),
        other => Err(format!(
            "evaluation error: condition gave {:?}, not a bool",
            other.type_of()
        )),
    }
}

#[derive(Clone, Copy, Debug)]
enum Number {
    Int(i128),
    Double(f64),
}

fn number(e: &Compiled, shared: &Shared<'_, '_>, item: Option<usize>) -> Result<Number, String> {
    let native = shared.native(e, item, |v| match v {
        Scalar::Int(i) => Some(Number::Int(i.into())),
        Scalar::Double(d) => Some(Number::Double(d)),
        _ => None,
    });
    if let Some(n) = native {
        return Ok(n);
    }
    match &shared.interpret(e, item)? {
        Value::Int(i) => Ok(Number::Int((*i).into())),
        Value::UInt(u) => Ok(Number::Int((*u).into())),
        Value::Float(f) => Ok(Number::Double(*f)),
        other => Err(format!(
            "evaluation error: points gave {:?}, not a number",
            other.type_of()
        )),
    }
}

impl Number {
    fn add(self, other: Number) -> Number {
        match (self, other) {
            (Number::Int(a), Number::Int(b)) => Number::Int(a.saturating_add(b)),
            (a, b) => Number::Double(a.as_f64() + b.as_f64()),
        }
    }

    fn as_f64(self) -> f64 {
        match self {
            Number::Int(i) => i as f64,
            Number::Double(d) => d,
        }
    }

    /// Rounded (doubles only) and clamped to [0, MAX_POINTS].
    fn points(self, rounding: Rounding) -> Result<i64, String> {
        match self {
            Number::Int(i) => Ok(clamp_wide(i)),
            Number::Double(d) if d.is_nan() => {
                Err("evaluation error: points are not a number".into())
            }
            Number::Double(d) => {
                let rounded = match rounding {
                    Rounding::Down => d.floor(),
                    Rounding::Up => d.ceil(),
                    Rounding::Nearest => (d + 0.5).floor(),
                };
                Ok(rounded.clamp(0.0, MAX_POINTS as f64) as i64)
            }
        }
    }
}

fn clamp(points: i64) -> i64 {
    points.clamp(0, MAX_POINTS)
}

fn clamp_wide(points: i128) -> i64 {
    i64::try_from(points.clamp(0, MAX_POINTS.into())).unwrap_or(0)
}

/// `numerator / denominator` rounded; numerator non-negative, denominator positive.
fn divide(rounding: Rounding, numerator: i128, denominator: i128) -> i128 {
    match rounding {
        Rounding::Down => numerator / denominator,
        Rounding::Up => (numerator + denominator - 1) / denominator,
        Rounding::Nearest => (2 * numerator + denominator) / (2 * denominator),
    }
}

/// Applies the limits in order (per event, then per member day, week, month, lifetime, then the
/// budget); each can only lower the points, so the last that lowered them is the one that binds.
fn cap(
    rule: &CompiledRule,
    points: i64,
    usage: &dyn Fn(&RuleRef) -> Usage,
) -> (i64, Option<&'static str>) {
    let l = &rule.doc.limits;
    let used = if rule.doc.has_limits_per_member() || l.budget.is_some() {
        usage(&rule.rule)
    } else {
        Usage::default()
    };
    let mut points = points;
    let mut by = None;
    for (name, limit, spent) in [
        ("per_event", l.per_event, 0),
        ("per_member.day", l.per_member_day, used.member_day),
        ("per_member.week", l.per_member_week, used.member_week),
        ("per_member.month", l.per_member_month, used.member_month),
        (
            "per_member.lifetime",
            l.per_member_lifetime,
            used.member_lifetime,
        ),
        ("budget", l.budget, used.total),
    ] {
        if let Some(limit) = limit {
            let remaining = limit.saturating_sub(spent).max(0);
            if points > remaining {
                points = remaining;
                by = Some(name);
            }
        }
    }
    (points, by)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::facts::{ItemFacts, MemberFacts, PurchaseFacts};
    use jiff::tz::TimeZone;
    use serde_json::json;

    /// Building only the parts of the context the rules read, and running simple expressions
    /// as native trees, decides exactly as the interpreter with the full context does: fields,
    /// whole objects, shadowing comprehension variables, errors.
    #[test]
    fn a_partial_context_decides_as_the_full_one() {
        let conditions = [
            "member == member",
            "[member, member].size() == 2",
            "(true ? purchase : purchase).total > 1.0",
            "purchase.items.exists(member, member.sku == 'sku-1')",
            "purchase.items.exists(i, i.brand == '' && i.amount > 1.0)",
            "has(member.attributes.level) && member.attributes.level > 2",
            "member.attributes.nope == 1",
            "has(member.tier) && member.tier == 'gold'",
            "time.date.startsWith('2026') && time.weekday >= 1 && event.trigger == 'purchase'",
            "member.is_birthday_month && member.birthday_month == 12",
            "size(purchase.items) == 3 && purchase.item_count > 0",
            "'vip' in member.segments && member.days_since_enrolment > 10",
            "has(purchase.location) && purchase.location == '' && purchase.total < 1.0",
            "member.tags.exists(t, t == member.id) || time.hour == 12",
        ];
        let mut docs: Vec<serde_json::Value> = conditions
            .iter()
            .map(|c| json!({"name": "r", "trigger": "purchase", "condition": c, "effect": {"bonus": 1}}))
            .collect();
        for (condition, points) in [
            ("item.sku != '' && purchase.total > 1.0", "item.quantity"),
            ("[item].size() == 1", "item.amount * 1.0"),
            ("item == item", "item.unit_price"),
            (
                "true",
                "purchase.items.filter(item, item.quantity > 1).size()",
            ),
            ("item.name == ''", "base_points * 2"),
            (
                "has(item.brand) && item.brand == 'ECM'",
                "item.quantity * 2",
            ),
        ] {
            docs.push(json!({"name": "i", "trigger": "purchase",
                "effect": {"per_item": {"condition": condition, "points": points}}}));
        }
        docs.push(
            json!({"name": "b", "trigger": "purchase", "effect": {"points": "base_points + 1"}}),
        );
        let tz = TimeZone::get("Europe/Warsaw").unwrap();
        let attributes = json!({"level": 3}).as_object().unwrap().clone();
        let (tags, segments) = (vec!["staff".to_owned()], vec!["vip".to_owned()]);
        let items: Vec<ItemFacts<'_>> = (0..3)
            .map(|i| ItemFacts {
                sku: ["sku-1", "sku-2", "sku-3"][i],
                name: None,
                category: Some("vinyl"),
                brand: (i == 1).then_some("ECM"),
                quantity: 1 + i as i64,
                unit_price_minor: 2599,
            })
            .collect();
        let event = Event {
            trigger: Trigger::Purchase,
            occurred_at: "2026-12-05T11:00:00Z".parse().unwrap(),
            time_zone: &tz,
            rounding: Rounding::Nearest,
            base_points: 130,
            custom: None,
            purchase: Some(PurchaseFacts {
                total_minor: 2599 * 6,
                minor_per_major: 100,
                currency: "PLN",
                channel: "pos",
                location: None,
                items: &items,
            }),
            member: MemberFacts {
                id: "mem_1",
                tier: Some("gold"),
                tags: &tags,
                segments: &segments,
                attributes: &attributes,
                enrolled_at: "2026-01-01T00:00:00Z".parse().unwrap(),
                birthday: Some(jiff::civil::date(1990, 12, 24)),
                purchases_before: 3,
            },
        };
        let usage = |_: &RuleRef| Usage::default();
        for (i, doc) in docs.iter().enumerate() {
            let compile = || {
                let doc = RuleDoc::parse(doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
                let rule = RuleRef {
                    id: format!("rule_{i}"),
                    version: 1,
                };
                RuleSet::compile(vec![(rule, doc)])
            };
            let partial = compile();
            assert_ne!(partial.needs, Needs::ALL, "{doc}");
            let mut full = compile().interpreter_only();
            full.needs = Needs::ALL;
            let expected = full.evaluate(&event, &usage);
            assert_eq!(partial.evaluate(&event, &usage), expected, "{doc}");
        }
    }
}
