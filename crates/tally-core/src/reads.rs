//! Reads: straight to a pooled connection, no batching. Every read names the tenant, so another
//! tenant's id finds nothing and the answer is the same "not found".

use crate::{CoreError, Tally};
use tally_domain::ids::{
    LocationId, MemberId, ProgramId, PurchaseId, RedemptionId, RewardId, TenantId,
};
use tally_domain::model::{
    HistoryEntry, Location, Member, ProgramTotals, Purchase, Redemption, Reward, TransferKind,
};
use tally_domain::program::Program;
use tally_domain::{DomainError, Points};
use tally_store::queries::audit::AuditEntry;
use tally_store::queries::keys::ApiKey;
use tally_store::queries::members::{MemberFilter, MemberKey};
use tally_store::queries::{
    Page, audit, events, flows, keys, ledger, locations, members, programs, purchases, rewards,
};
use tally_store::{Conn, Database};

pub(crate) fn found<T>(value: Option<T>, entity: &str) -> Result<T, CoreError> {
    value.ok_or_else(|| CoreError::Domain(DomainError::not_found(entity)))
}

/// The tenant's program, or "program not found".
pub(crate) async fn program_of<C: tally_store::Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &ProgramId,
) -> Result<Program, CoreError> {
    found(programs::get_program(c, tenant, id).await?, "program")
}

/// The tenant's member, or "member not found".
pub(crate) async fn member_of<C: tally_store::Conn>(
    c: &mut C,
    tenant: &TenantId,
    id: &MemberId,
) -> Result<Member, CoreError> {
    found(members::get_member(c, tenant, id).await?, "member")
}

impl<D: Database> Tally<D> {
    pub async fn programs(&self, tenant: &TenantId) -> Result<Vec<Program>, CoreError> {
        Ok(programs::list_programs(&mut self.read().await?, tenant).await?)
    }

