//! Offers in the wallet: what the program offers this member, each with its state (to activate,
//! waiting for the next purchase, used, a loyalty deal's progress), and activating one.

use super::offers::benefit_text;
use super::wallet::{Wallet, own_card};
use super::wallet_card::card_page;
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
    /// A friend deal: whether the member may start a group, and their group if they have one.
    pub can_start_group: bool,
    pub group: Option<FriendGroup>,
}

/// A member's group for a friend deal, as the wallet shows it.
pub struct FriendGroup {
    /// The share link friends open.
    pub link: String,
    /// "2 of 4 joined".
    pub progress: String,
    pub unlocked: bool,
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
            let status = if uses_left == 0 {
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
            let friend = o["deal"] == "friend";
            let group = o["group"].is_object().then(|| FriendGroup {
                link: format!(
                    "{}/wallet/deals/{}",
                    state.public_url,
                    o["group"]["code"].as_str().unwrap_or_default()
                ),
                progress: group_progress(lang, &o["group"]),
                unlocked: o["group"]["unlocked"] == true,
            });
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
                state: status,
                can_activate: !activated && uses_left > 0 && !friend,
                can_start_group: friend && group.is_none() && uses_left > 0,
                group,
            }
        })
        .collect())
}

/// "2 of 4 joined" for a group (`{"joined", "size"}`).
pub fn group_progress(lang: Lang, group: &serde_json::Value) -> String {
    lang.tf(
        "wallet.group_progress",
        &[
            ("joined", &group["joined"].as_i64().unwrap_or(0).to_string()),
            ("size", &group["size"].as_i64().unwrap_or(0).to_string()),
        ],
    )
}

/// The member starts a group for a friend deal of the card's program.
pub async fn start_group<D: Database>(
    State(state): State<WebState<D>>,
    Path((member, offer)): Path<(String, String)>,
    wallet: Wallet,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    wallet.check(&fields)?;
    let (tenant, id) = own_card(&state, &wallet, &member).await?;
    let offer = OfferId::parse(&offer).map_err(|_| WebError::NotFound)?;
    let command = Ok(Command::StartOfferGroup { member: id, offer });
    let outcome = write_as(&state, &tenant, "wallet", wallet.lang, command, &[]).await?;
    let (notice, errors) = match outcome {
        Ok(_) => (wallet.lang.t("wallet.group_started").to_owned(), None),
        Err(errors) => (String::new(), Some(errors)),
    };
    let refused = errors.is_some();
    let page = card_page(
        &state,
        &wallet,
        &member,
        None,
        notice,
        errors.unwrap_or_default(),
    )
    .await?;
    Ok(if refused { unprocessable(page) } else { page })
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

/// What the share link's page shows of a group.
pub struct DealView {
    pub offer_name: String,
    pub progress: String,
    /// Whether it takes members now.
    pub open: bool,
    program: tally_domain::ids::ProgramId,
}

#[derive(askama::Template)]
#[template(path = "wallet_deal.html")]
struct DealPage {
    lang: Lang,
    csrf: String,
    code: String,
    group: Option<DealView>,
    /// The person's card in the group's program, if they have one.
    member: Option<MemberId>,
    notice: String,
    errors: FormErrors,
}

impl DealPage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

async fn deal_page<D: Database>(
    state: &WebState<D>,
    wallet: &Wallet,
    code: &str,
    notice: String,
    errors: FormErrors,
) -> Result<DealPage, WebError> {
    let found = state.tally.offer_group(code).await?;
    let group = found.map(|g| DealView {
        offer_name: g["offer_name"].as_str().unwrap_or_default().to_owned(),
        progress: group_progress(wallet.lang, &g["group"]),
        open: g["open"] == true,
        program: tally_domain::ids::ProgramId::from_trusted(
            g["program_id"].as_str().unwrap_or_default().to_owned(),
        ),
    });
    let member = match &group {
        Some(g) => state
            .tally
            .memberships(&wallet.person)
            .await?
            .into_iter()
            .find(|m| m.program == g.program)
            .map(|m| m.member),
        None => None,
    };
    Ok(DealPage {
        lang: wallet.lang,
        csrf: wallet.csrf.clone(),
        code: code.trim().to_ascii_uppercase(),
        group,
        member,
        notice,
        errors,
    })
}

/// The page a friend deal's share link opens: the deal, how full the group is, and a Join
/// button for the person's card in that program. Joining is a POST, so a link preview never
/// joins anyone.
pub async fn deal<D: Database>(
    State(state): State<WebState<D>>,
    Path(code): Path<String>,
    wallet: Wallet,
) -> PageResult {
    let page = deal_page(&state, &wallet, &code, String::new(), FormErrors::default()).await?;
    super::render(&page)
}

pub async fn join_deal<D: Database>(
    State(state): State<WebState<D>>,
    Path(code): Path<String>,
    wallet: Wallet,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    wallet.check(&fields)?;
    let before = deal_page(&state, &wallet, &code, String::new(), FormErrors::default()).await?;
    let (Some(_), Some(member)) = (&before.group, before.member.clone()) else {
        return super::render(&before);
    };
    let (tenant, id) = own_card(&state, &wallet, member.as_str()).await?;
    let command = Ok(Command::JoinOfferGroup {
        member: id,
        code: code.clone(),
    });
    match write_as(&state, &tenant, "wallet", wallet.lang, command, &[]).await? {
        Ok(answer) => {
            let key = if answer["unlocked"] == true {
                "wallet.group_unlocked"
            } else {
                "wallet.group_joined"
            };
            let notice = wallet.lang.t(key).to_owned();
            let page = deal_page(&state, &wallet, &code, notice, FormErrors::default()).await?;
            super::render(&page)
        }
        Err(errors) => {
            let page = deal_page(&state, &wallet, &code, String::new(), errors).await?;
            Ok(unprocessable(super::render(&page)?))
        }
    }
}
