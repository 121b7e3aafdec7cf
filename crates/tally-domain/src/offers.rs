//! Offers and deals: something extra a member gets at a qualifying purchase.
//!
//! One shape covers the deals loyalty platforms offer:
//! - an **offer** targets members (segments, tiers) and purchases (minimum total, categories,
//!   channels, locations) in a time window; a member *activates* ("clips") it in the wallet,
//!   or it applies to everyone in its audience (`activation: automatic`);
//! - an **individual deal** is an offer whose audience is one member (`audience.members`);
//! - a **loyalty deal** gives its benefit after N qualifying purchases within a period
//!   (`qualify.visits`);
//! - a **charity deal**'s benefit is money the merchant gives a charity of the program for each
//!   qualifying purchase (`benefit.charity`);
//! - a **friend deal** (`group`) unlocks when enough members join one member's group in time.
//!
//! Limits: uses per member, uses in all, and a budget (points, or minor units for a charity
//! deal). The definition is pure data; what a purchase gets is decided here, written by
//! `tally-core`.

use crate::Timestamp;
use crate::error::{DomainError, Fields};
use crate::ids::{CharityId, LocationId, MemberId};
use crate::inputs::{Obj, identifier, int, parse_with, text, timestamp};
use crate::inputs::{segment_keys, tier_names};
use crate::model::SalesChannel;
use crate::money::Money;
use crate::points::Points;
use serde_json::{Value, json};

/// Most points one use of an offer may give.
pub const MAX_OFFER_POINTS: i64 = 1_000_000;

/// What one use of an offer gives.
#[derive(Clone, Debug, PartialEq)]
pub enum Benefit {
    /// A fixed number of points.
    Points(Points),
    /// The purchase's base points again, times `milli ÷ 1000 − 1` (2.0 is "double points").
    Multiplier { milli: i64 },
    /// Money the merchant gives the charity for the purchase.
    Charity {
        charity_id: CharityId,
        amount_minor: i64,
    },
}

impl Benefit {
    /// Points this benefit gives on a purchase that earned `base` points.
    pub fn points(&self, base: Points) -> Points {
        match self {
            Benefit::Points(p) => *p,
            Benefit::Multiplier { milli } => {
                let extra = i128::from(base.value()) * i128::from(milli - 1000) / 1000;
                Points(i64::try_from(extra.max(0)).unwrap_or(i64::MAX))
            }
            Benefit::Charity { .. } => Points::ZERO,
        }
    }

    /// What one use costs the budget: points, or minor units for a charity deal.
    pub fn cost(&self, base: Points) -> i64 {
        match self {
            Benefit::Charity { amount_minor, .. } => *amount_minor,
            _ => self.points(base).value(),
        }
    }
}

/// How a member comes to have the offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Activation {
    /// The member activates it in the wallet first.
    Clip,
    /// Every member of the audience has it.
    Automatic,
}

impl Activation {
    pub fn as_str(self) -> &'static str {
        match self {
            Activation::Clip => "clip",
            Activation::Automatic => "automatic",
        }
    }
}

/// Who may have the offer; every list empty: every member.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Audience {
    pub segments: Vec<String>,
    pub tiers: Vec<String>,
    /// An individual deal: these members only.
    pub members: Vec<MemberId>,
}

impl Audience {
    /// Whether a member with this tier and these segments is in the audience.
    pub fn includes(&self, member: &MemberId, tier: Option<&str>, segments: &[String]) -> bool {
        (self.members.is_empty() || self.members.contains(member))
            && (self.tiers.is_empty() || tier.is_some_and(|t| self.tiers.iter().any(|x| x == t)))
            && (self.segments.is_empty() || self.segments.iter().any(|s| segments.contains(s)))
    }
}

/// N qualifying purchases within a period (a loyalty deal).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visits {
    pub count: i64,
    pub within_days: i64,
}

/// Which purchases qualify; every part left out: any purchase.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Qualify {
    pub min_total_minor: i64,
    /// At least one line in one of these categories.
    pub categories: Vec<String>,
    pub channels: Vec<SalesChannel>,
    pub locations: Vec<LocationId>,
    pub visits: Option<Visits>,
}

/// What a purchase shows about itself, for [`Qualify::admits`].
pub struct PurchaseFacts<'a> {
    pub total_minor: i64,
    pub categories: Vec<&'a str>,
    pub channel: SalesChannel,
    pub location: Option<&'a LocationId>,
}

