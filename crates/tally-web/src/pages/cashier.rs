//! The cashier screen: find a member (card number, QR token, phone, email), record a purchase
//! and show the points it earned, redeem a reward or check and use a redemption code, give a
//! stamp on a stamp card, check and redeem a voucher code, and enrol a new member at the
//! counter. Every form is plain HTML with large touch targets.
//!
//! A purchase form carries an order id made when the form is drawn, so a double tap or a resent
//! form records the purchase once (the order id is the purchase's business key).

use super::{FormErrors, PageResult, Ui, render, unprocessable, write_or_errors};
use crate::WebState;
use crate::error::WebError;
use crate::session::{Console, ConsoleForm, Fields};
use askama::Template;
use axum::extract::{Path, Query, State};
use serde_json::{Value, json};
use std::collections::HashMap;
use tally_core::{Command, CoreError, Prober};
use tally_domain::ids::{MemberId, RedemptionId, StampCardId, new_ulid};
use tally_domain::inputs::{NewMember, NewPurchase, RedeemRequest};
use tally_domain::model::{Member, Redemption, RedemptionStatus, Reward};
use tally_domain::stamps::StampRequest;
use tally_domain::vouchers::VoucherUse;
use tally_domain::{DomainError, money};
use tally_store::Database;
use tally_store::queries::members::MemberKey;

#[derive(Template)]
#[template(path = "cashier.html")]
struct CashierPage {
    ui: Ui,
    line_rows: Vec<usize>,
    find: String,
    member: Option<Member>,
    rewards: Vec<Reward>,
    /// The order id the purchase form submits (fresh each time the form is drawn).
    order_id: String,
    redemption: Option<Redemption>,
    notice: String,
    errors: FormErrors,
    /// The fields of a refused form, to show them again.
    typed: Fields,
    /// The member's progress on each active stamp card: `{"card_id", "name", "stamps", …}`.
    stamps: Vec<Value>,
    /// The member's cashback in minor units (the panel to pay with it shows when positive).
    cashback_minor: i64,
}

impl CashierPage {
    fn new(ui: Ui) -> CashierPage {
        CashierPage {
            ui,
            line_rows: (0..LINE_ROWS).collect(),
            find: String::new(),
            member: None,
            rewards: Vec::new(),
            order_id: format!("pos-{}", new_ulid().to_lowercase()),
            redemption: None,
            notice: String::new(),
            errors: FormErrors::default(),
            typed: Fields::default(),
            stamps: Vec::new(),
            cashback_minor: 0,
        }
    }

    fn row(&self, name: &str, row: &usize) -> String {
        format!("{name}_{row}")
    }

    fn affordable(&self, reward: &Reward) -> bool {
        self.member
            .as_ref()
            .is_some_and(|m| m.balance.available.value() >= reward.cost.value())
    }

    fn issued(&self, r: &Redemption) -> bool {
        r.status == RedemptionStatus::Issued
    }

    /// The enrolment form is open when it was sent and refused (its fields are shown again).
    fn enrol_open(&self) -> bool {
        ["name", "email", "phone"]
            .iter()
            .any(|f| !self.typed.raw(f).is_empty())
    }
}

/// Finds a member by what the cashier typed or scanned.
async fn find_member<D: Database>(
    state: &WebState<D>,
    console: &Console,
    ui: &Ui,
    raw: &str,
) -> Result<Option<Member>, WebError> {
    let tenant = &console.operator.tenant_id;
    let program = &ui.program.id;
    let raw = raw.trim();
    // A scanned wallet QR code holds the card token, possibly as `tally:card:<token>`.
    let token = raw.strip_prefix("tally:card:").unwrap_or(raw);
    let digits: String = raw.chars().filter(char::is_ascii_digit).collect();
    let mut keys: Vec<MemberKey<'_>> =
        vec![MemberKey::CardToken(token), MemberKey::ExternalId(raw)];
    if digits.len() == 16 {
        keys.insert(0, MemberKey::CardNumber(&digits));
    }
    for key in keys {
        match state.tally.find_member(tenant, program, key).await {
            Ok(m) => return Ok(Some(m)),
            Err(CoreError::Domain(DomainError::NotFound { .. })) => {}
            Err(e) => return Err(e.into()),
        }
    }
    // Phone or email: through the member list's exact filters.
    let filter = super::members::filter_for_query(raw);
    if filter.phone.is_some() || filter.email.is_some() {
        let page = state
            .tally
            .members(tenant, program, &filter, None, Some(2))
            .await?;
        if page.items.len() == 1 {
            return Ok(page.items.into_iter().next());
        }
    }
    Ok(None)
}

