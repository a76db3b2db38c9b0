//! When a secret kept in memory is read again: the policy, apart from
//! where the secret is read, so that it is tested on its own on tokio's
//! paused clock.
//!
//! With [`ReadPolicy::DEFAULT`]:
//! - A read is allowed once a minute has passed since the last one (per
//!   instance, whatever the traffic), or sooner after a failed read: 1 s,
//!   doubling with each failure in a row, up to the minute.
//! - Callers that ask while a read is in flight share it: one read, not
//!   one per request.
//! - Nobody waits for a read longer than 1.5 s; past it the caller goes on
//!   with what is in memory (possibly nothing).
//! - A failed read keeps the value read before.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;
use tokio::time::Instant;

/// The timing of reads.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ReadPolicy {
    /// At most one read per this long after a successful one.
    pub reread_interval: Duration,
    /// The pause after a failed read; it doubles with each failure in a
    /// row, up to `reread_interval`.
    pub first_retry: Duration,
    /// The longest a caller waits for a read, its own or one in flight.
    pub read_limit: Duration,
}

impl ReadPolicy {
    /// The deployed one (docs/OPERATIONS.md): a key added to or removed
    /// from a secret counts within a minute, and a flood of requests makes
    /// at most one read a minute per instance. The tests against a local
    /// Secrets Manager shorten it, rather than wait minutes.
    pub const DEFAULT: ReadPolicy = ReadPolicy {
        reread_interval: Duration::from_secs(60),
        first_retry: Duration::from_secs(1),
        read_limit: Duration::from_millis(1_500),
    };

    /// How long after a read the next may start, with `failures` failed
    /// reads in a row (0: the last read succeeded).
    pub fn pause_after(&self, failures: u32) -> Duration {
        match failures {
            0 => self.reread_interval,
            n => self
                .first_retry
                .saturating_mul(1 << (n - 1).min(16))
                .min(self.reread_interval),
        }
    }
}

pub type ReadError = Box<dyn std::error::Error + Send + Sync>;
pub type ReadFuture<T> = Pin<Box<dyn Future<Output = Result<T, ReadError>> + Send>>;
type Read<T> = Box<dyn Fn() -> ReadFuture<T> + Send + Sync>;

/// A value read from somewhere now and then, shared by every request of
/// the instance (cloning shares it). Its `Debug` names it, never shows it.
pub struct Refreshing<T> {
    inner: Arc<Inner<T>>,
}

impl<T> Clone for Refreshing<T> {
    fn clone(&self) -> Self {
        Refreshing {
            inner: Arc::clone(&self.inner),
        }
    }
}

impl<T> std::fmt::Debug for Refreshing<T> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Refreshing({})", self.inner.name)
    }
}

struct Inner<T> {
    /// What is read, for log lines: "the Qiniu keys from secret qnlive/keys".
    name: String,
    policy: ReadPolicy,
    /// `None`: a fixed value, never read again.
    read: Option<Read<T>>,
    state: Mutex<State<T>>,
    /// Held by the one caller that is reading; the others wait on it.
    reading: tokio::sync::Mutex<()>,
}

struct State<T> {
    value: Option<Arc<T>>,
    last_attempt: Option<Instant>,
    /// Failed reads in a row.
    failures: u32,
}

