//! The console's hot reads use the right index, never a walk over all members: the member list
//! (plain, by status, by email, phone or card) and the name search. Checked on each backend's
//! query plan over 20,000 members with fresh statistics (`ANALYZE`), so the planners choose as
//! they would for a large program; the plans are printed with `--nocapture`.

use tally_domain::ids::{ProgramId, TenantId};
use tally_domain::model::MemberStatus;
use tally_store::queries::members::{MemberFilter, list_members_query};
use tally_store::{Conn, Database, Dialect, Value};
use tally_store_any::testing::TestDb;

const MEMBERS: i64 = 20_000;

/// Fills the database with one tenant, one program and `MEMBERS` members (each with two search
/// terms and two accounts), straight in SQL, then refreshes the planner's statistics.
async fn load(db: &TestDb) -> (TenantId, ProgramId) {
    let mut c = db.db.connect_writer().await.unwrap();
    let (tenant, program) = ("ten_plan", "prg_plan");
    let n = format!(
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < {MEMBERS})"
    );
    let statements = [
        format!("INSERT INTO tenants (id, name, created_at_us) VALUES ('{tenant}', 'plans', 0)"),
        format!(
            "INSERT INTO programs (id, tenant_id, name, points_name, currency, time_zone, points_per_unit_milli, rounding,
                 excluded_categories, min_order_minor, negative_balance, created_at_us)
             VALUES ('{program}', '{tenant}', 'p', 'points', 'USD', 'UTC', 1000, 'down', '[]', 0, 'allow_negative', 0)"
        ),
        format!("{n} INSERT INTO persons (id, created_at_us) SELECT 'per_' || i, 0 FROM n"),
        format!(
            "{n} INSERT INTO members (id, tenant_id, program_id, person_id, name, email, phone, attributes, tags, status,
                 card_number, card_token, enrolled_at_us, updated_at_us)
             SELECT 'mem_' || i, '{tenant}', '{program}', 'per_' || i, 'name' || i, 'm' || i || '@example.com',
                 '+4860' || (1000000 + i), '{{}}', '[]', CASE WHEN i % 100 = 0 THEN 'closed' ELSE 'active' END,
                 '40000' || (10000000000 + i), 'tok' || i, i, i FROM n"
        ),
        format!("{n} INSERT INTO member_search_terms (program_id, term, member_id) SELECT '{program}', 'name' || i, 'mem_' || i FROM n"),
        format!("{n} INSERT INTO member_search_terms (program_id, term, member_id) SELECT '{program}', 'kow' || (i % 500), 'mem_' || i FROM n"),
        format!(
            "{n} INSERT INTO accounts (id, program_id, member_id, kind, balance)
             SELECT 'mem_' || i || ':member_available', '{program}', 'mem_' || i, 'member_available', 0 FROM n"
        ),
        "ANALYZE".to_owned(),
    ];
    for sql in statements {
        c.batch(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    (
        TenantId::from_trusted(tenant.into()),
        ProgramId::from_trusted(program.into()),
    )
}

async fn plan(db: &TestDb, sql: &str, params: &[Value]) -> Vec<String> {
    let mut c = db.db.reader().await.unwrap();
    let (explain, column) = match c.dialect() {
        Dialect::Sqlite => ("EXPLAIN QUERY PLAN", 3),
        Dialect::Postgres => ("EXPLAIN", 0),
    };
    c.query(&format!("{explain} {sql}"), params)
        .await
        .unwrap()
        .iter()
        .map(|r| r.text(column).unwrap())
        .collect()
}

/// The first line of the plan that reads the members table.
fn members_access(plan: &[String]) -> String {
    plan.iter()
        .find(|l| l.contains(" m USING") || l.contains("SCAN m") || l.contains("on members m"))
        .cloned()
        .unwrap_or_default()
}

#[tokio::test]
async fn member_lists_and_searches_use_the_right_index() {
    let db = TestDb::new().await;
    let (tenant, program) = load(&db).await;
    let f = MemberFilter::default;
    // (what, filter, the index that must find the members).
    let cases = [
        ("the plain list", f(), "members_program"),
        (
            "by status",
            MemberFilter {
                status: Some(MemberStatus::Closed),
                ..f()
            },
            "members_program_status",
        ),
        (
            "by email",
            MemberFilter {
                email: Some("m77@example.com".into()),
                ..f()
            },
            "members_email",
        ),
        (
            "by phone",
            MemberFilter {
                phone: Some("+48601000077".into()),
                ..f()
            },
            "members_phone",
        ),
        (
            "by card",
            MemberFilter {
                card_number: Some("4000010000000077".into()),
                ..f()
            },
            "card_number",
        ),
        (
            "a one-word search",
            MemberFilter {
                search: vec!["name77".into()],
                ..f()
            },
            "search",
        ),
        (
            "a two-word search",
            MemberFilter {
                search: vec!["name77".into(), "kow77".into()],
                ..f()
            },
            "search",
        ),
    ];
    for (what, filter, index) in cases {
        let (sql, params) = list_members_query(&tenant, &program, &filter, None, 50);
        let plan = plan(&db, &sql, &params).await;
        eprintln!("{what} ({}):\n  {}", db.backend(), plan.join("\n  "));
        let access = members_access(&plan);
        assert!(
            !access.contains("Seq Scan") && !access.starts_with("SCAN m"),
            "{what} on {} walks the members: {plan:#?}",
            db.backend()
        );
        if index == "search" {
            // The terms are read first and the members found by id.
            let terms = plan
                .iter()
                .position(|l| l.contains("member_search_terms"))
                .expect("terms are used");
            let members = plan.iter().position(|l| *l == access).unwrap();
            let by_id = access.contains("(id=?)")
                || access.contains("members_id_key")
                || access.contains("autoindex_members_1");
            assert!(
                by_id || terms < members,
                "{what} on {}: {plan:#?}",
                db.backend()
            );
        } else if index == "card_number" {
            assert!(
                access.contains("card_number")
                    || access.contains("members_4")
                    || access.contains("members_program_card_number_key"),
                "{what}: {plan:#?}"
            );
        } else if index == "members_program" {
            // One program holds every member here, so walking the primary key in order is as
            // good: either way the walk stops after one page.
            let ordered = ["members_program", "PRIMARY KEY", "members_pkey"];
            assert!(
                ordered.iter().any(|i| access.contains(i)),
                "{what}: {plan:#?}"
            );
        } else {
            assert!(
                access.contains(index),
                "{what} on {} should use {index}: {plan:#?}",
                db.backend()
            );
        }
    }
}

/// `queries::rows_by_keys`, the shape of the lookups by a list of keys (a batch's members, their
/// orders): each key is found through the unique index even when the planner's statistics are
/// older than the table's rows. Here they were taken at 20 rows and the table then grew to
/// 2,000, as when purchases start a minute after a program's members were enrolled; with an
/// `IN` list and a subquery per row, PostgreSQL then scanned the whole table.
#[tokio::test]
async fn lookups_by_keys_use_the_unique_index_with_stale_statistics() {
    let db = TestDb::new().await;
    let mut c = db.db.connect_writer().await.unwrap();
    let n = |from: i64, to: i64| {
        format!(
            "WITH RECURSIVE n(i) AS (SELECT {from} UNION ALL SELECT i + 1 FROM n WHERE i < {to})
             INSERT INTO keyed (id, program_id, pad) SELECT 'mem_' || i, 'prg', '{}' FROM n",
            "x".repeat(200)
        )
    };
    let statements = [
        "CREATE TABLE keyed (id TEXT PRIMARY KEY, program_id TEXT NOT NULL, pad TEXT)".to_owned(),
        n(1, 20),
        "ANALYZE".to_owned(),
        n(21, 2_000),
    ];
    for sql in statements {
        c.batch(&sql).await.unwrap_or_else(|e| panic!("{sql}: {e}"));
    }
    let keys: Vec<Value> = (1..=16).map(|i| Value::from(format!("mem_{i}"))).collect();
    let from =
        tally_store::queries::rows_by_keys(c.dialect(), "keyed", "id", (1, keys.len()), "", "k");
    let sql = format!("SELECT k.id, (SELECT 1 FROM keyed x WHERE x.id = k.id || 'a') FROM {from}");
    let plan = plan(&db, &sql, &keys).await;
    eprintln!("by keys ({}):\n  {}", db.backend(), plan.join("\n  "));
    let access = plan
        .iter()
        .find(|l| l.contains("on keyed ") || l.contains("keyed USING") || l.contains("SCAN keyed"))
        .expect("the table is read");
    assert!(
        access.contains("keyed_pkey") || access.contains("autoindex_keyed_1"),
        "each key through the unique index on {}: {plan:#?}",
        db.backend()
    );
    let rows = c.query(&sql, &keys).await.unwrap();
    assert_eq!(rows.len(), 16, "every key found once");
}
