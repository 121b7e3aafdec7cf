//! Referrals in the wallet: the member's invite link with how their referrals stand (on the
//! card page), and the public join page the link opens — a short enrolment form that records
//! the referral, then sends the new member to the wallet's sign-in.

use super::wallet::{check_pre_session, pre_session, with_cookies};
use super::{FormErrors, PageResult, render, unprocessable, url_encode, write_as};
use crate::WebState;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::session::{Fields, PRE_SESSION_COOKIE, language, set_cookie};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri};
use axum::response::{IntoResponse, Redirect};
use serde_json::json;
use tally_core::Command;
use tally_domain::ids::{MemberId, TenantId};
use tally_domain::inputs::NewMember;
use tally_store::Database;

/// The card page's invite section.
pub struct Invite {
    pub link: String,
    pub referrer_points: i64,
    pub referred_points: i64,
    /// (first name, status) per referral, newest first.
    pub referrals: Vec<(String, String)>,
}

/// The member's invite, when the program has a referral policy.
pub async fn invite<D: Database>(
    state: &WebState<D>,
    tenant: &TenantId,
    program: &tally_domain::ids::ProgramId,
    member: &MemberId,
) -> Result<Option<Invite>, WebError> {
    let Ok(policy) = state.tally.referral_policy(tenant, program).await else {
        return Ok(None);
    };
    let mine = state.tally.member_referrals(tenant, member).await?;
    let Some(code) = mine["code"].as_str() else {
        return Ok(None);
    };
    Ok(Some(Invite {
        link: format!("{}/join/{code}", state.public_url),
        referrer_points: policy["referrer_points"].as_i64().unwrap_or(0),
        referred_points: policy["referred_points"].as_i64().unwrap_or(0),
        referrals: mine["referrals"]
            .as_array()
            .into_iter()
            .flatten()
            .map(|r| {
                (
                    r["referred_first_name"].as_str().unwrap_or("–").to_owned(),
                    r["status"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect(),
    }))
}

#[derive(Template)]
#[template(path = "join.html")]
struct JoinPage {
    lang: Lang,
    csrf: String,
    code: String,
    program_name: String,
    referred_points: i64,
    name: String,
    email: String,
    errors: FormErrors,
}

impl JoinPage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

pub async fn form<D: Database>(
    State(state): State<WebState<D>>,
    Path(code): Path<String>,
    uri: Uri,
    headers: HeaderMap,
) -> PageResult {
    let code = code.trim().to_ascii_uppercase();
    let (program, policy) = state
        .tally
        .referral_invitation(&code)
        .await?
        .ok_or(WebError::NotFound)?;
    let (csrf, fresh) = pre_session(&headers);
    let response = render(&JoinPage {
        lang: language(&uri, &headers, None),
        csrf,
        code,
        program_name: program.name,
        referred_points: policy.referred_points,
        name: String::new(),
        email: String::new(),
        errors: FormErrors::default(),
    })?;
    let cookies: Vec<_> = fresh
        .map(|t| set_cookie(PRE_SESSION_COOKIE, &t, 3600, "Strict", state.secure_cookies))
        .into_iter()
        .collect();
    with_cookies(response, &cookies)
}

pub async fn join<D: Database>(
    State(state): State<WebState<D>>,
    Path(code): Path<String>,
    uri: Uri,
    headers: HeaderMap,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    check_pre_session(&headers, &fields)?;
    let lang = language(&uri, &headers, None);
    let code = code.trim().to_ascii_uppercase();
    let (program, policy) = state
        .tally
        .referral_invitation(&code)
        .await?
        .ok_or(WebError::NotFound)?;
    let email = fields.raw("email").trim().to_owned();
    let body = json!({
        "name": fields.raw("name").trim(),
        "email": email,
        "referral_code": code,
        "consents": { "email": !fields.raw("consent_email").is_empty() },
    });
    // The wallet signs in by email, so here it is required.
    let command = if email.is_empty() {
        Err(tally_domain::DomainError::invalid("/email", "is required"))
    } else {
        NewMember::parse(&body)
    }
    .map(|member| Command::Enroll {
        program: program.id.clone(),
        member,
        source: "join".into(),
    });
    let form_fields = [("/name", "name"), ("/email", "email")];
    match write_as(
        &state,
        &program.tenant_id,
        "join",
        lang,
        command,
        &form_fields,
    )
    .await?
    {
        Ok(_) => Ok(Redirect::to(&format!(
            "/wallet/sign-in?email={}&lang={}",
            url_encode(&email),
            lang.code()
        ))
        .into_response()),
        Err(errors) => Ok(unprocessable(render(&JoinPage {
            lang,
            csrf: fields.raw("csrf").to_owned(),
            code,
            program_name: program.name,
            referred_points: policy.referred_points,
            name: fields.raw("name").to_owned(),
            email,
            errors,
        })?)),
    }
}
