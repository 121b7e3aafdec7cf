//! The native tree agrees with the interpreter: on generated expressions of the simple subset
//! and generated events, wherever the tree answers, the interpreter gives the same value.

use super::*;
use crate::check::{self, ENV, Want};
use crate::doc::Trigger;
use crate::facts::{ItemFacts, MemberFacts, Needs, PurchaseFacts};
use cel::common::value::{CowVal, Val};
use cel::context::VariableResolver;
use cel::{Context, Value};
use jiff::tz::TimeZone;
use serde_json::Map;
use tally_domain::program::Rounding;

/// A small deterministic generator (xorshift), so a failure names its case.
struct Dice(u64);

impl Dice {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    fn pick<'x>(&mut self, from: &[&'x str]) -> &'x str {
        from[self.below(from.len())]
    }
}

const INT_LITERALS: &[&str] = &[
    "0",
    "1",
    "2",
    "-3",
    "10",
    "100",
    "9223372036854775807",
    "-9223372036854775807",
];
const DOUBLE_LITERALS: &[&str] = &["0.0", "0.5", "2.0", "-1.5", "100.0", "1e300", "-0.0"];
const STRING_LITERALS: &[&str] = &[
    "''",
    "'vip'",
    "'pos'",
    "'vinyl'",
    "'Blue Note'",
    "'2026'",
    "'PLN'",
    "'gold'",
];
/// The documented fields of a scalar type ("int", "double", "string", "bool"), with those of
/// `item` only in a per_item effect; `event.type` exists only for trigger event.
fn fields(ty: &str, item: bool) -> Vec<&'static str> {
    crate::schema::schema()
        .iter()
        .filter(|(path, t, _)| *t == ty && *path != "event.type")
        .filter(|(path, _, _)| item || !path.starts_with("item."))
        .map(|(path, _, _)| *path)
        .collect()
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Int,
    Double,
    Str,
    Bool,
}

fn expression(d: &mut Dice, kind: Kind, depth: u32, item: bool) -> String {
    let leaf = depth == 0 || d.below(3) == 0;
    match kind {
        Kind::Int if leaf => match d.below(3) {
            0 => d.pick(INT_LITERALS).to_owned(),
            _ => d.pick(&fields("int", item)).to_owned(),
        },
        Kind::Int => match d.below(7) {
            0 => format!("-({})", expression(d, Kind::Int, depth - 1, item)),
            1 => format!("int({})", expression(d, Kind::Double, depth - 1, item)),
            6 => format!("int({})", expression(d, Kind::Int, depth - 1, item)),
            2 => format!(
                "({} ? {} : {})",
                expression(d, Kind::Bool, depth - 1, item),
                expression(d, Kind::Int, depth - 1, item),
                expression(d, Kind::Int, depth - 1, item)
            ),
            _ => format!(
                "({} {} {})",
                expression(d, Kind::Int, depth - 1, item),
                d.pick(&["+", "-", "*", "/", "%"]),
                expression(d, Kind::Int, depth - 1, item)
            ),
        },
        Kind::Double if leaf => match d.below(3) {
            0 => d.pick(DOUBLE_LITERALS).to_owned(),
            _ => d.pick(&fields("double", item)).to_owned(),
        },
        Kind::Double => match d.below(5) {
            0 => format!("-({})", expression(d, Kind::Double, depth - 1, item)),
            1 => format!("double({})", expression(d, Kind::Int, depth - 1, item)),
            4 => format!("double({})", expression(d, Kind::Double, depth - 1, item)),
            _ => format!(
                "({} {} {})",
                expression(d, Kind::Double, depth - 1, item),
                d.pick(&["+", "-", "*", "/"]),
                expression(d, Kind::Double, depth - 1, item)
            ),
        },
        Kind::Str if !leaf && d.below(4) == 0 => format!(
            "({} ? {} : {})",
            expression(d, Kind::Bool, depth - 1, item),
            expression(d, Kind::Str, depth - 1, item),
            expression(d, Kind::Str, depth - 1, item)
        ),
        Kind::Str => match d.below(3) {
            0 => d.pick(STRING_LITERALS).to_owned(),
            _ => d.pick(&fields("string", item)).to_owned(),
        },
        Kind::Bool if leaf => match d.below(3) {
            0 => d.pick(&["true", "false"]).to_owned(),
            _ => d.pick(&fields("bool", item)).to_owned(),
        },
        Kind::Bool => match d.below(9) {
            0 => format!("!({})", expression(d, Kind::Bool, depth - 1, item)),
            1 | 2 => format!(
                "({} {} {})",
                expression(d, Kind::Bool, depth - 1, item),
                d.pick(&["&&", "||", "==", "!="]),
                expression(d, Kind::Bool, depth - 1, item)
            ),
            3 => format!(
                "({} in {})",
                expression(d, Kind::Str, depth - 1, item),
                d.pick(&["member.tags", "member.segments", "['vip', 'pos', '']"])
            ),
            4 => format!(
                "({} in [1, 2.5, {}])",
                expression(d, Kind::Int, depth - 1, item),
                expression(d, Kind::Double, depth - 1, item)
            ),
            5 => format!(
                "{}.{}({})",
                expression(d, Kind::Str, depth - 1, item),
                d.pick(&["contains", "startsWith", "endsWith"]),
                expression(d, Kind::Str, depth - 1, item)
            ),
            _ => {
                let (a, b) = match d.below(6) {
                    0 => (Kind::Int, Kind::Int),
                    1 => (Kind::Int, Kind::Double),
                    2 => (Kind::Double, Kind::Int),
                    3 => (Kind::Double, Kind::Double),
                    4 => (Kind::Bool, Kind::Bool),
                    _ => (Kind::Str, Kind::Str),
                };
                format!(
                    "({} {} {})",
                    expression(d, a, depth - 1, item),
                    d.pick(&["==", "!=", "<", "<=", ">", ">="]),
                    expression(d, b, depth - 1, item)
                )
            }
        },
    }
}

