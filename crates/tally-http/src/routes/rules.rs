//! Earning rules: create, list, read, replace (a new version), pause or archive, their
//! versions, and the dry run of a purchase.

use super::{ApiResult, created, ok, page, write};
use crate::AppState;
use crate::auth::{Caller, Scope};
use crate::body::JsonBody;
use crate::params::{Params, path_id};
use axum::extract::{Path, State};
use serde_json::{Map, Value};
use tally_core::Command;
use tally_core::RULE_STATUSES as STATUSES;
use tally_domain::DomainError;
use tally_domain::error::Fields;
use tally_domain::events::NewEvent;
use tally_domain::ids::{ProgramId, RuleId};
use tally_domain::inputs::{NewPurchase, NewReturn, Obj};
use tally_rules::RuleDoc;
use tally_store::Database;

/// Most draft rules in one simulation.
const MAX_DRAFTS: usize = 50;

/// A rule body is a rule document plus an optional `status`: both are checked here, so every
/// mistake comes back at once and nothing reaches the writer that it would refuse.
fn parse_rule_body(body: &Value) -> Result<(Value, Option<String>), DomainError> {
    let Some(object) = body.as_object() else {
        return Err(DomainError::invalid("", "must be a JSON object"));
    };
    let mut document: Map<String, Value> = object.clone();
    let status = document.remove("status");
    let mut f = Fields::new();
    let status = status.and_then(|s| f.take("/status", status_of(&s)));
    let document = Value::Object(document);
    collect(&mut f, "", RuleDoc::parse(&document))?;
    f.finish()?;
    Ok((document, status))
}

fn status_of(v: &Value) -> Result<String, String> {
    match v.as_str() {
        Some(s) if STATUSES.contains(&s) => Ok(s.to_owned()),
        _ => Err(format!("must be one of {}", STATUSES.join(", "))),
    }
}

pub async fn create<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let (document, status) = parse_rule_body(&body.value)?;
    let command = Command::CreateRule {
        program,
        document,
        status: status.unwrap_or_else(|| "active".into()),
    };
    created(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn list<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    params: Params,
) -> ApiResult {
    params.only(&["cursor", "limit"])?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let (cursor, limit) = params.page()?;
    page(
        app.tally
            .rules(&caller.tenant, &program, cursor, limit)
            .await?,
    )
}

fn rule_id(raw: &str) -> Result<RuleId, crate::problem::ApiError> {
    path_id(raw, RuleId::parse, "rule")
}

pub async fn get<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    ok(app.tally.rule(&caller.tenant, &rule_id(&id)?).await?)
}

/// A new version: the whole document again (and optionally a status).
pub async fn replace<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let rule = rule_id(&id)?;
    let (document, status) = parse_rule_body(&body.value)?;
    let command = Command::UpdateRule {
        rule,
        document: Some(document),
        status,
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

/// Only the status: pause, resume, archive.
pub async fn set_status<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Admin)?;
    let rule = rule_id(&id)?;
    let o = Obj::root(&body.value)?;
    let mut f = Fields::new();
    o.only(&mut f, &["status"]);
    let status = o.req(&mut f, "status", status_of);
    f.finish()?;
    let command = Command::UpdateRule {
        rule,
        document: None,
        status,
    };
    ok(write(&app, &caller, body.idempotency, command).await?)
}

pub async fn versions<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(id): Path<String>,
) -> ApiResult {
    let versions = app
        .tally
        .rule_versions(&caller.tenant, &rule_id(&id)?)
        .await?;
    ok(serde_json::json!({ "items": versions }))
}

/// A nested document's parse: its field errors join `f` under `prefix` (so every mistake of
/// the request is answered at once); any other error ends the request.
fn collect<T>(
    f: &mut Fields,
    prefix: &str,
    parsed: Result<T, DomainError>,
) -> Result<Option<T>, DomainError> {
    match parsed {
        Ok(value) => Ok(Some(value)),
        Err(DomainError::Invalid { fields }) => {
            for e in fields {
                f.push(format!("{prefix}{}", e.pointer), e.message);
            }
            Ok(None)
        }
        Err(other) => Err(other),
    }
}

