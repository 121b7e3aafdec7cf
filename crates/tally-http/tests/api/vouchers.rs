//! Voucher codes: pools with terms, generated and imported codes, validation against a basket,
//! redemption exactly once (also under concurrent attempts and retries), release, personal
//! codes, and the lock-out that makes guessing pointless.

use super::*;

fn basket(total: i64) -> Value {
    json!({"total": {"amount_minor": total, "currency": "USD"}})
}

async fn pool(app: &TestApp, body: Value) -> String {
    id(&app
        .post(
            &app.a.admin,
            &format!("/programs/{}/voucher-pools", app.a.program),
            &body,
        )
        .await
        .ok(201))
}

/// Generates `n` codes into a pool and answers them, oldest first.
async fn generate(app: &TestApp, pool: &str, n: usize) -> Vec<String> {
    let added = app
        .post(
            &app.a.admin,
            &format!("/voucher-pools/{pool}/codes"),
            &json!({"generate": n}),
        )
        .await
        .ok(201);
    assert_eq!(added["added"], n);
    app.all_pages(&app.a.read, &format!("/voucher-pools/{pool}/codes"), 200)
        .await
        .concat()
        .iter()
        .map(|c| c["code"].as_str().unwrap().to_owned())
        .collect()
}

fn vouchers(app: &TestApp, what: &str) -> String {
    format!("/programs/{}/vouchers/{what}", app.a.program)
}

#[tokio::test]
async fn a_pool_generates_unique_readable_codes_and_counts_them() {
    let app = TestApp::new().await;
    let p = pool(
        &app,
        json!({"name": "Spring 10 off", "prefix": "spring",
               "discount": {"kind": "amount", "amount_minor": 1000}, "min_basket_minor": 5000}),
    )
    .await;
    let codes = generate(&app, &p, 250).await;
    assert_eq!(codes.len(), 250);
    let distinct: std::collections::HashSet<&String> = codes.iter().collect();
    assert_eq!(distinct.len(), 250);
    for code in &codes {
        assert!(code.starts_with("SPRING-"), "{code}");
        assert!(
            !code.contains(['0', 'O', '1', 'I', 'L']) || code.starts_with("SPRING"),
            "{code}"
        );
    }
    let shown = app
        .get(&app.a.read, &format!("/voucher-pools/{p}"))
        .await
        .ok(200);
    assert_eq!(shown["codes"]["total"], 250);
    assert_eq!(shown["codes"]["available"], 250);
    assert_eq!(
        shown["discount"],
        json!({"kind": "amount", "amount_minor": 1000})
    );
    let listed = app
        .get(
            &app.a.read,
            &format!("/programs/{}/voucher-pools", app.a.program),
        )
        .await
        .ok(200);
    assert_eq!(listed["items"][0]["id"], p);

    // Another tenant sees none of it.
    app.get(&app.b.admin, &format!("/voucher-pools/{p}"))
        .await
        .problem(404, "not_found");
    // A bad pool names every field and writes nothing.
    let before = app.snapshot().await;
    app.post(
        &app.a.admin,
        &format!("/programs/{}/voucher-pools", app.a.program),
        &json!({"discount": {"kind": "percent", "percent": 0}, "prefix": "has space!", "colour": 1}),
    )
    .await
    .invalid(&["/name", "/discount/percent", "/prefix", "/colour"]);
    app.post(
        &app.a.admin,
        &format!("/voucher-pools/{p}/codes"),
        &json!({"generate": 0}),
    )
    .await
    .invalid(&["/generate"]);
    before.assert_same(&app.snapshot().await, "refused pool and codes");
    app.check_end_state().await;
}

