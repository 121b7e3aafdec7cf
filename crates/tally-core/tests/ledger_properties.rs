//! Property: whatever sequence of enrolments, purchases, returns, redemptions, cancellations,
//! adjustments and idempotent retries a program sees, every answer is the one a small model of
//! the rules predicts, and after every step the ledger balances, each balance is what the
//! answers add up to, stock is never negative and no member holds more of a reward than its
//! per-member limit.
//!
//! Cases: `TALLY_PROPTEST_CASES` (default 64). Each case gets a fresh database and one program,
//! alternating between the `allow_negative` and `floor_at_zero` policies.

mod common;

use common::{ACTOR, Fixture, domain_code};
use proptest::prelude::*;
use proptest::test_runner::{Config, TestCaseError, TestRunner};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::sync::Mutex;
use tally_core::{Command, CoreError, IdempotencyKey};
use tally_domain::DomainError;
use tally_domain::ids::{MemberId, RedemptionId, RewardId};
use tally_domain::inputs::{AdjustmentRequest, NewMember, NewPurchase, NewReturn, RedeemRequest};
use tally_domain::model::RedemptionStatus;
use tally_store::queries::{members, purchases, rewards};

/// Line skus a purchase may have; a return may also name `z`, which no order has.
const SKUS: [&str; 4] = ["a", "b", "c", "z"];
/// Order ids are drawn from a small pool so that they are often reused.
const ORDER_IDS: usize = 10;

// ---- what is generated -------------------------------------------------------------------

#[derive(Clone, Debug)]
struct RewardSpec {
    cost: i64,
    stock: Option<i64>,
    limit: Option<i64>,
}

#[derive(Clone, Debug)]
struct Setup {
    floor_at_zero: bool,
    /// How many members may be enrolled (3 or 4).
    pool: usize,
    /// Thousandths of a point per dollar.
    rate_milli: i64,
    rounding: &'static str,
    rewards: Vec<RewardSpec>,
}

#[derive(Clone, Debug, PartialEq, Eq)]
struct Line {
    sku: usize,
    quantity: i64,
    unit_price_minor: i64,
    /// In the `gift` category, which the program excludes from earning.
    gift: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Basket {
    /// A total without lines.
    Amount(i64),
    /// Lines, and a total that is their value less a basket discount.
    Lines {
        lines: Vec<Line>,
        discount_permille: i64,
    },
}

impl Basket {
    fn total(&self) -> i64 {
        match self {
            Basket::Amount(a) => *a,
            Basket::Lines {
                lines,
                discount_permille,
            } => {
                let value: i64 = lines.iter().map(|l| l.quantity * l.unit_price_minor).sum();
                value - value * discount_permille / 1000
            }
        }
    }

    fn lines(&self) -> &[Line] {
        match self {
            Basket::Amount(_) => &[],
            Basket::Lines { lines, .. } => lines,
        }
    }
}

#[derive(Clone, Debug)]
enum ReturnSpec {
    Full,
    /// An amount relative to what is left of the order; above 1000 asks for more than allowed.
    Amount {
        permille: i64,
    },
    /// (sku index into [`SKUS`], quantity); skus are distinct.
    Lines(Vec<(usize, i64)>),
}

/// `who` picks a member at run time: usually one of those enrolled, sometimes (and always while
/// nobody is enrolled) a member id that does not exist. A return's `order` likewise picks a
/// recorded order, and sometimes any id of the pool, which may never have been used.
#[derive(Clone, Debug)]
enum Op {
    /// Enrols the next member of the pool (`fresh`), or one whose external id is taken once the
    /// pool is full or when not `fresh`.
    Enroll {
        fresh: bool,
    },
    Purchase {
        who: usize,
        order: usize,
        basket: Basket,
    },
    /// Sends an earlier purchase request again, byte for byte.
    RepeatPurchase {
        pick: usize,
    },
    Return {
        order: usize,
        spec: ReturnSpec,
    },
    Redeem {
        who: usize,
        reward: usize,
    },
    /// Redeems again what the latest redemption redeemed, for the same member: runs into
    /// per-member limits and stock.
    RedeemAgain,
    Cancel {
        pick: usize,
    },
    Adjust {
        who: usize,
        points: i64,
    },
    /// Sends the previous command again with its idempotency key: with the same request hash it
    /// must get the same outcome and change nothing; with another hash it must be refused.
    Replay {
        same_request: bool,
    },
}

fn reward_spec() -> impl Strategy<Value = RewardSpec> {
    (
        1i64..=40,
        prop::option::weighted(0.8, 0i64..=4),
        prop::option::weighted(0.8, 1i64..=2),
    )
        .prop_map(|(cost, stock, limit)| RewardSpec { cost, stock, limit })
}

fn setup() -> impl Strategy<Value = Setup> {
    (
        any::<bool>(),
        3usize..=4,
        prop::sample::select(vec![1000i64, 1500, 250]),
        prop::sample::select(vec!["down", "nearest", "up"]),
        prop::collection::vec(reward_spec(), 2),
    )
        .prop_map(
            |(floor_at_zero, pool, rate_milli, rounding, rewards)| Setup {
                floor_at_zero,
                pool,
                rate_milli,
                rounding,
                rewards,
            },
        )
}

fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![1 => Just(0i64), 1 => 1i64..100, 6 => 100i64..=20_000]
}