/// Fills the member panel: the member (fresh balance) and the active rewards.
async fn with_member<D: Database>(
    state: &WebState<D>,
    console: &Console,
    page: &mut CashierPage,
    member: &MemberId,
) -> Result<(), WebError> {
    let tenant = &console.operator.tenant_id;
    let m = state.tally.member(tenant, member).await?;
    if m.program_id != page.ui.program.id {
        return Err(WebError::NotFound);
    }
    page.find = m.card.number.clone();
    page.member = Some(m);
    page.rewards = state
        .tally
        .rewards(tenant, &page.ui.program.id, None, Some(100))
        .await?
        .items
        .into_iter()
        .filter(|r| r.active && r.stock_remaining != Some(0))
        .collect();
    page.stamps = state.tally.member_stamps(tenant, member).await?;
    page.cashback_minor = state
        .tally
        .member_cashback(tenant, member, None, Some(1))
        .await?["balance_minor"]
        .as_i64()
        .unwrap_or(0);
    Ok(())
}

pub async fn page<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    Query(q): Query<HashMap<String, String>>,
    console: Console,
) -> PageResult {
    let ui = Ui::load(&state, &console, &program, "cashier").await?;
    let mut page = CashierPage::new(ui);
    if let Some(raw) = q.get("find").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        let raw: String = raw.chars().take(200).collect();
        match find_member(&state, &console, &page.ui, &raw).await? {
            Some(m) => with_member(&state, &console, &mut page, &m.id).await?,
            None => {
                page.find = raw;
                page.errors.add("find", console.lang.t("cashier.not_found"));
            }
        }
    }
    if let Some(code) = q.get("code").map(|s| s.trim()).filter(|s| !s.is_empty()) {
        match state
            .tally
            .redemption_by_code(&console.operator.tenant_id, &page.ui.program.id, code)
            .await
        {
            Ok(r) => page.redemption = Some(r),
            Err(CoreError::Domain(DomainError::NotFound { .. })) => {
                page.errors
                    .add("code", console.lang.t("cashier.code_unknown"));
            }
            Err(e) => return Err(e.into()),
        }
    }
    render(&page)
}

/// Runs a cashier command and draws the screen again for the member, with the outcome.
async fn run<D: Database>(
    state: &WebState<D>,
    form: &ConsoleForm,
    program: &str,
    member: Option<MemberId>,
    command: Result<Command, DomainError>,
    fields: &[(&str, &str)],
    on_success: impl FnOnce(&mut CashierPage, Value),
) -> PageResult {
    let console = &form.console;
    let ui = Ui::load(state, console, program, "cashier").await?;
    let mut page = CashierPage::new(ui);
    let refused = match write_or_errors(state, console, command, fields).await? {
        Ok(answer) => {
            on_success(&mut page, answer);
            false
        }
        Err(errors) => {
            page.errors = errors;
            // A refused form is shown again as it was filled in.
            page.typed = form.fields.clone();
            true
        }
    };
    let member = member.or_else(|| page.member.as_ref().map(|m| m.id.clone()));
    if let Some(id) = member {
        with_member(state, console, &mut page, &id).await?;
    }
    let response = render(&page)?;
    Ok(if refused {
        unprocessable(response)
    } else {
        response
    })
}

