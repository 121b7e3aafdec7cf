//! Checks the ledger invariants of a program against the database: every transfer balances,
//! all accounts sum to zero, and every cached member balance equals the sum of its transfers.
//! Used by the tests after every step, and available to operators as an audit.

use crate::CoreError;
use tally_domain::ids::ProgramId;
use tally_ledger::{CachedAccount, Movement, Violation, check_invariants};
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
    let cached: Vec<CachedAccount<usize>> = accounts
        .iter()
        .enumerate()
        .map(|(i, (_, balance))| CachedAccount {
            id: i,
            cached_balance: *balance,
        })
        .collect();
    let unknown = accounts.len();
    let movements: Vec<Movement<usize>> = transfers
        .iter()
        .map(|(debit, credit, amount)| Movement {
            debit: index.get(debit.as_str()).copied().unwrap_or(unknown),
            credit: index.get(credit.as_str()).copied().unwrap_or(unknown),
            amount: *amount,
        })
        .collect();
    Ok(check_invariants(&cached, &movements))
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
