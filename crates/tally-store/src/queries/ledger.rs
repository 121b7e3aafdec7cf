//! Accounts and transfers. Member balances change only together with a transfer, in the same
//! transaction; spending is a conditional write, so two concurrent redemptions can never both
//! spend the same points.

use super::{Page, json, page_limit, to_json, to_ts, ts};
use crate::{Conn, StoreError, Value};
use std::collections::HashMap;
use tally_domain::ids::{MemberId, ProgramId, TransferId};
use tally_domain::model::{BalanceKind, HistoryEntry, TransferKind, TransferReason};
use tally_domain::{Points, Timestamp};
use tally_ledger::AccountKind;

/// A transfer about to be written.
#[derive(Clone, Debug)]
pub struct NewTransfer<'a> {
    pub id: TransferId,
    pub program_id: &'a ProgramId,
    pub member_id: &'a MemberId,
    pub kind: TransferKind,
    pub debit_account_id: &'a str,
    pub credit_account_id: &'a str,
    pub amount: Points,
    /// The member's available balance after this transfer, for history.
    pub balance_after: Points,
    pub reason: &'a TransferReason,
    pub occurred_at: Timestamp,
    pub recorded_at: Timestamp,
}

/// Inserts a transfer; gathered (see `Conn::gather_rows`): nothing reads its answer, and a
/// failure fails the command.
pub async fn insert_transfer<C: Conn>(c: &mut C, t: &NewTransfer<'_>) -> Result<(), StoreError> {
    insert_transfers(c, std::slice::from_ref(t)).await
}

/// Rows per multi-row statement: far below SQLite's 32,766 and PostgreSQL's 65,535 parameters.
const ROWS_PER_STATEMENT: usize = 200;

