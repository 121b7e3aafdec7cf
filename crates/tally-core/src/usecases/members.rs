//! Enrolment and profile changes.

use super::{load_member, load_program, to_json};
use crate::StepResult;
use crate::commands::Ctx;
use crate::earning;
use crate::usecases::admin::record;
use serde_json::{Value, json};
use tally_domain::card::{new_card_number, new_card_token};
use tally_domain::ids::{MemberId, ProgramId};
use tally_domain::inputs::{ConsentInput, MemberPatch, NewMember};
use tally_domain::model::{Balance, Card, Consent, Member, MemberStatus};
use tally_domain::{DomainError, Points};
use tally_rules::Trigger;
use tally_store::Conn;
use tally_store::queries::members::{self, MemberKey};

pub async fn enroll<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &ProgramId,
    m: &NewMember,
    source: &str,
) -> StepResult<Value> {
    let program_row = load_program(c, ctx, program).await?;
    if m.enrolled_at.is_some_and(|at| at > ctx.now) {
        return Err(DomainError::invalid("/enrolled_at", "must not be in the future").into());
    }
    if let Some(external_id) = &m.external_id
        && members::find_member_id(c, &ctx.tenant, program, MemberKey::ExternalId(external_id))
            .await?
            .is_some()
    {
        return Err(DomainError::conflict(
            "external_id_taken",
            format!("a member with external_id `{external_id}` exists"),
        )
        .into());
    }
    let person =
        members::find_or_create_person(c, m.email.as_ref(), m.phone.as_ref(), ctx.now).await?;
    let mut member = Member {
        id: MemberId::generate(),
        program_id: program.clone(),
        person_id: person.id,
        external_id: m.external_id.clone(),
        name: m.name.clone(),
        email: m.email.clone(),
        email_verified: person.email_verified,
        phone: m.phone.clone(),
        phone_verified: person.phone_verified,
        birthday: m.birthday,
        locale: m.locale.clone(),
        time_zone: m.time_zone.clone(),
        preferred_channel: m.preferred_channel,
        consents: consents(&m.consents, ctx, source),
        attributes: m.attributes.clone(),
        tags: m.tags.clone(),
        status: MemberStatus::Active,
        // A clash of random card numbers is a unique violation; the writer retries with new ones.
        card: Card {
            number: new_card_number(),
            token: new_card_token(),
        },
        balance: Balance {
            available: Points::ZERO,
            pending: Points::ZERO,
        },
        enrolled_at: m.enrolled_at.unwrap_or(ctx.now),
    };
    members::insert_member(c, &ctx.tenant, &member).await?;
    crate::referrals::on_enrol(c, ctx, &member, m.referral_code.as_deref()).await?;
    welcome(c, ctx, &program_row, &mut member).await?;
    let setup = crate::earning::active_rules(c, &program_row).await?;
    let (journeys, started) = (&setup.journeys, tally_domain::journeys::Trigger::Enrolled);
    crate::usecases::journeys::enter(c, ctx, journeys, &member.id, &started, member.id.as_str())
        .await?;
    let answer = to_json(&member);
    let (hooks, cause) = (&setup.webhooks, member.id.as_str());
    super::webhooks::publish(c, ctx, hooks, program, "member.enrolled", cause, &answer).await?;
    Ok(answer)
}

/// Enrolment rules (a welcome bonus): awarded at once, as of the enrolment.
async fn welcome<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &tally_domain::program::Program,
    member: &mut Member,
) -> StepResult<()> {
    let compiled = earning::active_rules(c, program).await?;
    if !compiled.set.for_trigger(Trigger::Enrolment) {
        return Ok(());
    }
    let at = member.enrolled_at;
    // A new member holds the plan's first level when its threshold is 0.
    let tier = compiled
        .tier_plan
        .as_ref()
        .and_then(|plan| plan.levels.first())
        .filter(|level| level.threshold == 0)
        .map(|level| level.name.as_str());
    let outcome = earning::evaluate(
        c,
        program,
        &compiled,
        Trigger::Enrolment,
        &member.id,
        &earning::Profile::of(member),
        tier,
        None,
        Points::ZERO,
        at,
        true,
    )
    .await?;
    let award = crate::awards::AwardContext {
        program: &program.id,
        member: &member.id,
        order_id: None,
        purchase_id: None,
        event_id: None,
        return_id: None,
        occurred_at: at,
    };
    if let (_, Some(balance), _) =
        crate::awards::post_awards(c, ctx, &compiled, &outcome, &award).await?
    {
        member.balance.available = balance;
    }
    Ok(())
}

fn consents(inputs: &[ConsentInput], ctx: &Ctx, source: &str) -> Vec<Consent> {
    inputs
        .iter()
        .map(|i| Consent {
            channel: i.channel,
            granted: i.granted,
            changed_at: ctx.now,
            source: source.to_owned(),
        })
        .collect()
}

pub async fn update<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    id: &MemberId,
    patch: &MemberPatch,
    source: &str,
) -> StepResult<Value> {
    let mut m = load_member(c, ctx, id).await?;
    if let Some(Some(external_id)) = &patch.external_id
        && m.external_id.as_ref() != Some(external_id)
        && members::find_member_id(
            c,
            &ctx.tenant,
            &m.program_id,
            MemberKey::ExternalId(external_id),
        )
        .await?
        .is_some()
    {
        return Err(DomainError::conflict(
            "external_id_taken",
            format!("a member with external_id `{external_id}` exists"),
        )
        .into());
    }
    let status_before = m.status;
    macro_rules! apply {
        ($($field:ident),*) => { $( if let Some(v) = &patch.$field { m.$field = v.clone(); } )* };
    }
    apply!(
        external_id,
        name,
        email,
        phone,
        birthday,
        locale,
        time_zone,
        preferred_channel
    );
    if let Some(attributes) = &patch.attributes {
        m.attributes = attributes.clone();
    }
    if let Some(tags) = &patch.tags {
        m.tags = tags.clone();
    }
    if let Some(status) = patch.status {
        if status_before == MemberStatus::Closed && status != MemberStatus::Closed {
            return Err(DomainError::refused(
                "member_closed",
                "a closed membership cannot be reopened; enrol again",
            )
            .into());
        }
        m.status = status;
    }
    members::update_member(c, &m, ctx.now).await?;
    for consent in consents(&patch.consents, ctx, source) {
        let changed = m
            .consents
            .iter()
            .find(|x| x.channel == consent.channel)
            .is_none_or(|x| x.granted != consent.granted);
        if changed {
            members::upsert_consent(c, &m.id, &consent).await?;
            m.consents.retain(|x| x.channel != consent.channel);
            m.consents.push(consent);
        }
    }
    m.consents.sort_by_key(|x| x.channel.as_str());
    if m.status != status_before {
        record(
            c,
            ctx,
            "member.status_changed",
            m.id.as_str(),
            json!({ "from": status_before, "to": m.status }),
        )
        .await?;
    }
    Ok(to_json(&m))
}

pub async fn rotate_card_token<C: Conn>(c: &mut C, ctx: &Ctx, id: &MemberId) -> StepResult<Value> {
    let mut m = load_member(c, ctx, id).await?;
    m.card.token = new_card_token();
    members::update_member(c, &m, ctx.now).await?;
    record(
        c,
        ctx,
        "member.card_token_rotated",
        m.id.as_str(),
        json!({}),
    )
    .await?;
    Ok(to_json(&m))
}