#[tokio::test]
async fn validation_says_what_a_basket_gets_or_why_not() {
    let app = TestApp::new().await;
    let p = pool(
        &app,
        json!({"name": "15% off vinyl", "categories": ["vinyl"], "min_basket_minor": 2000,
               "discount": {"kind": "percent", "percent": 15, "max_minor": 1500}}),
    )
    .await;
    let code = generate(&app, &p, 1).await.remove(0);
    let typed = code.to_lowercase().replace('-', " ");
    let check = |body: Value| {
        let app = &app;
        async move {
            app.post(&app.a.write, &vouchers(app, "validate"), &body)
                .await
                .ok(200)
        }
    };
    let lines = json!([
        {"sku": "lp-1", "category": "vinyl", "quantity": 2, "unit_price_minor": 2999},
        {"sku": "cd-1", "category": "cd", "quantity": 1, "unit_price_minor": 1500}
    ]);
    let ok = check(json!({"code": typed, "basket": {"total": {"amount_minor": 7498, "currency": "USD"}, "lines": lines}})).await;
    // 15 % of the vinyl (5,998) = 899.7 → 899; the CD is not eligible.
    assert_eq!(ok["valid"], true, "{ok}");
    assert_eq!(ok["discount_minor"], 899);
    assert_eq!(ok["code"], code);

    let too_small = check(
        json!({"code": code, "basket": {"total": {"amount_minor": 1500, "currency": "USD"},
        "lines": [{"sku": "lp-2", "category": "vinyl", "quantity": 1, "unit_price_minor": 1500}]}}),
    )
    .await;
    assert_eq!(too_small["valid"], false);
    assert_eq!(too_small["reason"], "voucher_basket_too_small");
    let no_vinyl = check(
        json!({"code": code, "basket": {"total": {"amount_minor": 1500, "currency": "USD"},
        "lines": [{"sku": "cd-1", "category": "cd", "quantity": 1, "unit_price_minor": 1500}]}}),
    )
    .await;
    assert_eq!(no_vinyl["reason"], "voucher_not_applicable");
    let unknown = check(json!({"code": "NOPE-NOPE-NOPE", "basket": basket(5000)})).await;
    assert_eq!(unknown["valid"], false);
    assert_eq!(unknown["reason"], "voucher_unknown");

    app.post(
        &app.a.write,
        &vouchers(&app, "validate"),
        &json!({"code": code, "basket": {"total": {"amount_minor": 10, "currency": "EUR"}}}),
    )
    .await
    .invalid(&["/basket/total/currency"]);
    app.post(
        &app.a.write,
        &vouchers(&app, "validate"),
        &json!({"basket": basket(1)}),
    )
    .await
    .invalid(&["/code"]);

    // Outside the window: not yet valid, then expired.
    let now = tally_domain::Clock::now(&app.clock);
    let later = pool(
        &app,
        json!({"name": "Next week", "discount": {"kind": "amount", "amount_minor": 500},
               "valid_from": (now + jiff::SignedDuration::from_hours(24 * 7)).to_string(),
               "valid_until": (now + jiff::SignedDuration::from_hours(24 * 14)).to_string()}),
    )
    .await;
    let code = generate(&app, &later, 1).await.remove(0);
    let r = check(json!({"code": code, "basket": basket(5000)})).await;
    assert_eq!(r["reason"], "voucher_not_yet_valid");
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 8));
    assert_eq!(
        check(json!({"code": code, "basket": basket(5000)})).await["discount_minor"],
        500
    );
    app.clock.advance(jiff::SignedDuration::from_hours(24 * 7));
    let r = check(json!({"code": code, "basket": basket(5000)})).await;
    assert_eq!(r["reason"], "voucher_expired");
    app.check_end_state().await;
}

#[tokio::test]
async fn a_code_is_redeemed_once_retried_safely_and_released_on_cancel() {
    let app = TestApp::new().await;
    let p = pool(
        &app,
        json!({"name": "5 off", "discount": {"kind": "amount", "amount_minor": 500}}),
    )
    .await;
    let code = generate(&app, &p, 1).await.remove(0);
    let redeem = |order: &str| json!({"code": code, "order_id": order, "basket": basket(3000)});

    let first = app
        .post(&app.a.write, &vouchers(&app, "redeem"), &redeem("o-1"))
        .await
        .ok(200);
    assert_eq!(first["discount_minor"], 500);
    assert_eq!(first["order_id"], "o-1");
    // The same order again (a till retrying without a key): the original answer.
    let again = app
        .post(&app.a.write, &vouchers(&app, "redeem"), &redeem("o-1"))
        .await
        .ok(200);
    assert_eq!(again, first);
    // Another order: used.
    app.post(&app.a.write, &vouchers(&app, "redeem"), &redeem("o-2"))
        .await
        .problem(409, "voucher_used");
    let validated = app
        .post(
            &app.a.write,
            &vouchers(&app, "validate"),
            &json!({"code": code, "basket": basket(3000)}),
        )
        .await
        .ok(200);
    assert_eq!(validated["reason"], "voucher_used");
    // Releasing for the wrong order is refused; for the right one it frees the code, twice safely.
    let release = |order: &str| json!({"code": code, "order_id": order});
    app.post(&app.a.write, &vouchers(&app, "release"), &release("o-2"))
        .await
        .problem(409, "voucher_other_order");
    for _ in 0..2 {
        let r = app
            .post(&app.a.write, &vouchers(&app, "release"), &release("o-1"))
            .await
            .ok(200);
        assert_eq!(r["status"], "available");
    }
    app.post(&app.a.write, &vouchers(&app, "redeem"), &redeem("o-2"))
        .await
        .ok(200);
    let codes = app
        .get(
            &app.a.read,
            &format!("/voucher-pools/{p}/codes?status=redeemed"),
        )
        .await
        .ok(200);
    assert_eq!(codes["items"][0]["order_id"], "o-2");
    // With an Idempotency-Key, a replay answers the stored response.
    let second = generate(&app, &p, 1).await;
    let fresh = second.iter().find(|c| **c != code).unwrap().clone();
    let body = json!({"code": fresh, "order_id": "o-3", "basket": basket(3000)});
    let a = app
        .post_idem(&app.a.write, &vouchers(&app, "redeem"), "k-1", &body)
        .await
        .ok(200);
    let b = app
        .post_idem(&app.a.write, &vouchers(&app, "redeem"), "k-1", &body)
        .await
        .ok(200);
    assert_eq!(a, b);
    app.check_end_state().await;
}