/// Rows for items on the purchase form (optional: the amount alone is enough).
pub const LINE_ROWS: usize = 3;

/// The purchase's lines as the API takes them: rows with a SKU; prices typed in major units.
fn lines(f: &Fields, lang: crate::i18n::Lang, currency: tally_domain::Currency) -> Value {
    let rows = (0..LINE_ROWS).filter_map(|i| {
        let sku = f.get(&format!("sku_{i}"))?;
        let quantity = f.get(&format!("quantity_{i}")).unwrap_or("1");
        let price = lang.normalise_decimal(f.raw(&format!("price_{i}")));
        let price =
            money::parse_decimal_minor(if price.is_empty() { "0" } else { &price }, currency)
                .map_or_else(
                    |_| json!(f.raw(&format!("price_{i}"))),
                    |minor| json!(minor),
                );
        Some(json!({
            "sku": sku,
            "quantity": super::form_value(quantity),
            "unit_price_minor": price,
        }))
    });
    Value::Array(rows.collect())
}

fn member_id(fields: &Fields) -> Result<MemberId, WebError> {
    MemberId::parse(fields.raw("member_id")).map_err(|_| WebError::BadRequest)
}

pub async fn purchase<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    let member = member_id(&form.fields)?;
    let lang = form.console.lang;
    let ui = Ui::load(&state, &form.console, &program, "cashier").await?;
    let currency = ui.program.currency;
    let typed = lang.normalise_decimal(form.fields.raw("amount"));
    let command = match money::parse_decimal_minor(&typed, currency) {
        Err(_) => Err(DomainError::invalid(
            "/total/amount_minor",
            lang.t("cashier.amount_invalid"),
        )),
        Ok(amount_minor) => NewPurchase::parse(&json!({
            "order_id": form.fields.raw("order_id"),
            "member": { "id": member },
            "total": { "amount_minor": amount_minor, "currency": currency.code() },
            "channel": "pos",
            "lines": lines(&form.fields, lang, currency),
        }))
        .map(|purchase| Command::RecordPurchase {
            program: ui.program.id.clone(),
            purchase,
        }),
    };
    // Messages about a line go on its row.
    let line_fields: Vec<(String, String)> = (0..LINE_ROWS)
        .flat_map(|i| {
            [
                (format!("/lines/{i}/sku"), format!("sku_{i}")),
                (format!("/lines/{i}/quantity"), format!("quantity_{i}")),
                (format!("/lines/{i}/unit_price_minor"), format!("price_{i}")),
                (format!("/lines/{i}"), format!("sku_{i}")),
            ]
        })
        .collect();
    let mut fields: Vec<(&str, &str)> = vec![("/total", "amount"), ("/order_id", "amount")];
    fields.extend(line_fields.iter().map(|(p, f)| (p.as_str(), f.as_str())));
    run(
        &state,
        &form,
        &program,
        Some(member),
        command,
        &fields,
        |page, answer| {
            let earned = answer["points_earned"].as_i64().unwrap_or(0);
            page.notice = lang.tf(
                "cashier.purchase_recorded",
                &[("points", &lang.count("unit.points", earned))],
            );
        },
    )
    .await
}

pub async fn redeem<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    let member = member_id(&form.fields)?;
    let lang = form.console.lang;
    let ui = Ui::load(&state, &form.console, &program, "cashier").await?;
    let command = RedeemRequest::parse(&json!({
        "member": { "id": member },
        "reward_id": form.fields.raw("reward_id"),
    }))
    .map(|request| Command::Redeem {
        program: ui.program.id.clone(),
        request,
    });
    run(
        &state,
        &form,
        &program,
        Some(member),
        command,
        &[],
        |page, answer| {
            if let Ok(r) = serde_json::from_value::<Redemption>(answer) {
                page.notice = lang.tf(
                    "cashier.redeemed",
                    &[("reward", &r.reward_name), ("code", &r.code)],
                );
                page.redemption = Some(r);
            }
        },
    )
    .await
}

