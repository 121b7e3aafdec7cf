//! A card in the wallet: the card with its QR code, balance, tier, pending and expiring points,
//! stamps, offers, rewards, vouchers, causes, history, nearby stores and the member's
//! preferences; and saving those preferences.

use super::wallet::{Card, Wallet, card, own_card};
use super::{FormErrors, PageResult, render, unprocessable, url_encode, write_as};
use crate::WebState;
use crate::i18n::Lang;
use crate::qr;
use crate::session::Fields;
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::json;
use std::collections::HashMap;
use tally_core::Command;
use tally_core::tiers::TierStatus;
use tally_domain::Timestamp;
use tally_domain::inputs::MemberPatch;
use tally_domain::model::{Channel, HistoryEntry, Location, Redemption, Reward};
use tally_domain::tiers::TierMetric;
use tally_store::Database;

/// A store with its distance from the member, when the member shared their position.
pub struct Store {
    pub location: Location,
    pub distance_m: Option<f64>,
}

#[derive(Template)]
#[template(path = "wallet_card.html")]
struct CardPage {
    lang: Lang,
    csrf: String,
    card: Card,
    qr_svg: String,
    history: Vec<HistoryEntry>,
    rewards: Vec<Reward>,
    redemptions: Vec<Redemption>,
    stores: Vec<Store>,
    sorted_by_distance: bool,
    notice: String,
    errors: FormErrors,
    zone: jiff::tz::TimeZone,
    /// The member's tier and progress, when the program has tiers.
    tier: Option<TierStatus>,
    /// Points that expire, soonest first: `{"expires_at", "points"}`.
    expiring: Vec<serde_json::Value>,
    /// Pending points, soonest first: `{"available_at", "points"}`.
    pending: Vec<serde_json::Value>,
    stamps: Vec<super::wallet_stamps::StampProgress>,
    invite: Option<super::wallet_referrals::Invite>,
    /// The member's personal voucher codes still to use: `(code, pool name, QR code as SVG)`.
    vouchers: Vec<(String, String, String)>,
    causes: Vec<super::wallet_charities::Cause>,
    offers: Vec<super::wallet_offers::WalletOffer>,
    /// Messages the program delivered in the app, newest first.
    inbox: Vec<super::wallet_inbox::InboxItem>,
    push: super::wallet_inbox::PushState,
    /// Live (not cancelled) redemptions per reward id, for per-member limits.
    claims: HashMap<String, i64>,
    /// The member's cashback in minor units, once they have had some.
    cashback_minor: Option<i64>,
    /// The member's segment keys, and `(key, name)` of the program's segments rewards are kept for.
    segments: (Vec<String>, Vec<(String, String)>),
}

impl CardPage {
    /// "Valid until 31 March 2027: 120 points", for each date points expire (the last day
    /// they are valid, in the program's zone).
    fn expiring_lines(&self) -> Vec<String> {
        self.expiring
            .iter()
            .filter_map(|e| {
                let at: Timestamp = e["expires_at"].as_str()?.parse().ok()?;
                let last = (at - jiff::SignedDuration::from_micros(1)).to_zoned(self.zone.clone());
                let points = self.lang.count("unit.points", e["points"].as_i64()?);
                Some(self.lang.tf(
                    "wallet.expiring",
                    &[("date", &self.lang.date(last.date())), ("points", &points)],
                ))
            })
            .collect()
    }

    /// "120 points available from 3 November", for each date pending points are released.
    fn pending_lines(&self) -> Vec<String> {
        self.pending
            .iter()
            .filter_map(|e| {
                let at: Timestamp = e["available_at"].as_str()?.parse().ok()?;
                let points = self.lang.count("unit.points", e["points"].as_i64()?);
                Some(self.lang.tf(
                    "wallet.pending",
                    &[
                        (
                            "date",
                            &self.lang.date(at.to_zoned(self.zone.clone()).date()),
                        ),
                        ("points", &points),
                    ],
                ))
            })
            .collect()
    }

