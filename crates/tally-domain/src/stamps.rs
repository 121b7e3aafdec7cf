//! Stamp cards (digital punch cards): N stamps earn a reward. A card says how many stamps it
//! takes, what completing it gives (a reward from the catalog, or points), which purchases
//! stamp it, how many stamps a member may get a day, and whether the store's rotating QR code
//! may stamp it. Several cards per program; a member's progress is kept per card.

use crate::error::{DomainError, Fields};
use crate::ids::{LocationId, RewardId};
use crate::inputs::{MemberRef, Obj, boolean, int, parse_with, tags, text};
use crate::model::SalesChannel;
use crate::money::Money;
use serde_json::{Value, json};

pub const MIN_STAMPS: i64 = 2;
pub const MAX_STAMPS: i64 = 50;
/// Most stamps a member may get on one card in a day, whatever the source.
pub const MAX_PER_DAY: i64 = 20;

/// What completing a card gives.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CompletionReward {
    /// A redemption of this catalog reward, issued free (its code is shown in the wallet).
    Reward(RewardId),
    /// A points bonus.
    Points(i64),
}

/// Which purchases stamp the card (one stamp each). Every list empty means any.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct QualifyingPurchase {
    pub min_total_minor: i64,
    /// At least one line in one of these categories.
    pub categories: Vec<String>,
    pub channels: Vec<SalesChannel>,
    pub locations: Vec<LocationId>,
}

/// A validated stamp card definition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StampCardDoc {
    pub name: String,
    pub description: Option<String>,
    pub stamps_required: i64,
    pub reward: CompletionReward,
    /// `None`: purchases do not stamp this card (only the cashier or the QR code do).
    pub purchases: Option<QualifyingPurchase>,
    /// Stamps a member may get on this card per local day; `None`: no cap.
    pub max_per_day: Option<i64>,
    /// Whether scanning the store's rotating QR code stamps this card.
    pub qr_stamps: bool,
}

impl StampCardDoc {
    pub fn parse(body: &Value) -> Result<StampCardDoc, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "name",
                "description",
                "stamps_required",
                "reward",
                "qualifying_purchase",
                "max_per_day",
                "qr_stamps",
            ],
        );
        let name = o.req(&mut f, "name", text(200));
        let description = o.opt(&mut f, "description", text(2000));
        let stamps_required = o.req(&mut f, "stamps_required", int(MIN_STAMPS, MAX_STAMPS));
        let reward = o.obj(&mut f, "reward", true).and_then(|r| {
            r.only(&mut f, &["reward_id", "points"]);
            match (r.has("reward_id"), r.has("points")) {
                (true, false) => r
                    .req(&mut f, "reward_id", parse_with(RewardId::parse))
                    .map(CompletionReward::Reward),
                (false, true) => r
                    .req(&mut f, "points", int(1, 1_000_000))
                    .map(CompletionReward::Points),
                _ => {
                    f.push("/reward", "must have either `reward_id` or `points`");
                    None
                }
            }
        });
        let purchases = o.obj(&mut f, "qualifying_purchase", false).map(|q| {
            q.only(
                &mut f,
                &["min_total_minor", "categories", "channels", "locations"],
            );
            QualifyingPurchase {
                min_total_minor: q
                    .opt(&mut f, "min_total_minor", int(0, Money::MAX_AMOUNT_MINOR))
                    .unwrap_or(0),
                categories: q.opt(&mut f, "categories", tags).unwrap_or_default(),
                channels: q
                    .opt(&mut f, "channels", list(SalesChannel::parse))
                    .unwrap_or_default(),
                locations: q
                    .opt(&mut f, "locations", list(LocationId::parse))
                    .unwrap_or_default(),
            }
        });
        let max_per_day = o.opt(&mut f, "max_per_day", int(1, MAX_PER_DAY));
        let qr_stamps = o.opt(&mut f, "qr_stamps", boolean).unwrap_or(false);
        f.finish()?;
        Ok(StampCardDoc {
            name: name.expect("checked"),
            description,
            stamps_required: stamps_required.expect("checked"),
            reward: reward.expect("checked"),
            purchases,
            max_per_day,
            qr_stamps,
        })
    }

    pub fn to_json(&self) -> Value {
        let reward = match &self.reward {
            CompletionReward::Reward(id) => json!({ "reward_id": id }),
            CompletionReward::Points(points) => json!({ "points": points }),
        };
        let purchases = self.purchases.as_ref().map(|q| {
            json!({
                "min_total_minor": q.min_total_minor,
                "categories": q.categories,
                "channels": q.channels.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                "locations": q.locations,
            })
        });
        json!({
            "name": self.name,
            "description": self.description,
            "stamps_required": self.stamps_required,
            "reward": reward,
            "qualifying_purchase": purchases,
            "max_per_day": self.max_per_day,
            "qr_stamps": self.qr_stamps,
        })
    }
}