impl Qualify {
    pub fn admits(&self, p: &PurchaseFacts) -> bool {
        p.total_minor >= self.min_total_minor
            && (self.categories.is_empty()
                || p.categories
                    .iter()
                    .any(|c| self.categories.iter().any(|x| x == c)))
            && (self.channels.is_empty() || self.channels.contains(&p.channel))
            && (self.locations.is_empty() || p.location.is_some_and(|l| self.locations.contains(l)))
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct Limits {
    /// Uses per member (for a loyalty deal: completed rounds).
    pub per_member: i64,
    pub total_uses: Option<i64>,
    /// Points in all, or minor units for a charity deal.
    pub budget: Option<i64>,
}

/// A friend deal: `size` members of the program join one member's group within
/// `within_hours`, and then all of them have the offer.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Group {
    pub size: i64,
    pub within_hours: i64,
}

/// An offer's definition: everything but its name and window.
#[derive(Clone, Debug, PartialEq)]
pub struct OfferDoc {
    pub benefit: Benefit,
    pub activation: Activation,
    pub audience: Audience,
    pub qualify: Qualify,
    pub limits: Limits,
    pub group: Option<Group>,
}

impl OfferDoc {
    /// The deal this offer is, for people: `friend`, `charity`, `loyalty`, `individual` or
    /// `offer`.
    pub fn deal(&self) -> &'static str {
        if self.group.is_some() {
            "friend"
        } else if matches!(self.benefit, Benefit::Charity { .. }) {
            "charity"
        } else if self.qualify.visits.is_some() {
            "loyalty"
        } else if !self.audience.members.is_empty() {
            "individual"
        } else {
            "offer"
        }
    }

    /// The definition as JSON, in the shape [`OfferInput::parse`] reads.
    pub fn to_json(&self) -> Value {
        let benefit = match &self.benefit {
            Benefit::Points(p) => json!({ "points": p }),
            Benefit::Multiplier { milli } => json!({ "multiplier": *milli as f64 / 1000.0 }),
            Benefit::Charity {
                charity_id,
                amount_minor,
            } => json!({ "charity": { "charity_id": charity_id, "amount_minor": amount_minor } }),
        };
        json!({
            "benefit": benefit,
            "activation": self.activation.as_str(),
            "audience": {
                "segments": self.audience.segments,
                "tiers": self.audience.tiers,
                "members": self.audience.members,
            },
            "qualify": {
                "min_total_minor": self.qualify.min_total_minor,
                "categories": self.qualify.categories,
                "channels": self.qualify.channels.iter().map(|c| c.as_str()).collect::<Vec<_>>(),
                "locations": self.qualify.locations,
                "visits": self.qualify.visits.map(|v| json!({ "count": v.count, "within_days": v.within_days })),
            },
            "limits": {
                "per_member": self.limits.per_member,
                "total_uses": self.limits.total_uses,
                "budget": self.limits.budget,
            },
            "group": self.group.map(|g| json!({ "size": g.size, "within_hours": g.within_hours })),
        })
    }
}

/// A new offer: `{"name", "description"?, "starts_at"?, "ends_at"?, "benefit", "activation"?,
/// "audience"?, "qualify"?, "limits"?}`.
#[derive(Clone, Debug, PartialEq)]
pub struct OfferInput {
    pub name: String,
    pub description: Option<String>,
    pub starts_at: Option<Timestamp>,
    pub ends_at: Option<Timestamp>,
    pub doc: OfferDoc,
}

const FIELDS: &[&str] = &[
    "name",
    "description",
    "starts_at",
    "ends_at",
    "benefit",
    "activation",
    "audience",
    "qualify",
    "limits",
    "group",
];

impl OfferInput {
    pub fn parse(body: &Value) -> Result<OfferInput, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, FIELDS);
        let name = o.req(&mut f, "name", text(200));
        let description = o.opt(&mut f, "description", text(2000));
        let starts_at = o.opt(&mut f, "starts_at", timestamp);
        let ends_at = o.opt(&mut f, "ends_at", timestamp);
        if let (Some(from), Some(until)) = (starts_at, ends_at)
            && until <= from
        {
            f.push("/ends_at", "must be after starts_at");
        }
        let doc = parse_doc(&o, &mut f);
        f.finish()?;
        Ok(OfferInput {
            name: name.expect("checked"),
            description,
            starts_at,
            ends_at,
            doc: doc.expect("checked"),
        })
    }
}

/// Reads a stored definition (written by [`OfferDoc::to_json`]).
pub fn stored_doc(v: &Value) -> Result<OfferDoc, DomainError> {
    let o = Obj::root(v)?;
    let mut f = Fields::new();
    let doc = parse_doc(&o, &mut f);
    f.finish()?;
    Ok(doc.expect("checked"))
}

