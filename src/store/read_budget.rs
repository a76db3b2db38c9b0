//! A byte budget for the DynamoDB answers of one batch read, counted while
//! each answer arrives, so that reading many large users stops on what has
//! arrived rather than on the memory left.
//!
//! Counting the users after the SDK hands them over is too late for memory:
//! the SDK gathers an answer in chunks (up to 16 MB of items, which
//! DynamoDB's JSON may write three times larger: DynamoDB Local writes each
//! non-ASCII character as `\uXXXX` escapes), copies the chunks into one
//! buffer, and parses the buffer, while the other calls of the read arrive.
//! Here each answer is gathered into one buffer as it arrives (the SDK's
//! copy of a single buffer is free), every byte is counted against the
//! budget shared by the read's calls, and once it is spent the calls end
//! without retries.
//!
//! The budget is set from what the caller can use at most, as JSON text
//! (serde_json's: non-ASCII as it is, control characters and quotes
//! escaped). Each string and each `extends` entry takes at most three times
//! as many bytes in DynamoDB's JSON as there (a `\uXXXX` escape is 6 bytes
//! for a character of 2 or 3 UTF-8 bytes, two escapes for one of 4); beyond
//! that an item carries its key, IM login and times, under
//! `ITEM_ALLOWANCE_BYTES`. An answer that spends the budget therefore holds
//! more than the caller can use: refusing it never refuses a read that fits.

use aws_sdk_dynamodb::config::http::HttpResponse;
use aws_sdk_dynamodb::config::interceptors::{BeforeDeserializationInterceptorContextMut, InterceptorContext};
use aws_sdk_dynamodb::config::retry::{ClassifyRetry, RetryAction};
use aws_sdk_dynamodb::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_smithy_types::body::SdkBody;
use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame};
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::Arc;
use std::task::{ready, Context, Poll};

/// DynamoDB's JSON of a string is at most this many times serde_json's.
const WIRE_EXPANSION: usize = 3;
/// What an item and its share of the answer carry beyond the caller's
/// view: the key, the IM login, the times, the answer's own envelope and
/// unprocessed keys. Generous: it only costs memory, never a refusal.
const ITEM_ALLOWANCE_BYTES: usize = 4 * 1024;

/// The bytes the answers of one read may still bring. Shared by its calls.
#[derive(Clone, Debug)]
pub(super) struct ReadBudget(Arc<State>);

#[derive(Debug)]
struct State {
    remaining: AtomicUsize,
    spent: AtomicBool,
}

/// The answers of a read brought more than its budget.
#[derive(Debug, thiserror::Error)]
#[error("the answers brought more than the read's budget of bytes")]
pub(super) struct OverBudget;

impl ReadBudget {
    /// For a read of `items` items of which the caller uses at most
    /// `max_json_bytes` as JSON.
    pub(super) fn for_json(max_json_bytes: usize, items: usize) -> Self {
        let bytes = max_json_bytes
            .saturating_mul(WIRE_EXPANSION)
            .saturating_add(items.saturating_mul(ITEM_ALLOWANCE_BYTES));
        Self::of(bytes)
    }

    pub(super) fn of(bytes: usize) -> Self {
        ReadBudget(Arc::new(State {
            remaining: AtomicUsize::new(bytes),
            spent: AtomicBool::new(false),
        }))
    }

    /// Whether some answer asked for more than was left.
    pub(super) fn is_spent(&self) -> bool {
        self.0.spent.load(Ordering::Relaxed)
    }

    fn take(&self, bytes: usize) -> Result<(), OverBudget> {
        let taken = self
            .0
            .remaining
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |left| left.checked_sub(bytes));
        taken.map(drop).map_err(|_| {
            self.0.spent.store(true, Ordering::Relaxed);
            OverBudget
        })
    }

    #[cfg(test)]
    fn remaining(&self) -> usize {
        self.0.remaining.load(Ordering::Relaxed)
    }
}