/// Draft rule documents, each refused field under `/rules/N`.
fn drafts(f: &mut Fields, items: &[Value]) -> Result<Vec<RuleDoc>, DomainError> {
    let mut docs = Vec::new();
    for (i, item) in items.iter().enumerate() {
        docs.extend(collect(f, &format!("/rules/{i}"), RuleDoc::parse(item))?);
    }
    Ok(docs)
}

/// `{"purchase": {…}, "rules": [{…}]}`: what the purchase would earn (or `event`: a custom
/// event, `return`: a return by its `return` rules); with `rules`, under those drafts instead
/// of the active rules. Nothing is written.
pub async fn simulate<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Read)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let o = Obj::root(&body.value)?;
    let mut f = Fields::new();
    o.only(&mut f, &["purchase", "event", "return", "rules"]);
    // Exactly one of a purchase, a custom event and a return.
    let given: Vec<&str> = ["purchase", "event", "return"]
        .into_iter()
        .filter(|k| body.value.get(*k).is_some())
        .collect();
    let trial = match given.as_slice() {
        ["purchase"] => collect(
            &mut f,
            "/purchase",
            NewPurchase::parse(&body.value["purchase"]),
        )?
        .map(Trial::Purchase),
        ["event"] => {
            collect(&mut f, "/event", NewEvent::parse(&body.value["event"]))?.map(Trial::Event)
        }
        // The one left: a return.
        [_] => {
            collect(&mut f, "/return", NewReturn::parse(&body.value["return"]))?.map(Trial::Return)
        }
        [] => {
            f.push(
                "/purchase",
                "is required (or `event` for a custom event, or `return`)",
            );
            None
        }
        [_, second, ..] => {
            f.push(
                format!("/{second}"),
                "give one of a purchase, an event and a return",
            );
            None
        }
    };
    let drafts = match body.value.get("rules") {
        None => None,
        Some(Value::Array(items)) if items.len() <= MAX_DRAFTS => Some(drafts(&mut f, items)?),
        Some(_) => {
            f.push(
                "/rules",
                format!("must be an array of at most {MAX_DRAFTS} rule documents"),
            );
            None
        }
    };
    f.finish()?;
    let tally = &app.tally;
    ok(match trial.expect("parsed, or an error was returned") {
        Trial::Purchase(purchase) => {
            tally
                .simulate_purchase(&caller.tenant, &program, &purchase, drafts)
                .await?
        }
        Trial::Event(event) => {
            tally
                .simulate_event(&caller.tenant, &program, &event, drafts)
                .await?
        }
        Trial::Return(ret) => {
            tally
                .simulate_return(&caller.tenant, &program, &ret, drafts)
                .await?
        }
    })
}

/// What a dry run tries.
enum Trial {
    Purchase(NewPurchase),
    Event(NewEvent),
    Return(NewReturn),
}

/// `{"days": 30, "rules": [{…}]}`: the program's purchases of the last `days` days replayed
/// against the draft rules, next to what they actually earned. Nothing is written.
pub async fn backtest<D: Database>(
    State(app): State<AppState<D>>,
    caller: Caller,
    Path(program): Path<String>,
    body: JsonBody,
) -> ApiResult {
    caller.require(Scope::Read)?;
    let program = path_id(&program, ProgramId::parse, "program")?;
    let o = Obj::root(&body.value)?;
    let mut f = Fields::new();
    o.only(&mut f, &["days", "rules"]);
    let days = o.req(&mut f, "days", tally_domain::inputs::int(1, 366));
    let drafts = match body.value.get("rules") {
        Some(Value::Array(items)) if !items.is_empty() && items.len() <= MAX_DRAFTS => {
            drafts(&mut f, items)?
        }
        _ => {
            f.push(
                "/rules",
                format!("is required: an array of 1 to {MAX_DRAFTS} rule documents"),
            );
            Vec::new()
        }
    };
    f.finish()?;
    let days = days.expect("parsed, or an error was returned");
    ok(app
        .tally
        .backtest(&caller.tenant, &program, days, drafts)
        .await?)
}
