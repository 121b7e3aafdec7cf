//! Persons, members, their cards, consents and accounts.

use super::{Page, json, page_limit, placeholders, to_json, to_ts, ts};
use crate::{Conn, Row, StoreError, Value};
use std::collections::HashMap;
use tally_domain::ids::{MemberId, PersonId, ProgramId, TenantId};
use tally_domain::model::{Balance, Card, Channel, Consent, Member, MemberStatus};
use tally_domain::search;
use tally_domain::text::{Email, Locale, Phone, TimeZoneName};
use tally_domain::{Points, Timestamp};
use tally_ledger::AccountKind;

pub use super::member_states::{
    Extras, MemberState, RuleFacts, StateExtras, find_member_state, member_state,
    member_states_by_external_id, rule_facts,
};

/// A person found or made for an enrolment, and whether the member's email and phone are ones
/// that person has verified.
pub struct PersonMatch {
    pub id: PersonId,
    pub email_verified: bool,
    pub phone_verified: bool,
}

/// Finds the person an enrolment belongs to, or creates one: one human, one wallet, across
/// every tenant's program. Members are joined to a person by their email only. A wallet opens
/// with a code sent to the person's email, and a phone is often shared (a family's) or
/// mistyped: joining through it would put someone else's card, and their points, in the wallet.
/// A new person keeps the phone when no other person has it (the column is unique). Safe under
/// concurrent enrolments of the same person.
pub async fn find_or_create_person<C: Conn>(
    c: &mut C,
    email: Option<&Email>,
    phone: Option<&Phone>,
    now: Timestamp,
) -> Result<PersonMatch, StoreError> {
    let email_v: Value = email.map(|e| e.as_str()).into();
    let phone_v: Value = phone.map(|p| p.as_str()).into();
    let find =
        "SELECT id, email_verified, phone = $2 AND phone_verified FROM persons WHERE email = $1";
    let matched = |row: Row| -> Result<PersonMatch, StoreError> {
        Ok(PersonMatch {
            id: PersonId::from_trusted(row.text(0)?),
            email_verified: row.boolean(1)?,
            phone_verified: row.opt_boolean(2)? == Some(true),
        })
    };
    if email.is_some() {
        let found = c
            .query_one(find, &[email_v.clone(), phone_v.clone()])
            .await?;
        if let Some(row) = found {
            return matched(row);
        }
    }
    let phone_taken = match phone {
        Some(p) => c
            .query_one(
                "SELECT 1 FROM persons WHERE phone = $1",
                &[p.as_str().into()],
            )
            .await?
            .is_some(),
        None => false,
    };
    let id = PersonId::generate();
    let kept_phone = if phone_taken {
        Value::Null
    } else {
        phone_v.clone()
    };
    let inserted = c
        .execute(
            "INSERT INTO persons (id, email, phone, created_at_us) VALUES ($1, $2, $3, $4) ON CONFLICT DO NOTHING",
            &[id.as_str().into(), email_v.clone(), kept_phone, ts(now)],
        )
        .await?;
    if inserted == 1 {
        return Ok(PersonMatch {
            id,
            email_verified: false,
            phone_verified: false,
        });
    }
    // Someone enrolled the same email a moment ago: use theirs. (Or took the phone: the
    // writer runs the enrolment again, and the phone is then seen as taken.)
    let row = c
        .query_one(find, &[email_v, phone_v])
        .await?
        .ok_or_else(|| {
            StoreError::Retryable("a person took this email or phone meanwhile".into())
        })?;
    matched(row)
}

/// Inserts a member with its consents and its two accounts (available, pending).
pub async fn insert_member<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    m: &Member,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO members (id, tenant_id, program_id, person_id, external_id, name, email, phone, birthday, locale,
             time_zone, preferred_channel, attributes, tags, status, card_number, card_token, enrolled_at_us, updated_at_us)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $18)",
        &[
            m.id.as_str().into(),
            tenant.as_str().into(),
            m.program_id.as_str().into(),
            m.person_id.as_str().into(),
            m.external_id.as_deref().into(),
            m.name.as_deref().into(),
            m.email.as_ref().map(|e| e.as_str()).into(),
            m.phone.as_ref().map(|p| p.as_str()).into(),
            m.birthday.map(|d| d.to_string()).into(),
            m.locale.as_ref().map(|l| l.as_str()).into(),
            m.time_zone.as_ref().map(|z| z.as_str()).into(),
            m.preferred_channel.map(|ch| ch.as_str()).into(),
            to_json(&m.attributes),
            to_json(&m.tags),
            m.status.as_str().into(),
            m.card.number.as_str().into(),
            m.card.token.as_str().into(),
            ts(m.enrolled_at),
        ],
    )
    .await?;
    for consent in &m.consents {
        upsert_consent(c, &m.id, consent).await?;
    }
    insert_search_terms(c, m).await?;
    for kind in [AccountKind::MemberAvailable, AccountKind::MemberPending] {
        c.execute(
            "INSERT INTO accounts (id, program_id, member_id, kind, balance) VALUES ($1, $2, $3, $4, 0)",
            &[tally_ledger::account_id(m.id.as_str(), kind).into(), m.program_id.as_str().into(), m.id.as_str().into(), kind.as_str().into()],
        )
        .await?;
    }
    Ok(())
}

