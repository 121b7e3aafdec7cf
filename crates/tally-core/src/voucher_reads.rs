//! Voucher reads: pools, their codes, a member's personal codes, and checking a code against a
//! basket (`validate`), plus the lock-out that makes guessing codes pointless.
//!
//! Every look-up that finds no code (or another member's code) counts one failure against each
//! of its subjects: the API key, the member named in the request and the client's address.
//! After [`MAX_FAILURES`] within a fixed window of [`FAILURE_WINDOW_SECONDS`], look-ups from
//! that subject are refused until the window ends, before the code is even read. The counts are
//! in the database, so the limit holds across nodes.

use crate::reads::{found, program_of};
use crate::usecases::vouchers::{code_view, pool_view, unknown_code, use_view};
use crate::{Command, CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId, TenantId, VoucherPoolId};
use tally_domain::vouchers::{FAILURE_WINDOW_SECONDS, MAX_FAILURES, VoucherUse};
use tally_store::Database;
use tally_store::queries::Page;
use tally_store::queries::vouchers as store;

/// Who is looking codes up, for the lock-out: the API key (or operator), and the client's
/// address when known. The member named in a request is added per request.
#[derive(Clone, Debug)]
pub struct Prober {
    pub actor: String,
    pub address: Option<String>,
}

impl Prober {
    fn subjects(&self, tenant: &TenantId, member: Option<&MemberId>) -> Vec<String> {
        let mut subjects = vec![format!("key:{tenant}:{}", self.actor)];
        if let Some(m) = member {
            subjects.push(format!("member:{m}"));
        }
        if let Some(a) = &self.address {
            subjects.push(format!("address:{a}"));
        }
        subjects
    }
}

/// A value for a CSV field: quoted when it holds a comma, a quote or a line break.
fn csv_field(v: &str) -> String {
    if v.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", v.replace('"', "\"\""))
    } else {
        v.to_owned()
    }
}

/// The start of the fixed failure window `now` falls in.
fn window_start(now: Timestamp) -> Timestamp {
    let seconds = now.as_second();
    let start = seconds - seconds.rem_euclid(FAILURE_WINDOW_SECONDS);
    Timestamp::from_second(start).expect("a window start is a valid time")
}

