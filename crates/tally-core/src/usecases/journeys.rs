//! Journeys: saving them, putting members on them when a trigger fires (inside the
//! transaction of the purchase, enrolment or event that fired it), and running their steps.
//!
//! A run's steps are run by `AdvanceJourneys`, a command over the runs that are due: each run
//! is leased with a conditional write (one node runs it), then its steps run in that same
//! transaction up to the next wait or the end, and its place is saved. A message a step sends
//! carries the dedupe key `journey:{run}:{step}`, so even a step run twice (which the lease
//! prevents) sends once; points are granted in the same transaction that moves the run past the
//! step, so they are granted once. State lives in `journey_runs`: restarts and upgrades resume
//! where each member is.

use super::load_program;
use super::messages::{NewMessage, enqueue};
use crate::StepResult;
use crate::commands::Ctx;
use crate::earning::zone;
use crate::occasions::CATCH_UP_DAYS;
use crate::usecases::admin::record;
use jiff::SignedDuration;
use serde_json::{Value, json};
use tally_domain::DomainError;
use tally_domain::ids::{JourneyId, JourneyRunId, MemberId, ProgramId};
use tally_domain::inputs::AdjustmentRequest;
use tally_domain::journeys::{Condition, JourneyDoc, Step, Trigger, next_local};
use tally_domain::model::Member;
use tally_domain::model::{birthdays_on, is_birthday};
use tally_store::Conn;
use tally_store::queries::journeys::{self as store, JourneyRow, RunRow};
use tally_store::queries::{members as member_rows, occasions, programs, templates};

/// How long a node holds a run while it runs its steps.
const LEASE: SignedDuration = SignedDuration::from_secs(120);

/// The statuses a journey can be set to.
pub const STATUSES: &[&str] = &["active", "paused", "archived"];

pub(crate) fn view(j: &JourneyRow) -> Value {
    let document: Value = serde_json::from_str(&j.document).unwrap_or(Value::Null);
    json!({
        "id": j.id,
        "program_id": j.program_id,
        "name": j.name,
        "trigger": document["trigger"],
        "reentry": document["reentry"],
        "steps": document["steps"],
        "holdout_percent": document["holdout_percent"].as_i64().unwrap_or(0),
        "conversion_days": document["conversion_days"].as_i64().unwrap_or(14),
        "status": j.status,
        "created_at": j.created_at,
        "updated_at": j.updated_at,
    })
}

pub(crate) fn run_view(r: &RunRow) -> Value {
    json!({
        "id": r.id,
        "journey_id": r.journey_id,
        "member_id": r.member_id,
        "occurrence": r.occurrence,
        "step": r.step,
        "status": r.status,
        "due_at": r.due_at,
        "entered_at": r.entered_at,
        "ended_at": r.ended_at,
        "held_out": r.held_out,
    })
}

fn parse(row: &JourneyRow) -> StepResult<JourneyDoc> {
    let value: Value = serde_json::from_str(&row.document)
        .map_err(|e| tally_store::StoreError::Decode(format!("journey {}: {e}", row.id)))?;
    Ok(JourneyDoc::parse(&value)?)
}

