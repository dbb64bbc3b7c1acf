//! The model, the codecs and the policies of the `trace-*` crates: everything
//! two adapters would both need lives here, once. The server, HTTP client and
//! gRPC adapters only translate their framework's types to these.
//!
//! | part | items |
//! |---|---|
//! | W3C Trace Context Level 2 | [`TraceParent`] ([`TraceId`], [`SpanId`], [`TraceFlags`] with `RANDOM`), [`TraceState`] |
//! | W3C Baggage | [`Baggage`], [`Member`], [`Property`] |
//! | correlation IDs | [`CorrelationId`] (`x-request-id`, UUID v7) |
//! | reading and writing headers | [`Propagator`] over a [`Carrier`]; [`Incoming`] and what was [`Dropped`] |
//! | policy | [`Trust`] / [`TrustPolicy`] for callers, [`Propagate`] / [`DestinationPolicy`] for callees, [`RequestFilter`] |
//! | sampling | [`Sampler`]: [`ParentBased`], [`TraceIdRatio`], [`RateLimited`], [`AlwaysOn`], [`AlwaysOff`] |
//! | the current context | [`TraceContext`], [`FutureExt`], [`ContextGuard`] |
//! | spans | [`Recorder`] ([`NoopRecorder`], [`InMemoryRecorder`]), [`Span`], [`semconv`] |
//! | OpenTelemetry (feature `opentelemetry`) | `Propagator` as a `TextMapPropagator`; `TraceContext` to and from `opentelemetry::Context` |
//!
//! Parsing follows the specifications' texts (see each type for the choices
//! made where they allow several), never panics on any input, and does not
//! allocate where the wire form allows it. Every parser returns the same
//! small [`ParseError`], whose [kind](ParseError::kind) names the rule that
//! failed and never echoes the input.
//!
//! # Examples
//!
//! A service's whole propagation path: read the request's headers, decide
//! what to trust and whether to sample, run the work in the new context,
//! and write the headers of a call made from it.
//!
//! ```
//! use http::{HeaderMap, HeaderValue};
//! use trace_core::{
//!     AlwaysOn, FutureExt, ParentBased, Propagate, Propagator, SpanKind, TraceContext, Trust,
//! };
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let propagator = Propagator::default();
//! let sampler = ParentBased::new(AlwaysOn);
//!
//! let mut request = HeaderMap::new();
//! request.insert("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
//! request.insert("x-request-id", HeaderValue::from_static("req-42"));
//!
//! let server = propagator.extract(&request).start(Trust::CONTINUE, &sampler, "GET /orders", SpanKind::Server, &[]);
//! let outgoing = async {
//!     // Anywhere in the handler: the current context, without passing it by hand.
//!     let current = TraceContext::current().expect("inside the request's scope");
//!     let call = TraceContext::start_child(Some(&current), &sampler, "GET", SpanKind::Client, &[]);
//!     let mut headers = HeaderMap::new();
//!     propagator.inject(&call.context, Propagate::ALL, &mut headers);
//!     headers
//! }
//! .with_trace_context(server.context.clone())
//! .await;
//!
//! assert!(outgoing["traceparent"].to_str().unwrap().starts_with("00-4bf92f3577b34da6a3ce929d0e0e4736-"));
//! assert_eq!(outgoing["x-request-id"], "req-42");
//! # }
//! ```
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

#[cfg(feature = "axum")]
mod axum;
mod baggage;
mod body;
mod chars;
mod client;
mod context;
mod correlation;
mod error;
mod filter;
mod ids;
#[cfg(feature = "opentelemetry")]
mod otel;
#[cfg(feature = "opentelemetry")]
mod otel_recorder;
mod policy;
mod propagator;
mod recorder;
mod sampling;
mod span;
mod start;
mod traceparent;
mod tracestate;
#[cfg(feature = "tracing-opentelemetry")]
mod tracing_otel;
#[cfg(feature = "tracing")]
mod tracing_span;

pub mod semconv;

use http::HeaderName;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use crate::axum::MissingTraceLayer;
#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub use crate::otel_recorder::{OtelIdGenerator, OtelRecorder};
#[cfg(feature = "tracing-opentelemetry")]
pub use crate::tracing_otel::TracingRecorder;
pub use crate::{
    baggage::{Baggage, Iter as BaggageIter, Member, Properties, Property},
    body::{SpanBody, TrailerClassifier},
    client::{ClientCall, ClientTracing},
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

/// The README's example, compiled and run as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
