//! The writer's batches: failures undone alone, idempotency keys, held writes, the batch memo.

use crate::commands::IdempotencyKey;
use crate::{Command, CoreError, Tally};
use serde_json::json;
use std::sync::Arc;
use tally_domain::DomainError;
use tally_domain::SystemClock;
use tally_domain::ids::{MemberId, ProgramId, TenantId};
use tally_domain::inputs::{AdjustmentRequest, NewMember, NewProgram, NewPurchase, ProgramPatch};
use tally_store::Database;
use tally_store_any::AnyDb;
use tally_store_any::testing::TestDb;

/// A started Tally with a tenant, a program and one member.
async fn one_member() -> (TestDb, Tally<AnyDb>, TenantId, MemberId) {
    let db = TestDb::new().await;
    let tally = Tally::start(db.db.clone(), Arc::new(SystemClock));
    let tenant = tally
        .write(
            &TenantId::generate(),
            "t",
            None,
            Command::CreateTenant { name: "w".into() },
        )
        .await
        .unwrap();
    let tenant = TenantId::parse(tenant["id"].as_str().unwrap()).unwrap();
    let program = NewProgram::parse(&json!({"name": "P", "currency": "USD"})).unwrap();
    let program = tally
        .write(&tenant, "t", None, Command::CreateProgram(program))
        .await
        .unwrap();
    let program = ProgramId::parse(program["id"].as_str().unwrap()).unwrap();
    let member = NewMember::parse(&json!({})).unwrap();
    let member = tally
        .write(
            &tenant,
            "t",
            None,
            Command::Enroll {
                program,
                member,
                source: "t".into(),
            },
        )
        .await
        .unwrap();
    let member = MemberId::parse(member["id"].as_str().unwrap()).unwrap();
    (db, tally, tenant, member)
}

/// Sends 40 commands at once, so they share batches: one-point adjustments, with `odd` (and
/// its idempotency key) as the 21st. The answers, in order.
async fn forty_with_one_odd(
    tally: &Tally<AnyDb>,
    tenant: &TenantId,
    member: &MemberId,
    odd: Command,
    key: Option<IdempotencyKey>,
) -> Vec<Result<serde_json::Value, CoreError>> {
    let mut handles = Vec::new();
    let mut odd = Some((odd, key));
    for i in 0..40 {
        let (tally, tenant, member) = (tally.clone(), tenant.clone(), member.clone());
        let (command, key) = match odd.take_if(|_| i == 20) {
            Some(odd) => odd,
            None => (
                Command::Adjust {
                    member,
                    request: adjust(1),
                },
                None,
            ),
        };
        handles.push(tokio::spawn(async move {
            tally.write(&tenant, "t", key, command).await
        }));
    }
    let mut outcomes = Vec::new();
    for h in handles {
        outcomes.push(h.await.unwrap());
    }
    let failed = outcomes
        .iter()
        .enumerate()
        .filter(|(i, o)| *i != 20 && o.is_err())
        .count();
    assert_eq!(failed, 0, "the other commands all succeed");
    outcomes
}

fn adjust(points: i64) -> AdjustmentRequest {
    AdjustmentRequest::parse(&json!({"points": points, "reason": "r"})).unwrap()
}

async fn available(tally: &Tally<AnyDb>, tenant: &TenantId, member: &MemberId) -> i64 {
    let member = tally.member(tenant, member).await.unwrap();
    member.balance.available.value()
}

/// A purchase of 10.00 USD (10 points at the default rate).
fn purchase(program: &ProgramId, member: &MemberId, order: &str) -> Command {
    Command::RecordPurchase {
        program: program.clone(),
        purchase: NewPurchase::parse(&json!({
            "order_id": order,
            "member": {"id": member},
            "total": {"amount_minor": 1000, "currency": "USD"},
        }))
        .unwrap(),
    }
}

