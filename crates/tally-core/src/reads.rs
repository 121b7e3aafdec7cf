//! Reads: straight to a pooled connection, no batching. Each checks the tenant, so another
//! tenant's id finds nothing.

use crate::{CoreError, Tally};
use tally_domain::ids::{MemberId, ProgramId, TenantId};
use tally_domain::model::{ProgramTotals, TransferKind};
use tally_domain::{DomainError, Points};
use tally_store::queries::{ledger, members, programs};
use tally_store::{Conn, Database};

impl<D: Database> Tally<D> {
    pub async fn program_totals(&self, tenant: &TenantId, program: &ProgramId) -> Result<ProgramTotals, CoreError> {
        let mut c = self.read().await?;
        programs::get_program(&mut c, tenant, program).await?.ok_or_else(|| DomainError::not_found("program"))?;
        totals(&mut c, program).await
    }

    pub async fn member_exists(&self, tenant: &TenantId, member: &MemberId) -> Result<(), CoreError> {
        let mut c = self.read().await?;
        members::get_member(&mut c, tenant, member).await?.ok_or_else(|| DomainError::not_found("member"))?;
        Ok(())
    }
}

/// Program totals from the transfers; member balances for what is outstanding.
pub async fn totals<C: Conn>(c: &mut C, program: &ProgramId) -> Result<ProgramTotals, CoreError> {
    let mut t = ProgramTotals {
        members: members::count_members(c, program).await?,
        issued: Points::ZERO,
        redeemed: Points::ZERO,
        expired: Points::ZERO,
        adjusted: Points::ZERO,
        outstanding: ledger::outstanding(c, program).await?,
    };
    for (kind, to_members, to_program) in ledger::sum_by_kind(c, program).await? {
        match kind {
            TransferKind::Earn => t.issued = t.issued + Points(to_members),
            TransferKind::Reverse => t.issued = t.issued - Points(to_program),
            TransferKind::Redeem => t.redeemed = t.redeemed + Points(to_program),
            TransferKind::Refund => t.redeemed = t.redeemed - Points(to_members),
            TransferKind::Expire => t.expired = t.expired + Points(to_program),
            TransferKind::Adjust => t.adjusted = t.adjusted + Points(to_members) - Points(to_program),
        }
    }
    Ok(t)
}