fn basket() -> impl Strategy<Value = Basket> {
    let lines = prop::sample::subsequence(vec![0usize, 1, 2], 1..=3)
        .prop_flat_map(|skus| {
            let n = skus.len();
            (
                Just(skus),
                prop::collection::vec(
                    (
                        1i64..=3,
                        prop_oneof![1 => Just(0i64), 6 => 1i64..=4000],
                        prop::bool::weighted(0.2),
                    ),
                    n,
                ),
            )
        })
        .prop_map(|(skus, details)| {
            skus.into_iter()
                .zip(details)
                .map(|(sku, (quantity, unit_price_minor, gift))| Line {
                    sku,
                    quantity,
                    unit_price_minor,
                    gift,
                })
                .collect::<Vec<_>>()
        });
    prop_oneof![
        3 => amount().prop_map(Basket::Amount),
        2 => (lines, prop_oneof![Just(0i64), 0i64..=300]).prop_map(|(lines, discount_permille)| Basket::Lines { lines, discount_permille }),
    ]
}

fn return_spec() -> impl Strategy<Value = ReturnSpec> {
    let lines = prop::sample::subsequence(vec![0usize, 1, 2, 3], 1..=3)
        .prop_shuffle()
        .prop_flat_map(|skus| {
            let n = skus.len();
            (Just(skus), prop::collection::vec(1i64..=4, n))
        })
        .prop_map(|(skus, quantities)| {
            ReturnSpec::Lines(skus.into_iter().zip(quantities).collect())
        });
    prop_oneof![
        2 => Just(ReturnSpec::Full),
        3 => (1i64..=1500).prop_map(|permille| ReturnSpec::Amount { permille }),
        3 => lines,
    ]
}

fn op() -> impl Strategy<Value = Op> {
    let who = 0usize..1000;
    prop_oneof![
        4 => prop::bool::weighted(0.8).prop_map(|fresh| Op::Enroll { fresh }),
        6 => (who.clone(), 0..ORDER_IDS, basket()).prop_map(|(who, order, basket)| Op::Purchase { who, order, basket }),
        1 => (0usize..1000).prop_map(|pick| Op::RepeatPurchase { pick }),
        5 => (0usize..1000, return_spec()).prop_map(|(order, spec)| Op::Return { order, spec }),
        5 => (who.clone(), 0usize..2).prop_map(|(who, reward)| Op::Redeem { who, reward }),
        2 => Just(Op::RedeemAgain),
        2 => (0usize..1000).prop_map(|pick| Op::Cancel { pick }),
        2 => (who, prop_oneof![-80i64..=-1, 1i64..=80]).prop_map(|(who, points)| Op::Adjust { who, points }),
        1 => any::<bool>().prop_map(|same_request| Op::Replay { same_request }),
    ]
}

// ---- the model ---------------------------------------------------------------------------

/// What the answers said happened to a member, summed.
#[derive(Clone, Debug, Default)]
struct Reported {
    earned: i64,
    reversed: i64,
    redeemed: i64,
    refunded: i64,
    adjusted: i64,
}

impl Reported {
    fn balance(&self) -> i64 {
        self.earned - self.reversed - self.redeemed + self.refunded + self.adjusted
    }
}

#[derive(Clone, Debug)]
struct MemberState {
    id: MemberId,
    /// The balance the model predicts.
    balance: i64,
    /// What the answers reported.
    reported: Reported,
}

#[derive(Clone, Debug)]
struct OrderLine {
    sku: &'static str,
    quantity: i64,
    unit_price_minor: i64,
    returned: i64,
}

#[derive(Clone, Debug)]
struct Order {
    slot: usize,
    member: MemberId,
    basket: Basket,
    total: i64,
    earned: i64,
    /// Cumulative points the returns took back by the proportional rule (including what
    /// `floor_at_zero` could not recover).
    reversed: i64,
    returned_minor: i64,
    lines: Vec<OrderLine>,
    answer: Value,
}

#[derive(Clone, Debug)]
struct RewardState {
    id: RewardId,
    cost: i64,
    stock: Option<i64>,
    limit: Option<i64>,
}

#[derive(Clone, Debug)]
struct RedemptionState {
    id: RedemptionId,
    slot: usize,
    reward: usize,
    cost: i64,
    cancelled: bool,
}

/// The last command sent, to replay it.
struct Last {
    key: IdempotencyKey,
    command: Command,
    outcome: Result<Value, DomainError>,
}

struct Model {
    setup: Setup,
    members: Vec<Option<MemberState>>,
    rewards: Vec<RewardState>,
    orders: BTreeMap<String, Order>,
    redemptions: Vec<RedemptionState>,
    /// Every purchase request sent: (member named, order id, basket).
    sent_purchases: Vec<(MemberId, String, Basket)>,
    last: Option<Last>,
}

impl Model {
    fn member(&self, slot: usize) -> Option<&MemberState> {
        self.members.get(slot).and_then(Option::as_ref)
    }

