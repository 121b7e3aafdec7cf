//! Customer insights in the engine: a job that computes every member's numbers with
//! [`tally_analytics::profile`] (nightly, and on demand) and stores them per member with the
//! program's models, and the reads of what it stored.
//!
//! A run: claim the program (a lease in `program_insights`, so two nodes never run it at once),
//! read the purchase log from a pooled connection, compute on a blocking thread, write the
//! members' rows through the writer in chunks, and record the summary with the fit date. A run
//! that fails releases its claim; a node that dies mid-run holds it for at most [`LEASE`].
//!
//! Days are local days in the program's time zone; amounts are minor units of its currency, net
//! of returns (a purchase returned in full is left out). Engagement for the send time is the
//! purchases' local hour of the week for now; opens and clicks join when campaigns exist.

use crate::reads::{member_of, program_of};
use crate::{Command, CoreError, IdempotencyKey, Tally};
use jiff::civil::Date;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use tally_analytics::lifecycle::Stage;
use tally_analytics::profile::{self, Line, Log, MemberProfile, Models, Settings};
use tally_analytics::send_time::{Engagement, HourOfWeek};
use tally_analytics::{AnalyticsError, Purchase};
use tally_domain::ids::{MemberId, ProgramId, TenantId};
use tally_domain::program::Program;
use tally_domain::{DomainError, Timestamp};
use tally_store::Database;
use tally_store::queries::insights::{self, MemberInsightRow};

/// How long a run holds its program before another node may take over.
pub const LEASE: jiff::SignedDuration = jiff::SignedDuration::from_secs(3600);

/// Members' rows per write command.
const CHUNK: usize = 500;

/// Churn readings older than this many days are dropped from a member's history.
const HISTORY_DAYS: i64 = 14;

/// The local hour after which a program's nightly run is due.
const NIGHTLY_HOUR: i8 = 3;

const WEEKDAYS: [&str; 7] = [
    "monday",
    "tuesday",
    "wednesday",
    "thursday",
    "friday",
    "saturday",
    "sunday",
];

impl<D: Database> Tally<D> {
    /// Computes and stores every member's insights now. Answers the program's summary, or
    /// `None` when another run holds the program. With an idempotency key, a repeat gets the
    /// stored summary of the first run instead of running again.
    pub async fn run_insights(
        &self,
        tenant: &TenantId,
        actor: &str,
        program: &ProgramId,
        idempotency: Option<IdempotencyKey>,
    ) -> Result<Option<Value>, CoreError> {
        if let Some(key) = &idempotency
            && let Some(stored) =
                crate::writer::replay(&mut self.read().await?, tenant, key, self.clock.now())
                    .await?
        {
            return stored.map(Some);
        }
        let claim = Command::ClaimInsightsRun {
            program: program.clone(),
            lease: LEASE,
        };
        let claimed = self.write(tenant, actor, None, claim).await?;
        if claimed["claimed"] != json!(true) {
            return Ok(None);
        }
        match self.compute_and_store(tenant, actor, program).await {
            Ok(summary) => {
                // The finishing command's answer is the summary, stored under the key.
                let finish = Command::FinishInsightsRun {
                    program: program.clone(),
                    summary: Some(summary),
                };
                let summary = self.write(tenant, actor, idempotency, finish).await?;
                // Segments over the new numbers follow at once.
                self.evaluate_segments(tenant, program).await?;
                Ok(Some(summary))
            }
            Err(e) => {
                let release = Command::FinishInsightsRun {
                    program: program.clone(),
                    summary: None,
                };
                self.write(tenant, actor, None, release).await?;
                Err(e)
            }
        }
    }

    /// Whether the nightly run is due: never computed, or last computed before the latest
    /// 03:00 in the program's time zone.
    pub async fn insights_due(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
    ) -> Result<bool, CoreError> {
        let mut c = self.read().await?;
        let p = program_of(&mut c, tenant, program).await?;
        let Some((computed_at, _)) = insights::program_summary(&mut c, program).await? else {
            return Ok(true);
        };
        let now = self.clock.now().to_zoned(crate::earning::zone(&p)?);
        let today = now
            .with()
            .hour(NIGHTLY_HOUR)
            .minute(0)
            .second(0)
            .subsec_nanosecond(0)
            .build()
            .map_err(time_error)?;
        let last_night = if today.timestamp() <= now.timestamp() {
            today
        } else {
            today.yesterday().map_err(time_error)?
        };
        Ok(computed_at < last_night.timestamp())
    }

