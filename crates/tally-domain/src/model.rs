//! The records Tally keeps, as the API shows them. They serialise to the JSON a client sees, and
//! (for idempotent requests) to the stored answer that a retry gets back.

use crate::Timestamp;
use crate::ids::*;
use crate::money::Currency;
use crate::points::Points;
use crate::text::{Email, Locale, Phone, TimeZoneName};
use serde::{Deserialize, Serialize};

/// A calendar date (birthdays).
pub type Date = jiff::civil::Date;

/// The birthdays (`"MM-DD"`) celebrated on `day`: its own month and day, and 29 February on 28
/// February of a year without one.
pub fn birthdays_on(day: Date) -> Vec<String> {
    let mut out = vec![format!("{:02}-{:02}", day.month(), day.day())];
    if day.month() == 2 && day.day() == 28 && !day.in_leap_year() {
        out.push("02-29".into());
    }
    out
}

/// Whether someone born on `birthday` celebrates it on `day`.
pub fn is_birthday(birthday: Date, day: Date) -> bool {
    let born = format!("{:02}-{:02}", birthday.month(), birthday.day());
    birthdays_on(day).contains(&born)
}

/// A way to reach a member, for consent and preference.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Channel {
    Email,
    Sms,
    Push,
    InApp,
}

impl Channel {
    pub const ALL: [Channel; 4] = [Channel::Email, Channel::Sms, Channel::Push, Channel::InApp];
    pub const NAMES: &'static [&'static str] = &["email", "sms", "push", "in_app"];

    pub fn as_str(self) -> &'static str {
        match self {
            Channel::Email => "email",
            Channel::Sms => "sms",
            Channel::Push => "push",
            Channel::InApp => "in_app",
        }
    }

    pub fn parse(raw: &str) -> Result<Channel, String> {
        Channel::ALL
            .into_iter()
            .find(|c| c.as_str() == raw)
            .ok_or_else(|| format!("must be one of {}", Channel::NAMES.join(", ")))
    }
}

/// Where a purchase happened.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SalesChannel {
    Pos,
    Online,
    App,
}

impl SalesChannel {
    pub const NAMES: &'static [&'static str] = &["pos", "online", "app"];

    pub fn as_str(self) -> &'static str {
        match self {
            SalesChannel::Pos => "pos",
            SalesChannel::Online => "online",
            SalesChannel::App => "app",
        }
    }

    pub fn parse(raw: &str) -> Result<SalesChannel, String> {
        match raw {
            "pos" => Ok(SalesChannel::Pos),
            "online" => Ok(SalesChannel::Online),
            "app" => Ok(SalesChannel::App),
            _ => Err(format!("must be one of {}", SalesChannel::NAMES.join(", "))),
        }
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MemberStatus {
    Active,
    Suspended,
    Closed,
}

impl MemberStatus {
    pub const NAMES: &'static [&'static str] = &["active", "suspended", "closed"];

    pub fn as_str(self) -> &'static str {
        match self {
            MemberStatus::Active => "active",
            MemberStatus::Suspended => "suspended",
            MemberStatus::Closed => "closed",
        }
    }

    pub fn parse(raw: &str) -> Result<MemberStatus, String> {
        match raw {
            "active" => Ok(MemberStatus::Active),
            "suspended" => Ok(MemberStatus::Suspended),
            "closed" => Ok(MemberStatus::Closed),
            _ => Err(format!("must be one of {}", MemberStatus::NAMES.join(", "))),
        }
    }
}

