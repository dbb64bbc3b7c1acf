//! Carries the current W3C trace, baggage and correlation ID onto every
//! outgoing HTTP call made with `reqwest`.
//!
//! Wrap the client once with [`TraceMiddleware`]; every call made while
//! handling a request (inside `trace-tower`'s layer, or any scope that set a
//! [`TraceContext`]) then gets its own client span, a child of the current
//! context, and carries `traceparent`, `tracestate`, `baggage` and the
//! correlation ID, replacing any such header set by hand.
//!
//! # Examples
//!
//! ```
//! use reqwest_middleware::ClientBuilder;
//! use trace_core::{AllowHosts, Propagate};
//! use trace_reqwest::TraceMiddleware;
//!
//! let client = ClientBuilder::new(reqwest::Client::new())
//!     .with(TraceMiddleware::new())
//!     .build();
//!
//! // Everything to our own services, only `traceparent` to anyone else.
//! let locked_down = ClientBuilder::new(reqwest::Client::new())
//!     .with(TraceMiddleware::new().destinations(
//!         AllowHosts::new([".svc.cluster.local"]).otherwise(Propagate::TRACEPARENT),
//!     ))
//!     .build();
//! # let _ = (client, locked_down);
//! ```
//!
//! Without reqwest-middleware, [`inject_current_context`] writes the headers
//! into any `http::HeaderMap`, and [`RequestBuilderExt`] adds them to a plain
//! `reqwest::RequestBuilder`.
//!
//! [`TraceContext`]: trace_core::TraceContext
#![cfg_attr(docsrs, feature(doc_cfg))]

mod middleware;
mod redirect;

pub use trace_core::instrument::NoContext;

pub use crate::middleware::{
    DisableTracePropagation, RequestBuilderExt, TraceMiddleware, inject_current_context,
};

/// The README's example, compiled and run as a doctest so it cannot rot.
#[cfg(doctest)]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