/// Writes back the editable profile of a member.
pub async fn update_member<C: Conn>(
    c: &mut C,
    m: &Member,
    now: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE members SET external_id = $2, name = $3, email = $4, phone = $5, birthday = $6, locale = $7, time_zone = $8,
             preferred_channel = $9, attributes = $10, tags = $11, status = $12, card_token = $13, updated_at_us = $14
         WHERE id = $1",
        &[
            m.id.as_str().into(),
            m.external_id.as_deref().into(),
            m.name.as_deref().into(),
            m.email.as_ref().map(|e| e.as_str()).into(),
            m.phone.as_ref().map(|p| p.as_str()).into(),
            m.birthday.map(|d| d.to_string()).into(),
            m.locale.as_ref().map(|l| l.as_str()).into(),
            m.time_zone.as_ref().map(|z| z.as_str()).into(),
            m.preferred_channel.map(|ch| ch.as_str()).into(),
            to_json(&m.attributes),
            to_json(&m.tags),
            m.status.as_str().into(),
            m.card.token.as_str().into(),
            ts(now),
        ],
    )
    .await?;
    c.execute(
        "DELETE FROM member_search_terms WHERE member_id = $1",
        &[m.id.as_str().into()],
    )
    .await?;
    insert_search_terms(c, m).await
}

/// The folded words of the member's name and email, for the console's search box.
async fn insert_search_terms<C: Conn>(c: &mut C, m: &Member) -> Result<(), StoreError> {
    let terms = search::member_terms(m.name.as_deref(), m.email.as_ref().map(|e| e.as_str()));
    if terms.is_empty() {
        return Ok(());
    }
    let rows = (0..terms.len())
        .map(|i| format!("($1, ${}, $2)", i + 3))
        .collect::<Vec<_>>()
        .join(", ");
    let mut params: Vec<Value> = vec![m.program_id.as_str().into(), m.id.as_str().into()];
    params.extend(terms.into_iter().map(Value::from));
    c.execute(
        &format!("INSERT INTO member_search_terms (program_id, term, member_id) VALUES {rows}"),
        &params,
    )
    .await?;
    Ok(())
}

pub async fn upsert_consent<C: Conn>(
    c: &mut C,
    member: &MemberId,
    consent: &Consent,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO consents (member_id, channel, granted, changed_at_us, source) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (member_id, channel) DO UPDATE SET granted = excluded.granted, changed_at_us = excluded.changed_at_us,
             source = excluded.source",
        &[member.as_str().into(), consent.channel.as_str().into(), consent.granted.into(), ts(consent.changed_at), consent.source.as_str().into()],
    )
    .await?;
    Ok(())
}

const MEMBER_COLS: &str = "m.id, m.program_id, m.person_id, m.external_id, m.name, m.email, m.phone, m.birthday, m.locale, \
     m.time_zone, m.preferred_channel, m.attributes, m.tags, m.status, m.card_number, m.card_token, m.enrolled_at_us, \
     (SELECT balance FROM accounts a WHERE a.member_id = m.id AND a.kind = 'member_available'), \
     (SELECT balance FROM accounts a WHERE a.member_id = m.id AND a.kind = 'member_pending'), m.seq, \
     (SELECT p.email = m.email AND p.email_verified FROM persons p WHERE p.id = m.person_id), \
     (SELECT p.phone = m.phone AND p.phone_verified FROM persons p WHERE p.id = m.person_id)";

