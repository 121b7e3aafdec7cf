//! Evaluating rule sets: points, rounding, effects, schedule, audience, order, caps, errors.

use jiff::Timestamp;
use jiff::tz::TimeZone;
use serde_json::{Map, Value, json};
use std::cell::Cell;
use tally_domain::program::Rounding;
use tally_rules::{
    Decision, Event, ItemFacts, MemberFacts, Outcome, PurchaseFacts, RuleDoc, RuleRef, RuleSet,
    Trigger, Usage, windows,
};

struct Fixture {
    tz: TimeZone,
    items: Vec<ItemFacts<'static>>,
    tags: Vec<String>,
    segments: Vec<String>,
    attributes: Map<String, Value>,
}

fn fixture() -> Fixture {
    let item = |sku, category, quantity, unit_price_minor| ItemFacts {
        sku,
        name: Some("A record"),
        category: Some(category),
        brand: None,
        quantity,
        unit_price_minor,
    };
    Fixture {
        tz: TimeZone::get("Europe/Warsaw").unwrap(),
        items: vec![
            item("v-1", "vinyl", 2, 1000),
            item("cd-1", "cd", 1, 1550),
            item("v-2", "vinyl", 1, 1000),
        ],
        tags: vec!["staff".into()],
        segments: vec!["vip".into()],
        attributes: json!({"level": 3, "name": "bob", "ratio": 0.5})
            .as_object()
            .unwrap()
            .clone(),
    }
}

/// A purchase of 45.50 PLN (4 items) at POS on Saturday 2026-12-05 12:00 Warsaw time.
fn purchase(fx: &Fixture) -> Event<'_> {
    Event {
        trigger: Trigger::Purchase,
        occurred_at: "2026-12-05T11:00:00Z".parse().unwrap(),
        time_zone: &fx.tz,
        rounding: Rounding::Nearest,
        base_points: 41,
        custom: None,
        purchase: Some(PurchaseFacts {
            total_minor: 4550,
            minor_per_major: 100,
            currency: "PLN",
            channel: "pos",
            location: Some("loc_01J0000000000000000000000A"),
            items: &fx.items,
        }),
        member: MemberFacts {
            id: "mem_1",
            tier: Some("gold"),
            tags: &fx.tags,
            segments: &fx.segments,
            attributes: &fx.attributes,
            enrolled_at: "2026-11-05T11:00:00Z".parse().unwrap(),
            birthday: Some(jiff::civil::date(1990, 12, 24)),
            purchases_before: 3,
        },
    }
}

fn rule(id: &str, doc: Value) -> (RuleRef, RuleDoc) {
    let parsed = RuleDoc::parse(&doc).unwrap_or_else(|e| panic!("{doc}: {e}"));
    (
        RuleRef {
            id: id.into(),
            version: 1,
        },
        parsed,
    )
}

fn with(effect: Value, extra: Value) -> Value {
    let mut doc = json!({"name": "r", "trigger": "purchase", "effect": effect});
    for (k, v) in extra.as_object().unwrap() {
        doc[k] = v.clone();
    }
    doc
}

fn no_usage(_: &RuleRef) -> Usage {
    Usage::default()
}

fn one(doc: Value, event: &Event<'_>) -> Decision {
    let set = RuleSet::compile(vec![rule("r1", doc)]);
    let mut outcome = set.evaluate(event, &no_usage);
    assert_eq!(outcome.decisions.len(), 1);
    outcome.decisions.remove(0)
}

fn points(effect: Value, event: &Event<'_>) -> i64 {
    let d = one(with(effect, json!({})), event);
    assert!(d.matched, "{d:?}");
    d.points
}

