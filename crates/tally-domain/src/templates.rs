//! Message templates: a subject, an HTML body and a plain-text body with placeholders such as
//! `{{ member.first_name }}` or `{{ points.balance }}`, filled in per member when a message is
//! made. Placeholders are checked when a template is saved (an unknown one is refused, naming
//! where it is); values are HTML-escaped in the HTML body.

use crate::error::{DomainError, Fields};
use crate::inputs::{Obj, text};
use serde_json::Value;
use std::collections::BTreeMap;

/// Every placeholder a template may use, with what it stands for.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("member.name", "the member's name"),
    ("member.first_name", "the first word of the member's name"),
    ("member.card_number", "the member's card number"),
    ("program.name", "the program's name"),
    ("points.balance", "points available"),
    ("points.pending", "points still pending"),
    ("points.expiring", "points expiring next, with the date"),
    ("tier.name", "the member's tier"),
    ("tier.next", "what the member needs for the next tier"),
    ("cashback.balance", "the member's cashback, as money"),
    ("products.next_best", "products the member may like next"),
    (
        "wallet_url",
        "the path of the member's card in the wallet (after the public URL)",
    ),
    (
        "unsubscribe_url",
        "the link that stops the program's emails to the member, in one click",
    ),
];

/// The most characters of one template part.
pub const MAX_BODY_CHARS: usize = 100_000;

/// A part of a template split into text and placeholders.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Piece {
    Text(String),
    Placeholder(String),
}

/// A template part, checked: its placeholders are all known.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Part {
    source: String,
    pieces: Vec<Piece>,
}

impl Part {
    /// Splits `source` on `{{ … }}`; an unclosed `{{` or an unknown name is an error.
    pub fn parse(source: &str) -> Result<Part, String> {
        let mut pieces = Vec::new();
        let mut rest = source;
        while let Some(start) = rest.find("{{") {
            if start > 0 {
                pieces.push(Piece::Text(rest[..start].to_owned()));
            }
            let after = &rest[start + 2..];
            let end = after
                .find("}}")
                .ok_or_else(|| "has a `{{` without its `}}`".to_owned())?;
            let name = after[..end].trim();
            if !PLACEHOLDERS.iter().any(|(known, _)| *known == name) {
                let names: Vec<&str> = PLACEHOLDERS.iter().map(|(n, _)| *n).collect();
                return Err(format!(
                    "uses an unknown placeholder `{{{{ {name} }}}}` (known: {})",
                    names.join(", ")
                ));
            }
            pieces.push(Piece::Placeholder(name.to_owned()));
            rest = &after[end + 2..];
        }
        if !rest.is_empty() {
            pieces.push(Piece::Text(rest.to_owned()));
        }
        Ok(Part {
            source: source.to_owned(),
            pieces,
        })
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    /// The placeholders this part uses, in order.
    pub fn placeholders(&self) -> impl Iterator<Item = &str> {
        self.pieces.iter().filter_map(|p| match p {
            Piece::Placeholder(name) => Some(name.as_str()),
            Piece::Text(_) => None,
        })
    }

    /// Fills the placeholders from `values` (a missing value is empty), escaping them for HTML
    /// when `html`.
    pub fn render(&self, values: &BTreeMap<&str, String>, html: bool) -> String {
        let mut out = String::with_capacity(self.source.len());
        for piece in &self.pieces {
            match piece {
                Piece::Text(t) => out.push_str(t),
                Piece::Placeholder(name) => {
                    let value = values.get(name.as_str()).map_or("", String::as_str);
                    if html {
                        out.push_str(&escape_html(value));
                    } else {
                        out.push_str(value);
                    }
                }
            }
        }
        out
    }
}

pub fn escape_html(raw: &str) -> String {
    let mut out = String::with_capacity(raw.len());
    for c in raw.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// An email template: `{"name", "subject", "html"?, "text"}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct TemplateInput {
    pub name: String,
    pub subject: Part,
    pub html: Option<Part>,
    pub text: Part,
}

impl TemplateInput {
    pub fn parse(body: &Value) -> Result<TemplateInput, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["name", "subject", "html", "text"]);
        let name = o.req(&mut f, "name", text(200));
        let part = |max: usize| {
            move |v: &Value| {
                let raw = crate::inputs::string(v)?;
                if raw.trim().is_empty() || raw.chars().count() > max {
                    return Err(format!("must be 1 to {max} characters"));
                }
                Part::parse(raw)
            }
        };
        let subject = o.req(&mut f, "subject", part(300));
        let html = o.opt(&mut f, "html", part(MAX_BODY_CHARS));
        let text = o.req(&mut f, "text", part(MAX_BODY_CHARS));
        f.finish()?;
        Ok(TemplateInput {
            name: name.expect("checked"),
            subject: subject.expect("checked"),
            html,
            text: text.expect("checked"),
        })
    }

    /// The message for one member: `(subject, html, text)`.
    pub fn render(&self, values: &BTreeMap<&str, String>) -> (String, Option<String>, String) {
        (
            self.subject.render(values, false),
            self.html.as_ref().map(|h| h.render(values, true)),
            self.text.render(values, false),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn values() -> BTreeMap<&'static str, String> {
        BTreeMap::from([
            ("member.first_name", "Zoë".to_owned()),
            ("points.balance", "1,250 points".to_owned()),
            ("program.name", "Vinyl <Vault> & Co".to_owned()),
        ])
    }

    #[test]
    fn placeholders_are_filled_and_escaped_in_html_only() {
        let t = TemplateInput::parse(&json!({
            "name": "Balance",
            "subject": "{{ member.first_name }}, you have {{points.balance}}",
            "html": "<p>Hello {{ member.first_name }} from {{ program.name }}</p>",
            "text": "Hello {{ member.first_name }} from {{ program.name }}{{ tier.name }}.",
        }))
        .unwrap();
        let (subject, html, text) = t.render(&values());
        assert_eq!(subject, "Zoë, you have 1,250 points");
        assert_eq!(
            html.unwrap(),
            "<p>Hello Zoë from Vinyl &lt;Vault&gt; &amp; Co</p>"
        );
        assert_eq!(text, "Hello Zoë from Vinyl <Vault> & Co.");
    }

    #[test]
    fn unknown_or_unclosed_placeholders_are_refused_by_place() {
        let err = TemplateInput::parse(&json!({
            "name": "x",
            "subject": "Hi {{ membr.name }}",
            "html": "<p>{{ member.name </p>",
            "text": "",
        }))
        .unwrap_err()
        .to_string();
        for pointer in ["/subject", "/html", "/text"] {
            assert!(err.contains(pointer), "{pointer} in {err}");
        }
        assert!(err.contains("membr.name"), "{err}");
    }
}
