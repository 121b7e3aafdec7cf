//! `tally operators`: console accounts from the command line. An operator created without a
//! password gets an invite link (valid 7 days) to choose one; `link` prints a one-time sign-in
//! link (valid 1 hour), which is also how a locked-out owner gets back in.

use crate::admin::tenant_id;
use crate::app::{self, Result, core_err};
use crate::config::Config;
use clap::Subcommand;
use std::io::BufRead;
use tally_core::{Command, NewOperator, Tally};
use tally_domain::ids::TenantId;
use tally_domain::operators::{Operator, Role};
use tally_domain::text::Email;
use tally_store::queries::operators::LinkPurpose;
use tally_store_any::AnyDb;
use tally_web::secrets;

const ACTOR: &str = "cli";
pub const INVITE_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);
pub const SIGN_IN_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(1);

#[derive(Subcommand)]
pub enum OperatorCommand {
    /// Create an operator. Without --password-stdin, prints an invite link to choose a password.
    Create {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        name: String,
        /// owner, manager or cashier.
        #[arg(long, default_value = "manager")]
        role: String,
        /// en or pl: the console's language for this operator.
        #[arg(long, default_value = "en")]
        locale: String,
        /// Read the password from the first line of standard input.
        #[arg(long)]
        password_stdin: bool,
        /// The server's address as browsers reach it, for the printed link.
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
    /// Print a one-time sign-in link for an operator.
    Link {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "http://127.0.0.1:8080")]
        base_url: String,
    },
    /// List a tenant's operators.
    List {
        #[arg(long)]
        tenant: String,
    },
    /// Deactivate an operator (ends their sessions) or activate them again.
    SetActive {
        #[arg(long)]
        tenant: String,
        #[arg(long)]
        email: String,
        #[arg(long)]
        active: bool,
    },
}

/// Creates an operator; `password` is hashed here (argon2id), never stored in clear.
pub async fn create(
    tally: &Tally<AnyDb>,
    tenant: &TenantId,
    email: &str,
    name: &str,
    role: &str,
    locale: &str,
    password: Option<String>,
) -> Result<Operator> {
    let email = Email::parse(email)?;
    let role = Role::parse(role)?;
    if tally_web::i18n::Lang::parse(locale).is_none() {
        return Err(format!("locale `{locale}` must be en or pl"));
    }
    let password_hash = match password {
        Some(p) => {
            secrets::check_password_policy(&p)
                .map_err(|key| tally_web::i18n::Lang::En.t(key).to_owned())?;
            Some(secrets::hash_password(p).await?)
        }
        None => None,
    };
    let new = NewOperator {
        email,
        name: name.trim().to_owned(),
        role,
        locale: locale.to_owned(),
        password_hash,
    };
    tally
        .write_as(tenant, ACTOR, Command::CreateOperator(new))
        .await
        .map_err(core_err)
}

/// Issues a one-time link for `operator` and returns its URL.
pub async fn link(
    tally: &Tally<AnyDb>,
    operator: &Operator,
    purpose: LinkPurpose,
    base_url: &str,
) -> Result<String> {
    let token = secrets::new_token();
    let ttl = match purpose {
        LinkPurpose::Invite => INVITE_TTL,
        LinkPurpose::SignIn => SIGN_IN_TTL,
    };
    tally
        .write(
            &operator.tenant_id,
            ACTOR,
            None,
            Command::IssueOperatorLink {
                operator: operator.id.clone(),
                purpose,
                token_sha256: secrets::sha256_hex(&token),
                ttl,
            },
        )
        .await
        .map_err(core_err)?;
    Ok(format!(
        "{}/console/link/{token}",
        base_url.trim_end_matches('/')
    ))
}

pub async fn run(config: &Config, command: OperatorCommand) -> Result<()> {
    let tally = app::open(&config.database_url).await?;
    match command {
        OperatorCommand::Create {
            tenant,
            email,
            name,
            role,
            locale,
            password_stdin,
            base_url,
        } => {
            let tenant = tenant_id(&tally, &tenant).await?;
            let password = if password_stdin {
                let mut line = String::new();
                std::io::stdin()
                    .lock()
                    .read_line(&mut line)
                    .map_err(|e| format!("reading the password: {e}"))?;
                Some(line.trim_end_matches(['\r', '\n']).to_owned())
            } else {
                None
            };
            let has_password = password.is_some();
            let operator = create(&tally, &tenant, &email, &name, &role, &locale, password).await?;
            println!(
                "{}\t{}\t{}",
                operator.id,
                operator.email,
                operator.role.as_str()
            );
            if !has_password {
                let url = link(&tally, &operator, LinkPurpose::Invite, &base_url).await?;
                println!("invite link (valid 7 days, works once): {url}");
            }
        }
        OperatorCommand::Link { email, base_url } => {
            let email = Email::parse(&email)?;
            let (operator, _) = tally
                .operator_by_email(&email)
                .await
                .map_err(core_err)?
                .filter(|(o, _)| o.active)
                .ok_or_else(|| format!("no active operator with the email {email}"))?;
            let url = link(&tally, &operator, LinkPurpose::SignIn, &base_url).await?;
            println!("{url}");
        }
        OperatorCommand::List { tenant } => {
            let tenant = tenant_id(&tally, &tenant).await?;
            for o in tally.operators(&tenant).await.map_err(core_err)? {
                let state = if o.active { "active" } else { "inactive" };
                println!(
                    "{}\t{}\t{}\t{}\t{state}",
                    o.id,
                    o.email,
                    o.name,
                    o.role.as_str()
                );
            }
        }
        OperatorCommand::SetActive {
            tenant,
            email,
            active,
        } => {
            let tenant = tenant_id(&tally, &tenant).await?;
            let email = Email::parse(&email)?;
            let operator = tally
                .operators(&tenant)
                .await
                .map_err(core_err)?
                .into_iter()
                .find(|o| o.email == email)
                .ok_or_else(|| format!("no operator {email} in this tenant"))?;
            tally
                .write(
                    &tenant,
                    ACTOR,
                    None,
                    Command::SetOperatorActive {
                        operator: operator.id,
                        active,
                    },
                )
                .await
                .map_err(core_err)?;
            println!("{email}: {}", if active { "active" } else { "inactive" });
        }
    }
    Ok(())
}
