//! What a write reads of a member before it changes their points: status, balances, tier, and
//! what rules read (the profile facts, the tier's qualifying value), for one member or for a
//! batch's members at once.

use super::members::MemberKey;
use super::{json, padded, placeholders, rows_by_keys, text_rows, to_ts, ts};
use crate::{Conn, PLAN_CACHED, Row, StoreError, Value};
use std::collections::HashMap;
use tally_domain::ids::{MemberId, ProgramId, TenantId};
use tally_domain::model::{Balance, MemberStatus};
use tally_domain::tiers::TierMetric;
use tally_domain::{Points, Timestamp};

/// What a write needs to know of a member, in one query: program, status and balances.
#[derive(Clone, Debug)]
pub struct MemberState {
    pub program_id: ProgramId,
    pub status: MemberStatus,
    pub balance: Balance,
    /// The tier the member's row holds (see `queries::tiers`), if any.
    pub tier: Option<String>,
}

// Macros, not consts, so that `concat!` can extend them.
macro_rules! state_columns_without_tier {
    () => {
        "m.id, m.program_id, m.status, a.balance, p.balance, m.external_id"
    };
}
macro_rules! state_from_without_tier {
    () => {
        "members m
     JOIN accounts a ON a.id = m.id || ':member_available' JOIN accounts p ON p.id = m.id || ':member_pending'"
    };
}
const STATE_COLUMNS_WITHOUT_TIER: &str = state_columns_without_tier!();
const STATE_COLUMNS: &str = concat!(state_columns_without_tier!(), ", t.tier");
const STATE_FROM_WITHOUT_TIER: &str = state_from_without_tier!();
const STATE_FROM: &str = concat!(
    state_from_without_tier!(),
    " LEFT JOIN member_tiers t ON t.member_id = m.id"
);

const STATE_COLUMN_COUNT: usize = 7;

fn decode_state(r: &Row) -> Result<(MemberId, MemberState), StoreError> {
    Ok((
        MemberId::from_trusted(r.text(0)?),
        MemberState {
            program_id: ProgramId::from_trusted(r.text(1)?),
            status: MemberStatus::parse(&r.text(2)?)
                .map_err(|_| StoreError::Decode("member status".into()))?,
            balance: Balance {
                available: Points(r.int(3)?),
                pending: Points(r.int(4)?),
            },
            tier: r.opt_text(6)?,
        },
    ))
}

pub async fn member_state<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    member: &MemberId,
) -> Result<Option<MemberState>, StoreError> {
    let sql =
        format!("SELECT {STATE_COLUMNS} FROM {STATE_FROM} WHERE m.id = $1 AND m.tenant_id = $2");
    let row = c
        .query_one(&sql, &[member.as_str().into(), tenant.as_str().into()])
        .await?;
    row.map(|r| Ok(decode_state(&r)?.1)).transpose()
}

/// What a purchase may read with the member's state, in the same query.
#[derive(Clone, Copy, Debug, Default)]
pub struct StateExtras<'a> {
    /// The member's [`RuleFacts`], for rules that read the profile.
    pub facts: bool,
    /// The tier's qualifying value from this time on (see `tiers::qualifying_sql`).
    pub qualifying_since: Option<(TierMetric, Timestamp)>,
    /// An order id of the program, to learn whether it was recorded before (see
    /// `purchases::find_order`).
    pub order_id: Option<&'a str>,
    /// Lock the member's two point accounts until the transaction ends, so the balances read
    /// stay true (PostgreSQL; SQLite's writer holds the write lock anyway). When the facts or the
    /// qualifying value are read too, the lock is taken by a statement of its own first, so they
    /// are read after it: every change to the member's points updates one of those rows, and
    /// every purchase locks them.
    pub lock_accounts: bool,
}

/// What [`StateExtras`] asked for.
#[derive(Default)]
pub struct Extras {
    pub facts: Option<RuleFacts>,
    pub qualifying: Option<i64>,
    /// The content hash and answer of the order, when it was recorded before.
    pub order: Option<(String, String)>,
}

const FACTS_COLUMNS: &str = "m.tags, m.attributes, m.enrolled_at_us, m.birthday,
     (SELECT CAST(COUNT(*) AS BIGINT) FROM purchases WHERE member_id = m.id)";

