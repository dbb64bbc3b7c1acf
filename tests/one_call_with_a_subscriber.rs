//! The recommended `tracing` set-up in one call (otel-setup):
//! `OtelSetup::with_subscriber` installs log lines with the ids and the
//! tracing-opentelemetry layer, and records with `TracingRecorder`. A
//! request whose handler calls another service from an `#[instrument]`
//! function is one trace of exactly one span per operation, each nested
//! where it ran. (Its own binary: the subscriber is global.)

use axum::{Router, extract::State, routing::get};
use opentelemetry::trace::SpanKind;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::net::TcpListener;
use trace_core::{AlwaysOn, OtelSetup};
use trace_reqwest::TraceMiddleware;
use trace_tower::TraceContextLayer;

async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

#[tracing::instrument(skip_all)]
async fn look_up(client: &ClientWithMiddleware, url: &str) -> String {
    client.get(url).send().await.unwrap().text().await.unwrap()
}

#[tokio::test]
async fn one_span_per_operation_each_nested_where_it_ran() {
    let exporter = InMemorySpanExporter::default();
    let telemetry = OtelSetup::from_env()
        .service_name("one-call")
        .sampler(AlwaysOn)
        .exporter(exporter.clone())
        .global(false)
        .with_subscriber()
        .install()
        .unwrap();

    let b = serve(
        Router::new()
            .route("/b", get(|| async { "b" }))
            .layer(TraceContextLayer::from(telemetry.server_tracing())),
    )
    .await;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::from(telemetry.client_tracing()))
        .build();
    async fn a(State((client, url)): State<(ClientWithMiddleware, String)>) -> String {
        look_up(&client, &url).await
    }
    let a = serve(
        Router::new()
            .route("/a", get(a))
            .with_state((client, format!("http://{b}/b")))
            .layer(TraceContextLayer::from(telemetry.server_tracing())),
    )
    .await;
    let body = reqwest::get(format!("http://{a}/a"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "b");

    let mut spans = Vec::new();
    for _ in 0..200 {
        spans = exporter.get_finished_spans().unwrap();
        if spans.len() >= 4 {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    let names: Vec<_> = spans
        .iter()
        .map(|s| (s.name.to_string(), s.span_kind.clone()))
        .collect();
    assert_eq!(spans.len(), 4, "one span per operation: {names:?}");
    let find = |name: &str, kind: SpanKind| {
        spans
            .iter()
            .find(|s| s.name == name && s.span_kind == kind)
            .unwrap_or_else(|| panic!("{name} {kind:?} in {names:?}"))
    };
    let server_a = find("GET /a", SpanKind::Server);
    let function = find("look_up", SpanKind::Internal);
    let call = find("GET", SpanKind::Client);
    let server_b = find("GET /b", SpanKind::Server);
    assert!(
        spans
            .iter()
            .all(|s| s.span_context.trace_id() == server_a.span_context.trace_id())
    );
    assert_eq!(function.parent_span_id, server_a.span_context.span_id());
    assert_eq!(call.parent_span_id, function.span_context.span_id());
    assert_eq!(server_b.parent_span_id, call.span_context.span_id());

    // Lean output: our spans carry no copy of their own ids and no
    // location inside trace-core; the user's function keeps its location.
    let keys = |span: &opentelemetry_sdk::trace::SpanData| -> Vec<String> {
        span.attributes
            .iter()
            .map(|kv| kv.key.to_string())
            .collect()
    };
    for ours in [server_a, call, server_b] {
        let keys = keys(ours);
        assert!(
            keys.iter().all(|key| key != "trace_id"
                && key != "span_id"
                && key != "target"
                && !key.starts_with("code.")),
            "{}: {keys:?}",
            ours.name
        );
        assert!(keys.iter().any(|key| key == "correlation_id"), "{keys:?}");
    }
    assert!(
        keys(function).iter().any(|key| key == "code.line.number"),
        "{:?}",
        keys(function)
    );
}