/// One stamp by hand on one of the member's cards (the card's daily cap applies).
pub async fn stamp<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    let member = member_id(&form.fields)?;
    let lang = form.console.lang;
    let card = StampCardId::parse(form.fields.raw("card_id")).map_err(|_| WebError::BadRequest)?;
    let command = StampRequest::parse(&json!({ "member": { "id": member } }))
        .map(|request| Command::GiveStamps { card, request });
    run(
        &state,
        &form,
        &program,
        Some(member),
        command,
        &[],
        |page, answer| {
            let name = answer["name"].as_str().unwrap_or_default();
            page.notice = if answer["completed"].as_i64().unwrap_or(0) > 0 {
                lang.tf("cashier.stamp_completed", &[("card", name)])
            } else {
                lang.tf(
                    "cashier.stamp_given",
                    &[
                        ("card", name),
                        ("stamps", &answer["stamps"].to_string()),
                        ("required", &answer["stamps_required"].to_string()),
                    ],
                )
            };
        },
    )
    .await
}

pub async fn consume<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    let lang = form.console.lang;
    let redemption =
        RedemptionId::parse(form.fields.raw("redemption_id")).map_err(|_| WebError::BadRequest)?;
    let command = Ok(Command::ConsumeRedemption { redemption });
    run(
        &state,
        &form,
        &program,
        None,
        command,
        &[],
        |page, answer| {
            if let Ok(r) = serde_json::from_value::<Redemption>(answer) {
                page.notice = lang.tf("cashier.consumed", &[("reward", &r.reward_name)]);
                page.redemption = Some(r);
            }
        },
    )
    .await
}

pub async fn enrol<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    let lang = form.console.lang;
    let ui = Ui::load(&state, &form.console, &program, "cashier").await?;
    let f = &form.fields;
    let mut body = serde_json::Map::new();
    for field in ["name", "email", "phone"] {
        if let Some(v) = f.get(field) {
            body.insert(field.to_owned(), json!(v));
        }
    }
    body.insert(
        "consents".into(),
        json!({ "email": f.get("consent_email").is_some(), "sms": f.get("consent_sms").is_some() }),
    );
    body.insert("locale".into(), json!(lang.code()));
    let command = NewMember::parse(&Value::Object(body)).map(|member| Command::Enroll {
        program: ui.program.id.clone(),
        member,
        source: "pos".into(),
    });
    let fields = [("/name", "name"), ("/email", "email"), ("/phone", "phone")];
    run(
        &state,
        &form,
        &program,
        None,
        command,
        &fields,
        |page, answer| {
            if let Ok(m) = serde_json::from_value::<Member>(answer) {
                page.notice = lang.tf("cashier.enrolled", &[("card", &m.card.number)]);
                page.member = Some(m);
            }
        },
    )
    .await
}

