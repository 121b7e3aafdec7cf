//! Customer insights in the console: each member's predictions (on the member page), the
//! program's lifecycle and value distribution with the "win them back" list (on the dashboard),
//! and a run on demand.

use super::{PageResult, Ui};
use crate::WebState;
use crate::chart::{self, Bar};
use crate::session::ConsoleForm;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::Value;
use tally_domain::ids::MemberId;
use tally_domain::operators::Role;
use tally_store::Database;

/// The lifecycle stages in the order the console shows them.
const STAGES: [&str; 5] = ["new", "active", "at_risk", "lapsed", "lost"];

/// A member's predictions, formatted for the member page.
pub struct Predictions {
    pub computed_at: String,
    /// The stage's label, or "no purchase yet".
    pub stage: String,
    pub explanation: String,
    pub vip: bool,
    pub p_alive: String,
    pub churn_risk: String,
    pub churn_change: String,
    pub expected_purchases: String,
    pub clv: String,
    pub value_percentile: String,
    pub favourite_categories: String,
    pub next_products: String,
    pub best_send_time: String,
    pub segments: String,
}

fn percent(v: &Value) -> String {
    v.as_f64()
        .map_or_else(|| "–".to_owned(), |p| format!("{:.0} %", p * 100.0))
}

fn list(v: &Value) -> String {
    let items: Vec<&str> = v
        .as_array()
        .map(|a| a.iter().filter_map(Value::as_str).collect())
        .unwrap_or_default();
    if items.is_empty() {
        "–".to_owned()
    } else {
        items.join(", ")
    }
}

impl Predictions {
    pub fn from_details(ui: &Ui, d: &Value, segments: &[String]) -> Predictions {
        let stage = d["lifecycle"].as_str().map_or_else(
            || ui.t("insights.no_purchase").to_owned(),
            |s| ui.tk("stage", s).to_owned(),
        );
        let churn_change = d["churn_risk_change_7d"]
            .as_f64()
            .map_or_else(|| "–".to_owned(), |c| format!("{:+.0} pp", c * 100.0));
        let send = &d["best_send_time"];
        let best_send_time = match (send["weekday"].as_str(), send["hour"].as_u64()) {
            (Some(day), Some(hour)) => format!("{} {hour:02}:00", ui.tk("weekday", day)),
            _ => "–".to_owned(),
        };
        let computed_at = ui.datetime_of(&d["computed_at"]);
        Predictions {
            computed_at,
            stage,
            explanation: d["explanation"].as_str().unwrap_or_default().to_owned(),
            vip: d["vip"].as_bool().unwrap_or(false),
            p_alive: percent(&d["p_alive"]),
            churn_risk: percent(&d["churn_risk"]),
            churn_change,
            expected_purchases: d["expected_purchases_90d"]
                .as_f64()
                .map_or_else(|| "–".to_owned(), |e| format!("{e:.1}")),
            clv: d["clv_12m_minor"]
                .as_i64()
                .map_or_else(|| "–".to_owned(), |m| ui.money(m)),
            value_percentile: d["value_percentile"]
                .as_i64()
                .map_or_else(|| "–".to_owned(), |p| format!("{p}")),
            favourite_categories: list(&d["favourite_categories"]),
            next_products: list(&d["next_products"]),
            best_send_time,
            segments: if segments.is_empty() {
                "–".to_owned()
            } else {
                segments.join(", ")
            },
        }
    }
}

/// One member of the win-back list.
pub struct WinBack {
    pub member_id: MemberId,
    pub name: String,
    pub explanation: String,
    pub clv: String,
    pub churn_risk: String,
}

/// The program's customers at a glance, for the dashboard.
pub struct Customers {
    pub computed_at: String,
    pub stage_chart: String,
    /// The 12-month value at each tenth of the customers (deciles).
    pub value_chart: String,
    pub vip: String,
    pub clv_total: String,
    pub fit: String,
    pub win_back: Vec<WinBack>,
}

/// The dashboard's customer section, or None before the first insights run.
pub async fn customers<D: Database>(
    state: &WebState<D>,
    ui: &Ui,
) -> Result<Option<Customers>, crate::error::WebError> {
    let tenant = &ui.operator.tenant_id;
    let Some(summary) = state.tally.program_insights(tenant, &ui.program.id).await? else {
        return Ok(None);
    };
    let bars: Vec<Bar> = STAGES
        .iter()
        .map(|s| {
            let n = summary["lifecycle"][*s].as_i64().unwrap_or(0);
            Bar {
                label: ui.tk("stage", s).to_owned(),
                value: n,
                shown: ui.number(n),
            }
        })
        .collect();
    let stage_chart = chart::bars(ui.t("insights.stages"), &bars, |n| ui.number(n));
    let deciles: Vec<Bar> = summary["clv_12m_minor"]["deciles"]
        .as_array()
        .map(|d| d.iter().filter_map(Value::as_i64).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .enumerate()
        .map(|(i, minor)| Bar {
            label: format!("{} %", (i + 1) * 10),
            value: minor,
            shown: ui.money(minor),
        })
        .collect();
    let value_chart = chart::bars(ui.t("insights.value_deciles"), &deciles, |m| ui.money(m));
    let win_back = state
        .tally
        .members_in_stage(tenant, &ui.program.id, "at_risk", 10)
        .await?
        .into_iter()
        .filter_map(|item| {
            let d = &item["insights"];
            Some(WinBack {
                member_id: MemberId::parse(item["member_id"].as_str()?).ok()?,
                name: item["name"]
                    .as_str()
                    .or(item["external_id"].as_str())
                    .unwrap_or("–")
                    .to_owned(),
                explanation: d["explanation"].as_str().unwrap_or_default().to_owned(),
                clv: d["clv_12m_minor"]
                    .as_i64()
                    .map_or_else(|| "–".to_owned(), |m| ui.money(m)),
                churn_risk: percent(&d["churn_risk"]),
            })
        })
        .collect();
    let bgnbd = &summary["models"]["bgnbd"]["parameters"];
    let fit = match (
        bgnbd["r"].as_f64(),
        bgnbd["alpha"].as_f64(),
        bgnbd["a"].as_f64(),
        bgnbd["b"].as_f64(),
    ) {
        (Some(r), Some(alpha), Some(a), Some(b)) => {
            format!("BG/NBD r = {r:.3}, α = {alpha:.3}, a = {a:.3}, b = {b:.3}")
        }
        _ => summary["models"]["bgnbd"]["error"]
            .as_str()
            .unwrap_or_default()
            .to_owned(),
    };
    let computed_at = ui.datetime_of(&summary["computed_at"]);
    Ok(Some(Customers {
        computed_at,
        stage_chart,
        value_chart,
        vip: ui.number(summary["vip"].as_i64().unwrap_or(0)),
        clv_total: ui.money(summary["clv_12m_minor"]["total"].as_i64().unwrap_or(0)),
        fit,
        win_back,
    }))
}

/// Computes the program's insights now and returns to the dashboard.
pub async fn run<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "dashboard").await?;
    // Another run holding the program is fine: its numbers arrive when it finishes.
    state
        .tally
        .run_insights(
            &form.console.operator.tenant_id,
            &form.console.actor(),
            &ui.program.id,
            None,
        )
        .await?;
    Ok(Redirect::to(&format!("{}#customers", ui.url("dashboard"))).into_response())
}
