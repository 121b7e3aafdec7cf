//! The audit log in the console: who changed what, newest first (owners only).

use super::{PageResult, Ui, render};
use crate::WebState;
use crate::session::Console;
use askama::Template;
use axum::extract::{Path, Query, State};
use std::collections::HashMap;
use tally_domain::operators::Role;
use tally_store::Database;
use tally_store::queries::audit::AuditEntry;

#[derive(Template)]
#[template(path = "audit.html")]
struct AuditPage {
    ui: Ui,
    entries: Vec<AuditEntry>,
    next_url: Option<String>,
}

impl AuditPage {
    /// The entry's details as compact JSON (the logo of a program display is never in them).
    fn detail(&self, e: &AuditEntry) -> String {
        let text = e.detail.to_string();
        if text.chars().count() > 300 {
            format!("{}…", text.chars().take(300).collect::<String>())
        } else {
            text
        }
    }
}

pub async fn page<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    console: Console,
) -> PageResult {
    console.require(Role::can_administer)?;
    let ui = Ui::load(&state, &console, &program, "audit").await?;
    let cursor = q.get("cursor").and_then(|c| c.parse().ok());
    let page = state
        .tally
        .audit_log(&console.operator.tenant_id, cursor, Some(50))
        .await?;
    let next_url = page
        .next_cursor
        .map(|c| format!("{}?cursor={c}", ui.url("audit")));
    render(&AuditPage {
        ui,
        entries: page.items,
        next_url,
    })
}