#[test]
fn point_formulas_give_ints_and_rounded_doubles() {
    let fx = fixture();
    let mut e = purchase(&fx);
    assert_eq!(
        points(json!({"points": "purchase.total_minor / 100"}), &e),
        45
    );
    assert_eq!(
        points(
            json!({"points": "purchase.item_count * 2 + base_points"}),
            &e
        ),
        49
    );
    for (rounding, expected) in [
        (Rounding::Down, 45),
        (Rounding::Nearest, 46),
        (Rounding::Up, 46),
    ] {
        e.rounding = rounding;
        assert_eq!(
            points(json!({"points": "purchase.total"}), &e),
            expected,
            "{rounding:?}"
        );
    }
    for (rounding, expected) in [
        (Rounding::Down, 11),
        (Rounding::Nearest, 11),
        (Rounding::Up, 12),
    ] {
        e.rounding = rounding;
        assert_eq!(
            points(json!({"points": "purchase.total / 4.0"}), &e),
            expected,
            "11.375 {rounding:?}"
        );
    }
    // clamped to [0, 1e9]
    assert_eq!(points(json!({"points": "0 - 5"}), &e), 0);
    assert_eq!(points(json!({"points": "-2.5"}), &e), 0);
    assert_eq!(points(json!({"points": "5000000000"}), &e), 1_000_000_000);
    assert_eq!(points(json!({"points": "1.0 / 0.0"}), &e), 1_000_000_000);
    // dyn values work when they are numbers
    assert_eq!(
        points(json!({"points": "member.attributes.level * 10"}), &e),
        30
    );
}

#[test]
fn per_item_sums_matching_items_and_rounds_once() {
    let fx = fixture();
    let e = purchase(&fx);
    let d = one(
        with(
            json!({"per_item": {"condition": "item.category == 'vinyl'", "points": "item.quantity * 10"}}),
            json!({}),
        ),
        &e,
    );
    assert!(d.matched);
    assert_eq!(d.points, 30);
    assert_eq!(d.why, "matched: 2 of 3 items");
    // 0.25 × (20.00 + 15.50 + 10.00) = 11.375: rounded once, not per item (5 + 3.875 + 2.5)
    assert_eq!(
        points(json!({"per_item": {"points": "item.amount * 0.25"}}), &e),
        11
    );
    let none = one(
        with(
            json!({"per_item": {"condition": "item.brand != ''", "points": "1"}}),
            json!({}),
        ),
        &e,
    );
    assert!(none.matched);
    assert_eq!(
        (none.points, none.why.as_str()),
        (0, "matched: 0 of 3 items")
    );
}

#[test]
fn multiplier_rounds_the_extra_with_the_program_rounding() {
    let fx = fixture();
    let mut e = purchase(&fx);
    // 41 × 1.5 = 61.5 extra points
    for (rounding, expected) in [
        (Rounding::Down, 61),
        (Rounding::Nearest, 62),
        (Rounding::Up, 62),
    ] {
        e.rounding = rounding;
        assert_eq!(
            points(json!({"multiplier": 2.5}), &e),
            expected,
            "{rounding:?}"
        );
    }
    e.base_points = 0;
    assert_eq!(points(json!({"multiplier": 3}), &e), 0);
}

#[test]
fn bonus_and_context_values() {
    let fx = fixture();
    let e = purchase(&fx);
    assert_eq!(points(json!({"bonus": 50}), &e), 50);
    let condition = "purchase.total == 45.5 && purchase.currency == 'PLN' && purchase.channel == 'pos' \
        && purchase.location.startsWith('loc_') && size(purchase.items) == 3 && purchase.item_count == 4 \
        && purchase.items.filter(i, i.category == 'vinyl').map(i, i.amount) == [20.0, 10.0] \
        && purchase.items.exists_one(i, i.unit_price == 15.5) && purchase.items.all(i, i.brand == '') \
        && member.id == 'mem_1' && member.tier == 'gold' && 'staff' in member.tags && 'vip' in member.segments \
        && member.days_since_enrolment == 30 && member.purchases_before == 3 && member.birthday_month == 12 \
        && member.is_birthday_month && time.hour == 12 && time.minute == 0 && time.weekday == 6 \
        && time.day == 5 && time.month == 12 && time.year == 2026 && time.date == '2026-12-05' \
        && event.trigger == 'purchase' && base_points == 41 && has(member.attributes.name) \
        && !has(member.attributes.missing) && member.attributes.ratio < 1";
    let d = one(
        with(json!({"bonus": 1}), json!({"condition": condition})),
        &e,
    );
    assert!(d.matched, "{d:?}");
}

