//! Simple expressions, evaluated without the CEL interpreter.
//!
//! Most conditions and formulas operators write are comparisons and arithmetic over fields:
//! `purchase.total >= 100.0`, `'vip' in member.tags`, `item.quantity * 10`. For those the
//! interpreter's work (a context of boxed values, dynamic dispatch per node) is most of the
//! cost of a rule, on the writer's path of every purchase. [`compile`] turns such an expression,
//! once it has passed the checker, into a small tree evaluated straight over the event's facts.
//!
//! The interpreter stays the definition. The tree covers literals, scalar fields, `!`, `-`,
//! `&&`, `||`, `?:`, comparison, arithmetic, `double()`, `int()`, `in` a list of strings or a
//! list literal, `contains`, `startsWith` and `endsWith`; anything else (macros, `has()`,
//! attributes, `size`, ...) is not compiled and runs in the interpreter. When the tree meets
//! an error (an overflow, a division by zero, a NaN ordered), it gives up and the caller runs
//! the interpreter, whose answer, error text included, is the rule's. So the tree only ever
//! answers where it computes what the interpreter computes; a property test in this module
//! checks that on generated expressions and events.

use crate::facts::{Event, ItemFacts, major};
use cel::common::ast::{Expr, IdedExpr, LiteralValue, operators as op};
use jiff::civil::DateTime;
use std::cell::OnceCell;
use std::cmp::Ordering;

/// A compiled simple expression.
#[derive(Debug)]
pub(crate) struct Native(Node);

#[derive(Debug)]
enum Node {
    Literal(Literal),
    Field(Field),
    Not(Box<Node>),
    Negate(Box<Node>),
    And(Box<Node>, Box<Node>),
    Or(Box<Node>, Box<Node>),
    Conditional(Box<Node>, Box<Node>, Box<Node>),
    Compare(Comparison, Box<Node>, Box<Node>),
    Arithmetic(Arith, Box<Node>, Box<Node>),
    ToDouble(Box<Node>),
    ToInt(Box<Node>),
    In(Box<Node>, List),
    Text(TextTest, Box<Node>, Box<Node>),
}

#[derive(Debug)]
enum Literal {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(String),
}

/// A comparison operator.
#[derive(Clone, Copy, Debug)]
enum Comparison {
    Equal,
    NotEqual,
    Less,
    LessOrEqual,
    Greater,
    GreaterOrEqual,
}

#[derive(Clone, Copy, Debug)]
enum Arith {
    Add,
    Subtract,
    Multiply,
    Divide,
    Modulo,
}

#[derive(Clone, Copy, Debug)]
enum TextTest {
    Contains,
    StartsWith,
    EndsWith,
}

#[derive(Debug)]
enum List {
    Tags,
    Segments,
    Literal(Vec<Node>),
}

/// The scalar fields of the context (see [`crate::schema`]).
#[derive(Clone, Copy, Debug)]
enum Field {
    PurchaseTotal,
    PurchaseTotalMinor,
    PurchaseCurrency,
    PurchaseChannel,
    PurchaseLocation,
    PurchaseItemCount,
    ItemSku,
    ItemName,
    ItemCategory,
    ItemBrand,
    ItemQuantity,
    ItemUnitPrice,
    ItemAmount,
    BasePoints,
    MemberId,
    MemberTier,
    MemberDaysSinceEnrolment,
    MemberPurchasesBefore,
    MemberBirthdayMonth,
    MemberIsBirthdayMonth,
    TimeHour,
    TimeMinute,
    TimeWeekday,
    TimeDay,
    TimeMonth,
    TimeYear,
    TimeDate,
    EventTrigger,
    EventType,
}