/// Commands as the queue hands them to a writer (nobody reads the replies), for tests that
/// need them in one batch.
fn jobs(tenant: &TenantId, commands: Vec<(Command, Option<IdempotencyKey>)>) -> Vec<super::Job> {
    commands
        .into_iter()
        .map(|(command, idempotency)| super::Job {
            tenant: tenant.clone(),
            actor: "t".into(),
            idempotency,
            command,
            reply: tokio::sync::oneshot::channel().0,
        })
        .collect()
}

/// A command that keeps failing must fail alone, not take the commands that shared its
/// batch with it (they are retried one transaction each).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_command_that_keeps_failing_fails_alone() {
    let (_db, tally, tenant, member) = one_member().await;
    let odd = Command::AlwaysConflicts;
    let outcomes = forty_with_one_odd(&tally, &tenant, &member, odd, None).await;
    assert!(
        matches!(outcomes[20], Err(CoreError::Store(_))),
        "{:?}",
        outcomes[20]
    );
    assert_eq!(available(&tally, &tenant, &member).await, 39);
}

/// A command refused after writing undoes its own writes and nothing else of its batch,
/// and its refusal is kept under its idempotency key (the batch ran again with savepoints).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refusal_undoes_its_own_writes_only() {
    let (_db, tally, tenant, member) = one_member().await;
    let key = || IdempotencyKey {
        key: "refused-once".into(),
        request_sha256: "same".into(),
    };
    let refuse = || Command::AdjustThenRefuse {
        member: member.clone(),
        request: adjust(1000),
    };
    let outcomes = forty_with_one_odd(&tally, &tenant, &member, refuse(), Some(key())).await;
    assert!(
        matches!(&outcomes[20], Err(CoreError::Domain(DomainError::Refused { code, .. })) if code == "test_refusal"),
        "{:?}",
        outcomes[20]
    );
    let balance = available(&tally, &tenant, &member).await;
    assert_eq!(balance, 39, "the refused command's 1,000 points are undone");
    let again = tally.write(&tenant, "t", Some(key()), refuse()).await;
    assert!(matches!(again, Err(CoreError::Domain(_))), "{again:?}");
    let balance = available(&tally, &tenant, &member).await;
    assert_eq!(
        balance, 39,
        "the replay answers from the key and writes nothing"
    );
}

/// A command whose held write fails (here its idempotency record: the key has one) while
/// the batch runs without savepoints: on PostgreSQL the failure shows only at the next
/// command's first statement, or, for the batch's last command, at the `COMMIT`. The batch
/// runs again with savepoints, the command answers from its record, the other one
/// succeeds, and nothing is counted twice.
#[tokio::test]
async fn a_held_write_failing_late_is_answered_by_its_own_command() {
    let (db, tally, tenant, member) = one_member().await;
    let program = tally.member(&tenant, &member).await.unwrap().program_id;
    let key = IdempotencyKey {
        key: "once".into(),
        request_sha256: "same".into(),
    };
    let replay = || (purchase(&program, &member, "a"), Some(key.clone()));
    let first = tally.write(&tenant, "t", replay().1, replay().0);
    let first = first.await.unwrap();
    let mut c = db.db.connect_writer().await.unwrap();
    let bell = crate::bell::Bell::default();
    let batch = jobs(
        &tenant,
        vec![replay(), (purchase(&program, &member, "b"), None)],
    );
    let outcomes = super::run_batch(&mut c, &batch, &SystemClock, &bell).await;
    assert_eq!(
        outcomes[0].as_ref().unwrap(),
        &first,
        "the replay is the first answer"
    );
    assert_eq!(outcomes[1].as_ref().unwrap()["points_earned"], 10);
    assert_eq!(available(&tally, &tenant, &member).await, 20);
    // The replay last: its record's failure comes with the `COMMIT`.
    let batch = jobs(
        &tenant,
        vec![(purchase(&program, &member, "c"), None), replay()],
    );
    let outcomes = super::run_batch(&mut c, &batch, &SystemClock, &bell).await;
    assert_eq!(outcomes[0].as_ref().unwrap()["points_earned"], 10);
    assert_eq!(
        outcomes[1].as_ref().unwrap(),
        &first,
        "the replay is the first answer"
    );
    assert_eq!(available(&tally, &tenant, &member).await, 30);
}

