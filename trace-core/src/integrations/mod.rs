//! The bridges to other crates, each behind its feature.

#[cfg(feature = "axum")]
pub(crate) mod axum;
#[cfg(feature = "opentelemetry")]
pub(crate) mod opentelemetry;
#[cfg(feature = "tracing")]
pub(crate) mod tracing;