impl Field {
    fn of(root: &str, field: &str, item: bool) -> Option<Field> {
        use Field::*;
        Some(match (root, field) {
            ("purchase", "total") => PurchaseTotal,
            ("purchase", "total_minor") => PurchaseTotalMinor,
            ("purchase", "currency") => PurchaseCurrency,
            ("purchase", "channel") => PurchaseChannel,
            ("purchase", "location") => PurchaseLocation,
            ("purchase", "item_count") => PurchaseItemCount,
            ("item", _) if !item => return None,
            ("item", "sku") => ItemSku,
            ("item", "name") => ItemName,
            ("item", "category") => ItemCategory,
            ("item", "brand") => ItemBrand,
            ("item", "quantity") => ItemQuantity,
            ("item", "unit_price") => ItemUnitPrice,
            ("item", "amount") => ItemAmount,
            ("member", "id") => MemberId,
            ("member", "tier") => MemberTier,
            ("member", "days_since_enrolment") => MemberDaysSinceEnrolment,
            ("member", "purchases_before") => MemberPurchasesBefore,
            ("member", "birthday_month") => MemberBirthdayMonth,
            ("member", "is_birthday_month") => MemberIsBirthdayMonth,
            ("time", "hour") => TimeHour,
            ("time", "minute") => TimeMinute,
            ("time", "weekday") => TimeWeekday,
            ("time", "day") => TimeDay,
            ("time", "month") => TimeMonth,
            ("time", "year") => TimeYear,
            ("time", "date") => TimeDate,
            ("event", "trigger") => EventTrigger,
            ("event", "type") => EventType,
            _ => return None,
        })
    }
}

/// The tree for `e`, an expression the checker accepted, or `None` when some part of it is
/// left to the interpreter. `item` says whether `item` is in scope (a per_item effect).
pub(crate) fn compile(e: &IdedExpr, item: bool) -> Option<Native> {
    node(e, item).map(Native)
}

fn node(e: &IdedExpr, item: bool) -> Option<Node> {
    let boxed = |e: &IdedExpr| node(e, item).map(Box::new);
    match &e.expr {
        Expr::Literal(LiteralValue::Int(i)) => Some(Node::Literal(Literal::Int(*i.inner()))),
        Expr::Literal(LiteralValue::Double(d)) => Some(Node::Literal(Literal::Double(*d.inner()))),
        Expr::Literal(LiteralValue::Boolean(b)) => Some(Node::Literal(Literal::Bool(*b.inner()))),
        Expr::Literal(LiteralValue::String(s)) => {
            Some(Node::Literal(Literal::Str(s.inner().to_owned())))
        }
        Expr::Ident(name) if name == "base_points" => Some(Node::Field(Field::BasePoints)),
        Expr::Select(s) if !s.test => match &s.operand.expr {
            Expr::Ident(root) => Field::of(root, &s.field, item).map(Node::Field),
            _ => None,
        },
        Expr::Call(c) => {
            let name = c.func_name.as_str();
            match (name, c.target.as_deref(), c.args.as_slice()) {
                (op::LOGICAL_NOT, None, [a]) => Some(Node::Not(boxed(a)?)),
                (op::NEGATE, None, [a]) => Some(Node::Negate(boxed(a)?)),
                (op::LOGICAL_AND, None, [a, b]) => Some(Node::And(boxed(a)?, boxed(b)?)),
                (op::LOGICAL_OR, None, [a, b]) => Some(Node::Or(boxed(a)?, boxed(b)?)),
                (op::CONDITIONAL, None, [c, a, b]) => {
                    Some(Node::Conditional(boxed(c)?, boxed(a)?, boxed(b)?))
                }
                ("double", None, [a]) => Some(Node::ToDouble(boxed(a)?)),
                ("int", None, [a]) => Some(Node::ToInt(boxed(a)?)),
                (op::IN, None, [x, list]) => Some(Node::In(boxed(x)?, list_of(list, item)?)),
                ("contains" | "startsWith" | "endsWith", Some(t), [a]) => {
                    let test = match name {
                        "contains" => TextTest::Contains,
                        "startsWith" => TextTest::StartsWith,
                        _ => TextTest::EndsWith,
                    };
                    Some(Node::Text(test, boxed(t)?, boxed(a)?))
                }
                (_, None, [a, b]) => {
                    if let Some(o) = comparison(name) {
                        Some(Node::Compare(o, boxed(a)?, boxed(b)?))
                    } else {
                        Some(Node::Arithmetic(arithmetic(name)?, boxed(a)?, boxed(b)?))
                    }
                }
                _ => None,
            }
        }
        _ => None,
    }
}

