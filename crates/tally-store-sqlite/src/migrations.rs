//! The schema's migrations, applied in order, each once, each in a transaction of its own.

use crate::SqliteConn;
use tally_store::{Conn, StoreError, Value};

pub(crate) const MIGRATIONS: &[(i64, &str)] = &[
    (1, include_str!("../migrations/0001_core.sql")),
    (2, include_str!("../migrations/0002_console.sql")),
    (3, include_str!("../migrations/0003_earning.sql")),
    (4, include_str!("../migrations/0004_pending.sql")),
    (5, include_str!("../migrations/0005_events.sql")),
    (6, include_str!("../migrations/0006_stamps.sql")),
    (7, include_str!("../migrations/0007_referrals.sql")),
    (8, include_str!("../migrations/0008_reward_tiers.sql")),
    (
        9,
        include_str!("../migrations/0009_pending_on_purchases.sql"),
    ),
    (10, include_str!("../migrations/0010_insights.sql")),
    (11, include_str!("../migrations/0011_segments.sql")),
    (12, include_str!("../migrations/0012_vouchers.sql")),
    (13, include_str!("../migrations/0013_reward_vouchers.sql")),
    (14, include_str!("../migrations/0014_charities.sql")),
    (15, include_str!("../migrations/0015_reward_segments.sql")),
    (16, include_str!("../migrations/0016_offers.sql")),
    (17, include_str!("../migrations/0017_cashback.sql")),
    (18, include_str!("../migrations/0018_fulfilment.sql")),
    (19, include_str!("../migrations/0019_offer_groups.sql")),
    (20, include_str!("../migrations/0020_templates.sql")),
    (21, include_str!("../migrations/0021_messages.sql")),
    (22, include_str!("../migrations/0022_campaigns.sql")),
    (23, include_str!("../migrations/0023_journeys.sql")),
    (24, include_str!("../migrations/0024_webhooks.sql")),
    (25, include_str!("../migrations/0025_push.sql")),
    (26, include_str!("../migrations/0026_journey_holdouts.sql")),
    (
        27,
        include_str!("../migrations/0027_webhook_secret_rotation.sql"),
    ),
    (
        28,
        include_str!("../migrations/0028_transfers_member_covering.sql"),
    ),
    (29, include_str!("../migrations/0029_pending_by_member.sql")),
    (
        30,
        include_str!("../migrations/0030_ledger_without_foreign_keys.sql"),
    ),
    (
        31,
        include_str!("../migrations/0031_ledger_rebuilt_without_foreign_keys.sql"),
    ),
];

/// Applies the `migrations` not applied yet. Foreign keys are not enforced while they run:
/// SQLite changes a table's constraints by rebuilding it, and dropping the old table would
/// break or cascade to the rows that refer to it. Every foreign key is checked before each
/// migration commits instead. Enforcement is back on afterwards, whether they all applied or not.
pub(crate) async fn run(
    conn: &mut SqliteConn,
    migrations: &[(i64, &str)],
) -> Result<(), StoreError> {
    conn.batch("PRAGMA foreign_keys = OFF").await?;
    let applied = apply_all(conn, migrations).await;
    conn.batch("PRAGMA foreign_keys = ON").await?;
    applied
}

/// Applies each migration in a transaction of its own, stopping at the first that fails.
async fn apply_all(conn: &mut SqliteConn, migrations: &[(i64, &str)]) -> Result<(), StoreError> {
    conn.batch("CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_at_us INTEGER NOT NULL)").await?;
    for (version, sql) in migrations {
        conn.batch("BEGIN IMMEDIATE").await?;
        match apply(conn, *version, sql).await {
            Ok(()) => conn.batch("COMMIT").await?,
            Err(e) => {
                conn.batch("ROLLBACK").await?;
                return Err(e);
            }
        }
    }
    Ok(())
}

