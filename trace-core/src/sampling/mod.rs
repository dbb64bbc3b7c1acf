//! Sampling: whether a trace is recorded.
//!
//! The decision is made once, where a trace starts or enters through a
//! trust boundary, and is carried in the `sampled` flag; downstream services
//! follow it with [`ParentBased`]. [`TraceIdRatio`] makes the same decision
//! for the same trace-id in every service, so traces are never partial.

mod env;
mod rate;
mod ratio;

use std::{fmt, sync::Arc};

use crate::{
    codec::{TraceId, TraceState},
    context::TraceContext,
    policy::ParentTrust,
    record::{Attribute, SpanKind},
};

pub(crate) use self::ratio::with_own_randomness;
pub use self::{
    env::{EnvVarError, sampler_from_env, sampler_from_env_values},
    rate::{Clock, MonotonicClock, RateLimited},
    ratio::TraceIdRatio,
};

/// Everything a [`Sampler`] may base its decision on.
///
/// # Examples
///
/// ```
/// use trace_core::{SpanKind, TraceId, sampling::SamplingInput};
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
/// use trace_core::sampling::Decision;
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
/// use trace_core::{sampling::{Decision, SamplingResult}};
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
/// use trace_core::{Sampler, SpanKind, TraceId, sampling::{Decision, SamplingInput, SamplingResult}};
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
/// use trace_core::{AlwaysOn, Sampler, SpanKind, TraceId, sampling::{Decision, SamplingInput}};
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
/// use trace_core::{AlwaysOff, Sampler, SpanKind, TraceId, sampling::{Decision, SamplingInput}};
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
/// use trace_core::{AlwaysOff, AlwaysOn, ParentBased, Sampler, SpanKind, TraceContext, TraceId, sampling::{Decision, SamplingInput}};
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

#[cfg(test)]
mod tests {

    use super::*;
    use crate::codec::TraceParent;

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
}
