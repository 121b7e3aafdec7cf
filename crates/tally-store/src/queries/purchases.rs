//! Purchases, their lines, and returns.

use super::{Page, opt_ts, page_limit, placeholders, to_ts, ts};
use crate::{Conn, Row, StoreError, Value};
use std::collections::HashMap;
use tally_domain::ids::{LocationId, MemberId, ProgramId, PurchaseId, ReturnId, TenantId};
use tally_domain::model::{Purchase, PurchaseLine, SalesChannel};
use tally_domain::{Currency, Points, Timestamp};

/// The columns a purchase row is inserted with, and [`purchase_values`] in their order.
const PURCHASE_COLUMNS: [&str; 18] = [
    "id",
    "tenant_id",
    "program_id",
    "member_id",
    "order_id",
    "total_minor",
    "currency",
    "channel",
    "location_id",
    "points_earned",
    "points_reversed",
    "returned_minor",
    "content_sha256",
    "answer",
    "occurred_at_us",
    "recorded_at_us",
    "pending_release_at_us",
    "pending_points",
];

/// A new purchase's row. `pending_release_at`: in a program with a return window, when the
/// purchase's points (all of `points_earned`) leave the pending account.
fn purchase_values(
    tenant: &TenantId,
    p: &Purchase,
    content_sha256: &str,
    answer: &str,
    pending_release_at: Option<Timestamp>,
) -> [Value; 18] {
    let pending = if pending_release_at.is_some() {
        p.points_earned.value()
    } else {
        0
    };
    [
        p.id.as_str().into(),
        tenant.as_str().into(),
        p.program_id.as_str().into(),
        p.member_id.as_str().into(),
        p.order_id.as_str().into(),
        p.total_minor.into(),
        p.currency.code().into(),
        p.channel.as_str().into(),
        p.location_id.as_ref().map(|l| l.as_str()).into(),
        p.points_earned.value().into(),
        0.into(),
        0.into(),
        content_sha256.into(),
        answer.into(),
        ts(p.occurred_at),
        ts(p.recorded_at),
        opt_ts(pending_release_at),
        pending.into(),
    ]
}

/// The columns a purchase line is inserted with.
const LINE_COLUMNS: [&str; 9] = [
    "purchase_id",
    "line_no",
    "sku",
    "name",
    "category",
    "brand",
    "quantity",
    "unit_price_minor",
    "returned_quantity",
];

/// Inserts a purchase with the answer it gave, and its lines (after it: they refer to it).
/// Gathered (see `Conn::gather_rows`): a unique violation (the same order recorded meanwhile by
/// another writer) fails the command, which is run again.
pub async fn insert_purchase<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    p: &Purchase,
    content_sha256: &str,
    answer: &str,
    pending_release_at: Option<Timestamp>,
) -> Result<(), StoreError> {
    let values = purchase_values(tenant, p, content_sha256, answer, pending_release_at);
    c.gather_rows("purchases", &PURCHASE_COLUMNS, &values)
        .await?;
    if p.lines.is_empty() {
        return Ok(());
    }
    let mut lines = Vec::with_capacity(p.lines.len() * LINE_COLUMNS.len());
    for (line_no, l) in p.lines.iter().enumerate() {
        lines.extend([
            p.id.as_str().into(),
            (line_no as i64).into(),
            l.sku.as_str().into(),
            l.name.as_deref().into(),
            l.category.as_deref().into(),
            l.brand.as_deref().into(),
            l.quantity.into(),
            l.unit_price_minor.into(),
            0.into(),
        ]);
    }
    c.gather_rows("purchase_lines", &LINE_COLUMNS, &lines).await
}

/// Inserts many purchases (without lines or return windows) through `Conn::insert_rows`
/// (bulk imports). Each item: the purchase, its content hash, and the answer it gave.
pub async fn insert_purchases<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    items: &[(Purchase, String, String)],
) -> Result<(), StoreError> {
    let mut values: Vec<Value> = Vec::with_capacity(items.len() * PURCHASE_COLUMNS.len());
    for (p, content, answer) in items {
        assert!(p.lines.is_empty(), "bulk inserts carry no lines");
        values.extend(purchase_values(tenant, p, content, answer, None));
    }
    c.insert_rows("purchases", &PURCHASE_COLUMNS, &values).await
}

