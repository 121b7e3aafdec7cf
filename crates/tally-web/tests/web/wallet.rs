//! The member wallet over real HTTP, with the sign-in code sent over real SMTP to a real SMTP
//! server on loopback (tally-mail's sink): one person's cards in two merchants' programs,
//! redeeming, preferences and consents, and nobody else's card.

use crate::common;

use common::{App, EMAIL, Shop, app_with_mail, request_code, signed_in};
use serde_json::json;
use tally_domain::ids::MemberId;

#[tokio::test]
async fn a_member_signs_in_with_an_emailed_code_and_sees_every_card() {
    let (app, sink) = app_with_mail().await;
    let a = app
        .enrol(
            &app.a,
            json!({"name": "Kasia", "email": EMAIL, "consents": {"email": true}}),
        )
        .await;
    let b_card = app
        .enrol(&app.b, json!({"name": "Kasia N.", "email": EMAIL}))
        .await;
    let stranger = app
        .enrol(
            &app.a,
            json!({"name": "Other", "email": "other@example.com"}),
        )
        .await;
    let mut b = app.browser();
    assert_eq!(
        b.get("/wallet").await.status,
        303,
        "signed out: to the sign-in page"
    );

    let (page, code) = request_code(&mut b, &sink, EMAIL).await;
    let csrf = page.csrf();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    let refused = b
        .post(
            "/wallet/sign-in/code",
            &[("csrf", &csrf), ("email", EMAIL), ("code", wrong)],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains(r#"id="code-error""#));
    let verified = |shop: &Shop, id: &MemberId| {
        let (tally, tenant, id) = (app.tally.clone(), shop.tenant.clone(), id.clone());
        async move { tally.member(&tenant, &id).await.unwrap().email_verified }
    };
    assert!(
        !a.email_verified && !verified(&app.a, &a.id).await,
        "a wrong code proves nothing"
    );
    let ok = b
        .post(
            "/wallet/sign-in/code",
            &[("csrf", &csrf), ("email", EMAIL), ("code", &code)],
        )
        .await;
    assert_eq!((ok.status, ok.location.as_str()), (303, "/wallet"));
    let again = b
        .post(
            "/wallet/sign-in/code",
            &[("csrf", &csrf), ("email", EMAIL), ("code", &code)],
        )
        .await;
    assert_eq!(again.status, 422, "a code works once");

    // Signing in proved the email: every card with it says so, at both merchants, and so does
    // a card enrolled with it afterwards; the stranger's does not.
    assert!(verified(&app.a, &a.id).await && verified(&app.b, &b_card.id).await);
    assert!(!verified(&app.a, &stranger.id).await);
    let later = app
        .enrol(
            &app.b,
            json!({"name": "Kasia", "email": EMAIL, "external_id": "k-2"}),
        )
        .await;
    assert!(later.email_verified && !later.phone_verified);
    // The console's member page says so next to the address.
    let mut console = app.signed_in(&app.a.owner).await;
    let page = console
        .get(&format!("/console/{}/members/{}", app.a.program, a.id))
        .await;
    assert!(
        page.body.contains(r#"id="email-verified""#),
        "{}",
        page.body
    );
    let page = console
        .get(&format!(
            "/console/{}/members/{}",
            app.a.program, stranger.id
        ))
        .await;
    assert_eq!(page.status, 200);
    assert!(!page.body.contains(r#"id="email-verified""#));

    let cards = b.get("/wallet").await;
    assert!(
        cards.body.contains(a.id.as_str()) && cards.body.contains(b_card.id.as_str()),
        "both merchants' cards"
    );
    assert!(!cards.body.contains(stranger.id.as_str()));
    let card = b.get(&format!("/wallet/cards/{}", a.id)).await;
    assert_eq!(card.status, 200);
    assert!(card.body.contains("<svg") && card.body.contains(&a.card.number));
    assert_eq!(
        b.get(&format!("/wallet/cards/{}", stranger.id))
            .await
            .status,
        404,
        "not their card"
    );
}

#[tokio::test]
async fn five_wrong_codes_use_the_code_up_and_unknown_emails_get_no_mail() {
    let (app, sink) = app_with_mail().await;
    app.enrol(&app.a, json!({"name": "Kasia", "email": EMAIL}))
        .await;
    let mut b = app.browser();
    let (page, code) = request_code(&mut b, &sink, EMAIL).await;
    let csrf = page.csrf();
    let wrong = if code == "000000" { "111111" } else { "000000" };
    for _ in 0..5 {
        b.post(
            "/wallet/sign-in/code",
            &[("csrf", &csrf), ("email", EMAIL), ("code", wrong)],
        )
        .await;
    }
    let locked = b
        .post(
            "/wallet/sign-in/code",
            &[("csrf", &csrf), ("email", EMAIL), ("code", &code)],
        )
        .await;
    assert_eq!(
        locked.status, 422,
        "the right code no longer works after five wrong ones"
    );

    let unknown = b
        .post(
            "/wallet/sign-in",
            &[("csrf", &csrf), ("email", "nobody@example.com")],
        )
        .await;
    assert_eq!(unknown.status, 200);
    assert!(
        unknown.body.contains(r#"id="code-sent""#),
        "the same page either way"
    );
    tokio::time::sleep(std::time::Duration::from_millis(300)).await;
    assert!(sink.message_to("nobody@example.com").is_none());
}

#[tokio::test]
async fn a_member_redeems_a_reward_and_sets_their_preferences() {
    let (app, sink) = app_with_mail().await;
    let member = app
        .enrol(
            &app.a,
            json!({"name": "Kasia", "email": EMAIL, "consents": {"email": true, "sms": true}}),
        )
        .await;
    let adjust =
        tally_domain::inputs::AdjustmentRequest::parse(&json!({"points": 40, "reason": "welcome"}))
            .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::Adjust {
                member: member.id.clone(),
                request: adjust,
            },
        )
        .await
        .unwrap();
    let reward =
        tally_domain::inputs::NewReward::parse(&json!({"name": "Free coffee", "cost_points": 30}))
            .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::CreateReward {
                program: app.a.program.clone(),
                reward,
            },
        )
        .await
        .unwrap();
    let dear = tally_domain::inputs::NewReward::parse(
        &json!({"name": "Espresso machine", "cost_points": 500}),
    )
    .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::CreateReward {
                program: app.a.program.clone(),
                reward: dear,
            },
        )
        .await
        .unwrap();
    let store = tally_domain::inputs::NewLocation::parse(
        &json!({"name": "Far", "latitude": 54.35, "longitude": 18.65}),
    )
    .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::CreateLocation {
                program: app.a.program.clone(),
                location: store,
            },
        )
        .await
        .unwrap();
    let near = tally_domain::inputs::NewLocation::parse(
        &json!({"name": "Near", "latitude": 52.23, "longitude": 21.01}),
    )
    .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::CreateLocation {
                program: app.a.program.clone(),
                location: near,
            },
        )
        .await
        .unwrap();

    let policy = tally_domain::expiry::ExpiryPolicy::parse(
        &json!({"kind": "end_of_period", "period": "year", "months_after": 0}),
    )
    .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::SetExpiryPolicy {
                program: app.a.program.clone(),
                policy,
            },
        )
        .await
        .unwrap();

    let plan = tally_domain::tiers::TierPlan::parse(
        &json!({"metric": "points_earned", "window": "calendar_year",
        "levels": [{"name": "Bronze", "threshold": 0}, {"name": "Silver", "threshold": 100}]}),
    )
    .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::SetTierPlan {
                program: app.a.program.clone(),
                plan,
            },
        )
        .await
        .unwrap();

    // A fourteen-day return window: a purchase's points wait, and count towards the tier.
    let patch =
        tally_domain::inputs::ProgramPatch::parse(&json!({"earning": {"pending_days": 14}}))
            .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::UpdateProgram {
                program: app.a.program.clone(),
                patch,
            },
        )
        .await
        .unwrap();
    let purchase = tally_domain::inputs::NewPurchase::parse(&json!({
        "order_id": "W-1", "member": {"id": member.id},
        "total": {"amount_minor": 2500, "currency": "USD"}
    }))
    .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "till",
            None,
            tally_core::Command::RecordPurchase {
                program: app.a.program.clone(),
                purchase,
            },
        )
        .await
        .unwrap();

    let mut b = signed_in(&app, &sink).await;
    let path = format!("/wallet/cards/{}", member.id);
    let card = b.get(&path).await;
    assert!(
        card.body.contains("25 points pending, available from "),
        "the pending points and their date: {}",
        card.body
            .lines()
            .filter(|l| l.contains("pending"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    // Points given by an adjustment are not earned: the tier needs 100 less the 25 earned.
    assert!(
        card.body.contains(r#"id="wallet-tier">Bronze<"#),
        "the tier"
    );
    assert!(
        card.body.contains("75 points more to reach Silver"),
        "the progress to the next tier"
    );
    // The 40 points are valid through the end of this year.
    let year = app
        .tally
        .clock
        .now()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .year();
    assert!(
        card.body
            .contains(&format!("Valid until 31 Dec {year}: 40 points")),
        "when the points expire: {}",
        card.body
            .lines()
            .filter(|l| l.contains("expiring"))
            .collect::<Vec<_>>()
            .join("\n")
    );
    assert!(
        card.body.contains("460 points more needed") || card.body.contains("460 points"),
        "what is missing for the dear reward"
    );
    let csrf = card.csrf();
    let reward_id = app
        .tally
        .rewards(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap()
        .items
        .into_iter()
        .find(|r| r.name == "Free coffee")
        .unwrap()
        .id;
    let redeemed = b
        .post(
            &format!("{path}/redeem"),
            &[("csrf", &csrf), ("reward_id", reward_id.as_str())],
        )
        .await;
    assert_eq!(redeemed.status, 200);
    assert!(
        redeemed.body.contains("show this code at the till"),
        "{}",
        redeemed.body
    );
    assert_eq!(app.balance(&app.a, &member.id).await, 10);

    // Nearest store first once the member shares where they are (in Warsaw).
    let sorted = b.get(&format!("{path}?lat=52.2297&lon=21.0122")).await;
    assert!(sorted.body.find("Near").unwrap() < sorted.body.find("Far").unwrap());

    let saved = b
        .post(
            &format!("{path}/preferences"),
            &[
                ("csrf", &csrf),
                ("preferred_channel", "sms"),
                ("consent_sms", "1"),
            ],
        )
        .await;
    assert_eq!(saved.status, 303);
    let m = app.tally.member(&app.a.tenant, &member.id).await.unwrap();
    assert_eq!(m.preferred_channel.map(|c| c.as_str()), Some("sms"));
    let email = m
        .consents
        .iter()
        .find(|c| c.channel.as_str() == "email")
        .unwrap();
    assert!(
        !email.granted && email.source == "wallet",
        "withdrawn in the wallet, recorded as such"
    );
    assert!(
        m.consents
            .iter()
            .any(|c| c.channel.as_str() == "sms" && c.granted)
    );

    let forged = b
        .post(
            &format!("{path}/preferences"),
            &[("csrf", "nope"), ("preferred_channel", "email")],
        )
        .await;
    assert_eq!(forged.status, 403);
}

#[tokio::test]
async fn the_wallet_is_installable() {
    let app = App::new().await;
    let mut b = app.browser();
    let manifest = b.get("/wallet/manifest.webmanifest").await;
    let manifest: serde_json::Value = serde_json::from_str(&manifest.body).unwrap();
    assert_eq!(manifest["start_url"], "/wallet");
    assert_eq!(manifest["display"], "standalone");
    assert!(b.get("/wallet/sw.js").await.body.contains("caches"));
    assert!(
        b.get("/static/wallet-icon.svg")
            .await
            .body
            .starts_with("<svg")
    );
}

#[tokio::test]
async fn a_member_collects_a_stamp_by_scanning_the_store_code_once() {
    let (app, sink) = app_with_mail().await;
    let member = app
        .enrol(&app.a, json!({"name": "Ola", "email": EMAIL}))
        .await;
    let run = |command| app.tally.write(&app.a.tenant, "setup", None, command);
    let store = run(tally_core::Command::CreateLocation {
        program: app.a.program.clone(),
        location: tally_domain::inputs::NewLocation::parse(
            &json!({"name": "Rynek 1", "latitude": 50.06, "longitude": 19.94}),
        )
        .unwrap(),
    })
    .await
    .unwrap();
    let card = run(tally_core::Command::CreateStampCard {
        program: app.a.program.clone(),
        card: tally_domain::stamps::StampCardDoc::parse(&json!({
            "name": "Coffee card", "stamps_required": 4, "reward": {"points": 30}, "qr_stamps": true
        }))
        .unwrap(),
    })
    .await
    .unwrap();
    let shown = run(tally_core::Command::StampDisplayCode {
        card: tally_domain::ids::StampCardId::parse(card["id"].as_str().unwrap()).unwrap(),
        location: tally_domain::ids::LocationId::parse(store["id"].as_str().unwrap()).unwrap(),
    })
    .await
    .unwrap();
    let code = shown["code"].as_str().unwrap();

    let mut b = signed_in(&app, &sink).await;
    let card_page = b.get(&format!("/wallet/cards/{}", member.id)).await;
    assert!(card_page.body.contains("0 of 4 stamps"), "progress before");
    // Opening the link only shows what the stamp is for.
    let open = b
        .get(&format!("/wallet/stamp/{}", code.to_lowercase()))
        .await;
    assert!(open.body.contains("Coffee card") && open.body.contains("Rynek 1"));
    assert!(open.body.contains(r#"id="collect-stamp""#));
    let collected = b
        .post(&format!("/wallet/stamp/{code}"), &[("csrf", &open.csrf())])
        .await;
    assert_eq!(collected.status, 200);
    assert!(
        collected
            .body
            .contains("Stamp collected on Coffee card: 1 of 4."),
        "the notice"
    );
    assert!(collected.body.contains("1 of 4 stamps"), "the progress");
    assert_eq!(
        collected.body.matches(r#"class="stamp on""#).count(),
        1,
        "one slot stamped"
    );
    // The same code again: refused, nothing changes.
    let again = b
        .post(&format!("/wallet/stamp/{code}"), &[("csrf", &open.csrf())])
        .await;
    assert_eq!(again.status, 422);
    assert!(again.body.contains("already used or has expired"));
    let unknown = b.get("/wallet/stamp/NOTACODE").await;
    assert!(unknown.body.contains("This code is not valid"));
}

#[tokio::test]
async fn a_friend_joins_through_the_invite_link_and_the_referrer_sees_it() {
    let (app, sink) = app_with_mail().await;
    let policy = tally_domain::referrals::ReferralPolicy::parse(
        &json!({"referrer_points": 200, "referred_points": 100}),
    )
    .unwrap();
    app.tally
        .write(
            &app.a.tenant,
            "setup",
            None,
            tally_core::Command::SetReferralPolicy {
                program: app.a.program.clone(),
                policy,
            },
        )
        .await
        .unwrap();
    let ann = app
        .enrol(&app.a, json!({"name": "Ann", "email": EMAIL}))
        .await;
    let mut b = signed_in(&app, &sink).await;
    let card = b.get(&format!("/wallet/cards/{}", ann.id)).await;
    assert!(card.body.contains("you get 200 points and they get 100"));
    let start = card.body.find("/join/").expect("an invite link");
    let join = card.body[start..start + 14].to_owned();

    // A friend without an account opens the link.
    let mut friend = app.browser();
    let form = friend.get(&join).await;
    assert_eq!(form.status, 200);
    assert!(
        form.body
            .contains("You get 100 points after your first purchase.")
    );
    let refused = friend
        .post(
            &join,
            &[("csrf", &form.csrf()), ("name", "Bob"), ("email", "")],
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(refused.body.contains(r#"id="email-error""#));
    let joined = friend
        .post(
            &join,
            &[
                ("csrf", &form.csrf()),
                ("name", "Bob Stone"),
                ("email", "bob@example.com"),
            ],
        )
        .await;
    assert_eq!(joined.status, 303);
    assert!(
        joined
            .location
            .starts_with("/wallet/sign-in?email=bob%40example.com")
    );

    let mine = app
        .tally
        .member_referrals(&app.a.tenant, &ann.id)
        .await
        .unwrap();
    assert_eq!(mine["referrals"][0]["status"], "pending");
    let again = b.get(&format!("/wallet/cards/{}", ann.id)).await;
    assert!(again.body.contains("Bob · joined, no purchase yet"));
    assert_eq!(friend.get("/join/NOSUCHCODE").await.status, 404);
}

#[tokio::test]
async fn a_member_turns_points_into_a_voucher_and_sees_it_with_a_qr_code() {
    let (app, sink) = app_with_mail().await;
    let member = app
        .enrol(&app.a, json!({"name": "Iga", "email": EMAIL}))
        .await;
    let run = |command| app.tally.write(&app.a.tenant, "setup", None, command);
    let pool = run(tally_core::Command::CreateVoucherPool {
        program: app.a.program.clone(),
        input: tally_domain::vouchers::PoolInput::parse(
            &json!({"name": "5 off your next order", "discount": {"kind": "amount", "amount_minor": 500}}),
        )
        .unwrap(),
    })
    .await
    .unwrap();
    let pool_id = tally_domain::ids::VoucherPoolId::parse(pool["id"].as_str().unwrap()).unwrap();
    run(tally_core::Command::AddVoucherCodes {
        pool: pool_id.clone(),
        codes: tally_domain::vouchers::NewCodes::Import(vec!["IGA-VOUCHER-1".into()]),
    })
    .await
    .unwrap();
    app.create_reward(
        &app.a,
        json!({"name": "A 5.00 voucher", "cost_points": 50, "voucher_pool_id": pool_id}),
    )
    .await;
    app.give_points(&app.a, &member.id, 80).await;

    let mut b = signed_in(&app, &sink).await;
    let card_page = b.get(&format!("/wallet/cards/{}", member.id)).await;
    assert!(
        !card_page.body.contains(r#"id="vouchers""#),
        "no voucher yet"
    );
    let reward_id = {
        let marker = r#"name="reward_id" value=""#;
        let start = card_page.body.find(marker).unwrap() + marker.len();
        card_page.body[start..start + 30].to_owned()
    };
    let redeemed = b
        .post(
            &format!("/wallet/cards/{}/redeem", member.id),
            &[("csrf", &card_page.csrf()), ("reward_id", &reward_id)],
        )
        .await;
    assert!(redeemed.status < 400, "{}", redeemed.body);
    let after = b.get(&format!("/wallet/cards/{}", member.id)).await;
    let vouchers = &after.body[after.body.find(r#"id="vouchers""#).expect("my vouchers")..];
    assert!(vouchers.contains("5 off your next order"), "{vouchers}");
    assert!(vouchers.contains("IGA-VOUCHER-1"), "{vouchers}");
    assert!(vouchers.contains("<svg"), "a QR code");
}

#[tokio::test]
async fn a_member_gives_points_to_a_cause_and_sees_the_total_grow() {
    let (app, sink) = app_with_mail().await;
    let member = app
        .enrol(&app.a, json!({"name": "Ewa", "email": EMAIL}))
        .await;
    let run = |command| app.tally.write(&app.a.tenant, "setup", None, command);
    let charity = run(tally_core::Command::CreateCharity {
        program: app.a.program.clone(),
        input: tally_domain::charities::CharityInput::parse(
            &json!({"name": "School meals", "description": "Warm lunches"}),
        )
        .unwrap(),
    })
    .await
    .unwrap();
    app.give_points(&app.a, &member.id, 100).await;

    let mut b = signed_in(&app, &sink).await;
    let card_page = b.get(&format!("/wallet/cards/{}", member.id)).await;
    assert!(
        card_page.body.contains("$0.00 from 0 members so far"),
        "{}",
        card_page.body
    );
    let donate = format!("/wallet/cards/{}/donate", member.id);
    let charity_id = charity["id"].as_str().unwrap();
    let too_much = b
        .post(
            &donate,
            &[
                ("csrf", &card_page.csrf()),
                ("charity_id", charity_id),
                ("points", "101"),
            ],
        )
        .await;
    assert_eq!(too_much.status, 422);
    let given = b
        .post(
            &donate,
            &[
                ("csrf", &card_page.csrf()),
                ("charity_id", charity_id),
                ("points", "40"),
            ],
        )
        .await;
    assert_eq!(given.status, 200, "{}", given.body);
    assert!(
        given
            .body
            .contains("You gave 40 points to School meals. Thank you!"),
        "{}",
        given.body
    );
    assert!(
        given.body.contains("$0.40 from 1 member so far"),
        "{}",
        given.body
    );
    assert!(given.body.contains("You gave 40 points."), "{}", given.body);
    assert_eq!(app.balance(&app.a, &member.id).await, 60);
}

#[tokio::test]
async fn a_reward_kept_for_a_segment_says_so_to_everyone_else() {
    let (app, sink) = app_with_mail().await;
    let member = app
        .enrol(&app.a, json!({"name": "Zoe", "email": EMAIL}))
        .await;
    let run = |command| app.tally.write(&app.a.tenant, "setup", None, command);
    let segment = run(tally_core::Command::CreateSegment {
        program: app.a.program.clone(),
        input: tally_domain::segments::SegmentInput::parse(&json!({
            "key": "vip_club", "name": "VIP club",
            "definition": {"field": "tags", "op": "has_any", "value": ["vip"]}
        }))
        .unwrap(),
    })
    .await
    .unwrap();
    app.tally
        .evaluate_segment(
            &app.a.tenant,
            &tally_domain::ids::SegmentId::parse(segment["id"].as_str().unwrap()).unwrap(),
        )
        .await
        .unwrap();
    app.create_reward(
        &app.a,
        json!({"name": "Backstage pass", "cost_points": 10, "segments": ["vip_club"]}),
    )
    .await;
    app.give_points(&app.a, &member.id, 50).await;
    let mut b = signed_in(&app, &sink).await;
    let card = b.get(&format!("/wallet/cards/{}", member.id)).await;
    assert!(
        card.body.contains("For VIP club members only"),
        "{}",
        card.body
    );
    let pass = &card.body[card.body.find("Backstage pass").unwrap()..];
    let button = &pass[pass.find("<button").unwrap()..];
    assert!(
        button.starts_with("<button type=\"submit\" disabled"),
        "{button}"
    );
}
