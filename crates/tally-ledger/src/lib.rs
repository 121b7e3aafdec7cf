//! The double-entry points ledger, as pure rules.
//!
//! Every change of points is a **transfer** of a positive amount from one account (debited) to
//! another (credited). Transfers are immutable: a mistake is fixed by another transfer. An
//! account's balance is credits minus debits, so the sum over all accounts is zero by
//! construction and every transfer balances.
//!
//! Members' accounts keep a cached balance (read on every request, and the target of the
//! conditional write that makes spending safe). The program's own accounts — issuance,
//! redemptions, breakage, adjustments — keep **no** cached balance: every purchase would otherwise
//! lock the one issuance row and serialise the whole program. Their balances are sums of
//! transfers, computed when asked.

use tally_domain::Points;
use tally_domain::model::TransferKind;

/// The kinds of account a program has. Member kinds exist once per member, the rest once per
/// program.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AccountKind {
    /// Points a member can spend.
    MemberAvailable,
    /// Points earned but not yet spendable (inside a return window).
    MemberPending,
    /// The source of every point a program issues. Its balance is minus everything issued.
    Issuance,
    /// Where redeemed points go.
    Redemptions,
    /// Where expired points go.
    Breakage,
    /// The counter-account of manual adjustments.
    Adjustments,
    /// Where points members give to a charity go.
    Donations,
    /// A member's cashback: money in minor units of the program's currency (a second wallet).
    MemberCashback,
    /// The source of every cashback the program gives: minus everything given.
    CashbackIssuance,
    /// Where cashback members pay with goes.
    CashbackSpent,
}

impl AccountKind {
    pub const ALL: [AccountKind; 10] = [
        AccountKind::MemberAvailable,
        AccountKind::MemberPending,
        AccountKind::Issuance,
        AccountKind::Redemptions,
        AccountKind::Breakage,
        AccountKind::Adjustments,
        AccountKind::Donations,
        AccountKind::MemberCashback,
        AccountKind::CashbackIssuance,
        AccountKind::CashbackSpent,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            AccountKind::MemberAvailable => "member_available",
            AccountKind::MemberPending => "member_pending",
            AccountKind::Issuance => "issuance",
            AccountKind::Redemptions => "redemptions",
            AccountKind::Breakage => "breakage",
            AccountKind::Adjustments => "adjustments",
            AccountKind::Donations => "donations",
            AccountKind::MemberCashback => "member_cashback",
            AccountKind::CashbackIssuance => "cashback_issuance",
            AccountKind::CashbackSpent => "cashback_spent",
        }
    }

    pub fn parse(raw: &str) -> Option<AccountKind> {
        AccountKind::ALL.into_iter().find(|k| k.as_str() == raw)
    }

    /// Whether the account belongs to a member (and so keeps a cached balance).
    pub fn is_member(self) -> bool {
        matches!(
            self,
            AccountKind::MemberAvailable | AccountKind::MemberPending | AccountKind::MemberCashback
        )
    }

    /// Whether the account holds cashback (money in minor units) rather than points. The two
    /// never meet in one transfer, and each sums to zero on its own.
    pub fn is_cashback(self) -> bool {
        matches!(
            self,
            AccountKind::MemberCashback
                | AccountKind::CashbackIssuance
                | AccountKind::CashbackSpent
        )
    }
}

/// The id of an owner's account of one kind: `mem_…:member_available`, `prg_…:issuance`.
/// Derived, not looked up: a posting needs no query to find its accounts.
pub fn account_id(owner: &str, kind: AccountKind) -> String {
    format!("{owner}:{}", kind.as_str())
}

/// Which of the member's accounts a kind of transfer moves (`member_available` for points,
/// `member_cashback` for cashback), its counterpart (a program account, except for `release`,
/// whose counterpart is the member's pending account), and whether the member's account is
/// credited (value comes in) or debited (value goes out).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Direction {
    pub member: AccountKind,
    pub counterpart: AccountKind,
    pub member_credited: bool,
}

