//! Messaging policy: through which channel a message reaches a member, and when.
//!
//! A program's [`MessagingSettings`] say which channels to try after the member's preferred
//! one (the fallback order), the quiet hours (local to the member) when nothing is sent, how
//! many messages a member gets per channel per week at most, and whether opens and clicks are
//! tracked. [`candidates`] orders the channels for one message and says why each one that
//! cannot be used is refused; the weekly cap is a conditional write in the store, so it is
//! checked there, channel by channel in this order. All of it is pure.

use crate::Timestamp;
use crate::error::{DomainError, Fields};
use crate::ids::TemplateId;
use crate::inputs::{Obj, boolean, identifier, int, parse_with, timestamp};
use crate::model::{Channel, Member, MemberStatus};
use jiff::civil::Time;
use jiff::tz::TimeZone;
use serde_json::{Value, json};
use std::collections::BTreeMap;

/// The most messages a cap may allow per week.
pub const MAX_WEEKLY_CAP: i64 = 1000;

/// A program's messaging settings.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessagingSettings {
    /// Local times between which nothing is sent (the end may be the next morning).
    pub quiet_hours: Option<QuietHours>,
    /// Most messages per member per channel per calendar week; a channel not named has no cap.
    pub weekly_caps: BTreeMap<Channel, i64>,
    /// The channels tried, in order, after the member's preferred one.
    pub fallback: Vec<Channel>,
    /// Whether emails carry an open pixel and tracked links.
    pub tracking: bool,
}

impl Default for MessagingSettings {
    /// Quiet from 21:00 to 08:00, at most 3 emails, 2 text messages and 5 pushes a week, email
    /// first, tracking on: what a careful program starts with.
    fn default() -> MessagingSettings {
        MessagingSettings {
            quiet_hours: Some(QuietHours {
                start: Time::constant(21, 0, 0, 0),
                end: Time::constant(8, 0, 0, 0),
            }),
            weekly_caps: BTreeMap::from([
                (Channel::Email, 3),
                (Channel::Sms, 2),
                (Channel::Push, 5),
            ]),
            fallback: vec![Channel::Email, Channel::Push, Channel::Sms, Channel::InApp],
            tracking: true,
        }
    }
}

/// A nightly pause, in the member's local time.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct QuietHours {
    pub start: Time,
    pub end: Time,
}

fn local_time(v: &Value) -> Result<Time, String> {
    let raw = crate::inputs::string(v)?;
    let ok = raw.len() == 5 && raw.as_bytes()[2] == b':';
    let parsed = ok.then(|| Time::strptime("%H:%M", raw).ok()).flatten();
    parsed.ok_or_else(|| format!("`{raw}` is not a local time such as `21:00`"))
}

fn channel(v: &Value) -> Result<Channel, String> {
    Channel::parse(crate::inputs::string(v)?)
}

impl QuietHours {
    /// When the quiet hours that contain `now` end, in `zone`; `None` outside them.
    pub fn until(&self, now: Timestamp, zone: &TimeZone) -> Option<Timestamp> {
        if self.start == self.end {
            return None;
        }
        let local = now.to_zoned(zone.clone());
        let t = local.time();
        let date = local.date();
        let wraps = self.start > self.end;
        let end_date = if wraps {
            if t >= self.start {
                date.tomorrow().ok()?
            } else if t < self.end {
                date
            } else {
                return None;
            }
        } else if t >= self.start && t < self.end {
            date
        } else {
            return None;
        };
        // An end inside a daylight-saving gap moves forward by the gap (RFC 5545's rule).
        end_date
            .to_datetime(self.end)
            .to_zoned(zone.clone())
            .ok()
            .map(|z| z.timestamp())
    }
}

