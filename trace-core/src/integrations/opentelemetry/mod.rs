//! OpenTelemetry (feature `opentelemetry`): [`Propagator`](crate::propagation::Propagator)
//! as a `TextMapPropagator`, `TraceContext` to and from
//! `opentelemetry::Context`, and the recorder.

mod propagator;
mod recorder;

pub use self::recorder::{OtelIdGenerator, OtelRecorder};
#[cfg(feature = "tracing-opentelemetry")]
pub(crate) use self::recorder::{link_context, otel_value, parent_context, with_our_ids};
