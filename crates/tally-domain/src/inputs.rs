//! Parsing untrusted JSON into commands. Each parser walks the request, collects every invalid
//! field with its JSON pointer, refuses unknown fields (a typo such as `ammount` must not be
//! silently ignored), and returns a command whose fields are already valid.

use crate::Timestamp;
use crate::card::parse_card_number;
use crate::error::{DomainError, Fields};
use crate::ids::{LocationId, MemberId, RewardId};
use crate::model::{Channel, MemberStatus, SalesChannel};
use crate::money::{Currency, Money};
use crate::points::Points;
use crate::program::{EarningRule, NegativeBalancePolicy, Rounding};
use crate::text::{Email, Locale, Phone, TimeZoneName, bounded_text};
use serde_json::{Map, Value};

pub const MAX_LINES: usize = 500;
pub const MAX_TAGS: usize = 50;
pub const MAX_ATTRIBUTES: usize = 50;
const NAME_CHARS: usize = 200;
const ID_CHARS: usize = 128;
const LONG_TEXT_CHARS: usize = 2000;

/// A JSON object being read, with the pointer of where it sits in the request.
pub struct Obj<'a> {
    map: &'a Map<String, Value>,
    path: String,
}

impl<'a> Obj<'a> {
    pub fn root(value: &'a Value) -> Result<Obj<'a>, DomainError> {
        match value {
            Value::Object(map) => Ok(Obj {
                map,
                path: String::new(),
            }),
            _ => Err(DomainError::invalid(
                "",
                "the request body must be a JSON object",
            )),
        }
    }

    fn pointer(&self, key: &str) -> String {
        format!("{}/{}", self.path, key)
    }

    /// Refuses keys not in `known`.
    pub fn only(&self, f: &mut Fields, known: &[&str]) {
        for key in self.map.keys() {
            if !known.contains(&key.as_str()) {
                f.push(
                    self.pointer(key),
                    format!(
                        "is not a known field (expected one of: {})",
                        known.join(", ")
                    ),
                );
            }
        }
    }

    /// A required field; a missing or `null` value is an error.
    pub fn req<T>(
        &self,
        f: &mut Fields,
        key: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.map.get(key) {
            None | Some(Value::Null) => {
                f.push(self.pointer(key), "is required");
                None
            }
            Some(v) => f.take(&self.pointer(key), parse(v)),
        }
    }

    /// An optional field; absent and `null` both mean "not given".
    pub fn opt<T>(
        &self,
        f: &mut Fields,
        key: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<T> {
        match self.map.get(key) {
            None | Some(Value::Null) => None,
            Some(v) => f.take(&self.pointer(key), parse(v)),
        }
    }

    /// For patches: `None` when absent, `Some(None)` for an explicit `null` (clear the field).
    pub fn patch<T>(
        &self,
        f: &mut Fields,
        key: &str,
        parse: impl FnOnce(&Value) -> Result<T, String>,
    ) -> Option<Option<T>> {
        match self.map.get(key) {
            None => None,
            Some(Value::Null) => Some(None),
            Some(v) => f.take(&self.pointer(key), parse(v)).map(Some),
        }
    }

    pub fn has(&self, key: &str) -> bool {
        self.map.contains_key(key)
    }

    /// A nested object; errors inside it carry its pointer.
    pub fn obj(&self, f: &mut Fields, key: &str, required: bool) -> Option<Obj<'a>> {
        match self.map.get(key) {
            Some(Value::Object(map)) => Some(Obj {
                map,
                path: self.pointer(key),
            }),
            None | Some(Value::Null) if !required => None,
            None | Some(Value::Null) => {
                f.push(self.pointer(key), "is required");
                None
            }
            Some(_) => {
                f.push(self.pointer(key), "must be an object");
                None
            }
        }
    }

    /// A nested array of objects, bounded to `max` items.
    pub fn objects(&self, f: &mut Fields, key: &str, max: usize) -> Vec<Obj<'a>> {
        match self.map.get(key) {
            None | Some(Value::Null) => Vec::new(),
            Some(Value::Array(items)) if items.len() > max => {
                f.push(self.pointer(key), format!("must have at most {max} items"));
                Vec::new()
            }
            Some(Value::Array(items)) => items
                .iter()
                .enumerate()
                .filter_map(|(i, item)| match item {
                    Value::Object(map) => Some(Obj {
                        map,
                        path: format!("{}/{i}", self.pointer(key)),
                    }),
                    _ => {
                        f.push(format!("{}/{i}", self.pointer(key)), "must be an object");
                        None
                    }
                })
                .collect(),
            Some(_) => {
                f.push(self.pointer(key), "must be an array");
                Vec::new()
            }
        }
    }
}

