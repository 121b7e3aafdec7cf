//! Charity reads: a program's charities with their totals, one charity, and what a member gave.

use crate::reads::{found, member_of, program_of};
use crate::usecases::charities::view;
use crate::{CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::ids::{CharityId, MemberId, ProgramId, TenantId};
use tally_store::Database;
use tally_store::queries::Page;
use tally_store::queries::charities as store;

impl<D: Database> Tally<D> {
    pub async fn charities(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        let page = store::list(&mut c, program, cursor, limit).await?;
        Ok(Page {
            items: page.items.iter().map(view).collect(),
            next_cursor: page.next_cursor,
        })
    }

    pub async fn charity(&self, tenant: &TenantId, id: &CharityId) -> Result<Value, CoreError> {
        let row = found(
            store::get(&mut self.read().await?, tenant, id).await?,
            "charity",
        )?;
        Ok(view(&row))
    }

    /// What a member gave, per charity: `{"items": [{"charity_id", "name", "points",
    /// "amount_minor"}]}`.
    pub async fn member_donations(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        member_of(&mut c, tenant, member).await?;
        let items: Vec<Value> = store::given_by_member(&mut c, member)
            .await?
            .into_iter()
            .map(|(id, name, points, minor)| {
                json!({ "charity_id": id, "name": name, "points": points, "amount_minor": minor })
            })
            .collect();
        Ok(json!({ "items": items }))
    }
}