/// Runs one migration inside the caller's transaction, unless it was applied before.
async fn apply(conn: &mut SqliteConn, version: i64, sql: &str) -> Result<(), StoreError> {
    let applied = conn
        .query_one(
            "SELECT 1 FROM schema_migrations WHERE version = $1",
            &[Value::Int(version)],
        )
        .await?
        .is_some();
    if applied {
        return Ok(());
    }
    conn.batch(sql).await?;
    if let Some(dangling) = dangling_reference(conn).await? {
        return Err(StoreError::Other(format!(
            "migration {version} would leave {dangling}"
        )));
    }
    conn.execute(
        "INSERT INTO schema_migrations (version, applied_at_us) VALUES ($1, $2)",
        &[Value::Int(version), Value::Int(now_us())],
    )
    .await?;
    Ok(())
}

/// The first row whose foreign key finds no row it refers to, named, if there is one.
async fn dangling_reference(conn: &mut SqliteConn) -> Result<Option<String>, StoreError> {
    let found = conn.query("PRAGMA foreign_key_check", &[]).await?;
    Ok(found.first().map(|r| {
        let (table, parent) = (r.text(0).unwrap_or_default(), r.text(2).unwrap_or_default());
        format!("a row of `{table}` referring to a missing row of `{parent}`")
    }))
}

fn now_us() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as i64)
}

#[cfg(test)]
mod tests {
    use super::{MIGRATIONS, run};
    use crate::SqliteConn;
    use tally_store::{Conn, StoreError, Value};

    /// A program's ledger as migration 30 left it: a member, two accounts, an earn transfer, a
    /// purchase with one line.
    const LEDGER: &str = "
        INSERT INTO tenants (id, name, created_at_us) VALUES ('ten_1', 'Shop', 1);
        INSERT INTO programs (id, tenant_id, name, points_name, currency, time_zone,
            points_per_unit_milli, rounding, excluded_categories, min_order_minor,
            negative_balance, created_at_us)
            VALUES ('prg_1', 'ten_1', 'Club', 'points', 'EUR', 'UTC', 1000, 'down', '[]', 0,
            'allow_negative', 1);
        INSERT INTO persons (id, created_at_us) VALUES ('per_1', 1);
        INSERT INTO members (id, tenant_id, program_id, person_id, attributes, tags, status,
            card_number, card_token, enrolled_at_us, updated_at_us)
            VALUES ('mem_1', 'ten_1', 'prg_1', 'per_1', '{}', '[]', 'active', '1000', 't', 1, 1);
        INSERT INTO accounts (id, program_id, member_id, kind, balance)
            VALUES ('prg_1:issuance', 'prg_1', NULL, 'issuance', NULL),
                   ('mem_1:member_available', 'prg_1', 'mem_1', 'member_available', 42);
        INSERT INTO transfers (id, program_id, member_id, kind, debit_account_id,
            credit_account_id, amount, balance_after, reason, occurred_at_us, recorded_at_us)
            VALUES ('trf_1', 'prg_1', 'mem_1', 'earn', 'prg_1:issuance',
            'mem_1:member_available', 42, 42, '{}', 5, 6);
        INSERT INTO purchases (id, tenant_id, program_id, member_id, order_id, total_minor,
            currency, channel, points_earned, points_reversed, returned_minor, content_sha256,
            answer, occurred_at_us, recorded_at_us, cashback_minor)
            VALUES ('pur_1', 'ten_1', 'prg_1', 'mem_1', 'A-1', 4200, 'EUR', 'pos', 42, 0, 0,
            'hash', '{\"points_earned\":42}', 5, 6, 7);
        INSERT INTO purchase_lines (purchase_id, line_no, sku, quantity, unit_price_minor,
            returned_quantity) VALUES ('pur_1', 1, 'SKU-1', 2, 2100, 0);";

    async fn fresh() -> (SqliteConn, std::path::PathBuf) {
        let path = crate::tests::temp_db("migrations");
        (SqliteConn::open(&path).unwrap(), path)
    }

    async fn texts(c: &mut SqliteConn, sql: &str) -> Vec<String> {
        let rows = c.query(sql, &[]).await.unwrap();
        rows.iter().map(|r| r.text(0).unwrap()).collect()
    }

