//! Text messages through an HTTP gateway (a real server on loopback): the JSON and the form
//! shapes with their credentials, the message id as `Idempotency-Key`, retries of a busy
//! gateway under the same id, and a refused number.

use crate::common;

use common::receiver::Receiver;
use common::*;
use jiff::SignedDuration;
use serde_json::{Value, json};
use tally_delivery::{SmsFormat, SmsGateway};
use tally_mail::sink::SmtpSink;

/// A world whose deliverer sends SMS to a receiver, and Olek, who prefers SMS.
async fn sms_world(
    format: SmsFormat,
    url_user: &str,
    token: Option<&str>,
) -> (World, Receiver, Value) {
    let mut w = world(SmtpSink::options()).await;
    let gateway = Receiver::start().await;
    let url = gateway
        .url
        .replace("http://", &format!("http://{url_user}"));
    let sms = SmsGateway::new(&format!("{url}/send"), token, "VinylVault", format);
    w.deliverer = w.deliverer.clone().with_sms(sms.unwrap());
    let olek = w
        .member(
            json!({"name": "Olek Nowak", "phone": "+48 600 100 200", "email": "olek@example.com",
                       "preferred_channel": "sms", "consents": {"sms": true, "email": true}}),
        )
        .await;
    let queued = w.queue(&olek.id, json!({})).await;
    (w, gateway, queued)
}

#[tokio::test]
async fn a_text_message_goes_to_the_gateway_as_json_with_its_id_and_token() {
    let (w, gateway, queued) = sms_world(SmsFormat::Json, "", Some("t0ken")).await;
    let round = w.deliverer.round().await.unwrap();
    assert_eq!(round.sent, 1, "{round:?}");
    let got = gateway.received();
    assert_eq!(got.len(), 1);
    let r = &got[0];
    assert_eq!(r.path, "/send");
    assert_eq!(r.headers["authorization"], "Bearer t0ken");
    assert_eq!(r.headers["idempotency-key"], queued["id"].as_str().unwrap());
    let body: Value = serde_json::from_str(&r.body).unwrap();
    assert_eq!(body["id"], queued["id"]);
    assert_eq!(body["to"], "+48600100200");
    assert_eq!(body["from"], "VinylVault");
    let text = body["text"].as_str().unwrap();
    assert!(text.starts_with("Hello Olek, you have 0"), "{text}");
    let m = w.message(&queued["id"]).await;
    assert_eq!(
        (m["status"].as_str(), m["sent_channel"].as_str()),
        (Some("sent"), Some("sms"))
    );
    assert!(w.sink.messages().is_empty(), "nothing went by email");
}

#[tokio::test]
async fn the_form_shape_carries_basic_auth_from_the_url() {
    let (w, gateway, _) = sms_world(SmsFormat::Form, "AC1:s3cret@", None).await;
    assert_eq!(w.deliverer.round().await.unwrap().sent, 1);
    let r = &gateway.received()[0];
    // "AC1:s3cret" in base64
    assert_eq!(r.headers["authorization"], "Basic QUMxOnMzY3JldA==");
    assert_eq!(
        r.headers["content-type"],
        "application/x-www-form-urlencoded"
    );
    let fields: Vec<(String, String)> = url_decoded(&r.body);
    assert_eq!(fields[0], ("To".into(), "+48600100200".into()));
    assert_eq!(fields[1], ("From".into(), "VinylVault".into()));
    assert_eq!(fields[2].0, "Body");
    assert!(fields[2].1.starts_with("Hello Olek"), "{fields:?}");
}

#[tokio::test]
async fn a_busy_gateway_is_tried_again_under_the_same_id_and_a_refused_number_bounces() {
    let (w, gateway, queued) = sms_world(SmsFormat::Json, "", Some("t0ken")).await;
    gateway.answer(&[503]);
    assert_eq!(w.deliverer.round().await.unwrap().deferred, 1);
    let m = w.message(&queued["id"]).await;
    assert_eq!(
        (m["status"].as_str(), m["attempts"].as_i64()),
        (Some("queued"), Some(1))
    );
    assert_eq!(m["reason"], "HTTP 503: no thanks");
    assert_eq!(
        w.deliverer.drain().await.unwrap().claimed(),
        0,
        "not due yet"
    );
    w.clock.advance(SignedDuration::from_mins(1));
    assert_eq!(w.deliverer.drain().await.unwrap().sent, 1);
    let keys: Vec<String> = gateway
        .received()
        .iter()
        .map(|r| r.headers["idempotency-key"].clone())
        .collect();
    assert_eq!(keys, vec![queued["id"].as_str().unwrap().to_owned(); 2]);

    gateway.answer(&[400]);
    let olek = w.message(&queued["id"]).await["member_id"].clone();
    let olek = tally_domain::ids::MemberId::parse(olek.as_str().unwrap()).unwrap();
    let second = w.queue(&olek, json!({})).await;
    assert_eq!(w.deliverer.round().await.unwrap().bounced, 1);
    let m = w.message(&second["id"]).await;
    assert_eq!(
        (m["status"].as_str(), m["reason"].as_str()),
        (Some("bounced"), Some("HTTP 400: no thanks"))
    );
}

/// A form body's fields, decoded (a form body is written as a query string is).
fn url_decoded(body: &str) -> Vec<(String, String)> {
    let url = reqwest::Url::parse(&format!("http://gateway/?{body}")).unwrap();
    url.query_pairs()
        .map(|(k, v)| (k.into_owned(), v.into_owned()))
        .collect()
}
