//! Gathered writes (`Conn::gather_rows`, `Conn::gather_addition`): PostgreSQL keeps them until
//! a statement of another kind comes and then sends each table's rows, and each number's
//! additions, as one statement; SQLite writes them at once. Either way every row and every sum
//! arrives as given, held writes given after them see them, and a failure among them is
//! reported and rolls their transaction back.

use crate::bulk_inserts::{COLUMNS as PARENT, stored_in};
use tally_store::{Addition, Conn, Database, Dialect, StoreError, Value};
use tally_store_any::testing::TestDb;

const CHILD: [&str; 3] = ["parent_id", "line", "sku"];
static TOTAL: Addition = Addition {
    table: "counters",
    key: "id",
    column: "total",
};

async fn with_tables(db: &TestDb) -> <tally_store_any::AnyDb as Database>::Conn {
    let mut c = db.db.connect_writer().await.unwrap();
    c.batch(
        "CREATE TABLE parent (id BIGINT PRIMARY KEY, note TEXT, amount BIGINT NOT NULL, flag BOOLEAN NOT NULL);
         CREATE TABLE child (parent_id BIGINT NOT NULL REFERENCES parent(id), line BIGINT NOT NULL, sku TEXT NOT NULL,
                             PRIMARY KEY (parent_id, line));
         CREATE TABLE counters (id TEXT PRIMARY KEY, total BIGINT);
         INSERT INTO counters (id, total) VALUES ('a', 0), ('b', 100), ('c', 5), ('unset', NULL);",
    )
    .await
    .unwrap();
    c
}

fn parent(id: i64) -> Vec<Value> {
    let note = match id % 3 {
        0 => Value::Null,
        1 => Value::Text(format!(
            "tab\there, quote ' \" {{braces}}, comma, zażółć {id}"
        )),
        _ => Value::Text(String::new()),
    };
    vec![
        Value::Int(id),
        note,
        Value::Int(-7 * id),
        Value::Bool(id % 2 == 0),
    ]
}

fn child(parent: i64, line: i64) -> Vec<Value> {
    vec![
        Value::Int(parent),
        Value::Int(line),
        Value::Text(format!("sku-{parent}-{line}")),
    ]
}

async fn parents(c: &mut impl Conn) -> Vec<Value> {
    stored_in(c, "parent").await
}

async fn children(c: &mut impl Conn) -> Vec<String> {
    let rows = c
        .query("SELECT sku FROM child ORDER BY parent_id, line", &[])
        .await
        .unwrap();
    rows.iter().map(|r| r.text(0).unwrap()).collect()
}

async fn totals(c: &mut impl Conn) -> Vec<(String, Option<i64>)> {
    let rows = c
        .query("SELECT id, total FROM counters ORDER BY id", &[])
        .await
        .unwrap();
    rows.iter()
        .map(|r| (r.text(0).unwrap(), r.opt_int(1).unwrap()))
        .collect()
}

#[tokio::test]
async fn gathered_rows_and_additions_arrive_as_given() {
    let db = TestDb::new().await;
    let mut c = with_tables(&db).await;
    c.batch(c.dialect().begin_write()).await.unwrap();
    // Purchase-like runs: a parent, its children, additions, the next parent…
    for id in 1..=5 {
        c.gather_addition(&TOTAL, "a", id).await.unwrap();
        c.gather_rows("parent", &PARENT, &parent(id)).await.unwrap();
        let lines: Vec<Value> = (0..id % 3).flat_map(|line| child(id, line)).collect();
        if !lines.is_empty() {
            c.gather_rows("child", &CHILD, &lines).await.unwrap();
        }
        c.gather_addition(&TOTAL, if id % 2 == 0 { "b" } else { "unset" }, 10)
            .await
            .unwrap();
    }
    // One row and one addition alone take the single-row statements.
    c.gather_addition(&TOTAL, "c", -5).await.unwrap();
    assert_eq!(
        c.is_broken(),
        c.dialect() == Dialect::Postgres,
        "PostgreSQL holds them (the connection is busy until they are sent)"
    );
    let expected: Vec<Value> = (1..=5).flat_map(parent).collect();
    assert_eq!(parents(&mut c).await, expected, "a read sees every row");
    assert_eq!(
        children(&mut c).await,
        [
            "sku-1-0", "sku-2-0", "sku-2-1", "sku-4-0", "sku-5-0", "sku-5-1"
        ],
        "children after the parents they refer to"
    );
    assert_eq!(
        totals(&mut c).await,
        [
            ("a".to_owned(), Some(15)),
            ("b".to_owned(), Some(120)),
            ("c".to_owned(), Some(0)),
            ("unset".to_owned(), None),
        ],
        "additions to a row summed; a number that is not set left alone"
    );
    c.gather_rows("parent", &PARENT, &parent(6)).await.unwrap();
    c.gather_addition(&TOTAL, "c", 1).await.unwrap();
    c.batch("COMMIT").await.unwrap();
    assert!(!c.is_broken());
    assert_eq!(
        parents(&mut c).await.len(),
        6 * PARENT.len(),
        "the commit sent the last"
    );
    assert_eq!(totals(&mut c).await[2], ("c".to_owned(), Some(1)));
}

