//! Voucher pools in the console: the list and a new pool; a pool's page with its counts, codes
//! generated or imported from a CSV file (all or nothing, each bad row named), the export as
//! CSV, and archive / resume.

use super::{
    FormErrors, PageResult, Ui, comma_list, day_start, form_value, money_field, render,
    unprocessable, write_or_errors,
};
use crate::WebState;
use crate::error::WebError;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, State};
use axum::http::header::{CONTENT_DISPOSITION, CONTENT_TYPE};
use axum::response::{IntoResponse, Redirect};
use serde_json::{Map, Value, json};
use tally_core::{Command, CoreError};
use tally_domain::DomainError;
use tally_domain::ids::VoucherPoolId;
use tally_domain::operators::Role;
use tally_domain::vouchers::{NewCodes, PoolInput, PoolPatch};
use tally_store::Database;

#[derive(Template)]
#[template(path = "vouchers.html")]
struct VouchersPage {
    ui: Ui,
    pools: Vec<Value>,
    form: Fields,
    errors: FormErrors,
}

#[derive(Template)]
#[template(path = "voucher_pool.html")]
struct PoolPage {
    ui: Ui,
    pool: Value,
    codes: Vec<Value>,
    notice: String,
    errors: FormErrors,
    /// Every problem of a refused import, one line each.
    import_problems: Vec<String>,
}

/// "10.00 off", "15 % off (at most 20.00)".
fn discount_text(ui: &Ui, pool: &Value) -> String {
    let d = &pool["discount"];
    match d["kind"].as_str() {
        Some("amount") => ui.tf(
            "vouchers.amount_off",
            &[("amount", &ui.money(d["amount_minor"].as_i64().unwrap_or(0)))],
        ),
        _ => {
            let percent = d["percent"].as_i64().unwrap_or(0).to_string();
            match d["max_minor"].as_i64() {
                Some(max) => ui.tf(
                    "vouchers.percent_off_capped",
                    &[("percent", &percent), ("max", &ui.money(max))],
                ),
                None => ui.tf("vouchers.percent_off", &[("percent", &percent)]),
            }
        }
    }
}

impl VouchersPage {
    fn discount(&self, pool: &Value) -> String {
        discount_text(&self.ui, pool)
    }
}

impl PoolPage {
    /// "10.00 off · on a basket of at least 50.00 · Categories: vinyl".
    fn terms(&self) -> String {
        let mut parts = vec![discount_text(&self.ui, &self.pool)];
        let min = self.pool["min_basket_minor"].as_i64().unwrap_or(0);
        if min > 0 {
            parts.push(
                self.ui
                    .tf("vouchers.min_basket", &[("amount", &self.ui.money(min))]),
            );
        }
        let categories: Vec<&str> = self.pool["categories"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        if !categories.is_empty() {
            parts.push(format!(
                "{}: {}",
                self.ui.t("vouchers.categories"),
                categories.join(", ")
            ));
        }
        parts.join(" · ")
    }

    fn codes(&self, what: &str) -> String {
        self.ui
            .number(self.pool["codes"][what].as_i64().unwrap_or(0))
    }
}

/// Pointers of the pool form's fields → form fields.
const FIELDS: [(&str, &str); 11] = [
    ("/name", "name"),
    ("/description", "description"),
    ("/discount/amount_minor", "value"),
    ("/discount/percent", "value"),
    ("/discount/max_minor", "max"),
    ("/discount", "kind"),
    ("/min_basket_minor", "min_basket"),
    ("/categories", "categories"),
    ("/valid_from", "valid_from"),
    ("/valid_until", "valid_until"),
    ("/prefix", "prefix"),
];

/// The pool form as the API's body: empty optional fields are left out.
fn pool_body(ui: &Ui, f: &Fields) -> Value {
    let mut body = Map::new();
    body.insert("name".into(), json!(f.raw("name").trim()));
    if let Some(d) = f.get("description") {
        body.insert("description".into(), json!(d));
    }
    let discount = if f.raw("kind") == "percent" {
        let mut d = json!({"kind": "percent", "percent": form_value(f.raw("value"))});
        if let Some(max) = f.get("max") {
            d["max_minor"] = money_field(ui, max);
        }
        d
    } else {
        json!({"kind": "amount", "amount_minor": money_field(ui, f.raw("value"))})
    };
    body.insert("discount".into(), discount);
    if let Some(min) = f.get("min_basket") {
        body.insert("min_basket_minor".into(), money_field(ui, min));
    }
    body.insert("categories".into(), comma_list(f.raw("categories")).into());
    if let Some(from) = f.get("valid_from") {
        body.insert("valid_from".into(), day_start(ui, from, 0));
    }
    if let Some(until) = f.get("valid_until") {
        body.insert("valid_until".into(), day_start(ui, until, 1));
    }
    if let Some(prefix) = f.get("prefix") {
        body.insert("prefix".into(), json!(prefix));
    }
    Value::Object(body)
}

async fn list_page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    form: Fields,
    errors: FormErrors,
) -> PageResult {
    let ui = Ui::load(state, console, program, "vouchers").await?;
    let pools = state
        .tally
        .voucher_pools(&console.operator.tenant_id, &ui.program.id, None, Some(200))
        .await?
        .items;
    render(&VouchersPage {
        ui,
        pools,
        form,
        errors,
    })
}

pub async fn list<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    list_page(
        &state,
        &console,
        &program,
        Fields::default(),
        FormErrors::default(),
    )
    .await
}

