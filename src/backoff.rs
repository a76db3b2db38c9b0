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

    /// The pause before retry `attempt`.
    pub fn delay(&self, attempt: u32) -> Duration {
        let ceiling = u64::try_from(self.ceiling(attempt).as_micros()).unwrap_or(u64::MAX);
        let mut random = [0u8; 8];
        let random = getrandom::getrandom(&mut random)
            .ok()
            .map(|()| u64::from_le_bytes(random));
        Duration::from_micros(draw(ceiling, random))
    }
}

/// A draw from 0 to `ceiling` inclusive out of `random`; without
/// randomness from the OS (never seen), half the ceiling.
fn draw(ceiling: u64, random: Option<u64>) -> u64 {
    match (random, ceiling.checked_add(1)) {
        (Some(random), Some(choices)) => random % choices,
        (Some(random), None) => random,
        (None, _) => ceiling / 2,
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
    fn a_draw_reaches_both_ends_and_is_half_the_ceiling_without_randomness() {
        assert_eq!(draw(1_000, Some(0)), 0);
        assert_eq!(draw(1_000, Some(1_000)), 1_000);
        assert_eq!(draw(1_000, Some(1_001)), 0);
        assert_eq!(draw(u64::MAX, Some(7)), 7);
        assert_eq!(draw(1_000, None), 500);
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
