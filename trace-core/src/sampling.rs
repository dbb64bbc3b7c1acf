//! Sampling: whether a trace is recorded.
//!
//! The decision is made once, where a trace starts or enters through a
//! trust boundary, and is carried in the `sampled` flag; downstream services
//! follow it with [`ParentBased`]. [`TraceIdRatio`] makes the same decision
//! for the same trace-id in every service, so traces are never partial.

use std::{
    fmt,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Instant,
};

use crate::{Attribute, SpanKind, TraceContext, TraceId, TraceState};

/// What the trust policy decided about an incoming parent; samplers see it.
///
/// # Examples
///
/// ```
/// use trace_core::ParentTrust;
///
/// assert_eq!(ParentTrust::default(), ParentTrust::Continue);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ParentTrust {
    /// Continue the incoming trace and follow its sampled flag.
    #[default]
    Continue,
    /// Keep the incoming trace-id but decide sampling here, as if at a root.
    Resample,
    /// Start a new trace; the incoming parent is only a link.
    NewRoot,
}

/// Everything a [`Sampler`] may base its decision on.
///
/// # Examples
///
/// ```
/// use trace_core::{SamplingInput, SpanKind, TraceId};
///
/// let input = SamplingInput::new(TraceId::random(), "GET /users/{id}", SpanKind::Server);
/// assert!(input.parent.is_none());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SamplingInput<'a> {
    /// The parent context, remote or local; `None` at a root.
    pub parent: Option<&'a TraceContext>,
    /// The trace-id the span will have.
    pub trace_id: TraceId,
    /// The span's name.
    pub name: &'a str,
    /// The span's kind.
    pub kind: SpanKind,
    /// Attributes known when the span starts (method, route…).
    pub attributes: &'a [Attribute<'a>],
    /// What the trust policy decided about the parent.
    pub trust: ParentTrust,
}

impl<'a> SamplingInput<'a> {
    /// Input for a root span with no attributes.
    #[must_use]
    pub fn new(trace_id: TraceId, name: &'a str, kind: SpanKind) -> Self {
        Self {
            parent: None,
            trace_id,
            name,
            kind,
            attributes: &[],
            trust: ParentTrust::Continue,
        }
    }

    /// This input with a parent.
    #[must_use]
    pub fn parent(mut self, parent: &'a TraceContext) -> Self {
        self.parent = Some(parent);
        self
    }

    /// This input with attributes.
    #[must_use]
    pub fn attributes(mut self, attributes: &'a [Attribute<'a>]) -> Self {
        self.attributes = attributes;
        self
    }

    /// This input with a trust decision.
    #[must_use]
    pub fn trust(mut self, trust: ParentTrust) -> Self {
        self.trust = trust;
        self
    }

    /// The tracestate the new span inherits.
    fn trace_state(&self) -> &'a TraceState {
        self.parent
            .map_or(&TraceState::EMPTY, TraceContext::trace_state)
    }
}

/// Whether a span is recorded and exported.
///
/// # Examples
///
/// ```
/// use trace_core::Decision;
///
/// assert!(Decision::RecordAndSample.is_sampled());
/// assert!(Decision::RecordOnly.is_recording() && !Decision::RecordOnly.is_sampled());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Not recorded; the sampled flag is cleared.
    Drop,
    /// Recorded here, but the sampled flag is cleared.
    RecordOnly,
    /// Recorded, and the sampled flag is set.
    RecordAndSample,
}

impl Decision {
    /// Whether the span is recorded.
    #[must_use]
    pub const fn is_recording(self) -> bool {
        !matches!(self, Self::Drop)
    }

    /// Whether the sampled flag is set.
    #[must_use]
    pub const fn is_sampled(self) -> bool {
        matches!(self, Self::RecordAndSample)
    }
}

/// A sampler's answer: the decision, and the tracestate to use from here on
/// if the sampler changed it.
///
/// # Examples
///
/// ```
/// use trace_core::{Decision, SamplingResult};
///
/// let result = SamplingResult::from(Decision::Drop);
/// assert!(result.trace_state.is_none());
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SamplingResult {
    /// Whether the span is recorded and sampled.
    pub decision: Decision,
    /// A replacement for the inherited tracestate, if the sampler wrote to it.
    pub trace_state: Option<TraceState>,
}

impl From<Decision> for SamplingResult {
    fn from(decision: Decision) -> Self {
        Self {
            decision,
            trace_state: None,
        }
    }
}

