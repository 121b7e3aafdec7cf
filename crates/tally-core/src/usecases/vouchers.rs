//! Voucher pools and their codes: create a pool, add codes (generated or imported, all or
//! nothing), hand a personal code to a member, take a code for an order and give it back.
//!
//! Taking a code is a conditional write (`… WHERE status = 'available'`), so of any number of
//! concurrent attempts exactly one succeeds; a retry for the same order gets the original
//! answer. An unknown code and another member's code get the same answer, so probing tells a
//! guesser nothing (and each such failure counts towards a lock-out: see `voucher_reads.rs`).

use super::{load_program, member_key, resolve_member};
use crate::StepResult;
use crate::commands::Ctx;
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::Timestamp;
use tally_domain::error::Fields;
use tally_domain::ids::{ProgramId, TenantId, VoucherPoolId};
use tally_domain::inputs::MemberRef;
use tally_domain::program::Program;
use tally_domain::vouchers::{
    CheckedImport, NewCodes, PoolInput, PoolPatch, VoucherRelease, VoucherUse, check_imported,
    generate_code,
};
use tally_store::Conn;
use tally_store::queries::members::find_member_id;
use tally_store::queries::vouchers::{self as store, CodeRow, PoolRow};

/// Most problems named when an upload is refused.
const MAX_PROBLEMS: usize = 100;

/// How a pool is shown.
pub(crate) fn pool_view(p: &PoolRow) -> Value {
    json!({
        "id": p.id,
        "program_id": p.program_id,
        "name": p.name,
        "description": p.description,
        "discount": p.terms.discount,
        "min_basket_minor": p.terms.min_basket_minor,
        "categories": p.terms.categories,
        "valid_from": p.terms.valid_from,
        "valid_until": p.terms.valid_until,
        "prefix": p.prefix,
        "status": p.status,
        "created_at": p.created_at,
        "updated_at": p.updated_at,
    })
}

/// How a code is shown to the operator.
pub(crate) fn code_view(c: &CodeRow) -> Value {
    json!({
        "code": c.shown,
        "pool_id": c.pool_id,
        "member_id": c.member_id,
        "status": c.status,
        "order_id": c.order_id,
        "discount_minor": c.discount_minor,
        "redeemed_at": c.redeemed_at,
        "created_at": c.created_at,
    })
}

async fn load_pool<C: Conn>(c: &mut C, ctx: &Ctx, id: &VoucherPoolId) -> StepResult<PoolRow> {
    store::get_pool(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("voucher pool").into())
}

pub async fn create_pool<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    input: &PoolInput,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    let pool = PoolRow {
        id: VoucherPoolId::generate(),
        program_id: program.clone(),
        name: input.name.clone(),
        description: input.description.clone(),
        terms: input.terms.clone(),
        prefix: input.prefix.clone(),
        status: "active".into(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    store::insert_pool(c, &ctx.tenant, &pool).await?;
    record(
        c,
        ctx,
        "voucher_pool.created",
        pool.id.as_str(),
        json!({ "name": pool.name }),
    )
    .await?;
    Ok(pool_view(&pool))
}

pub async fn update_pool<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &VoucherPoolId,
    patch: &PoolPatch,
) -> StepResult<Value> {
    let mut pool = load_pool(c, ctx, id).await?;
    if let Some(name) = &patch.name {
        pool.name = name.clone();
    }
    if let Some(description) = &patch.description {
        pool.description = description.clone();
    }
    if let Some(status) = &patch.status {
        pool.status = status.clone();
    }
    if let Some(from) = patch.valid_from {
        pool.terms.valid_from = from;
    }
    if let Some(until) = patch.valid_until {
        pool.terms.valid_until = until;
    }
    if let (Some(from), Some(until)) = (pool.terms.valid_from, pool.terms.valid_until)
        && until <= from
    {
        return Err(DomainError::invalid("/valid_until", "must be after valid_from").into());
    }
    pool.updated_at = ctx.now;
    store::update_pool(c, &pool).await?;
    record(
        c,
        ctx,
        "voucher_pool.updated",
        pool.id.as_str(),
        json!({ "name": pool.name, "status": pool.status }),
    )
    .await?;
    Ok(pool_view(&pool))
}

