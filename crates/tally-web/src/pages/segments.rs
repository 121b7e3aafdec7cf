//! Segments in the console: the list, a builder (conditions in rows, all or any, each row may be
//! negated) with a live count, and one segment's page (size over time, members, entries and
//! exits, archive and resume). The builder works as a plain form; a small script asks for the
//! count as the operator types.

use super::{FormErrors, PageResult, Ui, render, unprocessable, write_or_errors};
use crate::WebState;
use crate::chart::{self, Bar};
use crate::error::WebError;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::Json;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Value, json};
use tally_core::Command;
use tally_domain::DomainError;
use tally_domain::ids::SegmentId;
use tally_domain::operators::Role;
use tally_domain::segments::{Condition, FIELDS, Kind, SegmentInput};
use tally_store::Database;

/// Condition rows the builder offers.
pub const ROWS: usize = 6;
pub const OPS: [&str; 12] = [
    "eq", "ne", "lt", "lte", "gt", "gte", "between", "in", "not_in", "has_any", "has_all",
    "has_none",
];

#[derive(Template)]
#[template(path = "segments.html")]
struct SegmentsPage {
    ui: Ui,
    segments: Vec<Value>,
    fields: Fields,
    errors: FormErrors,
    /// Each definition mistake in words ("Condition 2, value: must be a number").
    definition_errors: Vec<String>,
    /// "412 of 23,570 members match", after "count".
    count: String,
}

impl SegmentsPage {
    fn field_names(&self) -> Vec<&'static str> {
        FIELDS.iter().map(|(n, ..)| *n).collect()
    }

    fn ops(&self) -> [&'static str; 12] {
        OPS
    }

    fn rows(&self) -> std::ops::Range<usize> {
        0..ROWS
    }

    fn row(&self, i: &usize, name: &str) -> &str {
        self.fields.raw(&format!("row-{i}-{name}"))
    }

    /// Whether row `i`'s `name` holds `value` (for `selected`).
    fn is(&self, i: &usize, name: &str, value: &str) -> bool {
        self.row(i, name) == value
    }
}

#[derive(Template)]
#[template(path = "segment.html")]
struct SegmentPage {
    ui: Ui,
    segment: Value,
    definition: String,
    sizes_chart: String,
    members: Vec<Value>,
    changes: Vec<Value>,
    errors: FormErrors,
}

impl SegmentPage {
    fn when(&self, v: &Value) -> String {
        self.ui.datetime_of(v)
    }
}

/// The segment of the page's program (another program's, or another tenant's, is not found).
async fn segment_of<D: Database>(
    state: &WebState<D>,
    ui: &Ui,
    id: &SegmentId,
) -> Result<Value, WebError> {
    let segment = state.tally.segment(&ui.operator.tenant_id, id).await?;
    if segment["program_id"] != json!(ui.program.id) {
        return Err(WebError::NotFound);
    }
    Ok(segment)
}

/// A form value as the JSON a test compares with, by the field's kind and the operator.
fn operand(field: &str, op: &str, raw: &str) -> Value {
    let raw = raw.trim();
    let list = |raw: &str| -> Vec<String> {
        raw.split(',')
            .map(|s| s.trim().to_owned())
            .filter(|s| !s.is_empty())
            .collect()
    };
    let number = |s: &str| {
        s.replace(',', ".")
            .parse::<f64>()
            .ok()
            .map(|n| json!(n))
            .unwrap_or_else(|| json!(s))
    };
    match op {
        "in" | "not_in" | "has_any" | "has_all" | "has_none" => json!(list(raw)),
        "between" => {
            let parts: Vec<&str> = raw.split(['–', '-', ';']).map(str::trim).collect();
            json!(parts.iter().map(|p| number(p)).collect::<Vec<_>>())
        }
        _ => {
            let kind = FIELDS
                .iter()
                .find(|(n, ..)| *n == field)
                .map_or(Kind::Any, |(_, k, ..)| *k);
            match (kind, raw) {
                (Kind::Bool | Kind::Any, "true" | "yes") => json!(true),
                (Kind::Bool | Kind::Any, "false" | "no") => json!(false),
                (Kind::Number, _) => number(raw),
                (Kind::Any, _) if raw.parse::<f64>().is_ok() => number(raw),
                _ => json!(raw),
            }
        }
    }
}

