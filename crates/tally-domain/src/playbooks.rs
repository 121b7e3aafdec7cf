//! Playbooks: ready-made journeys an operator switches on in one click — a welcome series, a
//! birthday letter, a tier-up congratulation, a points-expiring reminder, a win-back for
//! high-value members at risk, a next-best-product suggestion. Each is its templates and a
//! journey document that sends them; both are ordinary templates and journeys afterwards, to
//! edit, pause or archive.

use serde_json::{Value, json};

/// A template a playbook makes.
pub struct PlaybookTemplate {
    pub name: &'static str,
    pub subject: &'static str,
    pub html: &'static str,
    pub text: &'static str,
}

/// A playbook: what it is, its templates, and its journey.
pub struct Playbook {
    pub key: &'static str,
    pub title: &'static str,
    pub description: &'static str,
    pub templates: &'static [PlaybookTemplate],
    /// The journey document, with `{"send": {"template": N}}` naming the N-th template above.
    journey: fn() -> Value,
}

impl Playbook {
    /// The journey document, its sends naming the templates made (`ids[N]` for template N).
    pub fn journey(&self, ids: &[String]) -> Value {
        let mut doc = (self.journey)();
        if let Some(steps) = doc["steps"].as_array_mut() {
            for step in steps {
                if let Some(n) = step["send"]["template"].as_u64() {
                    step["send"]["template"] = json!(ids[n as usize]);
                }
            }
        }
        doc["playbook"] = json!(self.key);
        doc
    }
}

const FOOTER_HTML: &str = r#"<p style="font-size:12px;color:#666">{{ program.name }} · card {{ member.card_number }} · <a href="{{ unsubscribe_url }}">unsubscribe</a></p>"#;