pub async fn create<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "vouchers").await?;
    let command =
        PoolInput::parse(&pool_body(&ui, &form.fields)).map(|input| Command::CreateVoucherPool {
            program: ui.program.id.clone(),
            input,
        });
    match write_or_errors(&state, &form.console, command, &FIELDS).await? {
        Ok(pool) => Ok(Redirect::to(&format!(
            "{}/{}",
            ui.url("vouchers"),
            pool["id"].as_str().unwrap_or_default()
        ))
        .into_response()),
        Err(errors) => Ok(unprocessable(
            list_page(&state, &form.console, &program, form.fields, errors).await?,
        )),
    }
}

/// The pool, if it is of this program (another program's pool is "not found").
async fn pool_of<D: Database>(
    state: &WebState<D>,
    console: &Console,
    ui: &Ui,
    id: &str,
) -> Result<(VoucherPoolId, Value), WebError> {
    let id = VoucherPoolId::parse(id).map_err(|_| WebError::NotFound)?;
    let pool = state
        .tally
        .voucher_pool(&console.operator.tenant_id, &id)
        .await?;
    if pool["program_id"] != json!(ui.program.id) {
        return Err(WebError::NotFound);
    }
    Ok((id, pool))
}

async fn pool_page<D: Database>(
    state: &WebState<D>,
    console: &Console,
    program: &str,
    pool: &str,
    notice: String,
    errors: FormErrors,
    import_problems: Vec<String>,
) -> PageResult {
    let ui = Ui::load(state, console, program, "vouchers").await?;
    let (id, pool) = pool_of(state, console, &ui, pool).await?;
    let codes = state
        .tally
        .voucher_codes(&console.operator.tenant_id, &id, None, None, Some(50))
        .await?
        .items;
    render(&PoolPage {
        ui,
        pool,
        codes,
        notice,
        errors,
        import_problems,
    })
}

pub async fn show<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, pool)): Path<(String, String)>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    pool_page(
        &state,
        &console,
        &program,
        &pool,
        String::new(),
        FormErrors::default(),
        Vec::new(),
    )
    .await
}

/// Generate (`count`) or import (`csv`, pasted or read from a chosen file) codes.
pub async fn add_codes<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, pool)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let lang = form.console.lang;
    let ui = Ui::load(&state, &form.console, &program, "vouchers").await?;
    let (id, _) = pool_of(&state, &form.console, &ui, &pool).await?;
    let body = match form.fields.get("count") {
        Some(count) => json!({"generate": form_value(count)}),
        None => json!({"csv": form.fields.raw("csv")}),
    };
    let field = if body.get("generate").is_some() {
        "count"
    } else {
        "csv"
    };
    let command = NewCodes::parse(&body).map(|codes| Command::AddVoucherCodes {
        pool: id.clone(),
        codes,
    });
    let tenant = &form.console.operator.tenant_id;
    let outcome = match command {
        Ok(command) => {
            state
                .tally
                .write(tenant, &form.console.actor(), None, command)
                .await
        }
        Err(e) => Err(CoreError::Domain(e)),
    };
    let (notice, errors, problems) = match outcome {
        Ok(answer) => (
            lang.count("vouchers.added", answer["added"].as_i64().unwrap_or(0)),
            FormErrors::default(),
            Vec::new(),
        ),
        Err(CoreError::Domain(DomainError::Invalid { fields })) => {
            let mut errors = FormErrors::default();
            errors.add(field, lang.t("vouchers.import_refused"));
            let problems = fields
                .iter()
                .map(|f| match f.pointer.strip_prefix("/codes/") {
                    Some(i) => lang.tf(
                        "vouchers.import_problem",
                        &[
                            ("n", &(i.parse::<usize>().unwrap_or(0) + 1).to_string()),
                            ("problem", &f.message),
                        ],
                    ),
                    None => f.message.clone(),
                })
                .collect();
            (String::new(), errors, problems)
        }
        Err(CoreError::Domain(e)) => {
            let errors = FormErrors::from_domain(lang, &e, &[]);
            (String::new(), errors, Vec::new())
        }
        Err(e) => return Err(e.into()),
    };
    let refused = !errors.is_empty();
    let page = pool_page(
        &state,
        &form.console,
        &program,
        &pool,
        notice,
        errors,
        problems,
    )
    .await?;
    Ok(if refused { unprocessable(page) } else { page })
}

/// Archive or resume.
pub async fn set_status<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, pool)): Path<(String, String)>,
    form: ConsoleForm,
) -> PageResult {
    form.console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &form.console, &program, "vouchers").await?;
    let (id, _) = pool_of(&state, &form.console, &ui, &pool).await?;
    let command = PoolPatch::parse(&json!({"status": form.fields.raw("status")})).map(|patch| {
        Command::UpdateVoucherPool {
            pool: id.clone(),
            patch,
        }
    });
    match write_or_errors(&state, &form.console, command, &[]).await? {
        Ok(_) => Ok(Redirect::to(&format!("{}/{id}", ui.url("vouchers"))).into_response()),
        Err(errors) => Ok(unprocessable(
            pool_page(
                &state,
                &form.console,
                &program,
                &pool,
                String::new(),
                errors,
                Vec::new(),
            )
            .await?,
        )),
    }
}

/// Every code of the pool as a CSV download.
pub async fn export<D: Database>(
    State(state): State<WebState<D>>,
    Path((program, pool)): Path<(String, String)>,
    console: Console,
) -> PageResult {
    console.require(Role::can_manage)?;
    let ui = Ui::load(&state, &console, &program, "vouchers").await?;
    let (id, _) = pool_of(&state, &console, &ui, &pool).await?;
    let csv = state
        .tally
        .voucher_codes_csv(&console.operator.tenant_id, &id)
        .await?;
    Ok((
        [
            (CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                CONTENT_DISPOSITION,
                format!("attachment; filename=\"vouchers-{id}.csv\""),
            ),
        ],
        csv,
    )
        .into_response())
}