/// What was recorded for an order id before: its content hash and the answer it got.
pub async fn find_order<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    order_id: &str,
) -> Result<Option<(String, String)>, StoreError> {
    let row = c
        .query_one(
            "SELECT content_sha256, answer FROM purchases WHERE program_id = $1 AND order_id = $2",
            &[program.as_str().into(), order_id.into()],
        )
        .await?;
    row.map(|r| Ok((r.text(0)?, r.text(1)?))).transpose()
}

/// What was recorded for several order ids: order id → (content hash, answer).
pub async fn find_orders<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    order_ids: &[&str],
) -> Result<HashMap<String, (String, String)>, StoreError> {
    if order_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let purchases = super::rows_by_keys(
        c.dialect(),
        "purchases",
        "order_id",
        (2, order_ids.len()),
        "program_id = $1",
        "p",
    );
    let sql = format!("SELECT p.order_id, p.content_sha256, p.answer FROM {purchases}");
    let mut params: Vec<Value> = vec![program.as_str().into()];
    params.extend(order_ids.iter().map(|x| Value::from(*x)));
    c.query(&sql, &params)
        .await?
        .iter()
        .map(|r| Ok((r.text(0)?, (r.text(1)?, r.text(2)?))))
        .collect()
}

const PURCHASE_COLS: &str = "id, program_id, member_id, order_id, total_minor, currency, channel, location_id, points_earned, \
     points_reversed, returned_minor, occurred_at_us, recorded_at_us, seq";

fn decode(r: &Row) -> Result<(i64, Purchase), StoreError> {
    let bad = |what: &str| StoreError::Decode(format!("purchase {what}"));
    Ok((
        r.int(13)?,
        Purchase {
            id: PurchaseId::from_trusted(r.text(0)?),
            program_id: ProgramId::from_trusted(r.text(1)?),
            member_id: MemberId::from_trusted(r.text(2)?),
            order_id: r.text(3)?,
            total_minor: r.int(4)?,
            currency: Currency::parse(&r.text(5)?).map_err(|_| bad("currency"))?,
            channel: SalesChannel::parse(&r.text(6)?).map_err(|_| bad("channel"))?,
            location_id: r.opt_text(7)?.map(LocationId::from_trusted),
            lines: Vec::new(),
            points_earned: Points(r.int(8)?),
            points_reversed: Points(r.int(9)?),
            returned_minor: r.int(10)?,
            occurred_at: to_ts(r.int(11)?)?,
            recorded_at: to_ts(r.int(12)?)?,
        },
    ))
}

async fn attach_lines<C: Conn>(c: &mut C, purchases: &mut [Purchase]) -> Result<(), StoreError> {
    if purchases.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT purchase_id, sku, name, category, brand, quantity, unit_price_minor, returned_quantity
         FROM purchase_lines WHERE purchase_id IN ({}) ORDER BY purchase_id, line_no",
        placeholders(1, purchases.len())
    );
    let ids: Vec<Value> = purchases.iter().map(|p| p.id.as_str().into()).collect();
    let mut by_purchase: HashMap<String, Vec<PurchaseLine>> = HashMap::new();
    for r in c.query(&sql, &ids).await? {
        by_purchase
            .entry(r.text(0)?)
            .or_default()
            .push(PurchaseLine {
                sku: r.text(1)?,
                name: r.opt_text(2)?,
                category: r.opt_text(3)?,
                brand: r.opt_text(4)?,
                quantity: r.int(5)?,
                unit_price_minor: r.int(6)?,
                returned_quantity: r.int(7)?,
            });
    }
    for p in purchases {
        p.lines = by_purchase.remove(p.id.as_str()).unwrap_or_default();
    }
    Ok(())
}

pub async fn get_purchase<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &PurchaseId,
) -> Result<Option<Purchase>, StoreError> {
    let sql = format!("SELECT {PURCHASE_COLS} FROM purchases WHERE id = $1 AND tenant_id = $2");
    let Some(row) = c
        .query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
    else {
        return Ok(None);
    };
    let mut found = [decode(&row)?.1];
    attach_lines(c, &mut found).await?;
    let [p] = found;
    Ok(Some(p))
}

