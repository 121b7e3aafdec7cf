//! Writes held back by `Conn::execute_later` (PostgreSQL sends them in one pipeline with the
//! next statement): they run in the order given, before whatever comes next, and a failure
//! among them is reported (by the next statement or by `flush`) and aborts the transaction.

use tally_store::{Conn, Database, Dialect, StoreError};
use tally_store_any::testing::TestDb;

const INSERT: &str = "INSERT INTO held (id, note) VALUES ($1, $2)";

async fn with_table(db: &TestDb) -> <tally_store_any::AnyDb as Database>::Conn {
    let mut c = db.db.connect_writer().await.unwrap();
    c.batch("CREATE TABLE held (id BIGINT PRIMARY KEY, note TEXT NOT NULL)")
        .await
        .unwrap();
    c
}

async fn notes(c: &mut impl Conn) -> Vec<String> {
    let rows = c
        .query("SELECT note FROM held ORDER BY id", &[])
        .await
        .unwrap();
    rows.iter().map(|r| r.text(0).unwrap()).collect()
}

#[tokio::test]
async fn held_writes_run_in_order_before_the_next_statement() {
    let db = TestDb::new().await;
    let mut c = with_table(&db).await;
    c.batch(c.dialect().begin_write()).await.unwrap();
    c.execute_later(INSERT, &[1.into(), "one".into()])
        .await
        .unwrap();
    c.execute_later(
        "UPDATE held SET note = $2 WHERE id = $1",
        &[1.into(), "uno".into()],
    )
    .await
    .unwrap();
    c.execute_later(INSERT, &[2.into(), "two".into()])
        .await
        .unwrap();
    assert_eq!(
        notes(&mut c).await,
        ["uno", "two"],
        "a read sees them, in order"
    );
    c.execute_later(INSERT, &[3.into(), "three".into()])
        .await
        .unwrap();
    c.batch("COMMIT").await.unwrap();
    assert!(!c.is_broken());
    assert_eq!(
        notes(&mut c).await,
        ["uno", "two", "three"],
        "the commit sent the last"
    );
}

#[tokio::test]
async fn a_failed_held_write_is_reported_and_its_transaction_rolls_back() {
    let db = TestDb::new().await;
    let mut c = with_table(&db).await;
    c.batch(c.dialect().begin_write()).await.unwrap();
    let held = async {
        c.execute_later(INSERT, &[1.into(), "one".into()]).await?;
        c.execute_later(INSERT, &[1.into(), "one again".into()])
            .await?;
        c.execute_later(INSERT, &[2.into(), "two".into()]).await?;
        c.flush().await
    };
    let failed = held.await;
    assert!(
        matches!(failed, Err(StoreError::Unique(_))),
        "the duplicate is reported as such: {failed:?}"
    );
    c.batch("ROLLBACK").await.unwrap();
    assert!(
        !c.is_broken(),
        "the connection is fine for the next transaction"
    );
    assert!(notes(&mut c).await.is_empty(), "nothing of it was kept");
}

/// Through `AnyDb`, as Tally uses it: PostgreSQL really holds the writes (until session 14
/// `AnyConn` ran them at once, and every test above still passed).
#[tokio::test]
async fn postgres_holds_writes_until_the_next_statement() {
    let db = TestDb::new().await;
    let mut c = with_table(&db).await;
    c.batch(c.dialect().begin_write()).await.unwrap();
    c.execute_later(INSERT, &[1.into(), "one".into()])
        .await
        .unwrap();
    let duplicate = c.execute_later(INSERT, &[1.into(), "again".into()]).await;
    match c.dialect() {
        Dialect::Postgres => {
            assert!(duplicate.is_ok(), "held, not yet sent: {duplicate:?}");
            assert!(
                c.is_broken(),
                "a connection holding writes is not handed on"
            );
            let sent = c.flush().await;
            assert!(matches!(sent, Err(StoreError::Unique(_))), "{sent:?}");
        }
        Dialect::Sqlite => {
            assert!(
                matches!(duplicate, Err(StoreError::Unique(_))),
                "SQLite runs it at once: {duplicate:?}"
            );
        }
    }
    c.batch("ROLLBACK").await.unwrap();
    assert!(!c.is_broken());
}
