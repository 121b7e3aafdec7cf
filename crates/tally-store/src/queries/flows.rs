//! A program's totals per kind of transfer: points credited to members and points credited to the
//! program. Read as a snapshot (`program_flow_totals`, up to a transfer `seq`) plus the transfers
//! after it, so the dashboard and `/totals` cost the same however long the history is.
//!
//! Housekeeping advances the snapshot ([`advance`]) over transfers recorded before a safety
//! margin: on PostgreSQL, sequence numbers are handed out before commit, so a transfer with a
//! lower `seq` may become visible after a higher one; the snapshot only ever covers an unbroken
//! run of old transfers, and anything after it is summed at read time.

use super::programs::lock_program;
use super::ts;
use crate::{Conn, Row, StoreError};
use std::collections::BTreeMap;
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId};
use tally_domain::model::TransferKind;

/// Points of one kind of transfer: credited to members, and credited to the program.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Flow {
    pub to_members: i64,
    pub to_program: i64,
}

pub type Flows = BTreeMap<&'static str, Flow>;

/// Account ids are derived (`mem_…:member_available`, `prg_…:issuance`), so the direction of a
/// transfer shows in its credit account id: no join with the accounts.
fn sums() -> String {
    let member = format!(
        "substr(credit_account_id, 1, {}) = '{}_'",
        MemberId::PREFIX.len() + 1,
        MemberId::PREFIX
    );
    format!(
        "kind, CAST(SUM(CASE WHEN {member} THEN amount ELSE 0 END) AS BIGINT), CAST(SUM(CASE WHEN {member} THEN 0 ELSE amount END) AS BIGINT)"
    )
}

fn add_rows(flows: &mut Flows, rows: &[Row]) -> Result<(), StoreError> {
    for r in rows {
        let kind = TransferKind::parse(&r.text(0)?)
            .ok_or_else(|| StoreError::Decode("transfer kind".into()))?
            .as_str();
        let flow = flows.entry(kind).or_default();
        flow.to_members += r.opt_int(1)?.unwrap_or(0);
        flow.to_program += r.opt_int(2)?.unwrap_or(0);
    }
    Ok(())
}

/// The snapshot: its flows and the last `seq` it covers (0 without one).
async fn snapshot<C: Conn>(c: &mut C, program: &ProgramId) -> Result<(Flows, i64), StoreError> {
    let rows = c
        .query(
            "SELECT kind, to_members, to_program, up_to_seq FROM program_flow_totals WHERE program_id = $1",
            &[program.as_str().into()],
        )
        .await?;
    let mut flows = Flows::new();
    add_rows(&mut flows, &rows)?;
    let mark = rows
        .iter()
        .map(|r| r.int(3))
        .collect::<Result<Vec<_>, _>>()?;
    Ok((flows, mark.into_iter().max().unwrap_or(0)))
}

/// The program's flows: the snapshot plus every transfer after it.
pub async fn flows<C: Conn>(c: &mut C, program: &ProgramId) -> Result<Flows, StoreError> {
    let (mut flows, mark) = snapshot(c, program).await?;
    let sql = format!(
        "SELECT {} FROM transfers WHERE program_id = $1 AND seq > $2 GROUP BY kind",
        sums()
    );
    let rows = c
        .query(&sql, &[program.as_str().into(), mark.into()])
        .await?;
    add_rows(&mut flows, &rows)?;
    Ok(flows)
}

/// The program's flows summed over its whole history (for audits and tests of [`flows`]).
pub async fn flows_scanned<C: Conn>(c: &mut C, program: &ProgramId) -> Result<Flows, StoreError> {
    let sql = format!(
        "SELECT {} FROM transfers WHERE program_id = $1 GROUP BY kind",
        sums()
    );
    let rows = c.query(&sql, &[program.as_str().into()]).await?;
    let mut flows = Flows::new();
    add_rows(&mut flows, &rows)?;
    Ok(flows)
}

/// Moves the snapshot over the transfers recorded before `safe_before` that directly follow it.
/// Returns the number of transfers folded in. Runs inside a write transaction.
pub async fn advance<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    safe_before: Timestamp,
) -> Result<i64, StoreError> {
    lock_program(c, program).await?;
    let (_, mark) = snapshot(c, program).await?;
    let p = program.as_str();
    let first_unsafe = c
        .query_one(
            "SELECT MIN(seq) FROM transfers WHERE program_id = $1 AND seq > $2 AND recorded_at_us >= $3",
            &[p.into(), mark.into(), ts(safe_before)],
        )
        .await?
        .and_then(|r| r.opt_int(0).transpose())
        .transpose()?;
    let last = c
        .query_one(
            "SELECT MAX(seq), COUNT(*) FROM transfers WHERE program_id = $1 AND seq > $2 AND seq < $3",
            &[p.into(), mark.into(), first_unsafe.unwrap_or(i64::MAX).into()],
        )
        .await?;
    let (Some(new_mark), folded) = (match &last {
        Some(r) => (r.opt_int(0)?, r.int(1)?),
        None => (None, 0),
    }) else {
        return Ok(0);
    };
    let sql = format!(
        "SELECT {} FROM transfers WHERE program_id = $1 AND seq > $2 AND seq <= $3 GROUP BY kind",
        sums()
    );
    let rows = c
        .query(&sql, &[p.into(), mark.into(), new_mark.into()])
        .await?;
    let mut delta = Flows::new();
    add_rows(&mut delta, &rows)?;
    for (kind, flow) in delta {
        c.execute(
            "INSERT INTO program_flow_totals (program_id, kind, to_members, to_program, up_to_seq) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (program_id, kind) DO UPDATE SET to_members = program_flow_totals.to_members + excluded.to_members,
                 to_program = program_flow_totals.to_program + excluded.to_program, up_to_seq = excluded.up_to_seq",
            &[p.into(), kind.into(), flow.to_members.into(), flow.to_program.into(), new_mark.into()],
        )
        .await?;
    }
    c.execute(
        "UPDATE program_flow_totals SET up_to_seq = $2 WHERE program_id = $1",
        &[p.into(), new_mark.into()],
    )
    .await?;
    Ok(folded)
}
