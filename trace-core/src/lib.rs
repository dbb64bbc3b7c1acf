//! The model, the codecs and the policies of the `trace-*` crates: everything
//! two adapters would both need lives here, once. The server, HTTP client and
//! gRPC adapters only translate their framework's types to these.
//!
//! One module per concern; the crate root re-exports what a user types.
//!
//! | module | what it holds |
//! |---|---|
//! | [`codec`] | the wire formats: [`TraceId`], [`SpanId`], [`TraceFlags`] (Level 2 `RANDOM`), [`TraceParent`], [`TraceState`] (W3C Trace Context); [`Baggage`] and its [members](codec::Member) (W3C Baggage); [`CorrelationId`] (`x-request-id`, UUID v7); [`B3`](codec::B3) and Jaeger's [`UberTraceId`](codec::UberTraceId); [`ParseError`] |
//! | [`context`] | [`TraceContext`], what a unit of work carries, and the current-context scope ([`TraceContext::current`], [`FutureExt`], [`ContextGuard`](context::ContextGuard)) |
//! | [`propagation`] | the [`Propagator`] over a [`Carrier`](propagation::Carrier), in its [formats](propagation::Format) (W3C, B3, Jaeger, as `OTEL_PROPAGATORS` names them): what a request brought ([`Incoming`](propagation::Incoming)) and what was [dropped](propagation::Dropped) |
//! | [`policy`] | [`Trust`] / [`TrustPolicy`] for callers, [`Propagate`] / [`DestinationPolicy`] / [`AllowHosts`] for callees, [`RequestFilter`] |
//! | [`sampling`] | [`Sampler`]: [`ParentBased`], [`TraceIdRatio`], [`RateLimited`], [`AlwaysOn`], [`AlwaysOff`] |
//! | [`record`] | the [`Recorder`] trait ([`NoopRecorder`], [`InMemoryRecorder`], and behind features the OpenTelemetry and `tracing` recorders), [`Span`] with its [`SpanKind`], [`Attribute`]s and [`Status`], the [body](record::SpanBody) that ends a span |
//! | [`instrument`] | [`ServerTracing`] and [`ClientTracing`]: everything a server or a client does per request, once, for every adapter |
//! | [`semconv`] | the OpenTelemetry semantic conventions: names, attributes and status rules for HTTP and gRPC |
//!
//! Behind features: `opentelemetry` (the `Propagator` as a
//! `TextMapPropagator`, `TraceContext` to and from `opentelemetry::Context`,
//! `OtelRecorder`), `otlp` and `otlp-tls` (`OtelSetup`'s OTLP exporter, over
//! TLS too), `tracing` (a `tracing` span per unit of work with the ids),
//! `tracing-opentelemetry` (`TracingRecorder`), `axum` (extractors).
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

/// `FromStr`, `TryFrom<&str>`, `TryFrom<&[u8]>` and `TryFrom<&HeaderValue>`
/// for a type with a private `fn parse(&[u8]) -> Result<Self, ParseError>`:
/// one validator behind every way in. A type that keeps the header value
/// itself (no copy) names the function that does, which must validate with
/// the same `parse` rules.
macro_rules! impl_parse {
    ($ty:ty) => {
        impl_parse!($ty, |value: &http::HeaderValue| Self::parse(
            value.as_bytes()
        ));
    };
    ($ty:ty, $from_header:expr) => {
        impl std::str::FromStr for $ty {
            type Err = $crate::codec::ParseError;

            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Self::parse(s.as_bytes())
            }
        }

        impl TryFrom<&str> for $ty {
            type Error = $crate::codec::ParseError;

            fn try_from(s: &str) -> Result<Self, Self::Error> {
                Self::parse(s.as_bytes())
            }
        }

        impl TryFrom<&[u8]> for $ty {
            type Error = $crate::codec::ParseError;

            fn try_from(s: &[u8]) -> Result<Self, Self::Error> {
                Self::parse(s)
            }
        }

        impl TryFrom<&http::HeaderValue> for $ty {
            type Error = $crate::codec::ParseError;

            fn try_from(value: &http::HeaderValue) -> Result<Self, Self::Error> {
                ($from_header)(value)
            }
        }
    };
}