#[test]
fn schedules_follow_local_time_across_dst() {
    let fx = fixture();
    let doc = with(
        json!({"bonus": 5}),
        json!({"schedule": {"days": ["sat", "sun"], "hours": {"from": "09:00", "to": "17:00"}}}),
    );
    let at = |ts: &str| {
        let mut e = purchase(&fx);
        e.occurred_at = ts.parse().unwrap();
        one(doc.clone(), &e)
    };
    // 25 October 2026: clocks go back at 03:00 CEST; 08:30Z is 09:30 CET on Sunday.
    assert!(at("2026-10-25T08:30:00Z").matched);
    // 07:30Z the same day is 08:30 CET: before the hours.
    assert_eq!(
        at("2026-10-25T07:30:00Z").why,
        "outside schedule (09:00–17:00)"
    );
    // The day before, 07:30Z was 09:30 CEST.
    assert!(at("2026-10-24T07:30:00Z").matched);
    // 29 March 2026: clocks go forward; 07:30Z is 09:30 CEST, the day before 08:30 CET.
    assert!(at("2026-03-29T07:30:00Z").matched);
    assert!(!at("2026-03-28T07:30:00Z").matched);
    // Friday 16 October 12:00
    assert_eq!(
        at("2026-10-16T10:00:00Z").why,
        "outside schedule (Saturday and Sunday)"
    );
    // 16:59 local matches, 17:00 does not
    assert!(at("2026-10-24T14:59:00Z").matched);
    assert!(!at("2026-10-24T15:00:00Z").matched);
    let fx = fixture();
    let e = purchase(&fx);
    let d = one(
        with(
            json!({"bonus": 5}),
            json!({"condition": "time.hour == 9 && time.weekday == 7"}),
        ),
        &Event {
            occurred_at: "2026-10-25T08:30:00Z".parse().unwrap(),
            ..e
        },
    );
    assert!(d.matched, "time.* is local after the change: {d:?}");
}

#[test]
fn schedules_start_and_end() {
    let fx = fixture();
    let doc = with(
        json!({"bonus": 5}),
        json!({"schedule": {"starts_at": "2026-12-01T00:00:00Z", "ends_at": "2026-12-05T11:00:00Z"}}),
    );
    let mut e = purchase(&fx);
    let d = one(doc.clone(), &e);
    assert_eq!(d.why, "outside schedule (ended 2026-12-05T11:00:00Z)");
    e.occurred_at = "2026-12-05T10:59:59Z".parse().unwrap();
    assert!(one(doc.clone(), &e).matched);
    e.occurred_at = "2026-12-01T00:00:00Z".parse().unwrap();
    assert!(one(doc.clone(), &e).matched);
    e.occurred_at = "2026-11-30T23:59:59Z".parse().unwrap();
    assert_eq!(
        one(doc, &e).why,
        "outside schedule (starts 2026-12-01T00:00:00Z)"
    );
}

