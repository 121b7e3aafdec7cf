//! Every write Tally does, as data. The writer applies a command inside a savepoint; a command
//! never commits or talks to anything but its connection, so it can be retried safely.

use crate::StepResult;
use crate::usecases;
use serde_json::Value;
use tally_domain::Timestamp;
use tally_domain::events::{EventTypeDoc, NewEvent};
use tally_domain::expiry::ExpiryPolicy;
use tally_domain::ids::{
    ApiKeyId, LocationId, MemberId, OperatorId, ProgramId, RedemptionId, RewardId, RuleId,
    SegmentId, StampCardId, TenantId, VoucherPoolId,
};
use tally_domain::inputs::{
    AdjustmentRequest, MemberPatch, NewLocation, NewMember, NewProgram, NewPurchase, NewReturn,
    NewReward, ProgramPatch, RedeemRequest,
};
use tally_domain::operators::Role;
use tally_domain::referrals::ReferralPolicy;
use tally_domain::stamps::{StampCardDoc, StampRequest};
use tally_domain::text::Email;
use tally_domain::tiers::TierPlan;
use tally_store::Conn;
use tally_store::queries::operators::LinkPurpose;

/// Who asks, and when: the same for every command of one request.
#[derive(Clone, Debug)]
pub struct Ctx {
    pub tenant: TenantId,
    /// The API key id or operator name, recorded on transfers and in the audit log.
    pub actor: String,
    pub now: Timestamp,
    /// What the command left for the background runners (see [`crate::bell`]).
    pub marks: crate::bell::Marks,
}

/// An `Idempotency-Key` and the hash of the request it came with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct IdempotencyKey {
    pub key: String,
    pub request_sha256: String,
}

/// A change to a reward; `None` leaves a field as it is.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct RewardPatch {
    pub name: Option<String>,
    pub description: Option<Option<String>>,
    pub cost: Option<tally_domain::Points>,
    pub stock: Option<Option<i64>>,
    pub per_member_limit: Option<Option<i64>>,
    pub tiers: Option<Vec<String>>,
    /// `Some(None)`: the reward no longer hands out vouchers.
    pub voucher_pool_id: Option<Option<tally_domain::ids::VoucherPoolId>>,
    pub segments: Option<Vec<String>>,
    pub active: Option<bool>,
}

/// A new console operator. The password, if any, arrives already hashed (argon2id PHC string).
#[derive(Clone, Debug)]
pub struct NewOperator {
    pub email: Email,
    pub name: String,
    pub role: Role,
    pub locale: String,
    pub password_hash: Option<String>,
}

/// A console session to start: the SHA-256 of its cookie token, its CSRF token, and the one-time
/// link it came from (used up in the same transaction).
#[derive(Clone, Debug)]
pub struct NewSession {
    pub operator: OperatorId,
    pub token_sha256: String,
    pub csrf_token: String,
    pub ttl: jiff::SignedDuration,
    pub link_sha256: Option<String>,
    /// Set when an invite link is accepted with a chosen password (already hashed).
    pub password_hash: Option<String>,
}

