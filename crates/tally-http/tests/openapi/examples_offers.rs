//! The document's examples for offers and deals, run against the server as part of the tour in
//! `examples.rs` (after a program `p`, a member `m` and a charity exist), and cashback.

use super::examples::{example_id, reads_match, response_schema, run};
use super::*;

pub(super) async fn offers(
    server: &Server,
    spec: &Value,
    ids: &mut BTreeMap<String, String>,
    p: &str,
    m: &str,
) {
    let create = format!("/api/v1/programs/{p}/offers");
    let mut offer_id = String::new();
    for example in ["double_points", "loyalty", "charity"] {
        let offer = run(
            server,
            spec,
            ids,
            ("createOffer", Some(example)),
            ("POST", &create, "admin", 201),
        )
        .await;
        if example == "double_points" {
            offer_id = offer["id"].as_str().unwrap().to_owned();
        }
    }
    ids.insert(example_id(spec, "OfferId"), offer_id.clone());
    let activated = server
        .send(
            "POST",
            &format!("/api/v1/members/{m}/offers/{offer_id}/activate"),
            Some("write"),
            None,
        )
        .await;
    assert_eq!(activated.status, 200, "activate: {:#}", activated.json());
    assert_matches(
        spec,
        &response_schema(spec, "activateOffer", 200),
        &activated.json(),
        "the answer of activateOffer",
    );
    reads_match(
        server,
        spec,
        [
            ("listOffers", create.clone()),
            ("getOffer", format!("/api/v1/offers/{offer_id}")),
            (
                "getOfferReport",
                format!("/api/v1/offers/{offer_id}/report"),
            ),
            ("listMemberOffers", format!("/api/v1/members/{m}/offers")),
        ],
    )
    .await;
    run(
        server,
        spec,
        ids,
        ("setOfferStatus", None),
        ("PATCH", &format!("/api/v1/offers/{offer_id}"), "admin", 200),
    )
    .await;
}

/// Cashback: a rule gives it, the till pays with it and gives it back, the member's cashback.
pub(super) async fn cashback(
    server: &Server,
    spec: &Value,
    ids: &mut BTreeMap<String, String>,
    p: &str,
    m: &str,
) {
    let rule =
        json!({"name": "5 % back", "trigger": "purchase", "effect": {"cashback": {"percent": 5}}});
    let rules = format!("/api/v1/programs/{p}/rules");
    assert_eq!(
        server
            .send("POST", &rules, Some("admin"), Some(&rule))
            .await
            .status,
        201
    );
    let purchase = json!({"order_id": "cashback-1", "member": {"id": m},
        "total": {"amount_minor": 10000, "currency": "PLN"}});
    let purchases = format!("/api/v1/programs/{p}/purchases");
    let bought = server
        .send("POST", &purchases, Some("write"), Some(&purchase))
        .await;
    assert_eq!(bought.status, 201, "{:#}", bought.json());
    for (operation_id, action) in [("payWithCashback", "pay"), ("refundCashback", "refund")] {
        run(
            server,
            spec,
            ids,
            (operation_id, None),
            (
                "POST",
                &format!("/api/v1/programs/{p}/cashback/{action}"),
                "write",
                200,
            ),
        )
        .await;
    }
    reads_match(
        server,
        spec,
        [
            ("getMemberCashback", format!("/api/v1/members/{m}/cashback")),
            ("getProgramTotals", format!("/api/v1/programs/{p}/totals")),
        ],
    )
    .await;
}
