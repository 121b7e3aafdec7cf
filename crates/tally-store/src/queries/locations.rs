//! Stores (locations) of a program.

use super::{Page, page_query, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::ids::{LocationId, ProgramId, TenantId};
use tally_domain::model::Location;
use tally_domain::text::TimeZoneName;

pub async fn insert_location<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    l: &Location,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO locations (id, tenant_id, program_id, name, address, latitude_micro, longitude_micro, time_zone, active, created_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            l.id.as_str().into(),
            tenant.as_str().into(),
            l.program_id.as_str().into(),
            l.name.as_str().into(),
            l.address.as_deref().into(),
            l.latitude_micro.into(),
            l.longitude_micro.into(),
            l.time_zone.as_ref().map(|z| z.as_str()).into(),
            l.active.into(),
            ts(l.created_at),
        ],
    )
    .await?;
    Ok(())
}

/// Writes back a location's editable fields (its program and creation stay).
pub async fn update_location<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    l: &Location,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "UPDATE locations SET name = $3, address = $4, latitude_micro = $5, longitude_micro = $6, time_zone = $7, active = $8
             WHERE id = $1 AND tenant_id = $2",
            &[
                l.id.as_str().into(),
                tenant.as_str().into(),
                l.name.as_str().into(),
                l.address.as_deref().into(),
                l.latitude_micro.into(),
                l.longitude_micro.into(),
                l.time_zone.as_ref().map(|z| z.as_str()).into(),
                l.active.into(),
            ],
        )
        .await?;
    Ok(n == 1)
}

const COLS: &str = "id, program_id, name, address, latitude_micro, longitude_micro, time_zone, active, created_at_us, seq";

fn decode(r: &Row) -> Result<(i64, Location), StoreError> {
    Ok((
        r.int(9)?,
        Location {
            id: LocationId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            name: r.text(2)?,
            address: r.opt_text(3)?,
            latitude_micro: r.int(4)?,
            longitude_micro: r.int(5)?,
            time_zone: r.opt_text(6)?.map(TimeZoneName::from_trusted),
            active: r.boolean(7)?,
            created_at: to_ts(r.int(8)?)?,
        },
    ))
}

pub async fn get_location<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &LocationId,
) -> Result<Option<Location>, StoreError> {
    let sql = format!("SELECT {COLS} FROM locations WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(decode(&r)?.1))
        .transpose()
}

pub async fn list_locations<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    program: &ProgramId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<Location>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM locations WHERE tenant_id = $1 AND program_id = $2 AND seq > $3 ORDER BY seq LIMIT $4"
    );
    page_query(
        c,
        &sql,
        vec![
            tenant.as_str().into(),
            program.as_str().into(),
            after_seq.unwrap_or(0).into(),
        ],
        limit,
        decode,
    )
    .await
}