fn comparison(name: &str) -> Option<Comparison> {
    Some(match name {
        op::EQUALS => Comparison::Equal,
        op::NOT_EQUALS => Comparison::NotEqual,
        op::LESS => Comparison::Less,
        op::LESS_EQUALS => Comparison::LessOrEqual,
        op::GREATER => Comparison::Greater,
        op::GREATER_EQUALS => Comparison::GreaterOrEqual,
        _ => return None,
    })
}

fn arithmetic(name: &str) -> Option<Arith> {
    Some(match name {
        op::ADD => Arith::Add,
        op::SUBSTRACT => Arith::Subtract,
        op::MULTIPLY => Arith::Multiply,
        op::DIVIDE => Arith::Divide,
        op::MODULO => Arith::Modulo,
        _ => return None,
    })
}

fn list_of(e: &IdedExpr, item: bool) -> Option<List> {
    match &e.expr {
        Expr::Select(s) if !s.test => match (&s.operand.expr, s.field.as_str()) {
            (Expr::Ident(root), "tags") if root == "member" => Some(List::Tags),
            (Expr::Ident(root), "segments") if root == "member" => Some(List::Segments),
            _ => None,
        },
        Expr::List(l) if l.optional_indices.is_empty() => l
            .elements
            .iter()
            .map(|e| node(e, item))
            .collect::<Option<Vec<_>>>()
            .map(List::Literal),
        _ => None,
    }
}

/// A value of the tree. Strings borrow from the event, the tree or the event's local date.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) enum Scalar<'v> {
    Int(i64),
    Double(f64),
    Bool(bool),
    Str(&'v str),
}

/// The tree could not answer: the interpreter decides.
#[derive(Debug)]
pub(crate) struct GiveUp;

type Answer<'v> = Result<Scalar<'v>, GiveUp>;

/// What one evaluation reads: the event, the item of a per_item effect, the local time.
pub(crate) struct Facts<'f, 'a> {
    pub(crate) event: &'f Event<'a>,
    pub(crate) item: Option<&'f ItemFacts<'a>>,
    pub(crate) local: &'f dyn Fn() -> DateTime,
    /// `time.date`, formatted once per event.
    pub(crate) date: &'f OnceCell<String>,
}

impl Native {
    pub(crate) fn eval<'v>(&'v self, facts: &'v Facts<'v, 'v>) -> Answer<'v> {
        self.0.eval(facts)
    }
}

