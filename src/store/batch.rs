//! Many users at a time: `BatchGetItem` (100 keys per call) and
//! `BatchWriteItem` (25 items per call), every call of a batch at once,
//! retrying what DynamoDB leaves unprocessed with full-jitter exponential
//! backoff.

use super::items::*;
use super::read_budget::{BudgetGuard, ReadBudget};
use super::{Store, StoreError};
use crate::domain::{ImAccount, NewUser, User, UserId};
use aws_sdk_dynamodb::error::BuildError;
use aws_sdk_dynamodb::types::{KeysAndAttributes, PutRequest, WriteRequest};
use futures_util::future::join_all;
use futures_util::stream::{FuturesUnordered, StreamExt};
use std::ops::ControlFlow;
use std::time::{Duration, Instant};

/// DynamoDB's own limits per call.
const BATCH_WRITE_MAX_ITEMS: usize = 25;
const BATCH_GET_MAX_KEYS: usize = 100;

const BATCH_GET: &str = "BatchGetItem";

/// Rounds of `UnprocessedItems` / `UnprocessedKeys` retries, with full-jitter
/// exponential backoff from 40 ms up to 1 s (about 3 s at the worst).
const BATCH_ATTEMPTS: u32 = 8;
const BACKOFF_BASE_MS: u64 = 20;
const BACKOFF_CAP_MS: u64 = 1_000;

/// Users of a batch write that were not written, and why: DynamoDB stayed
/// busy or unavailable (`StoreError::Unavailable`), or refused in a way that
/// retrying cannot cure.
#[derive(Debug)]
pub struct NotWritten {
    pub user_ids: Vec<UserId>,
    pub cause: StoreError,
}

/// What DynamoDB still left unprocessed when the retries ran out.
#[derive(Debug, thiserror::Error)]
#[error("{count} items still unprocessed after {BATCH_ATTEMPTS} rounds")]
struct StillUnprocessed {
    count: usize,
}

/// The batch's time ran out while items were pending.
#[derive(Debug, thiserror::Error)]
#[error("stopped at the request's time budget with {count} items pending")]
struct OutOfTime {
    count: usize,
}

impl Store {
    /// Writes users that were checked to be new, with unconditional puts
    /// (`BatchWriteItem` takes no conditions). Returns every user that could
    /// not be written, with the cause: none is dropped silently. Retries
    /// stop at `writes_end`, and what is pending then is reported.
    pub async fn put_users(&self, users: &[(&NewUser, ImAccount)], writes_end: Instant) -> Vec<NotWritten> {
        let now = now_millis();
        let chunks = users.chunks(BATCH_WRITE_MAX_ITEMS).map(|chunk| {
            let requests: Result<Vec<WriteRequest>, BuildError> = chunk
                .iter()
                .map(|(user, im)| {
                    let put = PutRequest::builder().set_item(Some(user_item(user, im, now))).build()?;
                    Ok(WriteRequest::builder().put_request(put).build())
                })
                .collect();
            async move {
                match requests {
                    Ok(requests) => self.write_chunk(requests, writes_end).await,
                    Err(error) => Some(NotWritten {
                        user_ids: chunk.iter().map(|(user, _)| user.user_id.clone()).collect(),
                        cause: StoreError::other("BatchWriteItem", error),
                    }),
                }
            }
        });
        join_all(chunks).await.into_iter().flatten().collect()
    }

    /// One chunk of a batch write, with its retries. Other chunks' results
    /// stand whatever happens to this one.
    async fn write_chunk(&self, mut pending: Vec<WriteRequest>, writes_end: Instant) -> Option<NotWritten> {
        let mut cause = None;
        for attempt in 0..BATCH_ATTEMPTS {
            if attempt > 0 {
                if !backoff_before(attempt, writes_end).await {
                    cause = Some(StoreError::unavailable(
                        "BatchWriteItem",
                        OutOfTime { count: pending.len() },
                    ));
                    break;
                }
                crate::metrics::count_dynamodb_resend();
            }
            let call = self
                .client
                .batch_write_item()
                .request_items(&self.table, pending.clone())
                .send();
            // A call cut off here may still have written some items: they
            // are reported as not written, and a retry by the client finds
            // them already registered.
            let Ok(result) = tokio::time::timeout_at(writes_end.into(), call).await else {
                cause = Some(StoreError::unavailable(
                    "BatchWriteItem",
                    OutOfTime { count: pending.len() },
                ));
                break;
            };
            match result {
                Ok(output) => {
                    pending = output
                        .unprocessed_items
                        .and_then(|mut tables| tables.remove(&self.table))
                        .unwrap_or_default();
                    if pending.is_empty() {
                        return None;
                    }
                }
                // The SDK has already retried what it can.
                Err(e) => {
                    cause = Some(StoreError::from_sdk("BatchWriteItem", e));
                    break;
                }
            }
        }
        let cause = cause
            .unwrap_or_else(|| StoreError::unavailable("BatchWriteItem", StillUnprocessed { count: pending.len() }));
        let user_ids = pending
            .into_iter()
            .filter_map(|request| request.put_request)
            .filter_map(|put| take_string(&mut { put.item }, USER_ID))
            .filter_map(|id| UserId::parse(id, USER_ID).ok())
            .collect();
        Some(NotWritten { user_ids, cause })
    }

    /// Which of `ids` are already stored (strongly consistent batch reads
    /// of the `user_id` attribute only).
    pub async fn existing_user_ids(&self, ids: &[&UserId]) -> Result<Vec<UserId>, StoreError> {
        let mut existing = Vec::new();
        self.batch_get(ids, Some(USER_ID), None, |mut item| {
            existing.extend(take_string(&mut item, USER_ID).and_then(|id| UserId::parse(id, USER_ID).ok()));
            Ok(ControlFlow::Continue(()))
        })
        .await?;
        Ok(existing)
    }