/// Put on each call of a read (`customize().interceptor(..)` and a retry
/// classifier): gathers its answer against the budget, and forbids the
/// SDK's retries once the budget is spent (a read error is otherwise
/// retried as transient).
#[derive(Debug)]
pub(super) struct BudgetGuard(pub(super) ReadBudget);

impl BudgetGuard {
    /// Replaces the answer's body with one gathered against the budget. An
    /// answer whose announced length is over what is left is refused
    /// before a byte of it is read.
    fn gather(&self, response: &mut HttpResponse) -> Result<(), OverBudget> {
        let announced: Option<usize> = response
            .headers()
            .get("content-length")
            .and_then(|length| length.parse().ok());
        if let Some(length) = announced {
            self.0.take(length)?;
        }
        let body = GatheredBody {
            inner: response.take_body(),
            buffer: BytesMut::with_capacity(announced.unwrap_or(0)),
            budget: self.0.clone(),
            counted: announced.is_some(),
            done: false,
        };
        *response.body_mut() = SdkBody::from_body_1_x(body);
        Ok(())
    }

    /// A call whose answer spent the budget is not sent again: it would
    /// only bring more of what cannot be used.
    fn retry_action(&self) -> RetryAction {
        if self.0.is_spent() {
            RetryAction::RetryForbidden
        } else {
            RetryAction::NoActionIndicated
        }
    }
}

impl Intercept for BudgetGuard {
    fn name(&self) -> &'static str {
        "BudgetGuard"
    }

    fn modify_before_deserialization(
        &self,
        context: &mut BeforeDeserializationInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), aws_sdk_dynamodb::error::BoxError> {
        Ok(self.gather(context.response_mut())?)
    }
}

impl ClassifyRetry for BudgetGuard {
    fn classify_retry(&self, _context: &InterceptorContext) -> RetryAction {
        self.retry_action()
    }

    fn name(&self) -> &'static str {
        "BudgetGuard"
    }
}

/// An answer gathered into one buffer and handed on as one frame. Bytes
/// not announced by `Content-Length` are counted as they arrive.
struct GatheredBody {
    inner: SdkBody,
    buffer: BytesMut,
    budget: ReadBudget,
    counted: bool,
    done: bool,
}

