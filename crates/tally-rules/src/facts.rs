//! What the caller tells the engine about an event, and how it becomes the CEL context
//! documented in [`crate::schema`].
//!
//! Facts borrow from the caller (no copies of names, tags or attributes), and the CEL values
//! built from them borrow too: strings become `CelString`s pointing into the caller's data, so
//! building the context for a 500-item purchase allocates the maps and lists, not the text.
//! Only the fields some expression of the rule set reads are built (see [`Needs`]).

use crate::doc::Trigger;
use cel::ExecutionError;
use cel::common::traits::Indexer;
use cel::common::types::{
    CelBool, CelDouble, CelInt, CelList, CelMap, CelMapKey, CelNull, CelString,
};
use cel::common::types::{MAP_TYPE, Type};
use cel::common::value::{CowVal, Val};
use jiff::Timestamp;
use jiff::civil::DateTime;
use jiff::tz::TimeZone;
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::sync::Arc;
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
    /// The custom event, for trigger event.
    pub custom: Option<CustomFacts<'a>>,
    pub member: MemberFacts<'a>,
}

/// A custom event: its declared type and its properties, already checked against the type.
pub struct CustomFacts<'a> {
    pub event_type: &'a str,
    pub properties: &'a Map<String, Value>,
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

/// `event.properties` of an event that is not a custom one (only reachable through `event`
/// used whole: the checker refuses `event.properties` for other triggers).
static NO_PROPERTIES: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);

fn int<'a>(v: i64) -> BoxVal<'a> {
    Box::new(CelInt::from(v))
}

fn double<'a>(v: f64) -> BoxVal<'a> {
    Box::new(CelDouble::from(v))
}

fn string<'a>(v: &'a str) -> BoxVal<'a> {
    Box::new(CelString::from(v))
}

fn strings<'a>(list: &'a [String]) -> BoxVal<'a> {
    Box::new(CelList::from(
        list.iter().map(|s| string(s)).collect::<Vec<_>>(),
    ))
}

