//! How a batch write is sent again: what DynamoDB leaves unprocessed goes
//! out in another round after a full-jitter backoff, for at most
//! `BATCH_ATTEMPTS` rounds and never past the caller's end. Every store
//! backend writes batches through this one loop.

use super::StoreError;
use crate::backoff::Backoff;
use std::future::Future;
use std::time::Duration;
use tokio::time::Instant;

/// DynamoDB's limit of items per `BatchWriteItem` call.
pub(super) const BATCH_WRITE_MAX_ITEMS: usize = 25;

/// Rounds of `UnprocessedItems` / `UnprocessedKeys` retries, with full-jitter
/// exponential backoff from 40 ms up to 1 s (about 3 s at the worst).
pub(super) const BATCH_ATTEMPTS: u32 = 8;
pub(super) const BATCH_BACKOFF: Backoff = Backoff {
    base: Duration::from_millis(20),
    cap: Duration::from_millis(1_000),
};

/// What is still unprocessed when the retries ran out.
#[derive(Debug, thiserror::Error)]
#[error("{count} items still unprocessed after {BATCH_ATTEMPTS} rounds")]
pub(super) struct StillUnprocessed {
    pub count: usize,
}

/// The batch's time ran out while items were pending.
#[derive(Debug, thiserror::Error)]
#[error("stopped at the request's time budget with {count} items pending")]
struct OutOfTime {
    count: usize,
}

/// Sends `pending` with `send`, which answers what it left unprocessed,
/// until nothing is left. On failure, the items still pending and why: a
/// round cut off by `end` may still have written some of them, which a
/// retry by the client then finds registered.
pub(super) async fn write_in_rounds<T: Clone, F: Future<Output = Result<Vec<T>, StoreError>>>(
    operation: &'static str,
    mut pending: Vec<T>,
    end: Instant,
    mut send: impl FnMut(Vec<T>) -> F,
) -> Result<(), (Vec<T>, StoreError)> {
    let out_of_time = |pending: Vec<T>| {
        let count = pending.len();
        (pending, StoreError::unavailable(operation, OutOfTime { count }))
    };
    for attempt in 0..BATCH_ATTEMPTS {
        if attempt > 0 {
            if !backoff_before(attempt, end).await {
                return Err(out_of_time(pending));
            }
            crate::metrics::count_dynamodb_resend();
        }
        let Ok(result) = tokio::time::timeout_at(end, send(pending.clone())).await else {
            return Err(out_of_time(pending));
        };
        match result {
            Ok(unprocessed) if unprocessed.is_empty() => return Ok(()),
            Ok(unprocessed) => pending = unprocessed,
            Err(error) => return Err((pending, error)),
        }
    }
    let count = pending.len();
    Err((pending, StoreError::unavailable(operation, StillUnprocessed { count })))
}

/// Backs off unless that would reach `end`; false means "stop retrying".
async fn backoff_before(attempt: u32, end: Instant) -> bool {
    let delay = BATCH_BACKOFF.delay(attempt);
    if Instant::now() + delay >= end {
        return false;
    }
    tokio::time::sleep(delay).await;
    true
}