/// The columns `extras` adds after the state's (facts, the tier's value), with their
/// parameters pushed onto `params`.
fn extra_columns(extras: &StateExtras<'_>, params: &mut Vec<Value>) -> String {
    let mut columns = String::new();
    if extras.facts {
        columns.push_str(", ");
        columns.push_str(FACTS_COLUMNS);
    }
    if let Some((metric, since)) = extras.qualifying_since {
        params.push(ts(since));
        columns.push_str(", ");
        let since = format!("${}", params.len());
        columns.push_str(&super::tiers::qualifying_sql(metric, "m.id", &since, None));
    }
    columns
}

/// What [`extra_columns`] added, read from column `at` on; also the column after them.
fn decode_extras(
    row: &Row,
    extras: &StateExtras<'_>,
    at: usize,
) -> Result<(Extras, usize), StoreError> {
    let (mut found, mut next) = (Extras::default(), at);
    if extras.facts {
        found.facts = Some(decode_facts(row, next)?);
        next += 5;
    }
    if extras.qualifying_since.is_some() {
        found.qualifying = Some(row.int(next)?);
        next += 1;
    }
    Ok((found, next))
}

/// Finds a member of a program by any key, with its state (and the `extras` asked for), in
/// one query.
pub async fn find_member_state<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    program: &ProgramId,
    key: MemberKey<'_>,
    extras: StateExtras<'_>,
) -> Result<Option<(MemberId, MemberState, Extras)>, StoreError> {
    let (column, value) = match key {
        MemberKey::Id(id) => ("m.id", id.as_str()),
        MemberKey::ExternalId(x) => ("m.external_id", x),
        MemberKey::CardNumber(x) => ("m.card_number", x),
        MemberKey::CardToken(x) => ("m.card_token", x),
    };
    let mut params: Vec<Value> = vec![
        tenant.as_str().into(),
        program.as_str().into(),
        value.into(),
    ];
    let mut columns = extra_columns(&extras, &mut params);
    let mut order_join = String::new();
    if let Some(order_id) = extras.order_id {
        params.push(order_id.into());
        columns.push_str(", o.content_sha256, o.answer");
        order_join = format!(
            " LEFT JOIN purchases o ON o.program_id = m.program_id AND o.order_id = ${}",
            params.len()
        );
    }
    let lock = extras.lock_accounts && c.dialect() == crate::Dialect::Postgres;
    // A lock waited for in the member's query would return the newest balances, but the rest
    // of the row from the statement's snapshot, taken before the wait. So when the query reads
    // the member's history (facts, the tier's value), the accounts are locked by a statement of
    // their own first, sent in the same round trip: the query's snapshot then follows the lock,
    // which every change to the member's points must wait for.
    let lock_first = lock && (extras.facts || extras.qualifying_since.is_some());
    if lock_first {
        let filter = format!("m.tenant_id = $1 AND m.program_id = $2 AND {column} = $3");
        c.execute_later(&lock_accounts_of("members m", &filter), &params[..3])
            .await?;
    }
    let lock = if lock && !lock_first {
        " FOR NO KEY UPDATE OF a, p"
    } else {
        ""
    };
    let sql = format!(
        "SELECT {STATE_COLUMNS}{columns} FROM {STATE_FROM}{order_join} WHERE m.tenant_id = $1 AND m.program_id = $2 AND {column} = $3{lock}"
    );
    let Some(row) = c.query_one(&sql, &params).await? else {
        return Ok(None);
    };
    let (id, state) = decode_state(&row)?;
    let (mut found, next) = decode_extras(&row, &extras, STATE_COLUMN_COUNT)?;
    if extras.order_id.is_some()
        && let Some(hash) = row.opt_text(next)?
    {
        found.order = Some((hash, row.text(next + 1)?));
    }
    Ok(Some((id, state, found)))
}

/// A member found by [`member_states_by_keys`], with the keys a request may name them by.
pub struct KeyedState {
    pub id: MemberId,
    pub external_id: Option<String>,
    pub card_number: String,
    pub state: MemberState,
    pub extras: Extras,
}