    /// "Jeszcze 120 punktów do poziomu Gold": what the next tier needs, in points or money.
    fn to_next_tier(&self) -> String {
        let Some(next) = self.tier.as_ref().and_then(|t| t.next.as_ref()) else {
            return self.lang.t("wallet.top_tier").to_owned();
        };
        let amount = match self.tier.as_ref().map(|t| t.metric) {
            Some(TierMetric::MoneySpent) => {
                self.lang.money(next.needed, self.card.program.currency)
            }
            _ => self.lang.count("unit.points", next.needed),
        };
        self.lang.tf(
            "wallet.to_next_tier",
            &[("amount", &amount), ("tier", &next.name)],
        )
    }

    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }

    fn tk(&self, prefix: &str, name: &str) -> &'static str {
        self.lang.t(&format!("{prefix}.{name}"))
    }

    fn points(&self, n: i64) -> String {
        self.lang.count("unit.points", n)
    }

    fn money(&self, minor: &i64) -> String {
        self.lang.money(*minor, self.card.program.currency)
    }

    fn number(&self, n: i64) -> String {
        self.lang.number(n)
    }

    fn date(&self, at: &Timestamp) -> String {
        self.lang.date(at.to_zoned(self.zone.clone()).date())
    }

    fn affordable(&self, r: &Reward) -> bool {
        self.card.member.balance.available.value() >= r.cost.value() && self.lock(r).is_none()
    }

    /// Why the member cannot have a reward whatever their points: out of stock, had as often
    /// as allowed, kept for a tier or a segment.
    fn lock(&self, r: &Reward) -> Option<String> {
        if r.stock_remaining == Some(0) {
            return Some(self.lang.t("wallet.out_of_stock").to_owned());
        }
        if let Some(limit) = r.per_member_limit
            && self.claims.get(r.id.as_str()).copied().unwrap_or(0) >= limit
        {
            return Some(self.lang.count("wallet.limit_reached", limit));
        }
        self.tier_lock(r).or_else(|| self.segment_lock(r))
    }

    /// The QR code of a code to show at the till.
    fn qr(&self, code: &str) -> String {
        qr::svg(code)
    }

    /// "For VIP club members only" for a reward kept for segments the member is not in.
    fn segment_lock(&self, r: &Reward) -> Option<String> {
        let (mine, names) = &self.segments;
        (!r.segments.is_empty() && !r.segments.iter().any(|k| mine.contains(k))).then(|| {
            let named: Vec<&str> = names
                .iter()
                .filter(|(k, _)| r.segments.contains(k))
                .map(|(_, n)| n.as_str())
                .collect();
            self.lang
                .tf("wallet.segments_only", &[("segments", &named.join(", "))])
        })
    }

    /// "Gold only" for a reward kept for tiers the member is not in.
    fn tier_lock(&self, r: &Reward) -> Option<String> {
        let mine = self.tier.as_ref().and_then(|t| t.tier.as_ref());
        (!r.tiers.is_empty() && mine.is_none_or(|t| !r.tiers.contains(t))).then(|| {
            self.lang
                .tf("wallet.tiers_only", &[("tiers", &r.tiers.join(", "))])
        })
    }

    /// "Gold only", or "120 more points" for a reward the member cannot have yet.
    fn missing(&self, r: &Reward) -> String {
        if let Some(lock) = self.lock(r) {
            return lock;
        }
        let missing = r.cost.value() - self.card.member.balance.available.value();
        self.lang.tf(
            "wallet.more_needed",
            &[("points", &self.lang.count("unit.points", missing))],
        )
    }

    fn distance(&self, s: &Store) -> String {
        match s.distance_m {
            Some(m) if m < 1000.0 => format!("{} m", m.round()),
            Some(m) => format!("{:.1} km", m / 1000.0),
            None => String::new(),
        }
    }

    fn consent(&self, channel: &str) -> bool {
        self.card
            .member
            .consents
            .iter()
            .any(|c| c.channel.as_str() == channel && c.granted)
    }

    fn preferred(&self, channel: &str) -> bool {
        self.card
            .member
            .preferred_channel
            .is_some_and(|c| c.as_str() == channel)
    }
}

