//! Reads of stamp cards and of members' progress on them.

use crate::reads::{found, member_of, program_of};
use crate::{CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::ids::{MemberId, ProgramId, StampCardId, TenantId};
use tally_store::Database;
use tally_store::queries::{Page, locations, programs, stamps};

/// A store's QR code as the wallet shows it before the member collects the stamp.
#[derive(Clone, Debug)]
pub struct StampCodeView {
    pub tenant: TenantId,
    pub program: ProgramId,
    pub card_name: String,
    pub store_name: String,
    /// Still unused and not expired.
    pub live: bool,
}

impl<D: Database> Tally<D> {
    pub async fn stamp_cards(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
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
        let card = found(
            stamps::get_card(&mut self.read().await?, tenant, id).await?,
            "stamp card",
        )?;
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
        let m = member_of(&mut c, tenant, member).await?;
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

    /// What a scanned code is for; `None` for a code that never existed.
    pub async fn stamp_code(&self, code: &str) -> Result<Option<StampCodeView>, CoreError> {
        let mut c = self.read().await?;
        let Some(row) = stamps::get_code(&mut c, code).await? else {
            return Ok(None);
        };
        let program = found(
            programs::get_program_by_id(&mut c, &row.program_id).await?,
            "program",
        )?;
        let card = found(
            stamps::get_card(&mut c, &program.tenant_id, &row.card_id).await?,
            "stamp card",
        )?;
        let store = locations::get_location(&mut c, &program.tenant_id, &row.location_id).await?;
        Ok(Some(StampCodeView {
            tenant: program.tenant_id,
            program: program.id,
            card_name: card.document["name"]
                .as_str()
                .unwrap_or_default()
                .to_owned(),
            store_name: store.map(|l| l.name).unwrap_or_default(),
            live: !row.used && row.expires_at > self.clock.now(),
        }))
    }
}
