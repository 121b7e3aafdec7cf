//! The document's examples against the server, and the answers against its schemas.

use super::*;

/// The JSON request example `key` (or the single `example`) of an operation.
pub(super) fn request_example(spec: &Value, operation_id: &str, key: Option<&str>) -> Value {
    let op = operations(spec)
        .into_iter()
        .find(|o| o.op["operationId"] == operation_id)
        .expect("the operation")
        .op;
    let content = &op["requestBody"]["content"]["application/json"];
    match key {
        None => content["example"].clone(),
        Some(key) => content["examples"][key]["value"].clone(),
    }
}

/// The success schema of an operation, by status.
pub(super) fn response_schema(spec: &Value, operation_id: &str, status: u16) -> Value {
    let op = operations(spec)
        .into_iter()
        .find(|o| o.op["operationId"] == operation_id)
        .expect("the operation")
        .op;
    let response = resolve(spec, &op["responses"][status.to_string()]).clone();
    response["content"]["application/json"]["schema"].clone()
}

/// GETs each operation's URL with a read key: 200, with an answer of the documented shape.
pub(super) async fn reads_match<'a>(
    server: &Server,
    spec: &Value,
    reads: impl IntoIterator<Item = (&'a str, String)>,
) {
    for (operation_id, url) in reads {
        let answer = server.send("GET", &url, Some("read"), None).await;
        assert_eq!(answer.status, 200, "{operation_id}: {:#}", answer.json());
        assert_matches(
            spec,
            &response_schema(spec, operation_id, 200),
            &answer.json(),
            &format!("the answer of {operation_id}"),
        );
    }
}

/// Replaces the example ids of the document with the ids of what the test created.
fn substitute(value: &Value, ids: &BTreeMap<String, String>) -> Value {
    match value {
        Value::String(s) => Value::String(ids.get(s).cloned().unwrap_or_else(|| s.clone())),
        Value::Array(a) => Value::Array(a.iter().map(|v| substitute(v, ids)).collect()),
        Value::Object(m) => Value::Object(
            m.iter()
                .map(|(k, v)| (k.clone(), substitute(v, ids)))
                .collect(),
        ),
        other => other.clone(),
    }
}

pub(super) fn example_id(spec: &Value, schema: &str) -> String {
    spec["components"]["schemas"][schema]["examples"][0]
        .as_str()
        .expect("an example id")
        .to_owned()
}