/// Minor units as a double of major units; a non-positive divisor is taken as 100.
pub(crate) fn major(minor: i64, minor_per_major: i64) -> f64 {
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

/// The parts of the context some expression of a rule set reads, recorded by the checker: one
/// bit per documented field (`purchase.total`, `item.sku`, `base_points`, ...). Only those parts
/// are built per event; a root object used as a whole (not only through its fields) needs all
/// its fields. `purchase.items` holds whole items.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Needs(u64);

/// The fields, in bit order.
const PATHS: [&str; 34] = [
    "purchase.total",
    "purchase.total_minor",
    "purchase.currency",
    "purchase.channel",
    "purchase.location",
    "purchase.items",
    "purchase.item_count",
    "item.sku",
    "item.name",
    "item.category",
    "item.brand",
    "item.quantity",
    "item.unit_price",
    "item.amount",
    "base_points",
    "member.id",
    "member.tier",
    "member.tags",
    "member.segments",
    "member.attributes",
    "member.days_since_enrolment",
    "member.purchases_before",
    "member.birthday_month",
    "member.is_birthday_month",
    "time.hour",
    "time.minute",
    "time.weekday",
    "time.day",
    "time.month",
    "time.year",
    "time.date",
    "event.trigger",
    "event.type",
    "event.properties",
];

const fn bit(i: u32) -> u64 {
    1 << i
}

const PURCHASE_TOTAL: u64 = bit(0);
const PURCHASE_TOTAL_MINOR: u64 = bit(1);
const PURCHASE_CURRENCY: u64 = bit(2);
const PURCHASE_CHANNEL: u64 = bit(3);
const PURCHASE_LOCATION: u64 = bit(4);
const PURCHASE_ITEMS: u64 = bit(5);
const PURCHASE_ITEM_COUNT: u64 = bit(6);
const PURCHASE: u64 = bit(7) - 1;
const ITEM_SKU: u64 = bit(7);
const ITEM_NAME: u64 = bit(8);
const ITEM_CATEGORY: u64 = bit(9);
const ITEM_BRAND: u64 = bit(10);
const ITEM_QUANTITY: u64 = bit(11);
const ITEM_UNIT_PRICE: u64 = bit(12);
const ITEM_AMOUNT: u64 = bit(13);
const ITEM: u64 = (bit(14) - 1) & !PURCHASE;
const BASE_POINTS: u64 = bit(14);
const MEMBER_ID: u64 = bit(15);
const MEMBER_TIER: u64 = bit(16);
const MEMBER_TAGS: u64 = bit(17);
const MEMBER_SEGMENTS: u64 = bit(18);
const MEMBER_ATTRIBUTES: u64 = bit(19);
const MEMBER_DAYS: u64 = bit(20);
const MEMBER_PURCHASES_BEFORE: u64 = bit(21);
const MEMBER_BIRTHDAY_MONTH: u64 = bit(22);
const MEMBER_IS_BIRTHDAY_MONTH: u64 = bit(23);
const MEMBER: u64 = (bit(24) - 1) & !(bit(15) - 1);
const TIME_HOUR: u64 = bit(24);
const TIME_MINUTE: u64 = bit(25);
const TIME_WEEKDAY: u64 = bit(26);
const TIME_DAY: u64 = bit(27);
const TIME_MONTH: u64 = bit(28);
const TIME_YEAR: u64 = bit(29);
const TIME_DATE: u64 = bit(30);
const TIME: u64 = (bit(31) - 1) & !(bit(24) - 1);
const EVENT_TRIGGER: u64 = bit(31);
const EVENT_TYPE: u64 = bit(32);
const EVENT_PROPERTIES: u64 = bit(33);
const EVENT: u64 = (bit(34) - 1) & !(bit(31) - 1);
/// The object is used whole (compared, put in a list, ...), not only through its fields.
const WHOLE_PURCHASE: u64 = bit(40);
const WHOLE_ITEM: u64 = bit(41);
const WHOLE_MEMBER: u64 = bit(42);
const WHOLE_TIME: u64 = bit(43);
const WHOLE_EVENT: u64 = bit(44);

impl Needs {
    /// Everything: what a full context holds.
    pub(crate) const ALL: Needs = Needs(u64::MAX);

    /// A documented path: a field needs its bit, a root or object used as a whole all of its
    /// fields' bits. Unknown paths need nothing (the checker refuses them).
    pub(crate) fn path(path: &str) -> Needs {
        let mut bits = 0;
        for (i, p) in PATHS.iter().enumerate() {
            let whole = p
                .strip_prefix(path)
                .is_some_and(|rest| rest.is_empty() || rest.starts_with('.'));
            if whole {
                bits |= bit(i as u32);
            }
        }
        bits |= match path {
            "purchase" => WHOLE_PURCHASE,
            "item" => WHOLE_ITEM,
            "member" => WHOLE_MEMBER,
            "time" => WHOLE_TIME,
            "event" => WHOLE_EVENT,
            _ => 0,
        };
        Needs(bits)
    }

    pub(crate) fn union(self, other: Needs) -> Needs {
        Needs(self.0 | other.0)
    }

    fn has(self, bits: u64) -> bool {
        self.0 & bits != 0
    }

    /// Whether any bit of `other` is needed.
    pub(crate) fn reads(self, other: Needs) -> bool {
        self.has(other.0)
    }
}

/// An object with the fields `needs` selects: a CEL map when the object is used whole, else
/// [`Fields`].
struct Object<'a> {
    needs: Needs,
    whole: bool,
    fields: Vec<(&'static str, BoxVal<'a>)>,
}

impl<'a> Object<'a> {
    fn new(needs: Needs, fields: u64, whole: u64) -> Object<'a> {
        Object {
            needs,
            whole: needs.has(whole),
            fields: Vec::with_capacity((needs.0 & fields).count_ones() as usize),
        }
    }

    fn field(&mut self, bit: u64, name: &'static str, value: impl FnOnce() -> BoxVal<'a>) {
        if self.needs.has(bit) {
            self.fields.push((name, value()));
        }
    }

    fn build(self) -> BoxVal<'a> {
        if self.whole {
            let map: HashMap<CelMapKey<'a>, BoxVal<'a>> = self
                .fields
                .into_iter()
                .map(|(k, v)| (CelMapKey::from(k), v))
                .collect();
            Box::new(CelMap::from(map))
        } else {
            Box::new(Fields(self.fields))
        }
    }
}

/// An object no expression uses whole, only through `object.field` (and `has()`): its fields in
/// a short list, found by name, with nothing to hash. It answers field selection as the map it
/// stands for would; nothing else ever sees it.
#[derive(Debug)]
struct Fields<'a>(Vec<(&'static str, BoxVal<'a>)>);