    async fn compute_and_store(
        &self,
        tenant: &TenantId,
        actor: &str,
        program: &ProgramId,
    ) -> Result<Value, CoreError> {
        let started = std::time::Instant::now();
        let mut c = self.read().await?;
        let p = program_of(&mut c, tenant, program).await?;
        let raw = RawLog {
            members: insights::open_members(&mut c, program).await?,
            purchases: insights::purchase_log(&mut c, program).await?,
            lines: insights::line_log(&mut c, program).await?,
            histories: insights::churn_histories(&mut c, program)
                .await?
                .into_iter()
                .collect(),
        };
        drop(c);
        let now = self.clock.now();
        let (rows, mut summary) = tokio::task::spawn_blocking(move || compute(&p, now, raw))
            .await
            .map_err(|e| CoreError::Internal(format!("the insights computation stopped: {e}")))??;
        for chunk in rows.chunks(CHUNK) {
            let command = Command::StoreMemberInsights {
                rows: chunk.to_vec(),
            };
            self.write(tenant, actor, None, command).await?;
        }
        summary["duration_ms"] = json!(started.elapsed().as_millis() as u64);
        Ok(summary)
    }

    /// The program's last run: `{"computed_at", …summary}`, or None before the first.
    pub async fn program_insights(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
    ) -> Result<Option<Value>, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        Ok(insights::program_summary(&mut c, program)
            .await?
            .map(|(_, summary)| summary))
    }

    /// The member's numbers from the last run that saw them, or None (enrolled since).
    pub async fn member_insights(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<Option<Value>, CoreError> {
        let mut c = self.read().await?;
        member_of(&mut c, tenant, member).await?;
        Ok(insights::member_details(&mut c, member).await?)
    }

    /// Members in a lifecycle stage, the most valuable first, with their names: e.g. those at
    /// risk worth winning back.
    pub async fn members_in_stage(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        stage: &str,
        limit: i64,
    ) -> Result<Vec<Value>, CoreError> {
        if !STAGES.contains(&stage) {
            return Err(DomainError::invalid(
                "stage",
                format!("must be one of {}", STAGES.join(", ")),
            )
            .into());
        }
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        let members = insights::by_stage(&mut c, program, stage, limit).await?;
        Ok(members
            .into_iter()
            .map(|m| {
                json!({
                    "member_id": m.member_id,
                    "name": m.name,
                    "external_id": m.external_id,
                    "insights": m.details,
                })
            })
            .collect())
    }
}

/// The lifecycle stages, as stored and asked for.
pub const STAGES: [&str; 5] = ["new", "active", "at_risk", "lapsed", "lost"];

fn time_error(e: jiff::Error) -> CoreError {
    CoreError::Internal(format!("insights: {e}"))
}

/// What a run reads.
struct RawLog {
    members: Vec<String>,
    purchases: Vec<insights::LoggedPurchase>,
    lines: Vec<insights::LoggedLine>,
    /// The stored churn readings by member.
    histories: HashMap<String, String>,
}

fn analytics_error(e: AnalyticsError) -> CoreError {
    CoreError::Internal(format!("insights: {e}"))
}

/// The local day number and hour of the week of a moment.
fn local_day_and_hour(at_us: i64, tz: &jiff::tz::TimeZone) -> Result<(i64, HourOfWeek), CoreError> {
    let at = Timestamp::from_microsecond(at_us).map_err(time_error)?;
    let local = at.to_zoned(tz.clone());
    let day = day_of(local.date())?;
    let weekday = local.weekday().to_monday_zero_offset() as u8;
    let hour = HourOfWeek::new(weekday, local.hour() as u8).map_err(analytics_error)?;
    Ok((day, hour))
}

fn day_of(date: Date) -> Result<i64, CoreError> {
    tally_analytics::day_number(
        i32::from(date.year()),
        date.month() as u32,
        date.day() as u32,
    )
    .map_err(analytics_error)
}

fn date_of(day: i64) -> String {
    let epoch = jiff::civil::date(1970, 1, 1);
    epoch
        .checked_add(jiff::Span::new().days(day))
        .map_or_else(|_| day.to_string(), |d| d.to_string())
}

/// Parts per million of a probability.
fn ppm(p: f64) -> i64 {
    (p * 1e6).round() as i64
}

