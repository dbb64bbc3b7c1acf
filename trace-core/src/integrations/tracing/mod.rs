//! `tracing` (feature `tracing`): a span per unit of work carrying the ids,
//! and (feature `tracing-opentelemetry`) the recorder that records our span
//! as that `tracing` span.

#[cfg(feature = "tracing-opentelemetry")]
mod opentelemetry;
mod span;

pub(crate) use self::span::log_dropped;

#[cfg(feature = "tracing-opentelemetry")]
pub use self::opentelemetry::{LeanSpans, TracingRecorder};
