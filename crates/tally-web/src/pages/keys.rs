//! The owner's access page: API keys (the secret shown once, then only its prefix) and the
//! operators of the console (invite with a one-time link, deactivate, reactivate).

use super::{FormErrors, PageResult, Ui, render, unprocessable, write_or_errors};
use crate::WebState;
use crate::error::WebError;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use tally_core::secrets::{new_api_key, new_token, sha256_hex};
use tally_core::{Command, NewOperator};
use tally_domain::DomainError;
use tally_domain::ids::{ApiKeyId, OperatorId};
use tally_domain::operators::{Operator, Role};
use tally_domain::text::Email;
use tally_store::Database;
use tally_store::queries::keys::ApiKey;
use tally_store::queries::operators::LinkPurpose;

/// How long an invite link from the console is valid.
const INVITE_TTL: jiff::SignedDuration = jiff::SignedDuration::from_hours(7 * 24);

#[derive(Template)]
#[template(path = "keys.html")]
struct KeysPage {
    ui: Ui,
    keys: Vec<ApiKey>,
    operators: Vec<Operator>,
    /// A secret or link just made: shown on this page once.
    shown_once: String,
    shown_once_label: &'static str,
    form: Fields,
    errors: FormErrors,
}

async fn page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    shown: Option<(&'static str, String)>,
    form: Fields,
    errors: FormErrors,
) -> PageResult {
    let ui = Ui::load(state, console, program, "keys").await?;
    let tenant = &console.operator.tenant_id;
    let keys = state.tally.api_keys(tenant).await?;
    let operators = state.tally.operators(tenant).await?;
    let (shown_once_label, shown_once) = shown.unwrap_or(("", String::new()));
    render(&KeysPage {
        ui,
        keys,
        operators,
        shown_once,
        shown_once_label,
        form,
        errors,
    })
}

pub async fn show<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    console: Console,
) -> PageResult {
    console.require(Role::can_administer)?;
    page(
        &state,
        &console,
        &program,
        None,
        Fields::default(),
        FormErrors::default(),
    )
    .await
}

pub async fn create_key<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_administer)?;
    let f = &form.fields;
    let scope = f.raw("scope");
    let (secret, prefix) = new_api_key();
    let command = if !["read", "write", "admin"].contains(&scope) {
        Err(DomainError::invalid(
            "/scope",
            "must be read, write or admin",
        ))
    } else {
        Ok(Command::CreateApiKey {
            name: f
                .get("key-name")
                .unwrap_or("console")
                .chars()
                .take(100)
                .collect(),
            scope: scope.to_owned(),
            secret_sha256: sha256_hex(&secret),
            prefix,
        })
    };
    let fields = [("/scope", "scope")];
    match write_or_errors(&state, &form.console, command, &fields).await? {
        Ok(_) => {
            let shown = Some(("keys.secret_once", secret));
            page(
                &state,
                &form.console,
                &program,
                shown,
                Fields::default(),
                FormErrors::default(),
            )
            .await
        }
        Err(errors) => Ok(unprocessable(
            page(&state, &form.console, &program, None, form.fields, errors).await?,
        )),
    }
}

pub async fn revoke_key<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, key)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_administer)?;
    let id = ApiKeyId::parse(&key).map_err(|_| WebError::NotFound)?;
    write_or_errors(&state, &form.console, Ok(Command::RevokeApiKey { id }), &[])
        .await?
        .map_err(|_| WebError::NotFound)?;
    Ok(Redirect::to(&format!("/console/{program}/keys")).into_response())
}

pub async fn invite<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_administer)?;
    let f = &form.fields;
    let lang = form.console.lang;
    let mut invalid = tally_domain::error::Fields::new();
    let email = invalid.take("/email", Email::parse(f.raw("email")));
    let role = invalid.take("/role", Role::parse(f.raw("role")));
    let name = f.get("name").map(str::to_owned);
    if name.is_none() {
        invalid.push("/name", lang.t("form.required"));
    }
    let command = invalid.finish().map(|()| {
        Command::CreateOperator(NewOperator {
            email: email.expect("checked"),
            name: name.expect("checked").chars().take(100).collect(),
            role: role.expect("checked"),
            locale: if f.raw("locale") == "pl" { "pl" } else { "en" }.to_owned(),
            password_hash: None,
        })
    });
    let fields = [("/email", "email"), ("/role", "role"), ("/name", "name")];
    let created = match write_or_errors(&state, &form.console, command, &fields).await? {
        Ok(answer) => answer,
        Err(errors) => {
            return Ok(unprocessable(
                page(&state, &form.console, &program, None, form.fields, errors).await?,
            ));
        }
    };
    let operator = OperatorId::parse(created["id"].as_str().unwrap_or_default())
        .map_err(|e| WebError::Internal(format!("new operator id: {e}")))?;
    let token = new_token();
    let link = Command::IssueOperatorLink {
        operator,
        purpose: LinkPurpose::Invite,
        token_sha256: sha256_hex(&token),
        ttl: INVITE_TTL,
    };
    write_or_errors(&state, &form.console, Ok(link), &[])
        .await?
        .map_err(|e| WebError::Internal(format!("invite link: {e:?}")))?;
    let url = format!("{}/console/link/{token}", state.public_url);
    page(
        &state,
        &form.console,
        &program,
        Some(("keys.invite_once", url)),
        Fields::default(),
        FormErrors::default(),
    )
    .await
}

pub async fn set_operator_active<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, operator)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_administer)?;
    let id = OperatorId::parse(&operator).map_err(|_| WebError::NotFound)?;
    if id == form.console.operator.id {
        // Owners cannot lock themselves out.
        return Err(WebError::Forbidden);
    }
    let active = form.fields.raw("active") == "true";
    write_or_errors(
        &state,
        &form.console,
        Ok(Command::SetOperatorActive {
            operator: id,
            active,
        }),
        &[],
    )
    .await?
    .map_err(|_| WebError::NotFound)?;
    Ok(Redirect::to(&format!("/console/{program}/keys")).into_response())
}