fn parse_doc(o: &Obj, f: &mut Fields) -> Option<OfferDoc> {
    let benefit = o.obj(f, "benefit", true).and_then(|b| parse_benefit(&b, f));
    let activation = o
        .opt(f, "activation", |v| match v.as_str() {
            Some("clip") => Ok(Activation::Clip),
            Some("automatic") => Ok(Activation::Automatic),
            _ => Err("must be \"clip\" or \"automatic\"".to_owned()),
        })
        .unwrap_or(Activation::Clip);
    let audience = match o.obj(f, "audience", false) {
        Some(a) => {
            a.only(f, &["segments", "tiers", "members"]);
            Audience {
                segments: a.opt(f, "segments", segment_keys).unwrap_or_default(),
                tiers: a.opt(f, "tiers", tier_names).unwrap_or_default(),
                members: a
                    .opt(f, "members", list(100, parse_with(MemberId::parse)))
                    .unwrap_or_default(),
            }
        }
        None => Audience::default(),
    };
    let qualify = match o.obj(f, "qualify", false) {
        Some(q) => {
            q.only(
                f,
                &[
                    "min_total_minor",
                    "categories",
                    "channels",
                    "locations",
                    "visits",
                ],
            );
            let visits = q.obj(f, "visits", false).and_then(|v| {
                v.only(f, &["count", "within_days"]);
                let count = v.req(f, "count", int(2, 100));
                let within_days = v.req(f, "within_days", int(1, 3660));
                Some(Visits {
                    count: count?,
                    within_days: within_days?,
                })
            });
            Qualify {
                min_total_minor: q
                    .opt(f, "min_total_minor", int(0, Money::MAX_AMOUNT_MINOR))
                    .unwrap_or(0),
                categories: q
                    .opt(f, "categories", list(100, identifier))
                    .unwrap_or_default(),
                channels: q
                    .opt(f, "channels", list(3, parse_with(SalesChannel::parse)))
                    .unwrap_or_default(),
                locations: q
                    .opt(f, "locations", list(100, parse_with(LocationId::parse)))
                    .unwrap_or_default(),
                visits,
            }
        }
        None => Qualify::default(),
    };
    let limits = match o.obj(f, "limits", false) {
        Some(l) => {
            l.only(f, &["per_member", "total_uses", "budget"]);
            Limits {
                per_member: l.opt(f, "per_member", int(1, 1_000)).unwrap_or(1),
                total_uses: l.opt(f, "total_uses", int(1, 1_000_000_000)),
                budget: l.opt(f, "budget", int(1, Money::MAX_AMOUNT_MINOR)),
            }
        }
        None => Limits {
            per_member: 1,
            total_uses: None,
            budget: None,
        },
    };
    let group = o.obj(f, "group", false).and_then(|g| {
        g.only(f, &["size", "within_hours"]);
        let size = g.req(f, "size", int(2, 20));
        let within_hours = g.req(f, "within_hours", int(1, 24 * 90));
        Some(Group {
            size: size?,
            within_hours: within_hours?,
        })
    });
    if o.map.get("group").is_some_and(|g| !g.is_null()) && activation == Activation::Automatic {
        f.push(
            o.pointer("activation"),
            "a friend deal is taken by a group, not given to everyone",
        );
    }
    Some(OfferDoc {
        benefit: benefit?,
        activation,
        audience,
        qualify,
        limits,
        group,
    })
}

/// `{"points": N}`, `{"multiplier": x}` or `{"charity": {"charity_id", "amount_minor"}}`.
fn parse_benefit(b: &Obj, f: &mut Fields) -> Option<Benefit> {
    b.only(f, &["points", "multiplier", "charity"]);
    let given = ["points", "multiplier", "charity"]
        .into_iter()
        .filter(|k| b.has(k))
        .count();
    if given != 1 {
        f.push(
            b.path.clone(),
            "must have exactly one of points, multiplier or charity",
        );
        return None;
    }
    if b.has("points") {
        let points = b.req(f, "points", int(1, MAX_OFFER_POINTS))?;
        return Some(Benefit::Points(Points(points)));
    }
    if b.has("multiplier") {
        let milli = b.req(f, "multiplier", |v| match v.as_f64() {
            Some(m) if m > 1.0 && m <= 10.0 => Ok((m * 1000.0).round() as i64),
            _ => Err("must be a number above 1 and at most 10 (2 is double points)".to_owned()),
        })?;
        return Some(Benefit::Multiplier { milli });
    }
    let c = b.obj(f, "charity", true)?;
    c.only(f, &["charity_id", "amount_minor"]);
    let charity_id = c.req(f, "charity_id", parse_with(CharityId::parse));
    let amount_minor = c.req(f, "amount_minor", int(1, 1_000_000));
    Some(Benefit::Charity {
        charity_id: charity_id?,
        amount_minor: amount_minor?,
    })
}