fn decode(r: &Row) -> Result<(i64, Member), StoreError> {
    let bad = |what: &str| StoreError::Decode(format!("member {what}"));
    let member = Member {
        id: MemberId::from_trusted(r.text(0)?),
        program_id: ProgramId::from_trusted(r.text(1)?),
        person_id: PersonId::from_trusted(r.text(2)?),
        external_id: r.opt_text(3)?,
        name: r.opt_text(4)?,
        email: r.opt_text(5)?.map(Email::from_trusted),
        // NULL when the member has no email (or phone): not verified.
        email_verified: r.opt_boolean(20)? == Some(true),
        phone: r.opt_text(6)?.map(Phone::from_trusted),
        phone_verified: r.opt_boolean(21)? == Some(true),
        birthday: r
            .opt_text(7)?
            .map(|d| d.parse().map_err(|_| bad("birthday")))
            .transpose()?,
        locale: r.opt_text(8)?.map(Locale::from_trusted),
        time_zone: r.opt_text(9)?.map(TimeZoneName::from_trusted),
        preferred_channel: r
            .opt_text(10)?
            .map(|ch| Channel::parse(&ch).map_err(|_| bad("channel")))
            .transpose()?,
        consents: Vec::new(),
        attributes: json(&r.text(11)?)?,
        tags: json(&r.text(12)?)?,
        status: MemberStatus::parse(&r.text(13)?).map_err(|_| bad("status"))?,
        card: Card {
            number: r.text(14)?,
            token: r.text(15)?,
        },
        enrolled_at: to_ts(r.int(16)?)?,
        balance: Balance {
            available: Points(r.int(17)?),
            pending: Points(r.int(18)?),
        },
    };
    Ok((r.int(19)?, member))
}

async fn attach_consents<C: Conn>(c: &mut C, members: &mut [Member]) -> Result<(), StoreError> {
    if members.is_empty() {
        return Ok(());
    }
    let sql = format!(
        "SELECT member_id, channel, granted, changed_at_us, source FROM consents WHERE member_id IN ({}) ORDER BY channel",
        placeholders(1, members.len())
    );
    let ids: Vec<Value> = members.iter().map(|m| m.id.as_str().into()).collect();
    let mut by_member: HashMap<String, Vec<Consent>> = HashMap::new();
    for r in c.query(&sql, &ids).await? {
        let consent = Consent {
            channel: Channel::parse(&r.text(1)?)
                .map_err(|_| StoreError::Decode("consent channel".into()))?,
            granted: r.boolean(2)?,
            changed_at: to_ts(r.int(3)?)?,
            source: r.text(4)?,
        };
        by_member.entry(r.text(0)?).or_default().push(consent);
    }
    for m in members {
        m.consents = by_member.remove(m.id.as_str()).unwrap_or_default();
    }
    Ok(())
}

pub async fn get_member<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &MemberId,
) -> Result<Option<Member>, StoreError> {
    let sql = format!("SELECT {MEMBER_COLS} FROM members m WHERE m.id = $1 AND m.tenant_id = $2");
    let Some(row) = c
        .query_one(&sql, &[id.as_str().into(), tenant.as_str().into()])
        .await?
    else {
        return Ok(None);
    };
    let mut members = [decode(&row)?.1];
    attach_consents(c, &mut members).await?;
    let [member] = members;
    Ok(Some(member))
}

