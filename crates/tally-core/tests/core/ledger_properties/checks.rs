//! What must hold after every step of a case: the ledger invariants, each member's points and
//! cashback as the model predicts, claims within limits, stock, orders, and the totals.

use super::*;

/// Everything that must hold after every step, read back from the database.
pub(crate) async fn check_all(f: &Fixture, m: &Model, at: &str) -> Result<(), TestCaseError> {
    let fail = |e: CoreError| TestCaseError::fail(format!("{at}: reading back: {e:?}"));
    let store =
        |e: tally_store::StoreError| TestCaseError::fail(format!("{at}: reading back: {e:?}"));
    let mut c = f.tally.read().await.map_err(fail)?;
    let invariants = tally_core::invariants::check_program(&mut c, &f.program)
        .await
        .map_err(fail)?;
    check_eq!(invariants, Ok(()), "{at}: ledger invariants");

    let (mut outstanding, mut earned, mut reversed, mut redeemed, mut refunded, mut adjusted) =
        (0, 0, 0, 0, 0, 0);
    let mut cashback_outstanding = 0;
    for (slot, member) in m.members.iter().enumerate() {
        let Some(member) = member else { continue };
        let row = members::get_member(&mut c, &f.tenant, &member.id)
            .await
            .map_err(store)?;
        let balance = row.map(|r| r.balance.available.value());
        check_eq!(
            balance,
            Some(member.balance),
            "{at}: balance of member {slot}"
        );
        check_eq!(
            member.reported.balance(),
            member.balance,
            "{at}: earned − reversed − redeemed + refunded ± adjusted of member {slot}"
        );
        check!(
            !m.setup.floor_at_zero || member.balance >= 0,
            "{at}: member {slot} is negative under floor_at_zero"
        );
        let cashback = tally_store::queries::cashback::balance(&mut c, &member.id)
            .await
            .map_err(store)?;
        check_eq!(cashback, member.cashback, "{at}: cashback of member {slot}");
        check!(cashback >= 0, "{at}: member {slot} has negative cashback");
        cashback_outstanding += member.cashback;
        outstanding += member.balance;
        earned += member.reported.earned;
        reversed += member.reported.reversed;
        redeemed += member.reported.redeemed;
        refunded += member.reported.refunded;
        adjusted += member.reported.adjusted;

        // The per-member limit, counted from the redemptions themselves.
        let held = rewards::member_redemptions(&mut c, &member.id, None, Some(200))
            .await
            .map_err(store)?;
        for (i, reward) in m.rewards.iter().enumerate() {
            let live = held
                .items
                .iter()
                .filter(|r| r.reward_id == reward.id && r.status != RedemptionStatus::Cancelled)
                .count() as i64;
            check_eq!(
                live,
                m.claims(slot, i),
                "{at}: live redemptions of reward {i} by member {slot}"
            );
            if let Some(limit) = reward.limit {
                check!(
                    live <= limit,
                    "{at}: member {slot} holds {live} of reward {i}, limit {limit}"
                );
            }
        }
    }
    for (i, reward) in m.rewards.iter().enumerate() {
        let row = rewards::get_reward(&mut c, &f.tenant, &reward.id)
            .await
            .map_err(store)?
            .unwrap();
        check_eq!(
            row.stock_remaining,
            reward.stock,
            "{at}: stock of reward {i}"
        );
        check!(
            row.stock_remaining.is_none_or(|s| s >= 0),
            "{at}: negative stock of reward {i}"
        );
    }
    for (order_id, order) in &m.orders {
        let p = purchases::get_purchase_by_order(&mut c, &f.tenant, &f.program, order_id)
            .await
            .map_err(store)?
            .unwrap();
        check_eq!(
            p.points_earned.value(),
            order.earned,
            "{at}: {order_id} earned"
        );
        check_eq!(
            p.returned_minor,
            order.returned_minor,
            "{at}: {order_id} returned"
        );
        check_eq!(
            p.points_reversed.value(),
            order.reversed,
            "{at}: {order_id} reversed"
        );
        check!(
            p.returned_minor <= p.total_minor,
            "{at}: {order_id} returned more than its total"
        );
        check!(
            p.points_reversed <= p.points_earned,
            "{at}: {order_id} reversed more than it earned"
        );
        let returned: Vec<i64> = p.lines.iter().map(|l| l.returned_quantity).collect();
        let expected: Vec<i64> = order.lines.iter().map(|l| l.returned).collect();
        check_eq!(
            returned,
            expected,
            "{at}: {order_id} returned line quantities"
        );
    }
    drop(c);
    let totals = f
        .tally
        .program_totals(&f.tenant, &f.program)
        .await
        .map_err(fail)?;
    check_eq!(
        totals.members,
        m.members.iter().flatten().count() as i64,
        "{at}: members"
    );
    check_eq!(totals.issued.value(), earned - reversed, "{at}: issued");
    check_eq!(
        totals.redeemed.value(),
        redeemed - refunded,
        "{at}: redeemed"
    );
    check_eq!(totals.adjusted.value(), adjusted, "{at}: adjusted");
    check_eq!(totals.outstanding.value(), outstanding, "{at}: outstanding");
    check_eq!(
        totals.cashback.outstanding_minor,
        cashback_outstanding,
        "{at}: cashback outstanding"
    );
    Ok(())
}