/// Metres between two points on the Earth (haversine; good to a few metres at city scale).
pub fn distance_m(a: (f64, f64), b: (f64, f64)) -> f64 {
    let (lat1, lon1, lat2, lon2) = (
        a.0.to_radians(),
        a.1.to_radians(),
        b.0.to_radians(),
        b.1.to_radians(),
    );
    let h = ((lat2 - lat1) / 2.0).sin().powi(2)
        + lat1.cos() * lat2.cos() * ((lon2 - lon1) / 2.0).sin().powi(2);
    2.0 * 6_371_000.0 * h.sqrt().asin()
}

pub(super) async fn card_page<D: Database>(
    state: &WebState<D>,
    wallet: &Wallet,
    member: &str,
    here: Option<(f64, f64)>,
    notice: String,
    errors: FormErrors,
) -> PageResult {
    let (tenant, id) = own_card(state, wallet, member).await?;
    let card = card(state, &tenant, &id).await?;
    let program = card.program.id.clone();
    let history = state
        .tally
        .history(&tenant, &id, None, Some(20))
        .await?
        .items;
    let now = state.tally.clock.now();
    let rewards: Vec<Reward> = state
        .tally
        .rewards(&tenant, &program, None, Some(100))
        .await?
        .items
        .into_iter()
        .filter(|r| r.active)
        .filter(|r| {
            r.active_from.is_none_or(|f| f <= now) && r.active_until.is_none_or(|u| u > now)
        })
        .collect();
    let mut claims: HashMap<String, i64> = HashMap::new();
    if rewards.iter().any(|r| r.per_member_limit.is_some()) {
        for r in state
            .tally
            .member_redemptions(&tenant, &id, None, Some(200))
            .await?
            .items
        {
            if r.status != tally_domain::model::RedemptionStatus::Cancelled {
                *claims.entry(r.reward_id.to_string()).or_default() += 1;
            }
        }
    }
    let redemptions = state
        .tally
        .member_redemptions(&tenant, &id, None, Some(10))
        .await?
        .items;
    let mut stores: Vec<Store> = state
        .tally
        .locations(&tenant, &program, None, Some(200))
        .await?
        .items
        .into_iter()
        .filter(|l| l.active)
        .map(|location| {
            let at = (
                location.latitude_micro as f64 / 1e6,
                location.longitude_micro as f64 / 1e6,
            );
            Store {
                distance_m: here.map(|h| distance_m(h, at)),
                location,
            }
        })
        .collect();
    if here.is_some() {
        stores.sort_by(|a, b| {
            a.distance_m
                .unwrap_or(f64::MAX)
                .total_cmp(&b.distance_m.unwrap_or(f64::MAX))
        });
    } else {
        stores.sort_by(|a, b| a.location.name.cmp(&b.location.name));
    }
    let zone =
        jiff::tz::TimeZone::get(card.program.time_zone.as_str()).unwrap_or(jiff::tz::TimeZone::UTC);
    let qr_svg = qr::svg(&qr::card_payload(&card.member.card.token));
    let tier = state.tally.member_tier(&tenant, &id).await?;
    let expiring = state.tally.upcoming_expiries(&tenant, &id).await?;
    let pending = state.tally.upcoming_releases(&tenant, &id).await?;
    let stamps = super::wallet_stamps::progress(state, wallet.lang, &tenant, &id, &rewards).await?;
    let invite = super::wallet_referrals::invite(state, &tenant, &program, &id).await?;
    let vouchers = super::wallet_vouchers::unused(state, &tenant, &id).await?;
    let causes = super::wallet_charities::causes(state, wallet.lang, &card.program, &id).await?;
    let offers = super::wallet_offers::offers(state, wallet.lang, &card.program, &id).await?;
    let inbox = super::wallet_inbox::inbox(state, &tenant, &id).await?;
    let push = super::wallet_inbox::push_state(state, &tenant, &id).await?;
    let cashback = state
        .tally
        .member_cashback(&tenant, &id, None, Some(1))
        .await?;
    let cashback_minor = cashback["items"]
        .as_array()
        .is_some_and(|items| !items.is_empty())
        .then(|| cashback["balance_minor"].as_i64().unwrap_or(0));
    let segments = super::wallet_rewards::segments(state, &tenant, &program, &id, &rewards).await?;
    render(&CardPage {
        lang: wallet.lang,
        csrf: wallet.csrf.clone(),
        card,
        qr_svg,
        history,
        rewards,
        redemptions,
        stores,
        sorted_by_distance: here.is_some(),
        notice,
        errors,
        zone,
        tier,
        expiring,
        pending,
        stamps,
        invite,
        vouchers,
        causes,
        offers,
        inbox,
        push,
        claims,
        cashback_minor,
        segments,
    })
}