#[tokio::test]
async fn a_held_write_after_gathered_rows_sees_them() {
    let db = TestDb::new().await;
    let mut c = with_tables(&db).await;
    c.batch(c.dialect().begin_write()).await.unwrap();
    c.gather_rows("parent", &PARENT, &parent(1)).await.unwrap();
    c.gather_rows("parent", &PARENT, &parent(2)).await.unwrap();
    c.gather_addition(&TOTAL, "a", 3).await.unwrap();
    c.execute_later("UPDATE parent SET amount = amount * 10 WHERE id = 2", &[])
        .await
        .unwrap();
    c.execute_later("UPDATE counters SET total = total * 10 WHERE id = 'a'", &[])
        .await
        .unwrap();
    c.gather_rows("parent", &PARENT, &parent(3)).await.unwrap();
    c.gather_addition(&TOTAL, "a", 1).await.unwrap();
    c.flush().await.unwrap();
    c.batch("COMMIT").await.unwrap();
    let amounts: Vec<Value> = parents(&mut c)
        .await
        .chunks(PARENT.len())
        .map(|row| row[2].clone())
        .collect();
    assert_eq!(amounts, [Value::Int(-7), Value::Int(-140), Value::Int(-21)]);
    assert_eq!(
        totals(&mut c).await[0],
        ("a".to_owned(), Some(31)),
        "(0 + 3) × 10 + 1"
    );
}

#[tokio::test]
async fn a_failed_gathered_row_is_reported_and_its_transaction_rolls_back() {
    let db = TestDb::new().await;
    let mut c = with_tables(&db).await;
    c.batch(c.dialect().begin_write()).await.unwrap();
    let failed = async {
        c.gather_addition(&TOTAL, "a", 1).await?;
        c.gather_rows("parent", &PARENT, &parent(1)).await?;
        c.gather_rows("parent", &PARENT, &parent(2)).await?;
        c.gather_rows("parent", &PARENT, &parent(1)).await?;
        c.flush().await
    }
    .await;
    match &failed {
        Err(StoreError::Unique(name)) => assert!(name.contains("parent"), "{name}"),
        other => panic!("the duplicate is reported as such: {other:?}"),
    }
    c.batch("ROLLBACK").await.unwrap();
    assert!(
        !c.is_broken(),
        "the connection is fine for the next transaction"
    );
    assert!(parents(&mut c).await.is_empty(), "no row of it was kept");
    assert_eq!(
        totals(&mut c).await[0],
        ("a".to_owned(), Some(0)),
        "nor the addition"
    );
}

#[tokio::test]
async fn many_gathered_rows_at_once_arrive_with_the_rest() {
    let db = TestDb::new().await;
    let mut c = with_tables(&db).await;
    c.batch(c.dialect().begin_write()).await.unwrap();
    c.gather_rows("parent", &PARENT, &parent(1)).await.unwrap();
    let many: Vec<Value> = (2..=200).flat_map(parent).collect();
    c.gather_rows("parent", &PARENT, &many).await.unwrap();
    c.gather_rows("parent", &PARENT, &parent(201))
        .await
        .unwrap();
    c.flush().await.unwrap();
    c.batch("COMMIT").await.unwrap();
    let expected: Vec<Value> = (1..=201).flat_map(parent).collect();
    assert_eq!(parents(&mut c).await, expected);
}