    /// A page of the tenant's programs (the API's list; [`Self::programs`] gives all of them).
    pub async fn programs_page(
        &self,
        tenant: &TenantId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Program>, CoreError> {
        Ok(programs::list_programs_page(&mut self.read().await?, tenant, cursor, limit).await?)
    }

    pub async fn program(&self, tenant: &TenantId, id: &ProgramId) -> Result<Program, CoreError> {
        found(
            programs::get_program(&mut self.read().await?, tenant, id).await?,
            "program",
        )
    }

    pub async fn program_totals(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
    ) -> Result<ProgramTotals, CoreError> {
        let mut c = self.read().await?;
        found(
            programs::get_program(&mut c, tenant, program).await?,
            "program",
        )?;
        totals(&mut c, program).await
    }

    pub async fn member(&self, tenant: &TenantId, id: &MemberId) -> Result<Member, CoreError> {
        found(
            members::get_member(&mut self.read().await?, tenant, id).await?,
            "member",
        )
    }

    /// Finds a member of a program by external id, card number or card (QR) token.
    pub async fn find_member(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        key: MemberKey<'_>,
    ) -> Result<Member, CoreError> {
        let mut c = self.read().await?;
        let id = found(
            members::find_member_id(&mut c, tenant, program, key).await?,
            "member",
        )?;
        found(members::get_member(&mut c, tenant, &id).await?, "member")
    }

    pub async fn members(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        filter: &MemberFilter,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Member>, CoreError> {
        let mut c = self.read().await?;
        found(
            programs::get_program(&mut c, tenant, program).await?,
            "program",
        )?;
        Ok(members::list_members(&mut c, tenant, program, filter, cursor, limit).await?)
    }

    pub async fn history(
        &self,
        tenant: &TenantId,
        member: &MemberId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<HistoryEntry>, CoreError> {
        let mut c = self.read().await?;
        found(members::get_member(&mut c, tenant, member).await?, "member")?;
        Ok(ledger::history(&mut c, member, cursor, limit).await?)
    }

    pub async fn member_purchases(
        &self,
        tenant: &TenantId,
        member: &MemberId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Purchase>, CoreError> {
        let mut c = self.read().await?;
        found(members::get_member(&mut c, tenant, member).await?, "member")?;
        Ok(purchases::member_purchases(&mut c, member, cursor, limit).await?)
    }

    pub async fn member_redemptions(
        &self,
        tenant: &TenantId,
        member: &MemberId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Redemption>, CoreError> {
        let mut c = self.read().await?;
        found(members::get_member(&mut c, tenant, member).await?, "member")?;
        Ok(rewards::member_redemptions(&mut c, member, cursor, limit).await?)
    }

    /// Physical rewards to send, on their way, or delivered (`status` picks one), oldest first.
    pub async fn fulfilment_queue(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        status: Option<&str>,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Redemption>, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        Ok(rewards::fulfilment_queue(&mut c, program, status, cursor, limit).await?)
    }

    /// The program's declared event types, by name, as the API shows them.
    pub async fn event_types(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
    ) -> Result<Vec<serde_json::Value>, CoreError> {
        let mut c = self.read().await?;
        found(
            programs::get_program(&mut c, tenant, program).await?,
            "program",
        )?;
        let types = events::list_types(&mut c, program).await?;
        Ok(types
            .iter()
            .map(crate::usecases::events::type_view)
            .collect())
    }

    pub async fn event_type(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        name: &str,
    ) -> Result<serde_json::Value, CoreError> {
        let mut c = self.read().await?;
        found(
            programs::get_program(&mut c, tenant, program).await?,
            "program",
        )?;
        let row = found(events::get_type(&mut c, program, name).await?, "event type")?;
        Ok(crate::usecases::events::type_view(&row))
    }

    /// A member's custom events, newest first.
    pub async fn member_events(
        &self,
        tenant: &TenantId,
        member: &MemberId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<serde_json::Value>, CoreError> {
        let mut c = self.read().await?;
        found(members::get_member(&mut c, tenant, member).await?, "member")?;
        let page = events::member_events(&mut c, member, cursor, limit).await?;
        Ok(Page {
            items: page
                .items
                .iter()
                .map(crate::usecases::events::event_view)
                .collect(),
            next_cursor: page.next_cursor,
        })
    }

    pub async fn purchase(
        &self,
        tenant: &TenantId,
        id: &PurchaseId,
    ) -> Result<Purchase, CoreError> {
        found(
            purchases::get_purchase(&mut self.read().await?, tenant, id).await?,
            "purchase",
        )
    }

    pub async fn rewards(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Reward>, CoreError> {
        let mut c = self.read().await?;
        found(
            programs::get_program(&mut c, tenant, program).await?,
            "program",
        )?;
        Ok(rewards::list_rewards(&mut c, tenant, program, cursor, limit).await?)
    }

    pub async fn reward(&self, tenant: &TenantId, id: &RewardId) -> Result<Reward, CoreError> {
        found(
            rewards::get_reward(&mut self.read().await?, tenant, id).await?,
            "reward",
        )
    }

    pub async fn redemption(
        &self,
        tenant: &TenantId,
        id: &RedemptionId,
    ) -> Result<Redemption, CoreError> {
        found(
            rewards::get_redemption(&mut self.read().await?, tenant, id).await?,
            "redemption",
        )
    }

    /// What the cashier checks: the redemption a code belongs to (normalised: case and dashes
    /// do not matter).
    pub async fn redemption_by_code(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        code: &str,
    ) -> Result<Redemption, CoreError> {
        let compact: String = code
            .chars()
            .filter(|c| c.is_ascii_alphanumeric())
            .map(|c| c.to_ascii_uppercase())
            .collect();
        let code = compact
            .as_bytes()
            .chunks(3)
            .map(|c| String::from_utf8_lossy(c).into_owned())
            .collect::<Vec<_>>()
            .join("-");
        found(
            rewards::find_redemption_by_code(&mut self.read().await?, tenant, program, &code)
                .await?,
            "redemption",
        )
    }

    pub async fn locations(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Location>, CoreError> {
        let mut c = self.read().await?;
        found(
            programs::get_program(&mut c, tenant, program).await?,
            "program",
        )?;
        Ok(locations::list_locations(&mut c, tenant, program, cursor, limit).await?)
    }

    pub async fn location(
        &self,
        tenant: &TenantId,
        id: &LocationId,
    ) -> Result<Location, CoreError> {
        found(
            locations::get_location(&mut self.read().await?, tenant, id).await?,
            "location",
        )
    }

    pub async fn audit_log(
        &self,
        tenant: &TenantId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<AuditEntry>, CoreError> {
        Ok(audit::list(&mut self.read().await?, tenant, cursor, limit).await?)
    }

    /// The API key whose secret hashes to `secret_sha256`, if it exists.
    pub async fn api_key_by_secret(
        &self,
        secret_sha256: &str,
    ) -> Result<Option<ApiKey>, CoreError> {
        Ok(keys::find_by_secret(&mut self.read().await?, secret_sha256).await?)
    }

    pub async fn api_keys(&self, tenant: &TenantId) -> Result<Vec<ApiKey>, CoreError> {
        Ok(keys::list_keys(&mut self.read().await?, tenant).await?)
    }

    pub async fn tenants(&self) -> Result<Vec<programs::Tenant>, CoreError> {
        Ok(programs::list_tenants(&mut self.read().await?).await?)
    }

    pub async fn tenant(&self, id_or_name: &str) -> Result<programs::Tenant, CoreError> {
        found(
            programs::find_tenant(&mut self.read().await?, id_or_name).await?,
            "tenant",
        )
    }

    /// A program's transfers in order, for export; `limit` at a time after `after_seq`.
    pub async fn ledger_export(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        after_seq: i64,
        limit: i64,
    ) -> Result<Vec<ledger::ExportedTransfer>, CoreError> {
        let mut c = self.read().await?;
        found(
            programs::get_program(&mut c, tenant, program).await?,
            "program",
        )?;
        Ok(ledger::export_transfers(&mut c, program, after_seq, limit.clamp(1, 10_000)).await?)
    }

    /// Whether the database answers (for `/readyz`).
    pub async fn ping(&self) -> Result<(), CoreError> {
        self.read().await?.query("SELECT 1", &[]).await?;
        Ok(())
    }
}

/// Program totals from the flows of points per kind of transfer (a snapshot plus what came after
/// it). What is outstanding is everything credited to members less everything taken from them:
/// the ledger balances, so this equals the sum of the member balances (the property test checks
/// it against the model after every step).
pub async fn totals<C: Conn>(c: &mut C, program: &ProgramId) -> Result<ProgramTotals, CoreError> {
    let mut t = ProgramTotals {
        members: members::count_members(c, program).await?,
        issued: Points::ZERO,
        redeemed: Points::ZERO,
        expired: Points::ZERO,
        adjusted: Points::ZERO,
        donated: Points::ZERO,
        outstanding: Points::ZERO,
        cashback: Default::default(),
    };
    for (kind, flow) in flows::flows(c, program).await? {
        let kind = TransferKind::parse(kind).expect("flows are keyed by kind names");
        if kind == TransferKind::Release {
            // Between two accounts of one member: nothing is issued or outstanding anew.
            continue;
        }
        if kind.is_cashback() {
            let c = &mut t.cashback;
            c.outstanding_minor += flow.to_members - flow.to_program;
            match kind {
                TransferKind::CashbackEarn => c.issued_minor += flow.to_members,
                TransferKind::CashbackReverse => c.issued_minor -= flow.to_program,
                TransferKind::CashbackSpend => c.spent_minor += flow.to_program,
                _ => c.spent_minor -= flow.to_members,
            }
            continue;
        }
        let (to_members, to_program) = (Points(flow.to_members), Points(flow.to_program));
        t.outstanding = t.outstanding + to_members - to_program;
        match kind {
            TransferKind::Earn => t.issued = t.issued + to_members,
            TransferKind::Reverse => t.issued = t.issued - to_program,
            TransferKind::Redeem => t.redeemed = t.redeemed + to_program,
            TransferKind::Refund => t.redeemed = t.redeemed - to_members,
            TransferKind::Expire => t.expired = t.expired + to_program,
            TransferKind::Adjust => t.adjusted = t.adjusted + to_members - to_program,
            TransferKind::Donate => t.donated = t.donated + to_program,
            _ => {}
        }
    }
    Ok(t)
}
