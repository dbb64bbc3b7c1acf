//! [`RateLimited`]: at most so many traces per second.

use std::{
    sync::atomic::{AtomicU64, Ordering},
    time::Instant,
};

use crate::sampling::{Decision, Sampler, SamplingInput, SamplingResult};

/// A monotonic clock in nanoseconds, for [`RateLimited`]; tests use their own.
///
/// # Examples
///
/// ```
/// use std::sync::atomic::{AtomicU64, Ordering};
/// use trace_core::{RateLimited, sampling::Clock};
///
/// struct Frozen(AtomicU64);
///
/// impl Clock for Frozen {
///     fn now_nanos(&self) -> u64 {
///         self.0.load(Ordering::Relaxed)
///     }
/// }
///
/// let sampler = RateLimited::with_clock(10.0, Frozen(AtomicU64::new(0)));
/// # let _ = sampler;
/// ```
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since an arbitrary, fixed start.
    fn now_nanos(&self) -> u64;
}

/// The process's monotonic clock.
///
/// # Examples
///
/// ```
/// use trace_core::{sampling::{Clock, MonotonicClock}};
///
/// let clock = MonotonicClock::default();
/// assert!(clock.now_nanos() <= clock.now_nanos());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct MonotonicClock {
    start: Instant,
}

impl Default for MonotonicClock {
    fn default() -> Self {
        Self {
            start: Instant::now(),
        }
    }
}

impl Clock for MonotonicClock {
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// Samples at most `n` traces per second, with bursts of up to `n`.
///
/// A token bucket kept as one atomic "theoretical arrival time" (the GCRA
/// form of a token bucket): a decision is one compare-and-swap, with no
/// lock, so requests on different cores do not queue behind each other.
///
/// # Examples
///
/// ```
/// use trace_core::{ParentBased, RateLimited, Sampler, SpanKind, TraceId, sampling::{Decision, SamplingInput}};
///
/// // At most 100 new traces a second; callers' decisions are followed.
/// let sampler = ParentBased::new(RateLimited::new(100.0));
/// let input = SamplingInput::new(TraceId::random(), "GET /", SpanKind::Server);
/// assert_eq!(sampler.should_sample(&input).decision, Decision::RecordAndSample);
/// ```
#[derive(Debug)]
pub struct RateLimited<C = MonotonicClock> {
    interval: u64,
    tolerance: u64,
    /// When the bucket will be full again, in the clock's nanoseconds.
    full_at: AtomicU64,
    clock: C,
}

impl RateLimited {
    /// At most `per_second` new traces each second (at least one in any
    /// burst); zero or less samples nothing.
    #[must_use]
    pub fn new(per_second: f64) -> Self {
        Self::with_clock(per_second, MonotonicClock::default())
    }
}

impl<C: Clock> RateLimited<C> {
    /// As [`RateLimited::new`], reading time from `clock`.
    pub fn with_clock(per_second: f64, clock: C) -> Self {
        const NANOS: f64 = 1e9;
        // Rates below one a century count as zero.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let (interval, burst) = if per_second.is_nan() || per_second <= 0.0 {
            (u64::MAX, 0)
        } else {
            (
                (NANOS / per_second).ceil().max(1.0) as u64,
                per_second.ceil().max(1.0) as u64,
            )
        };
        Self {
            interval,
            tolerance: interval.saturating_mul(burst.saturating_sub(1)),
            full_at: AtomicU64::new(0),
            clock,
        }
    }

    fn try_acquire(&self) -> bool {
        if self.interval == u64::MAX {
            return false;
        }
        let now = self.clock.now_nanos();
        let mut full_at = self.full_at.load(Ordering::Relaxed);
        loop {
            let from = full_at.max(now);
            if from - now > self.tolerance {
                return false;
            }
            match self.full_at.compare_exchange_weak(
                full_at,
                from.saturating_add(self.interval),
                Ordering::Relaxed,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(actual) => full_at = actual,
            }
        }
    }
}

impl<C: Clock> Sampler for RateLimited<C> {
    fn should_sample(&self, _: &SamplingInput<'_>) -> SamplingResult {
        if self.try_acquire() {
            Decision::RecordAndSample
        } else {
            Decision::Drop
        }
        .into()
    }
}
#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;
    use crate::{codec::TraceId, record::SpanKind};

    fn input(trace_id: TraceId) -> SamplingInput<'static> {
        SamplingInput::new(trace_id, "op", SpanKind::Server)
    }

    #[derive(Default)]
    struct FakeClock(AtomicU64);

    impl Clock for Arc<FakeClock> {
        fn now_nanos(&self) -> u64 {
            self.0.load(Ordering::Relaxed)
        }
    }

    #[test]
    fn rate_limit_bounds_the_count_in_any_window() {
        let clock = Arc::new(FakeClock::default());
        let limiter = RateLimited::with_clock(10.0, Arc::clone(&clock));
        let sample = || {
            limiter
                .should_sample(&input(TraceId::random()))
                .decision
                .is_sampled()
        };

        // A burst of 10 at once, then nothing until time moves.
        assert_eq!((0..100).filter(|_| sample()).count(), 10);
        clock.0.store(100_000_000, Ordering::Relaxed);
        assert!(sample(), "one more after 100 ms");
        assert!(!sample());

        // Over 5 seconds of attempts every millisecond: 10 a second.
        let mut count = 0;
        for ms in 101..5_101u64 {
            clock.0.store(ms * 1_000_000, Ordering::Relaxed);
            count += (0..3).filter(|_| sample()).count();
        }
        assert_eq!(count, 50);
    }

    #[test]
    fn rate_limit_of_zero_samples_nothing() {
        let limiter = RateLimited::new(0.0);
        assert_eq!(
            limiter.should_sample(&input(TraceId::random())).decision,
            Decision::Drop
        );
    }

    #[test]
    fn rate_limit_holds_across_threads() {
        let clock = Arc::new(FakeClock::default());
        let limiter = Arc::new(RateLimited::with_clock(1000.0, clock));
        let threads: Vec<_> = (0..4)
            .map(|_| {
                let limiter = Arc::clone(&limiter);
                std::thread::spawn(move || {
                    (0..10_000)
                        .filter(|_| {
                            limiter
                                .should_sample(&input(TraceId::INVALID))
                                .decision
                                .is_sampled()
                        })
                        .count()
                })
            })
            .collect();
        let total: usize = threads.into_iter().map(|t| t.join().unwrap()).sum();
        assert_eq!(
            total, 1000,
            "exactly the burst while the clock stands still"
        );
    }
}