// Runs the example of an operation and checks the answer against the documented schema.
pub(super) async fn run(
    server: &Server,
    spec: &Value,
    ids: &BTreeMap<String, String>,
    (operation_id, example): (&str, Option<&str>),
    (method, url, scope, status): (&str, &str, &str, u16),
) -> Value {
    let body = substitute(&request_example(spec, operation_id, example), ids);
    assert!(
        body.is_object(),
        "{operation_id} has an example {example:?}"
    );
    let answer = server.send(method, url, Some(scope), Some(&body)).await;
    let value = answer.json();
    assert_eq!(
        answer.status, status,
        "{operation_id} example {example:?} answered {value:#}"
    );
    assert_eq!(answer.content_type, "application/json");
    assert_matches(
        spec,
        &response_schema(spec, operation_id, status),
        &value,
        &format!("the answer of {operation_id}"),
    );
    value
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_request_examples_are_accepted_and_answers_have_the_documented_shape() {
    let spec = spec();
    let server = Server::start().await;
    let mut ids: BTreeMap<String, String> = BTreeMap::new();

    let program = run(
        &server,
        &spec,
        &ids,
        ("createProgram", None),
        ("POST", "/api/v1/programs", "admin", 201),
    )
    .await;
    let p = program["id"].as_str().unwrap().to_owned();
    ids.insert(example_id(&spec, "ProgramId"), p.clone());

    let member = run(
        &server,
        &spec,
        &ids,
        ("enrollMember", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/members"),
            "write",
            201,
        ),
    )
    .await;
    let m = member["id"].as_str().unwrap().to_owned();
    ids.insert(example_id(&spec, "MemberId"), m.clone());
    let card_example = spec["components"]["schemas"]["Card"]["properties"]["number"]["examples"][0]
        .as_str()
        .unwrap()
        .to_owned();
    ids.insert(
        card_example,
        member["card"]["number"].as_str().unwrap().to_owned(),
    );

    let location = run(
        &server,
        &spec,
        &ids,
        ("createLocation", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/locations"),
            "admin",
            201,
        ),
    )
    .await;
    ids.insert(
        example_id(&spec, "LocationId"),
        location["id"].as_str().unwrap().to_owned(),
    );
    let reward = run(
        &server,
        &spec,
        &ids,
        ("createReward", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/rewards"),
            "admin",
            201,
        ),
    )
    .await;
    let r = reward["id"].as_str().unwrap().to_owned();
    ids.insert(example_id(&spec, "RewardId"), r.clone());

    let purchases = format!("/api/v1/programs/{p}/purchases");
    let basket = run(
        &server,
        &spec,
        &ids,
        ("recordPurchase", Some("basket")),
        ("POST", &purchases, "write", 201),
    )
    .await;
    assert_eq!(
        basket["points_earned"], 38,
        "25.99 PLN at 1.5 points, rounded down"
    );
    let again = run(
        &server,
        &spec,
        &ids,
        ("recordPurchase", Some("basket")),
        ("POST", &purchases, "write", 201),
    )
    .await;
    assert_eq!(again, basket, "the same order answers the same");
    run(
        &server,
        &spec,
        &ids,
        ("recordPurchase", Some("total_only")),
        ("POST", &purchases, "write", 201),
    )
    .await;

    let adjustments = format!("/api/v1/members/{m}/adjustments");
    run(
        &server,
        &spec,
        &ids,
        ("adjustPoints", Some("give")),
        ("POST", &adjustments, "write", 201),
    )
    .await;
    run(
        &server,
        &spec,
        &ids,
        ("adjustPoints", Some("take")),
        ("POST", &adjustments, "write", 201),
    )
    .await;

    let redemption = run(
        &server,
        &spec,
        &ids,
        ("redeemReward", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/redemptions"),
            "write",
            201,
        ),
    )
    .await;

    let returns = format!("/api/v1/programs/{p}/returns");
    for example in ["lines", "amount", "full"] {
        run(
            &server,
            &spec,
            &ids,
            ("recordReturn", Some(example)),
            ("POST", &returns, "write", 201),
        )
        .await;
    }
    run(
        &server,
        &spec,
        &ids,
        ("updateMember", None),
        ("PATCH", &format!("/api/v1/members/{m}"), "write", 200),
    )
    .await;
    run(
        &server,
        &spec,
        &ids,
        ("updateReward", None),
        ("PATCH", &format!("/api/v1/rewards/{r}"), "admin", 200),
    )
    .await;

    // The reads answer with the documented shapes too.
    let purchase_id = basket["purchase_id"].as_str().unwrap();
    let redemption_id = redemption["id"].as_str().unwrap();
    let code = redemption["code"].as_str().unwrap();
    let location_id = location["id"].as_str().unwrap();
    let reads = [
        ("listPrograms", "/api/v1/programs".to_owned()),
        ("getProgram", format!("/api/v1/programs/{p}")),
        ("getProgramTotals", format!("/api/v1/programs/{p}/totals")),
        (
            "listMembers",
            format!("/api/v1/programs/{p}/members?limit=1"),
        ),
        (
            "lookupMember",
            format!("/api/v1/programs/{p}/members/lookup?external_id=c-42"),
        ),
        ("getMember", format!("/api/v1/members/{m}")),
        ("getMemberHistory", format!("/api/v1/members/{m}/history")),
        (
            "listMemberPurchases",
            format!("/api/v1/members/{m}/purchases"),
        ),
        (
            "listMemberRedemptions",
            format!("/api/v1/members/{m}/redemptions"),
        ),
        ("getPurchase", format!("/api/v1/purchases/{purchase_id}")),
        ("listRewards", format!("/api/v1/programs/{p}/rewards")),
        ("getReward", format!("/api/v1/rewards/{r}")),
        (
            "checkRedemptionCode",
            format!(
                "/api/v1/programs/{p}/redemptions/check?code={}",
                code.to_lowercase()
            ),
        ),
        (
            "getRedemption",
            format!("/api/v1/redemptions/{redemption_id}"),
        ),
        ("listLocations", format!("/api/v1/programs/{p}/locations")),
        ("getLocation", format!("/api/v1/locations/{location_id}")),
        ("listAuditLog", "/api/v1/audit-log".to_owned()),
    ];
    for (operation_id, url) in reads {
        let answer = server.send("GET", &url, Some("admin"), None).await;
        assert_eq!(answer.status, 200, "{operation_id}: {:#}", answer.json());
        assert_matches(
            &spec,
            &response_schema(&spec, operation_id, 200),
            &answer.json(),
            &format!("the answer of {operation_id}"),
        );
    }
    // Rules: create, dry-run (with drafts), a new version, a status; then their reads.
    let rule = run(
        &server,
        &spec,
        &ids,
        ("createRule", None),
        ("POST", &format!("/api/v1/programs/{p}/rules"), "admin", 201),
    )
    .await;
    let rule_id = rule["id"].as_str().unwrap().to_owned();
    let tried = run(
        &server,
        &spec,
        &ids,
        ("simulatePurchase", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/rules/simulate"),
            "read",
            200,
        ),
    )
    .await;
    assert_eq!(tried["rule_points"], 20, "the draft gives 2 records × 10");
    let replay = run(
        &server,
        &spec,
        &ids,
        ("backtestRules", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/rules/backtest"),
            "read",
            200,
        ),
    )
    .await;
    assert!(
        replay["purchases"].as_i64().unwrap() >= 1,
        "the purchases above are replayed"
    );
    let replaced = run(
        &server,
        &spec,
        &ids,
        ("replaceRule", None),
        ("PUT", &format!("/api/v1/rules/{rule_id}"), "admin", 200),
    )
    .await;
    assert_eq!(replaced["version"], 2);
    run(
        &server,
        &spec,
        &ids,
        ("setRuleStatus", None),
        ("PATCH", &format!("/api/v1/rules/{rule_id}"), "admin", 200),
    )
    .await;
    run(
        &server,
        &spec,
        &ids,
        ("setTierPlan", None),
        ("PUT", &format!("/api/v1/programs/{p}/tiers"), "admin", 200),
    )
    .await;
    run(
        &server,
        &spec,
        &ids,
        ("setExpiryPolicy", None),
        (
            "PUT",
            &format!("/api/v1/programs/{p}/expiry-policy"),
            "admin",
            200,
        ),
    )
    .await;
    // Custom events: declare the type, a rule for it, then post the example event.
    run(
        &server,
        &spec,
        &ids,
        ("putEventType", None),
        (
            "PUT",
            &format!("/api/v1/programs/{p}/event-types/check_in"),
            "admin",
            200,
        ),
    )
    .await;
    let check_in_rule = json!({"name": "Check-in", "trigger": "event", "event_type": "check_in",
        "condition": "event.properties.visitors >= 1", "effect": {"points": "event.properties.visitors * 5"}});
    let answer = server
        .send(
            "POST",
            &format!("/api/v1/programs/{p}/rules"),
            Some("admin"),
            Some(&check_in_rule),
        )
        .await;
    assert_eq!(answer.status, 201, "an event rule: {:#}", answer.json());
    let event = run(
        &server,
        &spec,
        &ids,
        ("recordEvent", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/events"),
            "write",
            201,
        ),
    )
    .await;
    assert_eq!(event["points_earned"], 10, "2 visitors × 5");
    reads_match(
        &server,
        &spec,
        [
            (
                "listEventTypes",
                format!("/api/v1/programs/{p}/event-types"),
            ),
            (
                "getEventType",
                format!("/api/v1/programs/{p}/event-types/check_in"),
            ),
            ("listMemberEvents", format!("/api/v1/members/{m}/events")),
        ],
    )
    .await;
    run(
        &server,
        &spec,
        &ids,
        ("setReferralPolicy", None),
        (
            "PUT",
            &format!("/api/v1/programs/{p}/referral-policy"),
            "admin",
            200,
        ),
    )
    .await;
    // Stamp cards: create and change one, stamp it by the cashier and by the store's code.
    let card = run(
        &server,
        &spec,
        &ids,
        ("createStampCard", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/stamp-cards"),
            "admin",
            201,
        ),
    )
    .await;
    let card_id = card["id"].as_str().unwrap().to_owned();
    ids.insert(example_id(&spec, "StampCardId"), card_id.clone());
    let card_path = format!("/api/v1/stamp-cards/{card_id}");
    run(
        &server,
        &spec,
        &ids,
        ("replaceStampCard", None),
        ("PUT", &card_path, "admin", 200),
    )
    .await;
    let given = run(
        &server,
        &spec,
        &ids,
        ("giveStamps", None),
        ("POST", &format!("{card_path}/stamps"), "write", 201),
    )
    .await;
    assert_eq!(given["stamps_added"], 1);
    let shown = run(
        &server,
        &spec,
        &ids,
        ("getStampDisplayCode", None),
        ("POST", &format!("{card_path}/display-code"), "write", 200),
    )
    .await;
    // The document's code is a placeholder: scan the one the display shows.
    ids.insert(
        "7K3QF9PX2M4N6R8T".into(),
        shown["code"].as_str().unwrap().to_owned(),
    );
    let scanned = run(
        &server,
        &spec,
        &ids,
        ("scanStampCode", None),
        (
            "POST",
            &format!("/api/v1/members/{m}/stamp-scans"),
            "write",
            201,
        ),
    )
    .await;
    assert_eq!(scanned["stamps"], 2);
    reads_match(
        &server,
        &spec,
        [
            (
                "listStampCards",
                format!("/api/v1/programs/{p}/stamp-cards"),
            ),
            ("getStampCard", card_path.clone()),
            ("listMemberStamps", format!("/api/v1/members/{m}/stamps")),
            (
                "getReferralPolicy",
                format!("/api/v1/programs/{p}/referral-policy"),
            ),
            (
                "listMemberReferrals",
                format!("/api/v1/members/{m}/referrals"),
            ),
        ],
    )
    .await;
    run(
        &server,
        &spec,
        &ids,
        ("setStampCardStatus", None),
        ("PATCH", &card_path, "admin", 200),
    )
    .await;
    reads_match(
        &server,
        &spec,
        [
            (
                "getExpiryPolicy",
                format!("/api/v1/programs/{p}/expiry-policy"),
            ),
            (
                "listUpcomingExpiries",
                format!("/api/v1/members/{m}/expiring"),
            ),
            ("getTierPlan", format!("/api/v1/programs/{p}/tiers")),
            ("getMemberTier", format!("/api/v1/members/{m}/tier")),
            (
                "listMemberTierChanges",
                format!("/api/v1/members/{m}/tier/history"),
            ),
            ("listRules", format!("/api/v1/programs/{p}/rules")),
            ("getRule", format!("/api/v1/rules/{rule_id}")),
            (
                "listRuleVersions",
                format!("/api/v1/rules/{rule_id}/versions"),
            ),
        ],
    )
    .await;

    let members = server
        .send(
            "GET",
            &format!("/api/v1/programs/{p}/members?limit=1"),
            Some("read"),
            None,
        )
        .await
        .json();
    assert_eq!(members["items"].as_array().map(Vec::len), Some(1));

    // The writes without a body.
    for (operation_id, url) in [
        (
            "rotateCardToken",
            format!("/api/v1/members/{m}/card/rotate"),
        ),
        (
            "consumeRedemption",
            format!("/api/v1/redemptions/{redemption_id}/consume"),
        ),
    ] {
        let answer = server.send("POST", &url, Some("write"), None).await;
        assert_eq!(answer.status, 200, "{operation_id}: {:#}", answer.json());
        assert_matches(
            &spec,
            &response_schema(&spec, operation_id, 200),
            &answer.json(),
            &format!("the answer of {operation_id}"),
        );
    }
    // Segments: a preview, a new segment (evaluated), and its reads.
    let preview = run(
        &server,
        &spec,
        &ids,
        ("previewSegment", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/segments/preview"),
            "read",
            200,
        ),
    )
    .await;
    assert!(preview["members"].as_u64().unwrap() >= 1);
    let segment = run(
        &server,
        &spec,
        &ids,
        ("createSegment", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/segments"),
            "admin",
            201,
        ),
    )
    .await;
    let segment_id = segment["id"].as_str().unwrap().to_owned();
    reads_match(
        &server,
        &spec,
        [
            ("listSegments", format!("/api/v1/programs/{p}/segments")),
            ("getSegment", format!("/api/v1/segments/{segment_id}")),
            (
                "listSegmentMembers",
                format!("/api/v1/segments/{segment_id}/members"),
            ),
            (
                "listSegmentChanges",
                format!("/api/v1/segments/{segment_id}/changes"),
            ),
            (
                "getSegmentSizes",
                format!("/api/v1/segments/{segment_id}/sizes"),
            ),
            ("getMemberSegments", format!("/api/v1/members/{m}/segments")),
        ],
    )
    .await;

    // Customer insights: a run, then what it stored.
    let answer = server
        .send(
            "POST",
            &format!("/api/v1/programs/{p}/insights/run"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(
        answer.status,
        200,
        "runProgramInsights: {:#}",
        answer.json()
    );
    assert_matches(
        &spec,
        &response_schema(&spec, "runProgramInsights", 200),
        &answer.json(),
        "the answer of runProgramInsights",
    );
    reads_match(
        &server,
        &spec,
        [
            (
                "getProgramInsights",
                format!("/api/v1/programs/{p}/insights"),
            ),
            (
                "listMembersByStage",
                format!("/api/v1/programs/{p}/insights/members?stage=new"),
            ),
            ("getMemberInsights", format!("/api/v1/members/{m}/insights")),
        ],
    )
    .await;
    let top_up = json!({ "points": 1000, "reason": "test top-up" });
    assert_eq!(
        server
            .send("POST", &adjustments, Some("write"), Some(&top_up))
            .await
            .status,
        201
    );
    let second = run(
        &server,
        &spec,
        &ids,
        ("redeemReward", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/redemptions"),
            "write",
            201,
        ),
    )
    .await;
    let answer = server
        .send(
            "POST",
            &format!(
                "/api/v1/redemptions/{}/cancel",
                second["id"].as_str().unwrap()
            ),
            Some("write"),
            None,
        )
        .await;
    assert_eq!(answer.status, 200, "cancel: {:#}", answer.json());
    assert_matches(
        &spec,
        &response_schema(&spec, "cancelRedemption", 200),
        &answer.json(),
        "the answer of cancelRedemption",
    );

    super::examples_vouchers::vouchers_and_charities(&server, &spec, &mut ids, &p, &m).await;
    super::examples_offers::offers(&server, &spec, &mut ids, &p, &m).await;
    super::examples_offers::cashback(&server, &spec, &mut ids, &p, &m).await;
    super::examples_offers::fulfilment(&server, &spec, &mut ids, &p, &m).await;
    super::examples_offers::friend_deal(&server, &spec, &p, &m).await;
    super::examples_messages::templates(&server, &spec, &mut ids, &p, &m).await;
    super::examples_messages::messages(&server, &spec, &ids, &p, &m).await;
    super::examples_messages::campaigns(&server, &spec, &ids, &p).await;
    super::examples_messages::journeys(&server, &spec, &ids, &p, &m).await;
    super::examples_messages::playbooks(&server, &spec, &p).await;
    super::examples_webhooks::webhooks(&server, &spec, &mut ids, &p).await;
    super::examples_webhooks::push(&server, &spec, &ids, &m).await;

    // A refusal is a documented problem.
    let invalid = server
        .send(
            "POST",
            &purchases,
            Some("write"),
            Some(&json!({ "order_id": "A-1", "ammount": 1 })),
        )
        .await;
    assert_eq!(
        (invalid.status, invalid.content_type.as_str()),
        (422, "application/problem+json")
    );
    assert_matches(
        &spec,
        &json!({ "$ref": "#/components/schemas/Problem" }),
        &invalid.json(),
        "a validation problem",
    );
}
