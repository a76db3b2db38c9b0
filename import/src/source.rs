//! The original's MySQL table, read in pages by keyset on `id` (never
//! OFFSET, which rereads every skipped row), over one connection and one
//! prepared statement.
//!
//! Errors are sentences written here: they name the server, database,
//! user and table, never the URL or the password.

use crate::classify::{DateTime, SourceRow, MAX_IM_USERID};
use crate::options::Options;
use mysql_async::prelude::Queryable;
use mysql_async::{Conn, Opts, OptsBuilder, Row, Statement, UrlError, Value};
use std::time::Duration;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The columns read, in order; `deleted_at` only as `IS NOT NULL`.
const COLUMNS: [&str; 11] = [
    "id",
    "user_id",
    "nick",
    "avatar",
    "extends",
    "im_userid",
    "im_username",
    "im_password",
    "created_at",
    "updated_at",
    "deleted_at",
];

pub struct Source {
    conn: Conn,
    page: Statement,
    table: String,
    page_size: u32,
    /// Where, for messages: `user@host:port/db`.
    server: String,
}

impl Source {
    /// Connects and prepares the page query, which checks that the table
    /// and every column exist before anything is written.
    pub async fn connect(options: &Options) -> Result<Source, String> {
        let opts = Opts::from_url(&options.mysql_url).map_err(|e| url_error(&e))?;
        let db = opts
            .db_name()
            .ok_or("--mysql-url names no database: mysql://USER:PASS@HOST:PORT/DB")?;
        let server = format!(
            "{}@{}:{}/{db}",
            opts.user().unwrap_or(""),
            opts.ip_or_hostname(),
            opts.tcp_port()
        );
        let table = quote_table(&options.mysql_table);
        let mut builder = OptsBuilder::from_opts(opts.clone());
        if opts.pass().is_none() {
            builder = builder.pass(options.mysql_password.clone());
        }
        let conn = match tokio::time::timeout(CONNECT_TIMEOUT, Conn::new(builder)).await {
            Ok(result) => result.map_err(|e| explain(&e, &server, &table))?,
            Err(_) => return Err(format!("MySQL at {server} did not answer within {CONNECT_TIMEOUT:?}")),
        };
        let select: Vec<String> = COLUMNS.iter().map(|c| format!("`{c}`")).collect();
        let query = format!(
            "SELECT {} IS NOT NULL FROM {table} WHERE `id` > ? ORDER BY `id` LIMIT ?",
            select.join(", ")
        );
        let mut conn = conn;
        let page = conn.prep(query).await.map_err(|e| explain(&e, &server, &table))?;
        Ok(Source {
            conn,
            page,
            table,
            page_size: options.page_size,
            server,
        })
    }

    /// How many rows the table holds now (for the progress bar's ETA: ids
    /// have gaps).
    pub async fn count(&mut self) -> Result<u64, String> {
        let query = format!("SELECT COUNT(*) FROM {}", self.table);
        let value = self.first_value(&query, ()).await?;
        integer(value)
            .and_then(|n| u64::try_from(n).ok())
            .ok_or("COUNT(*) was not a count".into())
    }

    /// The largest importable `im_userid` (through the `im_userid` index).
    pub async fn max_im_userid(&mut self) -> Result<Option<i64>, String> {
        let query = format!("SELECT MAX(`im_userid`) FROM {} WHERE `im_userid` <= ?", self.table);
        let value = self.first_value(&query, (MAX_IM_USERID,)).await?;
        Ok(integer(value).and_then(|n| i64::try_from(n).ok()))
    }

    async fn first_value(
        &mut self,
        query: &str,
        params: impl Into<mysql_async::Params> + Send,
    ) -> Result<Value, String> {
        let row: Option<Row> = self
            .conn
            .exec_first(query, params)
            .await
            .map_err(|e| explain(&e, &self.server, &self.table))?;
        Ok(row.and_then(|mut row| row.take(0)).unwrap_or(Value::NULL))
    }

    /// The rows after `after`, at most one page, in id order.
    pub async fn page(&mut self, after: u64) -> Result<Vec<SourceRow>, String> {
        let rows: Vec<Row> = self
            .conn
            .exec(&self.page, (after, self.page_size))
            .await
            .map_err(|e| explain(&e, &self.server, &self.table))?;
        rows.into_iter().map(source_row).collect()
    }

    pub async fn close(self) {
        let _ = self.conn.disconnect().await;
    }
}

/// `name` or `db.name`, each part in backticks (options.rs allows no
/// backtick in it).
fn quote_table(name: &str) -> String {
    name.split('.')
        .map(|part| format!("`{part}`"))
        .collect::<Vec<_>>()
        .join(".")
}

