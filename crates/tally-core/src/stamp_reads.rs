//! Reads of stamp cards and of members' progress on them.

use crate::{CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::ids::{MemberId, ProgramId, StampCardId, TenantId};
use tally_store::Database;
use tally_store::queries::{Page, members, programs, stamps};

impl<D: Database> Tally<D> {
    pub async fn stamp_cards(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        programs::get_program(&mut c, tenant, program)
            .await?
            .ok_or_else(|| DomainError::not_found("program"))?;
        let page = stamps::list_cards(&mut c, program, cursor, limit).await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(crate::usecases::stamps::view)
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    pub async fn stamp_card(
        &self,
        tenant: &TenantId,
        id: &StampCardId,
    ) -> Result<Value, CoreError> {
        let card = stamps::get_card(&mut self.read().await?, tenant, id)
            .await?
            .ok_or_else(|| DomainError::not_found("stamp card"))?;
        Ok(crate::usecases::stamps::view(&card))
    }

    /// The member's progress on each active card of their program (zero where they have no
    /// stamps yet), oldest card first: `{"card_id", "name", "description", "stamps",
    /// "stamps_required", "completions", "reward", "qr_stamps"}`.
    pub async fn member_stamps(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<Vec<Value>, CoreError> {
        let mut c = self.read().await?;
        let m = members::get_member(&mut c, tenant, member)
            .await?
            .ok_or_else(|| DomainError::not_found("member"))?;
        let progress = stamps::member_progress(&mut c, member).await?;
        let mut out = Vec::new();
        for row in stamps::active_cards(&mut c, &m.program_id).await? {
            let card = crate::stamps::Card::from_row(&row)?;
            let p = progress
                .iter()
                .find(|(id, _)| *id == card.id)
                .map(|(_, p)| *p)
                .unwrap_or_default();
            out.push(json!({
                "card_id": card.id,
                "name": card.doc.name,
                "description": card.doc.description,
                "stamps": p.stamps,
                "stamps_required": card.doc.stamps_required,
                "completions": p.completions,
                "reward": row.document["reward"],
                "qr_stamps": card.doc.qr_stamps,
            }));
        }
        Ok(out)
    }
}
