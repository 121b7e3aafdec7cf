//! `tally-bench rules`: evaluating a 10-rule program, on one core, without storage — next to
//! the same ten rules written by hand in Rust (the baseline: what the decisions cost when
//! nothing is interpreted). Target (issue 4): at least 100,000 purchases/s.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};
use std::hint::black_box;
use std::time::Instant;
use tally_domain::program::Rounding;
use tally_rules::{
    Event, ItemFacts, MemberFacts, PurchaseFacts, RuleDoc, RuleRef, RuleSet, Trigger, Usage,
};

pub struct Options {
    pub purchases: usize,
}

/// The ten rules: the kinds a real program runs (multipliers, per-item bonuses, thresholds,
/// schedules, audiences, member facts).
pub fn ten_rules() -> Vec<Value> {
    vec![
        json!({"name": "Double weekends", "trigger": "purchase", "effect": {"multiplier": 2}, "schedule": {"days": ["sat", "sun"]}}),
        json!({"name": "Vinyl club", "trigger": "purchase", "effect": {"per_item": {"condition": "item.category == 'vinyl'", "points": "item.quantity * 10"}}, "limits": {"per_member": {"day": 200}}}),
        json!({"name": "Big basket", "trigger": "purchase", "condition": "purchase.total >= 100.0", "effect": {"bonus": 50}}),
        json!({"name": "Online", "trigger": "purchase", "effect": {"bonus": 5}, "audience": {"channels": ["online"]}}),
        json!({"name": "Happy hours", "trigger": "purchase", "effect": {"multiplier": 1.5}, "schedule": {"hours": {"from": "14:00", "to": "16:00"}}}),
        json!({"name": "VIP half again", "trigger": "purchase", "condition": "'vip' in member.tags", "effect": {"points": "double(base_points) * 0.5"}}),
        json!({"name": "First purchase", "trigger": "purchase", "condition": "member.purchases_before == 0", "effect": {"bonus": 100}}),
        json!({"name": "Blue Note", "trigger": "purchase", "effect": {"per_item": {"condition": "item.brand == 'Blue Note'", "points": "item.amount * 2.0"}}}),
        json!({"name": "Birthday month", "trigger": "purchase", "condition": "member.is_birthday_month", "effect": {"bonus": 25}}),
        json!({"name": "Armful", "trigger": "purchase", "condition": "purchase.item_count >= 5", "effect": {"points": "purchase.item_count * 3"}}),
    ]
}

/// A generated line: sku, category, brand, quantity, unit price in minor units.
type Line = (String, Option<String>, Option<String>, i64, i64);

/// One generated purchase: a few lines of varied categories and brands.
struct Sample {
    items: Vec<Line>,
    total_minor: i64,
    channel: &'static str,
    at: Timestamp,
    tags: Vec<String>,
    purchases_before: i64,
}

fn samples(n: usize) -> Vec<Sample> {
    let categories = ["vinyl", "cd", "tape", "merch"];
    let brands = ["Blue Note", "Verve", "ECM", "Impulse!"];
    let start: Timestamp = "2026-06-01T08:00:00Z".parse().expect("a timestamp");
    (0..n)
        .map(|i| {
            let lines = 1 + i % 6;
            let items: Vec<_> = (0..lines)
                .map(|j| {
                    let k = i * 7 + j * 3;
                    (
                        format!("sku-{}", k % 500),
                        Some(categories[k % 4].to_owned()),
                        Some(brands[(k / 4) % 4].to_owned()),
                        1 + (k % 3) as i64,
                        500 + ((k * 37) % 4000) as i64,
                    )
                })
                .collect();
            let total_minor = items.iter().map(|x| x.3 * x.4).sum();
            Sample {
                items,
                total_minor,
                channel: if i % 3 == 0 { "online" } else { "pos" },
                at: start + jiff::SignedDuration::from_mins((i as i64 * 97) % (60 * 24 * 14)),
                tags: if i % 10 == 0 {
                    vec!["vip".into()]
                } else {
                    Vec::new()
                },
                purchases_before: (i % 5) as i64,
            }
        })
        .collect()
}

