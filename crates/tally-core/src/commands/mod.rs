//! Every write Tally does, as data. The writer applies a command inside a savepoint; a command
//! never commits or talks to anything but its connection, so it can be retried safely.

mod memo;

pub use memo::BatchMemo;

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
    /// What this batch's purchases have read so far (see [`BatchMemo`]).
    pub memo: BatchMemo,
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
    /// Adjusts the member's points, then is refused: lets the writer's tests show that a
    /// refusal undoes the command's own writes and nothing else of its batch.
    #[cfg(test)]
    AdjustThenRefuse {
        member: MemberId,
        request: AdjustmentRequest,
    },
}

mod apply;