impl<D: Database> Tally<D> {
    pub async fn voucher_pools(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        let page = store::list_pools(&mut c, program, cursor, limit).await?;
        Ok(Page {
            items: page.items.iter().map(pool_view).collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// A pool with how many codes it has, how many were used and handed to members.
    pub async fn voucher_pool(
        &self,
        tenant: &TenantId,
        id: &VoucherPoolId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let pool = found(store::get_pool(&mut c, tenant, id).await?, "voucher pool")?;
        let (codes, redeemed, assigned) = store::pool_counts(&mut c, id).await?;
        let mut view = pool_view(&pool);
        view["codes"] = json!({
            "total": codes,
            "redeemed": redeemed,
            "available": codes - redeemed,
            "assigned_to_members": assigned,
        });
        Ok(view)
    }

    /// A pool's codes, in the order they were made (`status`: only `available` or `redeemed`).
    pub async fn voucher_codes(
        &self,
        tenant: &TenantId,
        id: &VoucherPoolId,
        status: Option<&str>,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        found(store::get_pool(&mut c, tenant, id).await?, "voucher pool")?;
        let page = store::codes_page(&mut c, id, status, cursor, limit).await?;
        Ok(Page {
            items: page.items.iter().map(code_view).collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// Every code of a pool as CSV (`code,status,member_id,order_id,discount_minor,redeemed_at`),
    /// in the order they were made: the export.
    pub async fn voucher_codes_csv(
        &self,
        tenant: &TenantId,
        id: &VoucherPoolId,
    ) -> Result<String, CoreError> {
        /// Rows per query while exporting.
        const STEP: i64 = 10_000;
        let mut c = self.read().await?;
        found(store::get_pool(&mut c, tenant, id).await?, "voucher pool")?;
        let mut csv = String::from("code,status,member_id,order_id,discount_minor,redeemed_at\n");
        let mut after = 0;
        loop {
            let rows = store::codes_after(&mut c, id, after, STEP).await?;
            for (_, code) in &rows {
                let field = |v: Option<String>| v.unwrap_or_default();
                csv.push_str(&format!(
                    "{},{},{},{},{},{}\n",
                    code.shown,
                    code.status,
                    field(code.member_id.as_ref().map(|m| m.to_string())),
                    field(code.order_id.as_ref().map(|o| csv_field(o))),
                    field(code.discount_minor.map(|d| d.to_string())),
                    field(code.redeemed_at.map(|t| t.to_string())),
                ));
            }
            match rows.last() {
                Some((seq, _)) if rows.len() as i64 == STEP => after = *seq,
                _ => return Ok(csv),
            }
        }
    }

    /// A member's personal codes, newest first.
    pub async fn member_vouchers(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        crate::reads::member_of(&mut c, tenant, member).await?;
        let codes = store::codes_of_member(&mut c, member).await?;
        Ok(json!({ "items": codes.iter().map(code_view).collect::<Vec<_>>() }))
    }

    /// Refuses a prober that is locked out (before anything is looked up).
    async fn check_lockout(&self, subjects: &[String]) -> Result<(), CoreError> {
        let now = self.clock.now();
        let start = window_start(now);
        let failures = store::failures(&mut self.read().await?, subjects, start).await?;
        if failures >= MAX_FAILURES {
            let ends = start.as_second() + FAILURE_WINDOW_SECONDS;
            return Err(CoreError::LockedOut {
                retry_after_seconds: (ends - now.as_second()).max(1),
            });
        }
        Ok(())
    }

    /// Runs a voucher look-up under the lock-out: refused when locked out; a failure (no such
    /// code for this caller) is counted against every subject before it is answered.
    pub(crate) async fn probing<T>(
        &self,
        tenant: &TenantId,
        prober: &Prober,
        member: Option<&MemberId>,
        lookup: impl std::future::Future<Output = Result<T, CoreError>>,
    ) -> Result<T, CoreError> {
        let subjects = prober.subjects(tenant, member);
        self.check_lockout(&subjects).await?;
        let result = lookup.await;
        if let Err(CoreError::Domain(e)) = &result
            && *e == unknown_code()
        {
            let window_start = window_start(self.clock.now());
            self.write(
                tenant,
                &prober.actor,
                None,
                Command::RecordVoucherFailure {
                    subjects,
                    window_start,
                },
            )
            .await?;
        }
        result
    }

    /// The member a request names, when it names one that exists (for the lock-out subject).
    async fn named_member(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        r: &VoucherUse,
    ) -> Result<Option<MemberId>, CoreError> {
        let Some(m) = &r.member else {
            return Ok(None);
        };
        let key = crate::usecases::member_key(m);
        Ok(tally_store::queries::members::find_member_id(
            &mut self.read().await?,
            tenant,
            program,
            key,
        )
        .await?)
    }

    /// Checks a code against a basket: `{"valid": true, "discount_minor", …}` or
    /// `{"valid": false, "reason", "message"}`. Nothing is written (but a failed look-up counts
    /// towards the lock-out).
    pub async fn validate_voucher(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        prober: &Prober,
        r: &VoucherUse,
    ) -> Result<Value, CoreError> {
        let member = self.named_member(tenant, program, r).await?;
        let answer = self
            .probing(tenant, prober, member.as_ref(), async {
                let mut c = self.read().await?;
                let program = program_of(&mut c, tenant, program).await?;
                let usable = crate::usecases::vouchers::check_use(
                    &mut c,
                    tenant,
                    &program,
                    r,
                    self.clock.now(),
                )
                .await?;
                let mut view = use_view(&usable, program.currency.code(), None);
                view["valid"] = json!(true);
                Ok(view)
            })
            .await;
        match answer {
            Err(CoreError::Domain(
                DomainError::Refused { code, detail } | DomainError::Conflict { code, detail },
            )) => Ok(json!({ "valid": false, "reason": code, "message": detail })),
            Err(CoreError::Domain(e)) if e == unknown_code() => Ok(json!({
                "valid": false,
                "reason": "voucher_unknown",
                "message": "no such voucher code",
            })),
            other => other,
        }
    }

    /// Takes a code for an order (under the lock-out, like `validate`).
    pub async fn redeem_voucher(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        prober: &Prober,
        idempotency: Option<crate::IdempotencyKey>,
        r: VoucherUse,
    ) -> Result<Value, CoreError> {
        let member = self.named_member(tenant, program, &r).await?;
        self.probing(
            tenant,
            prober,
            member.as_ref(),
            self.write(
                tenant,
                &prober.actor,
                idempotency,
                Command::RedeemVoucher {
                    program: program.clone(),
                    request: r,
                },
            ),
        )
        .await
    }
}
