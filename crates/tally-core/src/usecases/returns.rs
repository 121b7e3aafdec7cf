//! A return takes back the points of what came back, in proportion, exactly once, and never
//! more than the order earned.

use super::{Guard, Posting, load_program, post};
use crate::StepResult;
use crate::awards::AwardContext;
use crate::commands::Ctx;
use crate::earning::{self, PurchaseView};
use serde_json::{Value, json};
use tally_domain::ids::{ProgramId, ReturnId};
use tally_domain::inputs::{LineInput, MemberRef, NewPurchase, NewReturn, ReturnScope};
use tally_domain::model::{Balance, Purchase, ReturnRecord, TransferKind, TransferReason};
use tally_domain::program::{NegativeBalancePolicy, Program};
use tally_domain::{DomainError, Money, Points, Timestamp};
use tally_ledger::{AccountKind, reversal_for_return};
use tally_rules::Trigger;
use tally_store::queries::{ledger, members, purchases};
use tally_store::{Conn, StoreError};

pub async fn record<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program_id: &ProgramId,
    r: &NewReturn,
) -> StepResult<Value> {
    let program = load_program(c, ctx, program_id).await?;
    let purchase = purchases::get_purchase_by_order(c, &ctx.tenant, program_id, &r.order_id)
        .await?
        .ok_or_else(|| {
            DomainError::invalid("/order_id", "no purchase of this program has this order id")
        })?;
    let (amount, line_returns) = what_comes_back(&purchase, &r.scope)?;

    let reversal = reversal_for_return(
        purchase.points_earned,
        purchase.points_reversed,
        purchase.total_minor,
        purchase.returned_minor + amount,
    );
    // Conditional on what we read: a concurrent return of the same order makes this fail, and
    // the writer retries with fresh numbers.
    if !purchases::add_returned(c, &purchase.id, purchase.returned_minor, amount, reversal).await? {
        return Err(StoreError::Retryable(
            "the order changed while a return was being recorded".into(),
        )
        .into());
    }
    for (line_no, quantity) in &line_returns {
        if !purchases::return_line_quantity(c, &purchase.id, *line_no, *quantity).await? {
            return Err(StoreError::Retryable(
                "a line changed while a return was being recorded".into(),
            )
            .into());
        }
    }

    let return_id = ReturnId::generate();
    let occurred_at = r.occurred_at.unwrap_or(ctx.now);
    // Locked while we decide how much to take: a concurrent redemption on another writer
    // cannot spend the same points in between.
    let balance = ledger::lock_balance(
        c,
        &tally_ledger::account_id(purchase.member_id.as_str(), AccountKind::MemberAvailable),
    )
    .await?;
    let reason = TransferReason {
        order_id: Some(purchase.order_id.clone()),
        purchase_id: Some(purchase.id.clone()),
        return_id: Some(return_id.clone()),
        actor: Some(ctx.actor.clone()),
        ..TransferReason::default()
    };
    // Inside the return window the points are still pending: take those first.
    let from_pending = crate::pending::take_for_return(
        c,
        ctx,
        program_id,
        &purchase.member_id,
        &purchase.id,
        reversal,
        &reason,
        occurred_at,
    )
    .await?;
    let rest = reversal - from_pending;
    let (taken, unrecovered) = match program.negative_balance {
        NegativeBalancePolicy::AllowNegative => (rest, Points::ZERO),
        NegativeBalancePolicy::FloorAtZero => {
            let taken = Points(rest.value().min(balance.value().max(0)));
            (taken, rest - taken)
        }
    };
    let mut available = balance;
    if taken.is_positive() {
        let posting = Posting {
            program: program_id,
            member: &purchase.member_id,
            kind: TransferKind::Reverse,
            amount: taken,
            adjustment_positive: false,
            reason: &reason,
            occurred_at,
        };
        available = post(c, ctx, &posting, Guard::MayGoNegative)
            .await?
            .expect("unguarded debits always post");
    }
    let rules = return_rules(
        c,
        ctx,
        &program,
        &purchase,
        &line_returns,
        amount,
        from_pending + taken,
        &return_id,
        occurred_at,
    )
    .await?;
    if let Some(after) = rules.available {
        available = after;
    }
    let (cashback_reversed, cashback_unrecovered) = super::cashback::after_return(
        c,
        ctx,
        &purchase,
        purchase.returned_minor + amount,
        &reason,
        occurred_at,
    )
    .await?;
    if purchase.returned_minor + amount == purchase.total_minor {
        crate::stamps::after_full_return(c, ctx, &purchase.member_id, &purchase.id).await?;
        crate::referrals::after_full_return(c, ctx, &purchase.id).await?;
    }
    purchases::insert_return(
        c,
        &return_id,
        &purchase.id,
        amount,
        reversal,
        unrecovered,
        occurred_at,
        ctx.now,
    )
    .await?;
    let (_, pending) =
        members::member_account(c, &purchase.member_id, AccountKind::MemberPending).await?;
    let member_id = purchase.member_id.clone();
    let mut answer = super::to_json(&ReturnRecord {
        id: return_id,
        purchase_id: purchase.id,
        order_id: purchase.order_id,
        returned_minor: amount,
        points_reversed: from_pending + taken,
        unrecovered_points: unrecovered,
        balance: Balance { available, pending },
        occurred_at,
    });
    answer["member_id"] = json!(member_id);
    answer["rule_awards"] = Value::Array(rules.awards);
    answer["points_earned"] = json!(rules.given);
    answer["granted"] = Value::Array(rules.granted);
    answer["cashback_reversed_minor"] = json!(cashback_reversed);
    answer["cashback_unrecovered_minor"] = json!(cashback_unrecovered);
    Ok(answer)
}

