//! W3C trace context, baggage and correlation IDs for tonic gRPC.
//!
//! This release has the client side's propagation: [`TraceInterceptor`],
//! for `Client::with_interceptor`, writes the current context into every
//! call's metadata with the `trace-core` propagator, each call with its own
//! span id. On the server side, `trace_tower::TraceContextLayer` already
//! works as a tonic server layer (gRPC is HTTP/2): it extracts the caller's
//! context and makes it current for the service method. gRPC-specific span
//! names and statuses (from trailers) are the next step.
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

mod interceptor;

pub use crate::interceptor::TraceInterceptor;