/// A consent decision for one channel, with when and where it was given or withdrawn.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Consent {
    pub channel: Channel,
    pub granted: bool,
    pub changed_at: Timestamp,
    /// Who or what recorded it: `api`, `pos`, `wallet`, `import`, an operator's name.
    pub source: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Card {
    /// 16 digits with a Luhn check digit, for typing at the till.
    pub number: String,
    /// Secret shown as a QR code; rotatable without changing the number.
    pub token: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Balance {
    pub available: Points,
    pub pending: Points,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Member {
    pub id: MemberId,
    pub program_id: ProgramId,
    pub person_id: PersonId,
    pub external_id: Option<String>,
    pub name: Option<String>,
    pub email: Option<Email>,
    /// The member's email is one their person (wallet) has proved to own, by signing in to the
    /// wallet with a code sent to it.
    pub email_verified: bool,
    pub phone: Option<Phone>,
    /// Likewise for the phone; no flow verifies phones yet (the wallet signs in by email).
    pub phone_verified: bool,
    pub birthday: Option<jiff::civil::Date>,
    pub locale: Option<Locale>,
    pub time_zone: Option<TimeZoneName>,
    pub preferred_channel: Option<Channel>,
    pub consents: Vec<Consent>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub tags: Vec<String>,
    pub status: MemberStatus,
    pub card: Card,
    pub balance: Balance,
    pub enrolled_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Location {
    pub id: LocationId,
    pub program_id: ProgramId,
    pub name: String,
    pub address: Option<String>,
    /// Micro-degrees, so coordinates stay integers (1e-6° is about 11 cm).
    pub latitude_micro: i64,
    pub longitude_micro: i64,
    pub time_zone: Option<TimeZoneName>,
    pub active: bool,
    pub created_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reward {
    pub id: RewardId,
    pub program_id: ProgramId,
    pub name: String,
    pub description: Option<String>,
    pub cost: Points,
    /// `None`: unlimited.
    pub stock_remaining: Option<i64>,
    pub active_from: Option<Timestamp>,
    pub active_until: Option<Timestamp>,
    pub per_member_limit: Option<i64>,
    /// Only members of these tiers may redeem it (a tier benefit); empty: everyone.
    pub tiers: Vec<String>,
    /// Only members of one of these segments (keys) may redeem it; empty: everyone.
    pub segments: Vec<String>,
    /// Redeeming it gives the member the next free code of this voucher pool.
    pub voucher_pool_id: Option<crate::ids::VoucherPoolId>,
    /// What the member gets: a code, something sent, a product at the till, an experience.
    #[serde(default)]
    pub kind: crate::fulfilment::RewardKind,
    /// The product a `free_product` reward hands over.
    #[serde(default)]
    pub sku: Option<String>,
    pub active: bool,
    pub created_at: Timestamp,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedemptionStatus {
    /// Points taken, code not yet used at the till.
    Issued,
    /// The cashier has checked and used the code.
    Consumed,
    /// Cancelled; points refunded.
    Cancelled,
}

impl RedemptionStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            RedemptionStatus::Issued => "issued",
            RedemptionStatus::Consumed => "consumed",
            RedemptionStatus::Cancelled => "cancelled",
        }
    }

    pub fn parse(raw: &str) -> Option<RedemptionStatus> {
        match raw {
            "issued" => Some(RedemptionStatus::Issued),
            "consumed" => Some(RedemptionStatus::Consumed),
            "cancelled" => Some(RedemptionStatus::Cancelled),
            _ => None,
        }
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Redemption {
    pub id: RedemptionId,
    pub program_id: ProgramId,
    pub member_id: MemberId,
    pub reward_id: RewardId,
    pub reward_name: String,
    pub cost: Points,
    /// Short code the cashier checks (`R7K-3QF-X9P`).
    pub code: String,
    /// The voucher code it gave, for a reward that hands out vouchers (used like any voucher).
    pub voucher_code: Option<String>,
    /// For a physical reward: where it goes and how far it has got.
    #[serde(default)]
    pub fulfilment: Option<crate::fulfilment::Fulfilment>,
    pub status: RedemptionStatus,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurchaseLine {
    pub sku: String,
    pub name: Option<String>,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub quantity: i64,
    pub unit_price_minor: i64,
    pub returned_quantity: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Purchase {
    pub id: PurchaseId,
    pub program_id: ProgramId,
    pub member_id: MemberId,
    pub order_id: String,
    pub total_minor: i64,
    pub currency: Currency,
    pub channel: SalesChannel,
    pub location_id: Option<LocationId>,
    pub lines: Vec<PurchaseLine>,
    pub points_earned: Points,
    pub points_reversed: Points,
    pub returned_minor: i64,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
}

/// Why a transfer happened, as member history shows it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TransferKind {
    Earn,
    Reverse,
    Redeem,
    Refund,
    Adjust,
    Expire,
    /// Pending points become available: between two accounts of the same member.
    Release,
    /// Points a member gives to one of the program's charities.
    Donate,
    /// Cashback (money, in minor units) a member earned.
    CashbackEarn,
    /// Cashback taken back (a return of the order that earned it).
    CashbackReverse,
    /// Cashback a member paid part of a basket with.
    CashbackSpend,
    /// A payment from cashback given back (the order was cancelled).
    CashbackRefund,
}

impl TransferKind {
    pub const ALL: [TransferKind; 12] = [
        TransferKind::Earn,
        TransferKind::Reverse,
        TransferKind::Redeem,
        TransferKind::Refund,
        TransferKind::Adjust,
        TransferKind::Expire,
        TransferKind::Release,
        TransferKind::Donate,
        TransferKind::CashbackEarn,
        TransferKind::CashbackReverse,
        TransferKind::CashbackSpend,
        TransferKind::CashbackRefund,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            TransferKind::Earn => "earn",
            TransferKind::Reverse => "reverse",
            TransferKind::Redeem => "redeem",
            TransferKind::Refund => "refund",
            TransferKind::Adjust => "adjust",
            TransferKind::Expire => "expire",
            TransferKind::Release => "release",
            TransferKind::Donate => "donate",
            TransferKind::CashbackEarn => "cashback_earn",
            TransferKind::CashbackReverse => "cashback_reverse",
            TransferKind::CashbackSpend => "cashback_spend",
            TransferKind::CashbackRefund => "cashback_refund",
        }
    }

    /// Whether the transfer moves cashback (money in minor units) rather than points.
    pub fn is_cashback(self) -> bool {
        matches!(
            self,
            TransferKind::CashbackEarn
                | TransferKind::CashbackReverse
                | TransferKind::CashbackSpend
                | TransferKind::CashbackRefund
        )
    }

    pub fn parse(raw: &str) -> Option<TransferKind> {
        TransferKind::ALL.into_iter().find(|k| k.as_str() == raw)
    }
}

/// A member's two balances.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum BalanceKind {
    Available,
    Pending,
}

/// One line of a member's history: a transfer seen from the member's account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    pub transfer_id: TransferId,
    pub kind: TransferKind,
    /// Positive: points came in; negative: points went out.
    pub points: Points,
    /// Which of the member's balances changed: `available`, or `pending` for a purchase's points
    /// inside its return window (a `release` moves them to `available`).
    pub balance: BalanceKind,
    /// That balance after the transfer.
    pub balance_after: Points,
    pub reason: TransferReason,
    pub occurred_at: Timestamp,
}

/// Everything a transfer records about why it happened.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TransferReason {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub order_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub purchase_id: Option<PurchaseId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_id: Option<ReturnId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redemption_id: Option<RedemptionId>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reward_id: Option<RewardId>,
    /// The custom event an event rule's award came with.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub event_id: Option<EventId>,
    /// `base` for base earning; a rule id once the rules engine lands.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub rule_version: Option<i64>,
    /// The charity a donation went to.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charity_id: Option<CharityId>,
    /// The offer whose use gave the points.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offer_id: Option<crate::ids::OfferId>,
    /// The API key or operator that asked for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub actor: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProgramTotals {
    pub members: i64,
    /// Earned minus reversed.
    pub issued: Points,
    /// Redeemed minus refunded.
    pub redeemed: Points,
    pub expired: Points,
    /// Net manual adjustments (positive: given to members).
    pub adjusted: Points,
    /// Given by members to the program's charities.
    pub donated: Points,
    /// Sum of all member balances: the program's liability.
    pub outstanding: Points,
    /// The cashback ledger, in minor units of the program's currency.
    pub cashback: CashbackTotals,
}

/// A program's cashback: given less taken back, paid with less given back, and what members
/// hold (the program's liability in money).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CashbackTotals {
    pub issued_minor: i64,
    pub spent_minor: i64,
    pub outstanding_minor: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReturnRecord {
    pub id: ReturnId,
    pub purchase_id: PurchaseId,
    pub order_id: String,
    pub returned_minor: i64,
    pub points_reversed: Points,
    /// Points that could not be taken back under `floor_at_zero`.
    pub unrecovered_points: Points,
    pub balance: Balance,
    pub occurred_at: Timestamp,
}