    #[tokio::test]
    async fn the_ledger_rebuilt_without_foreign_keys_keeps_every_row() {
        let (mut c, path) = fresh().await;
        run(&mut c, &MIGRATIONS[..30]).await.unwrap();
        c.batch(LEDGER).await.unwrap();
        run(&mut c, MIGRATIONS).await.unwrap();

        assert_eq!(
            texts(&mut c, "SELECT id || '/' || debit_account_id || '/' || credit_account_id || '/' || amount || '/' || occurred_at_us FROM transfers").await,
            ["trf_1/prg_1:issuance/mem_1:member_available/42/5"]
        );
        assert_eq!(
            texts(
                &mut c,
                "SELECT id || '/' || IFNULL(balance, '-') FROM accounts ORDER BY id"
            )
            .await,
            ["mem_1:member_available/42", "prg_1:issuance/-"]
        );
        assert_eq!(
            texts(&mut c, "SELECT id || '/' || order_id || '/' || answer || '/' || cashback_minor || '/' || pending_points FROM purchases").await,
            ["pur_1/A-1/{\"points_earned\":42}/7/0"]
        );
        assert_eq!(
            texts(
                &mut c,
                "SELECT purchase_id || '/' || sku FROM purchase_lines"
            )
            .await,
            ["pur_1/SKU-1"]
        );
        for table in ["transfers", "purchases"] {
            let references = c
                .query(&format!("PRAGMA foreign_key_list({table})"), &[])
                .await
                .unwrap();
            assert!(references.is_empty(), "{table} checks no references");
        }
        let accounts = texts(
            &mut c,
            "SELECT sql FROM sqlite_master WHERE name = 'accounts'",
        )
        .await;
        assert!(accounts[0].ends_with("WITHOUT ROWID"), "{accounts:?}");
        let indexes = texts(
            &mut c,
            "SELECT name FROM sqlite_master WHERE type IN ('index', 'trigger') AND sql IS NOT NULL \
             AND tbl_name IN ('transfers', 'purchases', 'accounts') ORDER BY name",
        )
        .await;
        assert_eq!(
            indexes,
            [
                "accounts_member_kind",
                "accounts_program_kind",
                "purchases_member",
                "purchases_pending_due",
                "purchases_program_time",
                "transfers_member",
                "transfers_no_delete",
                "transfers_no_update",
                "transfers_program_seq",
            ]
        );
        let changed = c
            .execute("UPDATE transfers SET amount = 1", &[])
            .await
            .unwrap_err();
        assert!(
            changed.to_string().contains("transfers are immutable"),
            "{changed}"
        );
        let line = c
            .execute(
                "INSERT INTO purchase_lines (purchase_id, line_no, sku, quantity, unit_price_minor, returned_quantity) VALUES ('pur_missing', 1, 'S', 1, 1, 0)",
                &[],
            )
            .await;
        assert!(
            line.is_err(),
            "lines still refer to the rebuilt purchases, checked once migrations are done"
        );
        drop(c);
        crate::tests::remove_db(&path);
    }

    #[tokio::test]
    async fn a_migration_leaving_a_dangling_reference_is_rolled_back() {
        let (mut c, path) = fresh().await;
        run(&mut c, MIGRATIONS).await.unwrap();
        let orphan = "INSERT INTO purchase_lines (purchase_id, line_no, sku, quantity, \
                      unit_price_minor, returned_quantity) VALUES ('pur_missing', 1, 'S', 1, 1, 0)";
        let failed = run(&mut c, &[(1000, orphan)]).await.unwrap_err();
        assert!(
            matches!(&failed, StoreError::Other(m) if m == "migration 1000 would leave a row of `purchase_lines` referring to a missing row of `purchases`"),
            "{failed}"
        );
        let applied = c
            .query_one(
                "SELECT count(*) FROM schema_migrations WHERE version = $1",
                &[Value::Int(1000)],
            )
            .await
            .unwrap()
            .unwrap();
        assert_eq!(applied.int(0).unwrap(), 0);
        assert!(
            texts(&mut c, "SELECT sku FROM purchase_lines")
                .await
                .is_empty()
        );
        let enforced = c.query_one("PRAGMA foreign_keys", &[]).await.unwrap();
        assert_eq!(
            enforced.unwrap().int(0).unwrap(),
            1,
            "foreign keys on again"
        );
        drop(c);
        crate::tests::remove_db(&path);
    }
}
