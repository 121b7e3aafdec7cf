//! Members: search and list, one member's page (profile, card, balance, history, purchases,
//! redemptions), a manual adjustment with a mandatory reason, suspend / close / reactivate.

use super::{
    FormErrors, PageResult, Ui, form_value, render, unprocessable, url_encode, write_or_errors,
};
use crate::WebState;
use crate::error::WebError;
use crate::session::{Console, ConsoleForm};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::json;
use std::collections::HashMap;
use tally_core::Command;
use tally_domain::ids::MemberId;
use tally_domain::inputs::{AdjustmentRequest, MemberPatch};
use tally_domain::model::{HistoryEntry, Member, MemberStatus, Purchase, Redemption};
use tally_domain::operators::Role;
use tally_domain::search;
use tally_domain::text::{Email, Phone};
use tally_store::Database;
use tally_store::queries::members::MemberFilter;

const PAGE_SIZE: i64 = 50;

#[derive(Template)]
#[template(path = "members.html")]
struct MembersPage {
    ui: Ui,
    q: String,
    status: String,
    members: Vec<Member>,
    next_url: Option<String>,
}

#[derive(Template)]
#[template(path = "member.html")]
struct MemberPage {
    ui: Ui,
    member: Member,
    history: Vec<HistoryEntry>,
    purchases: Vec<Purchase>,
    redemptions: Vec<Redemption>,
    /// None until an insights run has seen the member.
    predictions: Option<super::insights::Predictions>,
    errors: FormErrors,
    notice: String,
}

impl MemberPage {
    fn title(&self) -> String {
        self.member
            .name
            .clone()
            .unwrap_or_else(|| self.member.id.to_string())
    }

    fn birthday(&self) -> String {
        self.member
            .birthday
            .map_or_else(|| "–".to_owned(), |d| self.ui.lang.date(d))
    }

    /// A transfer's reason as one line: the order, the reward or the operator's note.
    fn reason(&self, e: &HistoryEntry) -> String {
        let r = &e.reason;
        let mut parts = Vec::new();
        if let Some(order) = &r.order_id {
            parts.push(self.ui.tf("history.order", &[("order", order)]));
        }
        if let Some(note) = &r.note {
            parts.push(note.clone());
        }
        if let Some(actor) = &r.actor {
            parts.push(self.ui.tf("history.by", &[("actor", actor)]));
        }
        parts.join(" · ")
    }
}

/// What the search box holds: an email, a card number, a phone number, or words of a name.
pub fn filter_for_query(q: &str) -> MemberFilter {
    let q = q.trim();
    let digits: String = q.chars().filter(char::is_ascii_digit).collect();
    let only_number = q.chars().all(|c| c.is_ascii_digit() || " -+()".contains(c));
    let mut filter = MemberFilter::default();
    if q.is_empty() {
    } else if q.contains('@')
        && let Ok(email) = Email::parse(q)
    {
        filter.email = Some(email.as_str().to_owned());
    } else if only_number && digits.len() == 16 {
        filter.card_number = Some(digits);
    } else if only_number && let Ok(phone) = Phone::parse(q) {
        filter.phone = Some(phone.as_str().to_owned());
    } else {
        filter.search = search::fold(q)
            .split_whitespace()
            .map(str::to_owned)
            .collect();
    }
    filter
}

pub async fn list<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "members").await?;
    let text = q
        .get("q")
        .map(|s| s.chars().take(200).collect::<String>())
        .unwrap_or_default();
    let status = q.get("status").cloned().unwrap_or_default();
    let mut filter = filter_for_query(&text);
    filter.status = MemberStatus::parse(&status).ok();
    let cursor = q.get("cursor").and_then(|c| c.parse().ok());
    let page = state
        .tally
        .members(
            &console.operator.tenant_id,
            &ui.program.id,
            &filter,
            cursor,
            Some(PAGE_SIZE),
        )
        .await?;
    let next_url = page.next_cursor.map(|c| {
        format!(
            "{}?q={}&status={}&cursor={c}",
            ui.url("members"),
            url_encode(&text),
            url_encode(&status)
        )
    });
    render(&MembersPage {
        ui,
        q: text,
        status,
        members: page.items,
        next_url,
    })
}