// ---- value parsers -------------------------------------------------------------------------

pub fn string(v: &Value) -> Result<&str, String> {
    v.as_str().ok_or_else(|| "must be a string".to_owned())
}

pub fn text(max_chars: usize) -> impl Fn(&Value) -> Result<String, String> {
    move |v| bounded_text(string(v)?, max_chars)
}

pub fn int(min: i64, max: i64) -> impl Fn(&Value) -> Result<i64, String> {
    move |v| match v.as_i64() {
        Some(n) if (min..=max).contains(&n) => Ok(n),
        Some(_) => Err(format!("must be between {min} and {max}")),
        None if v.is_number() => Err(format!("must be a whole number between {min} and {max}")),
        None => Err("must be a number".into()),
    }
}

pub fn boolean(v: &Value) -> Result<bool, String> {
    v.as_bool()
        .ok_or_else(|| "must be true or false".to_owned())
}

pub fn timestamp(v: &Value) -> Result<Timestamp, String> {
    string(v)?
        .parse::<Timestamp>()
        .map_err(|_| "must be an RFC 3339 timestamp such as 2026-05-01T12:00:00Z".to_owned())
}

pub fn date(v: &Value) -> Result<jiff::civil::Date, String> {
    let raw = string(v)?;
    if raw.len() != 10 {
        return Err("must be a date such as 1990-02-28".into());
    }
    raw.parse::<jiff::civil::Date>()
        .map_err(|_| "must be a date such as 1990-02-28".to_owned())
}

pub fn currency(v: &Value) -> Result<Currency, String> {
    Currency::parse(string(v)?)
}

pub fn email(v: &Value) -> Result<Email, String> {
    Email::parse(string(v)?)
}

pub fn phone(v: &Value) -> Result<Phone, String> {
    Phone::parse(string(v)?)
}

pub fn identifier(v: &Value) -> Result<String, String> {
    let raw = string(v)?;
    if raw.is_empty()
        || raw.len() > ID_CHARS
        || raw.chars().any(|c| c.is_control() || c.is_whitespace())
    {
        return Err(format!("must be 1 to {ID_CHARS} characters without spaces"));
    }
    Ok(raw.to_owned())
}

fn tag(raw: &str) -> Result<String, String> {
    let ok = !raw.is_empty()
        && raw.len() <= 64
        && raw
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b':'));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "tag `{raw}` must be 1 to 64 letters, digits, '-', '_' or ':'"
        ))
    }
}

pub fn tags(v: &Value) -> Result<Vec<String>, String> {
    let items = v.as_array().ok_or("must be an array of strings")?;
    if items.len() > MAX_TAGS {
        return Err(format!("must have at most {MAX_TAGS} tags"));
    }
    let mut out: Vec<String> = items
        .iter()
        .map(|t| tag(string(t)?))
        .collect::<Result<_, _>>()?;
    out.sort();
    out.dedup();
    Ok(out)
}

pub fn attributes(v: &Value) -> Result<Map<String, Value>, String> {
    let map = v.as_object().ok_or("must be an object")?;
    if map.len() > MAX_ATTRIBUTES {
        return Err(format!("must have at most {MAX_ATTRIBUTES} attributes"));
    }
    if serde_json::to_string(map).map_or(0, |s| s.len()) > 8192 {
        return Err("must be at most 8 KiB of JSON".into());
    }
    Ok(map.clone())
}

fn parse_with<T>(parse: fn(&str) -> Result<T, String>) -> impl Fn(&Value) -> Result<T, String> {
    move |v| parse(string(v)?)
}

// ---- commands ------------------------------------------------------------------------------

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

/// Names a member in a request: by id, by the merchant's own id, or by card number.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MemberRef {
    Id(MemberId),
    ExternalId(String),
    CardNumber(String),
}

