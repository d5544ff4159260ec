//! Token buckets: one per connection for messages, one per key (agent, IP)
//! for join attempts, sign-ins, session creation and failed resumes; and a
//! backoff per account name for failed sign-ins.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

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

    /// Whether `allow` would let `key` through now, without spending anything.
    pub fn has_room(&self, key: &str) -> bool {
        let now = Instant::now();
        let map = self.buckets.lock().expect("rate limiter lock");
        map.get(key)
            .is_none_or(|b| b.clone().take(self.rate, self.burst, now))
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

/// Failed attempts per key (an account name), answered with a wait that doubles
/// from the `free`-th failure in a row up to `max`: a password guesser spread
/// over many addresses is slowed per account, while a person who mistypes a few
/// times never waits. A success forgets the key.
pub struct Backoff {
    free: u32,
    max: Duration,
    failures: Mutex<HashMap<String, (u32, Instant)>>,
}

impl Backoff {
    pub fn new(free: u32, max: Duration) -> Self {
        Backoff {
            free,
            max,
            failures: Mutex::new(HashMap::new()),
        }
    }

    /// How long `key` must still wait, if at all.
    pub fn wait(&self, key: &str) -> Option<Duration> {
        self.wait_at(key, Instant::now())
    }

    fn wait_at(&self, key: &str, now: Instant) -> Option<Duration> {
        let map = self.failures.lock().expect("backoff lock");
        let &(n, last) = map.get(key)?;
        let until = last + delay(self.free, self.max, n);
        (until > now).then(|| until - now)
    }

    pub fn failed(&self, key: &str) {
        self.failed_at(key, Instant::now());
    }

    fn failed_at(&self, key: &str, now: Instant) {
        let mut map = self.failures.lock().expect("backoff lock");
        if map.len() > 100_000 {
            // Forget keys whose wait is over: they would be let through anyway.
            let (free, max) = (self.free, self.max);
            map.retain(|_, &mut (n, last)| last + delay(free, max, n) > now);
        }
        let entry = map.entry(key.to_string()).or_insert((0, now));
        *entry = (entry.0.saturating_add(1), now);
    }

    pub fn succeeded(&self, key: &str) {
        self.failures.lock().expect("backoff lock").remove(key);
    }
}

/// The wait after `failures` in a row: none for the `free` first, then 1 s, 2 s, 4 s… up to `max`.
fn delay(free: u32, max: Duration, failures: u32) -> Duration {
    match failures.checked_sub(free) {
        None => Duration::ZERO,
        Some(over) => Duration::from_secs(1u64 << over.min(20)).min(max),
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
    fn failures_past_the_free_ones_wait_twice_as_long_each_time() {
        let b = Backoff::new(3, Duration::from_secs(60));
        let t0 = Instant::now();
        for _ in 0..3 {
            assert_eq!(b.wait_at("alice", t0), None);
            b.failed_at("alice", t0);
        }
        assert_eq!(b.wait_at("alice", t0), Some(Duration::from_secs(1)));
        b.failed_at("alice", t0);
        assert_eq!(b.wait_at("alice", t0), Some(Duration::from_secs(2)));
        for _ in 0..20 {
            b.failed_at("alice", t0);
        }
        assert_eq!(
            b.wait_at("alice", t0),
            Some(Duration::from_secs(60)),
            "capped"
        );
        assert_eq!(b.wait_at("alice", t0 + Duration::from_secs(61)), None);
        assert_eq!(b.wait_at("bob", t0), None, "names apart");
        b.succeeded("alice");
        assert_eq!(b.wait_at("alice", t0), None);
    }

    #[test]
    fn keys_are_limited_apart() {
        let k = Keyed::per_minute(2);
        assert!(k.allow("a") && k.allow("a"));
        assert!(!k.allow("a"));
        assert!(k.allow("b"));
        assert!(!k.has_room("a") && k.has_room("b") && k.has_room("c"));
        assert!(k.allow("b") && !k.has_room("b"), "looking spends nothing");
    }
}
