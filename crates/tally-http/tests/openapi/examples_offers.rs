//! The document's examples for offers and deals, run against the server as part of the tour in
//! `examples.rs` (after a program `p`, a member `m` and a charity exist), cashback and the
//! fulfilment of a physical reward.

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

/// A physical reward redeemed with an address, shipped, and the queue of what to send.
pub(super) async fn fulfilment(
    server: &Server,
    spec: &Value,
    ids: &mut BTreeMap<String, String>,
    p: &str,
    m: &str,
) {
    let tote = json!({"name": "Tote bag", "cost_points": 1, "kind": "physical"});
    let reward = server
        .send(
            "POST",
            &format!("/api/v1/programs/{p}/rewards"),
            Some("admin"),
            Some(&tote),
        )
        .await;
    assert_eq!(reward.status, 201, "{:#}", reward.json());
    let top_up = json!({ "points": 5, "reason": "tote" });
    let adjustments = format!("/api/v1/members/{m}/adjustments");
    server
        .send("POST", &adjustments, Some("write"), Some(&top_up))
        .await;
    let redeem = json!({"member": {"id": m}, "reward_id": reward.json()["id"],
        "delivery_address": {"name": "Ann Nowak", "line1": "ul. Długa 5", "postal_code": "00-238",
                             "city": "Warszawa", "country": "PL"}});
    let redeemed = server
        .send(
            "POST",
            &format!("/api/v1/programs/{p}/redemptions"),
            Some("write"),
            Some(&redeem),
        )
        .await;
    assert_eq!(redeemed.status, 201, "{:#}", redeemed.json());
    let id = redeemed.json()["id"].as_str().unwrap().to_owned();
    run(
        server,
        spec,
        ids,
        ("fulfilRedemption", None),
        (
            "POST",
            &format!("/api/v1/redemptions/{id}/fulfilment"),
            "write",
            200,
        ),
    )
    .await;
    reads_match(
        server,
        spec,
        [("listFulfilment", format!("/api/v1/programs/{p}/fulfilment"))],
    )
    .await;
}

/// A friend deal: a member starts a group, another joins it with its code.
pub(super) async fn friend_deal(server: &Server, spec: &Value, p: &str, m: &str) {
    let deal = json!({"name": "Bring a friend", "benefit": {"points": 50},
        "group": {"size": 2, "within_hours": 48}});
    let created = server
        .send(
            "POST",
            &format!("/api/v1/programs/{p}/offers"),
            Some("admin"),
            Some(&deal),
        )
        .await;
    assert_eq!(created.status, 201, "{:#}", created.json());
    let offer = created.json()["id"].as_str().unwrap().to_owned();
    let started = server
        .send(
            "POST",
            &format!("/api/v1/members/{m}/offers/{offer}/group"),
            Some("write"),
            None,
        )
        .await;
    assert_eq!(started.status, 200, "{:#}", started.json());
    assert_matches(
        spec,
        &response_schema(spec, "startOfferGroup", 200),
        &started.json(),
        "the answer of startOfferGroup",
    );
    let friend = server
        .send(
            "POST",
            &format!("/api/v1/programs/{p}/members"),
            Some("write"),
            Some(&json!({"name": "A friend"})),
        )
        .await
        .json();
    let mut ids = BTreeMap::new();
    let example = super::examples::request_example(spec, "joinOfferGroup", None);
    ids.insert(
        example["code"].as_str().unwrap().to_owned(),
        started.json()["code"].as_str().unwrap().to_owned(),
    );
    let friend_id = friend["id"].as_str().unwrap();
    let joined = run(
        server,
        spec,
        &ids,
        ("joinOfferGroup", None),
        (
            "POST",
            &format!("/api/v1/members/{friend_id}/offer-groups"),
            "write",
            200,
        ),
    )
    .await;
    assert_eq!(joined["unlocked"], true);
}