/// Purchases in one batch read their program once, and a change of the program between
/// them reaches the purchases after it (the writer empties the memo before other commands).
#[tokio::test]
async fn a_program_change_in_a_batch_reaches_the_purchases_after_it() {
    let (db, tally, tenant, member) = one_member().await;
    let program = tally.member(&tenant, &member).await.unwrap().program_id;
    let triple = ProgramPatch::parse(&json!({"earning": {"points_per_unit": "3"}})).unwrap();
    let change = Command::UpdateProgram {
        program: program.clone(),
        patch: triple,
    };
    let batch = jobs(
        &tenant,
        vec![
            (purchase(&program, &member, "a"), None),
            (purchase(&program, &member, "b"), None),
            (change, None),
            (purchase(&program, &member, "c"), None),
        ],
    );
    let mut c = db.db.connect_writer().await.unwrap();
    let bell = crate::bell::Bell::default();
    let ran = super::try_batch(
        &mut c,
        &batch,
        &SystemClock,
        &bell,
        super::Guard::Optimistic,
    );
    let super::Ran::Done(outcomes) = ran.await.unwrap() else {
        panic!("nothing in the batch is refused")
    };
    let earned: Vec<i64> = outcomes
        .iter()
        .map(|o| o.as_ref().unwrap()["points_earned"].as_i64().unwrap_or(-1))
        .collect();
    assert_eq!(
        earned,
        [10, 10, -1, 30],
        "the last purchase earns at the new rate"
    );
}

/// A program whose purchases read all a member's state can hold: rules that read the profile
/// (the purchase count, the tags), a tier plan (the qualifying value) and a return window
/// (pending points); three members, external ids `x0`–`x2`, `x0` tagged `vip`; `x0` and `x1`
/// made a purchase before (`before-0`, `before-1`).
async fn program_with_rules(tally: &Tally<AnyDb>, tenant: &TenantId) -> (ProgramId, Vec<Member>) {
    let run = |command| async move { tally.write(tenant, "t", None, command).await.unwrap() };
    let program = NewProgram::parse(&json!({"name": "R", "currency": "USD"})).unwrap();
    let program = run(Command::CreateProgram(program)).await;
    let program = ProgramId::parse(program["id"].as_str().unwrap()).unwrap();
    let patch = ProgramPatch::parse(&json!({"earning": {"pending_days": 14}})).unwrap();
    run(Command::UpdateProgram {
        program: program.clone(),
        patch,
    })
    .await;
    for document in [
        // Distinct priorities: rules of equal priority go in the order of their ids, which
        // differs between the two programs compared.
        json!({"name": "First", "trigger": "purchase", "priority": 2, "condition": "member.purchases_before == 0", "effect": {"bonus": 100}}),
        json!({"name": "VIP", "trigger": "purchase", "priority": 1, "condition": "'vip' in member.tags", "effect": {"points": "double(base_points) * 0.5"}}),
    ] {
        let status = "active".into();
        let program = program.clone();
        run(Command::CreateRule {
            program,
            document,
            status,
        })
        .await;
    }
    let levels = json!([{"name": "Silver", "threshold": 0}, {"name": "Gold", "threshold": 150, "multiplier": 2}]);
    let plan = json!({"metric": "points_earned", "window": "calendar_year", "levels": levels});
    let plan = tally_domain::tiers::TierPlan::parse(&plan).unwrap();
    let program_id = program.clone();
    run(Command::SetTierPlan { program, plan }).await;
    let mut members = Vec::new();
    for n in 0..3 {
        let tags = if n == 0 { json!(["vip"]) } else { json!([]) };
        let member = NewMember::parse(&json!({"external_id": format!("x{n}"), "tags": tags}));
        let enrolled = run(Command::Enroll {
            program: program_id.clone(),
            member: member.unwrap(),
            source: "t".into(),
        })
        .await;
        let id = MemberId::parse(enrolled["id"].as_str().unwrap()).unwrap();
        let card = tally.member(tenant, &id).await.unwrap().card.number;
        members.push(Member { id, card });
    }
    for n in 0..2 {
        run(spec_purchase(
            &program_id,
            &members,
            (n, Key::Id, "before", 2000),
        ))
        .await;
    }
    (program_id, members)
}

