//! Token bucket for `--rate`: at most `rate` new hosts per second on average, with a burst of at
//! most `burst` back to back. Pure (time is passed in), so it is tested without sleeping.

use std::time::{Duration, Instant};

/// A token bucket.
#[derive(Debug, Clone)]
pub struct TokenBucket {
    /// Tokens per second; `None` = unlimited.
    rate: Option<f64>,
    burst: f64,
    tokens: f64,
    last: Instant,
}

impl TokenBucket {
    /// A bucket filling at `rate` tokens/s (`None` or a non-positive rate = unlimited), holding at
    /// most `burst` tokens (at least 1). It starts with one token, so a scan opens gently instead of
    /// with a full burst.
    pub fn new(rate: Option<f64>, burst: u32, now: Instant) -> Self {
        let rate = rate.filter(|r| r.is_finite() && *r > 0.0);
        TokenBucket {
            rate,
            burst: f64::from(burst.max(1)),
            tokens: 1.0,
            last: now,
        }
    }

    fn refill(&mut self, now: Instant) {
        if let Some(rate) = self.rate {
            let dt = now.saturating_duration_since(self.last).as_secs_f64();
            self.tokens = (self.tokens + dt * rate).min(self.burst);
        }
        self.last = self.last.max(now);
    }

    /// Takes a token if one is available.
    pub fn try_acquire(&mut self, now: Instant) -> bool {
        if self.rate.is_none() {
            return true;
        }
        self.refill(now);
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// How long until a token is available (zero when one is).
    pub fn wait_time(&mut self, now: Instant) -> Duration {
        let Some(rate) = self.rate else {
            return Duration::ZERO;
        };
        self.refill(now);
        if self.tokens >= 1.0 {
            Duration::ZERO
        } else {
            Duration::from_secs_f64((1.0 - self.tokens) / rate)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unlimited_never_waits() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(None, 1, t0);
        for _ in 0..10_000 {
            assert!(b.try_acquire(t0));
        }
        assert_eq!(b.wait_time(t0), Duration::ZERO);
        let mut z = TokenBucket::new(Some(0.0), 1, t0);
        assert!(z.try_acquire(t0) && z.try_acquire(t0));
    }

    #[test]
    fn rate_is_respected_over_time() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Some(10.0), 5, t0);
        // Simulate a greedy caller polling every millisecond for 10 s: ~100 tokens (+1 initial).
        let mut got = 0;
        for ms in 0..10_000u64 {
            let now = t0 + Duration::from_millis(ms);
            while b.try_acquire(now) {
                got += 1;
            }
        }
        assert!((100..=102).contains(&got), "got {got}");
    }

    #[test]
    fn burst_is_capped() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Some(100.0), 5, t0);
        // After a long idle period only `burst` tokens are available at once.
        let later = t0 + Duration::from_secs(60);
        let mut n = 0;
        while b.try_acquire(later) {
            n += 1;
        }
        assert_eq!(n, 5);
        let w = b.wait_time(later);
        assert!(
            w > Duration::from_millis(9) && w <= Duration::from_millis(10),
            "{w:?}"
        );
        assert!(!b.try_acquire(later + Duration::from_millis(5)));
        assert!(b.try_acquire(later + Duration::from_millis(10)));
    }

    #[test]
    fn starts_with_one_token() {
        let t0 = Instant::now();
        let mut b = TokenBucket::new(Some(1.0), 10, t0);
        assert!(b.try_acquire(t0));
        assert!(!b.try_acquire(t0));
        assert!(b.wait_time(t0) > Duration::from_millis(990));
    }
}