#[test]
fn audiences_filter_by_channel_location_tier_segment_and_tag() {
    let fx = fixture();
    let e = purchase(&fx);
    let why = |audience: Value| {
        let d = one(with(json!({"bonus": 5}), json!({"audience": audience})), &e);
        if d.matched {
            "matched".to_owned()
        } else {
            d.why
        }
    };
    assert_eq!(why(json!({"channels": ["pos", "app"]})), "matched");
    assert_eq!(
        why(json!({"channels": ["online"]})),
        "channel pos not in audience (online)"
    );
    assert_eq!(
        why(json!({"locations": ["loc_01J0000000000000000000000A"]})),
        "matched"
    );
    assert_eq!(
        why(json!({"locations": ["loc_01J0000000000000000000000B"]})),
        "location loc_01J0000000000000000000000A not in audience"
    );
    assert_eq!(why(json!({"tiers": ["gold", "silver"]})), "matched");
    assert_eq!(
        why(json!({"tiers": ["silver"]})),
        "tier gold not in audience"
    );
    assert_eq!(why(json!({"segments": ["vip"]})), "matched");
    assert_eq!(
        why(json!({"segments": ["lapsed"]})),
        "member in none of the audience segments"
    );
    assert_eq!(why(json!({"tags": ["staff", "press"]})), "matched");
    assert_eq!(
        why(json!({"tags": ["press"]})),
        "member has none of the audience tags"
    );
}

#[test]
fn priorities_order_rules_and_stop_further_stops_the_rest() {
    let fx = fixture();
    let e = purchase(&fx);
    let named = |name: &str, priority: i32, stop: bool, condition: &str| {
        json!({"name": name, "trigger": "purchase", "condition": condition, "effect": {"bonus": 10},
               "priority": priority, "stop_further": stop})
    };
    let set = |stopper_condition: &str| {
        RuleSet::compile(vec![
            rule("a", named("low", 0, false, "true")),
            rule("c", named("high stop", 10, true, stopper_condition)),
            rule("b", named("high", 10, false, "true")),
            rule("e", {
                let mut d = named("enrolment", 99, false, "true");
                d["trigger"] = json!("enrolment");
                d
            }),
        ])
    };
    let outcome = set("true").evaluate(&e, &no_usage);
    let order: Vec<(&str, bool, bool)> = outcome
        .decisions
        .iter()
        .map(|d| (d.rule.id.as_str(), d.matched, d.stopped_further))
        .collect();
    assert_eq!(
        order,
        [("b", true, false), ("c", true, true), ("a", false, false)]
    );
    assert_eq!(outcome.decisions[2].why, "stopped by rule c (high stop)");
    assert_eq!(outcome.decisions[2].points, 0);
    assert_eq!(outcome.total_points(), 20);
    assert_eq!(outcome.awarded().count(), 2);
    let outcome = set("false").evaluate(&e, &no_usage);
    assert_eq!(outcome.total_points(), 20);
    assert_eq!(outcome.decisions[1].why, "condition is false");
    assert!(outcome.decisions[2].matched);
}