impl MessagingSettings {
    /// Reads `{"quiet_hours": {"start", "end"} | null, "weekly_caps": {channel: n},
    /// "fallback": [channel…], "tracking": bool}`; a field left out keeps its default.
    pub fn parse(body: &Value) -> Result<MessagingSettings, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &["quiet_hours", "weekly_caps", "fallback", "tracking"],
        );
        let mut s = MessagingSettings::default();
        if o.has("quiet_hours") {
            s.quiet_hours = o.obj(&mut f, "quiet_hours", false).and_then(|q| {
                q.only(&mut f, &["start", "end"]);
                let start = q.req(&mut f, "start", local_time);
                let end = q.req(&mut f, "end", local_time);
                Some(QuietHours {
                    start: start?,
                    end: end?,
                })
            });
        }
        if let Some(caps) = o.obj(&mut f, "weekly_caps", false) {
            caps.only(&mut f, Channel::NAMES);
            s.weekly_caps = Channel::ALL
                .into_iter()
                .filter_map(|c| {
                    caps.opt(&mut f, c.as_str(), int(0, MAX_WEEKLY_CAP))
                        .map(|n| (c, n))
                })
                .collect();
        }
        if let Some(order) = o.opt(&mut f, "fallback", |v| {
            let items = v.as_array().ok_or("must be an array of channels")?;
            let mut order = Vec::new();
            for item in items {
                let c = channel(item)?;
                if order.contains(&c) {
                    return Err(format!("names `{}` twice", c.as_str()));
                }
                order.push(c);
            }
            Ok(order)
        }) {
            s.fallback = order;
        }
        if let Some(tracking) = o.opt(&mut f, "tracking", boolean) {
            s.tracking = tracking;
        }
        f.finish()?;
        Ok(s)
    }

    pub fn to_json(&self) -> Value {
        let caps: serde_json::Map<String, Value> = self
            .weekly_caps
            .iter()
            .map(|(c, n)| (c.as_str().to_owned(), json!(n)))
            .collect();
        json!({
            "quiet_hours": self.quiet_hours.map(|q| json!({
                "start": q.start.strftime("%H:%M").to_string(),
                "end": q.end.strftime("%H:%M").to_string(),
            })),
            "weekly_caps": caps,
            "fallback": self.fallback.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
            "tracking": self.tracking,
        })
    }

    /// When a message to a member in `zone` may go, if not now: the end of the quiet hours.
    /// In-app messages wait in the inbox and are never held back.
    pub fn hold_until(
        &self,
        channel: Channel,
        now: Timestamp,
        zone: &TimeZone,
    ) -> Option<Timestamp> {
        if channel == Channel::InApp {
            return None;
        }
        self.quiet_hours.and_then(|q| q.until(now, zone))
    }
}

/// A message to one member, asked for through the API:
/// `{"template", "channel"?, "send_at"?, "dedupe_key"?}`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MessageRequest {
    pub template: TemplateId,
    /// `None`: the member's preferred channel, then the fallback order.
    pub channel: Option<Channel>,
    /// Not before this time (quiet hours may push it later).
    pub send_at: Option<Timestamp>,
    /// The client's name for this message: a second request with it queues nothing.
    pub dedupe_key: Option<String>,
}

impl MessageRequest {
    pub fn parse(body: &Value) -> Result<MessageRequest, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["template", "channel", "send_at", "dedupe_key"]);
        let template = o.req(&mut f, "template", parse_with(TemplateId::parse));
        let channel = o.opt(&mut f, "channel", channel);
        let send_at = o.opt(&mut f, "send_at", timestamp);
        let dedupe_key = o.opt(&mut f, "dedupe_key", identifier);
        f.finish()?;
        Ok(MessageRequest {
            template: template.expect("checked"),
            channel,
            send_at,
            dedupe_key,
        })
    }
}

/// Why a channel cannot carry a message to a member.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Refusal {
    /// This server cannot send on the channel (no SMTP relay, no SMS gateway…).
    NotSetUp,
    /// The member has no address for it (no email, no phone, no push subscription).
    NoAddress,
    /// The member has not consented to it, or withdrew consent.
    NoConsent,
    /// The member had as many messages on it this week as the program allows.
    WeeklyCap,
}

impl Refusal {
    pub fn as_str(self) -> &'static str {
        match self {
            Refusal::NotSetUp => "not_set_up",
            Refusal::NoAddress => "no_address",
            Refusal::NoConsent => "no_consent",
            Refusal::WeeklyCap => "weekly_cap",
        }
    }
}

/// A channel a message may take, with where it goes, or why it cannot.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Candidate {
    pub channel: Channel,
    pub route: Result<String, Refusal>,
}