/// `?lat=52.23&lon=21.01` when the member shared their position.
fn position(q: &HashMap<String, String>) -> Option<(f64, f64)> {
    let lat: f64 = q.get("lat")?.parse().ok()?;
    let lon: f64 = q.get("lon")?.parse().ok()?;
    (lat.abs() <= 90.0 && lon.abs() <= 180.0).then_some((lat, lon))
}

pub async fn show<D: Database>(
    State(state): State<WebState<D>>,
    Path(member): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    wallet: Wallet,
) -> PageResult {
    let notice = match q.get("done").map(String::as_str) {
        Some("preferences") => wallet.lang.t("wallet.preferences_saved").to_owned(),
        _ => String::new(),
    };
    card_page(
        &state,
        &wallet,
        &member,
        position(&q),
        notice,
        FormErrors::default(),
    )
    .await
}

/// The preferred channel and the consent per channel, as the member sets them (recorded with
/// the time and the source `wallet`).
pub async fn preferences<D: Database>(
    State(state): State<WebState<D>>,
    Path(member): Path<String>,
    wallet: Wallet,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    wallet.check(&fields)?;
    let (tenant, id) = own_card(&state, &wallet, &member).await?;
    let mut consents = serde_json::Map::new();
    for channel in Channel::ALL {
        consents.insert(
            channel.as_str().into(),
            json!(
                fields
                    .get(&format!("consent_{}", channel.as_str()))
                    .is_some()
            ),
        );
    }
    let mut body = json!({ "consents": consents });
    if let Some(preferred) = fields.get("preferred_channel") {
        body["preferred_channel"] = json!(preferred);
    }
    let command = MemberPatch::parse(&body).map(|patch| Command::UpdateMember {
        member: id,
        patch,
        source: "wallet".into(),
    });
    let fields = [("/preferred_channel", "preferred_channel")];
    match write_as(&state, &tenant, "wallet", wallet.lang, command, &fields).await? {
        Ok(_) => Ok(Redirect::to(&format!(
            "/wallet/cards/{}?done=preferences",
            url_encode(&member)
        ))
        .into_response()),
        Err(errors) => Ok(unprocessable(
            card_page(&state, &wallet, &member, None, String::new(), errors).await?,
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn distances_are_right_at_city_scale() {
        // Warsaw's Palace of Culture to its Old Town Market Square: about 2.2 km.
        let d = distance_m((52.2318, 21.0060), (52.2497, 21.0122));
        assert!((2_000.0..2_100.0).contains(&d), "{d}");
        assert_eq!(distance_m((50.0, 19.9), (50.0, 19.9)), 0.0);
    }

    #[test]
    fn positions_are_checked() {
        let q = |lat: &str, lon: &str| {
            HashMap::from([
                ("lat".to_owned(), lat.to_owned()),
                ("lon".to_owned(), lon.to_owned()),
            ])
        };
        assert_eq!(position(&q("52.2", "21.0")), Some((52.2, 21.0)));
        assert_eq!(position(&q("95", "21.0")), None);
        assert_eq!(position(&q("x", "21.0")), None);
    }
}
