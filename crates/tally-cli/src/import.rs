//! `tally import purchases FILE.csv`: validates every row first (reporting each bad row with
//! its line number), then records the purchases through the same writer as the API. Order ids
//! make it idempotent: importing the same file again adds nothing.
//!
//! Columns (header required): `order_id, member_external_id, total, currency, occurred_at`,
//! optionally `channel` (pos, online, app) and `location_id`. `total` is a decimal in major
//! units (`12.99`); `occurred_at` is RFC 3339 or a date (noon in the program's time zone).

use crate::admin::tenant_id;
use crate::app::{self, Result, core_err};
use crate::config::Config;
use crate::progress::{Progress, group};
use clap::Subcommand;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use tally_core::{Command, CoreError, Tally};
use tally_domain::ids::{LocationId, ProgramId, TenantId};
use tally_domain::inputs::{MemberRef, NewMember, NewPurchase, identifier};
use tally_domain::model::SalesChannel;
use tally_domain::money::parse_decimal_minor;
use tally_domain::program::Program;
use tally_domain::{Currency, DomainError, Money, Timestamp};
use tally_store_any::AnyDb;
use tokio::sync::Semaphore;

#[derive(Subcommand)]
pub enum ImportCommand {
    /// Import purchases from a CSV file.
    Purchases {
        file: PathBuf,
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        program: String,
        /// Enrol members whose external id is not known yet.
        #[arg(long)]
        enroll_unknown: bool,
    },
}

/// Commands in flight at once: enough to keep the writer's batches full (enrolments are single
/// commands; purchases go in chunks of `MAX_IMPORT_CHUNK`).
const IN_FLIGHT: usize = 64;
const MAX_REPORTED_ERRORS: usize = 50;

pub struct Row {
    pub external_id: String,
    pub purchase: NewPurchase,
}

pub async fn run(config: &Config, command: ImportCommand) -> Result<()> {
    let ImportCommand::Purchases {
        file,
        tenant,
        program,
        enroll_unknown,
    } = command;
    let tally = app::open(&config.database_url).await?;
    let tenant = tenant_id(&tally, &tenant).await?;
    let program = ProgramId::parse(&program).map_err(|e| format!("program `{program}`: {e}"))?;
    let program = tally.program(&tenant, &program).await.map_err(core_err)?;
    let rows = read_file(&file, &program)?;
    let profile: Option<Profile<'_>> = enroll_unknown.then_some(&bare_profile);
    let report = import(&tally, &tenant, &program.id, rows, profile).await?;
    println!("{report}");
    Ok(())
}