/// Decides whether a span is sampled.
///
/// Implemented by the samplers of this module and by any
/// `Fn(&SamplingInput<'_>) -> SamplingResult`.
///
/// # Examples
///
/// ```
/// use trace_core::{Decision, Sampler, SamplingInput, SamplingResult, SpanKind, TraceId};
///
/// // Sample everything but health checks.
/// let sampler = |input: &SamplingInput<'_>| {
///     let decision = if input.name.ends_with("/health") { Decision::Drop } else { Decision::RecordAndSample };
///     SamplingResult::from(decision)
/// };
/// let input = SamplingInput::new(TraceId::random(), "GET /health", SpanKind::Server);
/// assert_eq!(sampler.should_sample(&input).decision, Decision::Drop);
/// ```
pub trait Sampler: Send + Sync + 'static {
    /// The decision for a span about to start.
    fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingResult;
}

impl<F> Sampler for F
where
    F: Fn(&SamplingInput<'_>) -> SamplingResult + Send + Sync + 'static,
{
    fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingResult {
        self(input)
    }
}

impl<S: Sampler + ?Sized> Sampler for Arc<S> {
    fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingResult {
        (**self).should_sample(input)
    }
}

/// Samples every span.
///
/// # Examples
///
/// ```
/// use trace_core::{AlwaysOn, Decision, Sampler, SamplingInput, SpanKind, TraceId};
///
/// let input = SamplingInput::new(TraceId::random(), "work", SpanKind::Internal);
/// assert_eq!(AlwaysOn.should_sample(&input).decision, Decision::RecordAndSample);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysOn;

impl Sampler for AlwaysOn {
    fn should_sample(&self, _: &SamplingInput<'_>) -> SamplingResult {
        Decision::RecordAndSample.into()
    }
}

/// Samples no span.
///
/// # Examples
///
/// ```
/// use trace_core::{AlwaysOff, Decision, Sampler, SamplingInput, SpanKind, TraceId};
///
/// let input = SamplingInput::new(TraceId::random(), "work", SpanKind::Internal);
/// assert_eq!(AlwaysOff.should_sample(&input).decision, Decision::Drop);
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct AlwaysOff;

impl Sampler for AlwaysOff {
    fn should_sample(&self, _: &SamplingInput<'_>) -> SamplingResult {
        Decision::Drop.into()
    }
}

/// Follows the parent's decision, with a sampler for each case, as the
/// OpenTelemetry specification defines `ParentBased`: root, remote parent
/// sampled or not, local parent sampled or not. Every branch can be set.
///
/// A parent whose sampled flag the trust policy does not trust
/// ([`ParentTrust::Resample`]) is decided by the root sampler.
///
/// # Examples
///
/// ```
/// use trace_core::{AlwaysOff, AlwaysOn, Decision, ParentBased, Sampler, SamplingInput, SpanKind, TraceContext, TraceId};
///
/// // Sample 10% of new traces; follow remote callers; never sample local
/// // children of an unsampled parent.
/// let sampler = ParentBased::new(trace_core::TraceIdRatio::new(0.1))
///     .remote_parent_not_sampled(AlwaysOff)
///     .local_parent_sampled(AlwaysOn);
///
/// let parent = TraceContext::new_root(true);
/// let input = SamplingInput::new(parent.trace_id(), "child", SpanKind::Internal).parent(&parent);
/// assert_eq!(sampler.should_sample(&input).decision, Decision::RecordAndSample);
/// ```
pub struct ParentBased {
    root: Arc<dyn Sampler>,
    remote_parent_sampled: Arc<dyn Sampler>,
    remote_parent_not_sampled: Arc<dyn Sampler>,
    local_parent_sampled: Arc<dyn Sampler>,
    local_parent_not_sampled: Arc<dyn Sampler>,
}

impl ParentBased {
    /// Follows parents; `root` decides where a trace starts. The other
    /// branches default as in OpenTelemetry: a sampled parent is followed
    /// with [`AlwaysOn`], an unsampled one with [`AlwaysOff`].
    pub fn new(root: impl Sampler) -> Self {
        Self {
            root: Arc::new(root),
            remote_parent_sampled: Arc::new(AlwaysOn),
            remote_parent_not_sampled: Arc::new(AlwaysOff),
            local_parent_sampled: Arc::new(AlwaysOn),
            local_parent_not_sampled: Arc::new(AlwaysOff),
        }
    }

    /// The sampler for a sampled parent in another process.
    #[must_use]
    pub fn remote_parent_sampled(mut self, sampler: impl Sampler) -> Self {
        self.remote_parent_sampled = Arc::new(sampler);
        self
    }

    /// The sampler for an unsampled parent in another process.
    #[must_use]
    pub fn remote_parent_not_sampled(mut self, sampler: impl Sampler) -> Self {
        self.remote_parent_not_sampled = Arc::new(sampler);
        self
    }

    /// The sampler for a sampled parent in this process.
    #[must_use]
    pub fn local_parent_sampled(mut self, sampler: impl Sampler) -> Self {
        self.local_parent_sampled = Arc::new(sampler);
        self
    }

    /// The sampler for an unsampled parent in this process.
    #[must_use]
    pub fn local_parent_not_sampled(mut self, sampler: impl Sampler) -> Self {
        self.local_parent_not_sampled = Arc::new(sampler);
        self
    }
}

impl Sampler for ParentBased {
    fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingResult {
        let branch = match input.parent {
            Some(_) if input.trust != ParentTrust::Continue => &self.root,
            None => &self.root,
            Some(parent) => match (parent.is_remote(), parent.is_sampled()) {
                (true, true) => &self.remote_parent_sampled,
                (true, false) => &self.remote_parent_not_sampled,
                (false, true) => &self.local_parent_sampled,
                (false, false) => &self.local_parent_not_sampled,
            },
        };
        branch.should_sample(input)
    }
}

impl fmt::Debug for ParentBased {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ParentBased").finish_non_exhaustive()
    }
}

