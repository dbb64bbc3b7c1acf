//! A tower layer that makes every request to an axum or hyper server join
//! the caller's trace.
//!
//! Add [`TraceContextLayer`] to a router, and for every request:
//!
//! - the incoming `traceparent`, `tracestate`, `baggage` and `x-request-id`
//!   are read by `trace-core` (a malformed header restarts the trace, as W3C
//!   Trace Context says; it never fails the request);
//! - the trust policy and the sampler decide, and the request gets its own
//!   span: same trace, new span id, the caller's span as parent;
//! - that [`TraceContext`](trace_core::TraceContext) goes into the request's
//!   extensions and is *current* for everything the handler awaits
//!   ([`TraceContext::current`](trace_core::TraceContext::current)), so
//!   outgoing calls carry it on without passing it by hand;
//! - the response gets the correlation ID (the caller's when valid, a new
//!   UUID v7 otherwise), and, when enabled, the server span's trace context
//!   in `server-timing`;
//! - the server span is recorded by the configured recorder (none by
//!   default: propagation only), named `{METHOD} {route}` with axum's
//!   matched route, and ends when the response body has been sent, or as
//!   `cancelled` when the client goes away first.
//!
//! # Examples
//!
//! ```
//! use axum::{Router, routing::get};
//! use trace_core::{CorrelationId, TraceContext};
//! use trace_tower::TraceContextLayer;
//!
//! async fn handler(cx: TraceContext, id: CorrelationId) -> String {
//!     format!("trace {} request {id}", cx.trace_id())
//! }
//!
//! let app: Router = Router::new()
//!     .route("/users/{id}", get(handler))
//!     .layer(TraceContextLayer::new());
//! # let _ = app;
//! ```
//!
//! Handlers can take [`TraceContext`](trace_core::TraceContext),
//! [`CorrelationId`](trace_core::CorrelationId) and
//! [`Baggage`](trace_core::Baggage) as arguments (feature `axum`), or
//! `Option<_>` of them; without the layer the former reject with a 500 that
//! says to add it.
//!
//! An edge service that should not let the internet choose its trace ids or
//! sampling, and that records spans:
//!
//! ```
//! use trace_core::{InMemoryRecorder, ParentBased, RateLimited, RequestFilter, RequestInfo, Trust};
//! use trace_tower::{ResponseTraceContext, TraceContextLayer};
//!
//! let layer = TraceContextLayer::new()
//!     .trust(Trust::CONTINUE.when(|req: &RequestInfo<'_>| req.peer_is_private()))
//!     .sampler(ParentBased::new(RateLimited::new(50.0)))
//!     .recorder(InMemoryRecorder::new(10_000))
//!     .filter(RequestFilter::path("/health"))
//!     .response_trace_context(ResponseTraceContext::ServerTiming);
//! # let _ = layer;
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod body;
mod config;
mod future;
mod layer;
mod service;

pub use crate::{
    body::ResponseBody, config::ResponseTraceContext, future::ResponseFuture,
    layer::TraceContextLayer, service::TraceContextService,
};
