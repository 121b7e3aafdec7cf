//! Journeys: a trigger puts a member on a path of steps — wait, send a message, grant points,
//! tag, branch on a condition, exit — that runs by itself, across days, restarts and nodes.
//!
//! This module is the definition (what a journey document says, checked when saved) and the
//! pure parts of running it: when a wait ends, which entries a trigger makes (re-entry), and
//! what a condition asks. `tally-core` keeps each member's place and runs the steps.

use crate::Timestamp;
use crate::error::{DomainError, Fields};
use crate::ids::{OfferId, RewardId, TemplateId, WebhookId};
use crate::inputs::{Obj, identifier, int, parse_with, text};
use crate::model::Channel;
use jiff::SignedDuration;
use jiff::civil::Time;
use jiff::tz::TimeZone;
use serde_json::{Value, json};

/// The most steps in one journey.
pub const MAX_STEPS: usize = 50;

/// What puts a member on a journey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Trigger {
    /// They joined the program.
    Enrolled,
    /// Any purchase.
    Purchase,
    /// Their first purchase.
    FirstPurchase,
    /// A purchase moved them up a tier.
    TierUp,
    /// A tier review moved them down a tier.
    TierDown,
    /// A purchase brought their points (available and pending) to at least this many.
    PointsReached { points: i64 },
    /// Their last purchase was this many days ago, and none since (once per lapse).
    Inactive { days: i64 },
    /// They entered the segment with this key.
    SegmentEntered(String),
    /// They left the segment with this key.
    SegmentLeft(String),
    /// A custom event of this type.
    Event(String),
    /// Their birthday, in their time zone (29 February on 28 February in other years).
    Birthday,
    /// The day they joined, in a later year, in the program's time zone.
    Anniversary,
    /// Some of their points expire within this many days.
    PointsExpiring { within_days: i64 },
    /// Their lifecycle stage (from insights) is this one, and their value percentile at least
    /// this (the high-value members at risk, for a win-back).
    Lifecycle {
        stage: String,
        min_value_percentile: Option<i64>,
    },
}

impl Trigger {
    pub fn name(&self) -> &'static str {
        match self {
            Trigger::Enrolled => "enrolled",
            Trigger::Purchase => "purchase",
            Trigger::FirstPurchase => "first_purchase",
            Trigger::TierUp => "tier_up",
            Trigger::TierDown => "tier_down",
            Trigger::PointsReached { .. } => "points_reached",
            Trigger::Inactive { .. } => "inactive",
            Trigger::SegmentEntered(_) => "segment_entered",
            Trigger::SegmentLeft(_) => "segment_left",
            Trigger::Event(_) => "event",
            Trigger::Birthday => "birthday",
            Trigger::Anniversary => "anniversary",
            Trigger::PointsExpiring { .. } => "points_expiring",
            Trigger::Lifecycle { .. } => "lifecycle",
        }
    }

    /// Whether the runner looks for members on its own (dates and states), rather than a
    /// purchase, enrolment or event firing it.
    pub fn is_scheduled(&self) -> bool {
        matches!(
            self,
            Trigger::Birthday
                | Trigger::Anniversary
                | Trigger::PointsExpiring { .. }
                | Trigger::Lifecycle { .. }
                | Trigger::Inactive { .. }
        )
    }

    pub fn to_json(&self) -> Value {
        match self {
            Trigger::Event(t) => json!({ "type": "event", "event_type": t }),
            Trigger::PointsReached { points } => {
                json!({ "type": "points_reached", "points": points })
            }
            Trigger::Inactive { days } => json!({ "type": "inactive", "days": days }),
            Trigger::SegmentEntered(s) | Trigger::SegmentLeft(s) => {
                json!({ "type": self.name(), "segment": s })
            }
            Trigger::PointsExpiring { within_days } => {
                json!({ "type": "points_expiring", "within_days": within_days })
            }
            Trigger::Lifecycle {
                stage,
                min_value_percentile,
            } => {
                json!({ "type": "lifecycle", "stage": stage, "min_value_percentile": min_value_percentile })
            }
            other => json!({ "type": other.name() }),
        }
    }
}

/// Whether a member can be on the journey again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reentry {
    /// Once per member, ever.
    Never,
    /// Once per member per calendar year (birthdays, anniversaries).
    Yearly,
    /// Every time the trigger fires.
    Always,
}

