//! The rule editor over real HTTP: refusals next to their fields (expressions are checked when
//! saved), a dry run of the rule as typed that saves nothing, a new version, pause and resume.

use crate::common;

use common::{App, with_csrf};
use tally_domain::operators::Role;

#[tokio::test]
async fn a_manager_writes_tries_saves_versions_and_pauses_a_rule() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let member = app.enrol(&app.a, serde_json::json!({"name": "Ann"})).await;
    let mut b = app.signed_in(&manager).await;
    let rules = format!("/console/{}/rules", app.a.program);
    let page = b.get(&rules).await;
    assert_eq!(page.status, 200);
    assert!(page.body.contains("No rules yet"));
    let csrf = page.csrf();

    // A typo in the condition and a bonus that is not a number: both named in place.
    let refused = b
        .post(
            &rules,
            &with_csrf(
                &csrf,
                &[
                    ("name", "Big basket"),
                    ("trigger", "purchase"),
                    ("condition", "purchase.totl >= 100.0"),
                    ("effect_kind", "bonus"),
                    ("effect_value", "lots"),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="condition-error""#),
        "{}",
        refused.body
    );
    assert!(refused.body.contains("totl"), "the unknown field is named");
    assert!(refused.body.contains(r#"id="effect_value-error""#));
    assert!(
        refused.body.contains("purchase.totl &#62;= 100.0"),
        "what was typed stays"
    );

    // Try it: the rule as typed, against a purchase of 120.00 by Ann's card; nothing is saved.
    let good = [
        ("name", "Big basket"),
        ("trigger", "purchase"),
        ("condition", "purchase.total >= 100.0"),
        ("effect_kind", "bonus"),
        ("effect_value", "25"),
        ("per_day", "25"),
        ("day_sat", "on"),
        ("day_sun", "on"),
        ("day_mon", "on"),
        ("day_tue", "on"),
        ("day_wed", "on"),
        ("day_thu", "on"),
        ("day_fri", "on"),
    ];
    let mut trial = good.to_vec();
    trial.extend([
        ("try", "1"),
        ("try_card", member.card.number.as_str()),
        ("try_amount", "120.00"),
    ]);
    let tried = b.post(&rules, &with_csrf(&csrf, &trial)).await;
    assert_eq!(tried.status, 200, "{}", tried.body);
    assert!(
        tried.body.contains(r#"id="trial-rule-points">25<"#),
        "{}",
        tried.body
    );
    let saved_rules = |app: &App| {
        let (tally, tenant, program) = (
            app.tally.clone(),
            app.a.tenant.clone(),
            app.a.program.clone(),
        );
        async move {
            tally
                .rules(&tenant, &program, None, None)
                .await
                .unwrap()
                .items
        }
    };
    assert!(saved_rules(&app).await.is_empty(), "a trial saves nothing");

    let created = b.post(&rules, &with_csrf(&csrf, &good)).await;
    assert_eq!(created.status, 303);
    let list = saved_rules(&app).await;
    assert_eq!(list.len(), 1);
    assert_eq!(list[0]["limits"]["per_member"]["day"], 25);
    assert_eq!(
        list[0]["schedule"]["days"].as_array().map(Vec::len),
        Some(7)
    );
    let id = list[0]["id"].as_str().unwrap().to_owned();

    // The edit form shows the rule; saving makes version 2.
    let edit = format!("{rules}/{id}");
    let page = b.get(&edit).await;
    assert!(
        page.body.contains("purchase.total &#62;= 100.0"),
        "{}",
        page.body
    );
    assert!(page.body.contains(r#"name="day_sat" checked"#));
    let mut changed = good.to_vec();
    changed[4] = ("effect_value", "30");
    assert_eq!(b.post(&edit, &with_csrf(&csrf, &changed)).await.status, 303);
    let rule = &saved_rules(&app).await[0];
    assert_eq!(
        (rule["version"].as_i64(), rule["effect"]["bonus"].as_i64()),
        (Some(2), Some(30))
    );

    // Pause, then resume.
    let status = format!("{edit}/status");
    assert_eq!(
        b.post(&status, &with_csrf(&csrf, &[("status", "paused")]))
            .await
            .status,
        303
    );
    assert_eq!(saved_rules(&app).await[0]["status"], "paused");
    assert_eq!(
        b.post(&status, &with_csrf(&csrf, &[("status", "active")]))
            .await
            .status,
        303
    );
    assert_eq!(saved_rules(&app).await[0]["status"], "active");

    // Another shop's owner cannot open it; a cashier cannot use the editor.
    let mut other = app.signed_in(&app.b.owner).await;
    assert_eq!(
        other
            .get(&format!("/console/{}/rules/{id}", app.a.program))
            .await
            .status,
        404
    );
    let mut till = app.signed_in(&app.a.cashier).await;
    assert_eq!(till.get(&rules).await.status, 403);
}

#[tokio::test]
async fn a_manager_sets_tiers_and_expiry_with_each_mistake_in_place() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let mut b = app.signed_in(&manager).await;
    let tiers = format!("/console/{}/tiers", app.a.program);
    let page = b.get(&tiers).await;
    assert_eq!(page.status, 200);
    let csrf = page.csrf();

    let plan = |gold: &'static str| {
        vec![
            ("metric", "points_earned"),
            ("window", "calendar_year"),
            ("grace_days", "30"),
            ("level_name_0", "Silver"),
            ("level_threshold_0", "0"),
            ("level_name_1", "Gold"),
            ("level_threshold_1", gold),
            ("level_multiplier_1", "1.5"),
        ]
    };
    let refused = b.post(&tiers, &with_csrf(&csrf, &plan("0"))).await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="level_threshold_1-error""#),
        "{}",
        refused.body
    );
    assert_eq!(
        b.post(&tiers, &with_csrf(&csrf, &plan("1000")))
            .await
            .status,
        303
    );
    let saved = app
        .tally
        .tier_plan(&app.a.tenant, &app.a.program)
        .await
        .unwrap();
    assert_eq!(
        saved["levels"][1],
        serde_json::json!({"name": "Gold", "threshold": 1000, "multiplier": 1.5})
    );
    assert_eq!(saved["grace_days"], 30);

    let refused = b
        .post(
            &tiers,
            &with_csrf(
                &csrf,
                &[
                    ("kind", "end_of_period"),
                    ("period", "year"),
                    ("months_after", ""),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="months_after-error""#),
        "{}",
        refused.body
    );
    let saved = b
        .post(
            &tiers,
            &with_csrf(
                &csrf,
                &[
                    ("kind", "end_of_period"),
                    ("period", "year"),
                    ("months_after", "12"),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, 303);
    assert_eq!(
        app.tally
            .expiry_policy(&app.a.tenant, &app.a.program)
            .await
            .unwrap(),
        serde_json::json!({"kind": "end_of_period", "period": "year", "months_after": 12})
    );
    let page = b.get(&tiers).await;
    assert!(page.body.contains(r#"value="Gold""#));
    assert!(
        page.body
            .contains(r#"<option value="end_of_period" selected>"#)
    );
}

#[tokio::test]
async fn a_birthday_rule_is_written_in_the_form_and_listed_by_its_trigger() {
    let app = App::new().await;
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let mut b = app.signed_in(&manager).await;
    let rules = format!("/console/{}/rules", app.a.program);
    let page = b.get(&rules).await;
    let saved = b
        .post(
            &rules,
            &with_csrf(
                &page.csrf(),
                &[
                    ("name", "Birthday gift"),
                    ("trigger", "birthday"),
                    ("effect_kind", "bonus"),
                    ("effect_value", "100"),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let listed = b.get(&rules).await;
    assert!(listed.body.contains("Birthday gift"));
    assert!(
        listed.body.contains("birthday (once a year)"),
        "the trigger by name, not a missing message"
    );
}

#[tokio::test]
async fn event_stamp_and_reward_rules_are_written_in_the_form() {
    let app = App::new().await;
    let setup = |command| app.tally.write(&app.a.tenant, "setup", None, command);
    setup(tally_core::Command::PutEventType {
        program: app.a.program.clone(),
        doc: tally_domain::events::EventTypeDoc::parse(
            &serde_json::json!({"name": "check_in", "properties": {}}),
        )
        .unwrap(),
    })
    .await
    .unwrap();
    let card = setup(tally_core::Command::CreateStampCard {
        program: app.a.program.clone(),
        card: tally_domain::stamps::StampCardDoc::parse(&serde_json::json!({
            "name": "Coffee card", "stamps_required": 5, "reward": {"points": 30}
        }))
        .unwrap(),
    })
    .await
    .unwrap();
    let card_id = card["id"].as_str().unwrap().to_owned();
    let manager = app.operator(&app.a, "manager", Role::Manager).await;
    let mut b = app.signed_in(&manager).await;
    let rules = format!("/console/{}/rules", app.a.program);
    let page = b.get(&rules).await;
    assert!(
        page.body
            .contains(r#"<option value="check_in">check_in</option>"#),
        "declared event types to pick from"
    );
    assert!(page.body.contains(&format!(
        r#"<option value="{card_id}">Coffee card</option>"#
    )));

    // An event rule without its type is refused at the type's field.
    let refused = b
        .post(
            &rules,
            &with_csrf(
                &page.csrf(),
                &[
                    ("name", "Check-in stamp"),
                    ("trigger", "event"),
                    ("effect_kind", "stamp"),
                    ("stamp_card", &card_id),
                ],
            ),
        )
        .await;
    assert_eq!(refused.status, 422);
    assert!(
        refused.body.contains(r#"id="event_type-error""#),
        "{}",
        refused.body
    );

    let saved = b
        .post(
            &rules,
            &with_csrf(
                &refused.csrf(),
                &[
                    ("name", "Check-in stamp"),
                    ("trigger", "event"),
                    ("event_type", "check_in"),
                    ("effect_kind", "stamp"),
                    ("effect_value", "2"),
                    ("stamp_card", &card_id),
                ],
            ),
        )
        .await;
    assert_eq!(saved.status, 303, "{}", saved.body);
    let stored = app
        .tally
        .rules(&app.a.tenant, &app.a.program, None, None)
        .await
        .unwrap();
    let rule = &stored.items[0];
    assert_eq!(rule["event_type"], "check_in");
    assert_eq!(
        rule["effect"],
        serde_json::json!({"stamp": {"card_id": card_id, "count": 2}})
    );

    // The edit form shows the stored rule as it was written.
    let edit = b
        .get(&format!("{rules}/{}", rule["id"].as_str().unwrap()))
        .await;
    assert!(
        edit.body
            .contains(&format!(r#"<option value="{card_id}" selected>"#))
    );
    assert!(edit.body.contains(r#"<option value="check_in" selected>"#));

    // A reward rule without a reward names the reward's field.
    let no_reward = b
        .post(
            &rules,
            &with_csrf(
                &edit.csrf(),
                &[
                    ("name", "Free coffee on the fifth visit"),
                    ("trigger", "purchase"),
                    ("effect_kind", "reward"),
                ],
            ),
        )
        .await;
    assert_eq!(no_reward.status, 422);
    assert!(
        no_reward.body.contains(r#"id="reward_id-error""#),
        "{}",
        no_reward.body
    );
}