struct Member {
    id: MemberId,
    card: String,
}

#[derive(Clone, Copy)]
enum Key {
    Id,
    External,
    Card,
    Unknown,
}

/// A purchase of `members[n]` named by `key`, of `order` (with `n` appended to `before`) for
/// `amount_minor` cents, at a fixed time.
fn spec_purchase(
    program: &ProgramId,
    members: &[Member],
    (n, key, order, amount_minor): (usize, Key, &str, i64),
) -> Command {
    let member = &members[n];
    let named = match key {
        Key::Id => json!({"id": member.id}),
        Key::External => json!({"external_id": format!("x{n}")}),
        Key::Card => json!({"card_number": member.card}),
        Key::Unknown => json!({"id": MemberId::generate()}),
    };
    let order = if order == "before" {
        format!("before-{n}")
    } else {
        order.to_string()
    };
    Command::RecordPurchase {
        program: program.clone(),
        purchase: NewPurchase::parse(&json!({
            "order_id": order,
            "member": named,
            "total": {"amount_minor": amount_minor, "currency": "USD"},
            "occurred_at": "2026-06-01T12:00:00Z",
        }))
        .unwrap(),
    }
}

/// An outcome with the ids that differ between two programs (purchases, members, rules)
/// blanked, to compare what two programs answered.
fn comparable(outcome: &Result<serde_json::Value, CoreError>) -> String {
    fn blank(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(o) => {
                for (k, v) in o.iter_mut() {
                    if k.ends_with("id") && k != "order_id" {
                        *v = json!("-");
                    } else {
                        blank(v);
                    }
                }
            }
            serde_json::Value::Array(a) => a.iter_mut().for_each(blank),
            _ => {}
        }
    }
    match outcome {
        Ok(v) => {
            let mut v = v.clone();
            blank(&mut v);
            v.to_string()
        }
        Err(e) => format!("{e:?}"),
    }
}

