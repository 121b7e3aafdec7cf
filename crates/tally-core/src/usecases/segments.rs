//! Segments: create, replace, archive and resume, upload a static segment's members, and apply
//! the entries and exits an evaluation found (see `crate::segments`).

use super::admin::record;
use super::load_program;
use crate::StepResult;
use crate::commands::Ctx;
use crate::segments::SegmentChange;
use serde_json::{Value, json};
use std::collections::{BTreeMap, BTreeSet};
use tally_domain::DomainError;
use tally_domain::ids::{MemberId, ProgramId, SegmentId};
use tally_domain::inputs::MemberRef;
use tally_domain::segments::SegmentInput;
use tally_store::Conn;
use tally_store::queries::members::{self as member_rows, MemberKey};
use tally_store::queries::segments::{self as store, SegmentRow};

pub const STATUSES: [&str; 2] = ["active", "archived"];

/// A segment as the API shows it.
pub fn view(s: &SegmentRow) -> Value {
    json!({
        "id": s.id,
        "program_id": s.program_id,
        "key": s.key,
        "name": s.name,
        "description": s.description,
        "kind": s.kind,
        "definition": s.definition,
        "status": s.status,
        "size": s.size,
        "evaluated_at": s.evaluated_at,
        "created_at": s.created_at,
        "updated_at": s.updated_at,
    })
}

async fn load<C: Conn>(c: &mut C, ctx: &Ctx, id: &SegmentId) -> StepResult<SegmentRow> {
    store::get(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("segment").into())
}

pub async fn create<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    input: &SegmentInput,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program).await?;
    if store::get_by_key(c, &program.id, &input.key)
        .await?
        .is_some()
    {
        return Err(DomainError::conflict(
            "segment_key_taken",
            format!("the program already has a segment with key `{}`", input.key),
        )
        .into());
    }
    let row = SegmentRow {
        id: SegmentId::generate(),
        program_id: program.id.clone(),
        key: input.key.clone(),
        name: input.name.clone(),
        description: input.description.clone(),
        kind: if input.definition.is_some() {
            "dynamic"
        } else {
            "static"
        }
        .into(),
        definition: input.definition.as_ref().map(|d| d.to_json()),
        status: "active".into(),
        size: 0,
        evaluated_at: None,
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    store::insert(c, &ctx.tenant, &row).await?;
    record(c, ctx, "segment.created", row.id.as_str(), view(&row)).await?;
    Ok(view(&row))
}

/// A new name, description or definition; the key and the kind stay.
pub async fn replace<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &SegmentId,
    input: &SegmentInput,
) -> StepResult<Value> {
    let mut row = load(c, ctx, id).await?;
    if input.key != row.key {
        return Err(DomainError::invalid(
            "/key",
            format!("a segment's key never changes (it is `{}`)", row.key),
        )
        .into());
    }
    let kind = if input.definition.is_some() {
        "dynamic"
    } else {
        "static"
    };
    if kind != row.kind {
        return Err(DomainError::invalid(
            "/definition",
            format!("a segment's kind never changes (this one is {})", row.kind),
        )
        .into());
    }
    row.name = input.name.clone();
    row.description = input.description.clone();
    row.definition = input.definition.as_ref().map(|d| d.to_json());
    row.updated_at = ctx.now;
    store::update(c, &row).await?;
    record(c, ctx, "segment.updated", row.id.as_str(), view(&row)).await?;
    Ok(view(&row))
}

/// Archives a segment (it is no longer evaluated and rules no longer see it) or makes it
/// active again.
pub async fn set_status<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &SegmentId,
    status: &str,
) -> StepResult<Value> {
    let mut row = load(c, ctx, id).await?;
    if status == "archived" {
        crate::usecases::rules::refuse_if_segment_used(c, &row.program_id, &row.key).await?;
    }
    row.status = status.to_string();
    row.updated_at = ctx.now;
    store::update(c, &row).await?;
    record(
        c,
        ctx,
        "segment.status",
        row.id.as_str(),
        json!({ "status": status }),
    )
    .await?;
    Ok(view(&row))
}

/// The day a change counts for in the segment's size history: the program's local day.
async fn local_day<C: Conn>(c: &mut C, ctx: &Ctx, program: &ProgramId) -> StepResult<String> {
    let program = load_program(c, ctx, program).await?;
    let tz = crate::earning::zone(&program)?;
    Ok(ctx.now.to_zoned(tz).date().to_string())
}