/// Reads and validates the whole file; all errors at once, each with its line number.
pub fn read_file(path: &Path, program: &Program) -> Result<Vec<Row>> {
    let mut reader = csv::ReaderBuilder::new()
        .trim(csv::Trim::All)
        .from_path(path)
        .map_err(|e| format!("{}: {e}", path.display()))?;
    let headers = reader
        .headers()
        .map_err(|e| format!("{}: {e}", path.display()))?
        .clone();
    let column = |name: &str| headers.iter().position(|h| h == name);
    let required = [
        "order_id",
        "member_external_id",
        "total",
        "currency",
        "occurred_at",
    ];
    let missing: Vec<&str> = required
        .iter()
        .copied()
        .filter(|c| column(c).is_none())
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "{}: missing column(s): {}",
            path.display(),
            missing.join(", ")
        ));
    }
    let at = |name: &str| column(name).expect("checked");
    let (channel_col, location_col) = (column("channel"), column("location_id"));
    let mut rows = Vec::new();
    let mut errors = Vec::new();
    for (i, record) in reader.records().enumerate() {
        let line = i + 2;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(format!("line {line}: {e}"));
                continue;
            }
        };
        let field = |c: usize| record.get(c).unwrap_or("");
        let mut problems = Vec::new();
        let order_id = problems_push(
            &mut problems,
            "order_id",
            identifier(&field(at("order_id")).into()),
        );
        let external_id = problems_push(
            &mut problems,
            "member_external_id",
            identifier(&field(at("member_external_id")).into()),
        );
        let currency = problems_push(
            &mut problems,
            "currency",
            Currency::parse(field(at("currency"))),
        );
        let currency_ok = currency.filter(|c| *c == program.currency);
        if currency.is_some() && currency_ok.is_none() {
            problems.push(format!(
                "currency: must be {}, the program's currency",
                program.currency
            ));
        }
        let total = currency_ok.and_then(|c| {
            problems_push(
                &mut problems,
                "total",
                parse_decimal_minor(field(at("total")), c),
            )
            .map(|amount_minor| Money {
                amount_minor,
                currency: c,
            })
        });
        let occurred_at = problems_push(
            &mut problems,
            "occurred_at",
            parse_time(field(at("occurred_at")), program),
        );
        let channel = match channel_col.map(field).filter(|v| !v.is_empty()) {
            Some(v) => problems_push(&mut problems, "channel", SalesChannel::parse(v)),
            None => Some(SalesChannel::Pos),
        };
        let location_id = match location_col.map(field).filter(|v| !v.is_empty()) {
            Some(v) => problems_push(&mut problems, "location_id", LocationId::parse(v)).map(Some),
            None => Some(None),
        };
        match (
            order_id,
            external_id,
            total,
            occurred_at,
            channel,
            location_id,
        ) {
            (
                Some(order_id),
                Some(external_id),
                Some(total),
                Some(occurred_at),
                Some(channel),
                Some(location_id),
            ) if problems.is_empty() => {
                rows.push(Row {
                    purchase: NewPurchase {
                        order_id,
                        member: MemberRef::ExternalId(external_id.clone()),
                        total,
                        lines: Vec::new(),
                        channel,
                        location_id,
                        occurred_at: Some(occurred_at),
                    },
                    external_id,
                });
            }
            _ => errors.push(format!("line {line}: {}", problems.join("; "))),
        }
    }
    if errors.is_empty() {
        return Ok(rows);
    }
    let shown: Vec<String> = errors.iter().take(MAX_REPORTED_ERRORS).cloned().collect();
    let more = errors.len().saturating_sub(MAX_REPORTED_ERRORS);
    Err(format!(
        "{} invalid row(s); nothing was imported:\n  {}{}",
        errors.len(),
        shown.join("\n  "),
        if more > 0 {
            format!("\n  … and {more} more")
        } else {
            String::new()
        }
    ))
}

fn problems_push<T>(
    problems: &mut Vec<String>,
    column: &str,
    r: std::result::Result<T, String>,
) -> Option<T> {
    r.map_err(|m| problems.push(format!("{column}: {m}"))).ok()
}

fn parse_time(raw: &str, program: &Program) -> std::result::Result<Timestamp, String> {
    if let Ok(t) = raw.parse::<Timestamp>() {
        return Ok(t);
    }
    let date: jiff::civil::Date = raw
        .parse()
        .map_err(|_| format!("`{raw}` is not an RFC 3339 time or a date"))?;
    date.at(12, 0, 0, 0)
        .in_tz(program.time_zone.as_str())
        .map(|z| z.timestamp())
        .map_err(|e| e.to_string())
}

/// What an import did.
pub struct Report {
    pub rows: usize,
    pub enrolled: usize,
    pub recorded: usize,
    pub already_present: usize,
    pub refused: Vec<String>,
    pub seconds: f64,
}

impl std::fmt::Display for Report {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} rows: {} purchases recorded, {} already present, {} members enrolled, {} refused, in {:.1} s ({}/s)",
            group(self.rows as u64),
            group(self.recorded as u64),
            group(self.already_present as u64),
            group(self.enrolled as u64),
            self.refused.len(),
            self.seconds,
            group((self.rows as f64 / self.seconds.max(1e-3)) as u64)
        )?;
        for r in self.refused.iter().take(MAX_REPORTED_ERRORS) {
            write!(f, "\n  {r}")?;
        }
        Ok(())
    }
}

/// How to enrol a member the import does not know: the enrolment body for an external id.
pub type Profile<'a> = &'a (dyn Fn(&str) -> serde_json::Value + Sync);

/// Just the external id.
pub fn bare_profile(external_id: &str) -> serde_json::Value {
    serde_json::json!({ "external_id": external_id })
}

