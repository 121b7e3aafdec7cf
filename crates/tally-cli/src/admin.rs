//! `tally tenants|keys|programs`: set-up from the command line.

use crate::app::{self, Result, core_err};
use crate::config::Config;
use clap::Subcommand;
use serde_json::json;
use tally_core::Command;
use tally_domain::ids::{ApiKeyId, TenantId};
use tally_domain::inputs::NewProgram;

const ACTOR: &str = "cli";

#[derive(Subcommand)]
pub enum TenantCommand {
    /// Create a tenant.
    Create { name: String },
    /// List tenants.
    List,
}

#[derive(Subcommand)]
pub enum KeyCommand {
    /// Create an API key; the secret is shown once.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long, default_value = "default")]
        name: String,
        /// read, write or admin.
        #[arg(long, default_value = "write")]
        scope: String,
    },
    /// List a tenant's keys (never the secrets).
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Revoke a key.
    Revoke {
        #[arg(long)]
        tenant: String,
        id: String,
    },
}

#[derive(Subcommand)]
pub enum ProgramCommand {
    /// Create a program.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        name: String,
        /// ISO 4217 currency of purchases, e.g. PLN.
        #[arg(long)]
        currency: String,
        /// Points per currency unit, e.g. 1 or 1.5.
        #[arg(long, default_value = "1")]
        points_per_unit: String,
        /// IANA time zone, e.g. Europe/Warsaw.
        #[arg(long, default_value = "UTC")]
        time_zone: String,
    },
    /// List a tenant's programs.
    List {
        #[arg(long)]
        tenant: String,
    },
}

/// Finds a tenant by id or name.
pub async fn tenant_id(
    tally: &tally_core::Tally<tally_store_any::AnyDb>,
    id_or_name: &str,
) -> Result<TenantId> {
    Ok(tally
        .tenant(id_or_name)
        .await
        .map_err(|_| format!("no tenant `{id_or_name}` (see `tally tenants list`)"))?
        .id)
}

pub async fn tenants(config: &Config, command: TenantCommand) -> Result<()> {
    let tally = app::open(&config.database_url).await?;
    match command {
        TenantCommand::Create { name } => {
            let out = tally
                .write(
                    &TenantId::generate(),
                    ACTOR,
                    None,
                    Command::CreateTenant { name },
                )
                .await
                .map_err(core_err)?;
            println!("{}", serde_json::to_string_pretty(&out).expect("json"));
        }
        TenantCommand::List => {
            for t in tally.tenants().await.map_err(core_err)? {
                println!("{}\t{}", t.id, t.name);
            }
        }
    }
    Ok(())
}

/// Creates a key and returns (secret, answer).
pub async fn create_key(
    tally: &tally_core::Tally<tally_store_any::AnyDb>,
    tenant: &TenantId,
    name: &str,
    scope: &str,
) -> Result<(String, serde_json::Value)> {
    if tally_http::Scope::parse(scope).is_none() {
        return Err(format!("scope `{scope}` must be read, write or admin"));
    }
    let (secret, prefix) = tally_http::new_secret();
    let command = Command::CreateApiKey {
        name: name.to_owned(),
        scope: scope.to_owned(),
        secret_sha256: tally_http::secret_sha256(&secret),
        prefix,
    };
    let out = tally
        .write(tenant, ACTOR, None, command)
        .await
        .map_err(core_err)?;
    Ok((secret, out))
}

pub async fn keys(config: &Config, command: KeyCommand) -> Result<()> {
    let tally = app::open(&config.database_url).await?;
    match command {
        KeyCommand::Create {
            tenant,
            name,
            scope,
        } => {
            let tenant = tenant_id(&tally, &tenant).await?;
            let (secret, out) = create_key(&tally, &tenant, &name, &scope).await?;
            println!(
                "{}",
                serde_json::to_string_pretty(&json!({ "key": out, "secret": secret }))
                    .expect("json")
            );
            eprintln!("Store the secret now: it is not shown again.");
        }
        KeyCommand::List { tenant } => {
            let tenant = tenant_id(&tally, &tenant).await?;
            for k in tally.api_keys(&tenant).await.map_err(core_err)? {
                let state = k
                    .revoked_at
                    .map_or_else(|| "active".to_owned(), |at| format!("revoked {at}"));
                println!("{}\t{}\t{}\t{}…\t{state}", k.id, k.name, k.scope, k.prefix);
            }
        }
        KeyCommand::Revoke { tenant, id } => {
            let tenant = tenant_id(&tally, &tenant).await?;
            let id = ApiKeyId::parse(&id).map_err(|e| format!("key `{id}`: {e}"))?;
            tally
                .write(
                    &tenant,
                    ACTOR,
                    None,
                    Command::RevokeApiKey { id: id.clone() },
                )
                .await
                .map_err(core_err)?;
            println!("revoked {id}");
        }
    }
    Ok(())
}

pub async fn programs(config: &Config, command: ProgramCommand) -> Result<()> {
    let tally = app::open(&config.database_url).await?;
    match command {
        ProgramCommand::Create {
            tenant,
            name,
            currency,
            points_per_unit,
            time_zone,
        } => {
            let tenant = tenant_id(&tally, &tenant).await?;
            let body = json!({"name": name, "currency": currency, "time_zone": time_zone, "earning": {"points_per_unit": points_per_unit}});
            let program = NewProgram::parse(&body).map_err(|e| e.to_string())?;
            let out = tally
                .write(&tenant, ACTOR, None, Command::CreateProgram(program))
                .await
                .map_err(core_err)?;
            println!("{}", serde_json::to_string_pretty(&out).expect("json"));
        }
        ProgramCommand::List { tenant } => {
            let tenant = tenant_id(&tally, &tenant).await?;
            for p in tally.programs(&tenant).await.map_err(core_err)? {
                println!("{}\t{}\t{}", p.id, p.name, p.currency);
            }
        }
    }
    Ok(())
}