/// Members of a program named by any of `keys`, each with its state and the `extras` asked
/// for (all but the order's: see `purchases::find_orders`), in one query: what a batch's
/// purchases read ahead. With `lock_accounts` (PostgreSQL) their point accounts are locked
/// first, in id order, by a statement of its own sent in the same round trip: the state is
/// then read after the locks (as in [`find_member_state`]), and writers reading ahead members
/// they share wait for each other instead of deadlocking.
///
/// The statements are shaped so that every member is found through a unique index and its
/// accounts and tier by key, whatever the planner's statistics say: PostgreSQL would otherwise
/// scan a program's members for a list of ids when its statistics are older than its rows.
pub async fn member_states_by_keys<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    keys: &[MemberKey<'_>],
    extras: StateExtras<'_>,
) -> Result<Vec<KeyedState>, StoreError> {
    // Cards' tokens name members at the till, not in purchases: not looked up here.
    let mut ids = Vec::new();
    let mut by_column: [(&str, Vec<&str>); 2] =
        [("m.external_id", vec![]), ("m.card_number", vec![])];
    for key in keys {
        match key {
            MemberKey::Id(id) => ids.push(id.as_str()),
            MemberKey::ExternalId(x) => by_column[0].1.push(x),
            MemberKey::CardNumber(x) => by_column[1].1.push(x),
            MemberKey::CardToken(_) => {}
        }
    }
    // Ids are unique across programs: the rows of other programs are dropped below. Named by
    // id only (the API's usual way), the statements' plans can be cached: see `PLAN_CACHED`.
    let by_id_only = ids.len() == keys.len();
    let ids = padded(ids);
    let dialect = c.dialect();
    let mut params: Vec<Value> = Vec::new();
    let mut named = Vec::new();
    if !ids.is_empty() {
        named.push(rows_by_keys(
            dialect,
            "members",
            "id",
            (1, ids.len()),
            "",
            "m",
        ));
        params.extend(ids.iter().map(|id| Value::from(*id)));
    }
    let others: Vec<_> = by_column
        .into_iter()
        .filter(|(_, v)| !v.is_empty())
        .collect();
    if !others.is_empty() {
        params.push(program.as_str().into());
        let program_mark = format!("program_id = ${}", params.len());
        for (column, values) in others {
            let marks = (params.len() + 1, values.len());
            named.push(rows_by_keys(
                dialect,
                "members",
                column,
                marks,
                &program_mark,
                "m",
            ));
            params.extend(values.into_iter().map(Value::from));
        }
    }
    let members = match named.as_slice() {
        [] => return Ok(Vec::new()),
        [one] => one.clone(),
        several => {
            let each: Vec<String> = several
                .iter()
                .map(|m| format!("SELECT m.* FROM {m}"))
                .collect();
            format!("({}) m", each.join(" UNION ALL "))
        }
    };
    if extras.lock_accounts && dialect == crate::Dialect::Postgres {
        // Only accounts of the program's members are locked.
        let program = Value::from(program.as_str());
        if by_id_only {
            // In id order: one lookup and lock per account, in the order listed.
            let mut accounts: Vec<String> = ids
                .iter()
                .flat_map(|id| [available_id(id), pending_id(id)])
                .collect();
            accounts.sort_unstable();
            let lock_params: Vec<Value> = std::iter::once(program)
                .chain(accounts.into_iter().map(Value::from))
                .collect();
            let sql = format!(
                "{PLAN_CACHED}SELECT a.id FROM {} AS k(v) CROSS JOIN LATERAL
                 (SELECT id FROM accounts WHERE id = k.v AND program_id = $1 FOR NO KEY UPDATE) a",
                text_rows(2, lock_params.len() - 1)
            );
            c.execute_later(&sql, &lock_params).await?;
        } else {
            let lock_params: Vec<Value> = params.iter().cloned().chain([program]).collect();
            let filter = format!("m.program_id = ${}", lock_params.len());
            c.execute_later(&lock_accounts_of(&members, &filter), &lock_params)
                .await?;
        }
    }
    let columns = extra_columns(&extras, &mut params);
    let cached = if by_id_only { PLAN_CACHED } else { "" };
    let sql = format!(
        "{cached}SELECT m.id, m.program_id, m.status,
           (SELECT balance FROM accounts WHERE id = m.id || ':member_available'),
           (SELECT balance FROM accounts WHERE id = m.id || ':member_pending'),
           m.external_id, (SELECT tier FROM member_tiers WHERE member_id = m.id),
           m.card_number{columns}
         FROM {members}"
    );
    let mut found: Vec<KeyedState> = Vec::new();
    for row in c.query(&sql, &params).await? {
        let (id, state) = decode_state(&row)?;
        // A member named twice (or by a padded list's repeat) is found twice on PostgreSQL.
        if state.program_id != *program || found.iter().any(|f| f.id == id) {
            continue;
        }
        let (extras, _) = decode_extras(&row, &extras, STATE_COLUMN_COUNT + 1)?;
        found.push(KeyedState {
            id,
            external_id: row.opt_text(5)?,
            card_number: row.text(STATE_COLUMN_COUNT)?,
            state,
            extras,
        });
    }
    Ok(found)
}