impl<T: Send + Sync + 'static> Refreshing<T> {
    /// A value given once (from the environment): never read again.
    pub fn fixed(name: impl Into<String>, value: T) -> Self {
        Self::with(name.into(), ReadPolicy::DEFAULT, None, Some(Arc::new(value)))
    }

    /// A value that `read` fetches, first when it is asked for (or at
    /// init), then as `policy` allows.
    pub fn read_by(
        name: impl Into<String>,
        policy: ReadPolicy,
        read: impl Fn() -> ReadFuture<T> + Send + Sync + 'static,
    ) -> Self {
        Self::with(name.into(), policy, Some(Box::new(read)), None)
    }

    fn with(name: String, policy: ReadPolicy, read: Option<Read<T>>, value: Option<Arc<T>>) -> Self {
        Refreshing {
            inner: Arc::new(Inner {
                name,
                policy,
                read,
                state: Mutex::new(State {
                    value,
                    last_attempt: None,
                    failures: 0,
                }),
                reading: tokio::sync::Mutex::new(()),
            }),
        }
    }

    /// What is in memory now, without reading.
    pub fn current(&self) -> Option<Arc<T>> {
        self.state().value.clone()
    }

    /// The value, read again first if the policy allows a read now.
    /// Waits at most the policy's `read_limit`.
    pub async fn refreshed(&self) -> Option<Arc<T>> {
        let Some(read) = &self.inner.read else {
            return self.current();
        };
        let policy = self.inner.policy;
        let deadline = Instant::now() + policy.read_limit;
        // One read at a time: a caller that finds one in flight waits for
        // it and takes its value.
        let Ok(_reading) = self.inner.reading.try_lock() else {
            let _ = tokio::time::timeout_at(deadline, self.inner.reading.lock()).await;
            return self.current();
        };
        if !self.read_allowed() {
            return self.current();
        }
        {
            // Counted as failed until it succeeds, so that a read cut off
            // (its caller dropped) is retried soon, not after the interval.
            let mut state = self.state();
            state.last_attempt = Some(Instant::now());
            state.failures += 1;
        }
        let outcome = match tokio::time::timeout_at(deadline, read()).await {
            Ok(outcome) => outcome,
            Err(_) => Err(format!("no answer within {:?}", policy.read_limit).into()),
        };
        let mut state = self.state();
        // The pauses count from the end of a read.
        state.last_attempt = Some(Instant::now());
        match outcome {
            Ok(value) => {
                state.value = Some(Arc::new(value));
                state.failures = 0;
            }
            Err(error) => {
                let retry = policy.pause_after(state.failures);
                let chain = crate::telemetry::ErrorChain(error.as_ref());
                if state.value.is_some() {
                    tracing::warn!(
                        error = %chain,
                        retry_after_s = retry.as_secs(),
                        "could not read {} again; keeping the value read before",
                        self.inner.name
                    );
                } else {
                    tracing::error!(
                        error = %chain,
                        retry_after_s = retry.as_secs(),
                        "could not read {}; what needs it is refused until a read succeeds",
                        self.inner.name
                    );
                }
            }
        }
        state.value.clone()
    }

    fn read_allowed(&self) -> bool {
        let state = self.state();
        state
            .last_attempt
            .is_none_or(|last| Instant::now() >= last + self.inner.policy.pause_after(state.failures))
    }

    fn state(&self) -> MutexGuard<'_, State<T>> {
        // A panic while holding the lock cannot leave the state half
        // written (each update is one assignment), so a poisoned lock is
        // still good.
        self.inner.state.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    const REREAD_INTERVAL: Duration = ReadPolicy::DEFAULT.reread_interval;
    const FIRST_RETRY: Duration = ReadPolicy::DEFAULT.first_retry;
    const READ_LIMIT: Duration = ReadPolicy::DEFAULT.read_limit;

    /// A source whose reads are counted and answer what `answer` says,
    /// after `delay`.
    struct Source {
        reads: Arc<AtomicUsize>,
        answer: Arc<Mutex<(Result<u32, String>, Duration)>>,
    }

    fn source(first: Result<u32, &str>, delay: Duration) -> (Refreshing<u32>, Source) {
        let reads = Arc::new(AtomicUsize::new(0));
        let answer = Arc::new(Mutex::new((first.map_err(str::to_owned), delay)));
        let (counted, answers) = (reads.clone(), answer.clone());
        let refreshing = Refreshing::read_by("the test value", ReadPolicy::DEFAULT, move || {
            counted.fetch_add(1, Ordering::SeqCst);
            let (answer, delay) = answers.lock().unwrap().clone();
            Box::pin(async move {
                tokio::time::sleep(delay).await;
                answer.map_err(ReadError::from)
            })
        });
        (refreshing, Source { reads, answer })
    }

    impl Source {
        fn reads(&self) -> usize {
            self.reads.load(Ordering::SeqCst)
        }

        fn answer(&self, answer: Result<u32, &str>) {
            self.answer.lock().unwrap().0 = answer.map_err(str::to_owned);
        }

        fn delay(&self, delay: Duration) {
            self.answer.lock().unwrap().1 = delay;
        }
    }

    fn value(v: Option<Arc<u32>>) -> Option<u32> {
        v.map(|v| *v)
    }

    #[tokio::test(start_paused = true)]
    async fn the_first_ask_reads_and_later_asks_within_a_minute_do_not() {
        let (secret, source) = source(Ok(1), Duration::ZERO);
        assert_eq!(value(secret.current()), None, "nothing is read before it is asked for");
        assert_eq!(value(secret.refreshed().await), Some(1));
        source.answer(Ok(2));
        for _ in 0..1000 {
            assert_eq!(value(secret.refreshed().await), Some(1));
        }
        tokio::time::advance(REREAD_INTERVAL - Duration::from_millis(1)).await;
        assert_eq!(value(secret.refreshed().await), Some(1));
        assert_eq!(source.reads(), 1);
        tokio::time::advance(Duration::from_millis(1)).await;
        assert_eq!(value(secret.refreshed().await), Some(2), "read again after a minute");
        assert_eq!(source.reads(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn failed_reads_are_retried_after_1_2_4_s_up_to_a_minute_and_keep_the_old_value() {
        let (secret, source) = source(Ok(1), Duration::ZERO);
        secret.refreshed().await;
        let mut last_read = Instant::now();
        source.answer(Err("down"));
        tokio::time::advance(REREAD_INTERVAL).await;
        let mut pauses = Vec::new();
        while pauses.len() < 8 {
            let before = source.reads();
            assert_eq!(value(secret.refreshed().await), Some(1), "the old value stays");
            if source.reads() > before {
                pauses.push((Instant::now() - last_read).as_secs());
                last_read = Instant::now();
            }
            tokio::time::advance(Duration::from_millis(250)).await;
        }
        assert_eq!(pauses, [60, 1, 2, 4, 8, 16, 32, 60]);
        source.answer(Ok(3));
        tokio::time::advance(REREAD_INTERVAL).await;
        assert_eq!(value(secret.refreshed().await), Some(3));
        tokio::time::advance(REREAD_INTERVAL / 2).await;
        secret.refreshed().await;
        assert_eq!(source.reads(), 10, "a success resets the pause to a minute");
    }

    #[tokio::test(start_paused = true)]
    async fn without_a_first_value_failures_give_nothing_until_a_read_succeeds() {
        let (secret, source) = source(Err("unreachable"), Duration::ZERO);
        assert_eq!(value(secret.refreshed().await), None);
        assert_eq!(value(secret.refreshed().await), None, "not read again at once");
        assert_eq!(source.reads(), 1);
        source.answer(Ok(7));
        tokio::time::advance(FIRST_RETRY).await;
        assert_eq!(value(secret.refreshed().await), Some(7));
    }

    #[tokio::test(start_paused = true)]
    async fn concurrent_askers_share_one_read() {
        let (secret, source) = source(Ok(5), Duration::from_millis(100));
        let asks = (0..50).map(|_| secret.refreshed());
        let values = futures_util::future::join_all(asks).await;
        assert!(values.iter().all(|v| v.as_deref() == Some(&5)), "{values:?}");
        assert_eq!(source.reads(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn nobody_waits_longer_than_the_read_limit() {
        let hour = Duration::from_secs(3600);
        let (never_read, _source) = source(Ok(1), hour);
        let (read_before, source) = source(Ok(1), Duration::ZERO);
        read_before.refreshed().await;
        source.answer(Ok(2));
        source.delay(hour);
        tokio::time::advance(REREAD_INTERVAL).await;
        for (secret, before) in [(never_read, None), (read_before, Some(1))] {
            let started = Instant::now();
            let values = futures_util::future::join_all((0..5).map(|_| secret.refreshed())).await;
            assert_eq!(Instant::now() - started, READ_LIMIT);
            assert!(values.into_iter().all(|v| value(v) == before));
        }
    }

    #[tokio::test(start_paused = true)]
    async fn a_slow_read_that_times_out_is_retried_a_second_later() {
        let (secret, source) = source(Ok(1), READ_LIMIT * 2);
        assert_eq!(value(secret.refreshed().await), None);
        tokio::time::advance(FIRST_RETRY - Duration::from_millis(1)).await;
        secret.refreshed().await;
        assert_eq!(source.reads(), 1);
        tokio::time::advance(Duration::from_millis(1)).await;
        secret.refreshed().await;
        assert_eq!(source.reads(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_read_cut_off_by_its_caller_is_retried_after_the_first_pause() {
        let (secret, source) = source(Ok(1), Duration::from_millis(500));
        let cut_off = tokio::time::timeout(Duration::from_millis(100), secret.refreshed()).await;
        assert!(cut_off.is_err(), "the caller gave up (its request ended)");
        tokio::time::advance(FIRST_RETRY).await;
        assert_eq!(value(secret.refreshed().await), Some(1));
        assert_eq!(source.reads(), 2);
    }

    #[tokio::test(start_paused = true)]
    async fn a_fixed_value_is_never_read() {
        let fixed = Refreshing::fixed("a fixed value", 9u32);
        tokio::time::advance(REREAD_INTERVAL * 3).await;
        assert_eq!(value(fixed.refreshed().await), Some(9));
        assert_eq!(format!("{fixed:?}"), "Refreshing(a fixed value)");
    }

    #[test]
    fn the_pause_after_failures_doubles_from_a_second_and_stops_at_a_minute() {
        let policy = ReadPolicy::DEFAULT;
        let pauses: Vec<u64> = (0..12).map(|n| policy.pause_after(n).as_secs()).collect();
        assert_eq!(pauses, [60, 1, 2, 4, 8, 16, 32, 60, 60, 60, 60, 60]);
        assert_eq!(policy.pause_after(u32::MAX), REREAD_INTERVAL);
    }
}