    /// The member slot `who` picks, or `None` for a member that does not exist.
    fn pick_member(&self, who: usize) -> Option<usize> {
        let enrolled: Vec<usize> = (0..self.members.len())
            .filter(|s| self.members[*s].is_some())
            .collect();
        if who < 80 || enrolled.is_empty() {
            None
        } else {
            Some(enrolled[who % enrolled.len()])
        }
    }

    /// The id a request uses for a slot: the member's, or one nobody has.
    fn member_id(&self, slot: Option<usize>) -> MemberId {
        slot.and_then(|s| self.member(s))
            .map_or_else(MemberId::generate, |m| m.id.clone())
    }

    /// The order id `pick` picks: usually one recorded, sometimes any id of the pool (recorded
    /// or not).
    fn pick_order(&self, pick: usize) -> String {
        if pick < 100 || self.orders.is_empty() {
            format!("O-{}", pick % ORDER_IDS)
        } else {
            self.orders
                .keys()
                .nth(pick % self.orders.len())
                .unwrap()
                .clone()
        }
    }

    fn slot_of(&self, id: &MemberId) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.as_ref().is_some_and(|m| &m.id == id))
    }

    fn claims(&self, slot: usize, reward: usize) -> i64 {
        self.redemptions
            .iter()
            .filter(|r| r.slot == slot && r.reward == reward && !r.cancelled)
            .count() as i64
    }

    /// Base earning, computed independently of the engine: the eligible share of the total
    /// (gift lines excluded, shared out by line value), at the program's rate and rounding.
    fn points_for(&self, basket: &Basket) -> i64 {
        let total = i128::from(basket.total());
        let eligible = match basket {
            Basket::Amount(_) => total,
            Basket::Lines { lines, .. } => {
                let all: i128 = lines
                    .iter()
                    .map(|l| i128::from(l.quantity * l.unit_price_minor))
                    .sum();
                let eligible: i128 = lines
                    .iter()
                    .filter(|l| !l.gift)
                    .map(|l| i128::from(l.quantity * l.unit_price_minor))
                    .sum();
                if all == 0 { 0 } else { total * eligible / all }
            }
        };
        if eligible <= 0 {
            return 0;
        }
        let (n, d) = (eligible * i128::from(self.setup.rate_milli), 100_000i128);
        let points = match self.setup.rounding {
            "down" => n / d,
            "up" => (n + d - 1) / d,
            _ => (2 * n + d) / (2 * d),
        };
        i64::try_from(points).unwrap()
    }
}

/// Points a return takes back: cumulative and rounded down, so partial returns never add up to
/// more than was earned and the last one takes exactly what is left.
fn reversal(earned: i64, already: i64, total: i64, returned_after: i64) -> i64 {
    if total <= 0 || earned <= 0 {
        return 0;
    }
    let after =
        i64::try_from(i128::from(earned) * i128::from(returned_after) / i128::from(total)).unwrap();
    (after - already).max(0)
}

/// What the model expects a command to do.
#[derive(Debug)]
enum Expect {
    Refused(String),
    Enrolled {
        slot: usize,
    },
    Earned {
        slot: usize,
        order: String,
        basket: Basket,
        points: i64,
    },
    /// A purchase of an order already recorded with the same content: the original answer.
    Replayed(Value),
    Returned {
        order: String,
        amount: i64,
        reversal: i64,
        taken: i64,
        lines: Vec<(usize, i64)>,
    },
    Redeemed {
        slot: usize,
        reward: usize,
    },
    Cancelled {
        index: usize,
    },
    Adjusted {
        slot: usize,
        points: i64,
    },
}

fn purchase_body(member: &MemberId, order: &str, basket: &Basket) -> Value {
    let mut body = json!({
        "order_id": order,
        "member": {"id": member},
        "total": {"amount_minor": basket.total(), "currency": "USD"},
    });
    if let Basket::Lines { lines, .. } = basket {
        body["lines"] = lines
            .iter()
            .map(|l| {
                let mut line = json!({"sku": SKUS[l.sku], "quantity": l.quantity, "unit_price_minor": l.unit_price_minor});
                if l.gift {
                    line["category"] = json!("gift");
                }
                line
            })
            .collect();
    }
    body
}

impl Model {
    fn expect_purchase(&self, member: &MemberId, order: &str, basket: &Basket) -> Expect {
        let Some(slot) = self.slot_of(member) else {
            return Expect::Refused("invalid /member/id".into());
        };
        if let Some(existing) = self.orders.get(order) {
            // The content hash covers the member, the total and the lines (not how the total
            // was arrived at).
            let same = &existing.member == member
                && existing.total == basket.total()
                && existing.basket.lines() == basket.lines();
            return if same {
                Expect::Replayed(existing.answer.clone())
            } else {
                Expect::Refused("order_conflict".into())
            };
        }
        Expect::Earned {
            slot,
            order: order.to_owned(),
            basket: basket.clone(),
            points: self.points_for(basket),
        }
    }