impl Val for Fields<'_> {
    fn get_type(&self) -> &Type {
        &MAP_TYPE
    }

    fn cel_type() -> &'static Type {
        &MAP_TYPE
    }

    fn as_indexer<'b, 'w>(&'b self) -> Option<&'b (dyn Indexer + 'w)>
    where
        Self: 'w,
    {
        Some(self)
    }

    fn clone_as_boxed<'w>(&self) -> BoxVal<'w>
    where
        Self: 'w,
    {
        Box::new(Fields(
            self.0
                .iter()
                .map(|(k, v)| (*k, v.clone_as_boxed()))
                .collect(),
        ))
    }
}

impl Indexer for Fields<'_> {
    fn get<'b, 'w>(&'b self, key: &dyn Val) -> Result<CowVal<'b, 'w>, ExecutionError>
    where
        Self: 'w,
    {
        let name = key.downcast_ref::<CelString>().map(|s| s.inner());
        match self.0.iter().find(|(k, _)| Some(*k) == name) {
            Some((_, v)) => Ok(CowVal::Borrowed(v.as_ref())),
            None => Err(ExecutionError::NoSuchKey(Arc::new(
                name.unwrap_or_default().to_owned(),
            ))),
        }
    }

    fn steal<'w>(self: Box<Self>, key: &dyn Val) -> Result<BoxVal<'w>, ExecutionError>
    where
        Self: 'w,
    {
        self.get(key).map(CowVal::into_owned)
    }
}

impl PurchaseFacts<'_> {
    /// `purchase.item_count`: the sum of the quantities.
    pub(crate) fn item_count(&self) -> i64 {
        self.items
            .iter()
            .fold(0i64, |n, i| n.saturating_add(i.quantity))
    }
}

impl MemberFacts<'_> {
    /// `member.birthday_month`: 0 when the birthday is unknown.
    pub(crate) fn birthday_month(&self) -> i64 {
        self.birthday.map_or(0, |d| i64::from(d.month()))
    }
}

impl<'a> ItemFacts<'a> {
    /// `item.amount`: quantity × unit price, in major units.
    pub(crate) fn amount(&self, minor_per_major: i64) -> f64 {
        major(
            self.quantity.saturating_mul(self.unit_price_minor),
            minor_per_major,
        )
    }

    /// The item as the `item` object of the schema, with the fields `needs` selects.
    pub(crate) fn to_cel(&self, minor_per_major: i64, needs: Needs) -> BoxVal<'a> {
        let mut o = Object::new(needs, ITEM, WHOLE_ITEM);
        o.field(ITEM_SKU, "sku", || string(self.sku));
        o.field(ITEM_NAME, "name", || string(self.name.unwrap_or("")));
        o.field(ITEM_CATEGORY, "category", || {
            string(self.category.unwrap_or(""))
        });
        o.field(ITEM_BRAND, "brand", || string(self.brand.unwrap_or("")));
        o.field(ITEM_QUANTITY, "quantity", || int(self.quantity));
        o.field(ITEM_UNIT_PRICE, "unit_price", || {
            double(major(self.unit_price_minor, minor_per_major))
        });
        o.field(ITEM_AMOUNT, "amount", || {
            double(self.amount(minor_per_major))
        });
        o.build()
    }
}

impl<'a> Event<'a> {
    /// `member.days_since_enrolment`: whole days from enrolment to the event, at least 0.
    pub(crate) fn days_since_enrolment(&self) -> i64 {
        (self.occurred_at.as_second() - self.member.enrolled_at.as_second()).max(0) / 86_400
    }