/// The one table of how each kind of transfer moves points. A positive adjustment credits the
/// member from the adjustments account; a negative one goes the other way.
pub fn direction(kind: TransferKind, adjustment_positive: bool) -> Direction {
    let (counterpart, member_credited) = match kind {
        TransferKind::Earn => (AccountKind::Issuance, true),
        TransferKind::Reverse => (AccountKind::Issuance, false),
        TransferKind::Redeem => (AccountKind::Redemptions, false),
        TransferKind::Refund => (AccountKind::Redemptions, true),
        TransferKind::Expire => (AccountKind::Breakage, false),
        TransferKind::Adjust => (AccountKind::Adjustments, adjustment_positive),
        // The one kind between two accounts of the member: available is credited from pending.
        TransferKind::Release => (AccountKind::MemberPending, true),
        TransferKind::Donate => (AccountKind::Donations, false),
        TransferKind::CashbackEarn => (AccountKind::CashbackIssuance, true),
        TransferKind::CashbackReverse => (AccountKind::CashbackIssuance, false),
        TransferKind::CashbackSpend => (AccountKind::CashbackSpent, false),
        TransferKind::CashbackRefund => (AccountKind::CashbackSpent, true),
    };
    let member = if kind.is_cashback() {
        AccountKind::MemberCashback
    } else {
        AccountKind::MemberAvailable
    };
    Direction {
        member,
        counterpart,
        member_credited,
    }
}

/// Points to take back for a return, computed on cumulative amounts so that rounding never adds
/// up to more than was earned, and a full return takes back exactly everything:
/// `reversed_after = earned × returned_after ÷ total` (rounded down), minus what earlier returns
/// already took.
pub fn reversal_for_return(
    earned: Points,
    already_reversed: Points,
    total_minor: i64,
    returned_after_minor: i64,
) -> Points {
    assert!(
        returned_after_minor <= total_minor,
        "cannot return more than the order total"
    );
    if total_minor <= 0 || earned.value() <= 0 {
        return Points::ZERO;
    }
    let reversed_after =
        i128::from(earned.value()) * i128::from(returned_after_minor) / i128::from(total_minor);
    let reversed_after = Points(i64::try_from(reversed_after).expect("at most earned"));
    if reversed_after > already_reversed {
        reversed_after - already_reversed
    } else {
        Points::ZERO
    }
}

/// A transfer as the invariant checker sees it.
#[derive(Clone, Copy, Debug)]
pub struct Movement<A> {
    pub debit: A,
    pub credit: A,
    pub amount: i64,
}

/// An account as the invariant checker sees it: its id and, for member accounts, the cached
/// balance.
#[derive(Clone, Copy, Debug)]
pub struct CachedAccount<A> {
    pub id: A,
    pub cached_balance: Option<i64>,
}

/// A broken ledger invariant. Any of these is a bug; the checker exists to find them in tests
/// and in `tally audit`-style checks on a live database.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Violation<A> {
    NonPositiveAmount {
        debit: A,
        credit: A,
        amount: i64,
    },
    SameAccount {
        account: A,
    },
    UnknownAccount {
        account: A,
    },
    CachedBalanceMismatch {
        account: A,
        cached: i64,
        from_transfers: i64,
    },
    NonZeroSum {
        sum: i128,
    },
}