#[tokio::test]
async fn fifty_tills_racing_for_one_code_let_exactly_one_through() {
    let app = TestApp::new().await;
    let p = pool(
        &app,
        json!({"name": "Last one", "discount": {"kind": "amount", "amount_minor": 100}}),
    )
    .await;
    let code = generate(&app, &p, 1).await.remove(0);
    let mut tills = Vec::new();
    for n in 0..50 {
        let request = app
            .api(Method::POST, &vouchers(&app, "redeem"))
            .bearer_auth(&app.a.write)
            .json(&json!({"code": code, "order_id": format!("race-{n}"), "basket": basket(1000)}));
        tills.push(tokio::spawn(async move {
            request.send().await.expect("a response").status().as_u16()
        }));
    }
    let mut statuses = Vec::new();
    for till in tills {
        statuses.push(till.await.unwrap());
    }
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        49,
        "{statuses:?}"
    );
    let shown = app
        .get(&app.a.read, &format!("/voucher-pools/{p}"))
        .await
        .ok(200);
    assert_eq!(shown["codes"]["redeemed"], 1);
    app.check_end_state().await;
}

#[tokio::test]
async fn imported_codes_are_checked_whole_and_duplicates_named() {
    let app = TestApp::new().await;
    let p = pool(
        &app,
        json!({"name": "Partner codes", "discount": {"kind": "amount", "amount_minor": 300}}),
    )
    .await;
    let codes_path = format!("/voucher-pools/{p}/codes");
    let before = app.snapshot().await;
    app.post(
        &app.a.admin,
        &codes_path,
        &json!({"codes": ["PARTNER-0001", "partner 0001", "ok-0002", "bad!"]}),
    )
    .await
    .invalid(&["/codes/1", "/codes/3"]);
    before.assert_same(&app.snapshot().await, "a refused import");
    let added = app
        .post(
            &app.a.admin,
            &codes_path,
            &json!({"csv": "code\nPARTNER-0001\nOK-0002\n"}),
        )
        .await
        .ok(201);
    assert_eq!(added["added"], 2);
    // Codes already in the program are named, and nothing of the upload is added.
    app.post(
        &app.a.admin,
        &codes_path,
        &json!({"codes": ["NEW-0003", "partner-0001"]}),
    )
    .await
    .invalid(&["/codes/1"]);
    let ok = app
        .post(
            &app.a.write,
            &vouchers(&app, "validate"),
            &json!({"code": "partner0001", "basket": basket(1000)}),
        )
        .await
        .ok(200);
    assert_eq!(ok["discount_minor"], 300);
    assert_eq!(ok["code"], "PARTNER-0001", "shown as imported");
    app.check_end_state().await;
}