#[test]
fn caps_apply_in_order_and_never_go_negative() {
    let fx = fixture();
    let e = purchase(&fx);
    let limits = json!({"per_event": 500, "per_member": {"day": 400, "week": 1000, "month": 2000, "lifetime": 5000}, "budget": 100000});
    let set = RuleSet::compile(vec![rule(
        "r",
        with(json!({"bonus": 800}), json!({"limits": limits})),
    )]);
    let run = |usage: Usage| -> (i64, Option<&'static str>, i64) {
        let d = set
            .evaluate(&e, &move |_: &RuleRef| usage)
            .decisions
            .remove(0);
        (d.points, d.capped_by, d.uncapped_points)
    };
    let base = Usage::default();
    assert_eq!(run(base), (400, Some("per_member.day"), 800));
    let usage = Usage {
        member_day: 100,
        member_week: 950,
        ..base
    };
    assert_eq!(run(usage), (50, Some("per_member.week"), 800));
    let usage = Usage {
        member_month: 1990,
        ..base
    };
    assert_eq!(run(usage), (10, Some("per_member.month"), 800));
    let usage = Usage {
        member_lifetime: 4997,
        ..base
    };
    assert_eq!(run(usage), (3, Some("per_member.lifetime"), 800));
    let usage = Usage {
        total: 99_999,
        ..base
    };
    assert_eq!(run(usage), (1, Some("budget"), 800));
    // over the limit: nothing, never negative; the first limit that reached zero is named
    let usage = Usage {
        member_day: 900,
        total: 200_000,
        ..base
    };
    assert_eq!(run(usage), (0, Some("per_member.day"), 800));
    let usage = Usage {
        total: 200_000,
        ..base
    };
    assert_eq!(run(usage), (0, Some("budget"), 800));
    let per_event = RuleSet::compile(vec![rule(
        "r",
        with(json!({"bonus": 800}), json!({"limits": {"per_event": 500}})),
    )]);
    let asked = Cell::new(0);
    let counting = |_: &RuleRef| {
        asked.set(asked.get() + 1);
        Usage::default()
    };
    let d = per_event.evaluate(&e, &counting).decisions.remove(0);
    assert_eq!((d.points, d.capped_by), (500, Some("per_event")));
    assert_eq!(d.why, "matched; capped by per_event");
    assert_eq!(
        asked.get(),
        0,
        "no usage is read for a rule without member limits or budget"
    );
    let outcome = set.evaluate(&e, &|_: &RuleRef| Usage {
        member_day: 400,
        ..Usage::default()
    });
    assert_eq!(
        outcome.awarded().count(),
        0,
        "a capped-to-zero rule awards nothing"
    );
    assert_eq!(outcome.total_points(), 0);
}

#[test]
fn runtime_errors_do_not_match_and_do_not_panic() {
    let fx = fixture();
    let e = purchase(&fx);
    let d = one(
        with(
            json!({"bonus": 5}),
            json!({"condition": "member.attributes.missing > 1"}),
        ),
        &e,
    );
    assert!(!d.matched);
    assert!(
        d.why.starts_with("evaluation error: ") && d.why.contains("missing"),
        "{}",
        d.why
    );
    let d = one(
        with(
            json!({"bonus": 5}),
            json!({"condition": "purchase.total_minor / (purchase.item_count - 4) > 1"}),
        ),
        &e,
    );
    assert!(!d.matched);
    assert!(
        d.why.to_lowercase().contains("division by zero"),
        "{}",
        d.why
    );
    let d = one(
        with(json!({"points": "member.attributes.name"}), json!({})),
        &e,
    );
    assert!(!d.matched);
    assert!(d.why.contains("not a number"), "{}", d.why);
    let d = one(
        with(
            json!({"bonus": 5}),
            json!({"condition": "member.attributes.name > 1"}),
        ),
        &e,
    );
    assert!(
        !d.matched && d.why.starts_with("evaluation error"),
        "{}",
        d.why
    );
    let d = one(
        with(
            json!({"bonus": 5}),
            json!({"condition": "member.attributes.level"}),
        ),
        &e,
    );
    assert!(d.why.contains("not a bool"), "{}", d.why);
    // a purchase rule given an event without purchase facts
    let mut bare = purchase(&fx);
    bare.purchase = None;
    let d = one(
        with(
            json!({"per_item": {"points": "1"}}),
            json!({"condition": "purchase.total > 1.0"}),
        ),
        &bare,
    );
    assert!(
        !d.matched && d.why.starts_with("evaluation error"),
        "{}",
        d.why
    );
    let d = one(with(json!({"per_item": {"points": "1"}}), json!({})), &bare);
    assert!(
        !d.matched && d.why.starts_with("evaluation error"),
        "{}",
        d.why
    );
}

#[test]
fn a_hand_built_invalid_document_never_matches() {
    let fx = fixture();
    let e = purchase(&fx);
    let (r, mut doc) = rule("r", with(json!({"bonus": 5}), json!({})));
    doc.condition = Some("purchase.totl > 1".into());
    let outcome = RuleSet::compile(vec![(r, doc)]).evaluate(&e, &no_usage);
    assert!(!outcome.decisions[0].matched);
    assert!(
        outcome.decisions[0]
            .why
            .starts_with("invalid rule: unknown field")
    );
}