pub async fn create<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    body: &Value,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    let doc = JourneyDoc::parse(body)?;
    for (i, step) in doc.steps.iter().enumerate() {
        if let Step::Send { template, .. } = step {
            let t = templates::get(c, &ctx.tenant, template).await?;
            if t.is_none_or(|t| &t.program_id != program) {
                return Err(DomainError::invalid(
                    format!("/steps/{i}/send/template"),
                    "is not a template of the program",
                )
                .into());
            }
        }
        if let Step::GrantReward(reward) = step {
            let r = tally_store::queries::rewards::get_reward(c, &ctx.tenant, reward).await?;
            if r.is_none_or(|r| &r.program_id != program) {
                return Err(DomainError::invalid(
                    format!("/steps/{i}/grant_reward"),
                    "is not a reward of the program",
                )
                .into());
            }
        }
        if let Step::ActivateOffer(offer) = step {
            let o = tally_store::queries::offers::get(c, &ctx.tenant, offer).await?;
            if o.is_none_or(|o| &o.program_id != program) {
                return Err(DomainError::invalid(
                    format!("/steps/{i}/activate_offer"),
                    "is not an offer of the program",
                )
                .into());
            }
        }
        if let Step::Webhook { endpoint, .. } = step {
            let e = tally_store::queries::webhooks::get_endpoint(c, &ctx.tenant, endpoint).await?;
            if e.is_none_or(|e| &e.program_id != program) {
                return Err(DomainError::invalid(
                    format!("/steps/{i}/webhook/endpoint"),
                    "is not a webhook endpoint of the program",
                )
                .into());
            }
        }
    }
    // Stored as given, with the defaults filled in, so the view shows what runs.
    let mut document = body.clone();
    document["reentry"] = json!(doc.reentry.as_str());
    let row = JourneyRow {
        id: JourneyId::generate(),
        tenant_id: ctx.tenant.clone(),
        program_id: program.clone(),
        name: doc.name.clone(),
        trigger_type: doc.trigger.name().into(),
        document: document.to_string(),
        status: "active".into(),
        created_at: ctx.now,
        updated_at: ctx.now,
    };
    store::insert(c, &row).await?;
    tally_store::queries::rules::bump_revision(c, program).await?;
    record(
        c,
        ctx,
        "journey.created",
        row.id.as_str(),
        json!({ "name": row.name }),
    )
    .await?;
    Ok(view(&row))
}

pub async fn set_status<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &JourneyId,
    status: &str,
) -> StepResult<Value> {
    let mut row = store::get(c, &ctx.tenant, id)
        .await?
        .ok_or_else(|| DomainError::not_found("journey"))?;
    if !STATUSES.contains(&status) {
        return Err(DomainError::invalid(
            "/status",
            format!("must be one of {}", STATUSES.join(", ")),
        )
        .into());
    }
    store::set_status(c, id, status, ctx.now).await?;
    tally_store::queries::rules::bump_revision(c, &row.program_id).await?;
    record(
        c,
        ctx,
        "journey.status",
        id.as_str(),
        json!({ "status": status }),
    )
    .await?;
    row.status = status.to_owned();
    row.updated_at = ctx.now;
    Ok(view(&row))
}

/// An active journey a trigger can start, as the earning set-up caches it.
#[derive(Clone, Debug)]
pub struct ActiveJourney {
    pub id: JourneyId,
    pub doc: JourneyDoc,
}

impl ActiveJourney {
    pub fn from_row(row: &JourneyRow) -> StepResult<ActiveJourney> {
        Ok(ActiveJourney {
            id: row.id.clone(),
            doc: parse(row)?,
        })
    }
}

/// Whether the member is in the journey's random control group (a stable hash of journey and
/// member, as for campaigns).
fn held_out(journey: &JourneyId, member: &MemberId, percent: i64) -> bool {
    percent > 0 && tally_domain::campaigns::held_out(journey.as_str(), member.as_str(), percent)
}

/// Puts the member on every active journey of the program that `trigger` starts, in the
/// transaction of what fired it. `cause` names the firing (a purchase or event id) for
/// journeys a member re-enters every time.
pub(crate) async fn enter<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    journeys: &[ActiveJourney],
    member: &MemberId,
    trigger: &Trigger,
    cause: &str,
) -> StepResult<usize> {
    let mut entered = 0;
    for j in journeys.iter().filter(|j| &j.doc.trigger == trigger) {
        let year = ctx.now.to_zoned(jiff::tz::TimeZone::UTC).year();
        let run = RunRow {
            id: JourneyRunId::generate(),
            tenant_id: ctx.tenant.clone(),
            journey_id: j.id.clone(),
            member_id: member.clone(),
            occurrence: j.doc.reentry.occurrence(year, cause),
            step: 0,
            status: "active".into(),
            due_at: ctx.now,
            entered_at: ctx.now,
            ended_at: None,
            held_out: held_out(&j.id, member, j.doc.holdout_percent),
        };
        entered += usize::from(store::enter(c, &run).await?);
    }
    if entered > 0 {
        ctx.marks.journeys();
    }
    Ok(entered)
}

