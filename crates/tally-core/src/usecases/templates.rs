//! Message templates: saved per program, checked when saved (see `tally_domain::templates`).

use super::load_program;
use crate::StepResult;
use crate::commands::Ctx;
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::ids::{ProgramId, TemplateId};
use tally_domain::templates::TemplateInput;
use tally_store::Conn;
use tally_store::queries::templates::{self as store, TemplateRow};

/// How a template is shown.
pub(crate) fn view(t: &TemplateRow) -> Value {
    json!({
        "id": t.id,
        "program_id": t.program_id,
        "name": t.name,
        "channel": t.channel,
        "subject": t.subject,
        "html": t.html,
        "text": t.text,
        "created_at": t.created_at,
        "updated_at": t.updated_at,
    })
}

pub async fn create<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    input: &TemplateInput,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    let row = TemplateRow {
        id: TemplateId::generate(),
        program_id: program.clone(),
        name: input.name.clone(),
        channel: "email".into(),
        subject: input.subject.source().to_owned(),
        html: input.html.as_ref().map(|h| h.source().to_owned()),
        text: input.text.source().to_owned(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    store::insert(c, &ctx.tenant, &row).await?;
    record(
        c,
        ctx,
        "template.created",
        row.id.as_str(),
        json!({ "name": row.name }),
    )
    .await?;
    Ok(view(&row))
}

/// Replaces what a template says (messages already made keep what they said).
pub async fn replace<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &TemplateId,
    input: &TemplateInput,
) -> StepResult<Value> {
    let mut row = store::get(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("template"))?;
    row.name = input.name.clone();
    row.subject = input.subject.source().to_owned();
    row.html = input.html.as_ref().map(|h| h.source().to_owned());
    row.text = input.text.source().to_owned();
    row.updated_at = ctx.now;
    store::update(c, &row).await?;
    record(
        c,
        ctx,
        "template.replaced",
        row.id.as_str(),
        json!({ "name": row.name }),
    )
    .await?;
    Ok(view(&row))
}
