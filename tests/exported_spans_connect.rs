//! With the OpenTelemetry recorder, what an exporter receives is one
//! connected trace: the span id a client injects is the span id exported.

use axum::{Router, http::HeaderMap, routing::get};
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use reqwest_middleware::ClientBuilder;
use tokio::net::TcpListener;
use trace_core::{OtelIdGenerator, OtelRecorder, TraceParent};
use trace_reqwest::TraceMiddleware;
use trace_tower::TraceContextLayer;

#[tokio::test]
async fn the_injected_span_id_is_the_exported_one() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_id_generator(OtelIdGenerator::default())
        .with_simple_exporter(exporter.clone())
        .build();

    // B: reports the traceparent it received.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let b = listener.local_addr().unwrap();
    let app = Router::new().route(
        "/b",
        get(
            |headers: HeaderMap| async move { headers["traceparent"].to_str().unwrap().to_owned() },
        ),
    );
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    // A: records through OpenTelemetry on both sides.
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new().recorder(OtelRecorder::new(provider.tracer("a"))))
        .build();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let a = listener.local_addr().unwrap();
    let app = Router::new()
        .route(
            "/a",
            get(move || {
                let client = client.clone();
                async move {
                    client
                        .get(format!("http://{b}/b"))
                        .send()
                        .await
                        .unwrap()
                        .text()
                        .await
                        .unwrap()
                }
            }),
        )
        .layer(TraceContextLayer::new().recorder(OtelRecorder::new(provider.tracer("a"))));
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
    let at_b: TraceParent = reqwest::Client::new()
        .get(format!("http://{a}/a"))
        .header("traceparent", incoming)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();

    let mut spans = Vec::new();
    for _ in 0..500 {
        spans = exporter.get_finished_spans().unwrap();
        if spans.len() >= 2 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let server = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Server)
        .expect("server span");
    let client = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .expect("client span");
    let incoming: TraceParent = incoming.parse().unwrap();
    assert!(
        spans
            .iter()
            .all(|s| s.span_context.trace_id().to_bytes() == incoming.trace_id().to_bytes())
    );
    assert_eq!(
        server.parent_span_id.to_bytes(),
        incoming.parent_id().to_bytes(),
        "the caller's span"
    );
    assert!(server.parent_span_is_remote);
    assert_eq!(
        client.parent_span_id,
        server.span_context.span_id(),
        "client under server"
    );
    assert_eq!(
        client.span_context.span_id().to_bytes(),
        at_b.parent_id().to_bytes(),
        "the span id B received is the span id exported"
    );
}
