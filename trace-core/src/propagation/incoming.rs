//! [`Incoming`]: what a request brought, and what was dropped from it.

use crate::{
    codec::{B3Sampling, Baggage, CorrelationId, ParseErrorKind, TraceParent, TraceState},
    context::TraceContext,
    propagation::Format,
};

/// Why an incoming header was not used.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use trace_core::{Propagator, propagation::DropReason};
///
/// let mut headers = HeaderMap::new();
/// headers.append("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
/// headers.append("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
/// let incoming = Propagator::default().extract(&headers);
/// assert_eq!(incoming.dropped.traceparent, Some(DropReason::Repeated));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum DropReason {
    /// The value broke this rule.
    Invalid(ParseErrorKind),
    /// The header came more than once where only one is allowed.
    Repeated,
    /// A `tracestate` without a valid `traceparent`, which the
    /// specification says not to parse (the context came in another
    /// format, or not at all).
    NoValidParent,
    /// Another format, earlier in the propagator's order, gave the context:
    /// this one was not read.
    Superseded,
}

/// What was dropped from a request's headers, per header, for adapters to
/// count or log (the reasons hold no input).
///
/// # Examples
///
/// ```
/// use trace_core::propagation::Dropped;
///
/// assert!(Dropped::default().is_empty());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub struct Dropped {
    /// Why the `traceparent` was not used (the trace restarts).
    pub traceparent: Option<DropReason>,
    /// Why the `tracestate` was not used.
    pub tracestate: Option<DropReason>,
    /// Why some or all baggage members were not used.
    pub baggage: Option<DropReason>,
    /// Why the correlation ID was not used (a new one is made).
    pub correlation_id: Option<DropReason>,
    /// Why B3 (`b3`, then the `X-B3-*` headers) was not used.
    pub b3: Option<DropReason>,
    /// Why Jaeger's `uber-trace-id` was not used.
    pub jaeger: Option<DropReason>,
}

impl Dropped {
    /// Whether nothing was dropped.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

/// What a request brought: the parent (if valid), its tracestate, baggage,
/// the correlation ID, and what was dropped.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use trace_core::Propagator;
///
/// let mut headers = HeaderMap::new();
/// headers.insert("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
/// headers.insert("baggage", HeaderValue::from_static("userId=alice"));
/// let incoming = Propagator::default().extract(&headers);
/// assert!(incoming.parent.is_some());
/// assert_eq!(incoming.baggage.get("userId").as_deref(), Some("alice"));
/// assert!(incoming.correlation_id.is_none());
/// ```
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct Incoming {
    /// The caller's `traceparent`, when there was exactly one and it was valid.
    pub parent: Option<TraceParent>,
    /// The `tracestate`, empty unless the `traceparent` was valid.
    pub trace_state: TraceState,
    /// The baggage; independent of the `traceparent`.
    pub baggage: Baggage,
    /// The caller's correlation ID, when valid.
    pub correlation_id: Option<CorrelationId>,
    /// Which of the propagator's correlation-ID headers it came in (see
    /// [`Propagator::correlation_header_in`](crate::Propagator::correlation_header_in)),
    /// so that the response answers under the same name.
    pub correlation_header: Option<u8>,
    /// The format the parent came in; `None` without one.
    pub format: Option<Format>,
    /// What the caller said of sampling beyond the parent's sampled flag
    /// (B3 and Jaeger).
    pub sampling: CallerSampling,
    /// The parent's trace id came in 16 digits (a 64-bit B3 or Jaeger
    /// trace id): written back so in those formats.
    pub narrow_trace_id: bool,
    /// What was dropped, and why.
    pub dropped: Dropped,
}

/// What a caller said of sampling beyond a parent's sampled flag: B3's
/// deferred and debug states, Jaeger's debug flag, and a B3 decision sent
/// without ids.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use trace_core::{Propagator, codec::B3Sampling, propagation::{CallerSampling, Format}};
///
/// let propagator = Propagator::default().with_formats([Format::TraceContext, Format::B3]);
/// let mut headers = HeaderMap::new();
/// headers.insert("b3", HeaderValue::from_static("0"));
/// let incoming = propagator.extract(&headers);
/// assert!(incoming.parent.is_none());
/// assert_eq!(incoming.sampling, CallerSampling::Alone(B3Sampling::Deny));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum CallerSampling {
    /// The parent's sampled flag is the caller's decision (or nothing
    /// came).
    #[default]
    Flag,
    /// The parent came without a decision (B3 ids without a sampling
    /// state): this service's sampler decides, as at a root.
    Deferred,
    /// A debug trace (B3 `d` or `X-B3-Flags: 1`, Jaeger's flags `0x03`):
    /// sampled, and passed on as debug while this service samples it.
    Debug,
    /// A B3 decision without ids (`b3: 0`, `b3: 1`, `b3: d`, or
    /// `X-B3-Sampled` alone): a new trace, which the sampler sees as the
    /// child of a remote parent with that decision.
    Alone(B3Sampling),
}

impl Incoming {
    /// The caller's span as a context (with this request's tracestate,
    /// baggage and correlation ID), when there was a valid parent.
    #[must_use]
    pub fn into_remote_context(self) -> Option<TraceContext> {
        let parent = self.parent?;
        let mut cx = TraceContext::remote(parent)
            .with_trace_state(self.trace_state)
            .with_baggage(self.baggage)
            .with_debug(self.sampling == CallerSampling::Debug)
            .with_narrow_trace_id(self.narrow_trace_id);
        if let Some(id) = self.correlation_id {
            cx = cx.with_correlation_id(id);
        }
        Some(cx)
    }
}
