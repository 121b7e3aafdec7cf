//! The route table: one line per endpoint, so the whole API is visible in one place. The
//! OpenAPI document (`openapi.json`) describes exactly these routes; a test keeps them in step.

mod campaigns;
mod cashback;
mod charities;
mod events;
mod expiry;
mod insights;
mod journeys;
mod locations;
mod members;
mod messages;
mod offers;
mod orders;
mod programs;
mod push;
mod referrals;
mod rewards;
mod rules;
mod segments;
mod stamps;
mod system;
mod templates;
mod tiers;
mod vouchers;
mod webhooks;

use crate::problem::ApiError;
use crate::{AppState, observe};
use axum::extract::DefaultBodyLimit;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Serialize;
use tally_store::Database;
use tally_store::queries::Page;

/// The API, health and metrics, plus `pages` (the console), all behind the same request ids,
/// access log, metrics and body limit.
pub fn router<D: Database>(state: AppState<D>, pages: Router) -> Router {
    let api = Router::new()
        .route(
            "/programs",
            get(programs::list::<D>).post(programs::create::<D>),
        )
        .route(
            "/programs/{program}",
            get(programs::get::<D>).patch(programs::update::<D>),
        )
        .route("/programs/{program}/totals", get(programs::totals::<D>))
        .route(
            "/programs/{program}/members",
            get(members::list::<D>).post(members::enroll::<D>),
        )
        .route(
            "/programs/{program}/members/lookup",
            get(members::lookup::<D>),
        )
        .route("/programs/{program}/purchases", post(orders::purchase::<D>))
        .route(
            "/programs/{program}/returns",
            post(orders::return_order::<D>),
        )
        .route(
            "/programs/{program}/rewards",
            get(rewards::list::<D>).post(rewards::create::<D>),
        )
        .route(
            "/programs/{program}/redemptions",
            post(rewards::redeem::<D>),
        )
        .route(
            "/programs/{program}/fulfilment",
            get(rewards::fulfilment_queue::<D>),
        )
        .route(
            "/redemptions/{redemption}/fulfilment",
            post(rewards::fulfil::<D>),
        )
        .route(
            "/programs/{program}/redemptions/check",
            get(rewards::check_code::<D>),
        )
        .route(
            "/programs/{program}/rules",
            get(rules::list::<D>).post(rules::create::<D>),
        )
        .route(
            "/programs/{program}/rules/simulate",
            post(rules::simulate::<D>),
        )
        .route(
            "/programs/{program}/rules/backtest",
            post(rules::backtest::<D>),
        )
        .route(
            "/rules/{rule}",
            get(rules::get::<D>)
                .put(rules::replace::<D>)
                .patch(rules::set_status::<D>),
        )
        .route("/rules/{rule}/versions", get(rules::versions::<D>))
        .route(
            "/programs/{program}/stamp-cards",
            get(stamps::list::<D>).post(stamps::create::<D>),
        )
        .route(
            "/stamp-cards/{card}",
            get(stamps::get::<D>)
                .put(stamps::replace::<D>)
                .patch(stamps::set_status::<D>),
        )
        .route("/stamp-cards/{card}/stamps", post(stamps::give::<D>))
        .route(
            "/stamp-cards/{card}/display-code",
            post(stamps::display_code::<D>),
        )
        .route("/members/{member}/stamps", get(stamps::progress::<D>))
        .route(
            "/programs/{program}/referral-policy",
            get(referrals::get_policy::<D>).put(referrals::set_policy::<D>),
        )
        .route(
            "/members/{member}/referrals",
            get(referrals::of_member::<D>),
        )
        .route("/members/{member}/stamp-scans", post(stamps::scan::<D>))
        .route(
            "/programs/{program}/tiers",
            get(tiers::get_plan::<D>).put(tiers::set_plan::<D>),
        )
        .route(
            "/programs/{program}/event-types",
            get(events::list_types::<D>),
        )
        .route(
            "/programs/{program}/event-types/{name}",
            get(events::get_type::<D>).put(events::put_type::<D>),
        )
        .route("/programs/{program}/events", post(events::record::<D>))
        .route("/members/{member}/events", get(events::member_events::<D>))
        .route(
            "/programs/{program}/expiry-policy",
            get(expiry::get_policy::<D>).put(expiry::set_policy::<D>),
        )
        .route("/members/{member}/expiring", get(expiry::upcoming::<D>))
        .route("/members/{member}/pending", get(expiry::pending::<D>))
        .route(
            "/programs/{program}/segments",
            get(segments::list::<D>).post(segments::create::<D>),
        )
        .route(
            "/programs/{program}/segments/preview",
            post(segments::preview::<D>),
        )
        .route(
            "/segments/{segment}",
            get(segments::get::<D>)
                .put(segments::replace::<D>)
                .patch(segments::set_status::<D>),
        )
        .route(
            "/segments/{segment}/members",
            get(segments::members::<D>).put(segments::set_members::<D>),
        )
        .route("/segments/{segment}/changes", get(segments::changes::<D>))
        .route("/segments/{segment}/sizes", get(segments::sizes::<D>))
        .route("/members/{member}/segments", get(segments::of_member::<D>))
        .route("/programs/{program}/cashback/pay", post(cashback::pay::<D>))
        .route(
            "/programs/{program}/cashback/refund",
            post(cashback::refund::<D>),
        )
        .route("/members/{member}/cashback", get(cashback::of_member::<D>))
        .route(
            "/programs/{program}/templates",
            get(templates::list::<D>).post(templates::create::<D>),
        )
        .route(
            "/templates/{template}",
            get(templates::get::<D>).put(templates::replace::<D>),
        )
        .route(
            "/templates/{template}/preview",
            get(templates::preview::<D>),
        )
        .route(
            "/programs/{program}/journeys",
            get(journeys::list::<D>).post(journeys::create::<D>),
        )
        .route(
            "/journeys/{journey}",
            get(journeys::get::<D>).patch(journeys::set_status::<D>),
        )
        .route("/journeys/{journey}/report", get(journeys::report::<D>))
        .route("/members/{member}/journeys", get(journeys::of_member::<D>))
        .route(
            "/programs/{program}/playbooks",
            get(journeys::playbooks::<D>),
        )
        .route(
            "/programs/{program}/playbooks/{playbook}",
            post(journeys::switch_on::<D>),
        )
        .route(
            "/programs/{program}/campaigns",
            get(campaigns::list::<D>).post(campaigns::create::<D>),
        )
        .route("/campaigns/{campaign}", get(campaigns::get::<D>))
        .route("/campaigns/{campaign}/launch", post(campaigns::launch::<D>))
        .route("/campaigns/{campaign}/cancel", post(campaigns::cancel::<D>))
        .route("/campaigns/{campaign}/report", get(campaigns::report::<D>))
        .route(
            "/programs/{program}/messaging",
            get(messages::settings::<D>).put(messages::put_settings::<D>),
        )
        .route(
            "/members/{member}/messages",
            get(messages::of_member::<D>).post(messages::send::<D>),
        )
        .route("/members/{member}/inbox", get(messages::inbox::<D>))
        .route(
            "/members/{member}/inbox/{message}/read",
            post(messages::read::<D>),
        )
        .route("/messages/{message}", get(messages::get::<D>))
        .route(
            "/members/{member}/push-subscriptions",
            get(push::list::<D>).post(push::subscribe::<D>),
        )
        .route(
            "/members/{member}/push-subscriptions/{subscription}/remove",
            post(push::remove::<D>),
        )
        .route(
            "/programs/{program}/webhooks",
            get(webhooks::list::<D>).post(webhooks::create::<D>),
        )
        .route(
            "/webhooks/{webhook}",
            get(webhooks::get::<D>).patch(webhooks::update::<D>),
        )
        .route("/webhooks/{webhook}/secret", get(webhooks::secret::<D>))
        .route(
            "/webhooks/{webhook}/secret/rotate",
            post(webhooks::rotate_secret::<D>),
        )
        .route("/webhooks/{webhook}/test", post(webhooks::test::<D>))
        .route(
            "/webhooks/{webhook}/deliveries",
            get(webhooks::deliveries::<D>),
        )
        .route(
            "/webhooks/{webhook}/deliveries/replay",
            post(webhooks::replay_dead::<D>),
        )
        .route(
            "/webhook-deliveries/{delivery}",
            get(webhooks::delivery::<D>),
        )
        .route(
            "/webhook-deliveries/{delivery}/replay",
            post(webhooks::replay::<D>),
        )
        .route(
            "/programs/{program}/offers",
            get(offers::list::<D>).post(offers::create::<D>),
        )
        .route(
            "/offers/{offer}",
            get(offers::get::<D>).patch(offers::set_status::<D>),
        )
        .route("/offers/{offer}/report", get(offers::report::<D>))
        .route("/members/{member}/offers", get(offers::of_member::<D>))
        .route(
            "/members/{member}/offers/{offer}/activate",
            post(offers::activate::<D>),
        )
        .route(
            "/members/{member}/offers/{offer}/group",
            post(offers::start_group::<D>),
        )
        .route(
            "/members/{member}/offer-groups",
            post(offers::join_group::<D>),
        )
        .route(
            "/programs/{program}/charities",
            get(charities::list::<D>).post(charities::create::<D>),
        )
        .route(
            "/charities/{charity}",
            get(charities::get::<D>).patch(charities::set_status::<D>),
        )
        .route(
            "/charities/{charity}/settlements",
            post(charities::settle::<D>),
        )
        .route(
            "/members/{member}/donations",
            get(charities::of_member::<D>).post(charities::donate::<D>),
        )
        .route(
            "/programs/{program}/voucher-pools",
            get(vouchers::list_pools::<D>).post(vouchers::create_pool::<D>),
        )
        .route(
            "/voucher-pools/{pool}",
            get(vouchers::get_pool::<D>).patch(vouchers::update_pool::<D>),
        )
        .route(
            "/voucher-pools/{pool}/codes",
            get(vouchers::list_codes::<D>).post(vouchers::add_codes::<D>),
        )
        .route("/voucher-pools/{pool}/assign", post(vouchers::assign::<D>))
        .route("/members/{member}/vouchers", get(vouchers::of_member::<D>))
        .route(
            "/programs/{program}/vouchers/validate",
            post(vouchers::validate::<D>),
        )
        .route(
            "/programs/{program}/vouchers/redeem",
            post(vouchers::redeem::<D>),
        )
        .route(
            "/programs/{program}/vouchers/release",
            post(vouchers::release::<D>),
        )
        .route("/programs/{program}/insights", get(insights::summary::<D>))
        .route("/programs/{program}/insights/run", post(insights::run::<D>))
        .route(
            "/programs/{program}/insights/members",
            get(insights::members::<D>),
        )
        .route("/members/{member}/insights", get(insights::of_member::<D>))
        .route("/members/{member}/tier", get(tiers::member_tier::<D>))
        .route("/members/{member}/tier/history", get(tiers::history::<D>))
        .route(
            "/programs/{program}/locations",
            get(locations::list::<D>).post(locations::create::<D>),
        )
        .route(
            "/members/{member}",
            get(members::get::<D>).patch(members::update::<D>),
        )
        .route(
            "/members/{member}/card/rotate",
            post(members::rotate_card::<D>),
        )
        .route("/members/{member}/history", get(members::history::<D>))
        .route("/members/{member}/purchases", get(members::purchases::<D>))
        .route(
            "/members/{member}/redemptions",
            get(members::redemptions::<D>),
        )
        .route("/members/{member}/adjustments", post(members::adjust::<D>))
        .route("/purchases/{purchase}", get(orders::get::<D>))
        .route(
            "/rewards/{reward}",
            get(rewards::get::<D>).patch(rewards::update::<D>),
        )
        .route(
            "/redemptions/{redemption}",
            get(rewards::get_redemption::<D>),
        )
        .route(
            "/redemptions/{redemption}/cancel",
            post(rewards::cancel::<D>),
        )
        .route(
            "/redemptions/{redemption}/consume",
            post(rewards::consume::<D>),
        )
        .route("/locations/{location}", get(locations::get::<D>))
        .route("/audit-log", get(programs::audit_log::<D>))
        .route("/openapi.json", get(system::openapi))
        .route("/docs", get(system::docs))
        .route("/docs/swagger-ui-bundle.js", get(system::swagger_ui_js))
        .route("/docs/swagger-ui.css", get(system::swagger_ui_css));
    let metrics = state.metrics.clone();
    Router::new()
        .nest("/api/v1", api)
        .route("/healthz", get(system::healthz))
        .route("/readyz", get(system::readyz::<D>))
        .route("/problems/{code}", get(system::problem_page))
        .route(
            "/metrics",
            get(observe::metrics_handler).with_state(metrics.clone()),
        )
        .with_state(state)
        .merge(pages)
        .fallback(system::not_found)
        .method_not_allowed_fallback(system::method_not_allowed)
        .layer(DefaultBodyLimit::max(crate::MAX_BODY_BYTES))
        .layer(axum::middleware::from_fn_with_state(
            metrics,
            observe::middleware,
        ))
}

pub(crate) type ApiResult = Result<Response, ApiError>;

/// Runs a write for the caller (as its tenant and actor) through the engine's writer.
pub(crate) async fn write<D: Database>(
    app: &AppState<D>,
    caller: &crate::auth::Caller,
    idempotency: Option<tally_core::IdempotencyKey>,
    command: tally_core::Command,
) -> Result<serde_json::Value, ApiError> {
    Ok(app
        .tally
        .write(&caller.tenant, &caller.actor, idempotency, command)
        .await?)
}

pub(crate) fn ok<T: Serialize>(value: T) -> ApiResult {
    Ok(Json(value).into_response())
}

pub(crate) fn created<T: Serialize>(value: T) -> ApiResult {
    Ok((StatusCode::CREATED, Json(value)).into_response())
}

/// A page as the API shows it: `{"items": […], "next_cursor": "…" | null}`.
pub(crate) fn page<T: Serialize>(page: Page<T>) -> ApiResult {
    ok(
        serde_json::json!({ "items": page.items, "next_cursor": page.next_cursor.map(|c| c.to_string()) }),
    )
}
