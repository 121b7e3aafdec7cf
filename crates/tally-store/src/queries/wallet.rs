//! The member wallet: one-time sign-in codes, sessions of a person, and the person's cards in
//! every program (of any tenant) they belong to.

use super::ts;
use crate::{Conn, StoreError};
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, PersonId, ProgramId, TenantId};
use tally_domain::text::Email;

/// Wrong tries after which a code is used up.
pub const MAX_CODE_ATTEMPTS: i64 = 5;

/// Stores a new code for `email`, replacing any earlier one, unless one was made less than
/// `min_gap_us` ago (then nothing changes and `false` comes back: asking again does not spam).
pub async fn put_code<C: Conn>(
    c: &mut C,
    email: &Email,
    code_sha256: &str,
    now: Timestamp,
    expires: Timestamp,
    min_gap_us: i64,
) -> Result<bool, StoreError> {
    let n = c
        .execute(
            "INSERT INTO wallet_codes (email, code_sha256, created_at_us, expires_at_us, attempts) VALUES ($1, $2, $3, $4, 0)
             ON CONFLICT (email) DO UPDATE SET code_sha256 = excluded.code_sha256, created_at_us = excluded.created_at_us,
                 expires_at_us = excluded.expires_at_us, attempts = 0, used_at_us = NULL
             WHERE wallet_codes.created_at_us <= $5",
            &[email.as_str().into(), code_sha256.into(), ts(now), ts(expires), (now.as_microsecond() - min_gap_us).into()],
        )
        .await?;
    Ok(n == 1)
}

/// Uses up the code if it matches, is unexpired, unused and not locked; otherwise counts a
/// wrong attempt. Conditional writes, so a code signs in once even when sent twice at once.
pub async fn use_code<C: Conn>(
    c: &mut C,
    email: &Email,
    code_sha256: &str,
    now: Timestamp,
) -> Result<bool, StoreError> {
    let used = c
        .execute(
            "UPDATE wallet_codes SET used_at_us = $3 WHERE email = $1 AND code_sha256 = $2 AND used_at_us IS NULL
                 AND expires_at_us > $3 AND attempts < $4",
            &[email.as_str().into(), code_sha256.into(), ts(now), MAX_CODE_ATTEMPTS.into()],
        )
        .await?;
    if used == 1 {
        return Ok(true);
    }
    c.execute(
        "UPDATE wallet_codes SET attempts = attempts + 1 WHERE email = $1 AND used_at_us IS NULL",
        &[email.as_str().into()],
    )
    .await?;
    Ok(false)
}

pub async fn person_by_email<C: Conn>(
    c: &mut C,
    email: &Email,
) -> Result<Option<PersonId>, StoreError> {
    let row = c
        .query_one(
            "SELECT id FROM persons WHERE email = $1",
            &[email.as_str().into()],
        )
        .await?;
    row.map(|r| Ok(PersonId::from_trusted(r.text(0)?)))
        .transpose()
}

/// Records that the person owns their email: they signed in with a code sent to it.
pub async fn mark_email_verified<C: Conn>(c: &mut C, person: &PersonId) -> Result<(), StoreError> {
    c.execute(
        "UPDATE persons SET email_verified = $2 WHERE id = $1 AND NOT email_verified",
        &[person.as_str().into(), true.into()],
    )
    .await?;
    Ok(())
}

pub async fn insert_session<C: Conn>(
    c: &mut C,
    token_sha256: &str,
    person: &PersonId,
    csrf_token: &str,
    now: Timestamp,
    expires: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "INSERT INTO wallet_sessions (token_sha256, person_id, csrf_token, created_at_us, expires_at_us) VALUES ($1, $2, $3, $4, $5)",
        &[token_sha256.into(), person.as_str().into(), csrf_token.into(), ts(now), ts(expires)],
    )
    .await?;
    Ok(())
}

/// The person and CSRF token of a live session.
pub async fn find_session<C: Conn>(
    c: &mut C,
    token_sha256: &str,
    now: Timestamp,
) -> Result<Option<(PersonId, String)>, StoreError> {
    let row = c
        .query_one(
            "SELECT person_id, csrf_token FROM wallet_sessions WHERE token_sha256 = $1 AND ended_at_us IS NULL AND expires_at_us > $2",
            &[token_sha256.into(), ts(now)],
        )
        .await?;
    row.map(|r| Ok((PersonId::from_trusted(r.text(0)?), r.text(1)?)))
        .transpose()
}

pub async fn end_session<C: Conn>(
    c: &mut C,
    token_sha256: &str,
    now: Timestamp,
) -> Result<(), StoreError> {
    c.execute(
        "UPDATE wallet_sessions SET ended_at_us = $2 WHERE token_sha256 = $1 AND ended_at_us IS NULL",
        &[token_sha256.into(), ts(now)],
    )
    .await?;
    Ok(())
}

/// One card in the wallet: a membership and the program (of whichever tenant) it belongs to.
#[derive(Clone, Debug)]
pub struct Membership {
    pub member: MemberId,
    pub tenant: TenantId,
    pub program: ProgramId,
}

/// Every membership of a person that is not closed, oldest first.
pub async fn memberships<C: Conn>(
    c: &mut C,
    person: &PersonId,
) -> Result<Vec<Membership>, StoreError> {
    c.query(
        "SELECT id, tenant_id, program_id FROM members WHERE person_id = $1 AND status <> 'closed' ORDER BY seq",
        &[person.as_str().into()],
    )
    .await?
    .iter()
    .map(|r| {
        Ok(Membership {
            member: MemberId::from_trusted(r.text(0)?),
            tenant: TenantId::from_trusted(r.text(1)?),
            program: ProgramId::from_trusted(r.text(2)?),
        })
    })
    .collect()
}
