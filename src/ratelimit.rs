//! Token buckets: one per connection for messages, one per key (agent, IP)
//! for join attempts, sign-ins and session creation.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

/// Allows `rate` events per second on average and `burst` at once.
#[derive(Clone, Debug)]
pub struct Bucket {
    tokens: f64,
    last: Instant,
}

impl Bucket {
    pub fn full(burst: f64, now: Instant) -> Self {
        Bucket {
            tokens: burst,
            last: now,
        }
    }

    pub fn take(&mut self, rate: f64, burst: f64, now: Instant) -> bool {
        let elapsed = now.saturating_duration_since(self.last).as_secs_f64();
        self.tokens = (self.tokens + elapsed * rate).min(burst);
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// Buckets by key, e.g. "attempts per minute per IP".
pub struct Keyed {
    rate: f64,
    burst: f64,
    buckets: Mutex<HashMap<String, Bucket>>,
}

impl Keyed {
    pub fn per_minute(n: u32) -> Self {
        Keyed {
            rate: f64::from(n) / 60.0,
            burst: f64::from(n.max(1)),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    pub fn allow(&self, key: &str) -> bool {
        let now = Instant::now();
        let mut map = self.buckets.lock().expect("rate limiter lock");
        if map.len() > 100_000 {
            // Forget keys that have refilled: they would allow anyway.
            let full = self.burst;
            let rate = self.rate;
            map.retain(|_, b| {
                b.tokens + now.saturating_duration_since(b.last).as_secs_f64() * rate < full
            });
        }
        let (rate, burst) = (self.rate, self.burst);
        map.entry(key.to_string())
            .or_insert_with(|| Bucket::full(burst, now))
            .take(rate, burst, now)
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn bucket_allows_a_burst_then_the_rate() {
        let t0 = Instant::now();
        let mut b = Bucket::full(3.0, t0);
        assert!((0..3).all(|_| b.take(1.0, 3.0, t0)));
        assert!(!b.take(1.0, 3.0, t0));
        assert!(b.take(1.0, 3.0, t0 + Duration::from_millis(1000)));
        assert!(!b.take(1.0, 3.0, t0 + Duration::from_millis(1100)));
    }

    #[test]
    fn keys_are_limited_apart() {
        let k = Keyed::per_minute(2);
        assert!(k.allow("a") && k.allow("a"));
        assert!(!k.allow("a"));
        assert!(k.allow("b"));
    }
}