/// Rounds to 3 decimals for the JSON answer.
fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// The whole computation of a run, without IO: the members' rows and the program's summary.
fn compute(
    program: &Program,
    now: Timestamp,
    raw: RawLog,
) -> Result<(Vec<MemberInsightRow>, Value), CoreError> {
    let tz = crate::earning::zone(program)?;
    let as_of_day = day_of(now.to_zoned(tz.clone()).date())?;
    let mut log = Log {
        members: raw.members,
        purchases: Vec::with_capacity(raw.purchases.len()),
        engagements: Vec::with_capacity(raw.purchases.len()),
        lines: Vec::with_capacity(raw.lines.len()),
    };
    for p in raw.purchases {
        let (day, hour) = local_day_and_hour(p.occurred_at_us, &tz)?;
        log.engagements.push(Engagement {
            member: p.member_id.clone(),
            hour,
        });
        log.purchases.push(Purchase {
            customer: p.member_id,
            day,
            amount: p.net_minor as f64,
        });
    }
    for l in raw.lines {
        log.lines.push(Line {
            customer: l.member_id,
            item: l.sku,
            category: l.category,
            quantity: l.quantity as f64,
        });
    }
    let (models, profiles) =
        profile::profile(&log, &Settings::as_of(as_of_day)).map_err(analytics_error)?;
    let mut rows = Vec::with_capacity(profiles.len());
    for p in &profiles {
        let history = raw.histories.get(&p.member).map_or("", String::as_str);
        rows.push(member_row(program, now, as_of_day, p, history));
    }
    let summary = summary(program, now, as_of_day, &models, &profiles);
    Ok((rows, summary))
}

/// Churn readings: "day:ppm" separated by spaces, at most one per day.
fn parse_history(raw: &str) -> BTreeMap<i64, i64> {
    raw.split_whitespace()
        .filter_map(|r| {
            let (day, ppm) = r.split_once(':')?;
            Some((day.parse().ok()?, ppm.parse().ok()?))
        })
        .collect()
}

/// The member's new churn history (today's reading added, readings over two weeks old dropped)
/// and the change since the newest reading at least a week old.
fn churn_trend(stored: &str, as_of_day: i64, churn_ppm: Option<i64>) -> (String, Option<i64>) {
    let mut readings = parse_history(stored);
    readings.retain(|day, _| *day > as_of_day - HISTORY_DAYS && *day <= as_of_day);
    let week_ago = readings
        .range(..=as_of_day - 7)
        .next_back()
        .map(|(_, ppm)| *ppm);
    if let Some(ppm) = churn_ppm {
        readings.insert(as_of_day, ppm);
    }
    let text = readings
        .iter()
        .map(|(d, p)| format!("{d}:{p}"))
        .collect::<Vec<_>>()
        .join(" ");
    (text, churn_ppm.zip(week_ago).map(|(now, then)| now - then))
}

fn send_time(hour: HourOfWeek) -> Value {
    json!({
        "weekday": WEEKDAYS[usize::from(hour.weekday_from_monday())],
        "hour": hour.hour(),
    })
}

fn member_row(
    program: &Program,
    now: Timestamp,
    as_of_day: i64,
    p: &MemberProfile<String>,
    stored_history: &str,
) -> MemberInsightRow {
    let churn_ppm = p.p_alive.map(|a| ppm(1.0 - a));
    let (churn_history, change) = churn_trend(stored_history, as_of_day, churn_ppm);
    let money = |v: f64| v.round() as i64;
    let purchases = p.history.as_ref().map(|h| {
        json!({
            "count": h.purchase_days,
            "spend_minor": money(h.spend),
            "first_on": date_of(h.first_day),
            "last_on": date_of(h.last_day),
            "days_since_last": h.recency_days,
            "usual_interval_days": h.mean_interval_days.map(|d| (d * 10.0).round() / 10.0),
        })
    });
    let rfm = p.history.as_ref().map(|h| {
        json!({
            "recency": h.recency_score,
            "frequency": h.frequency_score,
            "monetary": h.monetary_score,
            "segment": h.rfm_segment.as_str().replace(' ', "_").replace('\'', ""),
            "label": h.rfm_segment.label(),
        })
    });
    let details = json!({
        "computed_at": now,
        "lifecycle": p.stage.map(Stage::as_str),
        "explanation": p.explanation,
        "vip": p.vip,
        "purchases": purchases,
        "rfm": rfm,
        "p_alive": p.p_alive.map(round3),
        "churn_risk": churn_ppm.map(|c| round3(c as f64 / 1e6)),
        "churn_risk_change_7d": change.map(|c| round3(c as f64 / 1e6)),
        "expected_purchases_90d": p.expected_purchases.map(round3),
        "expected_order_minor": p.expected_order_value.map(money),
        "clv_12m_minor": p.clv.map(money),
        "currency": program.currency.code(),
        "value_percentile": p.value_percentile.map(|v| v.floor() as i64),
        "favourite_categories": p.favourite_categories,
        "next_products": p.next_products,
        "best_send_time": send_time(p.best_send_hour),
    });
    MemberInsightRow {
        member_id: MemberId::from_trusted(p.member.clone()),
        program_id: program.id.clone(),
        computed_at: now,
        lifecycle: p.stage.map(|s| s.as_str().to_string()),
        rfm_segment: rfm
            .as_ref()
            .map(|r| r["segment"].as_str().unwrap_or("").to_string()),
        vip: p.vip,
        p_alive_ppm: p.p_alive.map(ppm),
        churn_risk_ppm: churn_ppm,
        clv_minor: p.clv.map(money),
        value_percentile: p.value_percentile.map(|v| v.floor() as i64),
        best_send_hour: p.best_send_hour.index() as i64,
        churn_history,
        details,
    }
}