/// Purchases read ahead as a batch answer exactly as the same purchases read one by one, in
/// a program whose purchases read the member's profile, tier value and pending points: first a
/// batch where every purchase is recorded (it commits without savepoints), then one with a
/// refusal (it runs again with savepoints), where a member comes twice (by id and by card), an
/// order id comes twice (the same content, then other content) and an order recorded before
/// is sent again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purchases_read_ahead_answer_as_purchases_read_one_by_one() {
    let (db, tally, tenant, _) = one_member().await;
    let (batched, batched_members) = program_with_rules(&tally, &tenant).await;
    let (alone, alone_members) = program_with_rules(&tally, &tenant).await;
    let clean = [
        (0, Key::Id, "a1", 1000),
        (1, Key::External, "a2", 2000),
        (2, Key::Card, "a3", 3000),
        (0, Key::Card, "a4", 9000),
        (0, Key::External, "a5", 500),
    ];
    let messy = [
        (1, Key::Id, "b1", 1000),
        (0, Key::External, "b2", 2000),
        (1, Key::Card, "b3", 7000),
        (0, Key::Id, "b2", 2000),
        (0, Key::Id, "before", 2000),
        (0, Key::Unknown, "b4", 1000),
        (2, Key::External, "b1", 999),
        (2, Key::Id, "b5", 3000),
    ];
    // A purchase refused before it takes its member's state (another currency), an adjustment
    // of that member, then a purchase of theirs: the adjustment empties the batch's memo.
    let interleaved = [
        (0, Key::Id, "c1", -1),
        (1, Key::Id, "c2", 1000),
        (0, Key::Id, "adjust", 5),
        (0, Key::External, "c3", 1000),
        (2, Key::Card, "c4", 1000),
    ];
    let mut c = db.db.connect_writer().await.unwrap();
    let bell = crate::bell::Bell::default();
    let mut outcomes = Vec::new();
    for specs in [&clean[..], &messy[..], &interleaved[..]] {
        let commands = |program: &ProgramId, members: &[Member]| -> Vec<_> {
            let each = specs.iter().map(|s| match s {
                (n, _, "adjust", points) => Command::Adjust {
                    member: members[*n].id.clone(),
                    request: adjust(*points),
                },
                (n, key, order, -1) => {
                    let mut euros = spec_purchase(program, members, (*n, *key, order, 100));
                    if let Command::RecordPurchase { purchase, .. } = &mut euros {
                        purchase.total.currency = tally_domain::Currency::parse("EUR").unwrap();
                    }
                    euros
                }
                spec => spec_purchase(program, members, *spec),
            });
            jobs(&tenant, each.map(|command| (command, None)).collect())
        };
        let batch = commands(&batched, &batched_members);
        let together = super::run_batch(&mut c, &batch, &SystemClock, &bell).await;
        let mut one_by_one = Vec::new();
        for job in commands(&alone, &alone_members) {
            one_by_one.push(super::run_alone(&mut c, &job, &SystemClock, &bell).await);
        }
        let together: Vec<String> = together.iter().map(comparable).collect();
        let one_by_one: Vec<String> = one_by_one.iter().map(comparable).collect();
        assert_eq!(together, one_by_one);
        outcomes.push(together);
    }
    let refused = |outcomes: &[String]| -> Vec<bool> {
        outcomes.iter().map(|o| !o.starts_with('{')).collect()
    };
    assert_eq!(refused(&outcomes[0]), [false; 5]);
    let messy = &outcomes[1];
    let conflict = [false, false, false, false, false, true, true, false];
    assert_eq!(refused(messy), conflict, "{messy:?}");
    assert_eq!(
        messy[3], messy[1],
        "the order sent twice is answered twice alike"
    );
    assert!(messy[6].contains("order_conflict"), "{}", messy[6]);
    let interleaved = &outcomes[2];
    assert_eq!(refused(interleaved), [true, false, false, false, false]);
    for (a, b) in batched_members.iter().zip(&alone_members) {
        let a = tally.member(&tenant, &a.id).await.unwrap();
        let b = tally.member(&tenant, &b.id).await.unwrap();
        assert_eq!(a.balance, b.balance);
    }
}

/// Closing while 200 queued adjustments wait for the writers: every one commits and is
/// answered, none is lost or left waiting, and writes after the close are turned away.
#[tokio::test]
async fn closing_finishes_the_queued_writes_and_turns_later_ones_away() {
    let (_db, tally, tenant, member) = one_member().await;
    let mut handles = Vec::new();
    for _ in 0..200 {
        let (tally, tenant, member) = (tally.clone(), tenant.clone(), member.clone());
        let command = Command::Adjust {
            member,
            request: adjust(1),
        };
        handles.push(tokio::spawn(async move {
            tally.write(&tenant, "t", None, command).await
        }));
    }
    // On this single-threaded runtime each task runs to its answer's wait, its write queued,
    // before the test goes on.
    for _ in 0..5 {
        tokio::task::yield_now().await;
    }
    tokio::time::timeout(std::time::Duration::from_secs(30), tally.close())
        .await
        .expect("the writers end");
    let (mut committed, mut turned_away) = (0, 0);
    for h in handles {
        let outcome = tokio::time::timeout(std::time::Duration::from_secs(30), h)
            .await
            .expect("every write is answered")
            .unwrap();
        match outcome {
            Ok(_) => committed += 1,
            Err(CoreError::Unavailable) => turned_away += 1,
            Err(e) => panic!("unexpected: {e}"),
        }
    }
    assert_eq!(committed + turned_away, 200);
    assert!(committed > 0, "the writes queued before the close commit");
    // Each task queued its write at its first poll, during the yields, before the close: none
    // was turned away, so every one was drained from the queue.
    assert_eq!(turned_away, 0, "every queued write commits");
    assert_eq!(available(&tally, &tenant, &member).await, committed);
    let later = Command::Adjust {
        member: member.clone(),
        request: adjust(1),
    };
    assert!(matches!(
        tally.write(&tenant, "t", None, later).await,
        Err(CoreError::Unavailable)
    ));
    tally.close().await;
}
