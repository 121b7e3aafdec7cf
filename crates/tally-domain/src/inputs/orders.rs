//! Purchases and returns.

use super::*;

#[derive(Clone, Debug, PartialEq)]
pub struct LineInput {
    pub sku: String,
    pub name: Option<String>,
    pub category: Option<String>,
    pub brand: Option<String>,
    pub quantity: i64,
    pub unit_price_minor: i64,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewPurchase {
    pub order_id: String,
    pub member: MemberRef,
    pub total: Money,
    pub lines: Vec<LineInput>,
    pub channel: SalesChannel,
    pub location_id: Option<LocationId>,
    pub occurred_at: Option<Timestamp>,
}

pub const MAX_QUANTITY: i64 = 1_000_000;

impl NewPurchase {
    pub fn parse(body: &Value) -> Result<NewPurchase, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &[
                "order_id",
                "member",
                "total",
                "lines",
                "channel",
                "location_id",
                "occurred_at",
            ],
        );
        let order_id = o.req(&mut f, "order_id", identifier);
        let member = o
            .obj(&mut f, "member", true)
            .and_then(|m| MemberRef::parse(&m, &mut f));
        let total = o.obj(&mut f, "total", true).and_then(|t| {
            t.only(&mut f, &["amount_minor", "currency"]);
            let amount_minor = t.req(&mut f, "amount_minor", int(0, Money::MAX_AMOUNT_MINOR));
            let currency = t.req(&mut f, "currency", currency);
            Some(Money {
                amount_minor: amount_minor?,
                currency: currency?,
            })
        });
        let lines = parse_lines(&o, &mut f);
        let channel = o
            .opt(&mut f, "channel", parse_with(SalesChannel::parse))
            .unwrap_or(SalesChannel::Pos);
        let location_id = o.opt(&mut f, "location_id", parse_with(LocationId::parse));
        let occurred_at = o.opt(&mut f, "occurred_at", timestamp);
        f.finish()?;
        Ok(NewPurchase {
            order_id: order_id.expect("checked"),
            member: member.expect("checked"),
            total: total.expect("checked"),
            lines,
            channel,
            location_id,
            occurred_at,
        })
    }
}

/// The `lines` of a purchase or a basket: each sku once, quantities and prices in range.
pub(crate) fn parse_lines(o: &Obj<'_>, f: &mut Fields) -> Vec<LineInput> {
    let lines = o
        .objects(f, "lines", MAX_LINES)
        .iter()
        .filter_map(|l| {
            l.only(
                f,
                &[
                    "sku",
                    "name",
                    "category",
                    "brand",
                    "quantity",
                    "unit_price_minor",
                ],
            );
            let sku = l.req(f, "sku", identifier);
            let name = l.opt(f, "name", text(NAME_CHARS));
            let category = l.opt(f, "category", identifier);
            let brand = l.opt(f, "brand", text(NAME_CHARS));
            let quantity = l.req(f, "quantity", int(1, MAX_QUANTITY));
            let unit_price_minor = l.req(
                f,
                "unit_price_minor",
                int(0, Money::MAX_AMOUNT_MINOR / MAX_QUANTITY),
            );
            Some(LineInput {
                sku: sku?,
                name,
                category,
                brand,
                quantity: quantity?,
                unit_price_minor: unit_price_minor?,
            })
        })
        .collect::<Vec<_>>();
    let mut skus: Vec<&str> = lines.iter().map(|l| l.sku.as_str()).collect();
    skus.sort_unstable();
    if skus.windows(2).any(|w| w[0] == w[1]) {
        f.push(
            o.pointer("lines"),
            "each sku may appear once; put the quantity on one line",
        );
    }
    lines
}

/// What is returned: some lines (by sku and quantity) or an amount of the order total.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ReturnScope {
    Lines(Vec<(String, i64)>),
    Amount(i64),
    /// Everything not yet returned.
    Full,
}

#[derive(Clone, Debug, PartialEq)]
pub struct NewReturn {
    pub order_id: String,
    pub scope: ReturnScope,
    pub occurred_at: Option<Timestamp>,
}

impl NewReturn {
    pub fn parse(body: &Value) -> Result<NewReturn, DomainError> {
        let o = Obj::root(body)?;
        let mut f = Fields::new();
        o.only(
            &mut f,
            &["order_id", "lines", "amount_minor", "occurred_at"],
        );
        let order_id = o.req(&mut f, "order_id", identifier);
        let occurred_at = o.opt(&mut f, "occurred_at", timestamp);
        let scope = match (o.has("lines"), o.has("amount_minor")) {
            (true, true) => {
                f.push(
                    "/amount_minor",
                    "give either lines or amount_minor, not both",
                );
                None
            }
            (false, false) => Some(ReturnScope::Full),
            (false, true) => o
                .req(&mut f, "amount_minor", int(1, Money::MAX_AMOUNT_MINOR))
                .map(ReturnScope::Amount),
            (true, false) => {
                let lines: Vec<(String, i64)> = o
                    .objects(&mut f, "lines", MAX_LINES)
                    .iter()
                    .filter_map(|l| {
                        l.only(&mut f, &["sku", "quantity"]);
                        let sku = l.req(&mut f, "sku", identifier);
                        let quantity = l.req(&mut f, "quantity", int(1, MAX_QUANTITY));
                        Some((sku?, quantity?))
                    })
                    .collect();
                // Only when no line was given: invalid lines are named by their own pointers.
                if o.map
                    .get("lines")
                    .and_then(Value::as_array)
                    .is_none_or(Vec::is_empty)
                {
                    f.push("/lines", "must list at least one line");
                }
                let mut skus: Vec<&str> = lines.iter().map(|(sku, _)| sku.as_str()).collect();
                skus.sort_unstable();
                if skus.windows(2).any(|w| w[0] == w[1]) {
                    f.push(
                        "/lines",
                        "each sku may appear once; put the quantity on one line",
                    );
                }
                Some(ReturnScope::Lines(lines))
            }
        };
        f.finish()?;
        Ok(NewReturn {
            order_id: order_id.expect("checked"),
            scope: scope.expect("checked"),
            occurred_at,
        })
    }
}
