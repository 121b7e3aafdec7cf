//! A segment as an operator writes it, and a static segment's uploaded members.

use super::Condition;
use crate::error::{DomainError, Fields};
use serde_json::Value;

/// Most members in one static segment upload.
pub const MAX_STATIC_MEMBERS: usize = 10_000;

/// A segment as an operator writes it: `key` (what rules name it by; lowercase letters, digits
/// and `_`, never changes), `name`, `description`, and either `definition` (dynamic) or
/// `"kind": "static"` (members uploaded).
#[derive(Clone, Debug, PartialEq)]
pub struct SegmentInput {
    pub key: String,
    pub name: String,
    pub description: Option<String>,
    /// None: a static segment.
    pub definition: Option<Condition>,
}

impl SegmentInput {
    pub fn parse(body: &Value) -> Result<SegmentInput, DomainError> {
        use crate::inputs::{Obj, text};
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &["key", "name", "description", "kind", "definition"],
        );
        let key = o.req(&mut f, "key", |v| {
            let raw = v.as_str().ok_or("must be a string")?;
            check_key(raw).map(|()| raw.to_string())
        });
        let name = o.req(&mut f, "name", text(200));
        let description = o.opt(&mut f, "description", text(2000));
        let kind = o
            .opt(&mut f, "kind", |v| match v.as_str() {
                Some(k @ ("dynamic" | "static")) => Ok(k.to_string()),
                _ => Err("must be dynamic or static".to_string()),
            })
            .unwrap_or_else(|| "dynamic".into());
        let definition = match (kind.as_str(), body.get("definition")) {
            ("dynamic", Some(d)) => match Condition::parse(d) {
                Ok(c) => Some(c),
                Err(DomainError::Invalid { fields }) => {
                    for e in fields {
                        f.push(format!("/definition{}", e.pointer), e.message);
                    }
                    None
                }
                Err(e) => return Err(e),
            },
            ("dynamic", None) => {
                f.push(
                    "/definition",
                    "is required for a dynamic segment (or give \"kind\": \"static\")",
                );
                None
            }
            (_, Some(_)) => {
                f.push(
                    "/definition",
                    "a static segment has no definition: its members are uploaded",
                );
                None
            }
            (_, None) => None,
        };
        f.finish()?;
        Ok(SegmentInput {
            key: key.expect("checked"),
            name: name.expect("checked"),
            description,
            definition,
        })
    }
}

/// Segment keys share the rule of event type names, so rules can name them without quoting.
fn check_key(raw: &str) -> Result<(), String> {
    crate::events::snake_name(raw, "vip_at_risk")
}

/// The members of a static segment: `{"members": [{"id"} | {"external_id"} | {"card_number"}]}`.
pub fn parse_static_members(body: &Value) -> Result<Vec<crate::inputs::MemberRef>, DomainError> {
    use crate::inputs::Obj;
    let o = Obj::root(body)?;
    let mut f = Fields::new();
    o.only(&mut f, &["members"]);
    let items = o.objects(&mut f, "members", MAX_STATIC_MEMBERS);
    let refs: Vec<Option<crate::inputs::MemberRef>> = items
        .iter()
        .map(|m| crate::inputs::MemberRef::parse(m, &mut f))
        .collect();
    if !o.has("members") {
        f.push(
            "/members",
            "is required: a list of members ({\"external_id\"}, {\"id\"} or {\"card_number\"})",
        );
    }
    f.finish()?;
    Ok(refs.into_iter().flatten().collect())
}