impl QualifyingPurchase {
    /// Whether a purchase stamps the card: its total, one of its lines' categories, its
    /// channel and its location.
    pub fn admits(
        &self,
        total_minor: i64,
        categories: &[Option<&str>],
        channel: SalesChannel,
        location: Option<&LocationId>,
    ) -> bool {
        total_minor >= self.min_total_minor
            && (self.categories.is_empty()
                || categories
                    .iter()
                    .flatten()
                    .any(|c| self.categories.iter().any(|x| x == c)))
            && (self.channels.is_empty() || self.channels.contains(&channel))
            && (self.locations.is_empty() || location.is_some_and(|l| self.locations.contains(l)))
    }
}

/// Most stamps a cashier gives in one go.
pub const MAX_STAMPS_AT_ONCE: i64 = 10;

/// The cashier gives stamps: `{"member": {…}, "count": 1, "location_id": "loc_…", "note": "…"}`.
#[derive(Clone, Debug, PartialEq)]
pub struct StampRequest {
    pub member: MemberRef,
    pub count: i64,
    pub location_id: Option<LocationId>,
    pub note: Option<String>,
}

impl StampRequest {
    pub fn parse(body: &Value) -> Result<StampRequest, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["member", "count", "location_id", "note"]);
        let member = o
            .obj(&mut f, "member", true)
            .and_then(|m| MemberRef::parse(&m, &mut f));
        let count = o
            .opt(&mut f, "count", int(1, MAX_STAMPS_AT_ONCE))
            .unwrap_or(1);
        let location_id = o.opt(&mut f, "location_id", parse_with(LocationId::parse));
        let note = o.opt(&mut f, "note", text(2000));
        f.finish()?;
        Ok(StampRequest {
            member: member.expect("checked"),
            count,
            location_id,
            note,
        })
    }
}

/// A JSON array of strings, each parsed; at most 50, duplicates dropped.
fn list<T: PartialEq>(
    parse: fn(&str) -> Result<T, String>,
) -> impl Fn(&Value) -> Result<Vec<T>, String> {
    move |v| {
        let items = v.as_array().ok_or("must be an array of strings")?;
        if items.len() > 50 {
            return Err("must have at most 50 items".into());
        }
        let mut out: Vec<T> = Vec::new();
        for item in items {
            let parsed = parse(item.as_str().ok_or("must be an array of strings")?)?;
            if !out.contains(&parsed) {
                out.push(parsed);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pointers(e: DomainError) -> Vec<String> {
        match e {
            DomainError::Invalid { fields } => fields.into_iter().map(|f| f.pointer).collect(),
            other => panic!("expected invalid, got {other:?}"),
        }
    }

    #[test]
    fn a_card_round_trips_and_checks_purchases() {
        let body = json!({
            "name": "Coffee card", "stamps_required": 8, "reward": {"points": 100},
            "qualifying_purchase": {"min_total_minor": 500, "categories": ["coffee"], "channels": ["pos"]},
            "max_per_day": 1, "qr_stamps": true
        });
        let card = StampCardDoc::parse(&body).unwrap();
        assert_eq!(StampCardDoc::parse(&card.to_json()).unwrap(), card);
        let q = card.purchases.as_ref().unwrap();
        assert!(q.admits(500, &[Some("tea"), Some("coffee")], SalesChannel::Pos, None));
        assert!(!q.admits(499, &[Some("coffee")], SalesChannel::Pos, None));
        assert!(!q.admits(900, &[Some("tea"), None], SalesChannel::Pos, None));
        assert!(!q.admits(900, &[Some("coffee")], SalesChannel::Online, None));
    }

    #[test]
    fn mistakes_are_named_by_pointer() {
        let e = StampCardDoc::parse(&json!({
            "name": "", "stamps_required": 1, "reward": {"points": 5, "reward_id": "rwd_x"},
            "qualifying_purchase": {"channels": ["fax"], "colour": "red"}, "max_per_day": 0
        }))
        .unwrap_err();
        assert_eq!(
            pointers(e),
            vec![
                "/name",
                "/stamps_required",
                "/reward",
                "/qualifying_purchase/colour",
                "/qualifying_purchase/channels",
                "/max_per_day"
            ]
        );
        let e = StampCardDoc::parse(&json!({"name": "x", "stamps_required": 5})).unwrap_err();
        assert_eq!(pointers(e), vec!["/reward"]);
    }
}
