//! `tally export members|ledger`: CSV for spreadsheets, accountants and auditors.

use crate::admin::tenant_id;
use crate::app::{self, Result, core_err};
use crate::config::Config;
use clap::Subcommand;
use std::io::Write;
use std::path::PathBuf;
use tally_domain::ids::ProgramId;
use tally_store::queries::members::MemberFilter;

#[derive(Subcommand)]
pub enum ExportCommand {
    /// Members with their balances.
    Members(Target),
    /// Every transfer of the program's ledger, in order.
    Ledger(Target),
}

#[derive(clap::Args)]
pub struct Target {
    #[arg(long)]
    tenant: String,
    #[arg(long)]
    program: String,
    /// Write here instead of standard output.
    #[arg(long)]
    out: Option<PathBuf>,
}

const PAGE: i64 = 200;

pub async fn run(config: &Config, command: ExportCommand) -> Result<()> {
    let tally = app::open(&config.database_url).await?;
    let (ExportCommand::Members(target) | ExportCommand::Ledger(target)) = &command;
    let tenant = tenant_id(&tally, &target.tenant).await?;
    let program = ProgramId::parse(&target.program)
        .map_err(|e| format!("program `{}`: {e}", target.program))?;
    let sink: Box<dyn Write> = match &target.out {
        Some(path) => {
            Box::new(std::fs::File::create(path).map_err(|e| format!("{}: {e}", path.display()))?)
        }
        None => Box::new(std::io::stdout().lock()),
    };
    let mut csv = csv::Writer::from_writer(sink);
    let io = |e: csv::Error| e.to_string();
    match command {
        ExportCommand::Members(_) => {
            csv.write_record([
                "id",
                "external_id",
                "name",
                "email",
                "phone",
                "status",
                "card_number",
                "available",
                "pending",
                "enrolled_at",
            ])
            .map_err(io)?;
            let mut cursor = None;
            loop {
                let page = tally
                    .members(
                        &tenant,
                        &program,
                        &MemberFilter::default(),
                        cursor,
                        Some(PAGE),
                    )
                    .await
                    .map_err(core_err)?;
                for m in &page.items {
                    csv.write_record([
                        m.id.to_string(),
                        m.external_id.clone().unwrap_or_default(),
                        m.name.clone().unwrap_or_default(),
                        m.email.as_ref().map(|e| e.to_string()).unwrap_or_default(),
                        m.phone.as_ref().map(|p| p.to_string()).unwrap_or_default(),
                        m.status.as_str().to_owned(),
                        m.card.number.clone(),
                        m.balance.available.to_string(),
                        m.balance.pending.to_string(),
                        m.enrolled_at.to_string(),
                    ])
                    .map_err(io)?;
                }
                match page.next_cursor {
                    Some(next) => cursor = Some(next),
                    None => break,
                }
            }
        }
        ExportCommand::Ledger(_) => {
            csv.write_record([
                "seq",
                "id",
                "member_id",
                "kind",
                "debit_account_id",
                "credit_account_id",
                "amount",
                "balance_after",
                "reason",
                "occurred_at",
            ])
            .map_err(io)?;
            let mut after = 0;
            loop {
                let rows = tally
                    .ledger_export(&tenant, &program, after, 5_000)
                    .await
                    .map_err(core_err)?;
                let Some(last) = rows.last() else { break };
                after = last.seq;
                for t in &rows {
                    csv.write_record([
                        t.seq.to_string(),
                        t.id.clone(),
                        t.member_id.clone(),
                        t.kind.clone(),
                        t.debit_account_id.clone(),
                        t.credit_account_id.clone(),
                        t.amount.to_string(),
                        t.balance_after.to_string(),
                        t.reason.clone(),
                        t.occurred_at.to_string(),
                    ])
                    .map_err(io)?;
                }
            }
        }
    }
    csv.flush().map_err(|e| e.to_string())
}
