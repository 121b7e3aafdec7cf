//! Journey reads (a program's journeys, one journey with where its members stand, a member's
//! journeys) and the runner `tally serve` calls every few seconds.

use crate::message_reads::delivery_figures;
use crate::reads::{found, member_of, program_of};
use crate::usecases::journeys::{run_view, view};
use crate::{Command, CoreError, Tally};
use serde_json::{Value, json};
use tally_domain::ids::{JourneyId, MemberId, ProgramId, TenantId};
use tally_store::Database;
use tally_store::queries::Page;
use tally_store::queries::journeys as store;

/// Runs advanced per command.
const CHUNK: i64 = 500;

impl<D: Database> Tally<D> {
    pub async fn journeys(
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

    /// A journey with how many members are on it, finished it or left it, and what its messages
    /// became.
    pub async fn journey(&self, tenant: &TenantId, id: &JourneyId) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let row = found(store::get(&mut c, tenant, id).await?, "journey")?;
        let mut runs = json!({ "active": 0, "done": 0, "exited": 0, "held_out": 0 });
        for (status, n) in store::run_counts(&mut c, id).await? {
            runs[status] = json!(n);
        }
        let mut answer = view(&row);
        answer["runs"] = runs;
        answer["messages"] = delivery_figures(&mut c, id.as_str(), false).await?;
        Ok(answer)
    }

    /// What the journey did: its messages by status, and the purchases of the members it ran
    /// for against its held-out members in the `conversion_days` after each entered, with the
    /// uplift and its 95 % interval.
    pub async fn journey_report(
        &self,
        tenant: &TenantId,
        id: &JourneyId,
    ) -> Result<Value, CoreError> {
        let mut c = self.read().await?;
        let row = found(store::get(&mut c, tenant, id).await?, "journey")?;
        let journey = view(&row);
        let days = journey["conversion_days"].as_i64().unwrap_or(14);
        let window = jiff::SignedDuration::from_hours(24 * days).as_micros() as i64;
        let outcomes = store::outcomes(&mut c, id, window).await?;
        Ok(json!({
            "journey": journey,
            "delivery": delivery_figures(&mut c, id.as_str(), true).await?,
            "conversion": crate::campaign_reads::comparison(&outcomes),
        }))
    }

    /// Every playbook, with the journey made from it in this program, if any (the latest).
    pub async fn playbooks(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
    ) -> Result<Vec<Value>, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        let on = crate::usecases::journeys::from_playbooks(&mut c, program).await?;
        Ok(tally_domain::playbooks::PLAYBOOKS
            .iter()
            .map(|p| {
                let journey = on.iter().rev().find(|(k, _)| k == p.key).map(|(_, j)| j);
                json!({
                    "key": p.key,
                    "title": p.title,
                    "description": p.description,
                    "on": journey.is_some_and(|j| j.status != "archived"),
                    "journey_id": journey.map(|j| j.id.clone()),
                    "journey_status": journey.map(|j| j.status.clone()),
                })
            })
            .collect())
    }

    /// The journeys a member is or was on, newest first.
    pub async fn member_journeys(
        &self,
        tenant: &TenantId,
        member: &MemberId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        member_of(&mut c, tenant, member).await?;
        let page = store::runs_of_member(&mut c, member, cursor, limit).await?;
        Ok(Page {
            items: page.items.iter().map(run_view).collect(),
            next_cursor: page.next_cursor,
        })
    }

    /// Puts members on the journeys the runner starts itself (birthdays, expiring points,
    /// lifecycle stages); returns how many entered. `tally serve` does it every ten minutes.
    pub async fn enter_scheduled_journeys(&self) -> Result<u64, CoreError> {
        let system = TenantId::from_trusted("ten_system".into());
        let answer = self
            .write(&system, "journeys", None, Command::EnterScheduledJourneys)
            .await?;
        Ok(answer["entered"].as_u64().unwrap_or(0))
    }

    /// Runs every due journey step, a chunk of runs per command, until none is due; returns
    /// how many runs moved.
    pub async fn advance_journeys(&self) -> Result<u64, CoreError> {
        let system = TenantId::from_trusted("ten_system".into());
        let mut moved = 0;
        loop {
            let command = Command::AdvanceJourneys { limit: CHUNK };
            let answer = self.write(&system, "journeys", None, command).await?;
            let runs = answer["runs"].as_u64().unwrap_or(0);
            moved += runs;
            if runs < CHUNK as u64 {
                return Ok(moved);
            }
        }
    }

    /// Both: scheduled entries, then every due step. Returns how many runs moved.
    pub async fn run_journeys(&self) -> Result<u64, CoreError> {
        self.enter_scheduled_journeys().await?;
        self.advance_journeys().await
    }
}
