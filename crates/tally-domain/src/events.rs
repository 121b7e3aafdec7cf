//! Custom event types: an integrator declares an event type (`review_posted`, `check_in`…) with
//! a property schema, then posts events of that type. The schema is checked when it is declared
//! (so a contradictory spec never reaches storage) and every event is checked against it, with
//! every bad property named by its JSON pointer, so the client gets one clear 4xx.
//!
//! Parsing an event ([`NewEvent::parse`]) only checks its shape; its properties are checked by
//! [`EventTypeDoc::validate_properties`] once the declared type has been loaded.

use crate::Timestamp;
use crate::error::{DomainError, Fields};
use crate::inputs::{MemberRef, Obj, boolean, int, string, text, timestamp};
use crate::text::bounded_text;
use serde_json::{Map, Value, json};
use std::collections::BTreeMap;
use std::fmt;

/// Event types Tally records itself; a custom type of the same name would be ambiguous in rules
/// and reports.
pub const RESERVED_EVENT_TYPES: [&str; 6] = [
    "purchase",
    "return",
    "enrolment",
    "birthday",
    "anniversary",
    "referral",
];
pub const MAX_PROPERTIES: usize = 50;
pub const MAX_STRING_LENGTH: i64 = 2000;
pub const MAX_ENUM_VALUES: usize = 100;
pub const MAX_IDEMPOTENCY_KEY_CHARS: usize = 128;
const NAME_CHARS: usize = 64;
const ENUM_VALUE_CHARS: usize = 200;
const DESCRIPTION_CHARS: usize = 2000;
const PROPERTY_DESCRIPTION_CHARS: usize = 500;

/// Names of event types and of their properties share one rule, so both can be used as
/// identifiers in rule expressions without quoting.
fn check_name(raw: &str) -> Result<(), String> {
    snake_name(raw, "review_posted")
}

/// The rule of names that rule expressions use without quoting (event types, their
/// properties, segment keys): 1 to 64 lowercase letters, digits or `_`, starting with a letter.
pub(crate) fn snake_name(raw: &str, example: &str) -> Result<(), String> {
    let ok = (1..=NAME_CHARS).contains(&raw.len())
        && raw.starts_with(|c: char| c.is_ascii_lowercase())
        && raw
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "must be 1 to {NAME_CHARS} lowercase letters, digits or '_', starting with a letter \
             (such as {example})"
        ))
    }
}

/// The validated name of a custom event type.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct EventTypeName(String);