/// 2^56: randomness and thresholds are 56-bit numbers.
const MAX_THRESHOLD: u64 = 1 << 56;
const OT_KEY: &str = "ot";

/// Consistent probability sampling, as the current OpenTelemetry
/// specification defines it.
///
/// The ratio `p` becomes a 56-bit rejection threshold `T = (1 - p) * 2^56`;
/// a span is sampled when its randomness `R` is at least `T`. `R` is the
/// `rv` value of the `ot` tracestate entry when present, otherwise the
/// trace-id's right-most 7 bytes, which W3C Trace Context Level 2 makes
/// random (the `RANDOM` flag; ids made here are fully random). Every service
/// with the same ratio therefore decides the same for the same trace.
///
/// A sampled decision records `T` as `th` in the `ot` tracestate entry (other
/// `ot` sub-keys are kept), so that downstream services and backends can
/// compute adjusted counts; an unsampled one removes `th`.
///
/// # Examples
///
/// ```
/// use trace_core::{Sampler, SamplingInput, SpanKind, TraceId, TraceIdRatio};
///
/// let sampler = TraceIdRatio::new(0.25);
/// let id = TraceId::from_static("4bf92f3577b34da6a3ce929d0e0e4736");
/// let result = sampler.should_sample(&SamplingInput::new(id, "op", SpanKind::Server));
/// // R, the right-most 7 bytes, is 0xce929d0e0e4736; T for 0.25 is
/// // 0xc0000000000000. R >= T: sampled, and the threshold is recorded.
/// assert!(result.decision.is_sampled());
/// assert_eq!(result.trace_state.unwrap().get("ot"), Some("th:c"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIdRatio {
    /// The rejection threshold; `MAX_THRESHOLD` never samples.
    threshold: u64,
}

impl TraceIdRatio {
    /// Samples a fraction `ratio` of traces; `ratio` is clamped to `0..=1`
    /// (NaN counts as 0).
    #[must_use]
    pub fn new(ratio: f64) -> Self {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        // (1 - p) * 2^56 is at most 2^56, exact in f64 up to rounding of p
        // itself; the cast cannot truncate or lose a sign.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let threshold = ((1.0 - ratio) * MAX_THRESHOLD as f64).round() as u64;
        Self {
            threshold: threshold.min(MAX_THRESHOLD),
        }
    }

    /// The 56-bit rejection threshold.
    #[must_use]
    pub const fn threshold(self) -> u64 {
        self.threshold
    }

    /// The threshold as written in `th`: up to 14 hex digits, trailing zeros
    /// removed; `None` when nothing is sampled.
    fn encoded_threshold(self) -> Option<ThresholdText> {
        if self.threshold >= MAX_THRESHOLD {
            return None;
        }
        let mut text = ThresholdText {
            buf: [0; 14],
            len: 14,
        };
        let mut t = self.threshold;
        for slot in text.buf.iter_mut().rev() {
            *slot = crate::chars::HEX_DIGITS[usize::try_from(t & 0xf).expect("a nibble")];
            t >>= 4;
        }
        while text.len > 1 && text.buf[text.len - 1] == b'0' {
            text.len -= 1;
        }
        Some(text)
    }
}

/// The hex text of a threshold, without allocating.
struct ThresholdText {
    buf: [u8; 14],
    len: usize,
}

impl ThresholdText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("hex digits are ASCII")
    }
}

