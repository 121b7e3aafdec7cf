//! Reads of segments: the list, one segment, its members, its entries and exits, its size over
//! time, and the segments a member is in.

use crate::reads::{found, member_of, program_of};
use crate::usecases::segments::view;
use crate::{CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::ids::{MemberId, ProgramId, SegmentId, TenantId};
use tally_store::Database;
use tally_store::queries::Page;
use tally_store::queries::segments as store;

impl<D: Database> Tally<D> {
    pub async fn segments(
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

    pub async fn segment(&self, tenant: &TenantId, id: &SegmentId) -> Result<Value, CoreError> {
        let row = found(
            store::get(&mut self.read().await?, tenant, id).await?,
            "segment",
        )?;
        Ok(view(&row))
    }

    pub async fn segment_members(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        found(store::get(&mut c, tenant, id).await?, "segment")?;
        let page = store::members_page(&mut c, id, cursor, limit).await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(|m| {
                    json!({
                        "member_id": m.member_id,
                        "name": m.name,
                        "external_id": m.external_id,
                        "entered_at": m.entered_at,
                    })
                })
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// Entries and exits, oldest first: what campaigns start from.
    pub async fn segment_changes(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        found(store::get(&mut c, tenant, id).await?, "segment")?;
        let page = store::changes(&mut c, id, cursor, limit).await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(|ch| json!({ "member_id": ch.member_id, "change": ch.change, "at": ch.at }))
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// The size at the end of each day it changed (program time), the last `days` such days.
    pub async fn segment_sizes(
        &self,
        tenant: &TenantId,
        id: &SegmentId,
        days: i64,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        found(store::get(&mut c, tenant, id).await?, "segment")?;
        let sizes = store::sizes(&mut c, id, days).await?;
        Ok(json!({
            "items": sizes
                .into_iter()
                .map(|(day, size)| json!({ "day": day, "size": size }))
                .collect::<Vec<_>>()
        }))
    }

    /// The keys of the active segments the member is in.
    pub async fn segments_of_member(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<Vec<String>, CoreError> {
        let mut c = self.read().await?;
        member_of(&mut c, tenant, member).await?;
        Ok(store::keys_of_member(&mut c, member).await?)
    }
}