/// The definition the builder's rows describe: one test per filled row, in `all` or `any`.
pub fn definition(f: &Fields) -> Value {
    let mut tests = Vec::new();
    for i in 0..ROWS {
        let field = f.raw(&format!("row-{i}-field")).trim();
        if field.is_empty() {
            continue;
        }
        let op = f.raw(&format!("row-{i}-op"));
        let mut test = json!({
            "field": field,
            "op": op,
            "value": operand(field, op, f.raw(&format!("row-{i}-value"))),
        });
        let days = f.raw(&format!("row-{i}-days")).trim();
        if !days.is_empty() {
            test["days"] = days
                .parse::<i64>()
                .map_or_else(|_| json!(days), |d| json!(d));
        }
        if f.get(&format!("row-{i}-not")).is_some() {
            test = json!({ "not": test });
        }
        tests.push(test);
    }
    let group = if f.raw("match") == "any" {
        "any"
    } else {
        "all"
    };
    json!({ group: tests })
}

/// The builder's mistakes in words: `/definition/all/1/not/value` → "Condition 2, value: …".
fn describe(ui: &Ui, e: &DomainError) -> Vec<String> {
    let DomainError::Invalid { fields } = e else {
        return vec![e.to_string()];
    };
    fields
        .iter()
        .map(|f| {
            let parts: Vec<&str> = f.pointer.split('/').filter(|p| !p.is_empty()).collect();
            let row = parts
                .iter()
                .position(|p| *p == "all" || *p == "any")
                .and_then(|i| parts.get(i + 1))
                .and_then(|n| n.parse::<usize>().ok());
            let what = parts.last().copied().unwrap_or("");
            match row {
                Some(r) => format!(
                    "{} {}, {what}: {}",
                    ui.t("segments.condition"),
                    r + 1,
                    f.message
                ),
                None => format!("{what}: {}", f.message),
            }
        })
        .collect()
}

/// The builder's input: key, name, description and the definition from the rows.
fn input(f: &Fields) -> Value {
    json!({
        "key": f.raw("key").trim(),
        "name": f.raw("name").trim(),
        "description": Some(f.raw("description").trim()).filter(|d| !d.is_empty()),
        "definition": definition(f),
    })
}

async fn list_page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    fields: Fields,
    errors: FormErrors,
    definition_errors: Vec<String>,
    count: String,
) -> PageResult {
    let ui = Ui::load(state, console, program, "segments").await?;
    let segments = state
        .tally
        .segments(&console.operator.tenant_id, &ui.program.id, None, Some(200))
        .await?
        .items;
    render(&SegmentsPage {
        ui,
        segments,
        fields,
        errors,
        definition_errors,
        count,
    })
}

pub async fn list<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let mut fields = Fields::default();
    fields.0.insert("match".into(), "all".into());
    list_page(
        &state,
        &console,
        &program,
        fields,
        FormErrors::default(),
        Vec::new(),
        String::new(),
    )
    .await
}

/// How many members the rows describe: `{"size", "members", "text"}` or `{"errors": […]}`.
async fn count<D: Database>(
    state: &WebState<D>,
    ui: &Ui,
    f: &Fields,
) -> Result<Result<(i64, i64, String), Vec<String>>, WebError> {
    let condition = match Condition::parse(&definition(f)) {
        Ok(c) => c,
        Err(e) => return Ok(Err(describe(ui, &e))),
    };
    let preview = state
        .tally
        .preview_segment(&ui.operator.tenant_id, &ui.program.id, &condition)
        .await?;
    let size = preview["size"].as_i64().unwrap_or(0);
    let members = preview["members"].as_i64().unwrap_or(0);
    let text = ui.tf(
        "segments.count",
        &[("size", &ui.number(size)), ("members", &ui.number(members))],
    );
    Ok(Ok((size, members, text)))
}

/// The live count the builder's script asks for as the operator types.
pub async fn live_count<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "segments").await?;
    Ok(match count(&state, &ui, &form.fields).await? {
        Ok((size, members, text)) => {
            Json(json!({ "size": size, "members": members, "text": text })).into_response()
        }
        Err(errors) => Json(json!({ "errors": errors })).into_response(),
    })
}