    /// The root variables of the context, by name, with the parts `needs` selects. `local` is
    /// the event's local time.
    pub(crate) fn to_cel(
        &self,
        needs: Needs,
        local: &dyn Fn() -> DateTime,
    ) -> Vec<(&'static str, BoxVal<'a>)> {
        let mut roots = Vec::with_capacity(5);
        if needs.has(BASE_POINTS) {
            roots.push(("base_points", int(self.base_points)));
        }
        if needs.has(MEMBER) {
            let m = &self.member;
            let birthday_month = m.birthday_month();
            let mut o = Object::new(needs, MEMBER, WHOLE_MEMBER);
            o.field(MEMBER_ID, "id", || string(m.id));
            o.field(MEMBER_TIER, "tier", || string(m.tier.unwrap_or("")));
            o.field(MEMBER_TAGS, "tags", || strings(m.tags));
            o.field(MEMBER_SEGMENTS, "segments", || strings(m.segments));
            o.field(MEMBER_ATTRIBUTES, "attributes", || attributes(m.attributes));
            o.field(MEMBER_DAYS, "days_since_enrolment", || {
                int(self.days_since_enrolment())
            });
            o.field(MEMBER_PURCHASES_BEFORE, "purchases_before", || {
                int(m.purchases_before)
            });
            o.field(MEMBER_BIRTHDAY_MONTH, "birthday_month", || {
                int(birthday_month)
            });
            o.field(MEMBER_IS_BIRTHDAY_MONTH, "is_birthday_month", || {
                Box::new(CelBool::from(birthday_month == i64::from(local().month())))
            });
            roots.push(("member", o.build()));
        }
        if needs.has(TIME) {
            let local = local();
            let mut o = Object::new(needs, TIME, WHOLE_TIME);
            o.field(TIME_HOUR, "hour", || int(local.hour().into()));
            o.field(TIME_MINUTE, "minute", || int(local.minute().into()));
            o.field(TIME_WEEKDAY, "weekday", || {
                int(local.weekday().to_monday_one_offset().into())
            });
            o.field(TIME_DAY, "day", || int(local.day().into()));
            o.field(TIME_MONTH, "month", || int(local.month().into()));
            o.field(TIME_YEAR, "year", || int(local.year().into()));
            o.field(TIME_DATE, "date", || {
                Box::new(CelString::from(local.date().to_string()))
            });
            roots.push(("time", o.build()));
        }
        if needs.has(EVENT) {
            let custom = self.custom.as_ref();
            let mut o = Object::new(needs, EVENT, WHOLE_EVENT);
            o.field(EVENT_TRIGGER, "trigger", || string(self.trigger.as_str()));
            o.field(EVENT_TYPE, "type", || {
                string(custom.map_or("", |c| c.event_type))
            });
            o.field(EVENT_PROPERTIES, "properties", || {
                attributes(custom.map_or(&NO_PROPERTIES, |c| c.properties))
            });
            roots.push(("event", o.build()));
        }
        if let Some(p) = &self.purchase
            && needs.has(PURCHASE)
        {
            let mut o = Object::new(needs, PURCHASE, WHOLE_PURCHASE);
            o.field(PURCHASE_TOTAL, "total", || {
                double(major(p.total_minor, p.minor_per_major))
            });
            o.field(PURCHASE_TOTAL_MINOR, "total_minor", || int(p.total_minor));
            o.field(PURCHASE_CURRENCY, "currency", || string(p.currency));
            o.field(PURCHASE_CHANNEL, "channel", || string(p.channel));
            o.field(PURCHASE_LOCATION, "location", || {
                string(p.location.unwrap_or(""))
            });
            o.field(PURCHASE_ITEMS, "items", || {
                let items: Vec<BoxVal<'a>> = p
                    .items
                    .iter()
                    .map(|i| i.to_cel(p.minor_per_major, Needs::ALL))
                    .collect();
                Box::new(CelList::from(items))
            });
            o.field(PURCHASE_ITEM_COUNT, "item_count", || int(p.item_count()));
            roots.push(("purchase", o.build()));
        }
        roots
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_documented_field_has_its_bit() {
        for (path, ty, _) in crate::schema::schema() {
            let needs = Needs::path(path);
            assert_ne!(needs, Needs::default(), "{path}");
            if *ty != "object" {
                assert_eq!(needs.0.count_ones(), 1, "{path}");
                assert_eq!(needs.0 >> 40, 0, "{path}");
            }
        }
        assert_eq!(Needs::path("member").0, MEMBER | WHOLE_MEMBER);
        assert_eq!(Needs::path("time").0, TIME | WHOLE_TIME);
        assert_eq!(Needs::path("purchase").0, PURCHASE | WHOLE_PURCHASE);
        assert_eq!(Needs::path("event").0, EVENT | WHOLE_EVENT);
        assert_eq!(Needs::path("item").0, ITEM | WHOLE_ITEM);
        assert_eq!(Needs::path("purchase.item").0, 0);
        assert_eq!(Needs::path("member.tag").0, 0);
        assert_eq!(
            PATHS.len(),
            crate::schema::schema()
                .iter()
                .filter(|(_, ty, _)| *ty != "object")
                .count()
        );
    }
}