/// The same ten decisions, written by hand.
fn by_hand(s: &Sample, base: i64, tz: &TimeZone) -> i64 {
    let local = s.at.to_zoned(tz.clone());
    let weekday = local.weekday().to_monday_one_offset();
    let hour = local.hour();
    let mut points = 0i64;
    if weekday >= 6 {
        points += base;
    }
    let vinyl: i64 = s
        .items
        .iter()
        .filter(|x| x.1.as_deref() == Some("vinyl"))
        .map(|x| x.3 * 10)
        .sum();
    points += vinyl.min(200);
    let total = s.total_minor as f64 / 100.0;
    if total >= 100.0 {
        points += 50;
    }
    if s.channel == "online" {
        points += 5;
    }
    if (14..16).contains(&hour) {
        points += (base as f64 * 0.5).round() as i64;
    }
    if s.tags.iter().any(|t| t == "vip") {
        points += (base as f64 * 0.5).round() as i64;
    }
    if s.purchases_before == 0 {
        points += 100;
    }
    let blue: f64 = s
        .items
        .iter()
        .filter(|x| x.2.as_deref() == Some("Blue Note"))
        .map(|x| x.3 as f64 * x.4 as f64 / 100.0 * 2.0)
        .sum();
    points += blue.round() as i64;
    let count: i64 = s.items.iter().map(|x| x.3).sum();
    if count >= 5 {
        points += count * 3;
    }
    points
}

pub fn run(options: Options) {
    let docs: Vec<(RuleRef, RuleDoc)> = ten_rules()
        .iter()
        .enumerate()
        .map(|(i, v)| {
            let doc = RuleDoc::parse(v).unwrap_or_else(|e| panic!("rule {i} is valid: {e}"));
            (
                RuleRef {
                    id: format!("rule_{i}"),
                    version: 1,
                },
                doc,
            )
        })
        .collect();
    let set = RuleSet::compile(docs);
    let tz = TimeZone::get("Europe/Warsaw").expect("a time zone");
    let data = samples(options.purchases);
    let attributes = Map::new();
    let enrolled: Timestamp = "2025-01-01T00:00:00Z".parse().expect("a timestamp");

    // Ours: build each event's facts and evaluate the compiled rules.
    let started = Instant::now();
    let mut ours_total = 0i64;
    for s in &data {
        let items: Vec<ItemFacts<'_>> = s
            .items
            .iter()
            .map(|x| ItemFacts {
                sku: &x.0,
                name: None,
                category: x.1.as_deref(),
                brand: x.2.as_deref(),
                quantity: x.3,
                unit_price_minor: x.4,
            })
            .collect();
        let base = s.total_minor / 100;
        let event = Event {
            trigger: Trigger::Purchase,
            occurred_at: s.at,
            time_zone: &tz,
            rounding: Rounding::Nearest,
            base_points: base,
            custom: None,
            purchase: Some(PurchaseFacts {
                total_minor: s.total_minor,
                minor_per_major: 100,
                currency: "USD",
                channel: s.channel,
                location: None,
                items: &items,
            }),
            member: MemberFacts {
                id: "mem_bench",
                tier: None,
                tags: &s.tags,
                segments: &[],
                attributes: &attributes,
                enrolled_at: enrolled,
                birthday: None,
                purchases_before: s.purchases_before,
            },
        };
        let outcome = set.evaluate(&event, &|_: &RuleRef| Usage::default());
        ours_total += black_box(outcome.total_points());
    }
    let ours = started.elapsed();

    let started = Instant::now();
    let mut hand_total = 0i64;
    for s in &data {
        hand_total += black_box(by_hand(s, s.total_minor / 100, &tz));
    }
    let hand = started.elapsed();

    let rate = |d: std::time::Duration| data.len() as f64 / d.as_secs_f64();
    println!(
        "rule evaluation, 10 rules, {} purchases, one thread",
        data.len()
    );
    println!(
        "  ours (tally-rules, CEL)     {:>12.0} purchases/s  ({} points)",
        rate(ours),
        ours_total
    );
    println!(
        "  baseline (hand-written Rust){:>12.0} purchases/s  ({} points)",
        rate(hand),
        hand_total
    );
    println!(
        "  ours ÷ baseline             {:>12.3}",
        rate(ours) / rate(hand)
    );
    println!(
        "  target ≥ 100,000/s: {}",
        if rate(ours) >= 100_000.0 {
            "met"
        } else {
            "NOT met"
        }
    );
}