impl EventTypeName {
    pub fn parse(raw: &str) -> Result<EventTypeName, String> {
        check_name(raw)?;
        if RESERVED_EVENT_TYPES.contains(&raw) {
            return Err(format!(
                "`{raw}` is reserved: Tally records {raw} events itself; choose another name \
                 (reserved: {})",
                RESERVED_EVENT_TYPES.join(", ")
            ));
        }
        Ok(EventTypeName(raw.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for EventTypeName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// What a property holds, with its constraints. Bounds are inclusive.
#[derive(Clone, Debug, PartialEq)]
pub enum PropertyType {
    /// Trimmed, non-empty text; at most `max_length` characters (default and cap 2000).
    String {
        max_length: Option<i64>,
        allowed: Option<Vec<String>>,
    },
    Integer {
        min: Option<i64>,
        max: Option<i64>,
    },
    Number {
        min: Option<f64>,
        max: Option<f64>,
    },
    Boolean,
    /// An RFC 3339 string, normalised to UTC.
    Timestamp,
}

const TYPE_NAMES: [&str; 5] = ["string", "integer", "number", "boolean", "timestamp"];

impl PropertyType {
    pub fn name(&self) -> &'static str {
        match self {
            PropertyType::String { .. } => "string",
            PropertyType::Integer { .. } => "integer",
            PropertyType::Number { .. } => "number",
            PropertyType::Boolean => "boolean",
            PropertyType::Timestamp => "timestamp",
        }
    }

    /// Checks one event value, returning it normalised (trimmed text, UTC timestamps).
    pub fn check(&self, v: &Value) -> Result<Value, String> {
        match self {
            PropertyType::String {
                max_length,
                allowed,
            } => {
                let limit = max_length.unwrap_or(MAX_STRING_LENGTH) as usize;
                let s = bounded_text(string(v)?, limit)?;
                match allowed {
                    Some(values) if !values.contains(&s) => {
                        Err(format!("must be one of: {}", values.join(", ")))
                    }
                    _ => Ok(Value::String(s)),
                }
            }
            PropertyType::Integer { min, max } => {
                let n = integer(v)?;
                in_range(n, *min, *max)?;
                Ok(Value::from(n))
            }
            PropertyType::Number { min, max } => {
                let x = v.as_f64().ok_or("must be a number")?;
                in_range(x, *min, *max)?;
                // Always a double, so rules see one type (`2` and `2.5` alike).
                Ok(Value::from(x))
            }
            PropertyType::Boolean => boolean(v).map(Value::Bool),
            PropertyType::Timestamp => timestamp(v).map(|t| Value::String(t.to_string())),
        }
    }
}

fn in_range<T: PartialOrd + fmt::Display + Copy>(
    x: T,
    min: Option<T>,
    max: Option<T>,
) -> Result<(), String> {
    match (min, max) {
        (Some(lo), Some(hi)) if x < lo || x > hi => Err(format!("must be between {lo} and {hi}")),
        (Some(lo), None) if x < lo => Err(format!("must be at least {lo}")),
        (None, Some(hi)) if x > hi => Err(format!("must be at most {hi}")),
        _ => Ok(()),
    }
}

/// One declared property.
#[derive(Clone, Debug, PartialEq)]
pub struct PropertySpec {
    pub kind: PropertyType,
    pub required: bool,
    pub description: Option<String>,
}

impl PropertySpec {
    fn parse(s: &Obj<'_>, f: &mut Fields) -> Option<PropertySpec> {
        let kind = s.req(f, "type", |v| {
            let raw = string(v)?;
            TYPE_NAMES
                .into_iter()
                .find(|t| *t == raw)
                .ok_or_else(|| format!("must be one of: {}", TYPE_NAMES.join(", ")))
        });
        let extra: &[&str] = match kind {
            Some("string") => &["max_length", "enum"],
            Some("integer" | "number") => &["min", "max"],
            Some(_) => &[],
            None => &["max_length", "enum", "min", "max"],
        };
        s.only(
            f,
            &[&["type", "required", "description"][..], extra].concat(),
        );
        let required = s.opt(f, "required", boolean).unwrap_or(false);
        let description = s.opt(f, "description", text(PROPERTY_DESCRIPTION_CHARS));
        let kind = match kind? {
            "string" => {
                let max_length = s.opt(f, "max_length", int(1, MAX_STRING_LENGTH));
                let allowed = parse_enum(s, f, max_length);
                PropertyType::String {
                    max_length,
                    allowed,
                }
            }
            "integer" => {
                let (min, max) = (s.opt(f, "min", integer), s.opt(f, "max", integer));
                check_order(s, f, min, max);
                PropertyType::Integer { min, max }
            }
            "number" => {
                let (min, max) = (s.opt(f, "min", finite), s.opt(f, "max", finite));
                check_order(s, f, min, max);
                PropertyType::Number { min, max }
            }
            "boolean" => PropertyType::Boolean,
            _ => PropertyType::Timestamp,
        };
        Some(PropertySpec {
            kind,
            required,
            description,
        })
    }

    fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("type".into(), self.kind.name().into());
        match &self.kind {
            PropertyType::String {
                max_length,
                allowed,
            } => {
                put(&mut m, "max_length", max_length.map(Value::from));
                put(&mut m, "enum", allowed.as_ref().map(|a| json!(a)));
            }
            PropertyType::Integer { min, max } => {
                put(&mut m, "min", min.map(Value::from));
                put(&mut m, "max", max.map(Value::from));
            }
            PropertyType::Number { min, max } => {
                put(&mut m, "min", min.map(Value::from));
                put(&mut m, "max", max.map(Value::from));
            }
            PropertyType::Boolean | PropertyType::Timestamp => {}
        }
        m.insert("required".into(), self.required.into());
        put(
            &mut m,
            "description",
            self.description.clone().map(Value::from),
        );
        Value::Object(m)
    }
}

fn put(m: &mut Map<String, Value>, key: &str, value: Option<Value>) {
    if let Some(v) = value {
        m.insert(key.into(), v);
    }
}

fn integer(v: &Value) -> Result<i64, String> {
    v.as_i64()
        .ok_or_else(|| "must be an integer (a whole number in 64 bits)".to_owned())
}

fn finite(v: &Value) -> Result<f64, String> {
    v.as_f64()
        .filter(|x| x.is_finite())
        .ok_or_else(|| "must be a finite number".to_owned())
}

/// A bound pair where min exceeds max would refuse every event; say so when it is declared.
fn check_order<T: PartialOrd + fmt::Display>(
    s: &Obj<'_>,
    f: &mut Fields,
    min: Option<T>,
    max: Option<T>,
) {
    if let (Some(lo), Some(hi)) = (min, max)
        && lo > hi
    {
        f.push(
            s.pointer("min"),
            format!("must not be greater than max ({hi})"),
        );
    }
}

/// The allowed values of a string property, each error at its own pointer (`…/enum/2`).
fn parse_enum(s: &Obj<'_>, f: &mut Fields, max_length: Option<i64>) -> Option<Vec<String>> {
    let ptr = s.pointer("enum");
    let items = match s.map.get("enum") {
        None | Some(Value::Null) => return None,
        Some(Value::Array(items)) => items,
        Some(_) => {
            f.push(ptr, "must be an array of strings");
            return None;
        }
    };
    if items.is_empty() || items.len() > MAX_ENUM_VALUES {
        f.push(
            ptr,
            format!("must list 1 to {MAX_ENUM_VALUES} allowed values"),
        );
        return None;
    }
    let limit = max_length.map_or(ENUM_VALUE_CHARS, |m| (m as usize).min(ENUM_VALUE_CHARS));
    let mut out: Vec<String> = Vec::with_capacity(items.len());
    for (i, item) in items.iter().enumerate() {
        let value = string(item).and_then(|raw| bounded_text(raw, limit));
        match value {
            Ok(v) if out.contains(&v) => f.push(format!("{ptr}/{i}"), format!("repeats `{v}`")),
            Ok(v) => out.push(v),
            Err(message) => f.push(format!("{ptr}/{i}"), message),
        }
    }
    Some(out)
}

/// A declared event type: its name, what it is for, and the properties its events carry.
#[derive(Clone, Debug, PartialEq)]
pub struct EventTypeDoc {
    pub name: EventTypeName,
    pub description: Option<String>,
    pub properties: BTreeMap<String, PropertySpec>,
}

impl EventTypeDoc {
    pub fn parse(body: &Value) -> Result<EventTypeDoc, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["name", "description", "properties"]);
        let name = o.req(&mut f, "name", |v| EventTypeName::parse(string(v)?));
        let description = o.opt(&mut f, "description", text(DESCRIPTION_CHARS));
        let mut properties = BTreeMap::new();
        match o.obj(&mut f, "properties", false) {
            Some(p) if p.map.len() > MAX_PROPERTIES => f.push(
                p.path.clone(),
                format!("must declare at most {MAX_PROPERTIES} properties"),
            ),
            Some(p) => {
                for key in p.map.keys() {
                    if let Err(message) = check_name(key) {
                        f.push(
                            p.pointer(key),
                            format!("is not a valid property name: {message}"),
                        );
                    } else if let Some(spec) = p
                        .obj(&mut f, key, true)
                        .and_then(|s| PropertySpec::parse(&s, &mut f))
                    {
                        properties.insert(key.clone(), spec);
                    }
                }
            }
            None => {}
        }
        f.finish()?;
        Ok(EventTypeDoc {
            name: name.expect("checked"),
            description,
            properties,
        })
    }

