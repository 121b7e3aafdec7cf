//! Tenants and programs, and the program's own ledger accounts.

use super::{json, to_json, to_ts, ts};
use crate::{Conn, StoreError};
use tally_domain::ids::{ProgramId, TenantId};
use tally_domain::program::{EarningRule, NegativeBalancePolicy, Program, Rounding};
use tally_domain::text::TimeZoneName;
use tally_domain::{Currency, Timestamp};
use tally_ledger::AccountKind;

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Tenant {
    pub id: TenantId,
    pub name: String,
    pub created_at: Timestamp,
}

pub async fn insert_tenant<C: Conn>(c: &mut C, tenant: &Tenant) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO tenants (id, name, created_at_us) VALUES ($1, $2, $3)",
        &[
            tenant.id.as_str().into(),
            tenant.name.as_str().into(),
            ts(tenant.created_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn list_tenants<C: Conn>(c: &mut C) -> Result<Vec<Tenant>, StoreError> {
    c.query(
        "SELECT id, name, created_at_us FROM tenants ORDER BY created_at_us, id",
        &[],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Tenant {
            id: TenantId::from_trusted(r.text(0)?),
            name: r.text(1)?,
            created_at: to_ts(r.int(2)?)?,
        })
    })
    .collect()
}

pub async fn find_tenant<C: Conn>(
    c: &mut C,
    id_or_name: &str,
) -> Result<Option<Tenant>, StoreError> {
    let row = c.query_one("SELECT id, name, created_at_us FROM tenants WHERE id = $1 OR name = $1 ORDER BY id LIMIT 1", &[id_or_name.into()]).await?;
    row.map(|r| {
        Ok(Tenant {
            id: TenantId::from_trusted(r.text(0)?),
            name: r.text(1)?,
            created_at: to_ts(r.int(2)?)?,
        })
    })
    .transpose()
}

/// Inserts the program and its four program-level accounts.
pub async fn insert_program<C: Conn>(c: &mut C, p: &Program) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO programs (id, tenant_id, name, points_name, currency, time_zone, points_per_unit_milli, rounding,
             excluded_categories, min_order_minor, negative_balance, created_at_us, pending_days)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
        &[
            p.id.as_str().into(),
            p.tenant_id.as_str().into(),
            p.name.as_str().into(),
            p.points_name.as_str().into(),
            p.currency.code().into(),
            p.time_zone.as_str().into(),
            p.earning.points_per_unit_milli.into(),
            p.earning.rounding.as_str().into(),
            to_json(&p.earning.excluded_categories),
            p.earning.min_order_minor.into(),
            p.negative_balance.as_str().into(),
            ts(p.created_at),
            i64::from(p.earning.pending_days).into(),
        ],
    )
    .await?;
    for kind in AccountKind::ALL.into_iter().filter(|k| !k.is_member()) {
        c.execute(
            "INSERT INTO accounts (id, program_id, member_id, kind, balance) VALUES ($1, $2, NULL, $3, NULL)",
            &[tally_ledger::account_id(p.id.as_str(), kind).into(), p.id.as_str().into(), kind.as_str().into()],
        )
        .await?;
    }
    Ok(())
}

const PROGRAM_COLS: &str = "id, tenant_id, name, points_name, currency, time_zone, points_per_unit_milli, rounding, \
     excluded_categories, min_order_minor, negative_balance, created_at_us, seq, rules_revision, pending_days";

fn decode(r: &crate::Row) -> Result<Program, StoreError> {
    let bad = |what: &str| StoreError::Decode(format!("program {what}"));
    Ok(Program {
        id: ProgramId::from_trusted(r.text(0)?),
        tenant_id: TenantId::from_trusted(r.text(1)?),
        name: r.text(2)?,
        points_name: r.text(3)?,
        currency: Currency::parse(&r.text(4)?).map_err(|_| bad("currency"))?,
        time_zone: TimeZoneName::from_trusted(r.text(5)?),
        earning: EarningRule {
            points_per_unit_milli: r.int(6)?,
            rounding: Rounding::parse(&r.text(7)?).map_err(|_| bad("rounding"))?,
            excluded_categories: json(&r.text(8)?)?,
            min_order_minor: r.int(9)?,
            pending_days: u16::try_from(r.int(14)?).map_err(|_| bad("pending days"))?,
        },
        negative_balance: NegativeBalancePolicy::parse(&r.text(10)?).map_err(|_| bad("policy"))?,
        created_at: to_ts(r.int(11)?)?,
        rules_revision: r.int(13)?,
    })
}