/// After a purchase: the journeys that any purchase, a first purchase, or a move up a tier
/// start.
pub(crate) async fn after_purchase<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    journeys: &[ActiveJourney],
    member: &MemberId,
    answer: &Value,
) -> StepResult<usize> {
    let cause = answer["purchase_id"].as_str().unwrap_or_default();
    let mut entered = enter(c, ctx, journeys, member, &Trigger::Purchase, cause).await?;
    let wants_first = journeys
        .iter()
        .any(|j| j.doc.trigger == Trigger::FirstPurchase);
    if wants_first && store::purchase_count(c, member).await? == 1 {
        entered += enter(c, ctx, journeys, member, &Trigger::FirstPurchase, cause).await?;
    }
    if answer["tier"]["upgraded"] == true {
        entered += enter(c, ctx, journeys, member, &Trigger::TierUp, cause).await?;
    }
    // Points collected (available and pending) that this purchase took past a threshold.
    let balance = &answer["balance"];
    let total =
        balance["available"].as_i64().unwrap_or(0) + balance["pending"].as_i64().unwrap_or(0);
    let before = total - answer["points_earned"].as_i64().unwrap_or(0);
    for j in journeys {
        if let Trigger::PointsReached { points } = j.doc.trigger
            && before < points
            && points <= total
        {
            let one = std::slice::from_ref(j);
            entered += enter(c, ctx, one, member, &j.doc.trigger, cause).await?;
        }
    }
    Ok(entered)
}

/// Puts members on the journeys the runner starts itself: birthdays (today or in the last
/// week, in the member's time zone, for a server that was down), points about to expire, and
/// lifecycle stages. Returns how many entered.
pub async fn enter_scheduled<C: Conn>(c: &mut C, ctx: &Ctx) -> StepResult<usize> {
    let mut entered = 0;
    for kind in [
        "birthday",
        "anniversary",
        "points_expiring",
        "lifecycle",
        "inactive",
    ] {
        for row in store::active_with_trigger(c, kind).await? {
            let Some(program) = programs::get_program(c, &row.tenant_id, &row.program_id).await?
            else {
                continue;
            };
            let doc = parse(&row)?;
            let found: Vec<(MemberId, String)> = match &doc.trigger {
                Trigger::Birthday => birthdays(c, ctx, &program).await?,
                Trigger::Anniversary => anniversaries(c, ctx, &program).await?,
                Trigger::PointsExpiring { within_days } => {
                    let until = ctx.now + SignedDuration::from_hours(24 * within_days);
                    store::expiring_points(c, &program.id, ctx.now, until)
                        .await?
                        .into_iter()
                        .map(|(m, at)| {
                            (
                                m,
                                format!("expiry:{}", at.to_zoned(jiff::tz::TimeZone::UTC).date()),
                            )
                        })
                        .collect()
                }
                Trigger::Lifecycle {
                    stage,
                    min_value_percentile,
                } => {
                    let min = min_value_percentile.unwrap_or(0);
                    store::members_in_stage(c, &program.id, stage, min)
                        .await?
                        .into_iter()
                        .map(|(m, at)| {
                            (
                                m,
                                format!("{stage}:{}", at.to_zoned(jiff::tz::TimeZone::UTC).date()),
                            )
                        })
                        .collect()
                }
                Trigger::Inactive { days } => {
                    // A lapse is looked for during a week after it, like birthdays, so a
                    // server that was down still finds it; once per lapse (its last purchase).
                    let until = ctx.now - SignedDuration::from_hours(24 * days);
                    let from = until - SignedDuration::from_hours(24 * CATCH_UP_DAYS);
                    store::lapsed(c, &program.id, from, until)
                        .await?
                        .into_iter()
                        .map(|(m, last)| (m, format!("inactive:{}", last.as_microsecond())))
                        .collect()
                }
                _ => Vec::new(),
            };
            for (member, cause) in found {
                // A birthday's or an anniversary's cause is its year; the others' occurrence
                // follows `reentry`.
                let occurrence = if matches!(doc.trigger, Trigger::Birthday | Trigger::Anniversary)
                {
                    cause
                } else {
                    let year = ctx.now.to_zoned(jiff::tz::TimeZone::UTC).year();
                    doc.reentry.occurrence(year, &cause)
                };
                let run = RunRow {
                    id: JourneyRunId::generate(),
                    tenant_id: row.tenant_id.clone(),
                    journey_id: row.id.clone(),
                    member_id: member.clone(),
                    occurrence,
                    step: 0,
                    status: "active".into(),
                    due_at: ctx.now,
                    entered_at: ctx.now,
                    ended_at: None,
                    held_out: held_out(&row.id, &member, doc.holdout_percent),
                };
                entered += usize::from(store::enter(c, &run).await?);
            }
        }
    }
    Ok(entered)
}

