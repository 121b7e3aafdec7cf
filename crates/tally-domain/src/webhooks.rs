//! Webhooks: how a program's endpoints in the merchant's systems are described, which events
//! they hear about, and the envelope every event travels in.
//!
//! The envelope follows Standard Webhooks (<https://www.standardwebhooks.com>): a JSON object
//! with `type`, `timestamp` and `data`; the signature headers are made by the deliverer.

use crate::Timestamp;
use crate::error::{DomainError, Fields};
use crate::inputs::{Obj, string, text};
use serde_json::{Value, json};

/// The events a program can send to its endpoints, with what each one means.
pub const EVENT_TYPES: &[(&str, &str)] = &[
    ("member.enrolled", "a member joined the program"),
    ("member.tier_changed", "a member moved to another tier"),
    (
        "purchase.recorded",
        "a purchase was recorded (with the points it earned)",
    ),
    ("reward.redeemed", "a member redeemed a reward"),
    ("journey.webhook", "a journey reached a webhook step"),
    (
        "webhook.test",
        "a test event sent from the console or the API",
    ),
];

pub fn is_event_type(raw: &str) -> bool {
    EVENT_TYPES.iter().any(|(t, _)| *t == raw)
}

/// The longest URL an endpoint may have.
const MAX_URL: usize = 2000;

/// An `http://` or `https://` URL with a host.
pub fn endpoint_url(v: &Value) -> Result<String, String> {
    let raw = string(v)?.trim();
    let rest = raw
        .strip_prefix("https://")
        .or_else(|| raw.strip_prefix("http://"))
        .ok_or("must be an http:// or https:// URL")?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or("");
    if host.is_empty() || raw.chars().any(char::is_whitespace) {
        return Err("must be an http:// or https:// URL with a host".into());
    }
    if raw.len() > MAX_URL {
        return Err(format!("must be at most {MAX_URL} characters"));
    }
    Ok(raw.to_owned())
}

/// A list of event types, each known, without repeats; empty means every event.
fn event_types(v: &Value) -> Result<Vec<String>, String> {
    let items = v.as_array().ok_or("must be an array of event types")?;
    let mut out = Vec::new();
    for item in items {
        let t = string(item)?;
        if !is_event_type(t) {
            let known: Vec<&str> = EVENT_TYPES.iter().map(|(t, _)| *t).collect();
            return Err(format!(
                "`{t}` is not an event type; known: {}",
                known.join(", ")
            ));
        }
        if !out.iter().any(|o| o == t) {
            out.push(t.to_owned());
        }
    }
    Ok(out)
}

/// An endpoint as asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WebhookInput {
    pub url: String,
    pub description: String,
    /// The events it hears about; empty: all of them.
    pub event_types: Vec<String>,
}

impl WebhookInput {
    pub fn parse(body: &Value) -> Result<WebhookInput, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["url", "description", "event_types"]);
        let url = o.req(&mut f, "url", endpoint_url);
        let description = o.opt(&mut f, "description", text(500));
        let types = o.opt(&mut f, "event_types", event_types);
        f.finish()?;
        Ok(WebhookInput {
            url: url.expect("checked"),
            description: description.unwrap_or_default(),
            event_types: types.unwrap_or_default(),
        })
    }
}

/// A change to an endpoint: what is named changes.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WebhookPatch {
    pub url: Option<String>,
    pub description: Option<String>,
    pub event_types: Option<Vec<String>>,
    /// `active` or `disabled` (a disabled endpoint gets no new events).
    pub status: Option<String>,
}

impl WebhookPatch {
    pub fn parse(body: &Value) -> Result<WebhookPatch, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["url", "description", "event_types", "status"]);
        let patch = WebhookPatch {
            url: o.opt(&mut f, "url", endpoint_url),
            description: o.opt(&mut f, "description", text(500)),
            event_types: o.opt(&mut f, "event_types", event_types),
            status: o.opt(&mut f, "status", |v| match string(v)? {
                s @ ("active" | "disabled") => Ok(s.to_owned()),
                other => Err(format!("`{other}` is not a status: active or disabled")),
            }),
        };
        f.finish()?;
        if patch == WebhookPatch::default() {
            return Err(DomainError::invalid(
                "",
                "names nothing to change: url, description, event_types or status",
            ));
        }
        Ok(patch)
    }
}

/// Whether an endpoint listening for `wanted` (empty: everything) hears `event_type`.
pub fn wants(wanted: &[String], event_type: &str) -> bool {
    wanted.is_empty() || wanted.iter().any(|w| w == event_type)
}

/// The body of an event: `{"type", "timestamp", "data"}`.
pub fn envelope(event_type: &str, at: Timestamp, data: Value) -> Value {
    json!({ "type": event_type, "timestamp": at.to_string(), "data": data })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_endpoint_needs_a_web_url_and_known_events() {
        let ok = WebhookInput::parse(&json!({"url": "https://erp.example/hooks?x=1",
            "event_types": ["purchase.recorded", "purchase.recorded", "member.enrolled"]}))
        .unwrap();
        assert_eq!(ok.event_types, vec!["purchase.recorded", "member.enrolled"]);
        let bad = WebhookInput::parse(
            &json!({"url": "ftp://erp.example", "event_types": ["order.paid"], "colour": 1}),
        )
        .unwrap_err();
        let text = format!("{bad:?}");
        for (field, says) in [
            ("/url", "http:// or https://"),
            ("/event_types", "`order.paid` is not an event type"),
            ("/colour", ""),
        ] {
            assert!(text.contains(field) && text.contains(says), "{text}");
        }
        assert!(WebhookInput::parse(&json!({"url": "https:///path"})).is_err());
    }

    #[test]
    fn a_patch_names_something_and_statuses_are_known() {
        assert!(WebhookPatch::parse(&json!({})).is_err());
        assert!(WebhookPatch::parse(&json!({"status": "paused"})).is_err());
        let p = WebhookPatch::parse(&json!({"status": "disabled", "event_types": []})).unwrap();
        assert_eq!(p.status.as_deref(), Some("disabled"));
        assert_eq!(p.event_types, Some(vec![]));
    }

    #[test]
    fn an_empty_list_hears_everything() {
        assert!(wants(&[], "member.enrolled"));
        assert!(!wants(&["reward.redeemed".into()], "member.enrolled"));
    }
}