#[test]
fn enrolment_events_skip_purchase_rules() {
    let fx = fixture();
    let mut e = purchase(&fx);
    e.trigger = Trigger::Enrolment;
    e.purchase = None;
    e.base_points = 0;
    let set = RuleSet::compile(vec![
        rule("p", with(json!({"bonus": 5}), json!({}))),
        rule(
            "w",
            json!({"name": "welcome", "trigger": "enrolment", "effect": {"points": "member.is_birthday_month ? 200 : 100"}}),
        ),
    ]);
    assert!(!set.is_empty());
    assert!(set.for_trigger(Trigger::Enrolment));
    let outcome: Outcome = set.evaluate(&e, &no_usage);
    assert_eq!(outcome.decisions.len(), 1);
    assert_eq!(outcome.decisions[0].name, "welcome");
    assert_eq!(outcome.total_points(), 200);
    let only_purchase = RuleSet::compile(vec![rule("p", with(json!({"bonus": 5}), json!({})))]);
    assert!(!only_purchase.for_trigger(Trigger::Enrolment));
    assert!(only_purchase.evaluate(&e, &no_usage).decisions.is_empty());
    assert!(RuleSet::compile(vec![]).is_empty());
}

#[test]
fn limited_lists_rules_that_need_usage() {
    let set = RuleSet::compile(vec![
        rule(
            "a",
            with(
                json!({"bonus": 5}),
                json!({"limits": {"per_member": {"day": 1}}}),
            ),
        ),
        rule(
            "b",
            with(json!({"bonus": 5}), json!({"limits": {"per_event": 1}})),
        ),
        rule(
            "c",
            with(json!({"bonus": 5}), json!({"limits": {"budget": 10}})),
        ),
    ]);
    let ids: Vec<&str> = set
        .limited(Trigger::Purchase)
        .iter()
        .map(|r| r.id.as_str())
        .collect();
    assert_eq!(ids, ["a", "c"]);
    assert!(set.limited(Trigger::Enrolment).is_empty());
}

#[test]
fn windows_are_local_day_week_and_month_starts() {
    let tz = TimeZone::get("Europe/Warsaw").unwrap();
    let ts = |s: &str| s.parse::<Timestamp>().unwrap();
    // Sunday 25 October 2026, the day clocks go back: it started at 00:00 CEST.
    let w = windows(ts("2026-10-25T12:00:00Z"), &tz);
    assert_eq!(w.day, ts("2026-10-24T22:00:00Z"));
    assert_eq!(w.week, ts("2026-10-18T22:00:00Z"));
    assert_eq!(w.month, ts("2026-09-30T22:00:00Z"));
    // 01:30 CET on Sunday 1 November: a new month and day, still the week of 26 October (CET).
    let w = windows(ts("2026-11-01T00:30:00Z"), &tz);
    assert_eq!(w.day, ts("2026-10-31T23:00:00Z"));
    assert_eq!(w.month, ts("2026-10-31T23:00:00Z"));
    assert_eq!(w.week, ts("2026-10-25T23:00:00Z"));
    // exactly at a month start
    let w = windows(ts("2026-10-31T23:00:00Z"), &tz);
    assert_eq!(w.month, ts("2026-10-31T23:00:00Z"));
    // A zone whose DST starts at midnight: the day starts at 01:00 (America/Havana, 8 March 2026).
    let havana = TimeZone::get("America/Havana").unwrap();
    let w = windows(ts("2026-03-08T12:00:00Z"), &havana);
    assert_eq!(w.day, ts("2026-03-08T05:00:00Z"));
}

#[test]
fn rule_sets_can_be_shared_between_threads() {
    fn shared<T: Send + Sync>() {}
    shared::<RuleSet>();
}
