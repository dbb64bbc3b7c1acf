//! HTTP -> HTTP -> gRPC -> HTTP over real sockets: an axum handler
//! (trace-tower) calls another over HTTP (trace-reqwest), which calls a gRPC
//! method (trace-tonic's client layer), whose handler calls an HTTP service
//! (trace-reqwest). One trace id, one connected tree of seven spans, and the
//! correlation ID and baggage everywhere.

use std::sync::Arc;

use end_to_end::chain::run_chain;
use trace_core::{FinishedSpan, InMemoryRecorder, SpanKind};

#[tokio::test]
async fn http_to_http_to_grpc_to_http() {
    let store = InMemoryRecorder::new(64);
    run_chain(|service| Arc::new(store.service(service))).await;

    // Every server has shut down: nothing more can come.
    let spans = store.finished();
    let one = |service: &str, kind: SpanKind| -> FinishedSpan {
        spans
            .iter()
            .find(|s| s.service.as_deref() == Some(service) && s.kind == kind)
            .unwrap_or_else(|| panic!("{service} {kind:?} in {spans:?}"))
            .clone()
    };
    let f_server = one("f", SpanKind::Server);
    let f_client = one("f", SpanKind::Client);
    let a_server = one("a", SpanKind::Server);
    let a_client = one("a", SpanKind::Client);
    let b_server = one("b", SpanKind::Server);
    let b_client = one("b", SpanKind::Client);
    let c_server = one("c", SpanKind::Server);
    assert_eq!(spans.len(), 7, "{spans:#?}");
    assert!(
        spans.iter().all(|s| s.trace_id == f_server.trace_id),
        "one trace id"
    );
    assert_eq!(f_server.parent_span_id, None);
    assert_eq!(f_client.parent_span_id, Some(f_server.span_id));
    assert_eq!(a_server.parent_span_id, Some(f_client.span_id));
    assert_eq!(a_client.parent_span_id, Some(a_server.span_id));
    assert_eq!(b_server.parent_span_id, Some(a_client.span_id));
    assert_eq!(b_client.parent_span_id, Some(b_server.span_id));
    assert_eq!(c_server.parent_span_id, Some(b_client.span_id));
    assert_eq!(a_client.name, "echo.v1.Echo/Unary");
    assert_eq!(b_server.name, "echo.v1.Echo/Unary");
    assert!(spans.iter().all(|s| !s.status.is_error()), "{spans:?}");
}