/// How much of the order total comes back, and which line quantities (`(line number,
/// quantity)`), for a return of `scope`; what is wrong with it (more than is left, an unknown
/// sku, an order already returned in full) as a domain error.
pub(crate) fn what_comes_back(
    purchase: &Purchase,
    scope: &ReturnScope,
) -> Result<(i64, Vec<(i64, i64)>), DomainError> {
    let remaining = purchase.total_minor - purchase.returned_minor;
    if remaining == 0 {
        return Err(DomainError::refused(
            "already_returned",
            "the whole order has already been returned",
        ));
    }
    let mut line_returns: Vec<(i64, i64)> = Vec::new();
    let amount = match scope {
        ReturnScope::Full => {
            for (i, l) in purchase.lines.iter().enumerate() {
                if l.quantity > l.returned_quantity {
                    line_returns.push((i as i64, l.quantity - l.returned_quantity));
                }
            }
            remaining
        }
        ReturnScope::Amount(amount) => {
            if *amount > remaining {
                return Err(DomainError::invalid(
                    "/amount_minor",
                    format!("at most {remaining} of this order is left to return"),
                ));
            }
            *amount
        }
        ReturnScope::Lines(lines) => {
            let all: i128 = purchase
                .lines
                .iter()
                .map(|l| i128::from(l.quantity) * i128::from(l.unit_price_minor))
                .sum();
            let mut value: i128 = 0;
            for (i, (sku, quantity)) in lines.iter().enumerate() {
                let Some(line_no) = purchase.lines.iter().position(|l| &l.sku == sku) else {
                    return Err(DomainError::invalid(
                        format!("/lines/{i}/sku"),
                        "is not on this order",
                    ));
                };
                let line = &purchase.lines[line_no];
                let left = line.quantity - line.returned_quantity;
                if *quantity > left {
                    return Err(DomainError::invalid(
                        format!("/lines/{i}/quantity"),
                        format!("only {left} left to return"),
                    ));
                }
                value += i128::from(*quantity) * i128::from(line.unit_price_minor);
                line_returns.push((line_no as i64, *quantity));
            }
            let share = if all == 0 {
                0
            } else {
                i64::try_from(i128::from(purchase.total_minor) * value / all)
                    .expect("at most the total")
            };
            // Returning the last items takes whatever rounding left over.
            let everything_back = purchase.lines.iter().enumerate().all(|(n, l)| {
                let now = line_returns
                    .iter()
                    .filter(|(x, _)| *x == n as i64)
                    .map(|(_, q)| q)
                    .sum::<i64>();
                l.returned_quantity + now == l.quantity
            });
            if everything_back {
                remaining
            } else {
                share.min(remaining)
            }
        }
    };

    Ok((amount, line_returns))
}