impl MemberRef {
    fn parse(o: &Obj<'_>, f: &mut Fields) -> Option<MemberRef> {
        o.only(f, &["id", "external_id", "card_number"]);
        let given = ["id", "external_id", "card_number"]
            .iter()
            .filter(|k| o.has(k))
            .count();
        if given != 1 {
            f.push(
                o.path.clone(),
                "must name the member by exactly one of id, external_id or card_number",
            );
            return None;
        }
        if o.has("id") {
            o.req(f, "id", parse_with(MemberId::parse))
                .map(MemberRef::Id)
        } else if o.has("external_id") {
            o.req(f, "external_id", identifier)
                .map(MemberRef::ExternalId)
        } else {
            o.req(f, "card_number", parse_with(parse_card_number))
                .map(MemberRef::CardNumber)
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct ConsentInput {
    pub channel: Channel,
    pub granted: bool,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewMember {
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<Email>,
    pub phone: Option<Phone>,
    pub birthday: Option<jiff::civil::Date>,
    pub locale: Option<Locale>,
    pub time_zone: Option<TimeZoneName>,
    pub preferred_channel: Option<Channel>,
    pub consents: Vec<ConsentInput>,
    pub attributes: Map<String, Value>,
    pub tags: Vec<String>,
}

const MEMBER_FIELDS: &[&str] = &[
    "external_id",
    "name",
    "email",
    "phone",
    "birthday",
    "locale",
    "time_zone",
    "preferred_channel",
    "consents",
    "attributes",
    "tags",
];

fn consents(o: &Obj<'_>, f: &mut Fields) -> Vec<ConsentInput> {
    let Some(c) = o.obj(f, "consents", false) else {
        return Vec::new();
    };
    let mut out = Vec::new();
    for key in c.map.keys() {
        match Channel::parse(key) {
            Ok(channel) => {
                if let Some(granted) = c.req(f, key, boolean) {
                    out.push(ConsentInput { channel, granted });
                }
            }
            Err(message) => f.push(c.pointer(key), message),
        }
    }
    out
}

fn birthday(v: &Value) -> Result<jiff::civil::Date, String> {
    let d = date(v)?;
    if d.year() < 1900 {
        Err("must be after 1900".into())
    } else {
        Ok(d)
    }
}

impl NewMember {
    pub fn parse(body: &Value) -> Result<NewMember, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, MEMBER_FIELDS);
        let member = NewMember {
            external_id: o.opt(&mut f, "external_id", identifier),
            name: o.opt(&mut f, "name", text(NAME_CHARS)),
            email: o.opt(&mut f, "email", email),
            phone: o.opt(&mut f, "phone", phone),
            birthday: o.opt(&mut f, "birthday", birthday),
            locale: o.opt(&mut f, "locale", parse_with(Locale::parse)),
            time_zone: o.opt(&mut f, "time_zone", parse_with(TimeZoneName::parse)),
            preferred_channel: o.opt(&mut f, "preferred_channel", parse_with(Channel::parse)),
            consents: consents(&o, &mut f),
            attributes: o.opt(&mut f, "attributes", attributes).unwrap_or_default(),
            tags: o.opt(&mut f, "tags", tags).unwrap_or_default(),
        };
        f.finish()?;
        Ok(member)
    }
}

/// A change to a member's profile. `None`: leave as is; `Some(None)`: clear.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MemberPatch {
    pub external_id: Option<Option<String>>,
    pub name: Option<Option<String>>,
    pub email: Option<Option<Email>>,
    pub phone: Option<Option<Phone>>,
    pub birthday: Option<Option<jiff::civil::Date>>,
    pub locale: Option<Option<Locale>>,
    pub time_zone: Option<Option<TimeZoneName>>,
    pub preferred_channel: Option<Option<Channel>>,
    pub consents: Vec<ConsentInput>,
    pub attributes: Option<Map<String, Value>>,
    pub tags: Option<Vec<String>>,
    pub status: Option<MemberStatus>,
}

impl MemberPatch {
    pub fn parse(body: &Value) -> Result<MemberPatch, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        let mut known = MEMBER_FIELDS.to_vec();
        known.push("status");
        o.only(&mut f, &known);
        let patch = MemberPatch {
            external_id: o.patch(&mut f, "external_id", identifier),
            name: o.patch(&mut f, "name", text(NAME_CHARS)),
            email: o.patch(&mut f, "email", email),
            phone: o.patch(&mut f, "phone", phone),
            birthday: o.patch(&mut f, "birthday", birthday),
            locale: o.patch(&mut f, "locale", parse_with(Locale::parse)),
            time_zone: o.patch(&mut f, "time_zone", parse_with(TimeZoneName::parse)),
            preferred_channel: o.patch(&mut f, "preferred_channel", parse_with(Channel::parse)),
            consents: consents(&o, &mut f),
            attributes: o.opt(&mut f, "attributes", attributes),
            tags: o.opt(&mut f, "tags", tags),
            status: o.opt(&mut f, "status", parse_with(MemberStatus::parse)),
        };
        f.finish()?;
        Ok(patch)
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct LineInput {
    pub sku: String,
    pub name: Option<String>,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub quantity: i64,
    pub unit_price_minor: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewPurchase {
    pub order_id: String,
    pub member: MemberRef,
    pub total: Money,
    pub lines: Vec<LineInput>,
    pub channel: SalesChannel,
    pub location_id: Option<LocationId>,
    pub occurred_at: Option<Timestamp>,
}

pub const MAX_QUANTITY: i64 = 1_000_000;

impl NewPurchase {
    pub fn parse(body: &Value) -> Result<NewPurchase, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "order_id",
                "member",
                "total",
                "lines",
                "channel",
                "location_id",
                "occurred_at",
            ],
        );
        let order_id = o.req(&mut f, "order_id", identifier);
        let member = o
            .obj(&mut f, "member", true)
            .and_then(|m| MemberRef::parse(&m, &mut f));
        let total = o.obj(&mut f, "total", true).and_then(|t| {
            t.only(&mut f, &["amount_minor", "currency"]);
            let amount_minor = t.req(&mut f, "amount_minor", int(0, Money::MAX_AMOUNT_MINOR));
            let currency = t.req(&mut f, "currency", currency);
            Some(Money {
                amount_minor: amount_minor?,
                currency: currency?,
            })
        });
        let lines = o
            .objects(&mut f, "lines", MAX_LINES)
            .iter()
            .filter_map(|l| {
                l.only(
                    &mut f,
                    &[
                        "sku",
                        "name",
                        "category",
                        "brand",
                        "quantity",
                        "unit_price_minor",
                    ],
                );
                let sku = l.req(&mut f, "sku", identifier);
                let name = l.opt(&mut f, "name", text(NAME_CHARS));
                let category = l.opt(&mut f, "category", identifier);
                let brand = l.opt(&mut f, "brand", text(NAME_CHARS));
                let quantity = l.req(&mut f, "quantity", int(1, MAX_QUANTITY));
                let unit_price_minor = l.req(
                    &mut f,
                    "unit_price_minor",
                    int(0, Money::MAX_AMOUNT_MINOR / MAX_QUANTITY),
                );
                Some(LineInput {
                    sku: sku?,
                    name,
                    category,
                    brand,
                    quantity: quantity?,
                    unit_price_minor: unit_price_minor?,
                })
            })
            .collect::<Vec<_>>();
        let mut skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
        skus.sort_unstable();
        if skus.windows(2).any(|w| w[0] == w[1]) {
            f.push(
                "/lines",
                "each sku may appear once; put the quantity on one line",
            );
        }
        let channel = o
            .opt(&mut f, "channel", parse_with(SalesChannel::parse))
            .unwrap_or(SalesChannel::Pos);
        let location_id = o.opt(&mut f, "location_id", parse_with(LocationId::parse));
        let occurred_at = o.opt(&mut f, "occurred_at", timestamp);
        f.finish()?;
        Ok(NewPurchase {
            order_id: order_id.expect("checked"),
            member: member.expect("checked"),
            total: total.expect("checked"),
            lines,
            channel,
            location_id,
            occurred_at,
        })
    }
}

