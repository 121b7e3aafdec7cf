//! Webhook reads: a program's endpoints, one endpoint with its deliveries by status, its
//! secret (admins only, checked by the caller), and its deliveries (the dead letters among
//! them). The deliverer's runner is in `tally-delivery`.

use crate::reads::{found, program_of};
use crate::usecases::webhooks::{delivery_view, view};
use crate::{CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::ids::{ProgramId, TenantId, WebhookDeliveryId, WebhookId};
use tally_store::Database;
use tally_store::queries::Page;
use tally_store::queries::webhooks as store;

/// The statuses a delivery can have.
pub const DELIVERY_STATUSES: &[&str] = &["pending", "delivered", "dead"];

impl<D: Database> Tally<D> {
    pub async fn webhooks(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        let page = store::endpoints(&mut c, program, cursor, limit).await?;
        Ok(Page {
            items: page.items.iter().map(view).collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// An endpoint, with how many of its deliveries are pending, delivered and dead.
    pub async fn webhook(&self, tenant: &TenantId, id: &WebhookId) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let row = found(store::get_endpoint(&mut c, tenant, id).await?, "webhook")?;
        let mut counts = json!({ "pending": 0, "delivered": 0, "dead": 0 });
        for (status, n) in store::counts(&mut c, id).await? {
            counts[status] = json!(n);
        }
        let mut answer = view(&row);
        answer["deliveries"] = counts;
        Ok(answer)
    }

    pub async fn webhook_secret(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let row = found(store::get_endpoint(&mut c, tenant, id).await?, "webhook")?;
        Ok(json!({ "id": row.id, "secret": row.secret }))
    }

    /// An endpoint's deliveries, newest first; `status` picks one kind (`dead`: the dead
    /// letters).
    pub async fn webhook_deliveries(
        &self,
        tenant: &TenantId,
        id: &WebhookId,
        status: Option<&str>,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        found(store::get_endpoint(&mut c, tenant, id).await?, "webhook")?;
        let page = store::deliveries(&mut c, id, status, cursor, limit).await?;
        Ok(Page {
            items: page.items.iter().map(delivery_view).collect(),
            next_cursor: page.next_cursor,
        })
    }

    pub async fn webhook_delivery(
        &self,
        tenant: &TenantId,
        id: &WebhookDeliveryId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let row = store::get_delivery(&mut c, tenant, id).await?;
        Ok(delivery_view(&found(row, "webhook delivery")?))
    }
}
