//! `Conn::insert_rows`: small sets go as held multi-row inserts, large ones (PostgreSQL) through
//! `COPY … FROM STDIN`. Either way every value arrives as given, and a failure is reported.

use tally_store::{Conn, Database, Dialect, StoreError, Value};
use tally_store_any::testing::TestDb;

pub const COLUMNS: [&str; 4] = ["id", "note", "amount", "flag"];

async fn with_table(db: &TestDb) -> <tally_store_any::AnyDb as Database>::Conn {
    let mut c = db.db.connect_writer().await.unwrap();
    c.batch(
        "CREATE TABLE bulk (id BIGINT PRIMARY KEY, note TEXT, amount BIGINT NOT NULL, flag BOOLEAN NOT NULL)",
    )
    .await
    .unwrap();
    c
}

/// Rows whose notes hold what a text format must escape, and a null every seventh row.
fn rows(count: i64) -> Vec<Value> {
    (0..count)
        .flat_map(|i| {
            let note = match i % 7 {
                0 => Value::Null,
                1 => Value::Text(String::new()),
                2 => Value::Text(format!("tab\there, newline\nthere, \\N {i}")),
                3 => Value::Text(format!("back\\slash\r\n{i} zażółć")),
                _ => Value::Text(format!("plain {i}")),
            };
            [
                Value::Int(i),
                note,
                Value::Int(i * -1_000),
                Value::Bool(i % 2 == 0),
            ]
        })
        .collect()
}

/// The rows of a table of `COLUMNS` (also `gathered_writes`'), by id, as inserted.
pub async fn stored_in(c: &mut impl Conn, table: &str) -> Vec<Value> {
    let sql = format!("SELECT id, note, amount, flag FROM {table} ORDER BY id");
    let rows = c.query(&sql, &[]).await.unwrap();
    rows.iter()
        .flat_map(|r| {
            let note = r.opt_text(1).unwrap().map_or(Value::Null, Value::Text);
            [
                Value::Int(r.int(0).unwrap()),
                note,
                Value::Int(r.int(2).unwrap()),
                Value::Bool(r.boolean(3).unwrap()),
            ]
        })
        .collect()
}

async fn stored(c: &mut impl Conn) -> Vec<Value> {
    stored_in(c, "bulk").await
}

#[tokio::test]
async fn small_and_large_sets_arrive_as_given() {
    let db = TestDb::new().await;
    let mut c = with_table(&db).await;
    for count in [3, 500] {
        c.batch("DELETE FROM bulk").await.unwrap();
        c.batch(c.dialect().begin_write()).await.unwrap();
        let values = rows(count);
        c.insert_rows("bulk", &COLUMNS, &values).await.unwrap();
        // PostgreSQL holds a small set (the connection counts as busy until it is sent) and
        // copies a large one at once; SQLite runs either at once.
        let held = c.dialect() == Dialect::Postgres && count < 64;
        assert_eq!(c.is_broken(), held, "{count} rows held: {held}");
        c.flush().await.unwrap();
        c.batch("COMMIT").await.unwrap();
        assert_eq!(stored(&mut c).await, values, "{count} rows");
    }
}

#[tokio::test]
async fn a_failed_bulk_insert_is_reported_and_its_transaction_rolls_back() {
    let db = TestDb::new().await;
    let mut c = with_table(&db).await;
    c.batch(c.dialect().begin_write()).await.unwrap();
    let mut values = rows(300);
    values.extend(rows(1));
    let failed = async {
        c.insert_rows("bulk", &COLUMNS, &values).await?;
        c.flush().await
    }
    .await;
    assert!(
        matches!(failed, Err(StoreError::Unique(_))),
        "the duplicate id is reported as such: {failed:?}"
    );
    c.batch("ROLLBACK").await.unwrap();
    assert!(!c.is_broken());
    assert!(stored(&mut c).await.is_empty(), "nothing of it was kept");
}
