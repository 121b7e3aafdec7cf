//! Message templates (migration 0020): what a message says, with placeholders filled in per
//! member (see `tally_domain::templates`).

use super::{Page, page_query, to_ts, ts};
use crate::{Conn, Row, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{ProgramId, TemplateId, TenantId};

#[derive(Clone, Debug, PartialEq)]
pub struct TemplateRow {
    pub id: TemplateId,
    pub program_id: ProgramId,
    pub name: String,
    /// `email` (the only channel so far).
    pub channel: String,
    pub subject: String,
    pub html: Option<String>,
    pub text: String,
    pub created_at: Timestamp,
    pub updated_at: Timestamp,
}

const COLS: &str =
    "id, program_id, name, channel, subject, html, body_text, created_at_us, updated_at_us, seq";

fn decode(r: &Row) -> Result<(i64, TemplateRow), StoreError> {
    Ok((
        r.int(9)?,
        TemplateRow {
            id: TemplateId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            name: r.text(2)?,
            channel: r.text(3)?,
            subject: r.text(4)?,
            html: r.opt_text(5)?,
            text: r.text(6)?,
            created_at: to_ts(r.int(7)?)?,
            updated_at: to_ts(r.int(8)?)?,
        },
    ))
}

pub async fn insert<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    t: &TemplateRow,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO message_templates (id, tenant_id, program_id, name, channel, subject, html,
             body_text, created_at_us, updated_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
        &[
            t.id.as_str().into(),
            tenant.as_str().into(),
            t.program_id.as_str().into(),
            t.name.as_str().into(),
            t.channel.as_str().into(),
            t.subject.as_str().into(),
            t.html.clone().into(),
            t.text.as_str().into(),
            ts(t.created_at),
            ts(t.updated_at),
        ],
    )
    .await?;
    Ok(())
}

/// Replaces what a template says.
pub async fn update<C: Conn>(c: &mut C, t: &TemplateRow) -> Result<(), StoreError> {
    c.execute(
        "UPDATE message_templates SET name = $2, subject = $3, html = $4, body_text = $5,
             updated_at_us = $6
         WHERE id = $1",
        &[
            t.id.as_str().into(),
            t.name.as_str().into(),
            t.subject.as_str().into(),
            t.html.clone().into(),
            t.text.as_str().into(),
            ts(t.updated_at),
        ],
    )
    .await?;
    Ok(())
}

pub async fn get<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &TemplateId,
) -> Result<Option<TemplateRow>, StoreError> {
    let sql = format!("SELECT {COLS} FROM message_templates WHERE id = $1 AND tenant_id = $2");
    c.query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
        .map(|r| Ok(decode(&r)?.1))
        .transpose()
}

pub async fn list<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<TemplateRow>, StoreError> {
    let sql = format!(
        "SELECT {COLS} FROM message_templates WHERE program_id = $1 AND seq > $2
         ORDER BY seq LIMIT $3"
    );
    page_query(
        c,
        &sql,
        vec![program.as_str().into(), after_seq.unwrap_or(0).into()],
        limit,
        decode,
    )
    .await
}