impl Body for GatheredBody {
    type Data = Bytes;
    type Error = aws_smithy_types::body::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Result<Frame<Bytes>, Self::Error>>> {
        let this = &mut *self;
        if this.done {
            return Poll::Ready(None);
        }
        loop {
            match ready!(Pin::new(&mut this.inner).poll_frame(cx)) {
                Some(Ok(frame)) => {
                    // Trailers carry nothing DynamoDB's answers need.
                    if let Ok(data) = frame.into_data() {
                        if !this.counted || this.buffer.len() + data.len() > this.buffer.capacity() {
                            this.budget.take(data.len())?;
                        }
                        this.buffer.extend_from_slice(&data);
                    }
                }
                Some(Err(error)) => return Poll::Ready(Some(Err(error))),
                None => {
                    this.done = true;
                    let gathered = std::mem::take(&mut this.buffer).freeze();
                    return Poll::Ready(Some(Ok(Frame::data(gathered))));
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn chunked(chunks: &[&'static [u8]]) -> SdkBody {
        let frames: Vec<Result<Frame<Bytes>, std::convert::Infallible>> = chunks
            .iter()
            .map(|chunk| Ok(Frame::data(Bytes::from_static(chunk))))
            .collect();
        SdkBody::from_body_1_x(http_body_util::StreamBody::new(futures_util::stream::iter(frames)))
    }

    fn gathered(inner: SdkBody, budget: &ReadBudget, announced: Option<usize>) -> GatheredBody {
        GatheredBody {
            inner,
            buffer: BytesMut::with_capacity(announced.unwrap_or(0)),
            budget: budget.clone(),
            counted: announced.is_some(),
            done: false,
        }
    }

    #[tokio::test]
    async fn an_answer_arrives_whole_as_one_frame_and_is_counted() {
        let budget = ReadBudget::of(10);
        let mut body = gathered(chunked(&[b"abc", b"de", b"f"]), &budget, None);
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, Bytes::from_static(b"abcdef"));
        assert!(body.frame().await.is_none());
        assert_eq!(budget.remaining(), 4);
        assert!(!budget.is_spent());
    }

    #[tokio::test]
    async fn an_answer_past_the_budget_ends_in_an_error_and_spends_it() {
        let budget = ReadBudget::of(4);
        let body = gathered(chunked(&[b"abc", b"de"]), &budget, None);
        assert!(body.collect().await.is_err());
        assert!(budget.is_spent());
    }

    #[tokio::test]
    async fn the_budget_is_shared_by_the_answers_of_one_read() {
        let budget = ReadBudget::of(5);
        assert!(gathered(chunked(&[b"abc"]), &budget, None).collect().await.is_ok());
        assert!(gathered(chunked(&[b"abc"]), &budget, None).collect().await.is_err());
    }

    #[tokio::test]
    async fn announced_bytes_are_counted_once() {
        // The interceptor takes the announced length before reading.
        let budget = ReadBudget::of(6);
        budget.take(6).unwrap();
        let body = gathered(chunked(&[b"abc", b"def"]), &budget, Some(6));
        assert_eq!(body.collect().await.unwrap().to_bytes(), Bytes::from_static(b"abcdef"));
        // More than announced is counted as it comes.
        let budget = ReadBudget::of(7);
        budget.take(6).unwrap();
        let body = gathered(chunked(&[b"abc", b"defgh"]), &budget, Some(6));
        assert!(body.collect().await.is_err());
    }

    #[test]
    fn the_budget_for_a_read_is_three_times_the_json_plus_an_allowance_per_item() {
        let budget = ReadBudget::for_json(1_000, 2);
        assert_eq!(budget.remaining(), 3_000 + 2 * 4_096);
        assert_eq!(ReadBudget::for_json(usize::MAX, 2).remaining(), usize::MAX);
    }

    fn response(body: &'static [u8], content_length: Option<usize>) -> HttpResponse {
        let mut response = HttpResponse::new(lambda_http::http::StatusCode::OK.into(), SdkBody::from(body));
        if let Some(length) = content_length {
            response.headers_mut().insert("content-length", length.to_string());
        }
        response
    }

    #[tokio::test]
    async fn an_answer_is_gathered_against_the_budget() {
        let budget = ReadBudget::of(10);
        let mut answer = response(b"abcdef", Some(6));
        BudgetGuard(budget.clone()).gather(&mut answer).unwrap();
        assert_eq!(budget.remaining(), 4);
        let body = answer.take_body().collect().await.unwrap().to_bytes();
        assert_eq!(body, Bytes::from_static(b"abcdef"));
        assert_eq!(budget.remaining(), 4, "announced bytes are counted once");
    }

    #[tokio::test]
    async fn an_answer_announced_over_the_budget_is_refused_unread() {
        let budget = ReadBudget::of(5);
        let mut answer = response(b"abcdef", Some(6));
        assert!(BudgetGuard(budget.clone()).gather(&mut answer).is_err());
        assert!(budget.is_spent());
        // An answer without a length is counted as it arrives.
        let budget = ReadBudget::of(5);
        let mut answer = response(b"abcdef", None);
        BudgetGuard(budget.clone()).gather(&mut answer).unwrap();
        assert!(answer.take_body().collect().await.is_err());
        assert!(budget.is_spent());
    }

    #[test]
    fn retries_are_forbidden_once_the_budget_is_spent() {
        let budget = ReadBudget::of(1);
        let guard = BudgetGuard(budget.clone());
        assert_eq!(guard.retry_action(), RetryAction::NoActionIndicated);
        assert!(budget.take(2).is_err());
        assert_eq!(guard.retry_action(), RetryAction::RetryForbidden);
    }
}