impl Reentry {
    pub fn as_str(self) -> &'static str {
        match self {
            Reentry::Never => "never",
            Reentry::Yearly => "yearly",
            Reentry::Always => "always",
        }
    }

    /// The occurrence an entry is unique for: one per member per journey per occurrence, so a
    /// trigger that fires twice for the same occurrence (a retry, two nodes) enters once.
    pub fn occurrence(self, year: i16, cause: &str) -> String {
        match self {
            Reentry::Never => "once".into(),
            Reentry::Yearly => year.to_string(),
            Reentry::Always => cause.to_owned(),
        }
    }
}

/// What a branch asks about the member.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Condition {
    /// They bought something since they entered the journey.
    PurchasedSinceEntry,
    HasTag(String),
    /// At least this many points available.
    PointsAtLeast(i64),
}

/// One step of a journey.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    Wait(SignedDuration),
    /// Until the next time the member's clock shows this time.
    WaitUntil(Time),
    Send {
        template: TemplateId,
        channel: Option<Channel>,
    },
    GrantPoints {
        points: i64,
        reason: String,
    },
    AddTag(String),
    RemoveTag(String),
    /// Gives the member a reward of the program, free (an issued redemption).
    GrantReward(RewardId),
    /// Activates an offer of the program for the member (one they would clip in the wallet).
    ActivateOffer(OfferId),
    /// Calls one of the program's webhook endpoints with the member and `label`.
    Webhook {
        endpoint: WebhookId,
        label: Option<String>,
    },
    /// When the condition holds, go on at step `then` (a later step); else at the next one.
    Branch {
        condition: Condition,
        then: usize,
    },
    Exit,
}

/// A journey as saved.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JourneyDoc {
    pub name: String,
    /// The playbook it was made from, if any.
    pub playbook: Option<String>,
    pub trigger: Trigger,
    pub reentry: Reentry,
    pub steps: Vec<Step>,
    /// Members kept back at random, in percent (0–50): the journey's control group.
    pub holdout_percent: i64,
    /// How many days after entering a purchase counts as a conversion in the report.
    pub conversion_days: i64,
}

fn trigger(o: &Obj<'_>, f: &mut Fields) -> Option<Trigger> {
    let t = o.obj(f, "trigger", true)?;
    t.only(
        f,
        &[
            "type",
            "event_type",
            "within_days",
            "stage",
            "min_value_percentile",
            "points",
            "days",
            "segment",
        ],
    );
    let kind = t.req(f, "type", text(40))?;
    let trigger = match kind.as_str() {
        "enrolled" => Trigger::Enrolled,
        "purchase" => Trigger::Purchase,
        "first_purchase" => Trigger::FirstPurchase,
        "tier_up" => Trigger::TierUp,
        "tier_down" => Trigger::TierDown,
        "points_reached" => Trigger::PointsReached {
            points: t.req(f, "points", int(1, 1_000_000_000))?,
        },
        "inactive" => Trigger::Inactive {
            days: t.req(f, "days", int(1, 730))?,
        },
        "segment_entered" => Trigger::SegmentEntered(t.req(f, "segment", text(64))?),
        "segment_left" => Trigger::SegmentLeft(t.req(f, "segment", text(64))?),
        "birthday" => Trigger::Birthday,
        "anniversary" => Trigger::Anniversary,
        "event" => Trigger::Event(t.req(f, "event_type", identifier)?),
        "points_expiring" => Trigger::PointsExpiring {
            within_days: t.req(f, "within_days", int(1, 90))?,
        },
        "lifecycle" => Trigger::Lifecycle {
            stage: t.req(f, "stage", |v| match crate::inputs::string(v)? {
                s @ ("new" | "active" | "at_risk" | "lapsed" | "lost") => Ok(s.to_owned()),
                _ => Err("must be one of new, active, at_risk, lapsed, lost".to_owned()),
            })?,
            min_value_percentile: t.opt(f, "min_value_percentile", int(0, 100)),
        },
        _ => {
            f.push(
                t.pointer("type"),
                "must be one of enrolled, purchase, first_purchase, tier_up, tier_down, points_reached, event, birthday, anniversary, points_expiring, lifecycle, inactive, segment_entered, segment_left",
            );
            return None;
        }
    };
    let allowed: &[&str] = match &trigger {
        Trigger::Event(_) => &["event_type"],
        Trigger::PointsExpiring { .. } => &["within_days"],
        Trigger::Lifecycle { .. } => &["stage", "min_value_percentile"],
        Trigger::PointsReached { .. } => &["points"],
        Trigger::Inactive { .. } => &["days"],
        Trigger::SegmentEntered(_) | Trigger::SegmentLeft(_) => &["segment"],
        _ => &[],
    };
    let fields = [
        "event_type",
        "within_days",
        "stage",
        "min_value_percentile",
        "points",
        "days",
        "segment",
    ];
    for key in fields {
        if t.has(key) && !allowed.contains(&key) {
            f.push(
                t.pointer(key),
                format!("is not a field of the `{}` trigger", trigger.name()),
            );
        }
    }
    Some(trigger)
}