#[tokio::test]
async fn a_personal_code_works_only_for_its_member_and_looks_unknown_to_others() {
    let app = TestApp::new().await;
    let p = pool(
        &app,
        json!({"name": "Birthday 20 off", "discount": {"kind": "amount", "amount_minor": 2000}}),
    )
    .await;
    generate(&app, &p, 2).await;
    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    let bob = id(&app.enroll(json!({"name": "Bob"})).await);
    let given = app
        .post(
            &app.a.write,
            &format!("/voucher-pools/{p}/assign"),
            &json!({"member": {"id": ann}}),
        )
        .await
        .ok(201);
    let code = given["code"].as_str().unwrap().to_owned();
    assert_eq!(given["member_id"], ann);
    let mine = app
        .get(&app.a.read, &format!("/members/{ann}/vouchers"))
        .await
        .ok(200);
    assert_eq!(mine["items"][0]["code"], code);

    let use_as = |member: Option<&str>| {
        let mut body = json!({"code": code, "basket": basket(5000)});
        if let Some(m) = member {
            body["member"] = json!({"id": m});
        }
        body
    };
    let as_bob = app
        .post(
            &app.a.write,
            &vouchers(&app, "validate"),
            &use_as(Some(&bob)),
        )
        .await
        .ok(200);
    let nobody = app
        .post(&app.a.write, &vouchers(&app, "validate"), &use_as(None))
        .await
        .ok(200);
    let unknown = app
        .post(
            &app.a.write,
            &vouchers(&app, "validate"),
            &json!({"code": "ZZZZ-ZZZZ-ZZZZZ", "basket": basket(5000), "member": {"id": bob}}),
        )
        .await
        .ok(200);
    assert_eq!(
        as_bob, unknown,
        "another member's code looks like no code at all"
    );
    assert_eq!(nobody, unknown);
    let mut redeem = use_as(Some(&bob));
    redeem["order_id"] = json!("b-1");
    app.post(&app.a.write, &vouchers(&app, "redeem"), &redeem)
        .await
        .problem(404, "not_found");
    redeem["member"] = json!({"id": ann});
    let used = app
        .post(&app.a.write, &vouchers(&app, "redeem"), &redeem)
        .await
        .ok(200);
    assert_eq!(used["discount_minor"], 2000);

    // The second code goes to Bob; then the pool is empty.
    app.post(
        &app.a.write,
        &format!("/voucher-pools/{p}/assign"),
        &json!({"member": {"id": bob}}),
    )
    .await
    .ok(201);
    app.post(
        &app.a.write,
        &format!("/voucher-pools/{p}/assign"),
        &json!({"member": {"id": ann}}),
    )
    .await
    .problem(422, "voucher_pool_empty");
    app.check_end_state().await;
}

#[tokio::test]
async fn ten_thousand_guesses_find_nothing_and_lock_the_guesser_out() {
    let app = TestApp::new().await;
    let p = pool(
        &app,
        json!({"name": "Real codes", "discount": {"kind": "amount", "amount_minor": 500}}),
    )
    .await;
    let real = generate(&app, &p, 1000).await;
    let validate = vouchers(&app, "validate");
    let mut guesses = Vec::new();
    for _ in 0..10_000 {
        let (guess, _) = tally_domain::vouchers::generate_code("");
        let request = app
            .api(Method::POST, &validate)
            .bearer_auth(&app.a.write)
            .json(&json!({"code": guess, "basket": basket(5000)}));
        guesses.push(async move {
            let response = request.send().await.expect("a response");
            let status = response.status().as_u16();
            let retry_after = response
                .headers()
                .get("retry-after")
                .map(|v| v.to_str().unwrap().to_owned());
            let body: Value = response.json().await.expect("json");
            (status, retry_after, body)
        });
    }
    let mut found = 0;
    let mut unknown = 0;
    let mut locked = 0;
    // Sixteen at a time, like a determined script.
    let mut pending = guesses.into_iter();
    loop {
        let batch: Vec<_> = pending.by_ref().take(16).map(tokio::spawn).collect();
        if batch.is_empty() {
            break;
        }
        for handle in batch {
            let (status, retry_after, body) = handle.await.unwrap();
            match status {
                200 if body["valid"] == true => found += 1,
                200 => {
                    assert_eq!(body["reason"], "voucher_unknown");
                    unknown += 1
                }
                429 => {
                    assert_eq!(body["code"], "too_many_failures");
                    let seconds: i64 = retry_after.expect("Retry-After").parse().unwrap();
                    assert!((1..=900).contains(&seconds), "{seconds}");
                    locked += 1;
                }
                other => panic!("unexpected {other}: {body}"),
            }
        }
    }
    assert_eq!(found, 0, "no guess hits one of 1,000 real codes");
    // Failures that raced past the check may exceed the limit by the in-flight requests only.
    assert!(
        (10..=10 + 16).contains(&unknown),
        "{unknown} look-ups were answered before the lock-out"
    );
    assert_eq!(unknown + locked, 10_000);

    // Locked out: even a real code is refused, from another key too (same address).
    let real_body = json!({"code": real[0], "basket": basket(5000)});
    app.post(&app.a.write, &validate, &real_body)
        .await
        .problem(429, "too_many_failures");
    app.post(&app.a.admin, &validate, &real_body)
        .await
        .problem(429, "too_many_failures");
    // The window ends: the real code is found again.
    app.clock.advance(jiff::SignedDuration::from_mins(16));
    let ok = app.post(&app.a.write, &validate, &real_body).await.ok(200);
    assert_eq!(ok["valid"], true);
    app.check_end_state().await;
}