impl Node {
    fn eval<'v>(&'v self, f: &'v Facts<'v, 'v>) -> Answer<'v> {
        match self {
            Node::Literal(l) => Ok(match l {
                Literal::Int(i) => Scalar::Int(*i),
                Literal::Double(d) => Scalar::Double(*d),
                Literal::Bool(b) => Scalar::Bool(*b),
                Literal::Str(s) => Scalar::Str(s),
            }),
            Node::Field(field) => field.read(f),
            Node::Not(a) => Ok(Scalar::Bool(!a.truth(f)?)),
            Node::Negate(a) => match a.eval(f)? {
                Scalar::Int(i) => i.checked_neg().map(Scalar::Int).ok_or(GiveUp),
                Scalar::Double(d) => Ok(Scalar::Double(-d)),
                _ => Err(GiveUp),
            },
            // The interpreter's short circuit; an error on either side is the interpreter's
            // to resolve (`error && false` is false there).
            Node::And(a, b) => Ok(Scalar::Bool(a.truth(f)? && b.truth(f)?)),
            Node::Or(a, b) => Ok(Scalar::Bool(a.truth(f)? || b.truth(f)?)),
            Node::Conditional(c, a, b) => {
                if c.truth(f)? {
                    a.eval(f)
                } else {
                    b.eval(f)
                }
            }
            Node::Compare(o, a, b) => compare(*o, a.eval(f)?, b.eval(f)?).map(Scalar::Bool),
            Node::Arithmetic(o, a, b) => arith(*o, a.eval(f)?, b.eval(f)?),
            Node::ToDouble(a) => match a.eval(f)? {
                Scalar::Int(i) => Ok(Scalar::Double(i as f64)),
                Scalar::Double(d) => Ok(Scalar::Double(d)),
                _ => Err(GiveUp),
            },
            Node::ToInt(a) => match a.eval(f)? {
                Scalar::Int(i) => Ok(Scalar::Int(i)),
                // The interpreter's range: (i64::MIN, i64::MAX) exclusive, NaN refused.
                Scalar::Double(d) if d > i64::MIN as f64 && d < i64::MAX as f64 => {
                    Ok(Scalar::Int(d as i64))
                }
                _ => Err(GiveUp),
            },
            Node::In(x, list) => {
                let x = x.eval(f)?;
                match list {
                    List::Tags => strings_contain(f.event.member.tags, x),
                    List::Segments => strings_contain(f.event.member.segments, x),
                    // The interpreter builds the whole list first: every element's error counts.
                    List::Literal(elements) => {
                        let values = elements
                            .iter()
                            .map(|e| e.eval(f))
                            .collect::<Result<Vec<_>, _>>()?;
                        let mut found = false;
                        for v in values {
                            found = found || equal(x, v)?;
                        }
                        Ok(Scalar::Bool(found))
                    }
                }
            }
            Node::Text(test, t, a) => match (t.eval(f)?, a.eval(f)?) {
                (Scalar::Str(t), Scalar::Str(a)) => Ok(Scalar::Bool(match test {
                    TextTest::Contains => t.contains(a),
                    TextTest::StartsWith => t.starts_with(a),
                    TextTest::EndsWith => t.ends_with(a),
                })),
                _ => Err(GiveUp),
            },
        }
    }

    fn truth<'v>(&'v self, f: &'v Facts<'v, 'v>) -> Result<bool, GiveUp> {
        match self.eval(f)? {
            Scalar::Bool(b) => Ok(b),
            _ => Err(GiveUp),
        }
    }
}

fn strings_contain<'v>(list: &[String], x: Scalar<'_>) -> Answer<'v> {
    match x {
        Scalar::Str(x) => Ok(Scalar::Bool(list.iter().any(|s| s == x))),
        _ => Err(GiveUp),
    }
}

/// As the interpreter orders values: ints and doubles across (the int as a double), strings
/// and bools among themselves; NaN is not ordered.
fn order(a: Scalar<'_>, b: Scalar<'_>) -> Result<Ordering, GiveUp> {
    match (a, b) {
        (Scalar::Int(a), Scalar::Int(b)) => Ok(a.cmp(&b)),
        (Scalar::Int(a), Scalar::Double(b)) => (a as f64).partial_cmp(&b).ok_or(GiveUp),
        (Scalar::Double(a), Scalar::Int(b)) => a.partial_cmp(&(b as f64)).ok_or(GiveUp),
        (Scalar::Double(a), Scalar::Double(b)) => a.partial_cmp(&b).ok_or(GiveUp),
        (Scalar::Str(a), Scalar::Str(b)) => Ok(a.cmp(b)),
        (Scalar::Bool(a), Scalar::Bool(b)) => Ok(a.cmp(&b)),
        _ => Err(GiveUp),
    }
}

/// Equality as the interpreter's: numbers that cannot be ordered (NaN) are not equal.
fn equal(a: Scalar<'_>, b: Scalar<'_>) -> Result<bool, GiveUp> {
    let number = |s: Scalar<'_>| matches!(s, Scalar::Int(_) | Scalar::Double(_));
    match order(a, b) {
        Ok(o) => Ok(o == Ordering::Equal),
        Err(GiveUp) if number(a) && number(b) => Ok(false),
        Err(GiveUp) => Err(GiveUp),
    }
}

fn compare(o: Comparison, a: Scalar<'_>, b: Scalar<'_>) -> Result<bool, GiveUp> {
    Ok(match o {
        Comparison::Equal => equal(a, b)?,
        Comparison::NotEqual => !equal(a, b)?,
        Comparison::Less => order(a, b)? == Ordering::Less,
        Comparison::LessOrEqual => order(a, b)? != Ordering::Greater,
        Comparison::Greater => order(a, b)? == Ordering::Greater,
        Comparison::GreaterOrEqual => order(a, b)? != Ordering::Less,
    })
}

