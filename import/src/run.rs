//! One import: check DynamoDB, connect to MySQL, raise the IM-id counter,
//! then read pages (the next one while the current one is written) and
//! write each valid row with a conditional put, many in flight.
//!
//! Resumable and idempotent by construction: a put never replaces an
//! item, and an item that is already there is compared with the one the
//! row makes. Nothing is remembered between runs.

use crate::classify::{classify, Class, SourceRow};
use crate::options::Options;
use crate::progress::Progress;
use crate::report::{Listed, Report};
use crate::source::Source;
use qnlive_user_api::backoff::Backoff;
use qnlive_user_api::store::StoreError;
use qnlive_user_api::telemetry::ErrorChain;
use qnlive_user_import::table::{ImportOutcome, ImportedUser, UsersTable};
use std::time::{Duration, Instant};
use tokio::sync::mpsc;
use tokio::task::JoinSet;

/// Our own attempts at a row DynamoDB throttles or cannot serve, each with
/// the SDK's own retries inside; then the row is reported as failed.
const WRITE_ATTEMPTS: u32 = 5;
/// Before our retries 1 to 4: drawn from up to 200 ms, 400 ms, 800 ms and
/// 1.6 s (the service's full jitter, so that rows throttled together do
/// not come back together).
const WRITE_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(100),
    cap: Duration::from_millis(1_600),
};
/// The run stops after this many failed rows: DynamoDB is not coming back.
const MAX_FAILURES: usize = 100;

/// A row's write, done.
struct Written {
    id: u64,
    user_id: Option<Vec<u8>>,
    im_userid: i64,
    outcome: Result<ImportOutcome, StoreError>,
}

/// Fills `report` as it goes, so that a run stopped by an error still
/// reports what it did.
pub async fn import(options: &Options, report: &mut Report) -> Result<(), String> {
    let started = Instant::now();
    report.dry_run = options.dry_run;
    let result = import_rows(options, report).await;
    report.complete = result.is_ok();
    report.elapsed = started.elapsed();
    result
}

async fn import_rows(options: &Options, report: &mut Report) -> Result<(), String> {
    let table = &options.users_table;
    let client = crate::dynamodb::client().await?;
    let region = client.config().region().map_or(String::new(), |r| format!(" in {r}"));
    let store = UsersTable::new(client, table);
    match store.table_exists().await {
        Ok(true) => {}
        Ok(false) => return Err(format!("the DynamoDB table {table} does not exist{region}")),
        Err(e) => return Err(format!("DynamoDB table {table}: {}", ErrorChain(&e))),
    }
    let mut source = Source::connect(options).await?;
    let total = source.count().await?;
    // Raised before any user is written, so that a user registering with
    // the service meanwhile cannot lease an id an imported user holds.
    report.counter = source.max_im_userid().await?;
    if let (Some(max), false) = (report.counter, options.dry_run) {
        raise_counter(&store, max).await?;
    }

    let (pages, mut next_page) = mpsc::channel(1);
    let reader = tokio::spawn(read_pages(source, pages));
    let mut progress = Progress::new(total);
    let mut writes = JoinSet::new();
    let mut largest_written = None;
    #[cfg(debug_assertions)]
    let mut started_writes = 0u64;
    let mut settle = |written: Written, report: &mut Report, progress: &mut Progress| {
        progress.advance(1);
        let listed = |detail| Listed::new(written.id, written.user_id.as_deref(), detail);
        if matches!(
            written.outcome,
            Ok(ImportOutcome::Imported | ImportOutcome::AlreadyPresent)
        ) {
            largest_written = largest_written.max(Some(written.im_userid));
        }
        match written.outcome {
            Ok(ImportOutcome::Imported) => report.imported += 1,
            Ok(ImportOutcome::AlreadyPresent) => report.already_present += 1,
            Ok(ImportOutcome::Conflict { differing }) => report.conflicts.push(listed(differing.join(","))),
            Err(e) => report.failed.push(listed(format!("{:?}", ErrorChain(&e).to_string()))),
        }
    };
    let mut result = Ok(());
    'pages: loop {
        let waiting = Instant::now();
        let page = match next_page.recv().await {
            Some(Ok(page)) => page,
            Some(Err(e)) => {
                result = Err(e);
                break;
            }
            None => break,
        };
        report.waited_for_mysql += waiting.elapsed();
        for row in page {
            report.rows += 1;
            let user = match classify(&row, options.time_zone) {
                Class::Deleted => {
                    report.deleted += 1;
                    progress.advance(1);
                    continue;
                }
                Class::Invalid { reasons } => {
                    report
                        .invalid
                        .push(Listed::new(row.id, row.user_id.as_deref(), reasons.join(",")));
                    progress.advance(1);
                    continue;
                }
                Class::Valid(user) => user,
            };
            let waiting = Instant::now();
            while writes.len() >= options.concurrency {
                settle(joined(writes.join_next().await)?, report, &mut progress);
            }
            report.waited_for_dynamodb += waiting.elapsed();
            writes.spawn(write(store.clone(), row, user, options.dry_run));
            #[cfg(debug_assertions)]
            {
                started_writes += 1;
                if options.crash_after_writes == Some(started_writes) {
                    // Test only: die as a crash would, with writes in flight.
                    tokio::time::sleep(Duration::from_millis(20)).await;
                    std::process::abort();
                }
            }
            while let Some(done) = writes.try_join_next() {
                settle(joined(Some(done))?, report, &mut progress);
            }
            if report.failed.len() >= MAX_FAILURES {
                let failed = report.failed.len();
                result = Err(format!(
                    "stopped after {failed} rows failed to be written (DynamoDB keeps failing)"
                ));
                break 'pages;
            }
        }
    }
    drop(next_page);
    let waiting = Instant::now();
    while let Some(done) = writes.join_next().await {
        settle(joined(Some(done))?, report, &mut progress);
    }
    report.waited_for_dynamodb += waiting.elapsed();
    progress.finish();
    let _ = reader.await;
    // Rows added to MySQL during the run may carry larger ids.
    if let (Some(max), false) = (largest_written, options.dry_run) {
        raise_counter(&store, max).await?;
        report.counter = report.counter.max(Some(max));
    }
    result
}

