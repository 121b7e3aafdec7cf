//! Template reads: a program's templates, one template, and a template filled in for one member
//! (the preview an operator checks before a campaign, and what a message will say).

use crate::earning;
use crate::reads::{found, member_of, program_of};
use crate::usecases::templates::view;
use crate::{CoreError, StepResult, Tally};
use serde_json::{Value, json};
use std::collections::BTreeMap;
use tally_domain::Currency;
use tally_domain::Timestamp;
use tally_domain::ids::{MemberId, ProgramId, TemplateId, TenantId};
use tally_domain::model::Member;
use tally_domain::program::Program;
use tally_domain::templates::TemplateInput;
use tally_store::Conn;
use tally_store::Database;
use tally_store::queries::Page;
use tally_store::queries::templates as store;
use tally_store::queries::{insights, lots};

/// `1250` minor units of EUR → `12.50 EUR`.
fn money(minor: i64, currency: Currency) -> String {
    let per = currency.minor_per_major();
    let digits = usize::from(currency.minor_digits());
    if digits == 0 {
        return format!("{minor} {}", currency.code());
    }
    let sign = if minor < 0 { "-" } else { "" };
    let abs = minor.unsigned_abs();
    let per = per.unsigned_abs();
    format!(
        "{sign}{}.{:0digits$} {}",
        abs / per,
        abs % per,
        currency.code()
    )
}

/// What each placeholder says for a member: name, card, points, expiring points, tier,
/// cashback, next-best products, the wallet link. On any connection, so a message is filled in
/// inside the transaction that sends it. `uses` says whether the template names a
/// placeholder (or a group of them, `tier.`): what it does not use is not looked up, which
/// spares a delivery the queries.
pub(crate) async fn placeholder_values<C: Conn>(
    c: &mut C,
    program: &Program,
    m: &Member,
    now: Timestamp,
    uses: &(dyn Fn(&str) -> bool + Sync),
) -> StepResult<BTreeMap<&'static str, String>> {
    let points = |n: i64| format!("{n} {}", program.points_name);
    let name = m.name.clone().unwrap_or_default();
    let mut v: BTreeMap<&'static str, String> = BTreeMap::new();
    v.insert(
        "member.first_name",
        name.split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned(),
    );
    v.insert("member.name", name);
    v.insert("member.card_number", m.card.number.clone());
    v.insert("program.name", program.name.clone());
    v.insert("points.balance", points(m.balance.available.value()));
    v.insert("points.pending", points(m.balance.pending.value()));
    if uses("points.expiring")
        && let Some((at, n)) = lots::upcoming(c, &m.id).await?.first()
    {
        let day = at.to_zoned(jiff::tz::TimeZone::UTC).date();
        v.insert("points.expiring", format!("{} on {day}", points(*n)));
    }
    let compiled = earning::active_rules(c, program).await?;
    if uses("tier.")
        && let Some(plan) = compiled.tier_plan.as_ref()
    {
        let tier = crate::tiers::status(c, plan, &compiled.time_zone, &m.id, now).await?;
        v.insert("tier.name", tier.tier.clone().unwrap_or_default());
        if let Some(next) = &tier.next {
            v.insert(
                "tier.next",
                format!("{} more for {}", next.needed, next.name),
            );
        }
    }
    if uses("cashback.") {
        let cashback = tally_store::queries::cashback::balance(c, &m.id).await?;
        v.insert("cashback.balance", money(cashback, program.currency));
    }
    if uses("products.")
        && let Some(insights) = insights::member_details(c, &m.id).await?
    {
        let products: Vec<&str> = insights["next_products"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        v.insert("products.next_best", products.join(", "));
    }
    v.insert("wallet_url", format!("/wallet/cards/{}", m.id));
    Ok(v)
}

impl<D: Database> Tally<D> {
    pub async fn templates(
        &self,
        tenant: &TenantId,
        program: &ProgramId,
        cursor: Option<i64>,
        limit: Option<i64>,
    ) -> Result<Page<Value>, CoreError> {
        let mut c = self.read().await?;
        program_of(&mut c, tenant, program).await?;
        let page = store::list(&mut c, program, cursor, limit).await?;
        Ok(Page {
            items: page.items.iter().map(view).collect(),
            next_cursor: page.next_cursor,
        })
    }

    pub async fn template(&self, tenant: &TenantId, id: &TemplateId) -> Result<Value, CoreError> {
        let row = found(
            store::get(&mut self.read().await?, tenant, id).await?,
            "template",
        )?;
        Ok(view(&row))
    }

    /// What each placeholder says for a member (see [`placeholder_values`]).
    pub async fn placeholder_values(
        &self,
        tenant: &TenantId,
        member: &MemberId,
    ) -> Result<BTreeMap<&'static str, String>, CoreError> {
        let mut c = self.read().await?;
        let m = member_of(&mut c, tenant, member).await?;
        let program = program_of(&mut c, tenant, &m.program_id).await?;
        let every = |_: &str| true;
        Ok(placeholder_values(&mut c, &program, &m, self.clock.now(), &every).await?)
    }

    /// A template filled in for one member: `{"subject", "html", "text"}`.
    pub async fn template_preview(
        &self,
        tenant: &TenantId,
        id: &TemplateId,
        member: &MemberId,
    ) -> Result<Value, CoreError> {
        let row = found(
            store::get(&mut self.read().await?, tenant, id).await?,
            "template",
        )?;
        let m = self.member(tenant, member).await?;
        if m.program_id != row.program_id {
            // Another program's member is not one this template can be filled in for.
            return Err(CoreError::Domain(tally_domain::DomainError::not_found(
                "member",
            )));
        }
        let template = TemplateInput::parse(&json!({
            "name": row.name, "subject": row.subject, "html": row.html, "text": row.text,
        }))?;
        let values = self.placeholder_values(tenant, member).await?;
        let (subject, html, text) = template.render(&values);
        Ok(
            json!({ "template_id": row.id, "member_id": member, "subject": subject, "html": html, "text": text }),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::money;
    use tally_domain::Currency;

    #[test]
    fn money_is_written_with_its_currency() {
        let eur = Currency::parse("EUR").unwrap();
        assert_eq!(money(1250, eur), "12.50 EUR");
        assert_eq!(money(5, eur), "0.05 EUR");
        assert_eq!(money(-150, eur), "-1.50 EUR");
        assert_eq!(money(700, Currency::parse("JPY").unwrap()), "700 JPY");
    }
}