/// Creates the segment — or, when "count" was pressed, shows how many members it would hold.
pub async fn create<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "segments").await?;
    let f = &form.fields;
    if f.get("count").is_some() {
        let (count, definition_errors) = match count(&state, &ui, f).await? {
            Ok((_, _, text)) => (text, Vec::new()),
            Err(errors) => (String::new(), errors),
        };
        return list_page(
            &state,
            &form.console,
            &program,
            f.clone(),
            FormErrors::default(),
            definition_errors,
            count,
        )
        .await;
    }
    let parsed = SegmentInput::parse(&input(f));
    let definition_errors = match &parsed {
        Err(DomainError::Invalid { fields }) => {
            let inner: Vec<_> = fields
                .iter()
                .filter(|e| e.pointer.starts_with("/definition"))
                .cloned()
                .collect();
            if inner.is_empty() {
                Vec::new()
            } else {
                describe(&ui, &DomainError::Invalid { fields: inner })
            }
        }
        _ => Vec::new(),
    };
    let command = parsed.map(|input| Command::CreateSegment {
        program: ui.program.id.clone(),
        input,
    });
    let mapping = [
        ("/key", "key"),
        ("/name", "name"),
        ("/description", "description"),
    ];
    match write_or_errors(&state, &form.console, command, &mapping).await? {
        Ok(answer) => {
            let id = SegmentId::parse(answer["id"].as_str().unwrap_or_default())
                .map_err(|_| WebError::Internal("a created segment without an id".into()))?;
            state
                .tally
                .evaluate_segment(&form.console.operator.tenant_id, &id)
                .await?;
            Ok(Redirect::to(&format!("{}/{id}", ui.url("segments"))).into_response())
        }
        Err(errors) => Ok(unprocessable(
            list_page(
                &state,
                &form.console,
                &program,
                f.clone(),
                errors,
                definition_errors,
                String::new(),
            )
            .await?,
        )),
    }
}

async fn segment_page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    segment: &str,
    errors: FormErrors,
) -> PageResult {
    let ui = Ui::load(state, console, program, "segments").await?;
    let tenant = &console.operator.tenant_id;
    let id = SegmentId::parse(segment).map_err(|_| WebError::NotFound)?;
    let segment = segment_of(state, &ui, &id).await?;
    let sizes: Vec<Bar> = state.tally.segment_sizes(tenant, &id, 90).await?["items"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .iter()
        .map(|s| {
            let size = s["size"].as_i64().unwrap_or(0);
            Bar {
                label: s["day"].as_str().unwrap_or_default().to_owned(),
                value: size,
                shown: ui.number(size),
            }
        })
        .collect();
    let sizes_chart = chart::bars(ui.t("segments.size_over_time"), &sizes, |n| ui.number(n));
    let members = state
        .tally
        .segment_members(tenant, &id, None, Some(50))
        .await?
        .items;
    let changes = state
        .tally
        .segment_changes(tenant, &id, None, Some(50))
        .await?
        .items;
    let definition = serde_json::to_string_pretty(&segment["definition"]).unwrap_or_default();
    render(&SegmentPage {
        ui,
        segment,
        definition,
        sizes_chart,
        members,
        changes,
        errors,
    })
}

pub async fn show<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, segment)): Path<(String, String)>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    segment_page(&state, &console, &program, &segment, FormErrors::default()).await
}

/// Archive or resume.
pub async fn set_status<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, segment)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "segments").await?;
    let id = SegmentId::parse(&segment).map_err(|_| WebError::NotFound)?;
    let status = form.fields.raw("status").to_owned();
    if !tally_core::SEGMENT_STATUSES.contains(&status.as_str()) {
        return Err(WebError::BadRequest);
    }
    segment_of(&state, &ui, &id).await?;
    let command = Ok(Command::SetSegmentStatus {
        segment: id.clone(),
        status,
    });
    match write_or_errors(&state, &form.console, command, &[("/status", "general")]).await? {
        Ok(_) => {
            state
                .tally
                .evaluate_segment(&form.console.operator.tenant_id, &id)
                .await?;
            Ok(Redirect::to(&format!("{}/{id}", ui.url("segments"))).into_response())
        }
        Err(errors) => Ok(unprocessable(
            segment_page(&state, &form.console, &program, &segment, errors).await?,
        )),
    }
}