/// The interpreter's value of `source` for the event, with the full context.
fn interpret(source: &str, item: bool, event: &Event<'_>, want: Want) -> Result<Value, String> {
    let program = check::compile(source, event.trigger, item, want)?;
    let local = || event.time_zone.to_datetime(event.occurred_at);
    let root = Context::with_env(ENV.clone());
    let mut scope = root.new_inner_scope();
    for (name, value) in event.to_cel(Needs::ALL, &local) {
        scope.add_variable_as_val(name, value);
    }
    let purchase = event.purchase.as_ref().expect("a purchase");
    let value = purchase.items[0].to_cel(purchase.minor_per_major, Needs::ALL);
    struct ItemVar<'x, 'a>(&'x (dyn Val + 'a));
    impl VariableResolver for ItemVar<'_, '_> {
        fn resolve<'b>(&'b self, variable: &str) -> Option<CowVal<'b, 'b>> {
            (variable == "item").then_some(CowVal::Borrowed(self.0))
        }
    }
    let var = ItemVar(value.as_ref());
    let mut inner = scope.new_inner_scope();
    if item {
        inner.set_variable_resolver(&var);
    }
    program.execute(&inner).map_err(|e| e.to_string())
}

fn same(native: Scalar<'_>, interpreted: &Value) -> bool {
    match (native, interpreted) {
        (Scalar::Int(a), Value::Int(b)) => a == *b,
        (Scalar::Double(a), Value::Float(b)) => {
            a.to_bits() == b.to_bits() || (a.is_nan() && b.is_nan())
        }
        (Scalar::Bool(a), Value::Bool(b)) => a == *b,
        _ => false,
    }
}

