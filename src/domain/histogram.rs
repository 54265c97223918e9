//! A histogram of whole numbers with fixed bucket bounds, updated without
//! locks. The writer records its batch sizes and commit times into two of
//! them, once per batch; `/metrics` reads them at scrape time. Plain data:
//! no storage and no HTTP, so it lives beside the other shared value types.

use std::sync::atomic::{AtomicU64, Ordering};

/// A histogram of whole numbers with fixed bucket bounds, updated without
/// locks (the writer thread records into it once per batch; `/metrics`
/// reads it).
#[derive(Debug)]
pub struct AtomicHistogram {
    /// Inclusive upper bounds, increasing.
    bounds: &'static [u64],
    /// One count per bound, then one for values above the last bound.
    buckets: Box<[AtomicU64]>,
    sum: AtomicU64,
    count: AtomicU64,
}

/// A histogram read at one moment.
#[derive(Debug, Clone, PartialEq)]
pub struct HistogramSnapshot {
    /// (inclusive upper bound, observations in this bucket alone); the last
    /// bound is `None` for "above every bound".
    pub buckets: Vec<(Option<u64>, u64)>,
    /// Sum of all observations.
    pub sum: u64,
    /// Number of observations.
    pub count: u64,
}

impl AtomicHistogram {
    /// An empty histogram with these inclusive upper bounds.
    pub fn new(bounds: &'static [u64]) -> Self {
        AtomicHistogram {
            bounds,
            buckets: (0..=bounds.len()).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0),
            count: AtomicU64::new(0),
        }
    }

    /// Records one observation.
    pub fn observe(&self, value: u64) {
        let index = self.bounds.partition_point(|bound| *bound < value);
        if let Some(bucket) = self.buckets.get(index) {
            bucket.fetch_add(1, Ordering::Relaxed);
        }
        self.sum.fetch_add(value, Ordering::Relaxed);
        self.count.fetch_add(1, Ordering::Relaxed);
    }

    /// The counts so far (each field read atomically; the whole is close
    /// enough for monitoring while the writer keeps recording).
    pub fn snapshot(&self) -> HistogramSnapshot {
        let bounds = self.bounds.iter().map(|bound| Some(*bound)).chain(std::iter::once(None));
        HistogramSnapshot {
            buckets: bounds.zip(self.buckets.iter().map(|count| count.load(Ordering::Relaxed))).collect(),
            sum: self.sum.load(Ordering::Relaxed),
            count: self.count.load(Ordering::Relaxed),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn histogram_buckets_are_inclusive_upper_bounds() {
        let histogram = AtomicHistogram::new(&[1, 10, 100]);
        for value in [0, 1, 2, 10, 11, 100, 101, 5_000] {
            histogram.observe(value);
        }
        let snapshot = histogram.snapshot();
        assert_eq!(snapshot.buckets, vec![(Some(1), 2), (Some(10), 2), (Some(100), 2), (None, 2)]);
        assert_eq!(snapshot.count, 8);
        assert_eq!(snapshot.sum, 5_225);
    }
}
