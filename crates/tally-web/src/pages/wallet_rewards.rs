//! Rewards in the wallet: redeeming one (the code to show at the till and, for a reward that
//! hands out vouchers, the voucher code), and which segments keep rewards for whom.

use super::wallet::{Wallet, own_card};
use super::wallet_card::card_page;
use super::{FormErrors, PageResult, unprocessable, write_as};
use crate::WebState;
use crate::error::WebError;
use crate::session::Fields;
use axum::extract::{Path, State};
use serde_json::json;
use tally_core::Command;
use tally_domain::inputs::RedeemRequest;
use tally_domain::model::{Redemption, Reward};
use tally_store::Database;

pub async fn redeem<D: Database>(
    State(state): State<WebState<D>>,
    Path(member): Path<String>,
    wallet: Wallet,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    wallet.check(&fields)?;
    let (tenant, id) = own_card(&state, &wallet, &member).await?;
    let m = state.tally.member(&tenant, &id).await?;
    let mut body = json!({ "member": { "id": id }, "reward_id": fields.raw("reward_id") });
    // A physical reward's form carries the delivery address.
    if fields.get("address_line1").is_some() {
        let mut address = serde_json::Map::new();
        for part in ["name", "line1", "line2", "postal_code", "city", "country"] {
            if let Some(v) = fields.get(&format!("address_{part}")) {
                address.insert(part.into(), v.trim().into());
            }
        }
        body["delivery_address"] = address.into();
    }
    let command = RedeemRequest::parse(&body).map(|request| Command::Redeem {
        program: m.program_id.clone(),
        request,
    });
    let pointers = [("/delivery_address", "address")];
    match write_as(&state, &tenant, "wallet", wallet.lang, command, &pointers).await? {
        Ok(answer) => {
            let r: Redemption =
                serde_json::from_value(answer).map_err(|e| WebError::Internal(e.to_string()))?;
            let notice = if r.fulfilment.is_some() {
                wallet
                    .lang
                    .tf("wallet.redeemed_sent", &[("reward", &r.reward_name)])
            } else {
                wallet.lang.tf(
                    "wallet.redeemed",
                    &[("reward", &r.reward_name), ("code", &r.code)],
                )
            };
            card_page(
                &state,
                &wallet,
                &member,
                None,
                notice,
                FormErrors::default(),
            )
            .await
        }
        Err(errors) => Ok(unprocessable(
            card_page(&state, &wallet, &member, None, String::new(), errors).await?,
        )),
    }
}

/// The member's segment keys and the names of the segments rewards are kept for (nothing to
/// read when no reward is kept for a segment).
pub(super) async fn segments<D: Database>(
    state: &WebState<D>,
    tenant: &tally_domain::ids::TenantId,
    program: &tally_domain::ids::ProgramId,
    member: &tally_domain::ids::MemberId,
    rewards: &[Reward],
) -> Result<(Vec<String>, Vec<(String, String)>), WebError> {
    if rewards.iter().all(|r| r.segments.is_empty()) {
        return Ok((Vec::new(), Vec::new()));
    }
    let mine = state.tally.segments_of_member(tenant, member).await?;
    let names = state
        .tally
        .segments(tenant, program, None, Some(200))
        .await?
        .items
        .iter()
        .map(|s| {
            (
                s["key"].as_str().unwrap_or_default().to_owned(),
                s["name"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    Ok((mine, names))
}
