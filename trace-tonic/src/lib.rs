//! W3C trace context, baggage and correlation IDs for tonic gRPC.
//!
//! - Server: [`server_layer()`] (trace-tower's `TraceContextLayer` in its
//!   gRPC mode) in `Server::builder().layer(..)`; gRPC is HTTP/2, so the one
//!   server layer serves both: the caller's context is extracted and made current for
//!   the service method, and the server span is named
//!   `package.Service/Method` with the `rpc.*` attributes and the status
//!   read from `grpc-status`, in a trailers-only response or in the
//!   trailers after the last message. In the method, [`RequestExt`] reads
//!   the context from the request (and `TraceContext::current()` works).
//! - Client: [`GrpcClientLayer`] on a `Channel` records a client span per
//!   call (status from `grpc-status`; every code but OK is a client error)
//!   and carries it in the metadata. [`TraceInterceptor`], for
//!   `Client::with_interceptor`, only propagates: an interceptor never sees
//!   the outcome.
//!
//! # Examples
//!
//! ```
//! use trace_tonic::TraceInterceptor;
//!
//! # async fn connect() -> Result<(), Box<dyn std::error::Error>> {
//! let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
//! let channel = tonic::service::interceptor::InterceptedService::new(channel, TraceInterceptor::new());
//! // e.g. `EchoClient::new(channel)`
//! # let _ = channel;
//! # Ok(())
//! # }
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod client;
mod interceptor;
mod request;

pub use trace_core::instrument::NoContext;
pub use trace_tower::TraceContextLayer;

pub use crate::{
    client::{GrpcClient, GrpcClientLayer, ResponseFuture},
    interceptor::TraceInterceptor,
    request::RequestExt,
};

/// The server layer for `tonic::transport::Server::builder().layer(..)`:
/// trace-tower's [`TraceContextLayer::new_for_grpc`], configured like any
/// `TraceContextLayer` (trust, sampler, recorder, filter).
///
/// # Examples
///
/// ```
/// use trace_core::{InMemoryRecorder, RequestFilter};
///
/// let layer = trace_tonic::server_layer()
///     .recorder(InMemoryRecorder::new(1000))
///     .filter(RequestFilter::grpc_service("grpc.health.v1.Health"));
/// // Server::builder().layer(layer).add_service(..)
/// # let _ = layer;
/// ```
#[must_use]
pub fn server_layer() -> TraceContextLayer {
    TraceContextLayer::new_for_grpc()
}

/// The README's example, compiled and run as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
