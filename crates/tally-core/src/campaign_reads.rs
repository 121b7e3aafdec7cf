//! Campaign reads (a program's campaigns, one campaign, its report) and the fan-out runner that
//! `tally serve` calls every few seconds.

use crate::message_reads::delivery_figures;
use crate::reads::{found, program_of};
use crate::usecases::campaigns::{FAN_OUT_CHUNK, view};
use crate::{Command, CoreError, Tally};
use jiff::SignedDuration;
use serde_json::{Value, json};
use tally_analytics::uplift::{self, Difference, Group};
use tally_domain::ids::{CampaignId, ProgramId, TenantId};
use tally_store::Database;
use tally_store::queries::Page;
use tally_store::queries::campaigns as store;

fn difference(d: Option<Difference>) -> Value {
    d.map_or(Value::Null, |d| {
        json!({ "estimate": d.estimate, "low": d.low, "high": d.high, "significant": d.is_significant() })
    })
}

fn group_view(g: &Group) -> Value {
    json!({
        "members": g.members,
        "converted": g.converted,
        "conversion": g.conversion(),
        "revenue_minor": g.revenue_sum as i64,
        "revenue_per_member_minor": g.revenue_per_member(),
    })
}

/// Treated against held-out members: each group's conversion and revenue, and the uplift with
/// its 95 % interval (for campaigns and journeys alike).
pub(crate) fn comparison(outcomes: &[tally_store::queries::campaigns::Outcome]) -> Value {
    let (mut treated, mut holdout) = (Group::default(), Group::default());
    for o in outcomes {
        let g = if o.held_out {
            &mut holdout
        } else {
            &mut treated
        };
        g.members += 1;
        g.converted += u64::from(o.purchases > 0);
        let revenue = o.revenue_minor as f64;
        g.revenue_sum += revenue;
        g.revenue_sum_squares += revenue * revenue;
    }
    json!({
        "treated": group_view(&treated),
        "holdout": group_view(&holdout),
        "uplift": {
            "conversion": difference(uplift::conversion(&treated, &holdout)),
            "revenue_per_member_minor": difference(uplift::revenue(&treated, &holdout)),
        },
    })
}

impl<D: Database> Tally<D> {
    pub async fn campaigns(
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

    pub async fn campaign(&self, tenant: &TenantId, id: &CampaignId) -> Result<Value, CoreError> {
        let row = found(
            store::get(&mut self.read().await?, tenant, id).await?,
            "campaign",
        )?;
        Ok(view(&row))
    }

    /// What the campaign did: its messages by status, opens, clicks and unsubscribes; and the
    /// purchases of the members it went to against the held-out members over the same window
    /// (`conversion_days` after sending, plus the spreading window), with the uplift and its
    /// 95 % interval. Both groups are random parts of one audience, so the difference is the
    /// campaign's effect; `significant` says whether chance alone is unlikely to explain it.
    pub async fn campaign_report(
        &self,
        tenant: &TenantId,
        id: &CampaignId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let row = found(store::get(&mut c, tenant, id).await?, "campaign")?;
        let delivery = delivery_figures(&mut c, id.as_str(), true).await?;
        let conversion = match row.send_at.filter(|_| row.launched_at.is_some()) {
            None => Value::Null,
            Some(from) => {
                let until = from
                    + SignedDuration::from_hours(
                        row.conversion_days * 24 + row.best_hour_within_hours.unwrap_or(0),
                    );
                let mut compared = comparison(&store::outcomes(&mut c, id, from, until).await?);
                compared["from"] = json!(from);
                compared["until"] = json!(until);
                compared
            }
        };
        Ok(json!({ "campaign": view(&row), "delivery": delivery, "conversion": conversion }))
    }

    /// Fans out every due campaign, a chunk per command, until none is left; returns how many
    /// members were handled. A chunk another node took first is skipped, not an error.
    pub async fn run_campaigns(&self) -> Result<u64, CoreError> {
        let system = TenantId::from_trusted("ten_system".into());
        let mut members = 0;
        let mut conflicts = 0;
        loop {
            let command = Command::FanOutCampaigns {
                limit: FAN_OUT_CHUNK,
            };
            match self.write(&system, "campaigns", None, command).await {
                Ok(answer) if answer["campaign"].is_null() => return Ok(members),
                Ok(answer) => members += answer["members"].as_u64().unwrap_or(0),
                Err(CoreError::Domain(tally_domain::DomainError::Conflict { .. }))
                    if conflicts < 100 =>
                {
                    conflicts += 1;
                }
                Err(e) => return Err(e),
            }
        }
    }
}
