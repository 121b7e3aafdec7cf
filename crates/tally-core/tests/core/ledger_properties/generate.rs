//! What is generated: programs, rewards, baskets, returns and operations.

use super::*;

#[derive(Clone, Debug)]
pub(crate) struct RewardSpec {
    pub(crate) cost: i64,
    pub(crate) stock: Option<i64>,
    pub(crate) limit: Option<i64>,
}

#[derive(Clone, Debug)]
pub(crate) struct Setup {
    pub(crate) floor_at_zero: bool,
    /// How many members may be enrolled (3 or 4).
    pub(crate) pool: usize,
    /// Thousandths of a point per dollar.
    pub(crate) rate_milli: i64,
    pub(crate) rounding: &'static str,
    pub(crate) rewards: Vec<RewardSpec>,
    /// Cashback a purchase rule gives, in basis points of the total (0: no cashback rule).
    pub(crate) cashback_bp: i64,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Line {
    pub(crate) sku: usize,
    pub(crate) quantity: i64,
    pub(crate) unit_price_minor: i64,
    /// In the `gift` category, which the program excludes from earning.
    pub(crate) gift: bool,
}

#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Basket {
    /// A total without lines.
    Amount(i64),
    /// Lines, and a total that is their value less a basket discount.
    Lines {
        lines: Vec<Line>,
        discount_permille: i64,
    },
}

impl Basket {
    pub(crate) fn total(&self) -> i64 {
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

    pub(crate) fn lines(&self) -> &[Line] {
        match self {
            Basket::Amount(_) => &[],
            Basket::Lines { lines, .. } => lines,
        }
    }
}

#[derive(Clone, Debug)]
pub(crate) enum ReturnSpec {
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
pub(crate) enum Op {
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
    /// Pays `amount` of a new order from the member's cashback.
    PayCashback {
        who: usize,
        amount: i64,
    },
    /// Gives a payment from cashback back (again, sometimes).
    RefundCashback {
        pick: usize,
    },
    /// Sends the previous command again with its idempotency key: with the same request hash it
    /// must get the same outcome and change nothing; with another hash it must be refused.
    Replay {
        same_request: bool,
    },
}

pub(crate) fn reward_spec() -> impl Strategy<Value = RewardSpec> {
    (
        1i64..=40,
        prop::option::weighted(0.8, 0i64..=4),
        prop::option::weighted(0.8, 1i64..=2),
    )
        .prop_map(|(cost, stock, limit)| RewardSpec { cost, stock, limit })
}

pub(crate) fn setup() -> impl Strategy<Value = Setup> {
    (
        any::<bool>(),
        3usize..=4,
        prop::sample::select(vec![1000i64, 1500, 250]),
        prop::sample::select(vec!["down", "nearest", "up"]),
        prop::collection::vec(reward_spec(), 2),
        prop::sample::select(vec![0i64, 0, 250, 500, 1000]),
    )
        .prop_map(
            |(floor_at_zero, pool, rate_milli, rounding, rewards, cashback_bp)| Setup {
                floor_at_zero,
                pool,
                rate_milli,
                rounding,
                rewards,
                cashback_bp,
            },
        )
}

pub(crate) fn amount() -> impl Strategy<Value = i64> {
    prop_oneof![1 => Just(0i64), 1 => 1i64..100, 6 => 100i64..=20_000]
}

pub(crate) fn basket() -> impl Strategy<Value = Basket> {
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

pub(crate) fn return_spec() -> impl Strategy<Value = ReturnSpec> {
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

pub(crate) fn op() -> impl Strategy<Value = Op> {
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
        2 => (0usize..1000, 1i64..=400).prop_map(|(who, amount)| Op::PayCashback { who, amount }),
        1 => (0usize..1000).prop_map(|pick| Op::RefundCashback { pick }),
    ]
}
