//! A small HDR-like histogram: log buckets with 64 linear sub-buckets each, so
//! any recorded value is reported within 1/64 (1.6 %) of itself, rounded up.
//! Lock-free (relaxed atomics) so every connection task records into one.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

/// Values below this are exact.
const SUB: u64 = 128;
const HALF: u64 = SUB / 2;
const SUB_BITS: u32 = 7;
/// Largest value kept (2^40 µs is 12 days); larger ones count as this.
const MAX_VALUE: u64 = (1 << 40) - 1;
const BUCKETS: usize = (SUB + (40 - SUB_BITS as u64) * HALF) as usize;

pub struct Histogram {
    counts: Box<[AtomicU64]>,
    total: AtomicU64,
    max: AtomicU64,
    sum: AtomicU64,
}

fn index(v: u64) -> usize {
    let v = v.min(MAX_VALUE);
    if v < SUB {
        return v as usize;
    }
    let msb = 63 - v.leading_zeros();
    let shift = msb - (SUB_BITS - 1);
    let top = v >> shift;
    (SUB + u64::from(shift - 1) * HALF + (top - HALF)) as usize
}

/// The highest value that lands in bucket `i` (what HDR calls the highest
/// equivalent value): percentiles err on the slow side.
fn highest(i: usize) -> u64 {
    let i = i as u64;
    if i < SUB {
        return i;
    }
    let j = i - SUB;
    let shift = j / HALF + 1;
    let top = j % HALF + HALF;
    ((top + 1) << shift) - 1
}

impl Histogram {
    pub fn new() -> Self {
        Histogram {
            counts: (0..BUCKETS).map(|_| AtomicU64::new(0)).collect(),
            total: AtomicU64::new(0),
            max: AtomicU64::new(0),
            sum: AtomicU64::new(0),
        }
    }

    pub fn record(&self, v: u64) {
        self.counts[index(v)].fetch_add(1, Relaxed);
        self.total.fetch_add(1, Relaxed);
        self.sum.fetch_add(v, Relaxed);
        self.max.fetch_max(v, Relaxed);
    }

    pub fn count(&self) -> u64 {
        self.total.load(Relaxed)
    }

    pub fn max(&self) -> u64 {
        self.max.load(Relaxed)
    }

    pub fn mean(&self) -> f64 {
        let n = self.count();
        if n == 0 {
            0.0
        } else {
            self.sum.load(Relaxed) as f64 / n as f64
        }
    }

    /// The value at quantile `q` (0 < q ≤ 1), or `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        let n = self.count();
        if n == 0 {
            return None;
        }
        let rank = ((q * n as f64).ceil() as u64).clamp(1, n);
        let mut seen = 0;
        for (i, c) in self.counts.iter().enumerate() {
            seen += c.load(Relaxed);
            if seen >= rank {
                return Some(highest(i).min(self.max()));
            }
        }
        Some(self.max())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_are_contiguous_and_tight() {
        let mut last = 0;
        for v in 0..2_000_000u64 {
            let i = index(v);
            assert!(i == last || i == last + 1, "gap at {v}");
            last = i;
            assert!(highest(i) >= v);
            assert!((highest(i) - v) as f64 <= v as f64 / 64.0 + 1.0);
        }
        assert!(index(MAX_VALUE) < BUCKETS);
        assert_eq!(index(u64::MAX), index(MAX_VALUE));
    }

    #[test]
    fn quantiles() {
        let h = Histogram::new();
        for v in 1..=1000 {
            h.record(v * 100);
        }
        let p50 = h.quantile(0.5).unwrap();
        assert!((50_000..=50_800).contains(&p50), "{p50}");
        let p99 = h.quantile(0.99).unwrap();
        assert!((99_000..=100_600).contains(&p99), "{p99}");
        assert_eq!(h.quantile(1.0).unwrap(), 100_000);
        assert!(Histogram::new().quantile(0.5).is_none());
    }
}