/// The channels to try for a message, in order: the one asked for only, or else the member's
/// preferred channel then the program's fallback order. `usable` says which channels this
/// server can send on; `push_endpoint` is the member's push subscription, if any.
pub fn candidates(
    asked: Option<Channel>,
    member: &Member,
    settings: &MessagingSettings,
    usable: &[Channel],
    push_endpoint: Option<&str>,
) -> Vec<Candidate> {
    let mut order: Vec<Channel> = Vec::new();
    let wanted = match asked {
        Some(c) => vec![c],
        None => member
            .preferred_channel
            .into_iter()
            .chain(settings.fallback.iter().copied())
            .collect(),
    };
    for c in wanted {
        if !order.contains(&c) {
            order.push(c);
        }
    }
    order
        .into_iter()
        .map(|channel| Candidate {
            channel,
            route: route(channel, member, usable, push_endpoint),
        })
        .collect()
}

fn route(
    channel: Channel,
    member: &Member,
    usable: &[Channel],
    push_endpoint: Option<&str>,
) -> Result<String, Refusal> {
    if !usable.contains(&channel) {
        return Err(Refusal::NotSetUp);
    }
    let address = match channel {
        Channel::Email => member.email.as_ref().map(|e| e.as_str().to_owned()),
        Channel::Sms => member.phone.as_ref().map(|p| p.as_str().to_owned()),
        Channel::Push => push_endpoint.map(str::to_owned),
        Channel::InApp => Some(member.id.as_str().to_owned()),
    }
    .ok_or(Refusal::NoAddress)?;
    if !consents(member, channel) {
        return Err(Refusal::NoConsent);
    }
    Ok(address)
}

/// Whether the member has agreed to messages on `channel`: a recorded, granted consent (the
/// latest decision counts). The in-app inbox needs none, only no withdrawal: it is read
/// inside the member's own wallet.
pub fn consents(member: &Member, channel: Channel) -> bool {
    let latest = member
        .consents
        .iter()
        .filter(|c| c.channel == channel)
        .max_by_key(|c| c.changed_at);
    match latest {
        Some(c) => c.granted,
        None => channel == Channel::InApp,
    }
}

/// Whether a member can be sent anything at all.
pub fn reachable(member: &Member) -> bool {
    member.status == MemberStatus::Active
}