/// A JSON array of at most `max` items, each parsed by `item`, duplicates dropped.
fn list<T: PartialEq>(
    max: usize,
    item: impl Fn(&Value) -> Result<T, String>,
) -> impl Fn(&Value) -> Result<Vec<T>, String> {
    move |v| {
        let items = v.as_array().ok_or("must be an array")?;
        if items.len() > max {
            return Err(format!("must have at most {max} items"));
        }
        let mut out = Vec::new();
        for (i, raw) in items.iter().enumerate() {
            let parsed = item(raw).map_err(|e| format!("item {i} {e}"))?;
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

    fn offer(v: Value) -> OfferDoc {
        OfferInput::parse(&v).expect("valid").doc
    }

    #[test]
    fn a_definition_survives_storage() {
        let doc = offer(json!({
            "name": "Double points on vinyl",
            "benefit": {"multiplier": 2},
            "audience": {"segments": ["vip"], "tiers": ["Gold"]},
            "qualify": {"min_total_minor": 1000, "categories": ["vinyl"], "channels": ["pos"],
                        "visits": {"count": 5, "within_days": 30}},
            "limits": {"per_member": 2, "total_uses": 100, "budget": 50000}
        }));
        assert_eq!(stored_doc(&doc.to_json()).unwrap(), doc);
        assert_eq!(doc.deal(), "loyalty");
        assert_eq!(doc.benefit.points(Points(150)), Points(150));
    }

    #[test]
    fn an_automatic_offer_survives_storage_too() {
        let doc = offer(json!({"name": "Every fifth", "benefit": {"points": 10},
            "activation": "automatic", "qualify": {"visits": {"count": 5, "within_days": 30}}}));
        assert_eq!(stored_doc(&doc.to_json()).unwrap(), doc);
    }

    #[test]
    fn deals_are_named_by_their_shape() {
        let charity = offer(json!({"name": "Trees",
            "benefit": {"charity": {"charity_id": "cha_01J00000000000000000000000", "amount_minor": 50}}}));
        assert_eq!(charity.deal(), "charity");
        assert_eq!(charity.benefit.points(Points(100)), Points::ZERO);
        assert_eq!(charity.benefit.cost(Points(100)), 50);
        let friends = offer(
            json!({"name": "Bring three friends", "benefit": {"points": 100},
            "group": {"size": 4, "within_hours": 48}}),
        );
        assert_eq!(friends.deal(), "friend");
        assert_eq!(stored_doc(&friends.to_json()).unwrap(), friends);
        let mine = offer(json!({"name": "For you", "benefit": {"points": 300},
            "audience": {"members": ["mem_01J00000000000000000000000"]}}));
        assert_eq!(mine.deal(), "individual");
        assert_eq!(mine.activation, Activation::Clip);
        assert_eq!(mine.limits.per_member, 1);
    }

    #[test]
    fn multipliers_round_down_and_never_take() {
        let b = Benefit::Multiplier { milli: 1500 };
        assert_eq!(b.points(Points(101)), Points(50));
        assert_eq!(b.points(Points::ZERO), Points::ZERO);
    }

    #[test]
    fn audience_and_qualification() {
        let doc = offer(json!({"name": "x", "benefit": {"points": 10},
            "audience": {"tiers": ["Gold"], "segments": ["vip", "new"]},
            "qualify": {"min_total_minor": 500, "categories": ["vinyl"]}}));
        let m = MemberId::generate();
        assert!(doc.audience.includes(&m, Some("Gold"), &["new".into()]));
        assert!(!doc.audience.includes(&m, Some("Silver"), &["new".into()]));
        assert!(!doc.audience.includes(&m, Some("Gold"), &[]));
        let facts = |total, cats: Vec<&'static str>| PurchaseFacts {
            total_minor: total,
            categories: cats,
            channel: SalesChannel::Pos,
            location: None,
        };
        assert!(doc.qualify.admits(&facts(500, vec!["cd", "vinyl"])));
        assert!(!doc.qualify.admits(&facts(499, vec!["vinyl"])));
        assert!(!doc.qualify.admits(&facts(900, vec!["cd"])));
    }

    #[test]
    fn mistakes_are_named_by_place() {
        let err = OfferInput::parse(&json!({
            "benefit": {"points": 10, "multiplier": 2},
            "audience": {"members": ["nope"], "x": 1},
            "qualify": {"visits": {"count": 1}, "channels": ["fax"]},
            "limits": {"per_member": 0},
            "starts_at": "2026-02-01T00:00:00Z", "ends_at": "2026-01-01T00:00:00Z"
        }))
        .unwrap_err()
        .to_string();
        for pointer in [
            "/name",
            "/benefit",
            "/audience/members",
            "/audience/x",
            "/qualify/visits/count",
            "/qualify/visits/within_days",
            "/qualify/channels",
            "/limits/per_member",
            "/ends_at",
        ] {
            assert!(err.contains(pointer), "{pointer} in {err}");
        }
        let err = OfferInput::parse(&json!({"name": "x", "benefit": {"multiplier": 1}}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("/benefit/multiplier"), "{err}");
    }
}