/// Locks the point accounts of the members `filter` finds in `members` (a `FROM` item named
/// `m`), in id order.
fn lock_accounts_of(members: &str, filter: &str) -> String {
    format!(
        "SELECT a.id FROM {members}
         JOIN accounts a ON a.id IN (m.id || ':member_available', m.id || ':member_pending')
         WHERE {filter} ORDER BY a.id FOR NO KEY UPDATE OF a"
    )
}

fn available_id(member: &str) -> String {
    tally_ledger::account_id(member, tally_ledger::AccountKind::MemberAvailable)
}

fn pending_id(member: &str) -> String {
    tally_ledger::account_id(member, tally_ledger::AccountKind::MemberPending)
}

/// Members of a program by external id, with their state, in one query (for bulk imports).
/// The state's `tier` is not read (always `None`): only imports into programs without a tier
/// plan take this path, and the tier was one more lookup per member.
pub async fn member_states_by_external_id<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    program: &ProgramId,
    external_ids: &[&str],
) -> Result<HashMap<String, (MemberId, MemberState)>, StoreError> {
    if external_ids.is_empty() {
        return Ok(HashMap::new());
    }
    let sql = format!(
        "SELECT {STATE_COLUMNS_WITHOUT_TIER}, NULL FROM {STATE_FROM_WITHOUT_TIER} \
         WHERE m.tenant_id = $1 AND m.program_id = $2 AND m.external_id IN ({})",
        placeholders(3, external_ids.len())
    );
    let mut params: Vec<Value> = vec![tenant.as_str().into(), program.as_str().into()];
    params.extend(external_ids.iter().map(|x| Value::from(*x)));
    let mut out = HashMap::new();
    for r in c.query(&sql, &params).await? {
        let external_id = r.text(5)?;
        out.insert(external_id, decode_state(&r)?);
    }
    Ok(out)
}

/// What earning rules read of a member, in one statement: tags, attributes, enrolment,
/// birthday, and how many purchases they made before.
pub struct RuleFacts {
    pub tags: Vec<String>,
    pub attributes: serde_json::Map<String, serde_json::Value>,
    pub enrolled_at: Timestamp,
    pub birthday: Option<tally_domain::model::Date>,
    pub purchases: i64,
}

pub async fn rule_facts<C: Conn>(
    c: &mut C,
    member: &MemberId,
) -> Result<Option<RuleFacts>, StoreError> {
    let sql = format!("SELECT {FACTS_COLUMNS} FROM members m WHERE m.id = $1");
    let row = c.query_one(&sql, &[member.as_str().into()]).await?;
    row.map(|r| decode_facts(&r, 0)).transpose()
}

/// The [`FACTS_COLUMNS`] of a row, from column `at` on.
fn decode_facts(r: &Row, at: usize) -> Result<RuleFacts, StoreError> {
    Ok(RuleFacts {
        tags: json(&r.text(at)?)?,
        attributes: json(&r.text(at + 1)?)?,
        enrolled_at: to_ts(r.int(at + 2)?)?,
        birthday: r
            .opt_text(at + 3)?
            .map(|b| {
                b.parse()
                    .map_err(|_| StoreError::Decode("member birthday".into()))
            })
            .transpose()?,
        purchases: r.int(at + 4)?,
    })
}