#[derive(Clone, Debug)]
pub enum Command {
    /// A journey document, checked when saved (see `tally_domain::journeys`).
    CreateJourney {
        program: ProgramId,
        document: Value,
    },
    SetJourneyStatus {
        journey: tally_domain::ids::JourneyId,
        status: String,
    },
    SwitchOnPlaybook {
        program: ProgramId,
        playbook: String,
    },
    /// Runs the steps of due journey runs.
    AdvanceJourneys {
        limit: i64,
    },
    /// Enters members on the journeys the runner starts itself (birthdays, expiring points,
    /// lifecycle stages).
    EnterScheduledJourneys,
    CreateCampaign {
        program: ProgramId,
        input: tally_domain::campaigns::CampaignInput,
    },
    LaunchCampaign {
        campaign: tally_domain::ids::CampaignId,
    },
    CancelCampaign {
        campaign: tally_domain::ids::CampaignId,
    },
    /// One chunk of the campaign due first (see `usecases::campaigns::fan_out`).
    FanOutCampaigns {
        limit: i64,
    },
    PutMessagingSettings {
        program: ProgramId,
        settings: tally_domain::messaging::MessagingSettings,
    },
    QueueMessage {
        member: MemberId,
        request: tally_domain::messaging::MessageRequest,
    },
    /// The deliverer takes due messages (see `usecases::messages::claim`).
    ClaimMessages(usecases::messages::ClaimRequest),
    /// What became of the sends of one round, settled together.
    SettleMessages(Vec<(tally_domain::ids::MessageId, usecases::messages::Outcome)>),
    ReactToMessage {
        token: String,
        reaction: usecases::messages::Reaction,
    },
    ReadMessage {
        member: MemberId,
        message: tally_domain::ids::MessageId,
    },
    CreateTemplate {
        program: ProgramId,
        input: tally_domain::templates::TemplateInput,
    },
    ReplaceTemplate {
        template: tally_domain::ids::TemplateId,
        input: tally_domain::templates::TemplateInput,
    },
    PayWithCashback {
        program: ProgramId,
        request: tally_domain::cashback::CashbackPayment,
    },
    RefundCashback {
        program: ProgramId,
        order_id: String,
    },
    CreateOffer {
        program: ProgramId,
        input: tally_domain::offers::OfferInput,
    },
    SetOfferStatus {
        offer: tally_domain::ids::OfferId,
        status: String,
    },
    ActivateOffer {
        member: MemberId,
        offer: tally_domain::ids::OfferId,
    },
    StartOfferGroup {
        member: MemberId,
        offer: tally_domain::ids::OfferId,
    },
    JoinOfferGroup {
        member: MemberId,
        code: String,
    },
    CreateCharity {
        program: ProgramId,
        input: tally_domain::charities::CharityInput,
    },
    SetCharityStatus {
        charity: tally_domain::ids::CharityId,
        status: String,
    },
    Donate {
        member: MemberId,
        request: tally_domain::charities::DonationRequest,
    },
    SettleCharity {
        charity: tally_domain::ids::CharityId,
        settlement: tally_domain::charities::SettlementInput,
    },
    CreateVoucherPool {
        program: ProgramId,
        input: tally_domain::vouchers::PoolInput,
    },
    UpdateVoucherPool {
        pool: VoucherPoolId,
        patch: tally_domain::vouchers::PoolPatch,
    },
    /// Up to [`tally_domain::vouchers::MAX_CODES_PER_REQUEST`] codes, in one transaction.
    AddVoucherCodes {
        pool: VoucherPoolId,
        codes: tally_domain::vouchers::NewCodes,
    },
    AssignVoucher {
        pool: VoucherPoolId,
        member: tally_domain::inputs::MemberRef,
    },
    RedeemVoucher {
        program: ProgramId,
        request: tally_domain::vouchers::VoucherUse,
    },
    ReleaseVoucher {
        program: ProgramId,
        request: tally_domain::vouchers::VoucherRelease,
    },
    RecordVoucherFailure {
        subjects: Vec<String>,
        window_start: Timestamp,
    },
    CreateTenant {
        name: String,
    },
    CreateApiKey {
        name: String,
        scope: String,
        secret_sha256: String,
        prefix: String,
    },
    RevokeApiKey {
        id: ApiKeyId,
    },
    CreateProgram(NewProgram),
    UpdateProgram {
        program: ProgramId,
        patch: ProgramPatch,
    },
    CreateLocation {
        program: ProgramId,
        location: NewLocation,
    },
    SetProgramDisplay {
        program: ProgramId,
        display: tally_domain::display::ProgramDisplay,
    },
    UpdateLocation {
        location: LocationId,
        update: NewLocation,
        active: bool,
    },
    Enroll {
        program: ProgramId,
        member: NewMember,
        source: String,
    },
    UpdateMember {
        member: MemberId,
        patch: MemberPatch,
        source: String,
    },
    RotateCardToken {
        member: MemberId,
    },
    RecordPurchase {
        program: ProgramId,
        purchase: NewPurchase,
    },
    /// A chunk of an import (at most [`crate::MAX_IMPORT_CHUNK`] purchases).
    ImportPurchases {
        program: ProgramId,
        purchases: Vec<NewPurchase>,
    },
    RecordReturn {
        program: ProgramId,
        ret: NewReturn,
    },
    CreateReward {
        program: ProgramId,
        reward: NewReward,
    },
    UpdateReward {
        reward: RewardId,
        patch: RewardPatch,
    },
    /// A new earning rule; `document` is a rule document (validated again when applied).
    CreateRule {
        program: ProgramId,
        document: Value,
        status: String,
    },
    SetReferralPolicy {
        program: ProgramId,
        policy: ReferralPolicy,
    },
    CreateStampCard {
        program: ProgramId,
        card: StampCardDoc,
    },
    /// A new document and/or status for a stamp card.
    UpdateStampCard {
        card: StampCardId,
        document: Option<StampCardDoc>,
        status: Option<String>,
    },
    /// The cashier gives stamps.
    GiveStamps {
        card: StampCardId,
        request: StampRequest,
    },
    /// The code a store's display shows now (a new one when the last was used or is expiring).
    StampDisplayCode {
        card: StampCardId,
        location: LocationId,
    },
    /// A member scans a store's code.
    ScanStampCode {
        member: MemberId,
        code: String,
    },
    /// A new version of a rule's document, and/or a new status.
    UpdateRule {
        rule: RuleId,
        document: Option<Value>,
        status: Option<String>,
    },
    SetTierPlan {
        program: ProgramId,
        plan: TierPlan,
    },
    /// Declares a custom event type, or replaces its property schema.
    PutEventType {
        program: ProgramId,
        doc: EventTypeDoc,
    },
    /// Records a custom event; the program's rules for its type decide what it earns.
    RecordEvent {
        program: ProgramId,
        event: NewEvent,
    },
    /// Gives the birthday and anniversary bonuses due (housekeeping).
    AwardOccasions {
        program: ProgramId,
    },
    SetExpiryPolicy {
        program: ProgramId,
        policy: ExpiryPolicy,
    },
    /// Expires the points due, for up to `limit` members (housekeeping).
    ExpirePoints {
        program: ProgramId,
        limit: i64,
    },
    /// Moves pending points whose return window has ended to the available balance, for up to
    /// `limit` members (housekeeping).
    ReleasePending {
        program: ProgramId,
        limit: i64,
    },
    /// Reviews up to `limit` members whose tier review is due (housekeeping).
    ReviewTiers {
        program: ProgramId,
        limit: i64,
    },
    Redeem {
        program: ProgramId,
        request: RedeemRequest,
    },
    CancelRedemption {
        redemption: RedemptionId,
    },
    FulfilRedemption {
        redemption: RedemptionId,
        update: tally_domain::fulfilment::FulfilmentUpdate,
    },
    ConsumeRedemption {
        redemption: RedemptionId,
    },
    Adjust {
        member: MemberId,
        request: AdjustmentRequest,
    },
    PurgeIdempotencyKeys {
        older_than: Timestamp,
    },
    /// Folds the program's older transfers into its totals snapshot (housekeeping). Transfers
    /// recorded within `margin` of now are left for later: they may still be committing.
    AdvanceProgramTotals {
        program: ProgramId,
        margin: jiff::SignedDuration,
    },
    CreateSegment {
        program: ProgramId,
        input: tally_domain::segments::SegmentInput,
    },
    ReplaceSegment {
        segment: SegmentId,
        input: tally_domain::segments::SegmentInput,
    },
    SetSegmentStatus {
        segment: SegmentId,
        status: String,
    },
    SetStaticSegmentMembers {
        segment: SegmentId,
        members: Vec<tally_domain::inputs::MemberRef>,
    },
    /// Entries and exits an evaluation found (see `crate::segments`).
    ApplySegmentChanges {
        program: ProgramId,
        changes: Vec<crate::segments::SegmentChange>,
        evaluated: Vec<SegmentId>,
    },
    /// Starts an insights run (see `crate::insights`).
    ClaimInsightsRun {
        program: ProgramId,
        lease: jiff::SignedDuration,
    },
    StoreMemberInsights {
        rows: Vec<tally_store::queries::insights::MemberInsightRow>,
    },
    /// Ends an insights run; `summary` is None when it failed.
    FinishInsightsRun {
        program: ProgramId,
        summary: Option<Value>,
    },
    CreateOperator(NewOperator),
    /// A wallet sign-in code for an email (stored only if a person has that email).
    IssueWalletCode {
        email: Email,
        code_sha256: String,
        ttl: jiff::SignedDuration,
    },
    StartWalletSession {
        email: Email,
        code_sha256: String,
        token_sha256: String,
        csrf_token: String,
        ttl: jiff::SignedDuration,
    },
    EndWalletSession {
        token_sha256: String,
    },
    IssueOperatorLink {
        operator: OperatorId,
        purpose: LinkPurpose,
        token_sha256: String,
        ttl: jiff::SignedDuration,
    },
    StartOperatorSession(NewSession),
    EndOperatorSession {
        token_sha256: String,
    },
    SetOperatorActive {
        operator: OperatorId,
        active: bool,
    },
    /// Webhook endpoints, their deliveries and the deliverer's work (`usecases::webhooks`).
    Webhooks(usecases::webhooks::WebhookCommand),
    /// Push subscriptions and server keys (`usecases::push`).
    Push(usecases::push::PushCommand),
    /// A command that always hits a transient conflict: lets the writer's tests show that a
    /// command which keeps failing fails alone.
    #[cfg(test)]
    AlwaysConflicts,
}

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
        }
    }
}