/// Adds codes to an active pool. Generated codes that clash with a code already in the program
/// are drawn again; an import is refused whole when any row is bad or already in the program,
/// naming each (the first [`MAX_PROBLEMS`]). Answers `{"pool_id", "added"}`.
pub async fn add_codes<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &VoucherPoolId,
    codes: &NewCodes,
) -> StepResult<Value> {
    let pool = load_pool(c, ctx, id).await?;
    if pool.status != "active" {
        return Err(DomainError::refused(
            "voucher_pool_archived",
            "the pool is archived; resume it before adding codes",
        )
        .into());
    }
    let added = match codes {
        NewCodes::Generate(count) => generate(c, ctx, &pool, *count).await?,
        NewCodes::Import(raw) => import(c, ctx, &pool, raw).await?,
    };
    record(
        c,
        ctx,
        "voucher_pool.codes_added",
        pool.id.as_str(),
        json!({ "added": added, "how": match codes { NewCodes::Generate(_) => "generated", NewCodes::Import(_) => "imported" } }),
    )
    .await?;
    Ok(json!({ "pool_id": pool.id, "added": added }))
}

async fn generate<C: Conn>(c: &mut C, ctx: &Ctx, pool: &PoolRow, count: usize) -> StepResult<u64> {
    let mut added = 0;
    // With 64 random bits a clash is rare; a few rounds settle any that happen.
    for _ in 0..5 {
        let missing = count - added as usize;
        if missing == 0 {
            break;
        }
        // In code order: the unique index then grows at its end instead of at random pages
        // (about twice as fast for a million codes); a clash within the batch is dropped here.
        let mut batch: Vec<(String, String)> =
            (0..missing).map(|_| generate_code(&pool.prefix)).collect();
        batch.sort_unstable();
        batch.dedup_by(|a, b| a.0 == b.0);
        added += store::insert_codes(c, &pool.program_id, &pool.id, None, &batch, ctx.now).await?;
    }
    Ok(added)
}

async fn import<C: Conn>(c: &mut C, ctx: &Ctx, pool: &PoolRow, raw: &[String]) -> StepResult<u64> {
    let CheckedImport {
        mut codes,
        problems,
    } = check_imported(raw);
    codes.sort_unstable();
    let mut f = Fields::new();
    for p in problems.iter().take(MAX_PROBLEMS) {
        f.push(
            format!("/codes/{}", p.row - 1),
            format!("`{}` {}", p.given, p.problem),
        );
    }
    let canonical: Vec<String> = codes.iter().map(|(code, _)| code.clone()).collect();
    let taken = store::existing_codes(c, &pool.program_id, &canonical).await?;
    if !taken.is_empty() {
        let taken: std::collections::HashSet<&str> = taken.iter().map(String::as_str).collect();
        for (i, given) in raw.iter().enumerate() {
            if f.len() >= MAX_PROBLEMS {
                break;
            }
            let code = tally_domain::vouchers::canonical_code(given);
            if taken.contains(code.as_str()) {
                f.push(
                    format!("/codes/{i}"),
                    format!("`{given}` is already a code of this program"),
                );
            }
        }
    }
    f.finish()?;
    Ok(store::insert_codes(c, &pool.program_id, &pool.id, None, &codes, ctx.now).await?)
}

/// Hands the pool's next free code to a member: their personal code (only they can use it).
pub async fn assign<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &VoucherPoolId,
    member: &MemberRef,
) -> StepResult<Value> {
    let pool = load_pool(c, ctx, id).await?;
    if pool.status != "active" {
        return Err(DomainError::refused(
            "voucher_pool_archived",
            "the pool is archived: it hands out no codes",
        )
        .into());
    }
    let member = resolve_member(c, ctx, &pool.program_id, member).await?;
    let code = store::assign_code(c, &pool.id, &member)
        .await?
        .ok_or_else(|| {
            DomainError::refused(
                "voucher_pool_empty",
                "the pool has no free code left; add codes first",
            )
        })?;
    record(
        c,
        ctx,
        "voucher.assigned",
        pool.id.as_str(),
        json!({ "member_id": member, "code": code.shown }),
    )
    .await?;
    Ok(code_view(&code))
}

/// A code that may be used by this request: the code, its pool and the discount the basket
/// gets. Shared by `validate` (a read) and `redeem`.
pub(crate) struct Usable {
    pub code: CodeRow,
    pub pool: PoolRow,
    pub discount_minor: i64,
}

/// The answer to a code that does not exist, or that is another member's: the same for both.
pub(crate) fn unknown_code() -> DomainError {
    DomainError::not_found("voucher code")
}