    fn expect_return(&self, order_id: &str, spec: &ReturnSpec) -> (Value, Expect) {
        let body = |extra: Value| {
            let mut b = json!({"order_id": order_id});
            if let (Value::Object(b), Value::Object(extra)) = (&mut b, extra) {
                b.extend(extra);
            }
            b
        };
        let Some(order) = self.orders.get(order_id) else {
            let b = match spec {
                ReturnSpec::Full => body(json!({})),
                ReturnSpec::Amount { .. } => body(json!({"amount_minor": 1})),
                ReturnSpec::Lines(lines) => body(
                    json!({"lines": lines.iter().map(|(s, q)| json!({"sku": SKUS[*s], "quantity": q})).collect::<Vec<_>>()}),
                ),
            };
            return (b, Expect::Refused("invalid /order_id".into()));
        };
        let remaining = order.total - order.returned_minor;
        let (b, scope) = match spec {
            ReturnSpec::Full => (
                body(json!({})),
                Ok((
                    remaining,
                    (0..order.lines.len())
                        .map(|i| (i, order.lines[i].quantity - order.lines[i].returned))
                        .filter(|(_, q)| *q > 0)
                        .collect(),
                )),
            ),
            ReturnSpec::Amount { permille } => {
                let amount = (remaining * permille / 1000).max(1);
                let scope = if remaining > 0 && amount > remaining {
                    Err("invalid /amount_minor".to_owned())
                } else {
                    Ok((amount, Vec::new()))
                };
                (body(json!({"amount_minor": amount})), scope)
            }
            ReturnSpec::Lines(wanted) => {
                let b = body(
                    json!({"lines": wanted.iter().map(|(s, q)| json!({"sku": SKUS[*s], "quantity": q})).collect::<Vec<_>>()}),
                );
                let mut scope = Ok(());
                let mut chosen = Vec::new();
                let mut value: i128 = 0;
                for (i, (sku, quantity)) in wanted.iter().enumerate() {
                    let Some(n) = order.lines.iter().position(|l| l.sku == SKUS[*sku]) else {
                        scope = Err(format!("invalid /lines/{i}/sku"));
                        break;
                    };
                    let line = &order.lines[n];
                    if *quantity > line.quantity - line.returned {
                        scope = Err(format!("invalid /lines/{i}/quantity"));
                        break;
                    }
                    value += i128::from(*quantity) * i128::from(line.unit_price_minor);
                    chosen.push((n, *quantity));
                }
                let scope = scope.map(|()| {
                    let all: i128 = order
                        .lines
                        .iter()
                        .map(|l| i128::from(l.quantity) * i128::from(l.unit_price_minor))
                        .sum();
                    let share = if all == 0 {
                        0
                    } else {
                        i64::try_from(i128::from(order.total) * value / all).unwrap()
                    };
                    let everything_back = order.lines.iter().enumerate().all(|(n, l)| {
                        l.returned
                            + chosen
                                .iter()
                                .filter(|(x, _)| *x == n)
                                .map(|(_, q)| q)
                                .sum::<i64>()
                            == l.quantity
                    });
                    (
                        if everything_back {
                            remaining
                        } else {
                            share.min(remaining)
                        },
                        chosen,
                    )
                });
                (b, scope)
            }
        };
        if remaining == 0 {
            return (b, Expect::Refused("already_returned".into()));
        }
        let (amount, lines) = match scope {
            Ok(x) => x,
            Err(code) => return (b, Expect::Refused(code)),
        };
        let reversal = reversal(
            order.earned,
            order.reversed,
            order.total,
            order.returned_minor + amount,
        );
        let balance = self
            .member(order.slot)
            .expect("orders belong to enrolled members")
            .balance;
        let taken = if self.setup.floor_at_zero {
            reversal.min(balance.max(0))
        } else {
            reversal
        };
        (
            b,
            Expect::Returned {
                order: order_id.to_owned(),
                amount,
                reversal,
                taken,
                lines,
            },
        )
    }

    fn expect_redeem(&self, slot: Option<usize>, reward: usize) -> Expect {
        let Some((slot, member)) = slot.and_then(|s| Some((s, self.member(s)?))) else {
            return Expect::Refused("invalid /member/id".into());
        };
        let r = &self.rewards[reward];
        if member.balance < r.cost {
            return Expect::Refused("insufficient_points".into());
        }
        if r.limit
            .is_some_and(|limit| self.claims(slot, reward) >= limit)
        {
            return Expect::Refused("limit_reached".into());
        }
        if r.stock == Some(0) {
            return Expect::Refused("out_of_stock".into());
        }
        Expect::Redeemed { slot, reward }
    }

    fn expect_adjust(&self, slot: Option<usize>, points: i64) -> Expect {
        let Some((slot, member)) = slot.and_then(|s| Some((s, self.member(s)?))) else {
            return Expect::Refused("member not found".into());
        };
        if points < 0 && self.setup.floor_at_zero && member.balance < -points {
            return Expect::Refused("insufficient_points".into());
        }
        Expect::Adjusted { slot, points }
    }
}

// ---- running a case ----------------------------------------------------------------------

macro_rules! check {
    ($cond:expr, $($fmt:tt)*) => {
        if !$cond {
            return Err(TestCaseError::fail(format!($($fmt)*)));
        }
    };
}