pub const PLAYBOOKS: &[Playbook] = &[
    Playbook {
        key: "welcome_series",
        title: "Welcome series",
        description: "A welcome when a member joins; three days later, if they have not bought yet, a reminder of what their card does.",
        templates: &[
            PlaybookTemplate {
                name: "Welcome",
                subject: "Welcome to {{ program.name }}, {{ member.first_name }}",
                html: "<p>Hello {{ member.first_name }},</p><p>welcome to {{ program.name }}. Your card number is {{ member.card_number }}; show it at the till or open it in your wallet: {{ wallet_url }}</p>",
                text: "Hello {{ member.first_name }},\n\nwelcome to {{ program.name }}. Your card number is {{ member.card_number }}; show it at the till or open it in your wallet: {{ wallet_url }}\n\nUnsubscribe: {{ unsubscribe_url }}",
            },
            PlaybookTemplate {
                name: "Welcome reminder",
                subject: "{{ member.first_name }}, your card is ready",
                html: "<p>Hello {{ member.first_name }},</p><p>every purchase with your {{ program.name }} card earns points. You have {{ points.balance }}.</p>",
                text: "Hello {{ member.first_name }},\n\nevery purchase with your {{ program.name }} card earns points. You have {{ points.balance }}.\n\nUnsubscribe: {{ unsubscribe_url }}",
            },
        ],
        journey: || {
            json!({
                "name": "Welcome series",
                "trigger": {"type": "enrolled"},
                "steps": [
                    {"send": {"template": 0}},
                    {"wait": {"days": 3}},
                    {"branch": {"if": {"purchased_since_entry": true}, "then": 4}},
                    {"send": {"template": 1}},
                ],
            })
        },
    },
    Playbook {
        key: "birthday_letter",
        title: "Birthday letter",
        description: "A letter on each member's birthday at 09:00 their time, every year.",
        templates: &[PlaybookTemplate {
            name: "Birthday letter",
            subject: "Happy birthday, {{ member.first_name }}!",
            html: "<p>Happy birthday, {{ member.first_name }}!</p><p>All of us at {{ program.name }} wish you a wonderful day.</p>",
            text: "Happy birthday, {{ member.first_name }}!\n\nAll of us at {{ program.name }} wish you a wonderful day.\n\nUnsubscribe: {{ unsubscribe_url }}",
        }],
        journey: || {
            json!({
                "name": "Birthday letter",
                "trigger": {"type": "birthday"},
                "steps": [{"wait_until": "09:00"}, {"send": {"template": 0}}],
            })
        },
    },
    Playbook {
        key: "tier_up",
        title: "Tier-up congratulation",
        description: "A congratulation when a purchase moves a member up a tier.",
        templates: &[PlaybookTemplate {
            name: "Tier up",
            subject: "Congratulations, {{ member.first_name }}: you are {{ tier.name }}",
            html: "<p>Congratulations, {{ member.first_name }}!</p><p>You are now {{ tier.name }} at {{ program.name }}. {{ tier.next }}</p>",
            text: "Congratulations, {{ member.first_name }}!\n\nYou are now {{ tier.name }} at {{ program.name }}. {{ tier.next }}\n\nUnsubscribe: {{ unsubscribe_url }}",
        }],
        journey: || {
            json!({
                "name": "Tier-up congratulation",
                "trigger": {"type": "tier_up"},
                "reentry": "always",
                "steps": [{"send": {"template": 0}}],
            })
        },
    },
    Playbook {
        key: "points_expiring",
        title: "Points-expiring reminder",
        description: "Two weeks before points expire, a reminder at 10:00 the member's time, once per expiry date.",
        templates: &[PlaybookTemplate {
            name: "Points expiring",
            subject: "{{ member.first_name }}, {{ points.expiring }}",
            html: "<p>Hello {{ member.first_name }},</p><p>{{ points.expiring }} expire. You have {{ points.balance }} to spend at {{ program.name }}.</p>",
            text: "Hello {{ member.first_name }},\n\n{{ points.expiring }} expire. You have {{ points.balance }} to spend at {{ program.name }}.\n\nUnsubscribe: {{ unsubscribe_url }}",
        }],
        journey: || {
            json!({
                "name": "Points-expiring reminder",
                "trigger": {"type": "points_expiring", "within_days": 14},
                "steps": [{"wait_until": "10:00"}, {"send": {"template": 0}}],
            })
        },
    },
    Playbook {
        key: "win_back",
        title: "Win-back for valuable members at risk",
        description: "When a member in the top fifth by value is at risk of churning: a note; a week later, if they have not come back, 100 points and a second note.",
        templates: &[
            PlaybookTemplate {
                name: "We miss you",
                subject: "We miss you, {{ member.first_name }}",
                html: "<p>Hello {{ member.first_name }},</p><p>it has been a while. You have {{ points.balance }} waiting at {{ program.name }}.</p>",
                text: "Hello {{ member.first_name }},\n\nit has been a while. You have {{ points.balance }} waiting at {{ program.name }}.\n\nUnsubscribe: {{ unsubscribe_url }}",
            },
            PlaybookTemplate {
                name: "A gift to come back",
                subject: "{{ member.first_name }}, 100 points for you",
                html: "<p>Hello {{ member.first_name }},</p><p>we added 100 points to your card: you now have {{ points.balance }}.</p>",
                text: "Hello {{ member.first_name }},\n\nwe added 100 points to your card: you now have {{ points.balance }}.\n\nUnsubscribe: {{ unsubscribe_url }}",
            },
        ],
        journey: || {
            json!({
                "name": "Win-back",
                "trigger": {"type": "lifecycle", "stage": "at_risk", "min_value_percentile": 80},
                "reentry": "yearly",
                "steps": [
                    {"send": {"template": 0}},
                    {"wait": {"days": 7}},
                    {"branch": {"if": {"purchased_since_entry": true}, "then": 5}},
                    {"grant_points": {"points": 100, "reason": "win-back gift"}},
                    {"send": {"template": 1}},
                ],
            })
        },
    },
    Playbook {
        key: "next_best_product",
        title: "Next-best-product suggestion",
        description: "Two weeks after a purchase, if the member has not been back, products they may like next.",
        templates: &[PlaybookTemplate {
            name: "You may like",
            subject: "{{ member.first_name }}, picked for you",
            html: "<p>Hello {{ member.first_name }},</p><p>members who bought what you did also like: {{ products.next_best }}.</p>",
            text: "Hello {{ member.first_name }},\n\nmembers who bought what you did also like: {{ products.next_best }}.\n\nUnsubscribe: {{ unsubscribe_url }}",
        }],
        journey: || {
            json!({
                "name": "Next-best product",
                "trigger": {"type": "purchase"},
                "reentry": "always",
                "steps": [
                    {"wait": {"days": 14}},
                    {"branch": {"if": {"purchased_since_entry": true}, "then": 3}},
                    {"send": {"template": 0}},
                ],
            })
        },
    },
];

/// A playbook by its key.
pub fn find(key: &str) -> Option<&'static Playbook> {
    PLAYBOOKS.iter().find(|p| p.key == key)
}

/// The HTML footer playbook emails end with (name, card, unsubscribe link).
pub fn footer() -> &'static str {
    FOOTER_HTML
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::journeys::JourneyDoc;
    use crate::templates::TemplateInput;

    #[test]
    fn every_playbook_is_a_valid_journey_with_valid_templates() {
        for p in PLAYBOOKS {
            for t in p.templates {
                let html = format!("{}{}", t.html, footer());
                TemplateInput::parse(
                    &json!({"name": t.name, "subject": t.subject, "html": html, "text": t.text}),
                )
                .unwrap_or_else(|e| panic!("{} / {}: {e}", p.key, t.name));
            }
            let ids: Vec<String> = (0..p.templates.len())
                .map(|_| crate::ids::TemplateId::generate().to_string())
                .collect();
            let doc = p.journey(&ids);
            assert_eq!(doc["playbook"], p.key);
            let parsed = JourneyDoc::parse(&doc).unwrap_or_else(|e| panic!("{}: {e}", p.key));
            assert_eq!(
                parsed.templates().count(),
                p.journey(&ids)["steps"]
                    .as_array()
                    .unwrap()
                    .iter()
                    .filter(|s| s.get("send").is_some())
                    .count()
            );
            assert_eq!(find(p.key).unwrap().key, p.key);
        }
        assert_eq!(PLAYBOOKS.len(), 6);
    }
}
