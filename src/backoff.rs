//! The pause before trying again, for every retry loop of the service and
//! the import: full-jitter exponential backoff, AWS's recommendation for
//! clients that retry against a shared service, so that callers failed
//! together do not come back together.

use std::time::Duration;

/// Retry `attempt` (1 for the first retry) waits a uniformly drawn time
/// from zero to `base × 2^attempt`, but never more than `cap`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Backoff {
    pub base: Duration,
    pub cap: Duration,
}

impl Backoff {
    /// The ceiling of retry `attempt`'s pause.
    pub fn ceiling(&self, attempt: u32) -> Duration {
        self.base.saturating_mul(1 << attempt.min(20)).min(self.cap)
    }

    /// The pause before retry `attempt`. Without randomness from the OS
    /// (never seen), half the ceiling.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_micros()).unwrap_or(u64::MAX);
        let mut random = [0u8; 8];
        let micros = match getrandom::getrandom(&mut random) {
            Ok(()) => u64::from_le_bytes(random) % (ceiling + 1),
            Err(_) => ceiling / 2,
        };
        Duration::from_micros(micros)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BACKOFF: Backoff = Backoff {
        base: Duration::from_millis(50),
        cap: Duration::from_millis(1_000),
    };

    #[test]
    fn the_ceiling_doubles_with_each_retry_up_to_the_cap() {
        let ceilings: Vec<u128> = (1..=6).map(|a| BACKOFF.ceiling(a).as_millis()).collect();
        assert_eq!(ceilings, [100, 200, 400, 800, 1_000, 1_000]);
        assert_eq!(BACKOFF.ceiling(u32::MAX), BACKOFF.cap);
    }

    #[test]
    fn pauses_are_drawn_from_zero_to_the_ceiling() {
        for attempt in [1, 2, 5] {
            let ceiling = BACKOFF.ceiling(attempt);
            let draws: Vec<Duration> = (0..2_000).map(|_| BACKOFF.delay(attempt)).collect();
            assert!(draws.iter().all(|d| *d <= ceiling), "attempt {attempt}");
            // Full jitter: spread over the whole range, both ends near.
            let (low, high) = (ceiling / 20, ceiling - ceiling / 20);
            assert!(draws.iter().any(|d| *d < low) && draws.iter().any(|d| *d > high));
        }
    }
}
