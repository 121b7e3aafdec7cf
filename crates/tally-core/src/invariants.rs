//! Checks the ledger invariants of a program against the database: every transfer balances,
//! all accounts sum to zero, and every cached member balance equals the sum of its transfers.
//! Used by the tests after every step, and available to operators as an audit.

use crate::CoreError;
use tally_domain::ids::ProgramId;
use tally_ledger::{AccountKind, CachedAccount, Movement, Violation, check_invariants};
use tally_store::Conn;
use tally_store::queries::ledger;

pub async fn check_program<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Result<(), Violation<usize>>, CoreError> {
    let accounts = ledger::all_accounts(c, program).await?;
    let transfers = ledger::all_transfers(c, program).await?;
    // Index accounts so the checker works on small copyable ids.
    let index: std::collections::HashMap<&str, usize> = accounts
        .iter()
        .enumerate()
        .map(|(i, (id, _))| (id.as_str(), i))
        .collect();
    let unknown = accounts.len();
    let position = |id: &str| index.get(id).copied().unwrap_or(unknown);
    // Points and cashback are two ledgers in one table: each must balance on its own, and a
    // transfer that crossed from one to the other shows as an unknown account in both.
    let is_cashback = |i: usize| {
        accounts.get(i).is_some_and(|(id, _)| {
            id.rsplit(':')
                .next()
                .and_then(AccountKind::parse)
                .is_some_and(AccountKind::is_cashback)
        })
    };
    for cashback in [false, true] {
        let cached: Vec<CachedAccount<usize>> = accounts
            .iter()
            .enumerate()
            .filter(|(i, _)| is_cashback(*i) == cashback)
            .map(|(i, (_, balance))| CachedAccount {
                id: i,
                cached_balance: *balance,
            })
            .collect();
        let movements: Vec<Movement<usize>> = transfers
            .iter()
            .map(|(debit, credit, amount)| Movement {
                debit: position(debit),
                credit: position(credit),
                amount: *amount,
            })
            .filter(|m| {
                [m.debit, m.credit]
                    .into_iter()
                    .any(|a| a != unknown && is_cashback(a) == cashback)
                    || (m.debit == unknown && m.credit == unknown && !cashback)
            })
            .collect();
        if let Err(v) = check_invariants(&cached, &movements) {
            return Ok(Err(v));
        }
    }
    Ok(Ok(()))
}

/// For a program whose points expire: members whose open lots do not add up to their positive
/// available balance, as `(member, lots, balance)`. Empty when all is well (or nothing expires).
pub async fn check_lots<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<(String, i64, i64)>, CoreError> {
    match tally_store::queries::lots::get_policy(c, program).await? {
        Some(policy) if !policy.is_never() => {
            Ok(tally_store::queries::lots::mismatches(c, program).await?)
        }
        _ => Ok(Vec::new()),
    }
}

/// Members whose pending rows (one per purchase inside its return window) do not add up to
/// their pending balance, as `(member, rows, balance)`. Empty when all is well.
pub async fn check_pending<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<(String, i64, i64)>, CoreError> {
    Ok(tally_store::queries::pending::mismatches(c, program).await?)
}
