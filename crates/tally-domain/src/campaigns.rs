//! One-off campaigns (mass promotions): one template to the members of a segment (or all
//! active members), at a scheduled time or spread so each member gets it at their best send
//! hour within a window, with a random holdout kept back to measure what the campaign did.
//!
//! Pure parts: reading a campaign, which members are held out (a stable hash of campaign and
//! member, so a rerun decides the same), and when a member's message is due.

use crate::Timestamp;
use crate::error::{DomainError, Fields};
use crate::ids::TemplateId;
use crate::inputs::{Obj, int, parse_with, text, timestamp};
use crate::model::Channel;
use jiff::SignedDuration;
use jiff::tz::TimeZone;
use serde_json::Value;

/// The largest holdout, in percent: beyond it the campaign mostly measures itself.
pub const MAX_HOLDOUT_PERCENT: i64 = 50;

/// A campaign as asked for.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CampaignInput {
    pub name: String,
    pub template: TemplateId,
    /// A segment's key; `None`: every active member.
    pub segment: Option<String>,
    /// Only this channel; `None`: each member's preferred channel, then the fallback order.
    pub channel: Option<Channel>,
    /// When it goes; `None`: when it is launched.
    pub send_at: Option<Timestamp>,
    /// Spread each member's message to their best send hour within this many hours.
    pub best_hour_within_hours: Option<i64>,
    /// Members kept back at random, in percent (0–50).
    pub holdout_percent: i64,
    /// How many days after sending a purchase counts as a conversion in the report.
    pub conversion_days: i64,
}

impl CampaignInput {
    pub fn parse(body: &Value) -> Result<CampaignInput, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "name",
                "template",
                "segment",
                "channel",
                "send_at",
                "best_hour_within_hours",
                "holdout_percent",
                "conversion_days",
            ],
        );
        let name = o.req(&mut f, "name", text(200));
        let template = o.req(&mut f, "template", parse_with(TemplateId::parse));
        let segment = o.opt(&mut f, "segment", text(64));
        let channel = o.opt(&mut f, "channel", |v| {
            Channel::parse(crate::inputs::string(v)?)
        });
        let send_at = o.opt(&mut f, "send_at", timestamp);
        let within = o.opt(&mut f, "best_hour_within_hours", int(1, 168));
        let holdout = o.opt(&mut f, "holdout_percent", int(0, MAX_HOLDOUT_PERCENT));
        let days = o.opt(&mut f, "conversion_days", int(1, 90));
        f.finish()?;
        Ok(CampaignInput {
            name: name.expect("checked"),
            template: template.expect("checked"),
            segment,
            channel,
            send_at,
            best_hour_within_hours: within,
            holdout_percent: holdout.unwrap_or(0),
            conversion_days: days.unwrap_or(7),
        })
    }
}

/// A number from 0 to 9,999 for a member in a campaign, the same every time and spread evenly:
/// FNV-1a over both ids, then SplitMix64's finaliser to mix the bits.
pub fn bucket(campaign: &str, member: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in campaign.bytes().chain([0]).chain(member.bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0000_0100_0000_01b3);
    }
    h ^= h >> 30;
    h = h.wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h ^= h >> 27;
    h = h.wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^= h >> 31;
    h % 10_000
}

/// Whether the member is kept back as the campaign's control group.
pub fn held_out(campaign: &str, member: &str, holdout_percent: i64) -> bool {
    (bucket(campaign, member) as i64) < holdout_percent * 100
}