/// What is returned: some lines (by sku and quantity) or an amount of the order total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReturnScope {
    Lines(Vec<(String, i64)>),
    Amount(i64),
    /// Everything not yet returned.
    Full,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewReturn {
    pub order_id: String,
    pub scope: ReturnScope,
    pub occurred_at: Option<Timestamp>,
}

impl NewReturn {
    pub fn parse(body: &Value) -> Result<NewReturn, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &["order_id", "lines", "amount_minor", "occurred_at"],
        );
        let order_id = o.req(&mut f, "order_id", identifier);
        let occurred_at = o.opt(&mut f, "occurred_at", timestamp);
        let scope = match (o.has("lines"), o.has("amount_minor")) {
            (true, true) => {
                f.push(
                    "/amount_minor",
                    "give either lines or amount_minor, not both",
                );
                None
            }
            (false, false) => Some(ReturnScope::Full),
            (false, true) => o
                .req(&mut f, "amount_minor", int(1, Money::MAX_AMOUNT_MINOR))
                .map(ReturnScope::Amount),
            (true, false) => {
                let lines: Vec<(String, i64)> = o
                    .objects(&mut f, "lines", MAX_LINES)
                    .iter()
                    .filter_map(|l| {
                        l.only(&mut f, &["sku", "quantity"]);
                        let sku = l.req(&mut f, "sku", identifier);
                        let quantity = l.req(&mut f, "quantity", int(1, MAX_QUANTITY));
                        Some((sku?, quantity?))
                    })
                    .collect();
                // Only when no line was given: invalid lines are named by their own pointers.
                if o.map
                    .get("lines")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
                {
                    f.push("/lines", "must list at least one line");
                }
                let mut skus: Vec<&str> = lines.iter().map(|(sku, _)| sku.as_str()).collect();
                skus.sort_unstable();
                if skus.windows(2).any(|w| w[0] == w[1]) {
                    f.push(
                        "/lines",
                        "each sku may appear once; put the quantity on one line",
                    );
                }
                Some(ReturnScope::Lines(lines))
            }
        };
        f.finish()?;
        Ok(NewReturn {
            order_id: order_id.expect("checked"),
            scope: scope.expect("checked"),
            occurred_at,
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewReward {
    pub name: String,
    pub description: Option<String>,
    pub cost: Points,
    pub stock: Option<i64>,
    pub active_from: Option<Timestamp>,
    pub active_until: Option<Timestamp>,
    pub per_member_limit: Option<i64>,
}

pub const MAX_COST: i64 = 1_000_000_000;

impl NewReward {
    pub fn parse(body: &Value) -> Result<NewReward, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "name",
                "description",
                "cost_points",
                "stock",
                "active_from",
                "active_until",
                "per_member_limit",
            ],
        );
        let name = o.req(&mut f, "name", text(NAME_CHARS));
        let description = o.opt(&mut f, "description", text(LONG_TEXT_CHARS));
        let cost = o.req(&mut f, "cost_points", int(1, MAX_COST));
        let stock = o.opt(&mut f, "stock", int(0, 1_000_000_000));
        let active_from = o.opt(&mut f, "active_from", timestamp);
        let active_until = o.opt(&mut f, "active_until", timestamp);
        let per_member_limit = o.opt(&mut f, "per_member_limit", int(1, 1_000_000));
        if let (Some(from), Some(until)) = (active_from, active_until)
            && until <= from
        {
            f.push("/active_until", "must be after active_from");
        }
        f.finish()?;
        Ok(NewReward {
            name: name.expect("checked"),
            description,
            cost: Points(cost.expect("checked")),
            stock,
            active_from,
            active_until,
            per_member_limit,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedeemRequest {
    pub member: MemberRef,
    pub reward_id: RewardId,
}

impl RedeemRequest {
    pub fn parse(body: &Value) -> Result<RedeemRequest, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["member", "reward_id"]);
        let member = o
            .obj(&mut f, "member", true)
            .and_then(|m| MemberRef::parse(&m, &mut f));
        let reward_id = o.req(&mut f, "reward_id", parse_with(RewardId::parse));
        f.finish()?;
        Ok(RedeemRequest {
            member: member.expect("checked"),
            reward_id: reward_id.expect("checked"),
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdjustmentRequest {
    /// Positive gives points, negative takes them; never zero.
    pub points: Points,
    pub reason: String,
}

impl AdjustmentRequest {
    pub fn parse(body: &Value) -> Result<AdjustmentRequest, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["points", "reason"]);
        let points = o.req(&mut f, "points", |v| {
            let n = int(-MAX_COST, MAX_COST)(v)?;
            if n == 0 {
                Err("must not be zero".into())
            } else {
                Ok(n)
            }
        });
        let reason = o.req(&mut f, "reason", text(LONG_TEXT_CHARS));
        f.finish()?;
        Ok(AdjustmentRequest {
            points: Points(points.expect("checked")),
            reason: reason.expect("checked"),
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewLocation {
    pub name: String,
    pub address: Option<String>,
    pub latitude_micro: i64,
    pub longitude_micro: i64,
    pub time_zone: Option<TimeZoneName>,
}

fn degrees(limit: f64) -> impl Fn(&Value) -> Result<i64, String> {
    move |v| match v.as_f64() {
        Some(d) if d.is_finite() && d.abs() <= limit => Ok((d * 1_000_000.0).round() as i64),
        _ => Err(format!(
            "must be a number of degrees between -{limit} and {limit}"
        )),
    }
}

impl NewLocation {
    pub fn parse(body: &Value) -> Result<NewLocation, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &["name", "address", "latitude", "longitude", "time_zone"],
        );
        let name = o.req(&mut f, "name", text(NAME_CHARS));
        let address = o.opt(&mut f, "address", text(LONG_TEXT_CHARS));
        let latitude = o.req(&mut f, "latitude", degrees(90.0));
        let longitude = o.req(&mut f, "longitude", degrees(180.0));
        let time_zone = o.opt(&mut f, "time_zone", parse_with(TimeZoneName::parse));
        f.finish()?;
        Ok(NewLocation {
            name: name.expect("checked"),
            address,
            latitude_micro: latitude.expect("checked"),
            longitude_micro: longitude.expect("checked"),
            time_zone,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn pointers(err: DomainError) -> Vec<String> {
        match err {
            DomainError::Invalid { fields } => fields.into_iter().map(|f| f.pointer).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn purchase_errors_name_every_bad_field() {
        let body = json!({
            "order_id": "A-1",
            "member": {"card_number": "1234"},
            "total": {"amount_minor": -5, "currency": "XYZ"},
            "lines": [{"sku": "cd-1", "quantity": 0, "unit_price_minor": 100}],
            "ammount": 1
        });
        let mut found = pointers(NewPurchase::parse(&body).unwrap_err());
        found.sort();
        assert_eq!(
            found,
            [
                "/ammount",
                "/lines/0/quantity",
                "/member/card_number",
                "/total/amount_minor",
                "/total/currency"
            ]
        );
    }

    #[test]
    fn a_good_purchase_parses() {
        let body = json!({
            "order_id": "A-1",
            "member": {"external_id": "c-42"},
            "total": {"amount_minor": 2599, "currency": "PLN"},
            "lines": [{"sku": "cd-1", "category": "jazz", "quantity": 1, "unit_price_minor": 2599}],
            "channel": "online",
            "occurred_at": "2026-05-01T12:00:00Z"
        });
        let p = NewPurchase::parse(&body).unwrap();
        assert_eq!(p.member, MemberRef::ExternalId("c-42".into()));
        assert_eq!(p.total.amount_minor, 2599);
        assert_eq!(p.channel, SalesChannel::Online);
        assert_eq!(p.lines[0].category.as_deref(), Some("jazz"));
    }

    #[test]
    fn member_ref_needs_exactly_one_key() {
        let body = json!({"member": {"id": MemberId::generate().to_string(), "external_id": "x"}, "reward_id": RewardId::generate().to_string()});
        assert_eq!(
            pointers(RedeemRequest::parse(&body).unwrap_err()),
            ["/member"]
        );
    }

    #[test]
    fn adjustments_need_a_reason_and_non_zero_points() {
        assert_eq!(
            pointers(AdjustmentRequest::parse(&json!({"points": 0})).unwrap_err()),
            ["/points", "/reason"]
        );
        assert!(AdjustmentRequest::parse(&json!({"points": -10, "reason": "damaged CD"})).is_ok());
    }

    #[test]
    fn non_objects_are_refused() {
        assert!(NewMember::parse(&json!([1, 2])).is_err());
        assert_eq!(
            pointers(NewMember::parse(&json!({"consents": {"fax": true}})).unwrap_err()),
            ["/consents/fax"]
        );
    }
}
