//! The dashboard: members, points and sales of a period at a glance.

use super::{PageResult, Ui, render};
use crate::WebState;
use crate::chart::{self, Bar};
use crate::session::Console;
use askama::Template;
use axum::extract::{Path, Query, State};
use std::collections::HashMap;
use tally_core::console::{Dashboard, Period};
use tally_domain::Timestamp;
use tally_domain::operators::Role;
use tally_store::Database;

const DAY_US: i64 = 86_400_000_000;

/// The periods the selector offers: (name, length in days, bucket in days).
pub const PERIODS: [(&str, i64, i64); 4] = [
    ("30d", 30, 1),
    ("90d", 90, 7),
    ("12m", 364, 7),
    ("24m", 728, 28),
];

#[derive(Template)]
#[template(path = "dashboard.html")]
struct DashboardPage {
    ui: Ui,
    /// The outstanding points in money, at the program's point value.
    liability_minor: i64,
    period: &'static str,
    d: Dashboard,
    redemption_rate: String,
    purchases_chart: String,
    revenue_chart: String,
    members_chart: String,
    /// None before the program's first insights run.
    customers: Option<super::insights::Customers>,
}

/// The period ending at the end of today (in the program's zone): `[end − days, end)`.
fn period(now: Timestamp, zone: &jiff::tz::TimeZone, days: i64, bucket_days: i64) -> Period {
    let tomorrow = now
        .to_zoned(zone.clone())
        .date()
        .tomorrow()
        .ok()
        .and_then(|d| d.to_zoned(zone.clone()).ok())
        .map(|z| z.timestamp())
        .unwrap_or(now);
    let from = Timestamp::from_microsecond(tomorrow.as_microsecond() - days * DAY_US)
        .unwrap_or(Timestamp::UNIX_EPOCH);
    Period {
        from,
        to: tomorrow,
        bucket_us: bucket_days * DAY_US,
    }
}

pub async fn page<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "dashboard").await?;
    let chosen = q.get("period").map(String::as_str).unwrap_or("12m");
    let (name, days, bucket_days) = PERIODS
        .iter()
        .copied()
        .find(|(n, ..)| *n == chosen)
        .unwrap_or(PERIODS[2]);
    let period = period(state.tally.clock.now(), &ui.zone, days, bucket_days);
    let d = state
        .tally
        .dashboard(&console.operator.tenant_id, &ui.program.id, period)
        .await?;
    let label = |index: i64| {
        let start =
            Timestamp::from_microsecond(period.from.as_microsecond() + index * period.bucket_us)
                .unwrap_or(period.from);
        ui.date(start)
    };
    let series = |values: Vec<(i64, String)>| -> Vec<Bar> {
        values
            .into_iter()
            .enumerate()
            .map(|(i, (value, shown))| Bar {
                label: label(i as i64),
                value,
                shown,
            })
            .collect()
    };
    let purchases_chart = chart::bars(
        ui.t("dashboard.purchases_chart"),
        &series(
            d.purchases_per_bucket
                .iter()
                .map(|b| (b.count, ui.number(b.count)))
                .collect(),
        ),
        |m| ui.number(m),
    );
    let revenue_chart = chart::bars(
        ui.t("dashboard.revenue_chart"),
        &series(
            d.purchases_per_bucket
                .iter()
                .map(|b| (b.amount_minor, ui.money(b.amount_minor)))
                .collect(),
        ),
        |m| ui.money(m),
    );
    let members_chart = chart::bars(
        ui.t("dashboard.members_chart"),
        &series(
            d.enrolments_per_bucket
                .iter()
                .map(|b| (b.count, ui.number(b.count)))
                .collect(),
        ),
        |m| ui.number(m),
    );
    let display = state.tally.program_display(&ui.program.id).await?;
    let liability_minor = display.value_minor(d.totals.outstanding.value());
    let issued = d.totals.issued.value();
    let redemption_rate = if issued > 0 {
        format!(
            "{:.1} %",
            100.0 * d.totals.redeemed.value() as f64 / issued as f64
        )
    } else {
        "–".to_owned()
    };
    let customers = super::insights::customers(&state, &ui).await?;
    render(&DashboardPage {
        customers,
        ui,
        liability_minor,
        period: name,
        d,
        redemption_rate,
        purchases_chart,
        revenue_chart,
        members_chart,
    })
}
