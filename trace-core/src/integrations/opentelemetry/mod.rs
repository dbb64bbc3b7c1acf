//! OpenTelemetry (feature `opentelemetry`): [`Propagator`](crate::propagation::Propagator)
//! as a `TextMapPropagator`, `TraceContext` to and from
//! `opentelemetry::Context`, the recorder, and [`OtelSetup`]: the SDK set up
//! in one call from the standard environment.

#[cfg(feature = "otlp")]
mod otlp;
mod propagator;
mod recorder;
mod setup;

pub(crate) use self::recorder::warned_split_off;
pub use self::recorder::{OtelIdGenerator, OtelRecorder};
#[cfg(feature = "tracing-opentelemetry")]
pub(crate) use self::recorder::{
    check_provider, link_context, otel_value, parent_context, with_our_ids,
};
#[cfg(feature = "otlp")]
pub use self::setup::OtlpProtocol;
pub use self::setup::{OtelSetup, SetupError, Telemetry};
