//! What the caller tells the engine about an event, and how it becomes the CEL context
//! documented in [`crate::schema`].
//!
//! Facts borrow from the caller (no copies of names, tags or attributes), and the CEL values
//! built from them borrow too: strings become `CelString`s pointing into the caller's data, so
//! building the context for a 500-item purchase allocates the maps and lists, not the text.

use crate::doc::Trigger;
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString,
};
use cel::common::value::Val;
use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};
use std::collections::HashMap;
use tally_domain::program::Rounding;

/// One event to evaluate rules against.
pub struct Event<'a> {
    pub trigger: Trigger,
    pub occurred_at: Timestamp,
    /// The program's time zone: schedules, windows and `time.*` are local to it.
    pub time_zone: &'a TimeZone,
    pub rounding: Rounding,
    /// What the program's base earning gives (0 for enrolment).
    pub base_points: i64,
    pub purchase: Option<PurchaseFacts<'a>>,
    pub member: MemberFacts<'a>,
}

pub struct PurchaseFacts<'a> {
    pub total_minor: i64,
    /// 100 for PLN and EUR, 1 for JPY: converts minor units to the major units of `total`.
    pub minor_per_major: i64,
    pub currency: &'a str,
    pub channel: &'a str,
    pub location: Option<&'a str>,
    pub items: &'a [ItemFacts<'a>],
}

pub struct ItemFacts<'a> {
    pub sku: &'a str,
    pub name: Option<&'a str>,
    pub category: Option<&'a str>,
    pub brand: Option<&'a str>,
    pub quantity: i64,
    pub unit_price_minor: i64,
}

pub struct MemberFacts<'a> {
    pub id: &'a str,
    pub tier: Option<&'a str>,
    pub tags: &'a [String],
    pub segments: &'a [String],
    pub attributes: &'a Map<String, Value>,
    pub enrolled_at: Timestamp,
    pub birthday: Option<jiff::civil::Date>,
    /// Purchases recorded before this event.
    pub purchases_before: i64,
}

type BoxVal<'a> = Box<dyn Val + 'a>;

fn int<'a>(v: i64) -> BoxVal<'a> {
    Box::new(CelInt::from(v))
}

fn double<'a>(v: f64) -> BoxVal<'a> {
    Box::new(CelDouble::from(v))
}

fn string<'a>(v: &'a str) -> BoxVal<'a> {
    Box::new(CelString::from(v))
}

fn object<'a>(fields: Vec<(&'static str, BoxVal<'a>)>) -> BoxVal<'a> {
    let map: HashMap<CelMapKey<'a>, BoxVal<'a>> = fields
        .into_iter()
        .map(|(k, v)| (CelMapKey::from(k), v))
        .collect();
    Box::new(CelMap::from(map))
}

fn strings<'a>(list: &'a [String]) -> BoxVal<'a> {
    Box::new(CelList::from(
        list.iter().map(|s| string(s)).collect::<Vec<_>>(),
    ))
}

/// Minor units as a double of major units; a non-positive divisor is taken as 100.
fn major(minor: i64, minor_per_major: i64) -> f64 {
    let divisor = if minor_per_major > 0 {
        minor_per_major
    } else {
        100
    };
    minor as f64 / divisor as f64
}

/// JSON as CEL: integers stay ints, other numbers become doubles.
fn json<'a>(v: &'a Value) -> BoxVal<'a> {
    match v {
        Value::Null => Box::new(CelNull),
        Value::Bool(b) => Box::new(CelBool::from(*b)),
        Value::Number(n) => match n.as_i64() {
            Some(i) => int(i),
            None => double(n.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(s) => string(s),
        Value::Array(items) => Box::new(CelList::from(items.iter().map(json).collect::<Vec<_>>())),
        Value::Object(map) => attributes(map),
    }
}

fn attributes<'a>(map: &'a Map<String, Value>) -> BoxVal<'a> {
    let map: HashMap<CelMapKey<'a>, BoxVal<'a>> = map
        .iter()
        .map(|(k, v)| (CelMapKey::from(k.as_str()), json(v)))
        .collect();
    Box::new(CelMap::from(map))
}

impl<'a> ItemFacts<'a> {
    /// The item as the `item` object of the schema.
    pub(crate) fn to_cel(&self, minor_per_major: i64) -> BoxVal<'a> {
        let unit_price = major(self.unit_price_minor, minor_per_major);
        object(vec![
            ("sku", string(self.sku)),
            ("name", string(self.name.unwrap_or(""))),
            ("category", string(self.category.unwrap_or(""))),
            ("brand", string(self.brand.unwrap_or(""))),
            ("quantity", int(self.quantity)),
            ("unit_price", double(unit_price)),
            (
                "amount",
                double(major(
                    self.quantity.saturating_mul(self.unit_price_minor),
                    minor_per_major,
                )),
            ),
        ])
    }
}

impl<'a> Event<'a> {
    /// The root variables of the context, by name.
    pub(crate) fn to_cel(&self) -> Vec<(&'static str, BoxVal<'a>)> {
        let local = self.time_zone.to_datetime(self.occurred_at);
        let m = &self.member;
        let birthday_month = m.birthday.map_or(0, |d| i64::from(d.month()));
        let days = (self.occurred_at.as_second() - m.enrolled_at.as_second()).max(0) / 86_400;
        let mut roots = vec![
            ("base_points", int(self.base_points)),
            (
                "member",
                object(vec![
                    ("id", string(m.id)),
                    ("tier", string(m.tier.unwrap_or(""))),
                    ("tags", strings(m.tags)),
                    ("segments", strings(m.segments)),
                    ("attributes", attributes(m.attributes)),
                    ("days_since_enrolment", int(days)),
                    ("purchases_before", int(m.purchases_before)),
                    ("birthday_month", int(birthday_month)),
                    (
                        "is_birthday_month",
                        Box::new(CelBool::from(birthday_month == i64::from(local.month()))),
                    ),
                ]),
            ),
            (
                "time",
                object(vec![
                    ("hour", int(local.hour().into())),
                    ("minute", int(local.minute().into())),
                    (
                        "weekday",
                        int(local.weekday().to_monday_one_offset().into()),
                    ),
                    ("day", int(local.day().into())),
                    ("month", int(local.month().into())),
                    ("year", int(local.year().into())),
                    ("date", Box::new(CelString::from(local.date().to_string()))),
                ]),
            ),
            (
                "event",
                object(vec![("trigger", string(self.trigger.as_str()))]),
            ),
        ];
        if let Some(p) = &self.purchase {
            let items: Vec<BoxVal<'a>> = p
                .items
                .iter()
                .map(|i| i.to_cel(p.minor_per_major))
                .collect();
            let item_count = p
                .items
                .iter()
                .fold(0i64, |n, i| n.saturating_add(i.quantity));
            roots.push((
                "purchase",
                object(vec![
                    ("total", double(major(p.total_minor, p.minor_per_major))),
                    ("total_minor", int(p.total_minor)),
                    ("currency", string(p.currency)),
                    ("channel", string(p.channel)),
                    ("location", string(p.location.unwrap_or(""))),
                    ("items", Box::new(CelList::from(items))),
                    ("item_count", int(item_count)),
                ]),
            ));
        }
        roots
    }
}