#[tokio::test]
async fn a_reward_hands_out_voucher_codes_for_points_and_takes_them_back_on_cancel() {
    let app = TestApp::new().await;
    let p = pool(
        &app,
        json!({"name": "10 off", "discount": {"kind": "amount", "amount_minor": 1000}}),
    )
    .await;
    let codes_path = format!("/voucher-pools/{p}/codes");
    app.post(&app.a.admin, &codes_path, &json!({"codes": ["GIFT-0001"]}))
        .await
        .ok(201);
    let reward = app
        .create_reward(
            json!({"name": "10 off your next order", "cost_points": 100, "voucher_pool_id": p}),
        )
        .await;
    assert_eq!(reward["voucher_pool_id"], p);
    // Another program's pool, or none at all, is refused by name.
    app.post(
        &app.a.admin,
        &format!("/programs/{}/rewards", app.a.program),
        &json!({"name": "Bad", "cost_points": 1, "voucher_pool_id": "vpl_01J8Z3Q4R5S6T7V8W9X0Y1Z2A3"}),
    )
    .await
    .invalid(&["/voucher_pool_id"]);

    let ann = id(&app.enroll(json!({"name": "Ann"})).await);
    let bob = id(&app.enroll(json!({"name": "Bob"})).await);
    app.adjust(&ann, 300).await;
    app.adjust(&bob, 300).await;
    let redeem = |m: &str| json!({"member": {"id": m}, "reward_id": id(&reward)});
    let redemptions = format!("/programs/{}/redemptions", app.a.program);
    let given = app
        .post(&app.a.write, &redemptions, &redeem(&ann))
        .await
        .ok(201);
    assert_eq!(given["voucher_code"], "GIFT-0001");
    assert_eq!(given["balance"]["available"], 200);
    let mine = app
        .get(&app.a.read, &format!("/members/{ann}/vouchers"))
        .await
        .ok(200);
    assert_eq!(mine["items"][0]["code"], "GIFT-0001");

    // The pool is empty: Bob's redemption is refused whole (no points taken).
    app.post(&app.a.write, &redemptions, &redeem(&bob))
        .await
        .problem(422, "voucher_pool_empty");
    assert_eq!(app.balance(&bob).await, 300);

    // Cancelling gives the points and the code back; Bob can then have it.
    let cancelled = app
        .post_empty(&app.a.write, &format!("/redemptions/{}/cancel", id(&given)))
        .await
        .ok(200);
    assert_eq!(cancelled["balance"]["available"], 300);
    let bobs = app
        .post(&app.a.write, &redemptions, &redeem(&bob))
        .await
        .ok(201);
    assert_eq!(bobs["voucher_code"], "GIFT-0001");
    // Once Bob has used the code at the till, the redemption can no longer be cancelled.
    app.post(
        &app.a.write,
        &vouchers(&app, "redeem"),
        &json!({"code": "GIFT-0001", "order_id": "b-1", "basket": basket(5000), "member": {"id": bob}}),
    )
    .await
    .ok(200);
    app.post_empty(&app.a.write, &format!("/redemptions/{}/cancel", id(&bobs)))
        .await
        .problem(409, "redemption_not_cancellable");
    assert_eq!(app.balance(&bob).await, 200);
    app.check_end_state().await;
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_lock_out_counts_the_forwarded_client() {
    let app = TestApp::behind_proxy().await;
    pool(
        &app,
        json!({"name": "Real codes", "discount": {"kind": "amount", "amount_minor": 500}}),
    )
    .await;
    let validate = vouchers(&app, "validate");
    let guess = |key: &str, client: &str| {
        app.api(Method::POST, &validate)
            .bearer_auth(key)
            .header("x-forwarded-for", format!("198.51.100.9, {client}"))
            .json(&json!({"code": "ZZZZ-ZZZZ-ZZZZZ", "basket": basket(5000)}))
    };
    for _ in 0..10 {
        app.send(guess(&app.a.write, "203.0.113.5")).await.ok(200);
    }
    // The guessing client is locked out, also with another key; another client behind the same
    // proxy is not (the forged first entry is ignored).
    app.send(guess(&app.a.admin, "203.0.113.5"))
        .await
        .problem(429, "too_many_failures");
    app.send(guess(&app.a.admin, "203.0.113.6")).await.ok(200);
}
