//! The wallet's sign-in: one-time codes by email and the person's sessions. These steps belong
//! to no tenant (a person's wallet spans them); the caller runs them as the wallet.

use crate::StepResult;
use crate::commands::Ctx;
use serde_json::{Value, json};
use tally_domain::text::Email;
use tally_store::Conn;
use tally_store::queries::wallet;

/// The tenant id wallet steps run under (they touch no tenant's data but the person's own).
pub const WALLET_TENANT: &str = "ten_wallet";
/// A new code for the same email at most this often.
pub const CODE_GAP: jiff::SignedDuration = jiff::SignedDuration::from_secs(30);

/// Stores a code for the email if a person has it. The answer says whether a code should be
/// sent; the page says the same thing either way, so nobody learns who has a card.
pub async fn issue_code<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    email: &Email,
    code_sha256: &str,
    ttl: jiff::SignedDuration,
) -> StepResult<Value> {
    if wallet::person_by_email(c, email).await?.is_none() {
        return Ok(json!({ "send": false }));
    }
    let gap_us = CODE_GAP.as_micros() as i64;
    let stored = wallet::put_code(c, email, code_sha256, ctx.now, ctx.now + ttl, gap_us).await?;
    Ok(json!({ "send": stored }))
}

pub async fn start_session<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    email: &Email,
    code_sha256: &str,
    token_sha256: &str,
    csrf_token: &str,
    ttl: jiff::SignedDuration,
) -> StepResult<Value> {
    // A wrong code is an answer, not a refusal: a refusal would roll back the attempt it counts.
    if !wallet::use_code(c, email, code_sha256, ctx.now).await? {
        return Ok(json!({ "signed_in": false }));
    }
    let Some(person) = wallet::person_by_email(c, email).await? else {
        return Ok(json!({ "signed_in": false }));
    };
    wallet::mark_email_verified(c, &person).await?;
    wallet::insert_session(c, token_sha256, &person, csrf_token, ctx.now, ctx.now + ttl).await?;
    Ok(json!({ "signed_in": true, "person_id": person }))
}

pub async fn end_session<C: Conn>(c: &mut C, ctx: &Ctx, token_sha256: &str) -> StepResult<Value> {
    wallet::end_session(c, token_sha256, ctx.now).await?;
    Ok(json!({ "ended": true }))
}
