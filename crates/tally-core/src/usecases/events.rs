//! Custom events: a program declares event types with a property schema, then integrators post
//! events of those types; the program's `event` rules decide what each earns.
//!
//! An event's `idempotency_key` is a business key, like a purchase's order id: the same key with
//! the same content answers with the original answer; with other content it is a 409. It is
//! looked up before the event is checked against its type, so a retry gets its original answer
//! even if the type's schema changed since.

use super::{load_member, load_program, require_active, resolve_member};
use crate::StepResult;
use crate::awards::AwardContext;
use crate::commands::Ctx;
use crate::earning::{self, Facts};
use crate::usecases::admin::record;
use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use tally_domain::events::{EventTypeDoc, NewEvent};
use tally_domain::ids::{EventId, MemberId, ProgramId};
use tally_domain::{DomainError, Points};
use tally_rules::{CustomFacts, Trigger};
use tally_store::queries::events::{self, EventRow, EventTypeRow};
use tally_store::{Conn, StoreError};

/// Most event types one program may declare: the list is read whole.
pub const MAX_EVENT_TYPES: i64 = 100;

/// An event type as the API shows it: the document with when it was created and last changed.
pub fn type_view(row: &EventTypeRow) -> Value {
    let mut out = row.doc.to_json();
    if let Some(o) = out.as_object_mut() {
        o.insert("created_at".into(), json!(row.created_at));
        o.insert("updated_at".into(), json!(row.updated_at));
    }
    out
}

/// An event as the API lists it.
pub fn event_view(e: &EventRow) -> Value {
    json!({
        "id": e.id,
        "program_id": e.program_id,
        "member_id": e.member_id,
        "type": e.event_type,
        "properties": e.properties,
        "idempotency_key": e.idempotency_key,
        "occurred_at": e.occurred_at,
        "recorded_at": e.recorded_at,
    })
}

/// Declares an event type, or replaces its schema. Events already recorded keep what they were
/// recorded with; rules that read a property the new schema drops simply stop matching.
pub async fn put_type<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    doc: &EventTypeDoc,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program).await?;
    let before = events::get_type(c, &program.id, doc.name.as_str()).await?;
    if before.is_none() && events::count_types(c, &program.id).await? >= MAX_EVENT_TYPES {
        return Err(DomainError::invalid(
            "/name",
            format!("a program declares at most {MAX_EVENT_TYPES} event types"),
        )
        .into());
    }
    if before.is_some() {
        still_fits_rules(c, &program.id, doc).await?;
    }
    events::put_type(c, &program.id, doc, ctx.now).await?;
    let action = if before.is_some() {
        "event_type.updated"
    } else {
        "event_type.created"
    };
    record(
        c,
        ctx,
        action,
        program.id.as_str(),
        json!({ "event_type": doc.to_json() }),
    )
    .await?;
    let row = events::get_type(c, &program.id, doc.name.as_str())
        .await?
        .ok_or_else(|| StoreError::Decode("the event type just written is gone".into()))?;
    Ok(type_view(&row))
}

/// A new declaration of a type must still have every property its active rules read, typed as
/// they read it (a paused rule is checked again when it is resumed).
async fn still_fits_rules<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    doc: &EventTypeDoc,
) -> StepResult<()> {
    for (row, rule) in earning::active_rule_docs(c, program).await? {
        if rule.event_type.as_ref() != Some(&doc.name) {
            continue;
        }
        if let Err(DomainError::Invalid { fields }) = rule.check_event_properties(doc) {
            let problems: Vec<String> = fields
                .iter()
                .map(|f| format!("{}: {}", f.pointer, f.message))
                .collect();
            return Err(DomainError::invalid(
                "/properties",
                format!(
                    "the active rule `{}` ({}) would no longer check: {}; change or pause it first",
                    rule.name,
                    row.id,
                    problems.join("; ")
                ),
            )
            .into());
        }
    }
    Ok(())
}

/// "declared: a, b" or how to declare one, for messages about an unknown type.
pub(crate) async fn declared<C: Conn>(c: &mut C, program: &ProgramId) -> StepResult<String> {
    let names: Vec<String> = events::list_types(c, program)
        .await?
        .into_iter()
        .map(|t| t.doc.name.to_string())
        .collect();
    Ok(if names.is_empty() {
        "none is declared yet: declare it with PUT /programs/{program}/event-types/{name}".into()
    } else {
        format!("declared: {}", names.join(", "))
    })
}

