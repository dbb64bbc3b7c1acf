//! The HTTP -> HTTP -> gRPC -> HTTP chain recorded by `TracingRecorder` and
//! exported by `tracing-opentelemetry`: the server, client and gRPC layers'
//! `tracing` spans are exported with the ids that were injected, as one
//! tree.
//!
//! Its own test binary: its subscriber is a thread's default, and
//! `tracing` caches whether a span is wanted per call site, for every
//! thread at once; a test running beside it without a subscriber would
//! disable spans here.

use std::sync::Arc;

use end_to_end::chain::run_chain;

#[tokio::test]
async fn http_to_http_to_grpc_to_http_through_tracing_opentelemetry() {
    use opentelemetry::trace::{SpanKind, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
    use trace_core::{OtelIdGenerator, TracingRecorder};
    use tracing::Level;
    use tracing_subscriber::{Layer as _, filter::Targets, layer::SubscriberExt as _};

    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_id_generator(OtelIdGenerator::default())
        .with_simple_exporter(exporter.clone())
        .build();
    // This test's runtime has one thread: the subscriber is every
    // service's. Only our spans: h2 and hyper make spans of their own.
    let _default = tracing::subscriber::set_default(
        tracing_subscriber::registry().with(
            tracing_opentelemetry::layer()
                .with_tracer(provider.tracer("chain"))
                .with_filter(Targets::new().with_target("trace_core", Level::INFO)),
        ),
    );
    run_chain(|_| Arc::new(TracingRecorder)).await;

    // Every server has shut down and the simple exporter exports as each
    // span ends: nothing more can come.
    let spans = exporter.get_finished_spans().unwrap();
    let one = |name: &str, kind: SpanKind| {
        spans
            .iter()
            .find(|s| s.name == name && s.span_kind == kind)
            .unwrap_or_else(|| panic!("{name} {kind:?} in {spans:#?}"))
            .clone()
    };
    let f_server = one("GET /f", SpanKind::Server);
    let f_client = spans
        .iter()
        .find(|s| {
            s.name == "GET"
                && s.span_kind == SpanKind::Client
                && s.parent_span_id == f_server.span_context.span_id()
        })
        .expect("F's call to A")
        .clone();
    let a_server = one("GET /a", SpanKind::Server);
    let a_client = one("echo.v1.Echo/Unary", SpanKind::Client);
    let b_server = one("echo.v1.Echo/Unary", SpanKind::Server);
    let b_client = spans
        .iter()
        .find(|s| {
            s.name == "GET"
                && s.span_kind == SpanKind::Client
                && s.parent_span_id == b_server.span_context.span_id()
        })
        .expect("B's call to C")
        .clone();
    let c_server = one("GET /c", SpanKind::Server);
    assert_eq!(spans.len(), 7, "{spans:#?}");
    let trace_id = f_server.span_context.trace_id();
    assert!(spans.iter().all(|s| s.span_context.trace_id() == trace_id));
    assert_eq!(f_client.parent_span_id, f_server.span_context.span_id());
    assert_eq!(a_server.parent_span_id, f_client.span_context.span_id());
    assert!(
        a_server.parent_span_is_remote,
        "A's parent came over the wire"
    );
    assert_eq!(a_client.parent_span_id, a_server.span_context.span_id());
    assert_eq!(b_server.parent_span_id, a_client.span_context.span_id());
    assert!(
        b_server.parent_span_is_remote,
        "B's parent came over the wire"
    );
    assert_eq!(b_client.parent_span_id, b_server.span_context.span_id());
    assert_eq!(c_server.parent_span_id, b_client.span_context.span_id());
}