pub async fn get_program<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &ProgramId,
) -> Result<Option<Program>, StoreError> {
    let sql = format!("SELECT {PROGRAM_COLS} FROM programs WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}

pub async fn list_programs<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
) -> Result<Vec<Program>, StoreError> {
    let sql = format!("SELECT {PROGRAM_COLS} FROM programs WHERE tenant_id = $1 ORDER BY seq");
    c.query(&sql, &[tenant.as_str().into()])
        .await?
        .iter()
        .map(decode)
        .collect()
}

/// A page of the tenant's programs, oldest first.
pub async fn list_programs_page<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<super::Page<Program>, StoreError> {
    let sql = format!(
        "SELECT {PROGRAM_COLS} FROM programs WHERE tenant_id = $1 AND seq > $2 ORDER BY seq LIMIT $3"
    );
    super::page_query(
        c,
        &sql,
        vec![tenant.as_str().into(), after_seq.unwrap_or(0).into()],
        limit,
        |r| Ok((r.int(12)?, decode(r)?)),
    )
    .await
}

/// Replaces the editable settings of a program.
pub async fn update_program<C: Conn>(c: &mut C, p: &Program) -> Result<(), StoreError> {
    c.execute(
        "UPDATE programs SET name = $2, points_name = $3, time_zone = $4, points_per_unit_milli = $5, rounding = $6,
             excluded_categories = $7, min_order_minor = $8, negative_balance = $9, pending_days = $10
         WHERE id = $1",
        &[
            p.id.as_str().into(),
            p.name.as_str().into(),
            p.points_name.as_str().into(),
            p.time_zone.as_str().into(),
            p.earning.points_per_unit_milli.into(),
            p.earning.rounding.as_str().into(),
            to_json(&p.earning.excluded_categories),
            p.earning.min_order_minor.into(),
            p.negative_balance.as_str().into(),
            i64::from(p.earning.pending_days).into(),
        ],
    )
    .await?;
    Ok(())
}

/// Locks the program's row until the transaction ends (a no-op update), so that bulk work on one
/// program — imports, which lock many member rows — runs one at a time across writers and nodes
/// instead of deadlocking. Plain reads of the program are not blocked.
pub async fn lock_program<C: Conn>(c: &mut C, program: &ProgramId) -> Result<(), StoreError> {
    c.execute(
        "UPDATE programs SET name = name WHERE id = $1",
        &[program.as_str().into()],
    )
    .await?;
    Ok(())
}

/// The id of one of the program's own accounts.
pub fn program_account(program: &ProgramId, kind: AccountKind) -> String {
    debug_assert!(!kind.is_member());
    tally_ledger::account_id(program.as_str(), kind)
}

/// How the program shows itself; the defaults until an operator sets it.
pub async fn get_display<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<tally_domain::display::ProgramDisplay, StoreError> {
    let row = c
        .query_one(
            "SELECT card_color, logo_data_url, point_value_milli FROM program_display WHERE program_id = $1",
            &[program.as_str().into()],
        )
        .await?;
    Ok(match row {
        Some(r) => tally_domain::display::ProgramDisplay {
            card_color: r.text(0)?,
            logo_data_url: r.opt_text(1)?,
            point_value_milli: r.int(2)?,
        },
        None => tally_domain::display::ProgramDisplay::default(),
    })
}

pub async fn set_display<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    d: &tally_domain::display::ProgramDisplay,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO program_display (program_id, card_color, logo_data_url, point_value_milli) VALUES ($1, $2, $3, $4)
         ON CONFLICT (program_id) DO UPDATE SET card_color = excluded.card_color, logo_data_url = excluded.logo_data_url,
             point_value_milli = excluded.point_value_milli",
        &[program.as_str().into(), d.card_color.as_str().into(), d.logo_data_url.as_deref().into(), d.point_value_milli.into()],
    )
    .await?;
    Ok(())
}

/// The program's rules revision (`None`: no such program). Zero means it never had rules,
/// tiers or an expiry policy.
pub async fn rules_revision<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> Result<Option<i64>, StoreError> {
    c.query_one(
        "SELECT rules_revision FROM programs WHERE id = $1",
        &[program.as_str().into()],
    )
    .await?
    .map(|r| r.int(0))
    .transpose()
}

/// A program by id alone, for internal work that already knows the id is trusted.
pub async fn get_program_by_id<C: Conn>(
    c: &mut C,
    id: &ProgramId,
) -> Result<Option<Program>, StoreError> {
    let sql = format!("SELECT {PROGRAM_COLS} FROM programs WHERE id = $1");
    c.query_one(&sql, &[id.as_str().into()])
        .await?
        .as_ref()
        .map(decode)
        .transpose()
}