/// Applies entries and exits (each only if it still is one) and marks `evaluated` segments as
/// evaluated now: `{"entered", "left"}`.
pub async fn apply<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    changes: &[SegmentChange],
    evaluated: &[SegmentId],
) -> StepResult<Value> {
    let day = local_day(c, ctx, program).await?;
    let mut deltas: BTreeMap<&SegmentId, i64> = BTreeMap::new();
    let (mut entered, mut left) = (0, 0);
    let mut moved = Vec::new();
    for change in changes {
        if change.enter {
            if store::enter(c, &change.segment, &change.member, ctx.now).await? {
                entered += 1;
                *deltas.entry(&change.segment).or_default() += 1;
                moved.push(change);
            }
        } else if store::leave(c, &change.segment, &change.member, ctx.now).await? {
            left += 1;
            *deltas.entry(&change.segment).or_default() -= 1;
            moved.push(change);
        }
    }
    start_journeys(c, ctx, program, &moved).await?;
    for segment in evaluated {
        deltas.entry(segment).or_default();
        store::set_evaluated(c, segment, ctx.now).await?;
    }
    for (segment, delta) in deltas {
        store::resize(c, segment, delta, &day).await?;
    }
    Ok(json!({ "entered": entered, "left": left }))
}

/// Members who entered or left a segment start the journeys that wait for it (by key).
async fn start_journeys<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    moved: &[&SegmentChange],
) -> StepResult<()> {
    use tally_domain::journeys::Trigger;
    let Some(setup) = crate::earning::setup_by_id(c, program).await? else {
        return Ok(());
    };
    let wanted = |t: &Trigger| matches!(t, Trigger::SegmentEntered(_) | Trigger::SegmentLeft(_));
    if moved.is_empty() || !setup.journeys.iter().any(|j| wanted(&j.doc.trigger)) {
        return Ok(());
    }
    let mut keys: BTreeMap<SegmentId, String> = BTreeMap::new();
    for change in moved {
        if !keys.contains_key(&change.segment) {
            let row = store::get(c, &ctx.tenant, &change.segment).await?;
            let key = row.map(|s| s.key).unwrap_or_default();
            keys.insert(change.segment.clone(), key);
        }
        let key = keys[&change.segment].clone();
        let trigger = match change.enter {
            true => Trigger::SegmentEntered(key),
            false => Trigger::SegmentLeft(key),
        };
        let cause = format!("{}:{}", change.segment, ctx.now.as_microsecond());
        let journeys = &setup.journeys;
        crate::usecases::journeys::enter(c, ctx, journeys, &change.member, &trigger, &cause)
            .await?;
    }
    Ok(())
}

/// Replaces a static segment's members. Every member must exist, or nothing changes.
pub async fn set_static_members<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &SegmentId,
    members: &[MemberRef],
) -> StepResult<Value> {
    let row = load(c, ctx, id).await?;
    if row.kind != "static" {
        return Err(DomainError::invalid(
            "/members",
            "only a static segment's members are uploaded; a dynamic segment follows its definition",
        )
        .into());
    }
    let mut wanted = BTreeSet::new();
    let mut missing = Vec::new();
    for (i, r) in members.iter().enumerate() {
        let (key, field) = match r {
            MemberRef::Id(id) => (MemberKey::Id(id), "id"),
            MemberRef::ExternalId(x) => (MemberKey::ExternalId(x), "external_id"),
            MemberRef::CardNumber(x) => (MemberKey::CardNumber(x), "card_number"),
        };
        match member_rows::find_member_id(c, &ctx.tenant, &row.program_id, key).await? {
            Some(m) => {
                wanted.insert(m);
            }
            None => missing.push(format!("/members/{i}/{field}")),
        }
    }
    if !missing.is_empty() {
        let mut fields = tally_domain::error::Fields::new();
        for pointer in missing.iter().take(100) {
            fields.push(pointer, "no member of this program has it");
        }
        fields.finish()?;
    }
    let current: BTreeSet<MemberId> = store::member_ids(c, &row.id)
        .await?
        .into_iter()
        .map(MemberId::from_trusted)
        .collect();
    let mut changes: Vec<SegmentChange> = wanted
        .difference(&current)
        .map(|m| SegmentChange {
            segment: row.id.clone(),
            member: m.clone(),
            enter: true,
        })
        .collect();
    changes.extend(current.difference(&wanted).map(|m| SegmentChange {
        segment: row.id.clone(),
        member: m.clone(),
        enter: false,
    }));
    let applied = apply(
        c,
        ctx,
        &row.program_id,
        &changes,
        std::slice::from_ref(&row.id),
    )
    .await?;
    record(
        c,
        ctx,
        "segment.members_uploaded",
        row.id.as_str(),
        json!({ "members": wanted.len(), "entered": applied["entered"], "left": applied["left"] }),
    )
    .await?;
    Ok(json!({
        "entered": applied["entered"],
        "left": applied["left"],
        "size": wanted.len(),
    }))
}