/// The randomness of a trace: `rv` from the `ot` entry, else the trace-id's
/// right-most 56 bits.
fn randomness(trace_id: TraceId, state: &TraceState) -> u64 {
    let rv = state.get(OT_KEY).and_then(|ot| {
        ot.split(';')
            .find_map(|kv| kv.strip_prefix("rv:"))
            .filter(|rv| rv.len() == 14)
            .and_then(|rv| {
                u64::from_str_radix(rv, 16)
                    .ok()
                    .filter(|_| rv.bytes().all(|b| b.is_ascii_hexdigit()))
            })
    });
    rv.unwrap_or_else(|| {
        let bytes = trace_id.to_bytes();
        let mut low = [0u8; 8];
        low[1..].copy_from_slice(&bytes[9..]);
        u64::from_be_bytes(low)
    })
}

/// The `ot` tracestate value with `th` set to `th` (or removed when `None`),
/// other sub-keys kept in order.
fn with_threshold(state: &TraceState, th: Option<&str>) -> Option<TraceState> {
    let old = state.get(OT_KEY).unwrap_or("");
    let others = old
        .split(';')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("th:"));
    let mut value = th.map(|th| format!("th:{th}")).unwrap_or_default();
    for kv in others {
        if !value.is_empty() {
            value.push(';');
        }
        value.push_str(kv);
    }
    if value == old {
        return None;
    }
    let mut state = state.clone();
    if value.is_empty() {
        state.remove(OT_KEY);
    } else if state.insert(OT_KEY, &value).is_err() {
        // A foreign `ot` value that does not fit the grammar once changed:
        // leave the tracestate as it was rather than fail the request.
        return None;
    }
    Some(state)
}

impl Sampler for TraceIdRatio {
    fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingResult {
        let state = input.trace_state();
        let sampled =
            self.threshold < MAX_THRESHOLD && randomness(input.trace_id, state) >= self.threshold;
        let th = self.encoded_threshold().filter(|_| sampled);
        SamplingResult {
            decision: if sampled {
                Decision::RecordAndSample
            } else {
                Decision::Drop
            },
            trace_state: with_threshold(state, th.as_ref().map(ThresholdText::as_str)),
        }
    }
}

/// A monotonic clock in nanoseconds, for [`RateLimited`]; tests use their own.
pub trait Clock: Send + Sync + 'static {
    /// Nanoseconds since an arbitrary, fixed start.
    fn now_nanos(&self) -> u64;
}

