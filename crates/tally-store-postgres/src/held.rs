//! Writes held back until the next statement (`Conn::execute_later`): sent in one pipeline with
//! it. Gathered writes (`Conn::gather_rows`, `Conn::gather_addition`) wait here too, one list
//! per table and one per added number, until a statement of another kind comes; then each list
//! becomes one statement whose shape does not depend on its number of rows (arrays bound as
//! parameters, `unnest` into rows), so its plan is cached like a single row's.

use crate::{bind, refs};
use std::future::Future;
use tally_store::{Addition, Value};
use tokio_postgres::types::{ToSql, Type};
use tokio_postgres::{Client, Statement};

/// A held statement's parameters: values, or one array per parameter (gathered rows).
pub(crate) enum Params {
    Values(Vec<Value>),
    Arrays(Vec<Vec<Value>>),
}

pub(crate) type Held = Vec<(Statement, Params)>;

/// Sends held writes, in order, each on its way before the first answer is awaited (the
/// client pipelines requests that are polled together). Reports the first error.
pub(crate) async fn send_held(client: &Client, held: &Held) -> Result<(), tokio_postgres::Error> {
    let sends = held.iter().map(|(stmt, params)| async move {
        match params {
            Params::Values(values) => {
                let params = bind(values);
                client.execute(stmt, &refs(&params)).await
            }
            Params::Arrays(arrays) => {
                let arrays: Vec<_> = arrays.iter().map(|a| bind(a)).collect();
                let refs: Vec<&(dyn ToSql + Sync)> =
                    arrays.iter().map(|a| a as &(dyn ToSql + Sync)).collect();
                client.execute(stmt, &refs).await
            }
        }
    });
    for sent in futures_util::future::join_all(sends).await {
        sent?;
    }
    Ok(())
}

/// Runs `last` after the held writes, in one pipeline: the first error in order wins (after a
/// failed write the transaction is aborted, so what follows fails too).
pub(crate) async fn after_held<T>(
    client: &Client,
    held: &Held,
    last: impl Future<Output = Result<T, tokio_postgres::Error>>,
) -> Result<T, tokio_postgres::Error> {
    if held.is_empty() {
        return last.await;
    }
    let (earlier, last) = futures_util::future::join(send_held(client, held), last).await;
    earlier?;
    last
}

/// Rows for one table's columns, gathered.
pub(crate) struct Rows {
    pub table: &'static str,
    pub columns: &'static [&'static str],
    /// `columns.len()` values per row.
    pub values: Vec<Value>,
}

/// The deltas gathered for one added number: one per key, summed.
pub(crate) type Deltas = (&'static Addition, Vec<(String, i64)>);

/// What waits to be sent: the deltas per added number (one per key, summed), and each table's
/// rows, tables in the order they were first gathered.
#[derive(Default)]
pub(crate) struct Gathered {
    additions: Vec<Deltas>,
    inserts: Vec<Rows>,
}

impl Gathered {
    pub fn is_empty(&self) -> bool {
        self.additions.is_empty() && self.inserts.is_empty()
    }

    pub fn rows(
        &mut self,
        table: &'static str,
        columns: &'static [&'static str],
        values: &[Value],
    ) {
        match self
            .inserts
            .iter_mut()
            .find(|r| r.table == table && r.columns == columns)
        {
            Some(rows) => rows.values.extend_from_slice(values),
            None => self.inserts.push(Rows {
                table,
                columns,
                values: values.to_vec(),
            }),
        }
    }

    pub fn addition(&mut self, target: &'static Addition, key: &str, delta: i64) {
        let deltas = match self
            .additions
            .iter_mut()
            .find(|(t, _)| std::ptr::eq(*t, target))
        {
            Some((_, deltas)) => deltas,
            None => {
                self.additions.push((target, Vec::new()));
                &mut self.additions.last_mut().expect("just pushed").1
            }
        };
        match deltas.iter_mut().find(|(k, _)| k == key) {
            Some((_, sum)) => *sum += delta,
            None => deltas.push((key.to_owned(), delta)),
        }
    }

    /// Empties it: the additions first, then the rows.
    pub fn take(&mut self) -> (Vec<Deltas>, Vec<Rows>) {
        (
            std::mem::take(&mut self.additions),
            std::mem::take(&mut self.inserts),
        )
    }
}

/// `INSERT … SELECT * FROM unnest($1::type[], …)`: one array per column, typed as PostgreSQL
/// typed the single-row insert's parameters (`types`).
pub(crate) fn unnest_insert(table: &str, columns: &[&str], types: &[Type]) -> String {
    let arrays: Vec<String> = types
        .iter()
        .enumerate()
        .map(|(i, ty)| format!("${}::{}[]", i + 1, ty.name()))
        .collect();
    format!(
        "INSERT INTO {table} ({}) SELECT * FROM unnest({})",
        columns.join(", "),
        arrays.join(", ")
    )
}

/// The additions to many rows: keys in `$1`, deltas in `$2`. The `= ANY` finds the rows by
/// their key (a join alone may be planned as a scan of the whole table).
pub(crate) fn unnest_addition(target: &Addition) -> String {
    let Addition { table, key, column } = target;
    format!(
        "UPDATE {table} SET {column} = {table}.{column} + d.delta \
         FROM unnest($1::text[], $2::int8[]) AS d(k, delta) \
         WHERE {table}.{key} = d.k AND {table}.{key} = ANY($1::text[]) AND {table}.{column} IS NOT NULL"
    )
}

/// Row after row to one array per column.
pub(crate) fn by_column(columns: usize, values: Vec<Value>) -> Vec<Vec<Value>> {
    let rows = values.len() / columns;
    let mut arrays: Vec<Vec<Value>> = (0..columns).map(|_| Vec::with_capacity(rows)).collect();
    for (i, value) in values.into_iter().enumerate() {
        arrays[i % columns].push(value);
    }
    arrays
}