/// Setters that forward to a [`ClientTracing`] or a [`ServerTracing`],
/// written once for every adapter that holds one: the adapter's
/// `fn tracing_mut(&mut self) -> &mut ClientTracing` (or `ServerTracing`)
/// says where it is. Not public API.
#[doc(hidden)]
#[macro_export]
macro_rules! __forward_setters {
    ($tracing:ident { $($(#[doc = $doc:literal])* fn $name:ident($arg:ident: $ty:ty);)* }) => {
        $(
            $(#[doc = $doc])*
            #[doc = ""]
            #[doc = concat!("The same as `", stringify!($tracing), "::", stringify!($name), "` in trace-core.")]
            #[must_use]
            pub fn $name(mut self, $arg: $ty) -> Self {
                let tracing = self.tracing_mut();
                *tracing = ::std::mem::take(tracing).$name($arg);
                self
            }
        )*
    };
}

/// The setters of a client adapter, forwarded to its [`ClientTracing`].
#[doc(hidden)]
#[macro_export]
macro_rules! __client_setters {
    () => {
        $crate::__forward_setters!(ClientTracing {
            /// The propagator (which headers, the correlation-ID header's name).
            fn propagator(propagator: $crate::Propagator);
            /// The sampler (client spans usually follow their parent).
            fn sampler(sampler: impl $crate::Sampler);
            /// Where client spans are recorded.
            fn recorder(recorder: impl $crate::Recorder);
            /// Which destinations receive which headers.
            fn destinations(policy: impl $crate::DestinationPolicy);
            /// What a call made outside any trace does (default: start a
            /// new trace, so the callee still joins something).
            fn without_context(no_context: $crate::instrument::NoContext);
            /// Runs a hook at each call whose span records: the app's
            /// attributes from the request.
            fn on_request(hook: impl Fn(&$crate::RequestInfo<'_>, &$crate::SpanRef) + Send + Sync + 'static);
            /// Runs a hook when a call's response head arrives, for a span
            /// that records: the app's attributes from the response.
            fn on_response(hook: impl Fn(&$crate::instrument::ResponseInfo<'_>, &$crate::SpanRef) + Send + Sync + 'static);
        });
    };
}

/// The setters of a server adapter, forwarded to its [`ServerTracing`]
/// (all but `recorder`, which may change the adapter's type).
#[doc(hidden)]
#[macro_export]
macro_rules! __server_setters {
    () => {
        $crate::__forward_setters!(ServerTracing {
            /// The propagator: which headers are read and written, and the
            /// correlation-ID header's name.
            fn propagator(propagator: $crate::Propagator);
            /// What to believe from callers, decided per request.
            fn trust(policy: impl $crate::TrustPolicy);
            /// The sampler.
            fn sampler(sampler: impl $crate::Sampler);
            /// Whether the response carries the correlation ID (default: yes).
            fn echo_correlation_id(echo: bool);
            /// How a correlation ID is made when the request has none
            /// (default: a UUID v7).
            fn correlation_id_generator(generate: fn() -> $crate::CorrelationId);
            /// Whether the response tells the caller about the server span.
            fn response_trace_context(mode: $crate::instrument::ResponseTraceContext);
            /// Requests that make no span (they still propagate and get
            /// their correlation ID).
            fn filter(filter: $crate::RequestFilter);
            /// Runs a hook at each request whose span records: the app's
            /// attributes from the request (a header to `tenant.id`).
            fn on_request(hook: impl Fn(&$crate::RequestInfo<'_>, &$crate::SpanRef) + Send + Sync + 'static);
            /// Runs a hook when the response's head is ready, for a span
            /// that records: the app's attributes from the response.
            fn on_response(hook: impl Fn(&$crate::instrument::ResponseInfo<'_>, &$crate::SpanRef) + Send + Sync + 'static);
        });
    };
}

pub mod codec;
pub mod context;
pub mod instrument;
mod integrations;
#[cfg(feature = "metrics")]
#[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
pub mod metrics;
pub mod policy;
pub mod propagation;
pub mod record;
pub mod sampling;
pub mod semconv;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub use crate::integrations::axum::MissingTraceLayer;
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
pub use crate::integrations::opentelemetry::OtlpProtocol;
#[cfg(feature = "opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub use crate::integrations::opentelemetry::{
    OtelIdGenerator, OtelRecorder, OtelSetup, SetupError, Telemetry,
};
#[cfg(feature = "tracing-opentelemetry")]
#[cfg_attr(docsrs, doc(cfg(feature = "tracing-opentelemetry")))]
pub use crate::integrations::tracing::{LeanSpans, TracingRecorder};
// What a user types; the rest is reached by its module's path.
pub use crate::{
    codec::{
        BAGGAGE, Baggage, CorrelationId, ParseError, SpanId, TRACEPARENT, TRACESTATE, TraceFlags,
        TraceId, TraceParent, TraceState, X_CORRELATION_ID, X_REQUEST_ID, limits,
    },
    context::{FutureExt, TraceContext},
    instrument::{ClientTracing, ServerTracing},
    policy::{
        AllowHosts, DestinationPolicy, Propagate, RequestFilter, RequestInfo, Trust, TrustPolicy,
    },
    propagation::Propagator,
    record::{
        Attribute, FinishedSpan, InMemoryRecorder, NoopRecorder, Recorder, Span, SpanKind, SpanRef,
        Status, Value, span,
    },
    sampling::{AlwaysOff, AlwaysOn, ParentBased, RateLimited, Sampler, TraceIdRatio},
};

/// Whether the "started as a trace of its own inside a request" warning
/// was given in this process: for the end-to-end tests. Not public API.
#[cfg(feature = "opentelemetry")]
#[doc(hidden)]
#[must_use]
pub fn __warned_split_off() -> bool {
    crate::integrations::opentelemetry::warned_split_off()
}

/// Says `message` once per process (`flag`): as a `tracing` warning when a
/// subscriber takes it, else on standard error, so that it is never lost.
pub(crate) fn warn_once(flag: &std::sync::atomic::AtomicBool, message: &str) {
    if !flag.swap(true, std::sync::atomic::Ordering::Relaxed) {
        #[cfg(feature = "tracing")]
        if tracing::enabled!(tracing::Level::WARN) {
            tracing::warn!("{message}");
            return;
        }
        eprintln!("{message}");
    }
}

/// Whether a policy asked for the connection's peer and found none, in
/// this process (see `RequestInfo::peer_is_private`): for the tests. Not
/// public API.
#[doc(hidden)]
#[must_use]
pub fn __warned_no_peer() -> bool {
    crate::policy::warned_no_peer()
}

/// The README's example, compiled and run as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