/// When a member's message is due: `send_at`, or with a window, the first hour in it whose
/// local weekday and hour are the member's best (0 = Monday 00:00 … 167 = Sunday 23:00); if the
/// window is shorter than a week and misses it, the first hour with the best hour of day; else
/// `send_at`.
pub fn due_at(
    send_at: Timestamp,
    within_hours: Option<i64>,
    best_hour_of_week: Option<i64>,
    zone: &TimeZone,
) -> Timestamp {
    let (Some(within), Some(best)) = (within_hours, best_hour_of_week) else {
        return send_at;
    };
    let hours: Vec<(Timestamp, i64)> = (0..within)
        .map(|k| {
            let t = send_at + SignedDuration::from_hours(k);
            let local = t.to_zoned(zone.clone());
            let weekday = i64::from(local.weekday().to_monday_zero_offset());
            (t, weekday * 24 + i64::from(local.hour()))
        })
        .collect();
    hours
        .iter()
        .find(|(_, h)| *h == best)
        .or_else(|| hours.iter().find(|(_, h)| h % 24 == best % 24))
        .map_or(send_at, |(t, _)| *t)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn ts(raw: &str) -> Timestamp {
        raw.parse().unwrap()
    }

    #[test]
    fn a_campaign_is_read_with_defaults_and_bad_fields_named() {
        let c = CampaignInput::parse(
            &json!({"name": "Spring", "template": "tpl_01J8Z3Q4R5S6T7V8W9X0Y1Z2C5"}),
        )
        .unwrap();
        assert_eq!((c.holdout_percent, c.conversion_days), (0, 7));
        assert_eq!(c.segment, None);
        let err = CampaignInput::parse(&json!({
            "template": "x", "holdout_percent": 80, "best_hour_within_hours": 0,
            "channel": "fax", "send_at": "soon", "conversion_days": 0, "colour": 1,
        }))
        .unwrap_err()
        .to_string();
        for pointer in [
            "/name",
            "/template",
            "/holdout_percent",
            "/best_hour_within_hours",
            "/channel",
            "/send_at",
            "/conversion_days",
            "/colour",
        ] {
            assert!(err.contains(pointer), "{pointer} in {err}");
        }
    }

    #[test]
    fn the_holdout_is_stable_and_close_to_its_share() {
        let campaign = "cmp_01J8Z3Q4R5S6T7V8W9X0Y1Z2C5";
        let members: Vec<String> = (0..20_000).map(|i| format!("mem_{i:026}")).collect();
        let held = members.iter().filter(|m| held_out(campaign, m, 10)).count();
        // 10 % of 20,000 is 2,000; the binomial standard deviation is about 42.
        assert!((1_850..=2_150).contains(&held), "{held}");
        assert!(
            members
                .iter()
                .all(|m| held_out(campaign, m, 10) == held_out(campaign, m, 10))
        );
        assert!(!members.iter().any(|m| held_out(campaign, m, 0)));
        // Another campaign holds out other members.
        let other = members
            .iter()
            .filter(|m| held_out(campaign, m, 10) && held_out("cmp_other", m, 10))
            .count();
        assert!(other < 400, "{other}");
    }

    #[test]
    fn each_member_gets_their_best_hour_within_the_window() {
        let warsaw = TimeZone::get("Europe/Warsaw").unwrap();
        // Wednesday 2 December 2026, 09:00 UTC = 10:00 in Warsaw.
        let send_at = ts("2026-12-02T09:00:00Z");
        // Best: Thursday 18:00 local (3 × 24 + 18 = 90) → 17:00 UTC on the 3rd.
        assert_eq!(
            due_at(send_at, Some(48), Some(90), &warsaw),
            ts("2026-12-03T17:00:00Z")
        );
        // Best: Monday 07:00 (7), not within 48 hours: the first 07:00 local, Thursday's.
        assert_eq!(
            due_at(send_at, Some(48), Some(7), &warsaw),
            ts("2026-12-03T06:00:00Z")
        );
        // No window, no best hour, or a window too short: send_at.
        assert_eq!(due_at(send_at, None, Some(90), &warsaw), send_at);
        assert_eq!(due_at(send_at, Some(24), None, &warsaw), send_at);
        assert_eq!(due_at(send_at, Some(2), Some(7), &warsaw), send_at);
    }
}