fn url_error(error: &UrlError) -> String {
    let detail = match error {
        UrlError::UnsupportedScheme { scheme } => format!("the scheme must be mysql://, not {scheme}://"),
        UrlError::UnknownParameter { param } => format!("unknown parameter {param:?}"),
        UrlError::InvalidParamValue { param, .. } => format!("bad value for the parameter {param:?}"),
        _ => "expected mysql://USER:PASS@HOST:PORT/DB".into(),
    };
    format!("--mysql-url is malformed: {detail}")
}

/// A MySQL error as one sentence. Server messages name users and tables,
/// never passwords; what the client says about I/O names no credentials.
fn explain(error: &mysql_async::Error, server: &str, table: &str) -> String {
    use mysql_async::Error::*;
    match error {
        Server(e) => match e.code {
            1045 => format!("MySQL refused the login (wrong user or password?): {}", e.message),
            1044 | 1049 => format!("MySQL refused the database: {}", e.message),
            1146 => format!("MySQL has no table {table} at {server}: {}", e.message),
            1054 => format!(
                "the MySQL table {table} lacks a column of the original live_users: {}",
                e.message
            ),
            code => format!("MySQL at {server} answered error {code}: {}", e.message),
        },
        Io(e) => format!("could not talk to MySQL at {server}: {e}"),
        Url(e) => url_error(e),
        Driver(e) => format!("MySQL at {server}: {e}"),
        Other(e) => format!("MySQL at {server}: {e}"),
    }
}

fn integer(value: Value) -> Option<i128> {
    match value {
        Value::Int(n) => Some(i128::from(n)),
        Value::UInt(n) => Some(i128::from(n)),
        Value::Bytes(text) => std::str::from_utf8(&text).ok()?.parse().ok(),
        _ => None,
    }
}

fn source_row(mut row: Row) -> Result<SourceRow, String> {
    let mut values = (0..COLUMNS.len()).map(|i| row.take::<Value, _>(i).unwrap_or(Value::NULL));
    let mut next = || values.next().unwrap_or(Value::NULL);
    let id = integer(next())
        .and_then(|id| u64::try_from(id).ok())
        .ok_or("a row without an id")?;
    let unexpected = |column: &str, value: &Value| {
        format!("row id={id}: the column {column} holds {value:?}, which the original live_users cannot")
    };
    let text = |column: &str, value: Value| match value {
        Value::NULL => Ok(None),
        Value::Bytes(bytes) => Ok(Some(bytes)),
        other => Err(unexpected(column, &other)),
    };
    let datetime = |column: &str, value: Value| match value {
        Value::NULL => Ok(None),
        Value::Date(year, month, day, hour, minute, second, micros) => Ok(Some(DateTime {
            year,
            month,
            day,
            hour,
            minute,
            second,
            micros,
        })),
        other => Err(unexpected(column, &other)),
    };
    Ok(SourceRow {
        id,
        user_id: text("user_id", next())?,
        nick: text("nick", next())?,
        avatar: text("avatar", next())?,
        extends: text("extends", next())?,
        im_userid: match next() {
            Value::NULL => None,
            other => Some(integer(other.clone()).ok_or_else(|| unexpected("im_userid", &other))?),
        },
        im_username: text("im_username", next())?,
        im_password: text("im_password", next())?,
        created_at: datetime("created_at", next())?,
        updated_at: datetime("updated_at", next())?,
        deleted: integer(next()).ok_or("deleted_at IS NOT NULL was not 0 or 1")? != 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tables_are_quoted_per_part() {
        assert_eq!(quote_table("live_users"), "`live_users`");
        assert_eq!(quote_table("old.live_users"), "`old`.`live_users`");
    }

    #[test]
    fn url_errors_never_show_the_url() {
        for (url, expected) in [
            (
                "mysql://u:hunter22@h:notaport/db",
                "expected mysql://USER:PASS@HOST:PORT/DB",
            ),
            (
                "postgres://u:hunter22@h/db",
                "the scheme must be mysql://, not postgres://",
            ),
            ("mysql://u:hunter22@h/db?x=1", "unknown parameter \"x\""),
            (
                "mysql://u:hunter22@h/db?require_ssl=hunter22",
                "bad value for the parameter \"require_ssl\"",
            ),
        ] {
            let Err(error) = Opts::from_url(url) else {
                panic!("{url} parsed")
            };
            assert_eq!(url_error(&error), format!("--mysql-url is malformed: {expected}"));
        }
    }

    #[test]
    fn integers_from_any_encoding() {
        assert_eq!(integer(Value::Int(-5)), Some(-5));
        assert_eq!(integer(Value::UInt(u64::MAX)), Some(i128::from(u64::MAX)));
        assert_eq!(integer(Value::Bytes(b"42".to_vec())), Some(42));
        assert_eq!(integer(Value::NULL), None);
        assert_eq!(integer(Value::Bytes(b"x".to_vec())), None);
    }
}
