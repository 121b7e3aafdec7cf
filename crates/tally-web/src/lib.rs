//! Tally in the browser: the operator console and the cashier screen. Pages are rendered on the
//! server from askama templates (`templates/`, compiled into the binary and checked at build
//! time), with one stylesheet and one small script from `static/`; no Node.js to build or run.
//!
//! A request passes: [`error::error_pages`] (renders error pages in the request's language) →
//! routing → extractors ([`session::Console`] finds the signed-in operator; [`session::ConsoleForm`]
//! also checks the form's CSRF token) → a page handler in [`pages`], which reads through
//! `tally-core` and writes through its writer, exactly as the JSON API does.

pub mod chart;
pub mod error;
pub mod i18n;
pub mod pages;
pub mod qr;
pub mod secrets;
pub mod session;

use axum::Router;
use axum::http::HeaderName;
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::response::IntoResponse;
use axum::routing::{get, post};
use pages::{
    audit, cashier, charities, dashboard, insights, journey_builder, keys, locations, members,
    message_links, messages, messaging_settings, offers, referrals, rewards, rules, segments,
    settings, setup, sign_in, stamps, tiers, vouchers, wallet, wallet_card, wallet_charities,
    wallet_inbox, wallet_offers, wallet_referrals, wallet_rewards, wallet_stamps, webhooks,
};
use tally_core::Tally;
use tally_store::Database;

/// What every page handler can reach.
pub struct WebState<D: Database> {
    pub tally: Tally<D>,
    /// Mark cookies `Secure` (serve over HTTPS, directly or behind a proxy).
    pub secure_cookies: bool,
    /// The address browsers reach this server at (`https://loyalty.example.com`), for links
    /// shown to be sent to someone else (invites).
    pub public_url: String,
    /// Where wallet sign-in codes go out; `None` writes them to the log (development).
    pub mailer: Option<tally_mail::Mailer>,
}

impl<D: Database> Clone for WebState<D> {
    fn clone(&self) -> Self {
        WebState {
            tally: self.tally.clone(),
            secure_cookies: self.secure_cookies,
            public_url: self.public_url.clone(),
            mailer: self.mailer.clone(),
        }
    }
}