fn model_json<M: std::fmt::Debug>(
    fit: &Result<tally_analytics::Fit<M>, AnalyticsError>,
    params: impl Fn(&M) -> Value,
) -> Value {
    match fit {
        Ok(f) => json!({
            "parameters": params(&f.model),
            "log_likelihood": round3(f.log_likelihood),
            "customers": f.customers,
        }),
        Err(e) => json!({ "error": e.to_string() }),
    }
}

fn summary(
    program: &Program,
    now: Timestamp,
    as_of_day: i64,
    models: &Models,
    profiles: &[MemberProfile<String>],
) -> Value {
    let mut stages: BTreeMap<&str, usize> = STAGES.iter().map(|s| (*s, 0)).collect();
    let mut segments: BTreeMap<String, usize> = BTreeMap::new();
    let mut no_purchase = 0;
    let mut values = Vec::new();
    for p in profiles {
        match p.stage {
            Some(s) => *stages.entry(s.as_str()).or_default() += 1,
            None => no_purchase += 1,
        }
        if let Some(h) = &p.history {
            *segments
                .entry(h.rfm_segment.as_str().replace(' ', "_").replace('\'', ""))
                .or_default() += 1;
        }
        if let Some(v) = p.clv {
            values.push(v);
        }
    }
    values.sort_by(f64::total_cmp);
    let deciles: Vec<i64> = (1..10)
        .filter_map(|d| values.get(d * values.len() / 10).map(|v| v.round() as i64))
        .collect();
    json!({
        "computed_at": now,
        "as_of": date_of(as_of_day),
        "members": profiles.len(),
        "customers": models.customers,
        "currency": program.currency.code(),
        "models": {
            "bgnbd": model_json(&models.bgnbd, |m| json!({
                "r": m.r, "alpha": m.alpha, "a": m.a, "b": m.b, "unit": "weeks",
            })),
            "gamma_gamma": model_json(&models.gamma_gamma, |m| json!({
                "p": m.p, "q": m.q, "gamma": m.gamma,
            })),
        },
        "typical_interval_days": round3(models.typical_interval_days),
        "best_send_time": send_time(models.program_best_hour),
        "lifecycle": stages,
        "no_purchase": no_purchase,
        "vip": profiles.iter().filter(|p| p.vip).count(),
        "rfm_segments": segments,
        "clv_12m_minor": {
            "total": values.iter().sum::<f64>().round() as i64,
            "deciles": deciles,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_weekly_change_compares_with_the_newest_reading_at_least_a_week_old() {
        // Readings 15, 9, 8 and 2 days ago; today 700,000 ppm.
        let stored = "85:100000 91:400000 92:450000 98:600000";
        let (history, change) = churn_trend(stored, 100, Some(700_000));
        assert_eq!(change, Some(700_000 - 450_000));
        // The 15-day-old reading is gone; today's is in.
        assert_eq!(history, "91:400000 92:450000 98:600000 100:700000");
        // Nothing a week old: no change; a rerun on the same day replaces the day's reading.
        let (history, change) = churn_trend("98:600000 100:1", 100, Some(5));
        assert_eq!((history.as_str(), change), ("98:600000 100:5", None));
        // No model today: the history carries on, no change.
        assert_eq!(churn_trend("95:1", 100, None), ("95:1".to_string(), None));
        assert_eq!(churn_trend("garbage 95:x", 100, None).0, "");
    }

    #[test]
    fn days_are_local_days() {
        let tz = jiff::tz::TimeZone::get("America/New_York").unwrap();
        // 2026-03-02 03:30 UTC is Sunday 1 March 22:30 in New York.
        let at: Timestamp = "2026-03-02T03:30:00Z".parse().unwrap();
        let (day, hour) = local_day_and_hour(at.as_microsecond(), &tz).unwrap();
        assert_eq!(date_of(day), "2026-03-01");
        assert_eq!((hour.weekday_from_monday(), hour.hour()), (6, 22));
    }
}
