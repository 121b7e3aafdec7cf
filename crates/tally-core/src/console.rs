//! Reads for the browser: operators and their sessions, the dashboard's figures, a program's
//! display, and the wallet's sessions and cards.

use crate::{CoreError, Tally};
use tally_domain::ids::{ProgramId, TenantId};
use tally_domain::model::ProgramTotals;
use tally_domain::operators::Operator;
use tally_domain::text::Email;
use tally_domain::{DomainError, Timestamp};
use tally_store::Database;
use tally_store::queries::operators::{self, LinkPurpose, Session};
use tally_store::queries::programs;
use tally_store::queries::stats::{self, Bucket, RewardCount};

/// A period of the dashboard, `[from, to)`, cut into buckets of `bucket_us`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    pub from: Timestamp,
    pub to: Timestamp,
    pub bucket_us: i64,
}

/// Everything the dashboard shows for one period.
#[derive(Clone, Debug)]
pub struct Dashboard {
    pub totals: ProgramTotals,
    pub new_members: i64,
    pub active_30_days: i64,
    pub active_90_days: i64,
    pub purchases: i64,
    pub revenue_minor: i64,
    /// One entry per bucket of the period, empty buckets included.
    pub purchases_per_bucket: Vec<Bucket>,
    pub enrolments_per_bucket: Vec<Bucket>,
    pub top_rewards: Vec<RewardCount>,
}

/// Fills the buckets a query did not return (no purchases that week) with zeros.
fn dense(buckets: Vec<Bucket>, count: i64) -> Vec<Bucket> {
    let mut out: Vec<Bucket> = (0..count)
        .map(|index| Bucket {
            index,
            ..Bucket::default()
        })
        .collect();
    for b in buckets {
        if let Some(slot) = usize::try_from(b.index).ok().and_then(|i| out.get_mut(i)) {
            *slot = b;
        }
    }
    out
}

impl<D: Database> Tally<D> {
    pub async fn operator_by_email(
        &self,
        email: &Email,
    ) -> Result<Option<(Operator, Option<String>)>, CoreError> {
        Ok(operators::find_by_email(&mut self.read().await?, email).await?)
    }

    pub async fn operators(&self, tenant: &TenantId) -> Result<Vec<Operator>, CoreError> {
        Ok(operators::list_operators(&mut self.read().await?, tenant).await?)
    }

    /// The live session whose cookie token hashes to `token_sha256`.
    pub async fn operator_session(&self, token_sha256: &str) -> Result<Option<Session>, CoreError> {
        let now = self.clock.now();
        Ok(operators::find_session(&mut self.read().await?, token_sha256, now).await?)
    }

    /// The operator a one-time link is for, if it is still usable (it is used up only when the
    /// session starts).
    pub async fn operator_link(
        &self,
        token_sha256: &str,
    ) -> Result<Option<(Operator, LinkPurpose)>, CoreError> {
        let now = self.clock.now();
        Ok(operators::peek_link(&mut self.read().await?, token_sha256, now).await?)
    }

    /// How a program shows itself (card colour, logo, point value).
    pub async fn program_display(
        &self,
        program: &ProgramId,
    ) -> Result<tally_domain::display::ProgramDisplay, CoreError> {
        Ok(programs::get_display(&mut self.read().await?, program).await?)
    }

    /// The person of a live wallet session, and its CSRF token.
    pub async fn wallet_session(
        &self,
        token_sha256: &str,
    ) -> Result<Option<(tally_domain::ids::PersonId, String)>, CoreError> {
        let now = self.clock.now();
        Ok(
            tally_store::queries::wallet::find_session(&mut self.read().await?, token_sha256, now)
                .await?,
        )
    }

    /// The cards in a person's wallet.
    pub async fn memberships(
        &self,
        person: &tally_domain::ids::PersonId,
    ) -> Result<Vec<tally_store::queries::wallet::Membership>, CoreError> {
        Ok(tally_store::queries::wallet::memberships(&mut self.read().await?, person).await?)
    }

    pub async fn dashboard(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        period: Period,
    ) -> Result<Dashboard, CoreError> {
        let mut c = self.read().await?;
        programs::get_program(&mut c, tenant, program)
            .await?
            .ok_or_else(|| DomainError::not_found("program"))?;
        drop(c);
        let day_us = 86_400_000_000;
        let now = period.to;
        let ago = |days: i64| {
            Timestamp::from_microsecond(now.as_microsecond() - days * day_us)
                .map_err(|e| CoreError::Domain(DomainError::invalid("/period", e.to_string())))
        };
        let (month_ago, quarter_ago) = (ago(30)?, ago(90)?);
        let span_us = period.to.as_microsecond() - period.from.as_microsecond();
        let bucket_count = (span_us + period.bucket_us - 1) / period.bucket_us.max(1);
        // Three independent groups of reads, each on its own pooled connection, at once: the
        // page waits for the slowest, not for the sum.
        let totals_and_active = async {
            let mut c = self.read().await?;
            let totals = crate::reads::totals(&mut c, program).await?;
            let active_30 = stats::active_members(&mut c, program, month_ago, now).await?;
            let active_90 = stats::active_members(&mut c, program, quarter_ago, now).await?;
            Ok::<_, CoreError>((totals, active_30, active_90))
        };
        let purchases = async {
            let mut c = self.read().await?;
            let (from, to, width) = (period.from, period.to, period.bucket_us);
            let rows = stats::purchases_per_bucket(&mut c, program, from, to, width).await?;
            Ok::<_, CoreError>(dense(rows, bucket_count))
        };
        let enrolments_and_rewards = async {
            let mut c = self.read().await?;
            let (from, to, width) = (period.from, period.to, period.bucket_us);
            let rows = stats::enrolments_per_bucket(&mut c, program, from, to, width).await?;
            let top = stats::top_rewards(&mut c, program, from, to, 5).await?;
            Ok::<_, CoreError>((dense(rows, bucket_count), top))
        };
        let (first, purchases, second) =
            tokio::join!(totals_and_active, purchases, enrolments_and_rewards);
        let ((totals, active_30_days, active_90_days), purchases, (enrolments, top_rewards)) =
            (first?, purchases?, second?);
        Ok(Dashboard {
            totals,
            new_members: enrolments.iter().map(|b| b.count).sum(),
            active_30_days,
            active_90_days,
            purchases: purchases.iter().map(|b| b.count).sum(),
            revenue_minor: purchases.iter().map(|b| b.amount_minor).sum(),
            purchases_per_bucket: purchases,
            enrolments_per_bucket: enrolments,
            top_rewards,
        })
    }
}