fn joined(done: Option<Result<Written, tokio::task::JoinError>>) -> Result<Written, String> {
    match done {
        Some(Ok(written)) => Ok(written),
        Some(Err(e)) => Err(format!("a write task failed: {e}")),
        None => Err("no write in flight".into()),
    }
}

async fn raise_counter(store: &UsersTable, im_userid: i64) -> Result<(), String> {
    store
        .raise_im_counter(im_userid)
        .await
        .map_err(|e| format!("could not raise the IM-id counter to {im_userid}: {}", ErrorChain(&e)))
}

/// Reads every page into `pages`, in id order, until the table ends, an
/// error (sent on), or the receiver is gone.
async fn read_pages(mut source: Source, pages: mpsc::Sender<Result<Vec<SourceRow>, String>>) {
    let mut after = 0;
    loop {
        let page = source.page(after).await;
        // None when the table has ended or the read failed (sent on).
        let last = page.as_ref().ok().and_then(|rows| rows.last()).map(|row| row.id);
        if pages.send(page).await.is_err() {
            break;
        }
        let Some(id) = last else { break };
        after = id;
    }
    source.close().await;
}

async fn write(store: UsersTable, row: SourceRow, user: ImportedUser, dry_run: bool) -> Written {
    let mut attempt = 1;
    let outcome = loop {
        let outcome = if dry_run {
            store.check_imported_user(&user).await
        } else {
            store.import_user(&user).await
        };
        match outcome {
            Err(e) if e.is_unavailable() && attempt < WRITE_ATTEMPTS => {
                tokio::time::sleep(WRITE_BACKOFF.delay(attempt)).await;
                attempt += 1;
            }
            outcome => break outcome,
        }
    };
    Written {
        id: row.id,
        user_id: row.user_id,
        im_userid: user.im.im_userid,
        outcome,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn retries_pause_up_to_200_400_800_ms_then_1_6_s() {
        let ceilings: Vec<u128> = (1..WRITE_ATTEMPTS)
            .map(|attempt| WRITE_BACKOFF.ceiling(attempt).as_millis())
            .collect();
        assert_eq!(ceilings, [200, 400, 800, 1_600]);
    }
}