/// What came back, as return rules see it: the returned lines with the quantities returned
/// now and the amount, on the order's channel and location.
fn returned_order(
    purchase: &Purchase,
    line_returns: &[(i64, i64)],
    amount: i64,
    occurred_at: Timestamp,
) -> NewPurchase {
    NewPurchase {
        order_id: purchase.order_id.clone(),
        member: MemberRef::Id(purchase.member_id.clone()),
        total: Money {
            amount_minor: amount,
            currency: purchase.currency,
        },
        lines: line_returns
            .iter()
            .map(|(line_no, quantity)| {
                let line = &purchase.lines[*line_no as usize];
                LineInput {
                    sku: line.sku.clone(),
                    name: line.name.clone(),
                    category: line.category.clone(),
                    brand: line.brand.clone(),
                    quantity: *quantity,
                    unit_price_minor: line.unit_price_minor,
                }
            })
            .collect(),
        channel: purchase.channel,
        location_id: purchase.location_id.clone(),
        occurred_at: Some(occurred_at),
    }
}

/// The decisions of the rules with trigger `return` (in `compiled`) for what comes back of
/// `purchase` (`(line returns, amount)`), taking back `reversed` points. `lock` as for
/// [`earning::evaluate`]: true when the awards will be written.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn decide_return_rules<C: Conn>(
    c: &mut C,
    program: &Program,
    compiled: &earning::CompiledRules,
    purchase: &Purchase,
    (line_returns, amount): (&[(i64, i64)], i64),
    reversed: Points,
    occurred_at: Timestamp,
    lock: bool,
) -> StepResult<tally_rules::Outcome> {
    let returned = returned_order(purchase, line_returns, amount, occurred_at);
    let member = &purchase.member_id;
    let profile = earning::profile(c, compiled, member).await?;
    let tier = crate::tiers::current_name(c, compiled.tier_plan.as_ref(), member).await?;
    let view = PurchaseView::new(&returned);
    earning::evaluate(
        c,
        program,
        compiled,
        Trigger::Return,
        member,
        &profile,
        tier.as_deref(),
        Some(&view),
        reversed,
        occurred_at,
        lock,
    )
    .await
}

/// What the rules with trigger `return` gave for a return.
#[derive(Default)]
struct ReturnRules {
    given: Points,
    /// The available balance after their points, when they gave some.
    available: Option<Points>,
    awards: Vec<Value>,
    granted: Vec<Value>,
}

/// Runs the rules with trigger `return`: they see what came back as `purchase` (the returned
/// lines with the quantities returned now, the amount, the order's channel and location) and
/// the points the return took back as `base_points`.
#[allow(clippy::too_many_arguments)]
async fn return_rules<C: Conn>(
    c: &mut C,
    ctx: &Ctx,
    program: &Program,
    purchase: &Purchase,
    line_returns: &[(i64, i64)],
    amount: i64,
    reversed: Points,
    return_id: &ReturnId,
    occurred_at: Timestamp,
) -> StepResult<ReturnRules> {
    let compiled = earning::active_rules(c, program).await?;
    if !compiled.set.for_trigger(Trigger::Return) {
        return Ok(ReturnRules::default());
    }
    let outcome = decide_return_rules(
        c,
        program,
        &compiled,
        purchase,
        (line_returns, amount),
        reversed,
        occurred_at,
        true,
    )
    .await?;
    let member = &purchase.member_id;
    let at = AwardContext {
        program: &program.id,
        member,
        order_id: Some(&purchase.order_id),
        purchase_id: Some(&purchase.id),
        event_id: None,
        return_id: Some(return_id),
        occurred_at,
    };
    let (given, available, granted) =
        crate::awards::post_awards(c, ctx, &compiled, &outcome, &at).await?;
    Ok(ReturnRules {
        given,
        available,
        awards: crate::awards::award_answers(&outcome),
        granted,
    })
}
