//! What each command does: its use case, inside the transaction the writer opened.

use super::*;

impl Command {
    /// Whether a successful run of this command changes facts about one member that segments
    /// look at, and the program when the command names it (otherwise the answer does). The
    /// member is in the answer (`member_id`, or `id` for a member).
    pub fn touches_member(&self) -> Option<Option<&ProgramId>> {
        match self {
            Command::Enroll { program, .. }
            | Command::RecordPurchase { program, .. }
            | Command::RecordReturn { program, .. }
            | Command::Redeem { program, .. } => Some(Some(program)),
            Command::UpdateMember { .. }
            | Command::Adjust { .. }
            | Command::Donate { .. }
            | Command::CancelRedemption { .. } => Some(None),
            _ => None,
        }
    }

    /// Whether the command is a batch's worth of work by itself (an import chunk). With several
    /// writers it runs in a transaction of its own, so the next one goes to another writer.
    pub fn is_bulk(&self) -> bool {
        matches!(self, Command::ImportPurchases { .. })
    }

    /// Applies the command on `c`, inside the transaction the writer opened.
    pub async fn apply<C: Conn>(&self, c: &mut C, ctx: &Ctx) -> StepResult<Value> {
        match self {
            Command::CreateTenant { name } => usecases::admin::create_tenant(c, ctx, name).await,
            Command::Webhooks(command) => command.apply(c, ctx).await,
            Command::Push(command) => command.apply(c, ctx).await,
            Command::CreateJourney { program, document } => {
                usecases::journeys::create(c, ctx, program, document).await
            }
            Command::SetJourneyStatus { journey, status } => {
                usecases::journeys::set_status(c, ctx, journey, status).await
            }
            Command::AdvanceJourneys { limit } => usecases::journeys::advance(c, ctx, *limit).await,
            Command::SwitchOnPlaybook { program, playbook } => {
                usecases::journeys::switch_on_playbook(c, ctx, program, playbook).await
            }
            Command::EnterScheduledJourneys => {
                let entered = usecases::journeys::enter_scheduled(c, ctx).await?;
                Ok(serde_json::json!({ "entered": entered }))
            }
            Command::CreateCampaign { program, input } => {
                usecases::campaigns::create(c, ctx, program, input).await
            }
            Command::LaunchCampaign { campaign } => {
                usecases::campaigns::launch(c, ctx, campaign).await
            }
            Command::CancelCampaign { campaign } => {
                usecases::campaigns::cancel(c, ctx, campaign).await
            }
            Command::FanOutCampaigns { limit } => {
                usecases::campaigns::fan_out(c, ctx, *limit).await
            }
            Command::PutMessagingSettings { program, settings } => {
                usecases::messages::put_settings(c, ctx, program, settings).await
            }
            Command::QueueMessage { member, request } => {
                usecases::messages::queue(c, ctx, member, request).await
            }
            Command::ClaimMessages(request) => usecases::messages::claim(c, ctx, request).await,
            Command::SettleMessages(outcomes) => {
                let mut settled = Vec::with_capacity(outcomes.len());
                for (message, outcome) in outcomes {
                    settled.push(usecases::messages::settle(c, ctx, message, outcome).await?);
                }
                Ok(serde_json::json!({ "settled": settled }))
            }
            Command::ReactToMessage { token, reaction } => {
                usecases::messages::react(c, ctx, token, reaction).await
            }
            Command::ReadMessage { member, message } => {
                usecases::messages::read(c, ctx, member, message).await
            }
            Command::CreateTemplate { program, input } => {
                usecases::templates::create(c, ctx, program, input).await
            }
            Command::ReplaceTemplate { template, input } => {
                usecases::templates::replace(c, ctx, template, input).await
            }
            Command::PayWithCashback { program, request } => {
                usecases::cashback::pay(c, ctx, program, request).await
            }
            Command::RefundCashback { program, order_id } => {
                usecases::cashback::refund(c, ctx, program, order_id).await
            }
            Command::CreateOffer { program, input } => {
                usecases::offers::create(c, ctx, program, input).await
            }
            Command::SetOfferStatus { offer, status } => {
                usecases::offers::set_status(c, ctx, offer, status).await
            }
            Command::ActivateOffer { member, offer } => {
                usecases::offers::activate(c, ctx, member, offer).await
            }
            Command::StartOfferGroup { member, offer } => {
                usecases::offer_groups::start(c, ctx, member, offer).await
            }
            Command::JoinOfferGroup { member, code } => {
                usecases::offer_groups::join(c, ctx, member, code).await
            }
            Command::CreateCharity { program, input } => {
                usecases::charities::create(c, ctx, program, input).await
            }
            Command::SetCharityStatus { charity, status } => {
                usecases::charities::set_status(c, ctx, charity, status).await
            }
            Command::Donate { member, request } => {
                usecases::charities::donate(c, ctx, member, request).await
            }
            Command::SettleCharity {
                charity,
                settlement,
            } => usecases::charities::settle(c, ctx, charity, settlement).await,
            Command::CreateVoucherPool { program, input } => {
                usecases::vouchers::create_pool(c, ctx, program, input).await
            }
            Command::UpdateVoucherPool { pool, patch } => {
                usecases::vouchers::update_pool(c, ctx, pool, patch).await
            }
            Command::AddVoucherCodes { pool, codes } => {
                usecases::vouchers::add_codes(c, ctx, pool, codes).await
            }
            Command::AssignVoucher { pool, member } => {
                usecases::vouchers::assign(c, ctx, pool, member).await
            }
            Command::RedeemVoucher { program, request } => {
                usecases::vouchers::redeem(c, ctx, program, request).await
            }
            Command::ReleaseVoucher { program, request } => {
                usecases::vouchers::release(c, ctx, program, request).await
            }
            Command::RecordVoucherFailure {
                subjects,
                window_start,
            } => usecases::vouchers::record_failure(c, subjects, *window_start).await,
            Command::CreateApiKey {
                name,
                scope,
                secret_sha256,
                prefix,
            } => usecases::admin::create_api_key(c, ctx, name, scope, secret_sha256, prefix).await,
            Command::RevokeApiKey { id } => usecases::admin::revoke_api_key(c, ctx, id).await,
            Command::CreateProgram(p) => usecases::admin::create_program(c, ctx, p).await,
            Command::UpdateProgram { program, patch } => {
                usecases::admin::update_program(c, ctx, program, patch).await
            }
            Command::CreateLocation { program, location } => {
                usecases::admin::create_location(c, ctx, program, location).await
            }
            Command::SetProgramDisplay { program, display } => {
                usecases::admin::set_display(c, ctx, program, display).await
            }
            Command::UpdateLocation {
                location,
                update,
                active,
            } => usecases::admin::update_location(c, ctx, location, update, *active).await,
            Command::Enroll {
                program,
                member,
                source,
            } => usecases::members::enroll(c, ctx, program, member, source).await,
            Command::UpdateMember {
                member,
                patch,
                source,
            } => usecases::members::update(c, ctx, member, patch, source).await,
            Command::RotateCardToken { member } => {
                usecases::members::rotate_card_token(c, ctx, member).await
            }
            Command::RecordPurchase { program, purchase } => {
                usecases::purchases::record(c, ctx, program, purchase).await
            }
            Command::ImportPurchases { program, purchases } => {
                usecases::imports::import(c, ctx, program, purchases).await
            }
            Command::RecordReturn { program, ret } => {
                usecases::returns::record(c, ctx, program, ret).await
            }
            Command::CreateReward { program, reward } => {
                usecases::rewards::create(c, ctx, program, reward).await
            }
            Command::UpdateReward { reward, patch } => {
                usecases::rewards::update(c, ctx, reward, patch).await
            }
            Command::AwardOccasions { program } => {
                let program = usecases::load_program(c, ctx, program).await?;
                crate::occasions::award_due(c, ctx, &program).await
            }
            Command::SetExpiryPolicy { program, policy } => {
                usecases::expiry::set_policy(c, ctx, program, policy).await
            }
            Command::ExpirePoints { program, limit } => {
                usecases::expiry::expire(c, ctx, program, *limit).await
            }
            Command::ReleasePending { program, limit } => {
                let program = usecases::load_program(c, ctx, program).await?;
                crate::pending::release_due(c, ctx, &program.id, *limit).await
            }
            Command::SetTierPlan { program, plan } => {
                usecases::tiers::set_plan(c, ctx, program, plan).await
            }
            Command::PutEventType { program, doc } => {
                usecases::events::put_type(c, ctx, program, doc).await
            }
            Command::RecordEvent { program, event } => {
                usecases::events::record_event(c, ctx, program, event).await
            }
            Command::ReviewTiers { program, limit } => {
                usecases::tiers::review(c, ctx, program, *limit).await
            }
            Command::CreateRule {
                program,
                document,
                status,
            } => usecases::rules::create(c, ctx, program, document, status).await,
            Command::SetReferralPolicy { program, policy } => {
                usecases::referrals::set_policy(c, ctx, program, policy).await
            }
            Command::CreateStampCard { program, card } => {
                usecases::stamps::create(c, ctx, program, card).await
            }
            Command::UpdateStampCard {
                card,
                document,
                status,
            } => usecases::stamps::update(c, ctx, card, document.as_ref(), status.as_deref()).await,
            Command::GiveStamps { card, request } => {
                usecases::stamps::stamp_by_cashier(
                    c,
                    ctx,
                    card,
                    &request.member,
                    request.count,
                    request.location_id.as_ref(),
                    request.note.as_deref(),
                )
                .await
            }
            Command::StampDisplayCode { card, location } => {
                usecases::stamps::display_code(c, ctx, card, location).await
            }
            Command::ScanStampCode { member, code } => {
                usecases::stamps::scan(c, ctx, member, code).await
            }
            Command::UpdateRule {
                rule,
                document,
                status,
            } => usecases::rules::update(c, ctx, rule, document.as_ref(), status.as_deref()).await,
            Command::Redeem { program, request } => {
                usecases::rewards::redeem(c, ctx, program, request).await
            }
            Command::CancelRedemption { redemption } => {
                usecases::rewards::cancel(c, ctx, redemption).await
            }
            Command::FulfilRedemption { redemption, update } => {
                usecases::rewards::fulfil(c, ctx, redemption, update).await
            }
            Command::ConsumeRedemption { redemption } => {
                usecases::rewards::consume(c, ctx, redemption).await
            }
            Command::Adjust { member, request } => {
                usecases::adjustments::adjust(c, ctx, member, request).await
            }
            Command::PurgeIdempotencyKeys { older_than } => {
                let purged = tally_store::queries::idempotency::purge(c, *older_than).await?;
                Ok(serde_json::json!({ "purged": purged }))
            }
            Command::CreateSegment { program, input } => {
                usecases::segments::create(c, ctx, program, input).await
            }
            Command::ReplaceSegment { segment, input } => {
                usecases::segments::replace(c, ctx, segment, input).await
            }
            Command::SetSegmentStatus { segment, status } => {
                usecases::segments::set_status(c, ctx, segment, status).await
            }
            Command::SetStaticSegmentMembers { segment, members } => {
                usecases::segments::set_static_members(c, ctx, segment, members).await
            }
            Command::ApplySegmentChanges {
                program,
                changes,
                evaluated,
            } => usecases::segments::apply(c, ctx, program, changes, evaluated).await,
            Command::ClaimInsightsRun { program, lease } => {
                usecases::insights::claim(c, ctx, program, *lease).await
            }
            Command::StoreMemberInsights { rows } => usecases::insights::store(c, rows).await,
            Command::FinishInsightsRun { program, summary } => {
                usecases::insights::finish(c, ctx, program, summary.as_ref()).await
            }
            Command::AdvanceProgramTotals { program, margin } => {
                let folded =
                    tally_store::queries::flows::advance(c, program, ctx.now - *margin).await?;
                Ok(serde_json::json!({ "folded": folded }))
            }
            Command::CreateOperator(new) => usecases::operators::create(c, ctx, new).await,
            Command::IssueWalletCode {
                email,
                code_sha256,
                ttl,
            } => usecases::wallet::issue_code(c, ctx, email, code_sha256, *ttl).await,
            Command::StartWalletSession {
                email,
                code_sha256,
                token_sha256,
                csrf_token,
                ttl,
            } => {
                usecases::wallet::start_session(
                    c,
                    ctx,
                    email,
                    code_sha256,
                    token_sha256,
                    csrf_token,
                    *ttl,
                )
                .await
            }
            Command::EndWalletSession { token_sha256 } => {
                usecases::wallet::end_session(c, ctx, token_sha256).await
            }
            Command::IssueOperatorLink {
                operator,
                purpose,
                token_sha256,
                ttl,
            } => {
                usecases::operators::issue_link(c, ctx, operator, *purpose, token_sha256, *ttl)
                    .await
            }
            Command::StartOperatorSession(s) => usecases::operators::start_session(c, ctx, s).await,
            Command::EndOperatorSession { token_sha256 } => {
                usecases::operators::end_session(c, ctx, token_sha256).await
            }
            Command::SetOperatorActive { operator, active } => {
                usecases::operators::set_active(c, ctx, operator, *active).await
            }
            #[cfg(test)]
            Command::AlwaysConflicts => {
                Err(tally_store::StoreError::Retryable("always".into()).into())
            }
            #[cfg(test)]
            Command::AdjustThenRefuse { member, request } => {
                usecases::adjustments::adjust(c, ctx, member, request).await?;
                Err(
                    tally_domain::DomainError::refused("test_refusal", "refused after writing")
                        .into(),
                )
            }
        }
    }
}