/// Records validated rows, enrolling unknown members first when given a profile to enrol them with.
pub async fn import(
    tally: &Tally<AnyDb>,
    tenant: &TenantId,
    program: &ProgramId,
    rows: Vec<Row>,
    enroll_unknown: Option<Profile<'_>>,
) -> Result<Report> {
    let started = std::time::Instant::now();
    let mut enrolled = 0;
    if let Some(profile) = enroll_unknown {
        let ids: BTreeSet<String> = rows.iter().map(|r| r.external_id.clone()).collect();
        let commands = ids.into_iter().map(|external_id| {
            let member = NewMember::parse(&profile(&external_id)).expect("a valid enrolment body");
            Command::Enroll {
                program: program.clone(),
                member,
                source: "import".into(),
            }
        });
        let outcomes = run_all(
            tally,
            tenant,
            "enrolling",
            commands.map(|c| (c, 1)).collect(),
        )
        .await;
        for outcome in outcomes {
            match outcome {
                Ok(_) => enrolled += 1,
                Err(CoreError::Domain(DomainError::Conflict { code, .. }))
                    if code == "external_id_taken" => {}
                Err(e) => return Err(format!("enrolling: {e}")),
            }
        }
    }
    let count = rows.len();
    let purchases: Vec<NewPurchase> = rows.into_iter().map(|r| r.purchase).collect();
    let chunks: Vec<&[NewPurchase]> = purchases.chunks(tally_core::MAX_IMPORT_CHUNK).collect();
    let commands = chunks
        .iter()
        .map(|chunk| {
            (
                Command::ImportPurchases {
                    program: program.clone(),
                    purchases: chunk.to_vec(),
                },
                chunk.len() as u64,
            )
        })
        .collect();
    let outcomes = run_all(tally, tenant, "importing", commands).await;
    let (mut recorded, mut present, mut refused) = (0, 0, Vec::new());
    for (chunk, outcome) in outcomes.into_iter().enumerate() {
        let answer = outcome.map_err(|e| format!("importing: {e}"))?;
        recorded += answer["recorded"].as_u64().unwrap_or(0) as usize;
        present += answer["already_present"].as_u64().unwrap_or(0) as usize;
        for r in answer["refused"].as_array().into_iter().flatten() {
            let row = chunk * tally_core::MAX_IMPORT_CHUNK
                + r["index"].as_u64().unwrap_or(0) as usize
                + 2;
            let problem: std::result::Result<DomainError, _> =
                serde_json::from_value(r["problem"].clone());
            refused.push(format!(
                "line {row}: {}",
                problem.map_or_else(|_| r["problem"].to_string(), |p| p.to_string())
            ));
        }
    }
    if recorded > 0 {
        // Imported purchases do not pass through the per-member updater (one queue entry per
        // row would be wasted work): the program's dynamic segments are evaluated once, whole.
        tally
            .evaluate_segments(tenant, program)
            .await
            .map_err(|e| format!("updating segments after the import: {e}"))?;
    }
    Ok(Report {
        rows: count,
        enrolled,
        recorded,
        already_present: present,
        refused,
        seconds: started.elapsed().as_secs_f64(),
    })
}

/// Sends commands with many in flight (so the writer batches them), in order of answers kept.
async fn run_all(
    tally: &Tally<AnyDb>,
    tenant: &TenantId,
    label: &str,
    commands: Vec<(Command, u64)>,
) -> Vec<std::result::Result<serde_json::Value, CoreError>> {
    let permits = Arc::new(Semaphore::new(IN_FLIGHT));
    let mut progress = Progress::new(label, commands.iter().map(|(_, rows)| rows).sum());
    let mut handles = Vec::with_capacity(commands.len());
    for (command, rows) in commands {
        let permit = permits.clone().acquire_owned().await.expect("never closed");
        let (tally, tenant) = (tally.clone(), tenant.clone());
        handles.push((
            rows,
            tokio::spawn(async move {
                let outcome = tally.write(&tenant, "import", None, command).await;
                drop(permit);
                outcome
            }),
        ));
    }
    let mut outcomes = Vec::with_capacity(handles.len());
    for (rows, handle) in handles {
        outcomes.push(handle.await.unwrap_or(Err(CoreError::Unavailable)));
        progress.add(rows);
    }
    progress.finish();
    outcomes
}
