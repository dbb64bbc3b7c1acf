//! The model and the codecs of the `trace-*` crates: W3C Trace Context,
//! W3C Baggage and correlation IDs, parsed and written to the letter of the
//! specifications, without panics on any input and without allocating where
//! the wire form allows it.
//!
//! | type | header | specification |
//! |---|---|---|
//! | [`TraceParent`] ([`TraceId`], [`SpanId`], [`TraceFlags`]) | `traceparent` | W3C Trace Context Level 2 §3.2 |
//! | [`TraceState`] | `tracestate` | W3C Trace Context §3.3 |
//! | [`Baggage`] | `baggage` | W3C Baggage |
//! | [`CorrelationId`] | `x-request-id` | this crate's rules |
//!
//! Every parser returns the same small [`ParseError`], whose
//! [kind](ParseError::kind) names the rule that failed and never echoes the
//! input.
//!
//! # Examples
//!
//! Continue an incoming trace: keep the trace-id and flags, make a new span
//! id for the work done here, and pass `tracestate` on unchanged.
//!
//! ```
//! use http::{HeaderMap, HeaderValue};
//! use trace_core::{SpanId, TraceParent, TraceState, TRACEPARENT, TRACESTATE};
//!
//! let mut incoming = HeaderMap::new();
//! incoming.insert(TRACEPARENT, HeaderValue::from_static(
//!     "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
//! ));
//! incoming.insert(TRACESTATE, HeaderValue::from_static("congo=t61rcWkgMzE"));
//!
//! let parent = TraceParent::try_from(&incoming[TRACEPARENT])?;
//! let state = TraceState::from_header_values(incoming.get_all(TRACESTATE))?;
//!
//! let mine = parent.with_parent_id(SpanId::random());
//! let mut outgoing = HeaderMap::new();
//! outgoing.insert(TRACEPARENT, mine.to_header_value());
//! if let Some(value) = state.header_value() {
//!     outgoing.insert(TRACESTATE, value.clone());
//! }
//! assert!(mine.flags().is_random(), "the Level 2 random flag is kept");
//! assert_eq!(outgoing[TRACESTATE], "congo=t61rcWkgMzE");
//! # Ok::<(), trace_core::ParseError>(())
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

/// `FromStr`, `TryFrom<&str>` and `TryFrom<&[u8]>` for a type with a private
/// `fn parse(&[u8]) -> Result<Self, ParseError>`: one validator behind every
/// way in.
macro_rules! impl_parse {
    ($ty:ty) => {
        impl std::str::FromStr for $ty {
            type Err = $crate::ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s.as_bytes())
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = $crate::ParseError;

            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s.as_bytes())
            }
        }

        impl TryFrom<&[u8]> for $ty {
            type Error = $crate::ParseError;

            fn try_from(s: &[u8]) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }
    };
}

mod baggage;
mod chars;
mod context;
mod correlation;
mod error;
mod filter;
mod ids;
#[cfg(feature = "opentelemetry")]
mod otel;
mod policy;
mod propagator;
mod recorder;
mod sampling;
mod span;
mod start;
mod traceparent;
mod tracestate;

pub mod semconv;

use http::HeaderName;

pub use crate::{
    baggage::{Baggage, Iter as BaggageIter, Member, Properties, Property},
    context::{ContextGuard, FutureExt, TraceContext, WithContext},
    correlation::{CorrelationId, X_CORRELATION_ID, X_REQUEST_ID},
    error::{ParseError, ParseErrorKind},
    filter::RequestFilter,
    ids::{SpanId, TraceFlags, TraceId},
    policy::{AllowHosts, DestinationPolicy, Propagate, RequestInfo, Trust, TrustIf, TrustPolicy},
    propagator::{Carrier, DropReason, Dropped, EnvError, Incoming, Propagator},
    recorder::{
        FinishedSpan, InMemoryRecorder, NoopRecorder, Recorder, RecordingSpan, Span, SpanEnd,
        SpanStart, Status,
    },
    sampling::{
        AlwaysOff, AlwaysOn, Clock, Decision, MonotonicClock, ParentBased, ParentTrust,
        RateLimited, Sampler, SamplingInput, SamplingResult, TraceIdRatio,
    },
    span::{Attribute, SpanKind, Value},
    start::Started,
    traceparent::TraceParent,
    tracestate::{Iter as TraceStateIter, TraceState},
};

/// Limits this crate applies, from the specifications.
pub mod limits {
    pub use crate::baggage::{MAX_BYTES as BAGGAGE_MAX_BYTES, MAX_MEMBERS as BAGGAGE_MAX_MEMBERS};
    pub use crate::correlation::MAX_LEN as CORRELATION_ID_MAX_LEN;
    pub use crate::tracestate::{
        MAX_LEN as TRACESTATE_MAX_LEN, MAX_MEMBERS as TRACESTATE_MAX_MEMBERS,
    };
}

/// The `traceparent` header name.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The `tracestate` header name.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
/// The `baggage` header name.
pub const BAGGAGE: HeaderName = HeaderName::from_static("baggage");
