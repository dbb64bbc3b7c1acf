//! The wire formats: ids and flags, W3C Trace Context's `traceparent` and
//! `tracestate`, W3C Baggage, correlation IDs, B3 and Jaeger's
//! `uber-trace-id`, each behind one parser that returns the same small
//! [`ParseError`].

mod b3;
mod baggage;
pub(crate) mod chars;
mod correlation;
mod error;
mod ids;
mod jaeger;
mod traceparent;
mod tracestate;

pub(crate) use self::{
    b3::{MultiHeaders, write_trace_id},
    jaeger::{UBERCTX_VALUE_ENCODE, uberctx_key, uberctx_value},
};
use http::HeaderName;

pub use self::{
    b3::{
        B3, B3_HEADER, B3Sampling, X_B3_FLAGS, X_B3_PARENT_SPAN_ID, X_B3_SAMPLED, X_B3_SPAN_ID,
        X_B3_TRACE_ID,
    },
    baggage::{Baggage, Iter as BaggageIter, Member, Properties, Property},
    correlation::{CorrelationId, X_CORRELATION_ID, X_REQUEST_ID},
    error::{ParseError, ParseErrorKind},
    ids::{SpanId, TraceFlags, TraceId},
    jaeger::{UBER_TRACE_ID, UBERCTX_PREFIX, UberTraceId},
    traceparent::TraceParent,
    tracestate::{Iter as TraceStateIter, TraceState},
};

/// The `traceparent` header name.
pub const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
/// The `tracestate` header name.
pub const TRACESTATE: HeaderName = HeaderName::from_static("tracestate");
/// The `baggage` header name.
pub const BAGGAGE: HeaderName = HeaderName::from_static("baggage");

/// Limits this crate applies, from the specifications.
pub mod limits {
    pub use super::{
        baggage::{MAX_BYTES as BAGGAGE_MAX_BYTES, MAX_MEMBERS as BAGGAGE_MAX_MEMBERS},
        correlation::MAX_LEN as CORRELATION_ID_MAX_LEN,
        tracestate::{MAX_LEN as TRACESTATE_MAX_LEN, MAX_MEMBERS as TRACESTATE_MAX_MEMBERS},
    };
}
