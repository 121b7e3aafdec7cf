//! Giving in the wallet: the program's causes with what members gave so far and what this
//! member gave, and giving points to one (`donate`).

use super::wallet::{Wallet, own_card};
use super::wallet_card::card_page;
use super::{FormErrors, PageResult, unprocessable, write_as};
use crate::WebState;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::session::Fields;
use axum::extract::{Path, State};
use serde_json::json;
use tally_core::Command;
use tally_domain::charities::DonationRequest;
use tally_domain::ids::MemberId;
use tally_domain::program::Program;
use tally_store::Database;

/// A cause as the wallet shows it.
pub struct Cause {
    pub id: String,
    pub name: String,
    pub description: String,
    /// "$123.40 from 12 members".
    pub total: String,
    /// "You gave 300 points", or empty.
    pub mine: String,
}

/// The program's active causes with their totals and this member's gifts.
pub async fn causes<D: Database>(
    state: &WebState<D>,
    lang: Lang,
    program: &Program,
    member: &MemberId,
) -> Result<Vec<Cause>, WebError> {
    let tenant = &program.tenant_id;
    let given = state.tally.member_donations(tenant, member).await?;
    let page = state
        .tally
        .charities(tenant, &program.id, None, Some(50))
        .await?;
    Ok(page
        .items
        .iter()
        .filter(|c| c["status"] == "active")
        .map(|c| {
            let id = c["id"].as_str().unwrap_or_default().to_owned();
            let mine = given["items"]
                .as_array()
                .into_iter()
                .flatten()
                .find(|g| g["charity_id"] == id.as_str())
                .and_then(|g| g["points"].as_i64())
                .map(|p| {
                    lang.tf(
                        "wallet.cause_mine",
                        &[("points", &lang.count("unit.points", p))],
                    )
                })
                .unwrap_or_default();
            Cause {
                name: c["name"].as_str().unwrap_or_default().to_owned(),
                description: c["description"].as_str().unwrap_or_default().to_owned(),
                total: lang.tf(
                    "wallet.cause_total",
                    &[
                        (
                            "amount",
                            // Members' points and the merchant's charity deals.
                            &lang.money(
                                c["donated_minor"].as_i64().unwrap_or(0)
                                    + c["merchant_minor"].as_i64().unwrap_or(0),
                                program.currency,
                            ),
                        ),
                        (
                            "donors",
                            &lang.count("wallet.donors", c["donors"].as_i64().unwrap_or(0)),
                        ),
                    ],
                ),
                mine,
                id,
            }
        })
        .collect())
}

/// Gives the points typed to a cause of the card's program.
pub async fn donate<D: Database>(
    State(state): State<WebState<D>>,
    Path(member): Path<String>,
    wallet: Wallet,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    wallet.check(&fields)?;
    let (tenant, id) = own_card(&state, &wallet, &member).await?;
    let points = super::form_value(fields.raw("points"));
    let command = DonationRequest::parse(&json!({
        "charity_id": fields.raw("charity_id"),
        "points": points,
    }))
    .map(|request| Command::Donate {
        member: id.clone(),
        request,
    });
    let pointers = [("/points", "points"), ("/charity_id", "points")];
    match write_as(&state, &tenant, "wallet", wallet.lang, command, &pointers).await? {
        Ok(answer) => {
            let notice = wallet.lang.tf(
                "wallet.donated",
                &[
                    (
                        "points",
                        &wallet
                            .lang
                            .count("unit.points", answer["points"].as_i64().unwrap_or(0)),
                    ),
                    ("cause", answer["charity_name"].as_str().unwrap_or_default()),
                ],
            );
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