fn local_time(v: &Value) -> Result<Time, String> {
    let raw = crate::inputs::string(v)?;
    let parsed = (raw.len() == 5)
        .then(|| Time::strptime("%H:%M", raw).ok())
        .flatten();
    parsed.ok_or_else(|| format!("`{raw}` is not a local time such as `09:00`"))
}

const STEP_KINDS: &[&str] = &[
    "wait",
    "wait_until",
    "send",
    "grant_points",
    "add_tag",
    "remove_tag",
    "grant_reward",
    "activate_offer",
    "webhook",
    "branch",
    "exit",
];

fn step(s: &Obj<'_>, f: &mut Fields, index: usize, count: usize) -> Option<Step> {
    s.only(f, STEP_KINDS);
    let kinds: Vec<&str> = STEP_KINDS.iter().copied().filter(|k| s.has(k)).collect();
    if kinds.len() != 1 {
        f.push(
            s.path.clone(),
            format!("must have exactly one of {}", STEP_KINDS.join(", ")),
        );
        return None;
    }
    match kinds[0] {
        "wait" => {
            let w = s.obj(f, "wait", true)?;
            w.only(f, &["days", "hours", "minutes"]);
            let days = w.opt(f, "days", int(0, 366)).unwrap_or(0);
            let hours = w.opt(f, "hours", int(0, 24 * 366)).unwrap_or(0);
            let minutes = w.opt(f, "minutes", int(0, 60 * 24 * 366)).unwrap_or(0);
            let total = SignedDuration::from_mins(minutes + 60 * (hours + 24 * days));
            if total.is_zero() || total > SignedDuration::from_hours(24 * 366) {
                f.push(w.path.clone(), "must wait between a minute and a year");
                return None;
            }
            Some(Step::Wait(total))
        }
        "wait_until" => s.req(f, "wait_until", local_time).map(Step::WaitUntil),
        "send" => {
            let o = s.obj(f, "send", true)?;
            o.only(f, &["template", "channel"]);
            let template = o.req(f, "template", parse_with(TemplateId::parse));
            let channel = o.opt(f, "channel", |v| Channel::parse(crate::inputs::string(v)?));
            Some(Step::Send {
                template: template?,
                channel,
            })
        }
        "grant_points" => {
            let o = s.obj(f, "grant_points", true)?;
            o.only(f, &["points", "reason"]);
            let points = o.req(f, "points", int(1, 1_000_000));
            let reason = o.req(f, "reason", text(200));
            Some(Step::GrantPoints {
                points: points?,
                reason: reason?,
            })
        }
        "add_tag" => s
            .req(f, "add_tag", crate::inputs::tag_value)
            .map(Step::AddTag),
        "remove_tag" => s
            .req(f, "remove_tag", crate::inputs::tag_value)
            .map(Step::RemoveTag),
        "grant_reward" => s
            .req(f, "grant_reward", parse_with(RewardId::parse))
            .map(Step::GrantReward),
        "activate_offer" => s
            .req(f, "activate_offer", parse_with(OfferId::parse))
            .map(Step::ActivateOffer),
        "webhook" => {
            let o = s.obj(f, "webhook", true)?;
            o.only(f, &["endpoint", "label"]);
            let endpoint = o.req(f, "endpoint", parse_with(WebhookId::parse));
            let label = o.opt(f, "label", text(100));
            Some(Step::Webhook {
                endpoint: endpoint?,
                label,
            })
        }
        "branch" => {
            let b = s.obj(f, "branch", true)?;
            b.only(f, &["if", "then"]);
            let then = b.req(f, "then", int(0, MAX_STEPS as i64));
            let condition = b.obj(f, "if", true).and_then(|c| {
                c.only(f, &["purchased_since_entry", "has_tag", "points_at_least"]);
                if c.has("purchased_since_entry") {
                    c.req(f, "purchased_since_entry", |v| match v.as_bool() {
                        Some(true) => Ok(Condition::PurchasedSinceEntry),
                        _ => Err("must be true".to_owned()),
                    })
                } else if c.has("has_tag") {
                    c.req(f, "has_tag", crate::inputs::tag_value)
                        .map(Condition::HasTag)
                } else if c.has("points_at_least") {
                    c.req(f, "points_at_least", int(0, i64::MAX))
                        .map(Condition::PointsAtLeast)
                } else {
                    f.push(
                        c.path.clone(),
                        "must ask one of purchased_since_entry, has_tag, points_at_least",
                    );
                    None
                }
            });
            let then = then? as usize;
            // Only forward: a journey always ends.
            if then <= index || then > count {
                f.push(
                    b.pointer("then"),
                    format!("must be a later step: {} to {count}", index + 1),
                );
                return None;
            }
            Some(Step::Branch {
                condition: condition?,
                then,
            })
        }
        _ => {
            if s.map.get("exit") != Some(&Value::Bool(true)) {
                f.push(s.pointer("exit"), "must be true");
            }
            Some(Step::Exit)
        }
    }
}