macro_rules! check_eq {
    ($left:expr, $right:expr, $($fmt:tt)*) => {{
        let (left, right) = (&$left, &$right);
        if left != right {
            return Err(TestCaseError::fail(format!("{}: {:?} != {:?}", format!($($fmt)*), left, right)));
        }
    }};
}

fn int(v: &Value, pointer: &str) -> Result<i64, TestCaseError> {
    v.pointer(pointer)
        .and_then(Value::as_i64)
        .ok_or_else(|| TestCaseError::fail(format!("answer has no integer {pointer}: {v}")))
}

async fn send(
    f: &Fixture,
    key: &IdempotencyKey,
    command: Command,
) -> Result<Result<Value, DomainError>, TestCaseError> {
    match f
        .tally
        .write(&f.tenant, ACTOR, Some(key.clone()), command)
        .await
    {
        Ok(v) => Ok(Ok(v)),
        Err(CoreError::Domain(e)) => Ok(Err(e)),
        Err(other) => Err(TestCaseError::fail(format!(
            "a store or writer failure, not a domain outcome: {other:?}"
        ))),
    }
}

/// Runs one case in a program of its own (a new tenant in the shared database).
async fn run_case(base: &Fixture, setup: Setup, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let policy = if setup.floor_at_zero {
        "floor_at_zero"
    } else {
        "allow_negative"
    };
    let rate = format!("{}.{:03}", setup.rate_milli / 1000, setup.rate_milli % 1000);
    let f = base
        .another_program(json!({
            "name": "Props", "currency": "USD", "negative_balance": policy,
            "earning": {"points_per_unit": rate, "rounding": setup.rounding, "excluded_categories": ["gift"]},
        }))
        .await;
    let mut rewards_state = Vec::new();
    for (i, r) in setup.rewards.iter().enumerate() {
        let id = f.reward(json!({"name": format!("Reward {i}"), "cost_points": r.cost, "stock": r.stock, "per_member_limit": r.limit})).await;
        rewards_state.push(RewardState {
            id: RewardId::parse(&id).unwrap(),
            cost: r.cost,
            stock: r.stock,
            limit: r.limit,
        });
    }
    let mut m = Model {
        members: vec![None; setup.pool],
        setup,
        rewards: rewards_state,
        orders: BTreeMap::new(),
        redemptions: Vec::new(),
        sent_purchases: Vec::new(),
        last: None,
    };
    check_all(&f, &m, "after set-up").await?;

    for (step, op) in ops.iter().enumerate() {
        let at = format!("step {step} {op:?}");
        let key = IdempotencyKey {
            key: format!("k-{step}"),
            request_sha256: format!("h-{step}"),
        };
        let (command, expect) = match op {
            Op::Replay { same_request } => {
                let Some(last) = &m.last else { continue };
                if *same_request {
                    let again = send(&f, &last.key, last.command.clone()).await?;
                    check_eq!(
                        again,
                        last.outcome,
                        "{at}: a replay gets the stored outcome"
                    );
                } else {
                    let other = IdempotencyKey {
                        key: last.key.key.clone(),
                        request_sha256: "another request".into(),
                    };
                    let r = f
                        .tally
                        .write(&f.tenant, ACTOR, Some(other), last.command.clone())
                        .await;
                    check!(
                        matches!(r, Err(CoreError::IdempotencyMismatch)),
                        "{at}: same key, other request: {r:?}"
                    );
                }
                check_all(&f, &m, &at).await?;
                continue;
            }
            Op::Enroll { fresh } => {
                let free = m.members.iter().position(Option::is_none);
                let slot = if *fresh { free.unwrap_or(0) } else { 0 };
                let body =
                    json!({"external_id": format!("m-{slot}"), "name": format!("Member {slot}")});
                let expect = if m.member(slot).is_some() {
                    Expect::Refused("external_id_taken".into())
                } else {
                    Expect::Enrolled { slot }
                };
                (
                    Command::Enroll {
                        program: f.program.clone(),
                        member: NewMember::parse(&body).unwrap(),
                        source: "test".into(),
                    },
                    expect,
                )
            }
            Op::Purchase { who, order, basket } => {
                let member = m.member_id(m.pick_member(*who));
                let order = format!("O-{order}");
                let expect = m.expect_purchase(&member, &order, basket);
                m.sent_purchases
                    .push((member.clone(), order.clone(), basket.clone()));
                let body = purchase_body(&member, &order, basket);
                (
                    Command::RecordPurchase {
                        program: f.program.clone(),
                        purchase: NewPurchase::parse(&body).unwrap(),
                    },
                    expect,
                )
            }
            Op::RepeatPurchase { pick } => {
                if m.sent_purchases.is_empty() {
                    continue;
                }
                let (member, order, basket) =
                    m.sent_purchases[pick % m.sent_purchases.len()].clone();
                let expect = m.expect_purchase(&member, &order, &basket);
                let body = purchase_body(&member, &order, &basket);
                (
                    Command::RecordPurchase {
                        program: f.program.clone(),
                        purchase: NewPurchase::parse(&body).unwrap(),
                    },
                    expect,
                )
            }
            Op::Return { order, spec } => {
                let (body, expect) = m.expect_return(&m.pick_order(*order), spec);
                (
                    Command::RecordReturn {
                        program: f.program.clone(),
                        ret: NewReturn::parse(&body).unwrap(),
                    },
                    expect,
                )
            }
            Op::Redeem { who, reward } => {
                let slot = m.pick_member(*who);
                let body = json!({"member": {"id": m.member_id(slot)}, "reward_id": m.rewards[*reward].id});
                (
                    Command::Redeem {
                        program: f.program.clone(),
                        request: RedeemRequest::parse(&body).unwrap(),
                    },
                    m.expect_redeem(slot, *reward),
                )
            }
            Op::RedeemAgain => {
                let Some(last) = m.redemptions.last() else {
                    continue;
                };
                let (slot, reward) = (last.slot, last.reward);
                let body = json!({"member": {"id": m.member_id(Some(slot))}, "reward_id": m.rewards[reward].id});
                (
                    Command::Redeem {
                        program: f.program.clone(),
                        request: RedeemRequest::parse(&body).unwrap(),
                    },
                    m.expect_redeem(Some(slot), reward),
                )
            }
            Op::Cancel { pick } => {
                if m.redemptions.is_empty() {
                    (
                        Command::CancelRedemption {
                            redemption: RedemptionId::generate(),
                        },
                        Expect::Refused("redemption not found".into()),
                    )
                } else {
                    let index = pick % m.redemptions.len();
                    let r = &m.redemptions[index];
                    let expect = if r.cancelled {
                        Expect::Refused("redemption_not_cancellable".into())
                    } else {
                        Expect::Cancelled { index }
                    };
                    (
                        Command::CancelRedemption {
                            redemption: r.id.clone(),
                        },
                        expect,
                    )
                }
            }
            Op::Adjust { who, points } => {
                let slot = m.pick_member(*who);
                let request = AdjustmentRequest::parse(
                    &json!({"points": points, "reason": format!("test adjustment at step {step}")}),
                )
                .unwrap();
                (
                    Command::Adjust {
                        member: m.member_id(slot),
                        request,
                    },
                    m.expect_adjust(slot, *points),
                )
            }
        };
        let outcome = send(&f, &key, command.clone()).await?;
        apply(&mut m, &at, &expect, &outcome)?;
        m.last = Some(Last {
            key,
            command,
            outcome,
        });
        check_all(&f, &m, &at).await?;
    }
    Ok(())
}