    /// The document as an integrator would write it; `parse(&doc.to_json())` gives `doc` back.
    pub fn to_json(&self) -> Value {
        let properties: Map<String, Value> = self
            .properties
            .iter()
            .map(|(k, spec)| (k.clone(), spec.to_json()))
            .collect();
        let mut m = Map::new();
        m.insert("name".into(), self.name.as_str().into());
        put(
            &mut m,
            "description",
            self.description.clone().map(Value::from),
        );
        m.insert("properties".into(), Value::Object(properties));
        Value::Object(m)
    }

    /// Checks an event's `properties` object against this type, naming every problem at
    /// `/properties/<name>`; returns the values normalised, without absent or `null` optionals.
    pub fn validate_properties(&self, props: &Value) -> Result<Map<String, Value>, DomainError> {
        let Value::Object(map) = props else {
            return Err(DomainError::invalid("/properties", "must be an object"));
        };
        let o = Obj {
            map,
            path: "/properties".into(),
        };
        let mut f = Fields::new();
        for key in map.keys().filter(|k| !self.properties.contains_key(*k)) {
            let declared = if self.properties.is_empty() {
                "it declares no properties".to_owned()
            } else {
                let names: Vec<&str> = self.properties.keys().map(String::as_str).collect();
                format!("declared: {}", names.join(", "))
            };
            f.push(
                o.pointer(key),
                format!(
                    "is not declared for event type `{}` ({declared})",
                    self.name
                ),
            );
        }
        let mut out = Map::new();
        for (key, spec) in &self.properties {
            let check = |v: &Value| spec.kind.check(v);
            let value = if spec.required {
                o.req(&mut f, key, check)
            } else {
                o.opt(&mut f, key, check)
            };
            put(&mut out, key, value);
        }
        f.finish()?;
        Ok(out)
    }
}