/// The process's monotonic clock.
///
/// # Examples
///
/// ```
/// use trace_core::{Clock, MonotonicClock};
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
/// use trace_core::{Decision, ParentBased, RateLimited, Sampler, SamplingInput, SpanKind, TraceId};
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
    use std::sync::atomic::AtomicU64;

    use super::*;
    use crate::TraceParent;

    fn input(trace_id: TraceId) -> SamplingInput<'static> {
        SamplingInput::new(trace_id, "op", SpanKind::Server)
    }

    #[test]
    fn parent_based_uses_each_branch() {
        // Each branch answers differently so the test sees which one ran.
        let tag = |decision: Decision, tag: &'static str| {
            move |_: &SamplingInput<'_>| SamplingResult {
                decision,
                trace_state: Some(format!("b={tag}").parse().unwrap()),
            }
        };
        let sampler = ParentBased::new(tag(Decision::RecordAndSample, "root"))
            .remote_parent_sampled(tag(Decision::Drop, "rs"))
            .remote_parent_not_sampled(tag(Decision::RecordAndSample, "rn"))
            .local_parent_sampled(tag(Decision::Drop, "ls"))
            .local_parent_not_sampled(tag(Decision::RecordOnly, "ln"));
        let branch = |input: &SamplingInput<'_>| {
            sampler
                .should_sample(input)
                .trace_state
                .unwrap()
                .get("b")
                .unwrap()
                .to_owned()
        };

        let remote_sampled = TraceContext::remote(TraceParent::from_static(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ));
        let remote_unsampled = TraceContext::remote(TraceParent::from_static(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        ));
        let local_sampled = TraceContext::new_root(true);
        let local_unsampled = TraceContext::new_root(false);
        let id = TraceId::random();
        #[rustfmt::skip]
        let cases: &[(Option<&TraceContext>, ParentTrust, &str, &str)] = &[
            (None, ParentTrust::Continue, "root", "no parent"),
            (Some(&remote_sampled), ParentTrust::Continue, "rs", "remote, sampled"),
            (Some(&remote_unsampled), ParentTrust::Continue, "rn", "remote, not sampled"),
            (Some(&local_sampled), ParentTrust::Continue, "ls", "local, sampled"),
            (Some(&local_unsampled), ParentTrust::Continue, "ln", "local, not sampled"),
            (Some(&remote_sampled), ParentTrust::Resample, "root", "an untrusted flag is decided as at a root"),
            (Some(&remote_unsampled), ParentTrust::NewRoot, "root", "a new root"),
        ];
        for &(parent, trust, expected, reason) in cases {
            let mut i = input(id).trust(trust);
            i.parent = parent;
            assert_eq!(branch(&i), expected, "{reason}");
        }
    }

    #[test]
    fn ratio_thresholds_follow_the_specification() {
        #[rustfmt::skip]
        let cases: &[(f64, u64, Option<&str>)] = &[
            (1.0, 0, Some("0")),
            (0.5, 0x0080_0000_0000_0000, Some("8")),
            (0.25, 0x00c0_0000_0000_0000, Some("c")),
            (0.125, 0x00e0_0000_0000_0000, Some("e")),
            (0.0, MAX_THRESHOLD, None),
            (2.0, 0, Some("0")),
            (-1.0, MAX_THRESHOLD, None),
            (f64::NAN, MAX_THRESHOLD, None),
        ];
        for &(ratio, threshold, th) in cases {
            let sampler = TraceIdRatio::new(ratio);
            assert_eq!(sampler.threshold(), threshold, "{ratio}");
            assert_eq!(
                sampler
                    .encoded_threshold()
                    .as_ref()
                    .map(ThresholdText::as_str),
                th,
                "{ratio}"
            );
        }
        // An exact encoding: parsing `th` back gives the same threshold.
        let sampler = TraceIdRatio::new(0.1);
        let th = sampler.encoded_threshold().unwrap();
        let digits = format!("{:0<14}", th.as_str());
        assert_eq!(
            u64::from_str_radix(&digits, 16).unwrap(),
            sampler.threshold()
        );
    }

    #[test]
    fn ratio_is_within_statistical_bounds() {
        // 100k random ids at p = 0.1: mean 10,000, sd ~ 95. Six sd either
        // side fails by chance about once in 500 million runs.
        let sampler = TraceIdRatio::new(0.1);
        let n = 100_000;
        let sampled = (0..n)
            .filter(|_| {
                sampler
                    .should_sample(&input(TraceId::random()))
                    .decision
                    .is_sampled()
            })
            .count();
        assert!((9_430..=10_570).contains(&sampled), "{sampled}");
    }

    #[test]
    fn ratio_is_consistent_across_services() {
        // Two services, same ratio, same trace: same decision, every time.
        let a = TraceIdRatio::new(0.3);
        let b = TraceIdRatio::new(0.3);
        for _ in 0..10_000 {
            let id = TraceId::random();
            let first = a.should_sample(&input(id)).decision;
            assert_eq!(first, b.should_sample(&input(id)).decision);
            assert_eq!(first, a.should_sample(&input(id)).decision);
        }
        // And a lower ratio samples a subset of a higher one's traces.
        let low = TraceIdRatio::new(0.1);
        for _ in 0..10_000 {
            let id = TraceId::random();
            if low.should_sample(&input(id)).decision.is_sampled() {
                assert!(a.should_sample(&input(id)).decision.is_sampled());
            }
        }
    }

    #[test]
    fn ratio_uses_rv_and_keeps_other_ot_keys() {
        let sampler = TraceIdRatio::new(0.5);
        // The trace-id's bits say "drop" (R = 0), rv says "sample".
        let id = TraceId::from_static("ffffffffffffffffff00000000000000");
        let parent = TraceContext::new_root(true).with_trace_state(
            "ot=rv:ffffffffffffff;xy:1,congo=t61rcWkgMzE"
                .parse()
                .unwrap(),
        );
        let mut i = input(id);
        i.parent = Some(&parent);
        let result = sampler.should_sample(&i);
        assert!(result.decision.is_sampled());
        assert_eq!(
            result.trace_state.unwrap().to_string(),
            "ot=th:8;rv:ffffffffffffff;xy:1,congo=t61rcWkgMzE"
        );

        // Unsampled: th is removed, the rest stays.
        let parent = TraceContext::new_root(true)
            .with_trace_state("ot=th:0;rv:00000000000000".parse().unwrap());
        let mut i = input(id);
        i.parent = Some(&parent);
        let result = sampler.should_sample(&i);
        assert!(!result.decision.is_sampled());
        assert_eq!(
            result.trace_state.unwrap().to_string(),
            "ot=rv:00000000000000"
        );
        assert!(
            sampler.should_sample(&input(id)).trace_state.is_none(),
            "nothing to write"
        );
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