/// Inserts transfers through `Conn::gather_rows`: gathered with the rows of the writes that
/// follow, or on PostgreSQL a `COPY` for an import's many.
pub async fn insert_transfers<C: Conn>(
    c: &mut C,
    transfers: &[NewTransfer<'_>],
) -> Result<(), StoreError> {
    const COLUMNS: [&str; 11] = [
        "id",
        "program_id",
        "member_id",
        "kind",
        "debit_account_id",
        "credit_account_id",
        "amount",
        "balance_after",
        "reason",
        "occurred_at_us",
        "recorded_at_us",
    ];
    let mut values: Vec<Value> = Vec::with_capacity(transfers.len() * COLUMNS.len());
    for t in transfers {
        assert!(t.amount.is_positive(), "a transfer moves a positive amount");
        values.extend([
            t.id.as_str().into(),
            t.program_id.as_str().into(),
            t.member_id.as_str().into(),
            t.kind.as_str().into(),
            t.debit_account_id.into(),
            t.credit_account_id.into(),
            t.amount.value().into(),
            t.balance_after.value().into(),
            to_json(t.reason),
            ts(t.occurred_at),
            ts(t.recorded_at),
        ]);
    }
    c.gather_rows("transfers", &COLUMNS, &values).await
}

/// A member account's cached balance (program accounts keep none).
static MEMBER_BALANCE: crate::Addition = crate::Addition {
    table: "accounts",
    key: "id",
    column: "balance",
};

/// Adds a delta to each of many member accounts (sorted by id) and returns their new balances.
/// The rows stay locked until the transaction ends; on PostgreSQL they are locked first, in id
/// order, so two callers whose accounts overlap wait for each other instead of deadlocking, and
/// the deltas are joined to the accounts (`UPDATE … FROM (VALUES …)`), a few statements in all
/// (a `CASE` over the ids compared each row with every id of its statement). SQLite, whose
/// writer holds the whole database, updates and reads one account at a time through two cached
/// statements: the join built a table of its values and an index of its keys each time, and an
/// `UPDATE … RETURNING` per account was slower still (SQLite keeps returned rows in a table of
/// their own until the statement ends).
pub async fn add_to_balances<C: Conn>(
    c: &mut C,
    deltas: &[(String, i64)],
) -> Result<HashMap<String, Points>, StoreError> {
    debug_assert!(deltas.is_sorted(), "accounts are locked in id order");
    match c.dialect() {
        crate::Dialect::Sqlite => add_one_at_a_time(c, deltas).await,
        crate::Dialect::Postgres => add_joined(c, deltas).await,
    }
}

/// SQLite's [`add_to_balances`].
async fn add_one_at_a_time<C: Conn>(
    c: &mut C,
    deltas: &[(String, i64)],
) -> Result<HashMap<String, Points>, StoreError> {
    let add = MEMBER_BALANCE.one_row();
    let mut balances = HashMap::with_capacity(deltas.len());
    for (id, delta) in deltas {
        c.execute(&add, &[id.as_str().into(), (*delta).into()])
            .await?;
        let row = c
            .query_one(
                "SELECT balance FROM accounts WHERE id = $1 AND balance IS NOT NULL",
                &[id.as_str().into()],
            )
            .await?;
        if let Some(r) = row {
            balances.insert(id.clone(), Points(r.int(0)?));
        }
    }
    Ok(balances)
}

/// PostgreSQL's [`add_to_balances`]: the accounts locked in id order, then the deltas joined.
async fn add_joined<C: Conn>(
    c: &mut C,
    deltas: &[(String, i64)],
) -> Result<HashMap<String, Points>, StoreError> {
    for chunk in deltas.chunks(ROWS_PER_STATEMENT) {
        let sql = format!(
            "SELECT id FROM accounts WHERE id IN ({}) ORDER BY id FOR NO KEY UPDATE",
            super::placeholders(1, chunk.len())
        );
        let ids: Vec<Value> = chunk.iter().map(|(id, _)| id.as_str().into()).collect();
        c.execute_later(&sql, &ids).await?;
    }
    let mut balances = HashMap::with_capacity(deltas.len());
    for chunk in deltas.chunks(ROWS_PER_STATEMENT) {
        let mut sql = String::from(
            "UPDATE accounts SET balance = accounts.balance + d.column2 FROM (VALUES ",
        );
        let mut params: Vec<Value> = Vec::with_capacity(chunk.len() * 2);
        for (i, (id, delta)) in chunk.iter().enumerate() {
            let n = params.len();
            let comma = if i == 0 { "" } else { ", " };
            sql.push_str(&format!("{comma}(${}, CAST(${} AS BIGINT))", n + 1, n + 2));
            params.push(id.as_str().into());
            params.push((*delta).into());
        }
        // The `IN` list (the same parameters again) lets PostgreSQL find the accounts by their
        // key instead of scanning the whole table for its hash join.
        let ids: Vec<String> = (0..chunk.len())
            .map(|i| format!("${}", 2 * i + 1))
            .collect();
        sql.push_str(&format!(
            ") AS d WHERE accounts.id = d.column1 AND accounts.id IN ({}) \
             AND accounts.balance IS NOT NULL RETURNING accounts.id, accounts.balance",
            ids.join(", ")
        ));
        for r in c.query(&sql, &params).await? {
            balances.insert(r.text(0)?, Points(r.int(1)?));
        }
    }
    Ok(balances)
}

/// Adds to a member account (a negative `delta` takes away unconditionally, as a return under
/// the `allow_negative` policy does). Returns the new balance.
pub async fn change_balance<C: Conn>(
    c: &mut C,
    account_id: &str,
    delta: i64,
) -> Result<Points, StoreError> {
    let row = c
        .query_one("UPDATE accounts SET balance = balance + $2 WHERE id = $1 AND balance IS NOT NULL RETURNING balance", &[
            account_id.into(),
            delta.into(),
        ])
        .await?
        .ok_or_else(|| StoreError::Decode(format!("no member account {account_id}")))?;
    Ok(Points(row.int(0)?))
}

/// Adds `delta` to a member account whose row the caller has locked and whose balance it knows:
/// gathered (see `Conn::gather_addition`), since nobody needs its answer.
pub async fn add_to_balance<C: Conn>(
    c: &mut C,
    account_id: &str,
    delta: i64,
) -> Result<(), StoreError> {
    c.gather_addition(&MEMBER_BALANCE, account_id, delta).await
}

/// Reads a member account's balance and locks the row until the transaction ends (a no-op
/// update: PostgreSQL waits for concurrent writers and returns the latest committed balance).
/// For decisions that depend on the balance but are not a single conditional write.
pub async fn lock_balance<C: Conn>(c: &mut C, account_id: &str) -> Result<Points, StoreError> {
    let row = c
        .query_one("UPDATE accounts SET balance = balance WHERE id = $1 AND balance IS NOT NULL RETURNING balance", &[account_id.into()])
        .await?
        .ok_or_else(|| StoreError::Decode(format!("no member account {account_id}")))?;
    Ok(Points(row.int(0)?))
}

/// Takes `amount` from a member account only if the balance covers it. `None`: it does not.
/// This single statement is what keeps 50 concurrent redemptions of the same points honest.
pub async fn spend_if_covered<C: Conn>(
    c: &mut C,
    account_id: &str,
    amount: Points,
) -> Result<Option<Points>, StoreError> {
    let row = c
        .query_one("UPDATE accounts SET balance = balance - $2 WHERE id = $1 AND balance >= $2 RETURNING balance", &[
            account_id.into(),
            amount.value().into(),
        ])
        .await?;
    row.map(|r| Ok(Points(r.int(0)?))).transpose()
}

/// The member's points history, newest first (cashback has its own: `queries::cashback`).
pub async fn history<C: Conn>(
    c: &mut C,
    member: &MemberId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<HistoryEntry>, StoreError> {
    let limit = page_limit(limit);
    let available = tally_ledger::account_id(member.as_str(), AccountKind::MemberAvailable);
    let pending = tally_ledger::account_id(member.as_str(), AccountKind::MemberPending);
    // Newest first: a cursor walks back in time.
    let rows = c
        .query(
            "SELECT t.seq, t.id, t.kind, t.amount, t.balance_after, t.reason, t.occurred_at_us, t.credit_account_id, t.debit_account_id
             FROM transfers t
             WHERE t.member_id = $1 AND t.seq < $2
               AND t.kind NOT IN ('cashback_earn', 'cashback_reverse', 'cashback_spend',
                                  'cashback_refund')
             ORDER BY t.seq DESC LIMIT $3",
            &[
                member.as_str().into(),
                after_seq.unwrap_or(i64::MAX).into(),
                (limit + 1).into(),
            ],
        )
        .await?;
    let entries = rows
        .iter()
        .map(|r| {
            let kind = TransferKind::parse(&r.text(2)?)
                .ok_or_else(|| StoreError::Decode("transfer kind".into()))?;
            let amount = r.int(3)?;
            // Seen from the balance that changed: the available one, unless the transfer went
            // in or out of pending only (a release credits available).
            let (credit, debit) = (r.text(7)?, r.text(8)?);
            let (balance, credited) = if credit == available {
                (BalanceKind::Available, true)
            } else if debit == available {
                (BalanceKind::Available, false)
            } else {
                (BalanceKind::Pending, credit == pending)
            };
            let reason: TransferReason = json(&r.text(5)?)?;
            Ok((
                r.int(0)?,
                HistoryEntry {
                    transfer_id: TransferId::from_trusted(r.text(1)?),
                    kind,
                    points: Points(if credited { amount } else { -amount }),
                    balance,
                    balance_after: Points(r.int(4)?),
                    reason,
                    occurred_at: to_ts(r.int(6)?)?,
                },
            ))
        })
        .collect::<Result<Vec<_>, StoreError>>()?;
    Ok(Page::from_rows(entries, limit))
}

/// Every account of a program: (id, cached balance if a member account).
pub async fn all_accounts<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<(String, Option<i64>)>, StoreError> {
    c.query(
        "SELECT id, balance FROM accounts WHERE program_id = $1",
        &[program.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| Ok((r.text(0)?, r.opt_int(1)?)))
    .collect()
}

/// Every transfer of a program: (debit account, credit account, amount).
pub async fn all_transfers<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Vec<(String, String, i64)>, StoreError> {
    c.query("SELECT debit_account_id, credit_account_id, amount FROM transfers WHERE program_id = $1 ORDER BY seq", &[
        Value::from(program.as_str()),
    ])
    .await?
    .iter()
    .map(|r| Ok((r.text(0)?, r.text(1)?, r.int(2)?)))
    .collect()
}

/// A transfer as the ledger export shows it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct ExportedTransfer {
    pub seq: i64,
    pub id: String,
    pub member_id: String,
    pub kind: String,
    pub debit_account_id: String,
    pub credit_account_id: String,
    pub amount: i64,
    pub balance_after: i64,
    pub reason: String,
    pub occurred_at: Timestamp,
}

/// A program's transfers in order, `limit` at a time after `after_seq`.
pub async fn export_transfers<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    after_seq: i64,
    limit: i64,
) -> Result<Vec<ExportedTransfer>, StoreError> {
    c.query(
        "SELECT seq, id, member_id, kind, debit_account_id, credit_account_id, amount, balance_after, reason, occurred_at_us
         FROM transfers WHERE program_id = $1 AND seq > $2 ORDER BY seq LIMIT $3",
        &[program.as_str().into(), after_seq.into(), limit.into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(ExportedTransfer {
            seq: r.int(0)?,
            id: r.text(1)?,
            member_id: r.text(2)?,
            kind: r.text(3)?,
            debit_account_id: r.text(4)?,
            credit_account_id: r.text(5)?,
            amount: r.int(6)?,
            balance_after: r.int(7)?,
            reason: r.text(8)?,
            occurred_at: to_ts(r.int(9)?)?,
        })
    })
    .collect()
}