/// A custom event as posted: shape only; see [`EventTypeDoc::validate_properties`].
#[derive(Clone, Debug, PartialEq)]
pub struct NewEvent {
    pub event_type: EventTypeName,
    pub member: MemberRef,
    pub properties: Map<String, Value>,
    pub occurred_at: Option<Timestamp>,
    /// Lets a batch importer dedupe events within one request stream, like the
    /// `Idempotency-Key` header does for single requests.
    pub idempotency_key: Option<String>,
}

impl NewEvent {
    pub fn parse(body: &Value) -> Result<NewEvent, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "type",
                "member",
                "properties",
                "occurred_at",
                "idempotency_key",
            ],
        );
        let event_type = o.req(&mut f, "type", |v| EventTypeName::parse(string(v)?));
        let member = o
            .obj(&mut f, "member", true)
            .and_then(|m| MemberRef::parse(&m, &mut f));
        // More keys than any type may declare cannot be valid; refuse before the type is loaded.
        let properties = o.opt(&mut f, "properties", |v| match v {
            Value::Object(m) if m.len() > MAX_PROPERTIES => {
                Err(format!("must have at most {MAX_PROPERTIES} properties"))
            }
            Value::Object(m) => Ok(m.clone()),
            _ => Err("must be an object".into()),
        });
        let occurred_at = o.opt(&mut f, "occurred_at", timestamp);
        let idempotency_key = o.opt(&mut f, "idempotency_key", idempotency_key);
        f.finish()?;
        Ok(NewEvent {
            event_type: event_type.expect("checked"),
            member: member.expect("checked"),
            properties: properties.unwrap_or_default(),
            occurred_at,
            idempotency_key,
        })
    }
}

/// The characters the `Idempotency-Key` header allows, within a tighter length.
fn idempotency_key(v: &Value) -> Result<String, String> {
    let key = string(v)?.trim();
    let ok = !key.is_empty()
        && key.len() <= MAX_IDEMPOTENCY_KEY_CHARS
        && key.bytes().all(|b| b.is_ascii_graphic() || b == b' ');
    if ok {
        Ok(key.to_owned())
    } else {
        Err(format!(
            "must be 1 to {MAX_IDEMPOTENCY_KEY_CHARS} visible ASCII characters"
        ))
    }
}