/// How to find a member inside one program.
pub enum MemberKey<'a> {
    Id(&'a MemberId),
    ExternalId(&'a str),
    CardNumber(&'a str),
    CardToken(&'a str),
}

/// Resolves a member reference to an id within a program of the tenant.
pub async fn find_member_id<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    program: &ProgramId,
    key: MemberKey<'_>,
) -> Result<Option<MemberId>, StoreError> {
    let (sql, value) = match key {
        MemberKey::Id(id) => (
            "SELECT id FROM members WHERE tenant_id = $1 AND program_id = $2 AND id = $3",
            id.as_str(),
        ),
        MemberKey::ExternalId(x) => (
            "SELECT id FROM members WHERE tenant_id = $1 AND program_id = $2 AND external_id = $3",
            x,
        ),
        MemberKey::CardNumber(x) => (
            "SELECT id FROM members WHERE tenant_id = $1 AND program_id = $2 AND card_number = $3",
            x,
        ),
        MemberKey::CardToken(x) => (
            "SELECT id FROM members WHERE tenant_id = $1 AND program_id = $2 AND card_token = $3",
            x,
        ),
    };
    let row = c
        .query_one(
            sql,
            &[
                tenant.as_str().into(),
                program.as_str().into(),
                value.into(),
            ],
        )
        .await?;
    row.map(|r| Ok(MemberId::from_trusted(r.text(0)?)))
        .transpose()
}

/// Filters for the member list; all optional, combined with AND.
#[derive(Clone, Debug, Default)]
pub struct MemberFilter {
    pub email: Option<String>,
    pub phone: Option<String>,
    pub external_id: Option<String>,
    pub card_number: Option<String>,
    pub status: Option<MemberStatus>,
    /// Words the name or email must start with (each word of the query, folded; at most
    /// [`MAX_SEARCH_WORDS`]).
    pub search: Vec<String>,
}

/// Most words of a search query that are matched; the rest are ignored.
pub const MAX_SEARCH_WORDS: usize = 3;

pub async fn list_members<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    program: &ProgramId,
    filter: &MemberFilter,
    after_seq: Option<i64>,
    limit: Option<i64>,
) -> Result<Page<Member>, StoreError> {
    let limit = page_limit(limit);
    let (sql, params) = list_members_query(tenant, program, filter, after_seq, limit);
    let rows: Vec<(i64, Member)> = c
        .query(&sql, &params)
        .await?
        .iter()
        .map(decode)
        .collect::<Result<_, _>>()?;
    let mut page = Page::from_rows(rows, limit);
    attach_consents(c, &mut page.items).await?;
    Ok(page)
}

/// The statement [`list_members`] runs (public so a test can look at its query plan).
pub fn list_members_query(
    tenant: &TenantId,
    program: &ProgramId,
    filter: &MemberFilter,
    after_seq: Option<i64>,
    limit: i64,
) -> (String, Vec<Value>) {
    let mut params: Vec<Value> = vec![
        tenant.as_str().into(),
        program.as_str().into(),
        after_seq.unwrap_or(0).into(),
    ];
    // A search starts from the terms: each word is an index range scan, the words intersect, and
    // only the members found are read (rather than walking every member in order and probing).
    let mut hits = Vec::new();
    for word in filter.search.iter().take(MAX_SEARCH_WORDS) {
        params.push(word.as_str().into());
        params.push(search::prefix_end(word).into());
        hits.push(format!(
            "SELECT t.member_id FROM member_search_terms t WHERE t.program_id = $2 AND t.term >= ${} AND t.term < ${}",
            params.len() - 1,
            params.len()
        ));
    }
    let from = if hits.is_empty() {
        "members m".to_owned()
    } else {
        // CROSS JOIN: SQLite then keeps the hits as the outer loop (PostgreSQL plans it freely).
        format!("({}) hits CROSS JOIN members m", hits.join(" INTERSECT "))
    };
    let join = if hits.is_empty() {
        ""
    } else {
        " AND m.id = hits.member_id"
    };
    let mut sql = format!(
        "SELECT {MEMBER_COLS} FROM {from} WHERE m.tenant_id = $1 AND m.program_id = $2 AND m.seq > $3{join}"
    );
    let conditions = [
        ("m.email", filter.email.as_deref()),
        ("m.phone", filter.phone.as_deref()),
        ("m.external_id", filter.external_id.as_deref()),
        ("m.card_number", filter.card_number.as_deref()),
        ("m.status", filter.status.map(|s| s.as_str())),
    ];
    for (column, value) in conditions {
        if let Some(value) = value {
            params.push(value.into());
            sql.push_str(&format!(" AND {column} = ${}", params.len()));
        }
    }
    params.push((limit + 1).into());
    sql.push_str(&format!(" ORDER BY m.seq LIMIT ${}", params.len()));
    (sql, params)
}

/// A member's account of one kind: its id and cached balance.
pub async fn member_account<C: Conn>(
    c: &mut C,
    member: &MemberId,
    kind: AccountKind,
) -> Result<(String, Points), StoreError> {
    let id = tally_ledger::account_id(member.as_str(), kind);
    let row = c
        .query_one(
            "SELECT balance FROM accounts WHERE id = $1",
            &[id.as_str().into()],
        )
        .await?
        .ok_or_else(|| {
            StoreError::Decode(format!("member {member} has no {} account", kind.as_str()))
        })?;
    Ok((id, Points(row.int(0)?)))
}

pub async fn count_members<C: Conn>(c: &mut C, program: &ProgramId) -> Result<i64, StoreError> {
    let row = c
        .query_one(
            "SELECT COUNT(*) FROM members WHERE program_id = $1",
            &[program.as_str().into()],
        )
        .await?;
    row.map_or(Ok(0), |r| r.int(0))
}
