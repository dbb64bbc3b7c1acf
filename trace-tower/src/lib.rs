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
//!   `cancelled` when the client goes away first. Without a recorder the
//!   response body is handed back as it is ([`mode`]).
//!
//! # Examples
//!
//! ```
//! use axum::{Router, routing::get};
//! use trace_core::TraceContext;
//! use trace_tower::TraceContextLayer;
//!
//! async fn handler() -> String {
//!     // Current for everything the handler awaits, inside the layer.
//!     let cx = TraceContext::current().expect("the layer is on the router");
//!     format!("trace {} span {}", cx.trace_id(), cx.span_id())
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
//!     // Reads the peer: serve with `into_make_service_with_connect_info`.
//!     .trust(Trust::CONTINUE.when(|req: &RequestInfo<'_>| req.peer_is_private()))
//!     .sampler(ParentBased::new(RateLimited::new(50.0)))
//!     .recorder(InMemoryRecorder::new(10_000))
//!     .filter(RequestFilter::path("/health"))
//!     .response_trace_context(ResponseTraceContext::ServerTiming);
//! # let _ = layer;
//! ```
#![cfg_attr(docsrs, feature(doc_cfg))]

mod future;
mod layer;
pub mod mode;
mod service;
#[cfg(feature = "viewer")]
#[cfg_attr(docsrs, doc(cfg(feature = "viewer")))]
pub mod viewer;

/// The response body of a [`Recording`](mode::Recording)
/// [`TraceContextService`]: the server span ends when the last frame has
/// been sent, or as `cancelled` when the client goes away first.
pub use trace_core::record::SpanBody as ResponseBody;

pub use trace_core::instrument::ResponseTraceContext;

pub use crate::{future::ResponseFuture, layer::TraceContextLayer, service::TraceContextService};

#[cfg(test)]
mod tests {
    use std::convert::Infallible;

    use http::{HeaderValue, Request, Response};
    use tower::{Layer, ServiceExt, service_fn};
    use trace_core::{CorrelationId, InMemoryRecorder, TraceParent};

    use super::*;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn request() -> Request<String> {
        let mut request = Request::new(String::new());
        request
            .headers_mut()
            .insert("traceparent", HeaderValue::from_static(TP));
        request
    }

    async fn respond<M: mode::Mode>(
        layer: TraceContextLayer<M>,
        response: Response<String>,
    ) -> Response<M::Body<String>> {
        let service = layer.layer(service_fn(move |_: Request<String>| {
            let response = response.clone();
            async move { Ok::<_, Infallible>(response) }
        }));
        service.oneshot(request()).await.unwrap()
    }

    #[tokio::test]
    async fn legacy_traceresponse_names_the_server_span() {
        let response = respond(
            TraceContextLayer::new().response_trace_context(ResponseTraceContext::TraceResponse),
            Response::new(String::new()),
        )
        .await;
        let tp: TraceParent = response.headers()["traceresponse"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert_eq!(
            tp.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_ne!(
            tp.parent_id().to_string(),
            "00f067aa0ba902b7",
            "the server's span, not the caller's"
        );
        assert!(!response.headers().contains_key("server-timing"));
    }

    #[tokio::test]
    async fn server_timing_is_appended_to_the_applications() {
        let mut app_response = Response::new(String::new());
        app_response
            .headers_mut()
            .insert("server-timing", HeaderValue::from_static("db;dur=53"));
        let response = respond(
            TraceContextLayer::new().response_trace_context(ResponseTraceContext::ServerTiming),
            app_response,
        )
        .await;
        let values: Vec<_> = response.headers().get_all("server-timing").iter().collect();
        assert_eq!(values.len(), 2);
        assert_eq!(values[0], "db;dur=53");
        assert!(
            values[1]
                .to_str()
                .unwrap()
                .starts_with("trace;desc=00-4bf92f3577b34da6a3ce929d0e0e4736-")
        );
    }

    #[tokio::test]
    async fn correlation_id_options() {
        let response = respond(
            TraceContextLayer::new().echo_correlation_id(false),
            Response::new(String::new()),
        )
        .await;
        assert!(
            !response.headers().contains_key("x-request-id"),
            "echo switched off"
        );

        let mut own = Response::new(String::new());
        own.headers_mut()
            .insert("x-request-id", HeaderValue::from_static("set-by-handler"));
        let response = respond(TraceContextLayer::new(), own).await;
        assert_eq!(
            response.headers()["x-request-id"],
            "set-by-handler",
            "the handler's choice stands"
        );

        let fixed = || "generated-here".parse::<CorrelationId>().unwrap();
        let response = respond(
            TraceContextLayer::new().correlation_id_generator(fixed),
            Response::new(String::new()),
        )
        .await;
        assert_eq!(response.headers()["x-request-id"], "generated-here");
    }

    #[tokio::test]
    async fn a_failing_inner_service_is_an_error_span() {
        let recorder = InMemoryRecorder::new(4);
        let service = TraceContextLayer::new()
            .recorder(recorder.clone())
            .layer(service_fn(|_: Request<String>| async {
                Err::<Response<String>, _>(std::io::Error::other("down"))
            }));
        let error = service.oneshot(request()).await.unwrap_err();
        assert_eq!(
            error.to_string(),
            "down",
            "the error is passed on unchanged"
        );
        let spans = recorder.finished();
        assert_eq!(spans[0].status.error_type(), Some("std::io::error::Error"));
    }

    #[tokio::test]
    async fn propagation_only_hands_back_the_inner_body() {
        // The type says it: the response's body is the handler's `String`,
        // not wrapped (so axum does not box it again)...
        let response: Response<String> = respond(
            TraceContextLayer::new(),
            Response::new(String::from("hello")),
        )
        .await;
        assert_eq!(response.body(), "hello");
        assert!(response.headers().contains_key("x-request-id"));
        // ...and a recorder makes it the body that ends the span.
        let recorder = InMemoryRecorder::new(4);
        let response: Response<ResponseBody<String>> = respond(
            TraceContextLayer::new().recorder(recorder.clone()),
            Response::new(String::from("hello")),
        )
        .await;
        assert!(recorder.finished().is_empty(), "not sent yet");
        drop(response);
        assert_eq!(recorder.finished().len(), 1);
    }

    #[tokio::test]
    async fn an_empty_body_ends_the_span_at_once() {
        let recorder = InMemoryRecorder::new(4);
        let response = respond(
            TraceContextLayer::new().recorder(recorder.clone()),
            Response::new(String::new()),
        )
        .await;
        // The body is never polled (as hyper does with an empty body), yet
        // the span ended as a success, not "cancelled" when dropped.
        drop(response);
        let spans = recorder.finished();
        assert_eq!(spans.len(), 1);
        assert!(!spans[0].status.is_error());
    }
}

/// The README's example, compiled and run as a doctest so it cannot rot.
#[cfg(all(doctest, feature = "axum"))]
#[doc = include_str!("../README.md")]
pub struct ReadmeDoctests;