/// The console's routes, to be served next to the API.
pub fn router<D: Database>(state: WebState<D>) -> Router {
    Router::new()
        .route("/console", get(sign_in::home::<D>))
        .route(
            "/console/sign-in",
            get(sign_in::sign_in_form::<D>).post(sign_in::sign_in::<D>),
        )
        .route("/console/sign-out", post(sign_in::sign_out::<D>))
        .route(
            "/console/link/{token}",
            get(sign_in::link_page::<D>).post(sign_in::use_link::<D>),
        )
        .route(
            "/console/setup",
            get(setup::program_form::<D>).post(setup::create_program::<D>),
        )
        .route(
            "/console/{program}/setup/rewards",
            get(setup::rewards_form::<D>).post(setup::rewards::<D>),
        )
        .route(
            "/console/{program}/setup/location",
            get(setup::location_form::<D>).post(setup::location::<D>),
        )
        .route(
            "/console/{program}/setup/done",
            get(setup::done::<D>).post(setup::api_key::<D>),
        )
        .route("/console/{program}/dashboard", get(dashboard::page::<D>))
        .route("/console/{program}/insights/run", post(insights::run::<D>))
        .route(
            "/console/{program}/segments",
            get(segments::list::<D>).post(segments::create::<D>),
        )
        .route(
            "/console/{program}/segments/count",
            post(segments::live_count::<D>),
        )
        .route(
            "/console/{program}/segments/{segment}",
            get(segments::show::<D>),
        )
        .route(
            "/console/{program}/segments/{segment}/status",
            post(segments::set_status::<D>),
        )
        .route(
            "/console/{program}/segments/{segment}/members",
            post(segments::upload::<D>),
        )
        .route("/console/{program}/members", get(members::list::<D>))
        .route(
            "/console/{program}/members/{member}",
            get(members::show::<D>),
        )
        .route(
            "/console/{program}/members/{member}/adjust",
            post(members::adjust::<D>),
        )
        .route(
            "/console/{program}/members/{member}/status",
            post(members::set_status::<D>),
        )
        .route(
            "/console/{program}/rewards/fulfilment/{redemption}",
            post(rewards::fulfil::<D>),
        )
        .route(
            "/console/{program}/rewards",
            get(rewards::list::<D>).post(rewards::create::<D>),
        )
        .route(
            "/console/{program}/rewards/{reward}",
            get(rewards::edit::<D>).post(rewards::update::<D>),
        )
        .route(
            "/console/{program}/locations",
            get(locations::list::<D>).post(locations::create::<D>),
        )
        .route(
            "/console/{program}/locations/{location}",
            get(locations::edit::<D>).post(locations::update::<D>),
        )
        .route(
            "/console/{program}/keys",
            get(keys::show::<D>).post(keys::create_key::<D>),
        )
        .route(
            "/console/{program}/keys/{key}/revoke",
            post(keys::revoke_key::<D>),
        )
        .route("/console/{program}/operators", post(keys::invite::<D>))
        .route(
            "/console/{program}/webhooks",
            get(webhooks::show::<D>).post(webhooks::create::<D>),
        )
        .route(
            "/console/{program}/webhooks/{webhook}/{action}",
            post(webhooks::action::<D>),
        )
        .route(
            "/console/{program}/webhook-deliveries/{delivery}/replay",
            post(webhooks::replay::<D>),
        )
        .route(
            "/console/{program}/operators/{operator}/active",
            post(keys::set_operator_active::<D>),
        )
        .route(
            "/console/{program}/settings",
            get(settings::show::<D>).post(settings::update::<D>),
        )
        .route(
            "/console/{program}/rules",
            get(rules::list::<D>).post(rules::create::<D>),
        )
        .route(
            "/console/{program}/rules/{rule}",
            get(rules::edit::<D>).post(rules::update::<D>),
        )
        .route(
            "/console/{program}/rules/{rule}/status",
            post(rules::set_status::<D>),
        )
        .route(
            "/console/{program}/tiers",
            get(tiers::show::<D>).post(tiers::update::<D>),
        )
        .route(
            "/console/{program}/referrals",
            get(referrals::show::<D>).post(referrals::update::<D>),
        )
        .route(
            "/console/{program}/stamps",
            get(stamps::show::<D>).post(stamps::update::<D>),
        )
        .route(
            "/console/{program}/stamps/{card}/screen",
            get(stamps::screen::<D>),
        )
        .route("/console/{program}/audit", get(audit::page::<D>))
        .route(
            "/console/{program}/settings/display",
            post(settings::update_display::<D>),
        )
        .route(
            "/console/{program}/vouchers",
            get(vouchers::list::<D>).post(vouchers::create::<D>),
        )
        .route(
            "/console/{program}/vouchers/{pool}",
            get(vouchers::show::<D>),
        )
        .route(
            "/console/{program}/vouchers/{pool}/codes",
            post(vouchers::add_codes::<D>),
        )
        .route(
            "/console/{program}/vouchers/{pool}/codes.csv",
            get(vouchers::export::<D>),
        )
        .route(
            "/console/{program}/vouchers/{pool}/status",
            post(vouchers::set_status::<D>),
        )
        .route(
            "/console/{program}/charities",
            get(charities::list::<D>).post(charities::create::<D>),
        )
        .route(
            "/console/{program}/charities/{charity}/status",
            post(charities::set_status::<D>),
        )
        .route(
            "/console/{program}/charities/{charity}/settlements",
            post(charities::settle::<D>),
        )
        .route(
            "/console/{program}/offers",
            get(offers::list::<D>).post(offers::create::<D>),
        )
        .route(
            "/console/{program}/offers/{offer}",
            get(offers::report::<D>),
        )
        .route(
            "/console/{program}/offers/{offer}/status",
            post(offers::set_status::<D>),
        )
        .route("/console/{program}/messages", get(messages::show::<D>))
        .route(
            "/console/{program}/messages/journeys",
            post(journey_builder::create::<D>),
        )
        .route(
            "/console/{program}/messages/journeys/{journey}",
            get(messages::journey::<D>),
        )
        .route(
            "/console/{program}/messages/settings",
            get(messaging_settings::show::<D>).post(messaging_settings::save::<D>),
        )
        .route(
            "/console/{program}/messages/playbooks/{playbook}",
            post(messages::switch_on::<D>),
        )
        .route(
            "/console/{program}/messages/journeys/{journey}/status",
            post(messages::journey_status::<D>),
        )
        .route(
            "/console/{program}/messages/campaigns",
            post(messages::create_campaign::<D>),
        )
        .route(
            "/console/{program}/messages/campaigns/{campaign}",
            get(messages::campaign::<D>),
        )
        .route(
            "/console/{program}/messages/campaigns/{campaign}/{action}",
            post(messages::campaign_action::<D>),
        )
        .route(
            "/console/{program}/messages/templates",
            post(messages::create_template::<D>),
        )
        .route(
            "/console/{program}/messages/templates/{template}",
            get(messages::template::<D>).post(messages::save_template::<D>),
        )
        .route("/console/{program}/cashier", get(cashier::page::<D>))
        .route(
            "/console/{program}/cashier/purchase",
            post(cashier::purchase::<D>),
        )
        .route(
            "/console/{program}/cashier/redeem",
            post(cashier::redeem::<D>),
        )
        .route(
            "/console/{program}/cashier/stamp",
            post(cashier::stamp::<D>),
        )
        .route(
            "/console/{program}/cashier/consume",
            post(cashier::consume::<D>),
        )
        .route(
            "/console/{program}/cashier/voucher",
            post(cashier::voucher::<D>),
        )
        .route(
            "/console/{program}/cashier/cashback",
            post(cashier::cashback::<D>),
        )
        .route(
            "/console/{program}/cashier/enrol",
            post(cashier::enrol::<D>),
        )
        .route(
            "/unsubscribe/{token}",
            get(message_links::confirm::<D>).post(message_links::unsubscribe::<D>),
        )
        .route("/m/{token}/open.gif", get(message_links::opened::<D>))
        .route("/m/{token}/click", get(message_links::clicked::<D>))
        .route("/wallet", get(wallet::home::<D>))
        .route(
            "/wallet/sign-in",
            get(wallet::sign_in_form::<D>).post(wallet::send_code::<D>),
        )
        .route("/wallet/sign-in/code", post(wallet::check_code::<D>))
        .route("/wallet/sign-out", post(wallet::sign_out::<D>))
        .route("/wallet/cards/{member}", get(wallet_card::show::<D>))
        .route(
            "/wallet/cards/{member}/redeem",
            post(wallet_rewards::redeem::<D>),
        )
        .route(
            "/wallet/cards/{member}/inbox/{message}/read",
            post(wallet_inbox::read::<D>),
        )
        .route(
            "/wallet/cards/{member}/push",
            post(wallet_inbox::subscribe::<D>),
        )
        .route(
            "/wallet/cards/{member}/donate",
            post(wallet_charities::donate::<D>),
        )
        .route(
            "/wallet/cards/{member}/offers/{offer}/activate",
            post(wallet_offers::activate::<D>),
        )
        .route(
            "/wallet/cards/{member}/offers/{offer}/group",
            post(wallet_offers::start_group::<D>),
        )
        .route(
            "/wallet/deals/{code}",
            get(wallet_offers::deal::<D>).post(wallet_offers::join_deal::<D>),
        )
        .route(
            "/join/{code}",
            get(wallet_referrals::form::<D>).post(wallet_referrals::join::<D>),
        )
        .route(
            "/wallet/stamp/{code}",
            get(wallet_stamps::show::<D>).post(wallet_stamps::collect::<D>),
        )
        .route(
            "/wallet/cards/{member}/preferences",
            post(wallet_card::preferences::<D>),
        )
        .route(
            "/wallet/manifest.webmanifest",
            get(|| {
                asset(
                    "application/manifest+json",
                    include_str!("../static/wallet.webmanifest"),
                )
            }),
        )
        .route("/wallet/sw.js", get(service_worker))
        .route(
            "/static/upload.js",
            get(|| {
                asset(
                    "text/javascript; charset=utf-8",
                    include_str!("../static/upload.js"),
                )
            }),
        )
        .route(
            "/static/segments.js",
            get(|| {
                asset(
                    "text/javascript; charset=utf-8",
                    include_str!("../static/segments.js"),
                )
            }),
        )
        .route(
            "/static/wallet.js",
            get(|| {
                asset(
                    "text/javascript; charset=utf-8",
                    include_str!("../static/wallet.js"),
                )
            }),
        )
        .route(
            "/static/wallet-icon.svg",
            get(|| asset("image/svg+xml", include_str!("../static/wallet-icon.svg"))),
        )
        // PNG copies of the SVG icon (rendered once), for platforms that want bitmap sizes.
        .route(
            "/static/wallet-icon-192.png",
            get(|| png(include_bytes!("../static/wallet-icon-192.png"))),
        )
        .route(
            "/static/wallet-icon-512.png",
            get(|| png(include_bytes!("../static/wallet-icon-512.png"))),
        )
        .route("/static/tally.css", get(stylesheet))
        .route("/static/cashier.js", get(cashier_script))
        .route("/static/setup.js", get(setup_script))
        .layer(axum::middleware::from_fn(error::error_pages))
        .with_state(state)
}

/// The wallet's service worker, allowed to control `/wallet` itself (not only `/wallet/…`).
async fn service_worker() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "no-cache"),
            (HeaderName::from_static("service-worker-allowed"), "/wallet"),
        ],
        include_str!("../static/wallet-sw.js"),
    )
}

async fn png(body: &'static [u8]) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "image/png"),
            (CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
}

/// A static file compiled into the binary.
async fn asset(content_type: &'static str, body: &'static str) -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, content_type),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        body,
    )
}

async fn stylesheet() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/css; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/tally.css"),
    )
}

async fn setup_script() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/setup.js"),
    )
}

async fn cashier_script() -> impl IntoResponse {
    (
        [
            (CONTENT_TYPE, "text/javascript; charset=utf-8"),
            (CACHE_CONTROL, "public, max-age=3600"),
        ],
        include_str!("../static/cashier.js"),
    )
}