/// How often each kind of outcome was seen over all cases, so that the test can show it did
/// not merely watch refusals.
static SEEN: Mutex<BTreeMap<String, usize>> = Mutex::new(BTreeMap::new());

fn seen(what: String) {
    *SEEN.lock().unwrap().entry(what).or_default() += 1;
}

/// Compares an outcome with what the model expected and moves the model on.
fn apply(
    m: &mut Model,
    at: &str,
    expect: &Expect,
    outcome: &Result<Value, DomainError>,
) -> Result<(), TestCaseError> {
    seen(match expect {
        Expect::Refused(code) => format!("refused {code}"),
        Expect::Returned {
            taken, reversal, ..
        } if taken < reversal => "returned (partly unrecovered)".into(),
        other => format!("{other:?}")
            .split([' ', '('])
            .next()
            .unwrap_or_default()
            .to_lowercase(),
    });
    let answer = match (expect, outcome) {
        (Expect::Refused(code), Err(e)) => {
            check_eq!(domain_code(e), *code, "{at}: refusal");
            return Ok(());
        }
        (Expect::Refused(code), Ok(v)) => {
            return Err(TestCaseError::fail(format!(
                "{at}: expected {code}, got {v}"
            )));
        }
        (_, Err(e)) => {
            return Err(TestCaseError::fail(format!(
                "{at}: expected {expect:?}, got refusal {e:?}"
            )));
        }
        (_, Ok(v)) => v,
    };
    match expect {
        Expect::Refused(_) => unreachable!(),
        Expect::Enrolled { slot } => {
            let id = MemberId::parse(answer["id"].as_str().unwrap_or_default())
                .map_err(TestCaseError::fail)?;
            check_eq!(
                answer["balance"]["available"],
                json!(0),
                "{at}: a new member has no points"
            );
            m.members[*slot] = Some(MemberState {
                id,
                balance: 0,
                reported: Reported::default(),
            });
        }
        Expect::Earned {
            slot,
            order,
            basket,
            points,
        } => {
            check_eq!(
                int(answer, "/points_earned")?,
                *points,
                "{at}: points earned"
            );
            let member = m.members[*slot].as_mut().unwrap();
            member.balance += points;
            member.reported.earned += int(answer, "/points_earned")?;
            check_eq!(
                int(answer, "/balance/available")?,
                member.balance,
                "{at}: balance in the answer"
            );
            let lines = basket
                .lines()
                .iter()
                .map(|l| OrderLine {
                    sku: SKUS[l.sku],
                    quantity: l.quantity,
                    unit_price_minor: l.unit_price_minor,
                    returned: 0,
                })
                .collect();
            m.orders.insert(
                order.clone(),
                Order {
                    slot: *slot,
                    member: member.id.clone(),
                    basket: basket.clone(),
                    total: basket.total(),
                    earned: *points,
                    reversed: 0,
                    returned_minor: 0,
                    lines,
                    answer: answer.clone(),
                },
            );
        }
        Expect::Replayed(original) => check_eq!(
            answer,
            original,
            "{at}: a repeated purchase gets the original answer"
        ),
        Expect::Returned {
            order,
            amount,
            reversal,
            taken,
            lines,
        } => {
            let o = m.orders.get_mut(order).unwrap();
            check_eq!(
                int(answer, "/returned_minor")?,
                *amount,
                "{at}: amount returned"
            );
            check_eq!(
                int(answer, "/points_reversed")?,
                *taken,
                "{at}: points taken back"
            );
            check_eq!(
                int(answer, "/unrecovered_points")?,
                reversal - taken,
                "{at}: points not recovered"
            );
            o.returned_minor += amount;
            o.reversed += reversal;
            for (n, q) in lines {
                o.lines[*n].returned += q;
            }
            let member = m.members[o.slot].as_mut().unwrap();
            member.balance -= taken;
            member.reported.reversed += int(answer, "/points_reversed")?;
            check_eq!(
                int(answer, "/balance/available")?,
                member.balance,
                "{at}: balance in the answer"
            );
        }
        Expect::Redeemed { slot, reward } => {
            let r = &mut m.rewards[*reward];
            check_eq!(answer["status"], json!("issued"), "{at}: status");
            check_eq!(int(answer, "/cost")?, r.cost, "{at}: cost");
            r.stock = r.stock.map(|s| s - 1);
            let member = m.members[*slot].as_mut().unwrap();
            member.balance -= r.cost;
            member.reported.redeemed += int(answer, "/cost")?;
            check_eq!(
                int(answer, "/balance/available")?,
                member.balance,
                "{at}: balance in the answer"
            );
            let id = RedemptionId::parse(answer["id"].as_str().unwrap_or_default())
                .map_err(TestCaseError::fail)?;
            m.redemptions.push(RedemptionState {
                id,
                slot: *slot,
                reward: *reward,
                cost: r.cost,
                cancelled: false,
            });
        }
        Expect::Cancelled { index } => {
            let r = &mut m.redemptions[*index];
            check_eq!(answer["status"], json!("cancelled"), "{at}: status");
            r.cancelled = true;
            let reward = &mut m.rewards[r.reward];
            reward.stock = reward.stock.map(|s| s + 1);
            let member = m.members[r.slot].as_mut().unwrap();
            member.balance += r.cost;
            member.reported.refunded += int(answer, "/cost")?;
            check_eq!(
                int(answer, "/balance/available")?,
                member.balance,
                "{at}: balance in the answer"
            );
        }
        Expect::Adjusted { slot, points } => {
            check_eq!(int(answer, "/points")?, *points, "{at}: points adjusted");
            let member = m.members[*slot].as_mut().unwrap();
            member.balance += points;
            member.reported.adjusted += int(answer, "/points")?;
            check_eq!(
                int(answer, "/balance/available")?,
                member.balance,
                "{at}: balance in the answer"
            );
        }
    }
    Ok(())
}

