//! The writes of an insights run (see `crate::insights`): claim the program, store members'
//! rows, finish.

use super::load_program;
use crate::StepResult;
use crate::commands::Ctx;
use serde_json::{Value, json};
use tally_domain::ids::ProgramId;
use tally_store::Conn;
use tally_store::queries::insights::{self, MemberInsightRow};

/// Claims the program for a run of `lease`, unless another run holds it: `{"claimed": bool}`.
pub async fn claim<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    lease: jiff::SignedDuration,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program).await?;
    let claimed = insights::claim(c, &program.id, ctx.now, ctx.now + lease).await?;
    Ok(json!({ "claimed": claimed }))
}

/// Stores members' rows; they all belong to the program the run claimed.
pub async fn store<C: Conn>(c: &mut C, rows: &[MemberInsightRow]) -> StepResult<Value> {
    for row in rows {
        insights::store_member(c, row).await?;
    }
    Ok(json!({ "stored": rows.len() }))
}

/// Ends the run: with its summary when it succeeded (the answer is the summary), only
/// releasing the claim when it failed.
pub async fn finish<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    summary: Option<&Value>,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program).await?;
    insights::finish(c, &program.id, summary.map(|s| (ctx.now, s))).await?;
    Ok(summary
        .cloned()
        .unwrap_or_else(|| json!({ "finished": false })))
}
