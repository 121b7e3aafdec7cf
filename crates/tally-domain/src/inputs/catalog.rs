//! Rewards, redemptions, adjustments and locations.

use super::*;

#[derive(Clone, Debug, PartialEq)]
pub struct NewReward {
    pub name: String,
    pub description: Option<String>,
    pub cost: Points,
    pub stock: Option<i64>,
    pub active_from: Option<Timestamp>,
    pub active_until: Option<Timestamp>,
    pub per_member_limit: Option<i64>,
    /// Tier names; empty: every member.
    pub tiers: Vec<String>,
    /// A voucher pool of the program: redeeming gives its next free code.
    pub voucher_pool_id: Option<crate::ids::VoucherPoolId>,
    /// Segment keys; empty: every member.
    pub segments: Vec<String>,
    pub kind: crate::fulfilment::RewardKind,
    /// The product a `free_product` reward hands over.
    pub sku: Option<String>,
}

pub const MAX_COST: i64 = 1_000_000_000;

impl NewReward {
    pub fn parse(body: &Value) -> Result<NewReward, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "name",
                "description",
                "cost_points",
                "stock",
                "active_from",
                "active_until",
                "per_member_limit",
                "tiers",
                "voucher_pool_id",
                "segments",
                "kind",
                "sku",
            ],
        );
        let name = o.req(&mut f, "name", text(NAME_CHARS));
        let description = o.opt(&mut f, "description", text(LONG_TEXT_CHARS));
        let cost = o.req(&mut f, "cost_points", int(1, MAX_COST));
        let stock = o.opt(&mut f, "stock", int(0, 1_000_000_000));
        let active_from = o.opt(&mut f, "active_from", timestamp);
        let active_until = o.opt(&mut f, "active_until", timestamp);
        let per_member_limit = o.opt(&mut f, "per_member_limit", int(1, 1_000_000));
        let tiers = o.opt(&mut f, "tiers", tier_names).unwrap_or_default();
        let segments = o.opt(&mut f, "segments", segment_keys).unwrap_or_default();
        let voucher_pool_id = o.opt(
            &mut f,
            "voucher_pool_id",
            parse_with(crate::ids::VoucherPoolId::parse),
        );
        if let (Some(from), Some(until)) = (active_from, active_until)
            && until <= from
        {
            f.push("/active_until", "must be after active_from");
        }
        let kind = o
            .opt(
                &mut f,
                "kind",
                parse_with(crate::fulfilment::RewardKind::parse),
            )
            .unwrap_or_default();
        let sku = o.opt(&mut f, "sku", identifier);
        match (kind, &sku) {
            (crate::fulfilment::RewardKind::FreeProduct, None) => f.push(
                "/sku",
                "is required for a free product (the product handed over)",
            ),
            (crate::fulfilment::RewardKind::FreeProduct, Some(_)) | (_, None) => {}
            (_, Some(_)) => f.push("/sku", "only a free_product reward names a product"),
        }
        if kind == crate::fulfilment::RewardKind::Physical && voucher_pool_id.is_some() {
            f.push(
                "/voucher_pool_id",
                "a physical reward is sent, not a voucher code",
            );
        }
        f.finish()?;
        Ok(NewReward {
            name: name.expect("checked"),
            description,
            cost: Points(cost.expect("checked")),
            stock,
            active_from,
            active_until,
            per_member_limit,
            tiers,
            voucher_pool_id,
            segments,
            kind,
            sku,
        })
    }
}

/// Segment keys a reward is kept for: at most 10, each a segment key (lowercase letters, digits
/// and `_`).
pub fn segment_keys(v: &Value) -> Result<Vec<String>, String> {
    let items = v.as_array().ok_or("must be an array of segment keys")?;
    if items.len() > 10 {
        return Err("must have at most 10 segment keys".into());
    }
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let key = string(item)?;
        crate::events::snake_name(key, "vip_at_risk")?;
        if !out.iter().any(|k| k == key) {
            out.push(key.to_owned());
        }
    }
    Ok(out)
}

/// Tier names (as a tier plan names its levels): at most 10, each 1 to 40 characters.
pub fn tier_names(v: &Value) -> Result<Vec<String>, String> {
    let items = v.as_array().ok_or("must be an array of tier names")?;
    if items.len() > 10 {
        return Err("must have at most 10 tier names".into());
    }
    let mut out: Vec<String> = Vec::new();
    for item in items {
        let name = text(40)(item)?;
        if !out.contains(&name) {
            out.push(name);
        }
    }
    Ok(out)
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RedeemRequest {
    pub member: MemberRef,
    pub reward_id: RewardId,
    /// Where a physical reward goes (required for one, refused for the others).
    pub delivery_address: Option<crate::fulfilment::DeliveryAddress>,
}

impl RedeemRequest {
    pub fn parse(body: &Value) -> Result<RedeemRequest, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["member", "reward_id", "delivery_address"]);
        let member = o
            .obj(&mut f, "member", true)
            .and_then(|m| MemberRef::parse(&m, &mut f));
        let reward_id = o.req(&mut f, "reward_id", parse_with(RewardId::parse));
        let delivery_address = o
            .obj(&mut f, "delivery_address", false)
            .and_then(|a| crate::fulfilment::DeliveryAddress::parse(&a, &mut f));
        f.finish()?;
        Ok(RedeemRequest {
            member: member.expect("checked"),
            reward_id: reward_id.expect("checked"),
            delivery_address,
        })
    }
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct AdjustmentRequest {
    /// Positive gives points, negative takes them; never zero.
    pub points: Points,
    pub reason: String,
}

impl AdjustmentRequest {
    pub fn parse(body: &Value) -> Result<AdjustmentRequest, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(&mut f, &["points", "reason"]);
        let points = o.req(&mut f, "points", |v| {
            let n = int(-MAX_COST, MAX_COST)(v)?;
            if n == 0 {
                Err("must not be zero".into())
            } else {
                Ok(n)
            }
        });
        let reason = o.req(&mut f, "reason", text(LONG_TEXT_CHARS));
        f.finish()?;
        Ok(AdjustmentRequest {
            points: Points(points.expect("checked")),
            reason: reason.expect("checked"),
        })
    }
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewLocation {
    pub name: String,
    pub address: Option<String>,
    pub latitude_micro: i64,
    pub longitude_micro: i64,
    pub time_zone: Option<TimeZoneName>,
}

fn degrees(limit: f64) -> impl Fn(&Value) -> Result<i64, String> {
    move |v| match v.as_f64() {
        Some(d) if d.is_finite() && d.abs() <= limit => Ok((d * 1_000_000.0).round() as i64),
        _ => Err(format!(
            "must be a number of degrees between -{limit} and {limit}"
        )),
    }
}

impl NewLocation {
    pub fn parse(body: &Value) -> Result<NewLocation, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &["name", "address", "latitude", "longitude", "time_zone"],
        );
        let name = o.req(&mut f, "name", text(NAME_CHARS));
        let address = o.opt(&mut f, "address", text(LONG_TEXT_CHARS));
        let latitude = o.req(&mut f, "latitude", degrees(90.0));
        let longitude = o.req(&mut f, "longitude", degrees(180.0));
        let time_zone = o.opt(&mut f, "time_zone", parse_with(TimeZoneName::parse));
        f.finish()?;
        Ok(NewLocation {
            name: name.expect("checked"),
            address,
            latitude_micro: latitude.expect("checked"),
            longitude_micro: longitude.expect("checked"),
            time_zone,
        })
    }
}