    /// Reads users by id and hands each to `on_user` as its answer arrives,
    /// in no particular order; unknown ids are skipped. The caller uses at
    /// most `max_json_bytes` of them as JSON: answers that certainly bring
    /// more are not read to their end (`ReadTooLarge`), and when `on_user`
    /// breaks, no more is asked of DynamoDB. Either way memory stays near
    /// what the caller can use, however large the stored users are.
    /// Otherwise every known user is handed over or the call fails: never a
    /// shortened read.
    pub async fn read_users(
        &self,
        ids: &[&UserId],
        max_json_bytes: usize,
        on_user: &mut (dyn FnMut(User) -> ControlFlow<()> + Send),
    ) -> Result<(), StoreError> {
        let budget = ReadBudget::for_json(max_json_bytes, ids.len());
        self.batch_get(ids, None, Some(&budget), |item| Ok(on_user(user_from_item(item)?)))
            .await
    }

    /// Every call of a batch read at once (DynamoDB takes 100 keys a call),
    /// each answer handed to `on_item` as it arrives, keys left unprocessed
    /// asked for again after a backoff.
    async fn batch_get(
        &self,
        ids: &[&UserId],
        projection: Option<&'static str>,
        budget: Option<&ReadBudget>,
        mut on_item: impl FnMut(Item) -> Result<ControlFlow<()>, StoreError>,
    ) -> Result<(), StoreError> {
        let mut calls = FuturesUnordered::new();
        for chunk in ids.chunks(BATCH_GET_MAX_KEYS) {
            let mut request = KeysAndAttributes::builder()
                .set_keys(Some(chunk.iter().map(|id| user_key(id)).collect()))
                .consistent_read(true);
            if let Some(attribute) = projection {
                request = request
                    .projection_expression("#projected")
                    .expression_attribute_names("#projected", attribute);
            }
            let request = request.build().map_err(|e| StoreError::other(BATCH_GET, e))?;
            calls.push(self.get_round(request, budget, 0));
        }
        while let Some(round) = calls.next().await {
            let GetRound {
                items,
                unprocessed,
                attempt,
            } = match round {
                Ok(round) => round,
                Err(_) if budget.is_some_and(ReadBudget::is_spent) => return Err(StoreError::ReadTooLarge),
                Err(error) => return Err(error),
            };
            for item in items {
                if on_item(item)?.is_break() {
                    return Ok(());
                }
            }
            if let Some(rest) = unprocessed {
                if attempt + 1 >= BATCH_ATTEMPTS {
                    let count = rest.keys.len();
                    return Err(StoreError::unavailable(BATCH_GET, StillUnprocessed { count }));
                }
                calls.push(self.get_round(rest, budget, attempt + 1));
            }
        }
        Ok(())
    }

    /// One `BatchGetItem` call: round `attempt` (0-based) of its keys, its
    /// answer counted against `budget` when there is one.
    async fn get_round(
        &self,
        request: KeysAndAttributes,
        budget: Option<&ReadBudget>,
        attempt: u32,
    ) -> Result<GetRound, StoreError> {
        if attempt > 0 {
            tokio::time::sleep(backoff_delay(attempt)).await;
            crate::metrics::count_dynamodb_resend();
        }
        let call = self.client.batch_get_item().request_items(&self.table, request);
        let output = match budget {
            None => call.send().await,
            Some(budget) => {
                call.customize()
                    .interceptor(BudgetGuard(budget.clone()))
                    .config_override(aws_sdk_dynamodb::Config::builder().retry_classifier(BudgetGuard(budget.clone())))
                    .send()
                    .await
            }
        }
        .map_err(|e| StoreError::from_sdk(BATCH_GET, e))?;
        let items = output
            .responses
            .and_then(|mut tables| tables.remove(&self.table))
            .unwrap_or_default();
        let unprocessed = output
            .unprocessed_keys
            .and_then(|mut tables| tables.remove(&self.table))
            .filter(|rest| !rest.keys.is_empty());
        Ok(GetRound {
            items,
            unprocessed,
            attempt,
        })
    }
}

/// What one `BatchGetItem` call brought, and what it left for another.
struct GetRound {
    items: Vec<Item>,
    unprocessed: Option<KeysAndAttributes>,
    attempt: u32,
}

/// Full-jitter exponential backoff before retry `attempt` (1-based).
fn backoff_delay(attempt: u32) -> Duration {
    let ceiling = BACKOFF_CAP_MS.min(BACKOFF_BASE_MS << attempt.min(16));
    let mut random = [0u8; 8];
    let jitter = match getrandom::getrandom(&mut random) {
        Ok(()) => u64::from_le_bytes(random) % (ceiling + 1),
        Err(_) => ceiling / 2,
    };
    Duration::from_millis(jitter)
}

/// Backs off unless that would reach `end`; false means "stop retrying".
async fn backoff_before(attempt: u32, end: Instant) -> bool {
    let delay = backoff_delay(attempt);
    if Instant::now() + delay >= end {
        return false;
    }
    tokio::time::sleep(delay).await;
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_grows_with_each_round_up_to_a_ceiling() {
        for attempt in 1..=20 {
            let ceiling = BACKOFF_CAP_MS.min(BACKOFF_BASE_MS << attempt.min(16));
            assert!(
                backoff_delay(attempt) <= Duration::from_millis(ceiling),
                "round {attempt}"
            );
        }
        assert_eq!(BACKOFF_BASE_MS << 1, 40);
        // Full jitter: over many draws the delay is not stuck at one value.
        let draws: std::collections::HashSet<_> = (0..50).map(|_| backoff_delay(6)).collect();
        assert!(draws.len() > 10);
    }
}
