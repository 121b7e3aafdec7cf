//! Reads of referrals: the program's policy, a member's code and referrals, and what a join
//! link is for.

use crate::reads::{found, member_of, program_of};
use crate::{CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::ids::{MemberId, ProgramId, TenantId};
use tally_domain::program::Program;
use tally_domain::referrals::ReferralPolicy;
use tally_store::Database;
use tally_store::queries::{members, programs, referrals};

impl<D: Database> Tally<D> {
    pub async fn referral_policy(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        let policy = referrals::get_policy(&mut c, program).await?;
        Ok(found(policy, "referral policy")?.to_json())
    }

    /// A member's referral code and their referrals, newest first. The referred are shown by
    /// first name only: the referrer sees how each referral stands, not who the person is.
    pub async fn member_referrals(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let m = member_of(&mut c, tenant, member).await?;
        let code = referrals::code_of(&mut c, &m.id).await?;
        let mut items = Vec::new();
        for (r, name) in referrals::of_referrer(&mut c, &m.id).await? {
            let first_name = name.and_then(|n| n.split_whitespace().next().map(str::to_owned));
            items.push(json!({
                "id": r.id,
                "referred_first_name": first_name,
                "status": r.status,
                "note": r.note,
                "created_at": r.created_at,
                "updated_at": r.updated_at,
            }));
        }
        Ok(json!({ "code": code, "referrals": items }))
    }

    /// What a join link's code is for: the program and its policy, while the program has a
    /// referral policy and the code's member is active; `None` otherwise.
    pub async fn referral_invitation(
        &self,
        code: &str,
    ) -> Result<Option<(Program, ReferralPolicy)>, CoreError> {
        let mut c = self.read().await?;
        let Some(program) = referrals::program_of_code(&mut c, code).await? else {
            return Ok(None);
        };
        let Some(policy) = referrals::get_policy(&mut c, &program).await? else {
            return Ok(None);
        };
        let Some(program) = programs::get_program_by_id(&mut c, &program).await? else {
            return Ok(None);
        };
        let Some(referrer) = referrals::member_of_code(&mut c, &program.id, code).await? else {
            return Ok(None);
        };
        let active = members::get_member(&mut c, &program.tenant_id, &referrer)
            .await?
            .is_some_and(|m| m.status == tally_domain::model::MemberStatus::Active);
        Ok(active.then_some((program, policy)))
    }

    /// How many of the program's referrals are in each status: `(status, count)`.
    pub async fn referral_counts(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
    ) -> Result<Vec<(String, i64)>, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        Ok(referrals::counts(&mut c, program).await?)
    }
}
