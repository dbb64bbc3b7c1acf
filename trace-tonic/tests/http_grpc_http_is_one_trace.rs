//! HTTP -> gRPC -> HTTP over real sockets: an axum handler (trace-tower)
//! calls a gRPC method (trace-tonic's client layer) whose handler calls an
//! HTTP service (trace-reqwest). One trace id, one connected tree of five
//! spans, and the correlation ID and baggage everywhere.

mod common;

use std::sync::Arc;

use common::run_chain;
use trace_core::{FinishedSpan, InMemoryRecorder, SpanKind};

#[tokio::test]
async fn http_to_grpc_to_http() {
    let store = InMemoryRecorder::new(64);
    run_chain(|service| Arc::new(store.service(service))).await;

    let mut spans = Vec::new();
    for _ in 0..500 {
        spans = store.finished();
        if spans.len() >= 5 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let one = |service: &str, kind: SpanKind| -> FinishedSpan {
        spans
            .iter()
            .find(|s| s.service.as_deref() == Some(service) && s.kind == kind)
            .unwrap_or_else(|| panic!("{service} {kind:?} in {spans:?}"))
            .clone()
    };
    let a_server = one("a", SpanKind::Server);
    let a_client = one("a", SpanKind::Client);
    let b_server = one("b", SpanKind::Server);
    let b_client = one("b", SpanKind::Client);
    let c_server = one("c", SpanKind::Server);
    assert_eq!(spans.len(), 5);
    assert!(
        spans.iter().all(|s| s.trace_id == a_server.trace_id),
        "one trace id"
    );
    assert_eq!(a_server.parent_span_id, None);
    assert_eq!(a_client.parent_span_id, Some(a_server.span_id));
    assert_eq!(b_server.parent_span_id, Some(a_client.span_id));
    assert_eq!(b_client.parent_span_id, Some(b_server.span_id));
    assert_eq!(c_server.parent_span_id, Some(b_client.span_id));
    assert_eq!(a_client.name, "echo.v1.Echo/Unary");
    assert_eq!(b_server.name, "echo.v1.Echo/Unary");
    assert!(spans.iter().all(|s| !s.status.is_error()), "{spans:?}");
}