/// Whether `r`'s code may be used on its basket, by its member, at `now`.
pub(crate) async fn check_use<C: Conn>(
    c: &mut C,
    tenant: &TenantId,
    program: &Program,
    r: &VoucherUse,
    now: Timestamp,
) -> StepResult<Usable> {
    if r.basket.total.currency != program.currency {
        return Err(DomainError::invalid(
            "/basket/total/currency",
            format!("must be {}", program.currency.code()),
        )
        .into());
    }
    let code = store::find_code(c, &program.id, &r.code)
        .await?
        .ok_or_else(unknown_code)?;
    if let Some(owner) = &code.member_id {
        let member = match &r.member {
            Some(m) => find_member_id(c, tenant, &program.id, member_key(m)).await?,
            None => None,
        };
        if member.as_ref() != Some(owner) {
            return Err(unknown_code().into());
        }
    }
    let pool = store::get_pool(c, tenant, &code.pool_id)
        .await?
        .ok_or_else(unknown_code)?;
    if code.status == "redeemed" && code.order_id.is_some() && code.order_id == r.order_id {
        // The same order again (a retry): what it got then, whatever the terms say now.
        let discount_minor = code.discount_minor.unwrap_or(0);
        return Ok(Usable {
            code,
            pool,
            discount_minor,
        });
    }
    if code.status == "redeemed" {
        return Err(DomainError::conflict(
            "voucher_used",
            format!(
                "this code was used{}",
                code.redeemed_at
                    .map(|at| format!(" at {at}"))
                    .unwrap_or_default()
            ),
        )
        .into());
    }
    if pool.status != "active" {
        return Err(DomainError::refused(
            "voucher_not_applicable",
            "this code's campaign has ended",
        )
        .into());
    }
    let discount_minor = pool.terms.discount_for(&r.basket, now)?;
    Ok(Usable {
        code,
        pool,
        discount_minor,
    })
}

/// The answer to a use of a code.
pub(crate) fn use_view(u: &Usable, currency: &str, order_id: Option<&str>) -> Value {
    let mut v = json!({
        "code": u.code.shown,
        "pool_id": u.pool.id,
        "pool_name": u.pool.name,
        "discount_minor": u.discount_minor,
        "currency": currency,
    });
    if let Some(order) = order_id {
        v["order_id"] = json!(order);
    }
    v
}

/// Takes the code for the order: exactly once, whatever the retries and races.
pub async fn redeem<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    r: &VoucherUse,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program).await?;
    let order_id = r.order_id.as_deref().expect("redeem parses an order id");
    let usable = check_use(c, &ctx.tenant, &program, r, ctx.now).await?;
    if usable.code.status == "redeemed" {
        // The same order again (a retry): the original answer.
        let mut answer = use_view(&usable, program.currency.code(), Some(order_id));
        answer["redeemed_at"] = json!(usable.code.redeemed_at);
        return Ok(answer);
    }
    let taken = store::take_code(
        c,
        &program.id,
        &usable.code.code,
        order_id,
        usable.discount_minor,
        ctx.now,
    )
    .await?;
    if !taken {
        return Err(DomainError::conflict("voucher_used", "this code was just used").into());
    }
    record(
        c,
        ctx,
        "voucher.redeemed",
        usable.pool.id.as_str(),
        json!({ "code": usable.code.shown, "order_id": order_id, "discount_minor": usable.discount_minor }),
    )
    .await?;
    let mut answer = use_view(&usable, program.currency.code(), Some(order_id));
    answer["redeemed_at"] = json!(ctx.now);
    Ok(answer)
}

/// Gives the code back when its order is cancelled. Releasing a code that is already free is
/// answered as done (a retry); one taken by another order is a conflict.
pub async fn release<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    r: &VoucherRelease,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program).await?;
    let code = store::find_code(c, &program.id, &r.code)
        .await?
        .ok_or_else(unknown_code)?;
    match code.order_id.as_deref() {
        Some(order) if order == r.order_id => {
            store::release_code(c, &program.id, &code.code, &r.order_id).await?;
            record(
                c,
                ctx,
                "voucher.released",
                code.pool_id.as_str(),
                json!({ "code": code.shown, "order_id": r.order_id }),
            )
            .await?;
        }
        Some(_) => {
            return Err(DomainError::conflict(
                "voucher_other_order",
                "this code was used for another order",
            )
            .into());
        }
        None => {}
    }
    Ok(json!({ "code": code.shown, "status": "available" }))
}

/// Counts one failed look-up against each subject (see `voucher_reads.rs`).
pub async fn record_failure<C: Conn>(
    c: &mut C,
    subjects: &[String],
    window_start: Timestamp,
) -> StepResult<Value> {
    store::add_failure(c, subjects, window_start).await?;
    Ok(json!({ "recorded": subjects.len() }))
}