/// The calendar week (ISO 8601, Monday first) `now` falls in, in `zone`: `2026-W49`. Weekly
/// caps count per such week.
pub fn week_of(now: Timestamp, zone: &TimeZone) -> String {
    let week = now.to_zoned(zone.clone()).date().iso_week_date();
    format!("{}-W{:02}", week.year(), week.week())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Balance, Card, Consent};
    use crate::text::{Email, Phone};

    fn ts(raw: &str) -> Timestamp {
        raw.parse().unwrap()
    }

    fn warsaw() -> TimeZone {
        TimeZone::get("Europe/Warsaw").unwrap()
    }

    fn member() -> Member {
        Member {
            id: crate::ids::MemberId::generate(),
            program_id: crate::ids::ProgramId::generate(),
            person_id: crate::ids::PersonId::generate(),
            external_id: None,
            name: Some("Ada".into()),
            email: Some(Email::parse("ada@example.com").unwrap()),
            email_verified: false,
            phone: Some(Phone::parse("+48 600 100 200").unwrap()),
            phone_verified: false,
            birthday: None,
            locale: None,
            time_zone: None,
            preferred_channel: None,
            consents: Vec::new(),
            attributes: Default::default(),
            tags: Vec::new(),
            status: MemberStatus::Active,
            card: Card {
                number: "1".into(),
                token: "t".into(),
            },
            balance: Balance {
                available: crate::Points::ZERO,
                pending: crate::Points::ZERO,
            },
            enrolled_at: ts("2026-01-01T00:00:00Z"),
        }
    }

    fn consent(channel: Channel, granted: bool, at: &str) -> Consent {
        Consent {
            channel,
            granted,
            changed_at: ts(at),
            source: "test".into(),
        }
    }

    #[test]
    fn quiet_hours_over_midnight_end_the_next_local_morning() {
        let q = MessagingSettings::default().quiet_hours.unwrap();
        // 22:30 in Warsaw (CET, UTC+1) → 08:00 the next day.
        assert_eq!(
            q.until(ts("2026-12-04T21:30:00Z"), &warsaw()),
            Some(ts("2026-12-05T07:00:00Z"))
        );
        // 06:00 local → 08:00 the same day.
        assert_eq!(
            q.until(ts("2026-12-05T05:00:00Z"), &warsaw()),
            Some(ts("2026-12-05T07:00:00Z"))
        );
        // 12:00 local: not quiet.
        assert_eq!(q.until(ts("2026-12-05T11:00:00Z"), &warsaw()), None);
        // The night the clocks go forward (29 March 2026): 08:00 is then UTC+2.
        assert_eq!(
            q.until(ts("2026-03-28T22:00:00Z"), &warsaw()),
            Some(ts("2026-03-29T06:00:00Z"))
        );
    }

    #[test]
    fn quiet_hours_within_a_day_and_in_a_gap() {
        let q = QuietHours {
            start: Time::constant(1, 0, 0, 0),
            end: Time::constant(2, 30, 0, 0),
        };
        // 02:30 does not exist in Warsaw on 29 March 2026 (02:00 → 03:00): the end is 03:30 CEST.
        assert_eq!(
            q.until(ts("2026-03-29T00:30:00Z"), &warsaw()),
            Some(ts("2026-03-29T01:30:00Z"))
        );
        assert_eq!(q.until(ts("2026-03-29T10:00:00Z"), &warsaw()), None);
    }

    #[test]
    fn settings_parse_name_each_bad_field_and_round_trip() {
        let err = MessagingSettings::parse(&json!({
            "quiet_hours": {"start": "25:00", "end": "8"},
            "weekly_caps": {"email": -1, "fax": 2},
            "fallback": ["email", "email"],
            "colour": "red",
        }))
        .unwrap_err()
        .to_string();
        for pointer in [
            "/quiet_hours/start",
            "/quiet_hours/end",
            "/weekly_caps/email",
            "/weekly_caps/fax",
            "/fallback",
            "/colour",
        ] {
            assert!(err.contains(pointer), "{pointer} in {err}");
        }
        let s = MessagingSettings::parse(&json!({
            "quiet_hours": null, "weekly_caps": {"sms": 1}, "fallback": ["sms", "in_app"], "tracking": false,
        }))
        .unwrap();
        assert_eq!(s.quiet_hours, None);
        assert_eq!(s.weekly_caps, BTreeMap::from([(Channel::Sms, 1)]));
        assert_eq!(MessagingSettings::parse(&s.to_json()).unwrap(), s);
        let d = MessagingSettings::default();
        assert_eq!(MessagingSettings::parse(&d.to_json()).unwrap(), d);
    }

    #[test]
    fn candidates_follow_preference_then_fallback_with_reasons() {
        let settings = MessagingSettings::default();
        let mut m = member();
        m.preferred_channel = Some(Channel::Sms);
        m.consents = vec![
            consent(Channel::Email, true, "2026-01-01T00:00:00Z"),
            consent(Channel::Sms, true, "2026-01-01T00:00:00Z"),
            consent(Channel::Sms, false, "2026-02-01T00:00:00Z"),
        ];
        let usable = [Channel::Email, Channel::Sms, Channel::InApp];
        let got = candidates(None, &m, &settings, &usable, None);
        let summary: Vec<(&str, Result<String, &str>)> = got
            .iter()
            .map(|c| (c.channel.as_str(), c.route.clone().map_err(Refusal::as_str)))
            .collect();
        assert_eq!(
            summary,
            vec![
                ("sms", Err("no_consent")),
                ("email", Ok("ada@example.com".to_owned())),
                ("push", Err("not_set_up")),
                ("in_app", Ok(m.id.as_str().to_owned())),
            ]
        );
        // Asked for one channel: only that one.
        let only = candidates(Some(Channel::Push), &m, &settings, &[Channel::Push], None);
        assert_eq!(only.len(), 1);
        assert_eq!(only[0].route, Err(Refusal::NoAddress));
    }

    #[test]
    fn in_app_needs_no_consent_but_respects_a_withdrawal() {
        let mut m = member();
        assert!(consents(&m, Channel::InApp));
        assert!(!consents(&m, Channel::Email));
        m.consents = vec![consent(Channel::InApp, false, "2026-01-01T00:00:00Z")];
        assert!(!consents(&m, Channel::InApp));
    }

    #[test]
    fn weeks_are_iso_weeks_in_the_zone() {
        // Sunday 23:30 in UTC is still week 49; in Warsaw it is already Monday.
        assert_eq!(week_of(ts("2026-12-06T23:30:00Z"), &warsaw()), "2026-W50");
        assert_eq!(
            week_of(ts("2026-12-06T23:30:00Z"), &TimeZone::UTC),
            "2026-W49"
        );
        assert_eq!(
            week_of(ts("2027-01-01T12:00:00Z"), &TimeZone::UTC),
            "2026-W53"
        );
    }
}