/// Everything that must hold after every step, read back from the database.
async fn check_all(f: &Fixture, m: &Model, at: &str) -> Result<(), TestCaseError> {
    let fail = |e: CoreError| TestCaseError::fail(format!("{at}: reading back: {e:?}"));
    let store =
        |e: tally_store::StoreError| TestCaseError::fail(format!("{at}: reading back: {e:?}"));
    let mut c = f.tally.read().await.map_err(fail)?;
    let invariants = tally_core::invariants::check_program(&mut c, &f.program)
        .await
        .map_err(fail)?;
    check_eq!(invariants, Ok(()), "{at}: ledger invariants");

    let (mut outstanding, mut earned, mut reversed, mut redeemed, mut refunded, mut adjusted) =
        (0, 0, 0, 0, 0, 0);
    for (slot, member) in m.members.iter().enumerate() {
        let Some(member) = member else { continue };
        let row = members::get_member(&mut c, &f.tenant, &member.id)
            .await
            .map_err(store)?;
        let balance = row.map(|r| r.balance.available.value());
        check_eq!(
            balance,
            Some(member.balance),
            "{at}: balance of member {slot}"
        );
        check_eq!(
            member.reported.balance(),
            member.balance,
            "{at}: earned − reversed − redeemed + refunded ± adjusted of member {slot}"
        );
        check!(
            !m.setup.floor_at_zero || member.balance >= 0,
            "{at}: member {slot} is negative under floor_at_zero"
        );
        outstanding += member.balance;
        earned += member.reported.earned;
        reversed += member.reported.reversed;
        redeemed += member.reported.redeemed;
        refunded += member.reported.refunded;
        adjusted += member.reported.adjusted;

        // The per-member limit, counted from the redemptions themselves.
        let held = rewards::member_redemptions(&mut c, &member.id, None, Some(200))
            .await
            .map_err(store)?;
        for (i, reward) in m.rewards.iter().enumerate() {
            let live = held
                .items
                .iter()
                .filter(|r| r.reward_id == reward.id && r.status != RedemptionStatus::Cancelled)
                .count() as i64;
            check_eq!(
                live,
                m.claims(slot, i),
                "{at}: live redemptions of reward {i} by member {slot}"
            );
            if let Some(limit) = reward.limit {
                check!(
                    live <= limit,
                    "{at}: member {slot} holds {live} of reward {i}, limit {limit}"
                );
            }
        }
    }
    for (i, reward) in m.rewards.iter().enumerate() {
        let row = rewards::get_reward(&mut c, &f.tenant, &reward.id)
            .await
            .map_err(store)?
            .unwrap();
        check_eq!(
            row.stock_remaining,
            reward.stock,
            "{at}: stock of reward {i}"
        );
        check!(
            row.stock_remaining.is_none_or(|s| s >= 0),
            "{at}: negative stock of reward {i}"
        );
    }
    for (order_id, order) in &m.orders {
        let p = purchases::get_purchase_by_order(&mut c, &f.tenant, &f.program, order_id)
            .await
            .map_err(store)?
            .unwrap();
        check_eq!(
            p.points_earned.value(),
            order.earned,
            "{at}: {order_id} earned"
        );
        check_eq!(
            p.returned_minor,
            order.returned_minor,
            "{at}: {order_id} returned"
        );
        check_eq!(
            p.points_reversed.value(),
            order.reversed,
            "{at}: {order_id} reversed"
        );
        check!(
            p.returned_minor <= p.total_minor,
            "{at}: {order_id} returned more than its total"
        );
        check!(
            p.points_reversed <= p.points_earned,
            "{at}: {order_id} reversed more than it earned"
        );
        let returned: Vec<i64> = p.lines.iter().map(|l| l.returned_quantity).collect();
        let expected: Vec<i64> = order.lines.iter().map(|l| l.returned).collect();
        check_eq!(
            returned,
            expected,
            "{at}: {order_id} returned line quantities"
        );
    }
    drop(c);
    let totals = f
        .tally
        .program_totals(&f.tenant, &f.program)
        .await
        .map_err(fail)?;
    check_eq!(
        totals.members,
        m.members.iter().flatten().count() as i64,
        "{at}: members"
    );
    check_eq!(totals.issued.value(), earned - reversed, "{at}: issued");
    check_eq!(
        totals.redeemed.value(),
        redeemed - refunded,
        "{at}: redeemed"
    );
    check_eq!(totals.adjusted.value(), adjusted, "{at}: adjusted");
    check_eq!(totals.outstanding.value(), outstanding, "{at}: outstanding");
    Ok(())
}

