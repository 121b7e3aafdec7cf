//! Copies the write-ahead log back into the database file on a thread of its own.
//!
//! SQLite checkpoints on the connection that commits, once the log passes 1,000 pages: the
//! writer thread, which then stops writing while it copies pages and syncs the file (about 5 %
//! of its time in an import). Here a thread with its own connection does a passive checkpoint
//! (it never waits for readers or the writer) ten times a second, and the writers' connections
//! checkpoint themselves only when the log passes [`WRITER_CHECKPOINT_PAGES`], in case this
//! thread falls behind.

use crate::SqliteConn;
use std::path::Path;
use std::sync::mpsc::{self, RecvTimeoutError};
use std::time::Duration;
use tally_store::StoreError;

const EVERY: Duration = Duration::from_millis(100);
/// A writer's own automatic checkpoint: far above what the log grows by between two of this
/// thread's checkpoints (about 400 pages of 8 KiB in 100 ms of import), so only a safety net.
/// The log then holds at most about 80 MB.
pub(crate) const WRITER_CHECKPOINT_PAGES: u32 = 10_000;

/// Runs the checkpoints while it lives; its thread ends soon after it is dropped.
pub(crate) struct Checkpointer {
    _stop: mpsc::Sender<()>,
}

impl Checkpointer {
    pub(crate) fn start(path: &Path) -> Result<Checkpointer, StoreError> {
        let conn = SqliteConn::open(path)?;
        let (stop, stopped) = mpsc::channel::<()>();
        std::thread::Builder::new()
            .name("tally-checkpoint".into())
            .spawn(move || {
                while let Err(RecvTimeoutError::Timeout) = stopped.recv_timeout(EVERY) {
                    // A checkpoint that fails (the file is busy) is retried at the next tick.
                    let _ = conn
                        .conn
                        .query_row("PRAGMA wal_checkpoint(PASSIVE)", [], |_| Ok(()));
                }
            })
            .map_err(|e| StoreError::Other(format!("cannot start the checkpointer: {e}")))?;
        Ok(Checkpointer { _stop: stop })
    }
}

#[cfg(test)]
mod tests {
    use crate::SqliteDb;
    use tally_store::{Conn, Database};

    /// About 2 MB (250 pages) written in one commit, below the threshold of any connection's own
    /// checkpoint, reach the database file shortly after: the checkpointer copied them.
    #[tokio::test]
    async fn the_log_reaches_the_database_file_without_the_writer() {
        let path = crate::tests::temp_db("checkpoint");
        let db = SqliteDb::open(&path).unwrap();
        let mut writer = db.connect_writer().await.unwrap();
        writer
            .batch(
                "CREATE TABLE t (x TEXT);
                 WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 2000)
                 INSERT INTO t SELECT hex(randomblob(512)) FROM n;",
            )
            .await
            .unwrap();
        let mut size = 0;
        for _ in 0..50 {
            size = std::fs::metadata(&path).unwrap().len();
            if size > 1_000_000 {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        drop((writer, db));
        crate::tests::remove_db(&path);
        assert!(size > 1_000_000, "the database file has {size} bytes");
    }
}