/// The members of a static segment from pasted or uploaded CSV text: one member per line (the
/// first column; a header line naming the column is skipped), each a member id (`mem_…`), a
/// card number (16 digits) or an external id.
pub fn static_members(csv: &str) -> Value {
    let members: Vec<Value> = csv
        .lines()
        .map(|line| {
            line.split([',', ';', '\t'])
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"')
        })
        .filter(|v| !v.is_empty())
        .filter(|v| !["external_id", "card_number", "member_id", "id"].contains(v))
        .map(|v| {
            let digits: String = v
                .chars()
                .filter(|c| !c.is_whitespace() && *c != '-')
                .collect();
            if v.starts_with("mem_") {
                json!({ "id": v })
            } else if digits.len() == 16 && digits.chars().all(|c| c.is_ascii_digit()) {
                json!({ "card_number": digits })
            } else {
                json!({ "external_id": v })
            }
        })
        .collect();
    json!({ "members": members })
}

/// Replaces a static segment's members with the uploaded list; every unknown member is named by
/// its line and nothing changes.
pub async fn upload<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, segment)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "segments").await?;
    let id = SegmentId::parse(&segment).map_err(|_| WebError::NotFound)?;
    segment_of(&state, &ui, &id).await?;
    let body = static_members(form.fields.raw("members"));
    let command = tally_domain::segments::parse_static_members(&body).map(|members| {
        Command::SetStaticSegmentMembers {
            segment: id.clone(),
            members,
        }
    });
    match state
        .tally
        .write(
            &form.console.operator.tenant_id,
            &form.console.actor(),
            None,
            match command {
                Ok(c) => c,
                Err(e) => {
                    return upload_refused(&state, &form, &program, &segment, &body, &e).await;
                }
            },
        )
        .await
    {
        Ok(_) => Ok(Redirect::to(&format!("{}/{id}", ui.url("segments"))).into_response()),
        Err(tally_core::CoreError::Domain(e)) => {
            upload_refused(&state, &form, &program, &segment, &body, &e).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The segment page with an upload's mistakes, each naming the value: `/members/3/external_id`
/// is the fourth member of the list.
async fn upload_refused<D: Database>(
    state: &WebState<D>,
    form: &ConsoleForm,
    program: &str,
    segment: &str,
    body: &Value,
    e: &DomainError,
) -> PageResult {
    let mut errors = FormErrors::default();
    let message = match e {
        DomainError::Invalid { fields } => fields
            .iter()
            .take(20)
            .map(|f| {
                let mut parts = f.pointer.split('/').skip(2);
                let value = match (
                    parts.next().and_then(|i| i.parse::<usize>().ok()),
                    parts.next(),
                ) {
                    (Some(i), Some(field)) => body["members"][i][field].as_str().unwrap_or(""),
                    _ => "",
                };
                if value.is_empty() {
                    f.message.clone()
                } else {
                    format!("{value}: {}", f.message)
                }
            })
            .collect::<Vec<_>>()
            .join("; "),
        other => other.to_string(),
    };
    errors.add("members", message);
    Ok(unprocessable(
        segment_page(state, &form.console, program, segment, errors).await?,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Fields {
        Fields::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
        )
        .unwrap()
    }

    #[test]
    fn the_rows_become_a_definition() {
        let f = fields(&[
            ("match", "any"),
            ("row-0-field", "lifecycle"),
            ("row-0-op", "in"),
            ("row-0-value", "at_risk, lapsed"),
            ("row-1-field", "spend_minor"),
            ("row-1-op", "between"),
            ("row-1-value", "100-5000"),
            ("row-1-days", "90"),
            ("row-2-field", "vip"),
            ("row-2-op", "eq"),
            ("row-2-value", "yes"),
            ("row-2-not", "on"),
            ("row-3-field", ""),
        ]);
        let d = definition(&f);
        assert_eq!(
            d,
            json!({"any": [
                {"field": "lifecycle", "op": "in", "value": ["at_risk", "lapsed"]},
                {"field": "spend_minor", "op": "between", "value": [100.0, 5000.0], "days": 90},
                {"not": {"field": "vip", "op": "eq", "value": true}}
            ]})
        );
        assert!(Condition::parse(&d).is_ok());
        // A number typed where text is expected stays text; a wrong value is the server's to refuse.
        let f = fields(&[
            ("row-0-field", "tier"),
            ("row-0-op", "eq"),
            ("row-0-value", "7"),
        ]);
        assert_eq!(definition(&f)["all"][0]["value"], "7");
        let f = fields(&[
            ("row-0-field", "clv_minor"),
            ("row-0-op", "gt"),
            ("row-0-value", "lots"),
        ]);
        assert!(Condition::parse(&definition(&f)).is_err());
    }
}