/// Members whose anniversary of joining was today or in the last week (in the program's time
/// zone), with its year.
async fn anniversaries<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &tally_domain::program::Program,
) -> StepResult<Vec<(MemberId, String)>> {
    let program_zone = zone(program)?;
    let today = ctx.now.to_zoned(program_zone.clone()).date();
    let mut out = Vec::new();
    for back in 0..CATCH_UP_DAYS {
        let Ok(day) = today.checked_sub(jiff::Span::new().days(back)) else {
            continue;
        };
        let days = crate::occasions::anniversaries_on(day, &program_zone, 1970);
        for member in occasions::enrolled_within(c, &program.id, &days).await? {
            out.push((member, day.year().to_string()));
        }
    }
    Ok(out)
}

/// Members whose birthday was today or in the last week in their own time zone, with the
/// year of that birthday.
async fn birthdays<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &tally_domain::program::Program,
) -> StepResult<Vec<(MemberId, String)>> {
    let program_zone = zone(program)?;
    // The birthdays of the catch-up days in the program's zone, a day wider each way for
    // members in other zones; each member's own day is then checked in their zone.
    let today = ctx.now.to_zoned(program_zone.clone()).date();
    let month_days: Vec<String> = (-1..=CATCH_UP_DAYS)
        .filter_map(|back| today.checked_sub(jiff::Span::new().days(back)).ok())
        .flat_map(birthdays_on)
        .collect();
    let mut out = Vec::new();
    for born in occasions::born_on(c, &program.id, &month_days).await? {
        let Ok(birthday) = born.birthday.parse::<jiff::civil::Date>() else {
            continue;
        };
        let member_zone = born
            .time_zone
            .as_deref()
            .and_then(|tz| jiff::tz::TimeZone::get(tz).ok())
            .unwrap_or_else(|| program_zone.clone());
        let today = ctx.now.to_zoned(member_zone).date();
        let day = (0..CATCH_UP_DAYS)
            .filter_map(|back| today.checked_sub(jiff::Span::new().days(back)).ok())
            .find(|d| is_birthday(birthday, *d));
        if let Some(day) = day {
            out.push((born.member_id, day.year().to_string()));
        }
    }
    Ok(out)
}

/// Runs the steps of up to `limit` due runs: `{"runs", "steps"}`.
pub async fn advance<C: Conn>(c: &mut C, ctx: &Ctx, limit: i64) -> StepResult<Value> {
    let mut runs = 0;
    let mut steps = 0;
    for run in store::due(c, ctx.now, limit).await? {
        if !store::lease(c, &run.id, ctx.now, ctx.now + LEASE).await? {
            continue;
        }
        runs += 1;
        steps += run_steps(c, ctx, &run).await?;
    }
    Ok(json!({ "runs": runs, "steps": steps }))
}