pub async fn get_purchase_by_order<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    program: &ProgramId,
    order_id: &str,
) -> Result<Option<Purchase>, StoreError> {
    let sql = format!(
        "SELECT {PURCHASE_COLS} FROM purchases WHERE program_id = $1 AND order_id = $2 AND tenant_id = $3"
    );
    let Some(row) = c
        .query_one(
            &sql,
            &[
                program.as_str().into(),
                order_id.into(),
                tenant.as_str().into(),
            ],
        )
        .await?
    else {
        return Ok(None);
    };
    let mut found = [decode(&row)?.1];
    attach_lines(c, &mut found).await?;
    let [p] = found;
    Ok(Some(p))
}

pub async fn member_purchases<C: Conn>(
    c: &mut C,
    member: &MemberId,
    before_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<Purchase>, StoreError> {
    let limit = page_limit(limit);
    let sql = format!(
        "SELECT {PURCHASE_COLS} FROM purchases WHERE member_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT $3"
    );
    let rows: Vec<(i64, Purchase)> = c
        .query(
            &sql,
            &[
                member.as_str().into(),
                before_seq.unwrap_or(i64::MAX).into(),
                (limit + 1).into(),
            ],
        )
        .await?
        .iter()
        .map(decode)
        .collect::<Result<_, _>>()?;
    let mut page = Page::from_rows(rows, limit);
    attach_lines(c, &mut page.items).await?;
    Ok(page)
}

/// Records that more of the order came back. Conditional on what the caller read, so two
/// concurrent returns of the same order cannot both count the same amount: the loser sees
/// `false` and tries again with fresh numbers.
pub async fn add_returned<C: Conn>(
    c: &mut C,
    purchase: &PurchaseId,
    expected_returned_minor: i64,
    add_minor: i64,
    add_points: Points,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE purchases SET returned_minor = returned_minor + $3, points_reversed = points_reversed + $4
             WHERE id = $1 AND returned_minor = $2",
            &[purchase.as_str().into(), expected_returned_minor.into(), add_minor.into(), add_points.value().into()],
        )
        .await?;
    Ok(changed == 1)
}

/// Takes back `quantity` of a line if that many are still not returned.
pub async fn return_line_quantity<C: Conn>(
    c: &mut C,
    purchase: &PurchaseId,
    line_no: i64,
    quantity: i64,
) -> Result<bool, StoreError> {
    let changed = c
        .execute(
            "UPDATE purchase_lines SET returned_quantity = returned_quantity + $3
             WHERE purchase_id = $1 AND line_no = $2 AND returned_quantity + $3 <= quantity",
            &[purchase.as_str().into(), line_no.into(), quantity.into()],
        )
        .await?;
    Ok(changed == 1)
}

#[allow(clippy::too_many_arguments)]
pub async fn insert_return<C: Conn>(
    c: &mut C,
    id: &ReturnId,
    purchase: &PurchaseId,
    returned_minor: i64,
    points_reversed: Points,
    unrecovered: Points,
    occurred_at: Timestamp,
    recorded_at: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO returns (id, purchase_id, returned_minor, points_reversed, unrecovered_points, occurred_at_us, recorded_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7)",
        &[
            id.as_str().into(),
            purchase.as_str().into(),
            returned_minor.into(),
            points_reversed.value().into(),
            unrecovered.value().into(),
            ts(occurred_at),
            ts(recorded_at),
        ],
    )
    .await?;
    Ok(())
}

/// A program's purchases made since `since`, oldest first, with their lines: at most `limit`.
pub async fn program_purchases_since<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    since: Timestamp,
    limit: i64,
) -> Result<Vec<Purchase>, StoreError> {
    let sql = format!(
        "SELECT {PURCHASE_COLS} FROM purchases WHERE program_id = $1 AND occurred_at_us >= $2 ORDER BY occurred_at_us, seq LIMIT $3"
    );
    let mut out: Vec<Purchase> = c
        .query(&sql, &[program.as_str().into(), ts(since), limit.into()])
        .await?
        .iter()
        .map(|r| decode(r).map(|(_, p)| p))
        .collect::<Result<_, _>>()?;
    for chunk in out.chunks_mut(500) {
        attach_lines(c, chunk).await?;
    }
    Ok(out)
}