/// Checks every ledger invariant over a complete set of accounts and transfers:
/// each transfer moves a positive amount between two different known accounts (so it balances),
/// all balances sum to zero, and each cached balance equals the sum of its transfers.
pub fn check_invariants<A: Copy + Eq + std::hash::Hash>(
    accounts: &[CachedAccount<A>],
    transfers: &[Movement<A>],
) -> Result<(), Violation<A>> {
    use std::collections::HashMap;
    let mut balances: HashMap<A, i128> = accounts.iter().map(|a| (a.id, 0)).collect();
    for t in transfers {
        if t.amount <= 0 {
            return Err(Violation::NonPositiveAmount {
                debit: t.debit,
                credit: t.credit,
                amount: t.amount,
            });
        }
        if t.debit == t.credit {
            return Err(Violation::SameAccount { account: t.debit });
        }
        for account in [t.debit, t.credit] {
            if !balances.contains_key(&account) {
                return Err(Violation::UnknownAccount { account });
            }
        }
        *balances.get_mut(&t.debit).expect("checked") -= i128::from(t.amount);
        *balances.get_mut(&t.credit).expect("checked") += i128::from(t.amount);
    }
    for account in accounts {
        if let Some(cached) = account.cached_balance {
            let from_transfers = balances[&account.id];
            if i128::from(cached) != from_transfers {
                return Err(Violation::CachedBalanceMismatch {
                    account: account.id,
                    cached,
                    from_transfers: i64::try_from(from_transfers).unwrap_or(i64::MAX),
                });
            }
        }
    }
    let sum: i128 = balances.values().sum();
    if sum != 0 {
        return Err(Violation::NonZeroSum { sum });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn partial_returns_never_take_back_more_than_earned() {
        // 3 equal returns of a 100.00 order that earned 10 points: 3 + 3 + 4.
        let earned = Points(10);
        let mut reversed = Points::ZERO;
        let mut steps = Vec::new();
        for returned_after in [3333, 6666, 10_000] {
            let step = reversal_for_return(earned, reversed, 10_000, returned_after);
            reversed = reversed + step;
            steps.push(step.value());
        }
        assert_eq!(steps, [3, 3, 4]);
        assert_eq!(reversed, earned);
    }

    #[test]
    fn a_repeated_return_of_the_same_amount_takes_nothing() {
        assert_eq!(
            reversal_for_return(Points(10), Points(5), 100, 50),
            Points::ZERO
        );
    }

    #[test]
    fn every_kind_but_release_moves_between_a_member_and_one_program_account() {
        for kind in TransferKind::ALL {
            let d = direction(kind, true);
            assert_eq!(
                d.counterpart.is_member(),
                kind == TransferKind::Release,
                "{kind:?}"
            );
        }
        let release = direction(TransferKind::Release, false);
        assert_eq!(release.counterpart, AccountKind::MemberPending);
        assert!(release.member_credited);
        assert!(direction(TransferKind::Earn, true).member_credited);
        assert!(!direction(TransferKind::Redeem, true).member_credited);
        assert!(!direction(TransferKind::Adjust, false).member_credited);
    }

    #[test]
    fn cashback_and_points_never_meet_in_one_transfer() {
        for kind in TransferKind::ALL {
            let d = direction(kind, true);
            assert_eq!(d.member.is_cashback(), kind.is_cashback(), "{kind:?}");
            assert_eq!(d.counterpart.is_cashback(), kind.is_cashback(), "{kind:?}");
        }
    }

    #[test]
    fn the_checker_finds_each_kind_of_violation() {
        let accounts = [
            CachedAccount {
                id: 1,
                cached_balance: Some(5),
            },
            CachedAccount {
                id: 2,
                cached_balance: None,
            },
        ];
        let good = [Movement {
            debit: 2,
            credit: 1,
            amount: 5,
        }];
        assert_eq!(check_invariants(&accounts, &good), Ok(()));
        let wrong_cache = [Movement {
            debit: 2,
            credit: 1,
            amount: 4,
        }];
        assert!(matches!(
            check_invariants(&accounts, &wrong_cache),
            Err(Violation::CachedBalanceMismatch { .. })
        ));
        let negative = [Movement {
            debit: 2,
            credit: 1,
            amount: -5,
        }];
        assert!(matches!(
            check_invariants(&accounts, &negative),
            Err(Violation::NonPositiveAmount { .. })
        ));
        let unknown = [Movement {
            debit: 3,
            credit: 1,
            amount: 5,
        }];
        assert!(matches!(
            check_invariants(&accounts, &unknown),
            Err(Violation::UnknownAccount { .. })
        ));
    }
}