impl JourneyDoc {
    /// Reads `{"name", "trigger": {"type", "event_type"?}, "reentry"?, "steps": [...]}`.
    /// Without `reentry`, a birthday journey is yearly and every other one once per member.
    pub fn parse(body: &Value) -> Result<JourneyDoc, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "name",
                "trigger",
                "reentry",
                "steps",
                "playbook",
                "holdout_percent",
                "conversion_days",
            ],
        );
        let holdout = o.opt(
            &mut f,
            "holdout_percent",
            int(0, crate::campaigns::MAX_HOLDOUT_PERCENT),
        );
        let conversion_days = o.opt(&mut f, "conversion_days", int(1, 90));
        let name = o.req(&mut f, "name", text(200));
        let playbook = o.opt(&mut f, "playbook", identifier);
        let trigger = trigger(&o, &mut f);
        let reentry = o.opt(&mut f, "reentry", |v| match crate::inputs::string(v)? {
            "never" => Ok(Reentry::Never),
            "yearly" => Ok(Reentry::Yearly),
            "always" => Ok(Reentry::Always),
            _ => Err("must be one of never, yearly, always".to_owned()),
        });
        let objects = o.objects(&mut f, "steps", MAX_STEPS);
        if objects.is_empty() && !o.has("steps") {
            f.push("/steps", "is required");
        } else if objects.is_empty() {
            f.push("/steps", "must have at least one step");
        }
        let count = objects.len();
        let steps: Vec<Option<Step>> = objects
            .iter()
            .enumerate()
            .map(|(i, s)| step(s, &mut f, i, count))
            .collect();
        f.finish()?;
        let trigger = trigger.expect("checked");
        // Defaults: a birthday once a year; an expiry reminder once per expiry date.
        let reentry = reentry.unwrap_or(match trigger {
            Trigger::Birthday | Trigger::Anniversary => Reentry::Yearly,
            Trigger::PointsExpiring { .. } | Trigger::Inactive { .. } => Reentry::Always,
            _ => Reentry::Never,
        });
        Ok(JourneyDoc {
            name: name.expect("checked"),
            playbook,
            trigger,
            reentry,
            steps: steps.into_iter().map(|s| s.expect("checked")).collect(),
            holdout_percent: holdout.unwrap_or(0),
            conversion_days: conversion_days.unwrap_or(14),
        })
    }

    /// The templates the journey sends.
    pub fn templates(&self) -> impl Iterator<Item = &TemplateId> {
        self.steps.iter().filter_map(|s| match s {
            Step::Send { template, .. } => Some(template),
            _ => None,
        })
    }
}

