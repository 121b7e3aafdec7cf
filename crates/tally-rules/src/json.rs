//! The document back to JSON, in the shape [`RuleDoc::parse`] reads: what the API returns and
//! what the console edits. Empty sections are left out, so a minimal rule stays minimal.

use crate::doc::{Effect, RuleDoc, day_names, hhmm};
use serde_json::{Map, Value, json};

impl RuleDoc {
    /// The document as JSON; parses back to an equal document.
    pub fn to_json(&self) -> Value {
        let mut doc = Map::new();
        doc.insert("name".into(), json!(self.name));
        doc.insert("trigger".into(), json!(self.trigger.as_str()));
        if let Some(t) = &self.event_type {
            doc.insert("event_type".into(), json!(t.as_str()));
        }
        if let Some(c) = &self.condition {
            doc.insert("condition".into(), json!(c));
        }
        let effect = match &self.effect {
            Effect::Points { formula } => json!({ "points": formula }),
            Effect::PerItem { condition, points } => {
                let mut p = Map::new();
                if let Some(c) = condition {
                    p.insert("condition".into(), json!(c));
                }
                p.insert("points".into(), json!(points));
                json!({ "per_item": p })
            }
            Effect::Multiplier { permille } => json!({ "multiplier": *permille as f64 / 1000.0 }),
            Effect::Bonus { points } => json!({ "bonus": points }),
            Effect::Stamp { card, count } => {
                json!({ "stamp": { "card_id": card, "count": count } })
            }
            Effect::Reward { reward } => json!({ "reward": { "reward_id": reward } }),
            Effect::Cashback { basis_points, .. } if *basis_points > 0 => {
                json!({ "cashback": { "percent": *basis_points as f64 / 100.0 } })
            }
            Effect::Cashback { amount_minor, .. } => {
                json!({ "cashback": { "amount_minor": amount_minor } })
            }
        };
        doc.insert("effect".into(), effect);
        let l = &self.limits;
        let mut limits = Map::new();
        let mut per_member = Map::new();
        for (key, v) in [("per_event", l.per_event), ("budget", l.budget)] {
            if let Some(v) = v {
                limits.insert(key.into(), json!(v));
            }
        }
        for (key, v) in [
            ("day", l.per_member_day),
            ("week", l.per_member_week),
            ("month", l.per_member_month),
            ("lifetime", l.per_member_lifetime),
        ] {
            if let Some(v) = v {
                per_member.insert(key.into(), json!(v));
            }
        }
        if !per_member.is_empty() {
            limits.insert("per_member".into(), Value::Object(per_member));
        }
        if !limits.is_empty() {
            doc.insert("limits".into(), Value::Object(limits));
        }
        let s = &self.schedule;
        let mut schedule = Map::new();
        if let Some(t) = s.starts_at {
            schedule.insert("starts_at".into(), json!(t.to_string()));
        }
        if let Some(t) = s.ends_at {
            schedule.insert("ends_at".into(), json!(t.to_string()));
        }
        if !s.days.is_empty() {
            let days: Vec<&str> = s.days.iter().map(|d| day_names(*d).0).collect();
            schedule.insert("days".into(), json!(days));
        }
        if let Some((from, to)) = s.hours {
            schedule.insert(
                "hours".into(),
                json!({ "from": hhmm(from), "to": hhmm(to) }),
            );
        }
        if !schedule.is_empty() {
            doc.insert("schedule".into(), Value::Object(schedule));
        }
        let a = &self.audience;
        let mut audience = Map::new();
        let channels: Vec<&str> = a.channels.iter().map(|c| c.as_str()).collect();
        for (key, list) in [
            ("channels", channels),
            (
                "locations",
                a.locations.iter().map(String::as_str).collect(),
            ),
            ("tiers", a.tiers.iter().map(String::as_str).collect()),
            ("segments", a.segments.iter().map(String::as_str).collect()),
            ("tags", a.tags.iter().map(String::as_str).collect()),
        ] {
            if !list.is_empty() {
                audience.insert(key.into(), json!(list));
            }
        }
        if !audience.is_empty() {
            doc.insert("audience".into(), Value::Object(audience));
        }
        doc.insert("priority".into(), json!(self.priority));
        doc.insert("stop_further".into(), json!(self.stop_further));
        Value::Object(doc)
    }
}