/// Runs a run's steps from where it stands to the next wait or the end; returns how many ran.
async fn run_steps<C: Conn>(c: &mut C, ctx: &Ctx, run: &RunRow) -> StepResult<usize> {
    let Some(journey) = store::get(c, &run.tenant_id, &run.journey_id).await? else {
        return Ok(0);
    };
    let end = |status: &'static str| (status, ctx.now);
    if journey.status == "paused" {
        store::save(
            c,
            &run.id,
            run.step,
            "active",
            ctx.now + SignedDuration::from_hours(1),
            ctx.now,
        )
        .await?;
        return Ok(0);
    }
    let doc = parse(&journey)?;
    let member = member_rows::get_member(c, &run.tenant_id, &run.member_id).await?;
    let Some(mut member) =
        member.filter(|m| journey.status == "active" && tally_domain::messaging::reachable(m))
    else {
        store::save(c, &run.id, run.step, "exited", ctx.now, ctx.now).await?;
        return Ok(0);
    };
    let program = programs::get_program(c, &run.tenant_id, &journey.program_id)
        .await?
        .ok_or_else(|| DomainError::not_found("program"))?;
    let member_zone = member
        .time_zone
        .as_ref()
        .and_then(|tz| jiff::tz::TimeZone::get(tz.as_str()).ok())
        .map_or_else(|| zone(&program), Ok)?;
    let actor_ctx = Ctx {
        tenant: run.tenant_id.clone(),
        actor: format!("journey {}", journey.id),
        now: ctx.now,
        marks: ctx.marks.clone(),
        memo: ctx.memo.clone(),
    };
    let mut index = run.step as usize;
    let mut ran = 0;
    let (status, due) = loop {
        let Some(step) = doc.steps.get(index) else {
            break end("done");
        };
        ran += 1;
        match step {
            Step::Wait(d) => {
                index += 1;
                break ("active", ctx.now + *d);
            }
            Step::WaitUntil(t) => {
                index += 1;
                break ("active", next_local(ctx.now, *t, &member_zone));
            }
            Step::Send { template, channel } => {
                let new = NewMessage {
                    tenant: &run.tenant_id,
                    program: &journey.program_id,
                    member: &member.id,
                    template,
                    channel: *channel,
                    source: "journey",
                    source_id: Some(journey.id.to_string()),
                    dedupe_key: format!("journey:{}:{index}", run.id),
                    due_at: ctx.now,
                    held_out: false,
                };
                enqueue(c, &actor_ctx, new).await?;
            }
            Step::GrantPoints { points, reason } => {
                let request =
                    AdjustmentRequest::parse(&json!({ "points": points, "reason": reason }))?;
                super::adjustments::adjust(c, &actor_ctx, &member.id, &request).await?;
            }
            Step::AddTag(tag) | Step::RemoveTag(tag) => {
                let add = matches!(step, Step::AddTag(_));
                retag(c, &mut member, tag, add, ctx.now).await?;
            }
            Step::GrantReward(reward) => {
                let found = tally_store::queries::rewards::get_reward(c, &run.tenant_id, reward);
                // A reward deleted since the journey was saved is skipped.
                if let Some(r) = found.await? {
                    super::rewards::grant_free(c, &actor_ctx, &run.tenant_id, &r, &member.id)
                        .await?;
                }
            }
            Step::ActivateOffer(offer) => {
                // An offer no longer open to the member (ended, paused, another audience) is
                // skipped: the journey goes on. Its checks come before anything is written.
                match super::offers::activate(c, &actor_ctx, &member.id, offer).await {
                    Ok(_) | Err(crate::StepError::Domain(_)) => {}
                    Err(e) => return Err(e),
                }
            }
            Step::Webhook { endpoint, label } => {
                let data = json!({
                    "journey_id": journey.id,
                    "journey": journey.name,
                    "step": index,
                    "label": label,
                    "member": super::to_json(&member),
                });
                let cause = format!("{}:{index}", run.id);
                super::webhooks::publish_to(
                    c,
                    &actor_ctx,
                    endpoint,
                    "journey.webhook",
                    &cause,
                    data,
                )
                .await?;
            }
            Step::Branch { condition, then } => {
                if holds(c, condition, &member, run).await? {
                    index = *then;
                    continue;
                }
            }
            Step::Exit => break end("exited"),
        }
        index += 1;
    };
    store::save(c, &run.id, index as i64, status, due, ctx.now).await?;
    Ok(ran)
}

