//! The document's examples for messages (templates), run against the server as part of the
//! tour in `examples.rs` (after a program `p` and a member `m` exist).

use super::examples::{example_id, reads_match, response_schema, run};
use super::*;

/// A message template, replaced, and previewed for the member.
pub(super) async fn templates(
    server: &Server,
    spec: &Value,
    ids: &mut BTreeMap<String, String>,
    p: &str,
    m: &str,
) {
    let created = run(
        server,
        spec,
        ids,
        ("createTemplate", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/templates"),
            "admin",
            201,
        ),
    )
    .await;
    let t = created["id"].as_str().unwrap().to_owned();
    ids.insert(example_id(spec, "TemplateId"), t.clone());
    run(
        server,
        spec,
        ids,
        ("replaceTemplate", None),
        ("PUT", &format!("/api/v1/templates/{t}"), "admin", 200),
    )
    .await;
    reads_match(
        server,
        spec,
        [
            ("listTemplates", format!("/api/v1/programs/{p}/templates")),
            ("getTemplate", format!("/api/v1/templates/{t}")),
            (
                "previewTemplate",
                format!("/api/v1/templates/{t}/preview?member={m}"),
            ),
        ],
    )
    .await;
}

/// The messaging settings, a message to the member (delivered to the in-app inbox, as this
/// server has no SMTP relay), and the reads of both.
pub(super) async fn messages(
    server: &Server,
    spec: &Value,
    ids: &BTreeMap<String, String>,
    p: &str,
    m: &str,
) {
    run(
        server,
        spec,
        ids,
        ("putMessagingSettings", None),
        (
            "PUT",
            &format!("/api/v1/programs/{p}/messaging"),
            "admin",
            200,
        ),
    )
    .await;
    let sent = run(
        server,
        spec,
        ids,
        ("sendMessage", None),
        (
            "POST",
            &format!("/api/v1/members/{m}/messages"),
            "write",
            201,
        ),
    )
    .await;
    let email = sent["id"].as_str().unwrap().to_owned();
    let t = sent["template_id"].as_str().unwrap();
    let body = json!({ "template": t });
    let inbox = server
        .send(
            "POST",
            &format!("/api/v1/members/{m}/messages"),
            Some("write"),
            Some(&body),
        )
        .await;
    assert_eq!(inbox.status, 201, "{}", inbox.json());
    let claim = Command::ClaimMessages(tally_core::messages::ClaimRequest {
        usable: vec![tally_domain::model::Channel::InApp],
        limit: 10,
        lease: jiff::SignedDuration::from_secs(60),
        public_url: server.base.clone(),
    });
    let system = TenantId::from_trusted("ten_system".into());
    let claimed = server
        .tally
        .write(&system, "test", None, claim)
        .await
        .unwrap();
    assert_eq!(claimed["in_app"], 1, "{claimed}");
    assert_eq!(claimed["suppressed"], 1, "{claimed}");
    let read = inbox.json()["id"].as_str().unwrap().to_owned();
    let answer = server
        .send(
            "POST",
            &format!("/api/v1/members/{m}/inbox/{read}/read"),
            Some("write"),
            None,
        )
        .await;
    assert_eq!(answer.status, 200);
    assert_matches(
        spec,
        &response_schema(spec, "readInboxMessage", 200),
        &answer.json(),
        "the answer of readInboxMessage",
    );
    reads_match(
        server,
        spec,
        [
            (
                "getMessagingSettings",
                format!("/api/v1/programs/{p}/messaging"),
            ),
            (
                "listMemberMessages",
                format!("/api/v1/members/{m}/messages"),
            ),
            ("getMessage", format!("/api/v1/messages/{email}")),
            ("getMemberInbox", format!("/api/v1/members/{m}/inbox")),
        ],
    )
    .await;
}

/// A campaign: created, launched, read, reported on and cancelled.
pub(super) async fn campaigns(
    server: &Server,
    spec: &Value,
    ids: &BTreeMap<String, String>,
    p: &str,
) {
    let created = run(
        server,
        spec,
        ids,
        ("createCampaign", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/campaigns"),
            "admin",
            201,
        ),
    )
    .await;
    let k = created["id"].as_str().unwrap().to_owned();
    let launched = server
        .send(
            "POST",
            &format!("/api/v1/campaigns/{k}/launch"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(launched.status, 200);
    assert_eq!(launched.json()["status"], "scheduled");
    assert_matches(
        spec,
        &response_schema(spec, "launchCampaign", 200),
        &launched.json(),
        "the answer of launchCampaign",
    );
    reads_match(
        server,
        spec,
        [
            ("listCampaigns", format!("/api/v1/programs/{p}/campaigns")),
            ("getCampaign", format!("/api/v1/campaigns/{k}")),
            ("getCampaignReport", format!("/api/v1/campaigns/{k}/report")),
        ],
    )
    .await;
    let cancelled = server
        .send(
            "POST",
            &format!("/api/v1/campaigns/{k}/cancel"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(cancelled.status, 200);
    assert_matches(
        spec,
        &response_schema(spec, "cancelCampaign", 200),
        &cancelled.json(),
        "the answer of cancelCampaign",
    );
}

/// A journey: created (it sends the template), read, paused; the member's journeys.
pub(super) async fn journeys(
    server: &Server,
    spec: &Value,
    ids: &BTreeMap<String, String>,
    p: &str,
    m: &str,
) {
    let created = run(
        server,
        spec,
        ids,
        ("createJourney", None),
        (
            "POST",
            &format!("/api/v1/programs/{p}/journeys"),
            "admin",
            201,
        ),
    )
    .await;
    let j = created["id"].as_str().unwrap().to_owned();
    run(
        server,
        spec,
        ids,
        ("setJourneyStatus", None),
        ("PATCH", &format!("/api/v1/journeys/{j}"), "admin", 200),
    )
    .await;
    reads_match(
        server,
        spec,
        [
            ("listJourneys", format!("/api/v1/programs/{p}/journeys")),
            ("getJourney", format!("/api/v1/journeys/{j}")),
            ("getJourneyReport", format!("/api/v1/journeys/{j}/report")),
            (
                "listMemberJourneys",
                format!("/api/v1/members/{m}/journeys"),
            ),
        ],
    )
    .await;
}

/// Playbooks: listed, one switched on.
pub(super) async fn playbooks(server: &Server, spec: &Value, p: &str) {
    let on = server
        .send(
            "POST",
            &format!("/api/v1/programs/{p}/playbooks/tier_up"),
            Some("admin"),
            None,
        )
        .await;
    assert_eq!(on.status, 201, "{}", on.json());
    assert_matches(
        spec,
        &response_schema(spec, "switchOnPlaybook", 201),
        &on.json(),
        "the answer of switchOnPlaybook",
    );
    reads_match(
        server,
        spec,
        [("listPlaybooks", format!("/api/v1/programs/{p}/playbooks"))],
    )
    .await;
}
