//! A small connection pool: a bounded set of connections made on demand. Broken connections are
//! dropped instead of returned.

use crate::{Conn, StoreError};
use std::future::Future;
use std::ops::{Deref, DerefMut};
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

type Connect<C> =
    Arc<dyn Fn() -> Pin<Box<dyn Future<Output = Result<C, StoreError>> + Send>> + Send + Sync>;

pub struct Pool<C> {
    idle: Arc<Mutex<Vec<C>>>,
    permits: Arc<Semaphore>,
    connect: Connect<C>,
}

impl<C> Clone for Pool<C> {
    fn clone(&self) -> Self {
        Pool {
            idle: self.idle.clone(),
            permits: self.permits.clone(),
            connect: self.connect.clone(),
        }
    }
}

impl<C: Conn> Pool<C> {
    pub fn new<F, Fut>(max_size: usize, connect: F) -> Pool<C>
    where
        F: Fn() -> Fut + Send + Sync + 'static,
        Fut: Future<Output = Result<C, StoreError>> + Send + 'static,
    {
        assert!(max_size > 0, "a pool needs room for one connection");
        Pool {
            idle: Arc::new(Mutex::new(Vec::new())),
            permits: Arc::new(Semaphore::new(max_size)),
            connect: Arc::new(move || Box::pin(connect())),
        }
    }

    pub async fn get(&self) -> Result<Pooled<C>, StoreError> {
        let permit = self
            .permits
            .clone()
            .acquire_owned()
            .await
            .map_err(|_| StoreError::Unavailable("pool closed".into()))?;
        let idle = self.idle.lock().expect("pool lock").pop();
        let conn = match idle {
            Some(conn) => conn,
            None => (self.connect)().await?,
        };
        Ok(Pooled {
            conn: Some(conn),
            idle: self.idle.clone(),
            _permit: permit,
        })
    }
}

/// A connection on loan from a [`Pool`]; goes back when dropped.
pub struct Pooled<C: Conn> {
    conn: Option<C>,
    idle: Arc<Mutex<Vec<C>>>,
    _permit: OwnedSemaphorePermit,
}

impl<C: Conn> Deref for Pooled<C> {
    type Target = C;
    fn deref(&self) -> &C {
        self.conn.as_ref().expect("present until drop")
    }
}

impl<C: Conn> DerefMut for Pooled<C> {
    fn deref_mut(&mut self) -> &mut C {
        self.conn.as_mut().expect("present until drop")
    }
}

impl<C: Conn> Drop for Pooled<C> {
    fn drop(&mut self) {
        if let Some(conn) = self.conn.take()
            && !conn.is_broken()
            && let Ok(mut idle) = self.idle.lock()
        {
            idle.push(conn);
        }
    }
}

impl<C: Conn> Conn for Pooled<C> {
    fn dialect(&self) -> crate::Dialect {
        (**self).dialect()
    }

    fn execute(
        &mut self,
        sql: &str,
        params: &[crate::Value],
    ) -> impl Future<Output = Result<u64, StoreError>> + Send {
        (**self).execute(sql, params)
    }

    fn query(
        &mut self,
        sql: &str,
        params: &[crate::Value],
    ) -> impl Future<Output = Result<Vec<crate::Row>, StoreError>> + Send {
        (**self).query(sql, params)
    }

    fn batch(&mut self, sql: &str) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).batch(sql)
    }

    fn execute_later(
        &mut self,
        sql: &str,
        params: &[crate::Value],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).execute_later(sql, params)
    }

    fn insert_rows(
        &mut self,
        table: &str,
        columns: &[&str],
        values: &[crate::Value],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).insert_rows(table, columns, values)
    }

    fn gather_rows(
        &mut self,
        table: &'static str,
        columns: &'static [&'static str],
        values: &[crate::Value],
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).gather_rows(table, columns, values)
    }

    fn gather_addition(
        &mut self,
        target: &'static crate::Addition,
        key: &str,
        delta: i64,
    ) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).gather_addition(target, key, delta)
    }

    fn flush(&mut self) -> impl Future<Output = Result<(), StoreError>> + Send {
        (**self).flush()
    }

    fn is_broken(&self) -> bool {
        (**self).is_broken()
    }
}