/// A voucher code against the basket total: `action=check` shows what it takes off (or why
/// not); `action=redeem` takes it for this screen's order. With a member on the screen, their
/// personal codes work too. Unknown codes count towards the operator's lock-out, as in the API.
pub async fn voucher<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    let console = &form.console;
    let lang = console.lang;
    let ui = Ui::load(&state, console, &program, "cashier").await?;
    let program_id = ui.program.id.clone();
    let currency = ui.program.currency;
    let f = &form.fields;
    let member = MemberId::parse(f.raw("member_id")).ok();
    let typed = lang.normalise_decimal(f.raw("voucher_amount"));
    let amount = money::parse_decimal_minor(&typed, currency)
        .map_or_else(|_| json!(f.raw("voucher_amount")), |minor| json!(minor));
    let redeem = f.raw("action") == "redeem";
    let mut body = json!({
        "code": f.raw("voucher_code"),
        "basket": {"total": {"amount_minor": amount, "currency": currency.code()}},
    });
    if let Some(m) = &member {
        body["member"] = json!({ "id": m });
    }
    if redeem {
        body["order_id"] = json!(f.raw("order_id"));
    }
    let tenant = &console.operator.tenant_id;
    let prober = Prober {
        actor: console.actor(),
        address: None,
    };
    let outcome = match VoucherUse::parse(&body, redeem) {
        Err(e) => Err(CoreError::Domain(e)),
        Ok(r) if redeem => {
            state
                .tally
                .redeem_voucher(tenant, &program_id, &prober, None, r)
                .await
        }
        Ok(r) => {
            state
                .tally
                .validate_voucher(tenant, &program_id, &prober, &r)
                .await
        }
    };
    let mut page = CashierPage::new(ui);
    // The code and amount stay filled in, so a checked code can be redeemed with one tap.
    page.typed = form.fields.clone();
    let refusal = |key: &str| lang.t(&format!("problem.{key}")).to_owned();
    match outcome {
        Ok(answer) if answer["valid"] == false => {
            let reason = answer["reason"].as_str().unwrap_or("voucher_unknown");
            page.errors.add("voucher_code", refusal(reason));
        }
        Ok(answer) => {
            let discount = lang.money(answer["discount_minor"].as_i64().unwrap_or(0), currency);
            let code = answer["code"].as_str().unwrap_or_default();
            page.notice = if redeem {
                page.typed = Fields::default();
                lang.tf(
                    "cashier.voucher_redeemed",
                    &[("code", code), ("discount", &discount)],
                )
            } else {
                let pool = answer["pool_name"].as_str().unwrap_or_default();
                lang.tf(
                    "cashier.voucher_valid",
                    &[("code", code), ("discount", &discount), ("pool", pool)],
                )
            };
        }
        Err(CoreError::Domain(DomainError::NotFound { .. })) => {
            page.errors.add("voucher_code", refusal("voucher_unknown"));
        }
        // Why the code cannot be used goes next to the code.
        Err(CoreError::Domain(
            DomainError::Refused { code, .. } | DomainError::Conflict { code, .. },
        )) => {
            page.errors.add("voucher_code", refusal(&code));
        }
        Err(CoreError::Domain(e)) => {
            let fields = [("/code", "voucher_code"), ("/basket", "voucher_amount")];
            page.errors = FormErrors::from_domain(lang, &e, &fields);
        }
        Err(CoreError::LockedOut { .. }) => {
            page.errors
                .add("voucher_code", refusal("too_many_failures"));
        }
        Err(e) => return Err(e.into()),
    }
    let refused = !page.errors.is_empty();
    if let Some(id) = member {
        with_member(&state, console, &mut page, &id).await?;
    }
    let response = render(&page)?;
    Ok(if refused {
        unprocessable(response)
    } else {
        response
    })
}

/// Pays part of the order from the member's cashback (the amount in major units).
pub async fn cashback<D: Database>(
    State(state): State<WebState<D>>,
    Path(program): Path<String>,
    form: ConsoleForm,
) -> PageResult {
    let member = member_id(&form.fields)?;
    let ui = Ui::load(&state, &form.console, &program, "cashier").await?;
    let program_id = ui.program.id.clone();
    let command = tally_domain::cashback::CashbackPayment::parse(&json!({
        "member": {"id": member},
        "order_id": form.fields.raw("order_id"),
        "amount_minor": super::money_field(&ui, form.fields.raw("cashback_amount")),
    }))
    .map(|request| Command::PayWithCashback {
        program: program_id,
        request,
    });
    let fields = [("/amount_minor", "cashback_amount")];
    let (lang, currency) = (ui.lang, ui.program.currency);
    run(
        &state,
        &form,
        &program,
        Some(member),
        command,
        &fields,
        |page, answer| {
            let money = |field: &str| lang.money(answer[field].as_i64().unwrap_or(0), currency);
            page.notice = lang.tf(
                "cashier.cashback_paid",
                &[
                    ("amount", &money("amount_minor")),
                    ("left", &money("cashback_balance_minor")),
                ],
            );
        },
    )
    .await
}
