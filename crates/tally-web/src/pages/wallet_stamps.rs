//! Stamp cards in the wallet: progress on each card (on the card page), and collecting a stamp
//! by scanning the store's QR code, which links to `/wallet/stamp/{code}`. Opening the link
//! shows what the stamp is for; collecting it is a POST (with the wallet's CSRF token), so a
//! link preview or a prefetch never uses the code.

use super::wallet::Wallet;
use super::wallet_card::card_page;
use super::{FormErrors, PageResult, render, unprocessable, write_as};
use crate::WebState;
use crate::i18n::Lang;
use crate::session::Fields;
use askama::Template;
use axum::extract::{Path, State};
use tally_core::{Command, StampCodeView};
use tally_domain::ids::MemberId;
use tally_domain::model::Reward;
use tally_store::Database;

/// A card's progress as the wallet shows it.
pub struct StampProgress {
    pub name: String,
    pub stamps: i64,
    pub required: i64,
    /// "100 points" or the reward's name.
    pub reward: String,
}

impl StampProgress {
    /// One entry per slot: true where stamped.
    pub fn slots(&self) -> Vec<bool> {
        (0..self.required).map(|i| i < self.stamps).collect()
    }
}

/// What completing a card gives, in words: "100 points", or the reward's name from `rewards`
/// ("a reward" when it is not among them).
pub fn reward_text(lang: Lang, reward: &serde_json::Value, rewards: &[Reward]) -> String {
    match (reward["points"].as_i64(), reward["reward_id"].as_str()) {
        (Some(points), _) => lang.count("unit.points", points),
        (None, Some(id)) => rewards.iter().find(|r| r.id.as_str() == id).map_or_else(
            || lang.t("wallet.stamp_reward").to_owned(),
            |r| r.name.clone(),
        ),
        _ => String::new(),
    }
}

/// The member's cards, with the reward named from the catalog.
pub async fn progress<D: Database>(
    state: &WebState<D>,
    lang: Lang,
    tenant: &tally_domain::ids::TenantId,
    member: &MemberId,
    rewards: &[Reward],
) -> Result<Vec<StampProgress>, crate::error::WebError> {
    Ok(state
        .tally
        .member_stamps(tenant, member)
        .await?
        .into_iter()
        .map(|c| {
            let reward = reward_text(lang, &c["reward"], rewards);
            StampProgress {
                name: c["name"].as_str().unwrap_or_default().to_owned(),
                stamps: c["stamps"].as_i64().unwrap_or(0),
                required: c["stamps_required"].as_i64().unwrap_or(0),
                reward,
            }
        })
        .collect())
}

#[derive(Template)]
#[template(path = "wallet_stamp.html")]
struct CollectPage {
    lang: Lang,
    csrf: String,
    code: String,
    what: Option<StampCodeView>,
    /// The person's card in the code's program, if they have one.
    member: Option<MemberId>,
    errors: FormErrors,
}

impl CollectPage {
    fn t(&self, key: &str) -> &'static str {
        self.lang.t(key)
    }
}

async fn member_for<D: Database>(
    state: &WebState<D>,
    wallet: &Wallet,
    what: Option<&StampCodeView>,
) -> Result<Option<MemberId>, crate::error::WebError> {
    let Some(what) = what else {
        return Ok(None);
    };
    Ok(state
        .tally
        .memberships(&wallet.person)
        .await?
        .into_iter()
        .find(|m| m.program == what.program)
        .map(|m| m.member))
}

pub async fn show<D: Database>(
    State(state): State<WebState<D>>,
    Path(code): Path<String>,
    wallet: Wallet,
) -> PageResult {
    let code = code.trim().to_ascii_uppercase();
    let what = state.tally.stamp_code(&code).await?;
    let member = member_for(&state, &wallet, what.as_ref()).await?;
    render(&CollectPage {
        lang: wallet.lang,
        csrf: wallet.csrf.clone(),
        code,
        what,
        member,
        errors: FormErrors::default(),
    })
}

pub async fn collect<D: Database>(
    State(state): State<WebState<D>>,
    Path(code): Path<String>,
    wallet: Wallet,
    axum::extract::Form(pairs): axum::extract::Form<Vec<(String, String)>>,
) -> PageResult {
    let fields = Fields::from_pairs(pairs)?;
    wallet.check(&fields)?;
    let code = code.trim().to_ascii_uppercase();
    let what = state.tally.stamp_code(&code).await?;
    let Some(member) = member_for(&state, &wallet, what.as_ref()).await? else {
        return Err(crate::error::WebError::NotFound);
    };
    let tenant = what
        .as_ref()
        .map(|w| w.tenant.clone())
        .expect("a member means a code");
    let command = Ok(Command::ScanStampCode {
        member: member.clone(),
        code: code.clone(),
    });
    match write_as(&state, &tenant, "wallet", wallet.lang, command, &[]).await? {
        Ok(answer) => {
            let lang = wallet.lang;
            let notice = if answer["completed"].as_i64().unwrap_or(0) > 0 {
                lang.tf(
                    "wallet.stamp_completed",
                    &[("card", answer["name"].as_str().unwrap_or_default())],
                )
            } else {
                lang.tf(
                    "wallet.stamp_collected",
                    &[
                        ("card", answer["name"].as_str().unwrap_or_default()),
                        ("stamps", &answer["stamps"].to_string()),
                        ("required", &answer["stamps_required"].to_string()),
                    ],
                )
            };
            card_page(
                &state,
                &wallet,
                member.as_str(),
                None,
                notice,
                FormErrors::default(),
            )
            .await
        }
        Err(errors) => Ok(unprocessable(render(&CollectPage {
            lang: wallet.lang,
            csrf: wallet.csrf.clone(),
            code,
            what,
            member: Some(member),
            errors,
        })?)),
    }
}