/// The next time after `now` that a clock in `zone` shows `at` (today or tomorrow).
pub fn next_local(now: Timestamp, at: Time, zone: &TimeZone) -> Timestamp {
    let local = now.to_zoned(zone.clone());
    let today = local.date().to_datetime(at);
    let candidate = today
        .to_zoned(zone.clone())
        .map(|z| z.timestamp())
        .unwrap_or(now);
    if candidate > now {
        return candidate;
    }
    local
        .date()
        .tomorrow()
        .ok()
        .and_then(|d| d.to_datetime(at).to_zoned(zone.clone()).ok())
        .map_or(now, |z| z.timestamp())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::is_birthday;

    fn ts(raw: &str) -> Timestamp {
        raw.parse().unwrap()
    }

    #[test]
    fn a_journey_is_read_and_each_bad_step_named() {
        let doc = JourneyDoc::parse(&json!({
            "name": "Welcome",
            "trigger": {"type": "enrolled"},
            "steps": [
                {"send": {"template": "tpl_01J8Z3Q4R5S6T7V8W9X0Y1Z2C5"}},
                {"wait": {"days": 3}},
                {"branch": {"if": {"purchased_since_entry": true}, "then": 5}},
                {"grant_points": {"points": 50, "reason": "welcome nudge"}},
                {"wait_until": "09:00"},
                {"add_tag": "welcomed"},
            ],
        }))
        .unwrap();
        assert_eq!(doc.reentry, Reentry::Never);
        assert_eq!(doc.steps[1], Step::Wait(SignedDuration::from_hours(72)));
        assert_eq!(doc.templates().count(), 1);
        let birthday = JourneyDoc::parse(&json!({
            "name": "Birthday", "trigger": {"type": "birthday"}, "steps": [{"exit": true}],
        }))
        .unwrap();
        assert_eq!(birthday.reentry, Reentry::Yearly);

        let err = JourneyDoc::parse(&json!({
            "trigger": {"type": "moon"},
            "reentry": "sometimes",
            "steps": [
                {"wait": {"hours": 0}},
                {"send": {}},
                {"branch": {"if": {"has_tag": "vip"}, "then": 1}},
                {"wait": {"days": 1}, "exit": true},
                {"wait_until": "9am"},
                {"fly": true},
            ],
        }))
        .unwrap_err()
        .to_string();
        for pointer in [
            "/name",
            "/trigger/type",
            "/reentry",
            "/steps/0/wait",
            "/steps/1/send/template",
            "/steps/2/branch/then",
            "/steps/3",
            "/steps/4/wait_until",
            "/steps/5/fly",
        ] {
            assert!(err.contains(pointer), "{pointer} in {err}");
        }
        let err =
            JourneyDoc::parse(&json!({"name": "x", "trigger": {"type": "event"}, "steps": []}))
                .unwrap_err()
                .to_string();
        assert!(
            err.contains("/trigger/event_type") && err.contains("/steps"),
            "{err}"
        );
    }

    #[test]
    fn waits_until_the_next_local_time_across_daylight_saving() {
        let warsaw = TimeZone::get("Europe/Warsaw").unwrap();
        let nine = Time::constant(9, 0, 0, 0);
        // 10:00 local on 28 March 2026: tomorrow 09:00, which is summer time (UTC+2).
        assert_eq!(
            next_local(ts("2026-03-28T09:00:00Z"), nine, &warsaw),
            ts("2026-03-29T07:00:00Z")
        );
        // 07:00 local: today.
        assert_eq!(
            next_local(ts("2026-12-02T06:00:00Z"), nine, &warsaw),
            ts("2026-12-02T08:00:00Z")
        );
    }

    #[test]
    fn a_29_february_birthday_is_on_28_february_in_other_years() {
        let leapling = jiff::civil::date(2000, 2, 29);
        assert!(is_birthday(leapling, jiff::civil::date(2027, 2, 28)));
        assert!(!is_birthday(leapling, jiff::civil::date(2028, 2, 28)));
        assert!(is_birthday(leapling, jiff::civil::date(2028, 2, 29)));
        assert!(is_birthday(
            jiff::civil::date(1990, 6, 1),
            jiff::civil::date(2026, 6, 1)
        ));
        assert!(!is_birthday(
            jiff::civil::date(1990, 6, 1),
            jiff::civil::date(2026, 6, 2)
        ));
        assert_eq!(Reentry::Yearly.occurrence(2027, "x"), "2027");
        assert_eq!(Reentry::Never.occurrence(2027, "x"), "once");
        assert_eq!(Reentry::Always.occurrence(2027, "pur_1"), "pur_1");
    }
}
