//! Measures one evaluation of a small rule set: `cargo run --release -p tally-rules --example
//! evaluate`. Not a test: timings depend on the machine.

use jiff::tz::TimeZone;
use serde_json::json;
use std::time::Instant;
use tally_domain::program::Rounding;
use tally_rules::{
    Event, ItemFacts, MemberFacts, PurchaseFacts, RuleDoc, RuleRef, RuleSet, Trigger, Usage,
};

fn main() {
    let docs = [
        json!({"name": "vinyl weekend", "trigger": "purchase",
            "condition": "purchase.items.exists(i, i.category == 'vinyl')",
            "effect": {"per_item": {"condition": "item.category == 'vinyl'", "points": "item.quantity * 10"}},
            "schedule": {"days": ["sat", "sun"]}}),
        json!({"name": "big basket", "trigger": "purchase", "condition": "purchase.total > 100.0",
            "effect": {"points": "purchase.total * 0.1"}}),
        json!({"name": "gold double", "trigger": "purchase", "audience": {"tiers": ["gold"]},
            "effect": {"multiplier": 2}}),
        json!({"name": "birthday", "trigger": "purchase", "condition": "member.is_birthday_month",
            "effect": {"bonus": 100}, "limits": {"per_member": {"month": 100}}}),
        json!({"name": "vip", "trigger": "purchase",
            "condition": "'vip' in member.segments && has(member.attributes.level) && member.attributes.level > 2",
            "effect": {"bonus": 5}}),
    ];
    let count = docs.len();
    let rules = docs
        .iter()
        .enumerate()
        .map(|(i, d)| {
            (
                RuleRef {
                    id: format!("rul_{i}"),
                    version: 1,
                },
                RuleDoc::parse(d).unwrap(),
            )
        })
        .collect();
    let set = RuleSet::compile(rules);
    let tz = TimeZone::get("Europe/Warsaw").unwrap();
    let attributes = json!({"level": 3}).as_object().unwrap().clone();
    let (tags, segments) = (vec!["staff".to_owned()], vec!["vip".to_owned()]);
    for n in [5usize, 500] {
        let skus: Vec<String> = (0..n).map(|i| format!("sku-{i}")).collect();
        let items: Vec<ItemFacts<'_>> = skus
            .iter()
            .enumerate()
            .map(|(i, sku)| ItemFacts {
                sku,
                name: Some("A record"),
                category: Some(if i % 2 == 0 { "vinyl" } else { "cd" }),
                brand: None,
                quantity: 1,
                unit_price_minor: 2599,
            })
            .collect();
        let event = Event {
            trigger: Trigger::Purchase,
            occurred_at: "2026-12-05T11:00:00Z".parse().unwrap(),
            time_zone: &tz,
            rounding: Rounding::Nearest,
            base_points: 130,
            custom: None,
            purchase: Some(PurchaseFacts {
                total_minor: 2599 * n as i64,
                minor_per_major: 100,
                currency: "PLN",
                channel: "pos",
                location: None,
                items: &items,
            }),
            member: MemberFacts {
                id: "mem_1",
                tier: Some("gold"),
                tags: &tags,
                segments: &segments,
                attributes: &attributes,
                enrolled_at: "2026-01-01T00:00:00Z".parse().unwrap(),
                birthday: Some(jiff::civil::date(1990, 12, 24)),
                purchases_before: 3,
            },
        };
        let usage = |_: &RuleRef| Usage::default();
        let runs = if n > 100 { 200 } else { 5000 };
        let mut total = 0;
        let start = Instant::now();
        for _ in 0..runs {
            total += set.evaluate(&event, &usage).total_points();
        }
        let each = start.elapsed() / runs;
        println!(
            "{count} rules, {n} items: {each:?} per evaluation ({} points)",
            total / i64::from(runs)
        );
    }
}