async fn holds<C: Conn>(
    c: &mut C,
    condition: &Condition,
    member: &Member,
    run: &RunRow,
) -> StepResult<bool> {
    Ok(match condition {
        Condition::PurchasedSinceEntry => {
            store::purchased_since(c, &member.id, run.entered_at).await?
        }
        Condition::HasTag(tag) => member.tags.iter().any(|t| t == tag),
        Condition::PointsAtLeast(n) => member.balance.available.value() >= *n,
    })
}

async fn retag<C: Conn>(
    c: &mut C,
    member: &mut Member,
    tag: &str,
    add: bool,
    now: tally_domain::Timestamp,
) -> StepResult<()> {
    let has = member.tags.iter().any(|t| t == tag);
    if has == add {
        return Ok(());
    }
    if add {
        member.tags.push(tag.to_owned());
    } else {
        member.tags.retain(|t| t != tag);
    }
    member_rows::update_member(c, member, now).await?;
    Ok(())
}

/// The program's journeys made from each playbook: `(playbook key, journey)`.
pub(crate) async fn from_playbooks<C: Conn>(
    c: &mut C,
    program: &ProgramId,
) -> StepResult<Vec<(String, JourneyRow)>> {
    let mut out = Vec::new();
    let mut cursor = None;
    loop {
        let page = store::list(c, program, cursor, Some(200)).await?;
        for row in page.items {
            let document: Value = serde_json::from_str(&row.document).unwrap_or(Value::Null);
            if let Some(key) = document["playbook"].as_str() {
                out.push((key.to_owned(), row));
            }
        }
        match page.next_cursor {
            Some(next) => cursor = Some(next),
            None => return Ok(out),
        }
    }
}

/// Switches a playbook on: its templates and its journey, made at once (then ordinary
/// templates and a journey to edit, pause or archive). Once per program, unless its journey
/// was archived.
pub async fn switch_on_playbook<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    key: &str,
) -> StepResult<Value> {
    load_program(c, ctx, program).await?;
    let playbook =
        tally_domain::playbooks::find(key).ok_or_else(|| DomainError::not_found("playbook"))?;
    let on = from_playbooks(c, program).await?;
    if on.iter().any(|(k, j)| k == key && j.status != "archived") {
        return Err(DomainError::conflict(
            "playbook_on",
            "this playbook is on already; pause or archive its journey first",
        )
        .into());
    }
    let mut templates = Vec::new();
    for t in playbook.templates {
        let html = format!("{}{}", t.html, tally_domain::playbooks::footer());
        let input = tally_domain::templates::TemplateInput::parse(
            &json!({ "name": t.name, "subject": t.subject, "html": html, "text": t.text }),
        )?;
        templates.push(super::templates::create(c, ctx, program, &input).await?);
    }
    let ids: Vec<String> = templates
        .iter()
        .map(|t| t["id"].as_str().unwrap_or_default().to_owned())
        .collect();
    let journey = create(c, ctx, program, &playbook.journey(&ids)).await?;
    record(
        c,
        ctx,
        "playbook.on",
        program.as_str(),
        json!({ "playbook": key }),
    )
    .await?;
    Ok(json!({ "playbook": key, "journey": journey, "templates": templates }))
}
