//! The model: what the rules say each operation should answer and leave behind.

use super::*;

/// What the answers said happened to a member, summed.
#[derive(Clone, Debug, Default)]
pub(crate) struct Reported {
    pub(crate) earned: i64,
    pub(crate) reversed: i64,
    pub(crate) redeemed: i64,
    pub(crate) refunded: i64,
    pub(crate) adjusted: i64,
}

impl Reported {
    pub(crate) fn balance(&self) -> i64 {
        self.earned - self.reversed - self.redeemed + self.refunded + self.adjusted
    }
}

#[derive(Clone, Debug)]
pub(crate) struct MemberState {
    pub(crate) id: MemberId,
    /// The balance the model predicts.
    pub(crate) balance: i64,
    /// What the answers reported.
    pub(crate) reported: Reported,
    /// The cashback the model predicts, in minor units.
    pub(crate) cashback: i64,
}

#[derive(Clone, Debug)]
pub(crate) struct OrderLine {
    pub(crate) sku: &'static str,
    pub(crate) quantity: i64,
    pub(crate) unit_price_minor: i64,
    pub(crate) returned: i64,
}

#[derive(Clone, Debug)]
pub(crate) struct Order {
    pub(crate) slot: usize,
    pub(crate) member: MemberId,
    pub(crate) basket: Basket,
    pub(crate) total: i64,
    pub(crate) earned: i64,
    /// Cumulative points the returns took back by the proportional rule (including what
    /// `floor_at_zero` could not recover).
    pub(crate) reversed: i64,
    pub(crate) returned_minor: i64,
    pub(crate) lines: Vec<OrderLine>,
    pub(crate) answer: Value,
    /// Cashback the purchase earned, and what its returns took back by the proportional rule.
    pub(crate) cashback_earned: i64,
    pub(crate) cashback_reversed: i64,
}

/// A payment from cashback.
#[derive(Clone, Debug)]
pub(crate) struct PaymentState {
    pub(crate) order: String,
    pub(crate) slot: usize,
    pub(crate) amount: i64,
    pub(crate) refunded: bool,
}

#[derive(Clone, Debug)]
pub(crate) struct RewardState {
    pub(crate) id: RewardId,
    pub(crate) cost: i64,
    pub(crate) stock: Option<i64>,
    pub(crate) limit: Option<i64>,
}

#[derive(Clone, Debug)]
pub(crate) struct RedemptionState {
    pub(crate) id: RedemptionId,
    pub(crate) slot: usize,
    pub(crate) reward: usize,
    pub(crate) cost: i64,
    pub(crate) cancelled: bool,
}

/// The last command sent, to replay it.
pub(crate) struct Last {
    pub(crate) key: IdempotencyKey,
    pub(crate) command: Command,
    pub(crate) outcome: Result<Value, DomainError>,
}

pub(crate) struct Model {
    pub(crate) setup: Setup,
    pub(crate) members: Vec<Option<MemberState>>,
    pub(crate) rewards: Vec<RewardState>,
    pub(crate) orders: BTreeMap<String, Order>,
    pub(crate) redemptions: Vec<RedemptionState>,
    /// Every purchase request sent: (member named, order id, basket).
    pub(crate) sent_purchases: Vec<(MemberId, String, Basket)>,
    pub(crate) payments: Vec<PaymentState>,
    pub(crate) last: Option<Last>,
}

impl Model {
    pub(crate) fn member(&self, slot: usize) -> Option<&MemberState> {
        self.members.get(slot).and_then(Option::as_ref)
    }

    /// The member slot `who` picks, or `None` for a member that does not exist.
    pub(crate) fn pick_member(&self, who: usize) -> Option<usize> {
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
    pub(crate) fn member_id(&self, slot: Option<usize>) -> MemberId {
        slot.and_then(|s| self.member(s))
            .map_or_else(MemberId::generate, |m| m.id.clone())
    }

    /// The order id `pick` picks: usually one recorded, sometimes any id of the pool (recorded
    /// or not).
    pub(crate) fn pick_order(&self, pick: usize) -> String {
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

    pub(crate) fn slot_of(&self, id: &MemberId) -> Option<usize> {
        self.members
            .iter()
            .position(|m| m.as_ref().is_some_and(|m| &m.id == id))
    }

    pub(crate) fn claims(&self, slot: usize, reward: usize) -> i64 {
        self.redemptions
            .iter()
            .filter(|r| r.slot == slot && r.reward == reward && !r.cancelled)
            .count() as i64
    }

    /// Base earning, computed independently of the engine: the eligible share of the total
    /// (gift lines excluded, shared out by line value), at the program's rate and rounding.
    pub(crate) fn points_for(&self, basket: &Basket) -> i64 {
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
pub(crate) fn reversal_of(earned: i64, already: i64, total: i64, returned_after: i64) -> i64 {
    if total <= 0 || earned <= 0 {
        return 0;
    }
    let after =
        i64::try_from(i128::from(earned) * i128::from(returned_after) / i128::from(total)).unwrap();
    (after - already).max(0)
}

/// What the model expects a command to do.
#[derive(Debug)]
pub(crate) enum Expect {
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
    PaidCashback {
        slot: usize,
        order: String,
        amount: i64,
    },
    /// A refund of payment `index`; a payment refunded before answers the same again.
    RefundedCashback {
        index: usize,
    },
}

pub(crate) fn purchase_body(member: &MemberId, order: &str, basket: &Basket) -> Value {
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
    pub(crate) fn expect_purchase(
        &self,
        member: &MemberId,
        order: &str,
        basket: &Basket,
    ) -> Expect {
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

    pub(crate) fn expect_return(&self, order_id: &str, spec: &ReturnSpec) -> (Value, Expect) {
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
        let reversal = reversal_of(
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

    pub(crate) fn expect_redeem(&self, slot: Option<usize>, reward: usize) -> Expect {
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

    /// Cashback the rule gives for a purchase: its share of the total, rounded down.
    pub(crate) fn cashback_for(&self, total: i64) -> i64 {
        total.max(0) * self.setup.cashback_bp / 10_000
    }

    pub(crate) fn expect_pay(&self, slot: Option<usize>, order: &str, amount: i64) -> Expect {
        let Some((slot, member)) = slot.and_then(|s| Some((s, self.member(s)?))) else {
            return Expect::Refused("invalid /member/id".into());
        };
        if member.cashback < amount {
            return Expect::Refused("insufficient_cashback".into());
        }
        Expect::PaidCashback {
            slot,
            order: order.to_owned(),
            amount,
        }
    }

    pub(crate) fn expect_adjust(&self, slot: Option<usize>, points: i64) -> Expect {
        let Some((slot, member)) = slot.and_then(|s| Some((s, self.member(s)?))) else {
            return Expect::Refused("member not found".into());
        };
        if points < 0 && self.setup.floor_at_zero && member.balance < -points {
            return Expect::Refused("insufficient_points".into());
        }
        Expect::Adjusted { slot, points }
    }
}
