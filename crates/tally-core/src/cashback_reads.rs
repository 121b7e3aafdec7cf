//! Cashback reads: a member's cashback with its movements.

use crate::reads::{member_of, program_of};
use crate::{CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::ids::{MemberId, TenantId};
use tally_store::Database;

impl<D: Database> Tally<D> {
    /// A member's cashback: the balance and a page of movements, newest first.
    pub async fn member_cashback(
        &self,
        tenant: &TenantId,
        member: &MemberId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let m = member_of(&mut c, tenant, member).await?;
        let program = program_of(&mut c, tenant, &m.program_id).await?;
        let balance = tally_store::queries::cashback::balance(&mut c, member).await?;
        let page = tally_store::queries::cashback::history(&mut c, member, cursor, limit).await?;
        let items: Vec<Value> = page
            .items
            .iter()
            .map(|e| {
                json!({
                    "transfer_id": e.transfer_id,
                    "kind": e.kind.as_str(),
                    "amount_minor": e.amount_minor,
                    "balance_after_minor": e.balance_after_minor,
                    "reason": e.reason,
                    "occurred_at": e.occurred_at,
                })
            })
            .collect();
        Ok(json!({
            "member_id": member,
            "balance_minor": balance,
            "currency": program.currency.code(),
            "items": items,
            "next_cursor": page.next_cursor.map(|c| c.to_string()),
        }))
    }
}