fn cases() -> u32 {
    std::env::var("TALLY_PROPTEST_CASES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(64)
}

#[test]
fn random_histories_keep_the_ledger_and_the_model_in_step() {
    let config = Config {
        cases: cases(),
        failure_persistence: None,
        max_shrink_iters: 512,
        ..Config::default()
    };
    let mut runner = TestRunner::new(config);
    // Sequences of 1 to 39 operations; the first always enrols someone, so that the rest is not
    // mostly refusals for want of a member.
    let ops = prop::collection::vec(op(), 0..39).prop_map(|mut ops| {
        ops.insert(0, Op::Enroll { fresh: true });
        ops
    });
    let strategy = (setup(), ops);
    // One runtime and one database for all cases (and shrinking runs); each case gets its own
    // tenant and program.
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("a runtime");
    let base = rt.block_on(Fixture::new());
    let result = runner.run(&strategy, |(setup, ops)| {
        rt.block_on(run_case(&base, setup, ops))
    });
    rt.block_on(async move { drop(base) });
    if let Err(e) = result {
        panic!("{e}");
    }
    let seen = SEEN.lock().unwrap().clone();
    eprintln!("outcomes over {} cases: {seen:#?}", cases());
    if cases() >= 64 {
        for kind in [
            "enrolled",
            "earned",
            "replayed",
            "returned",
            "redeemed",
            "cancelled",
            "adjusted",
        ] {
            assert!(
                seen.get(kind).is_some_and(|n| *n > 0),
                "no `{kind}` outcome in {} cases: {seen:?}",
                cases()
            );
        }
        for code in [
            "insufficient_points",
            "out_of_stock",
            "limit_reached",
            "already_returned",
            "order_conflict",
            "invalid /amount_minor",
        ] {
            assert!(
                seen.contains_key(&format!("refused {code}")),
                "no `{code}` refusal in {} cases: {seen:?}",
                cases()
            );
        }
    }
}

/// A return naming the same sku twice is refused when it is parsed (like a purchase listing a
/// sku twice), so it never reaches the writer.
#[test]
fn a_return_naming_a_sku_twice_is_refused() {
    let twice = NewReturn::parse(
        &json!({"order_id": "D-1", "lines": [{"sku": "a", "quantity": 1}, {"sku": "a", "quantity": 1}]}),
    );
    match twice {
        Err(tally_domain::DomainError::Invalid { fields }) => {
            assert_eq!(fields[0].pointer, "/lines")
        }
        other => panic!("expected an invalid /lines, got {other:?}"),
    }
}
