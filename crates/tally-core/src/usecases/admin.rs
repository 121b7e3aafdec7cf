//! Tenants, API keys, programs and locations: the set-up a merchant does once.

use super::{load_program, to_json};
use crate::StepResult;
use crate::commands::Ctx;
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::ids::{ApiKeyId, LocationId, ProgramId, TenantId};
use tally_domain::inputs::{NewLocation, NewProgram, ProgramPatch};
use tally_domain::model::Location;
use tally_domain::program::Program;
use tally_store::Conn;
use tally_store::queries::{audit, keys, locations, programs};

pub async fn create_tenant<C: Conn>(c: &mut C, ctx: &Ctx, name: &str) -> StepResult<Value> {
    if programs::find_tenant(c, name).await?.is_some() {
        return Err(DomainError::conflict(
            "tenant_exists",
            format!("a tenant named `{name}` exists"),
        )
        .into());
    }
    let tenant = programs::Tenant {
        id: TenantId::generate(),
        name: name.to_owned(),
        created_at: ctx.now,
    };
    programs::insert_tenant(c, &tenant).await?;
    Ok(json!({ "id": tenant.id, "name": tenant.name }))
}

pub async fn create_api_key<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    name: &str,
    scope: &str,
    secret_sha256: &str,
    prefix: &str,
) -> StepResult<Value> {
    let key = keys::ApiKey {
        id: ApiKeyId::generate(),
        tenant_id: ctx.tenant.clone(),
        name: name.to_owned(),
        prefix: prefix.to_owned(),
        scope: scope.to_owned(),
        created_at: ctx.now,
        revoked_at: None,
    };
    keys::insert_key(c, &key, secret_sha256).await?;
    record(
        c,
        ctx,
        "api_key.created",
        key.id.as_str(),
        json!({ "name": name, "scope": scope }),
    )
    .await?;
    Ok(json!({ "id": key.id, "name": key.name, "scope": key.scope, "prefix": key.prefix }))
}

pub async fn revoke_api_key<C: Conn>(c: &mut C, ctx: &Ctx, id: &ApiKeyId) -> StepResult<Value> {
    if !keys::revoke_key(c, &ctx.tenant, id, ctx.now).await? {
        return Err(DomainError::not_found("api key").into());
    }
    record(c, ctx, "api_key.revoked", id.as_str(), json!({})).await?;
    Ok(json!({ "id": id, "revoked": true }))
}

pub async fn create_program<C: Conn>(c: &mut C, ctx: &Ctx, p: &NewProgram) -> StepResult<Value> {
    let program = Program {
        id: ProgramId::generate(),
        tenant_id: ctx.tenant.clone(),
        name: p.name.clone(),
        points_name: p.points_name.clone(),
        currency: p.currency,
        time_zone: p.time_zone.clone(),
        earning: p.earning.clone(),
        negative_balance: p.negative_balance,
        created_at: ctx.now,
        rules_revision: 0,
    };
    programs::insert_program(c, &program).await?;
    record(
        c,
        ctx,
        "program.created",
        program.id.as_str(),
        json!({ "name": program.name }),
    )
    .await?;
    Ok(to_json(&program))
}

pub async fn update_program<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &ProgramId,
    patch: &ProgramPatch,
) -> StepResult<Value> {
    let mut program = load_program(c, ctx, id).await?;
    if let Some(name) = &patch.name {
        program.name = name.clone();
    }
    if let Some(points_name) = &patch.points_name {
        program.points_name = points_name.clone();
    }
    if let Some(time_zone) = &patch.time_zone {
        program.time_zone = time_zone.clone();
    }
    if let Some(policy) = patch.negative_balance {
        program.negative_balance = policy;
    }
    patch.earning.apply(&mut program.earning);
    programs::update_program(c, &program).await?;
    // Earning changes apply to purchases from now on; past awards keep what they earned.
    record(
        c,
        ctx,
        "program.updated",
        program.id.as_str(),
        to_json(&program),
    )
    .await?;
    Ok(to_json(&program))
}

pub async fn create_location<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    l: &NewLocation,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    let location = Location {
        id: LocationId::generate(),
        program_id: program.clone(),
        name: l.name.clone(),
        address: l.address.clone(),
        latitude_micro: l.latitude_micro,
        longitude_micro: l.longitude_micro,
        time_zone: l.time_zone.clone(),
        active: true,
        created_at: ctx.now,
    };
    locations::insert_location(c, &ctx.tenant, &location).await?;
    record(
        c,
        ctx,
        "location.created",
        location.id.as_str(),
        to_json(&location),
    )
    .await?;
    Ok(to_json(&location))
}

/// Sets the card's colour and logo and the value of a point (audited, without the logo bytes).
pub async fn set_display<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    display: &tally_domain::display::ProgramDisplay,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    programs::set_display(c, program, display).await?;
    let detail = json!({
        "card_color": display.card_color,
        "logo": display.logo_data_url.is_some(),
        "point_value_milli": display.point_value_milli,
    });
    record(
        c,
        ctx,
        "program.display_set",
        program.as_str(),
        detail.clone(),
    )
    .await?;
    Ok(detail)
}

/// Replaces a location's details and sets whether it is active (a closed store stays in the
/// history of the purchases made there).
pub async fn update_location<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &LocationId,
    l: &NewLocation,
    active: bool,
) -> StepResult<Value> {
    let mut location = locations::get_location(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("location"))?;
    location.name = l.name.clone();
    location.address = l.address.clone();
    location.latitude_micro = l.latitude_micro;
    location.longitude_micro = l.longitude_micro;
    location.time_zone = l.time_zone.clone();
    location.active = active;
    locations::update_location(c, &ctx.tenant, &location).await?;
    record(c, ctx, "location.updated", id.as_str(), to_json(&location)).await?;
    Ok(to_json(&location))
}

/// Writes an audit-log entry for the request's actor.
pub(crate) async fn record<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    action: &str,
    entity_id: &str,
    detail: Value,
) -> StepResult<()> {
    audit::record(
        c,
        &ctx.tenant,
        &audit::AuditEntry {
            actor: ctx.actor.clone(),
            action: action.to_owned(),
            entity_id: entity_id.to_owned(),
            detail,
            at: ctx.now,
        },
    )
    .await?;
    Ok(())
}
