//! Offers in the wallet: what the program offers this member, each with its state (to activate,
//! waiting for the next purchase, used, a loyalty deal's progress), and activating one.

use super::offers::benefit_text;
use super::wallet::{Wallet, card_page, own_card};
use super::{FormErrors, PageResult, unprocessable, write_as};
use crate::WebState;
use crate::error::WebError;
use crate::i18n::Lang;
use crate::session::Fields;
use axum::extract::{Path, State};
use tally_core::Command;
use tally_domain::ids::{MemberId, OfferId};
use tally_domain::program::Program;
use tally_store::Database;

/// An offer as the wallet shows it.
pub struct WalletOffer {
    pub id: String,
    pub name: String,
    pub description: String,
    /// "+200 points", "×2 points", "$0.40 to School meals".
    pub benefit: String,
    /// "Activated: it applies at your next qualifying purchase", "Used", "2 of 5 purchases".
    pub state: String,
    pub can_activate: bool,
}

/// The offers the program has for this member now.
pub async fn offers<D: Database>(
    state: &WebState<D>,
    lang: Lang,
    program: &Program,
    member: &MemberId,
) -> Result<Vec<WalletOffer>, WebError> {
    let listed = state
        .tally
        .member_offers(&program.tenant_id, member)
        .await?;
    Ok(listed["items"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            let text = |field: &str| o[field].as_str().unwrap_or_default().to_owned();
            let uses_left = o["uses_left"].as_i64().unwrap_or(0);
            let activated = o["activated"] == true;
            let state = if uses_left == 0 {
                lang.t("wallet.offer_used").to_owned()
            } else if let Some(count) = o["progress"]["count"].as_i64() {
                lang.tf(
                    "wallet.offer_progress",
                    &[
                        ("count", &count.to_string()),
                        ("of", &o["progress"]["of"].as_i64().unwrap_or(0).to_string()),
                    ],
                )
            } else if activated {
                lang.t("wallet.offer_active").to_owned()
            } else {
                String::new()
            };
            WalletOffer {
                id: text("offer_id"),
                name: text("name"),
                description: text("description"),
                benefit: benefit_text(
                    lang,
                    program.currency,
                    &o["benefit"],
                    o["charity_name"].as_str().unwrap_or_default(),
                ),
                state,
                can_activate: !activated && uses_left > 0,
            }
        })
        .collect())
}

/// The member activates an offer of the card's program.
pub async fn activate<D: Database>(
    State(state): State<WebState<D>>,
    Path((member, offer)): Path<(String, String)>,
    wallet: Wallet,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    wallet.check(&fields)?;
    let (tenant, id) = own_card(&state, &wallet, &member).await?;
    let offer = OfferId::parse(&offer).map_err(|_| WebError::NotFound)?;
    let command = Ok(Command::ActivateOffer {
        member: id.clone(),
        offer,
    });
    match write_as(&state, &tenant, "wallet", wallet.lang, command, &[]).await? {
        Ok(_) => {
            let notice = wallet.lang.t("wallet.offer_activated").to_owned();
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