/// Ints with the interpreter's overflow checks, doubles as IEEE; no mixing (the checker
/// refuses it, the interpreter errs).
fn arith<'v>(o: Arith, a: Scalar<'v>, b: Scalar<'v>) -> Answer<'v> {
    match (a, b) {
        (Scalar::Int(a), Scalar::Int(b)) => match o {
            Arith::Add => a.checked_add(b),
            Arith::Subtract => a.checked_sub(b),
            Arith::Multiply => a.checked_mul(b),
            Arith::Divide => a.checked_div(b),
            Arith::Modulo => a.checked_rem(b),
        }
        .map(Scalar::Int)
        .ok_or(GiveUp),
        (Scalar::Double(a), Scalar::Double(b)) => match o {
            Arith::Add => Ok(Scalar::Double(a + b)),
            Arith::Subtract => Ok(Scalar::Double(a - b)),
            Arith::Multiply => Ok(Scalar::Double(a * b)),
            Arith::Divide => Ok(Scalar::Double(a / b)),
            Arith::Modulo => Err(GiveUp),
        },
        _ => Err(GiveUp),
    }
}

impl Field {
    /// The field's value, as the context of [`Event::to_cel`] holds it.
    fn read<'v>(self, f: &'v Facts<'v, 'v>) -> Answer<'v> {
        use Field::*;
        let e = f.event;
        let m = &e.member;
        let purchase = || e.purchase.as_ref().ok_or(GiveUp);
        let item = || f.item.ok_or(GiveUp);
        let int = |i: i64| Ok(Scalar::Int(i));
        let text = |s: Option<&'v str>| Ok(Scalar::Str(s.unwrap_or("")));
        match self {
            PurchaseTotal => {
                let p = purchase()?;
                Ok(Scalar::Double(major(p.total_minor, p.minor_per_major)))
            }
            PurchaseTotalMinor => int(purchase()?.total_minor),
            PurchaseCurrency => text(Some(purchase()?.currency)),
            PurchaseChannel => text(Some(purchase()?.channel)),
            PurchaseLocation => text(purchase()?.location),
            PurchaseItemCount => int(purchase()?.item_count()),
            ItemSku => text(Some(item()?.sku)),
            ItemName => text(item()?.name),
            ItemCategory => text(item()?.category),
            ItemBrand => text(item()?.brand),
            ItemQuantity => int(item()?.quantity),
            ItemUnitPrice => {
                let minor_per_major = purchase()?.minor_per_major;
                Ok(Scalar::Double(major(
                    item()?.unit_price_minor,
                    minor_per_major,
                )))
            }
            ItemAmount => {
                let minor_per_major = purchase()?.minor_per_major;
                Ok(Scalar::Double(item()?.amount(minor_per_major)))
            }
            BasePoints => int(e.base_points),
            MemberId => text(Some(m.id)),
            MemberTier => text(m.tier),
            MemberDaysSinceEnrolment => int(e.days_since_enrolment()),
            MemberPurchasesBefore => int(m.purchases_before),
            MemberBirthdayMonth => int(m.birthday_month()),
            MemberIsBirthdayMonth => Ok(Scalar::Bool(
                m.birthday_month() == i64::from((f.local)().month()),
            )),
            TimeHour => int((f.local)().hour().into()),
            TimeMinute => int((f.local)().minute().into()),
            TimeWeekday => int((f.local)().weekday().to_monday_one_offset().into()),
            TimeDay => int((f.local)().day().into()),
            TimeMonth => int((f.local)().month().into()),
            TimeYear => int((f.local)().year().into()),
            TimeDate => Ok(Scalar::Str(
                f.date.get_or_init(|| (f.local)().date().to_string()),
            )),
            EventTrigger => text(Some(e.trigger.as_str())),
            EventType => text(e.custom.as_ref().map(|c| c.event_type)),
        }
    }
}

#[cfg(test)]
mod tests;