/// The refusal for an event type the program does not declare, at `pointer`.
pub(crate) async fn undeclared<C: Conn>(
    c: &mut C,
    program: &ProgramId,
    pointer: &str,
    name: &str,
) -> StepResult<DomainError> {
    Ok(DomainError::invalid(
        pointer,
        format!(
            "no event type `{name}` is declared in this program; {}",
            declared(c, program).await?
        ),
    ))
}

/// Records an event and awards what the program's rules for its type give.
pub async fn record_event<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program_id: &ProgramId,
    e: &NewEvent,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program_id).await?;
    let member_id = resolve_member(c, ctx, program_id, &e.member).await?;
    let content = content_hash(e, &member_id);
    if let Some(key) = &e.idempotency_key
        && let Some((stored, answer)) = events::find_by_key(c, program_id, key).await?
    {
        if stored == content {
            return Ok(
                serde_json::from_str(&answer).map_err(|e| StoreError::Decode(e.to_string()))?
            );
        }
        return Err(DomainError::conflict(
            "event_conflict",
            format!("an event with idempotency_key `{key}` was recorded with other content"),
        )
        .into());
    }
    let Some(event_type) = events::get_type(c, program_id, e.event_type.as_str()).await? else {
        return Err(undeclared(c, program_id, "/type", e.event_type.as_str())
            .await?
            .into());
    };
    let properties = event_type
        .doc
        .validate_properties(&Value::Object(e.properties.clone()))?;
    if e.occurred_at.is_some_and(|at| at > ctx.now) {
        return Err(DomainError::invalid("/occurred_at", "must not be in the future").into());
    }
    let member = load_member(c, ctx, &member_id).await?;
    require_active(&member)?;
    let occurred_at = e.occurred_at.unwrap_or(ctx.now);
    let event_id = EventId::generate();

    let compiled = earning::active_rules(c, &program).await?;
    let (mut given, mut awards, mut available) =
        (Points::ZERO, Vec::new(), member.balance.available);
    let mut granted = Vec::new();
    if compiled.set.for_event_type(e.event_type.as_str()) {
        let profile = earning::profile(c, &compiled, &member_id).await?;
        let tier = crate::tiers::current_name(c, compiled.tier_plan.as_ref(), &member_id).await?;
        let facts = Facts {
            member: &member_id,
            profile: &profile,
            tier: tier.as_deref(),
            purchase: None,
            base_points: Points::ZERO,
            occurred_at,
        };
        let mut event = facts.event(&program, &compiled, Trigger::Event);
        event.custom = Some(CustomFacts {
            event_type: e.event_type.as_str(),
            properties: &properties,
        });
        let outcome = earning::decide(c, &compiled, &event, &member_id, true).await?;
        let at = AwardContext {
            program: &program.id,
            member: &member_id,
            order_id: None,
            purchase_id: None,
            event_id: Some(&event_id),
            return_id: None,
            occurred_at,
        };
        let (points, balance, grants) =
            crate::awards::post_awards(c, ctx, &compiled, &outcome, &at).await?;
        granted = grants;
        given = points;
        available = balance.unwrap_or(available);
        awards = crate::awards::award_answers(&outcome);
    }
    let answer = json!({
        "event_id": event_id,
        "type": e.event_type.as_str(),
        "member_id": member_id,
        "points_earned": given,
        "rule_awards": awards,
        "granted": granted,
        "balance": { "available": available, "pending": member.balance.pending },
    });
    let started = tally_domain::journeys::Trigger::Event(e.event_type.to_string());
    let cause = event_id.to_string();
    crate::usecases::journeys::enter(c, ctx, &compiled.journeys, &member_id, &started, &cause)
        .await?;
    let row = EventRow {
        id: event_id,
        program_id: program.id.clone(),
        member_id,
        event_type: e.event_type.to_string(),
        properties,
        idempotency_key: e.idempotency_key.clone(),
        occurred_at,
        recorded_at: ctx.now,
    };
    events::insert(c, &row, &content, &answer).await?;
    Ok(answer)
}

/// What makes two posts of one idempotency key the same event: member, type, properties as
/// sent, and the time given (keys of a JSON object are sorted, so their order does not count).
fn content_hash(e: &NewEvent, member: &MemberId) -> String {
    let properties: Map<String, Value> = e.properties.clone();
    let canonical = json!({
        "member": member,
        "type": e.event_type.as_str(),
        "properties": properties,
        "occurred_at": e.occurred_at,
    });
    let digest = Sha256::digest(canonical.to_string().as_bytes());
    tally_domain::text::hex(&digest)
}