#[test]
fn the_tree_answers_as_the_interpreter_does() {
    let tz = TimeZone::get("Europe/Warsaw").unwrap();
    let attributes = Map::new();
    let mut dice = Dice(0x7a11_2026_1205);
    let (mut answered, mut gave_up, mut compiled) = (0, 0, 0);
    for case in 0..4000 {
        let quantity = [1, 3, 0, i64::MAX / 2][dice.below(4)];
        let price = [2599, 0, 1, 10_000_000][dice.below(4)];
        let items = [ItemFacts {
            sku: ["sku-1", ""][dice.below(2)],
            name: [None, Some("Kind of Blue")][dice.below(2)],
            category: [Some("vinyl"), None, Some("cd")][dice.below(3)],
            brand: [Some("Blue Note"), None][dice.below(2)],
            quantity,
            unit_price_minor: price,
        }];
        let tags = [
            vec![],
            vec!["vip".to_owned()],
            vec!["pos".to_owned(), "".to_owned()],
        ][dice.below(3)]
        .clone();
        let segments = [vec![], vec!["vip".to_owned()]][dice.below(2)].clone();
        let event = Event {
            trigger: Trigger::Purchase,
            occurred_at: jiff::Timestamp::from_second(
                1_700_000_000 + dice.below(60_000_000) as i64,
            )
            .unwrap(),
            time_zone: &tz,
            rounding: Rounding::Nearest,
            base_points: [0, 41, -5, i64::MAX][dice.below(4)],
            custom: None,
            purchase: Some(PurchaseFacts {
                total_minor: [4550, 0, 10_000, i64::MAX][dice.below(4)],
                minor_per_major: [100, 1][dice.below(2)],
                currency: "PLN",
                channel: ["pos", "online"][dice.below(2)],
                location: [None, Some("loc_1")][dice.below(2)],
                items: &items,
            }),
            member: MemberFacts {
                id: "mem_1",
                tier: [None, Some("gold")][dice.below(2)],
                tags: &tags,
                segments: &segments,
                attributes: &attributes,
                enrolled_at: "2023-11-05T11:00:00Z".parse().unwrap(),
                birthday: [None, Some(jiff::civil::date(1990, 12, 24))][dice.below(2)],
                purchases_before: dice.below(3) as i64,
            },
        };
        let item = dice.below(2) == 0;
        let (kind, want) = [
            (Kind::Bool, Want::Bool),
            (Kind::Int, Want::Points),
            (Kind::Double, Want::Points),
        ][dice.below(3)];
        let source = expression(&mut dice, kind, 4, item);
        let program = check::compile(&source, Trigger::Purchase, item, want)
            .unwrap_or_else(|e| panic!("case {case}: the checker refused {source}: {e}"));
        let Some(tree) = compile(program.expression(), item) else {
            panic!("case {case}: {source} is simple but has no tree");
        };
        compiled += 1;
        let date = OnceCell::new();
        let local = || event.time_zone.to_datetime(event.occurred_at);
        let facts = Facts {
            event: &event,
            item: item.then(|| &items[0]),
            local: &local,
            date: &date,
        };
        let interpreted = interpret(&source, item, &event, want);
        match tree.eval(&facts) {
            Ok(value) => {
                answered += 1;
                let interpreted = interpreted.unwrap_or_else(|e| {
                    panic!("case {case}: {source}: tree {value:?}, interpreter error {e}")
                });
                assert!(
                    same(value, &interpreted),
                    "case {case}: {source}: tree {value:?}, interpreter {interpreted:?}"
                );
            }
            Err(GiveUp) => gave_up += 1,
        }
    }
    assert_eq!(compiled, 4000);
    // Overflows and NaNs make the tree give up on some cases, not on most.
    assert!(
        answered > 2 * gave_up,
        "answered {answered}, gave up {gave_up}"
    );
}

#[test]
fn what_the_tree_does_not_cover_is_left_to_the_interpreter() {
    for source in [
        "has(member.attributes.level)",
        "member.attributes.level > 2",
        "purchase.items.exists(i, i.sku == 'x')",
        "size(member.tags) > 0",
        "purchase.items[0].quantity > 1",
        "string(purchase.total_minor) == '1'",
        "member.tags == ['vip']",
    ] {
        let program = check::compile(source, Trigger::Purchase, false, Want::Bool)
            .unwrap_or_else(|e| panic!("{source}: {e}"));
        assert!(compile(program.expression(), false).is_none(), "{source}");
    }
    for source in [
        "purchase.total >= 100.0",
        "'vip' in member.tags",
        "!member.is_birthday_month",
    ] {
        let program = check::compile(source, Trigger::Purchase, false, Want::Bool).unwrap();
        assert!(compile(program.expression(), false).is_some(), "{source}");
    }
}