async fn member_page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    member: &str,
    errors: FormErrors,
    notice: String,
) -> PageResult {
    let ui = Ui::load(state, console, program, "members").await?;
    let tenant = &console.operator.tenant_id;
    let id = MemberId::parse(member).map_err(|_| WebError::NotFound)?;
    let member = state.tally.member(tenant, &id).await?;
    if member.program_id != ui.program.id {
        return Err(WebError::NotFound);
    }
    let history = state
        .tally
        .history(tenant, &id, None, Some(20))
        .await?
        .items;
    let purchases = state
        .tally
        .member_purchases(tenant, &id, None, Some(10))
        .await?
        .items;
    let redemptions = state
        .tally
        .member_redemptions(tenant, &id, None, Some(10))
        .await?
        .items;
    let segments = state.tally.segments_of_member(tenant, &id).await?;
    let predictions = state
        .tally
        .member_insights(tenant, &id)
        .await?
        .map(|d| super::insights::Predictions::from_details(&ui, &d, &segments));
    render(&MemberPage {
        ui,
        member,
        history,
        purchases,
        redemptions,
        predictions,
        errors,
        notice,
    })
}

pub async fn show<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, member)): Path<(String, String)>,
    Query(q): Query<HashMap<String, String>>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let notice = match q.get("done").map(String::as_str) {
        Some("adjusted") => console.lang.t("member.adjusted").to_owned(),
        Some("status") => console.lang.t("member.status_changed").to_owned(),
        _ => String::new(),
    };
    member_page(
        &state,
        &console,
        &program,
        &member,
        FormErrors::default(),
        notice,
    )
    .await
}

/// Runs a member command; a refusal re-renders the member page with the messages.
async fn member_command<D: Database>(
    state: &WebState<D>,
    form: &ConsoleForm,
    program: &str,
    member: &str,
    command: Result<Command, tally_domain::DomainError>,
    fields: &[(&str, &str)],
    done: &str,
) -> PageResult {
    let console = &form.console;
    match write_or_errors(state, console, command, fields).await? {
        Ok(_) => Ok(
            Redirect::to(&format!("/console/{program}/members/{member}?done={done}"))
                .into_response(),
        ),
        // A member that does not exist (or is another tenant's) makes the page a 404 here.
        Err(errors) => Ok(unprocessable(
            member_page(state, console, program, member, errors, String::new()).await?,
        )),
    }
}

pub async fn adjust<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, member)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let id = MemberId::parse(&member).map_err(|_| WebError::NotFound)?;
    let f = &form.fields;
    let points = f.raw("points").replace(['\u{a0}', ' '], "");
    let body = json!({
        "points": form_value(&points),
        "reason": f.raw("reason").trim(),
    });
    let command = AdjustmentRequest::parse(&body).map(|request| Command::Adjust {
        member: id,
        request,
    });
    let fields = [("/points", "points"), ("/reason", "reason")];
    member_command(
        &state, &form, &program, &member, command, &fields, "adjusted",
    )
    .await
}

pub async fn set_status<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, member)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let id = MemberId::parse(&member).map_err(|_| WebError::NotFound)?;
    let command =
        MemberPatch::parse(&json!({ "status": form.fields.raw("status") })).map(|patch| {
            Command::UpdateMember {
                member: id,
                patch,
                source: form.console.actor(),
            }
        });
    let fields = [("/status", "status")];
    member_command(&state, &form, &program, &member, command, &fields, "status").await
}

#[cfg(test)]
mod tests {
    use super::filter_for_query;

    #[test]
    fn the_search_box_understands_emails_cards_phones_and_names() {
        assert_eq!(
            filter_for_query("Ann@Example.com").email.as_deref(),
            Some("ann@example.com")
        );
        assert_eq!(
            filter_for_query("4000 0012 3456 7899")
                .card_number
                .as_deref(),
            Some("4000001234567899")
        );
        assert_eq!(
            filter_for_query("+48 600 100 200").phone.as_deref(),
            Some("+48600100200")
        );
        assert_eq!(
            filter_for_query("Łukasz  Nowak").search,
            vec!["lukasz", "nowak"]
        );
        let empty = filter_for_query("  ");
        assert!(empty.search.is_empty() && empty.email.is_none());
    }
}
