//! One request, recorded in memory, through `OtelRecorder` and through
//! `TracingRecorder`: the same spans (names, kinds, parents), the same
//! attributes (the correlation ID among them) and the same events.

use std::collections::BTreeMap;

use axum::http::Request;
use axum::{Router, body::Body, routing::get};
use opentelemetry::trace::TracerProvider as _;
use opentelemetry_sdk::trace::{
    InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor, SpanData,
};
use tower::ServiceExt as _;
use trace_core::{
    Attribute, FinishedSpan, InMemoryRecorder, LeanSpans, OtelIdGenerator, OtelRecorder, Recorder,
    SpanRef, TracingRecorder,
};
use trace_tower::TraceContextLayer;
use tracing_subscriber::layer::SubscriberExt as _;

/// A span as every recorder must give it.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Seen {
    name: String,
    kind: String,
    parent: String,
    attributes: BTreeMap<String, String>,
    events: Vec<(String, BTreeMap<String, String>)>,
}

async fn handler() -> &'static str {
    let request = SpanRef::current();
    request.set_attribute("user.id", 7_i64);
    request.add_event("order.received", [Attribute::new("order.items", 3_i64)]);
    trace_core::span("cache.lookup")
        .attribute("cache.key", "order:7")
        .in_scope(|span| span.add_event("cache.miss", []));
    request.record_error(&std::io::Error::other("declined"));
    "ok"
}

async fn run(recorder: impl Recorder) {
    let app = Router::new()
        .route("/orders/{id}", get(handler))
        .layer(TraceContextLayer::new().recorder(recorder));
    let request = Request::builder()
        .uri("/orders/7")
        .header("host", "orders.internal")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("x-request-id", "req-7")
        .body(Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    drop(response);
}

fn text(value: &opentelemetry::Value) -> String {
    value.to_string()
}

/// What tracing-opentelemetry adds of its own to every span.
fn from_tracing_itself(key: &str) -> bool {
    matches!(
        key,
        "busy_ns" | "idle_ns" | "thread.id" | "thread.name" | "level"
    )
}

fn from_otel(spans: &[SpanData]) -> Vec<Seen> {
    let name_of = |id| {
        spans
            .iter()
            .find(|s| s.span_context.span_id() == id)
            .map_or_else(|| "remote".to_owned(), |s| s.name.to_string())
    };
    let mut seen: Vec<Seen> = spans
        .iter()
        .map(|s| Seen {
            name: s.name.to_string(),
            kind: format!("{:?}", s.span_kind).to_lowercase(),
            parent: name_of(s.parent_span_id),
            attributes: s
                .attributes
                .iter()
                .filter(|kv| !from_tracing_itself(kv.key.as_str()))
                .map(|kv| (kv.key.to_string(), text(&kv.value)))
                .collect(),
            events: s
                .events
                .iter()
                .map(|e| {
                    let attributes = e
                        .attributes
                        .iter()
                        .map(|kv| (kv.key.to_string(), text(&kv.value)));
                    (e.name.to_string(), attributes.collect())
                })
                .collect(),
        })
        .collect();
    seen.sort();
    seen
}

fn from_memory(spans: &[FinishedSpan]) -> Vec<Seen> {
    let name_of = |id| {
        spans
            .iter()
            .find(|s| Some(s.span_id) == id)
            .map_or_else(|| "remote".to_owned(), |s| s.name.clone())
    };
    let mut seen: Vec<Seen> = spans
        .iter()
        .map(|s| {
            let mut attributes: BTreeMap<_, _> = s
                .attributes
                .iter()
                .map(|a| (a.key.to_owned(), a.value.to_string()))
                .collect();
            if let Some(id) = &s.correlation_id {
                attributes.insert("correlation_id".to_owned(), id.to_string());
            }
            Seen {
                name: s.name.clone(),
                kind: s.kind.as_str().to_owned(),
                parent: name_of(s.parent_span_id),
                attributes,
                events: s
                    .events
                    .iter()
                    .map(|e| {
                        let attributes = e
                            .attributes
                            .iter()
                            .map(|a| (a.key.to_owned(), a.value.to_string()));
                        (e.name.to_string(), attributes.collect())
                    })
                    .collect(),
            }
        })
        .collect();
    seen.sort();
    seen
}

fn new_provider() -> (SdkTracerProvider, InMemorySpanExporter) {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_id_generator(OtelIdGenerator::default())
        .with_span_processor(LeanSpans::new(SimpleSpanProcessor::new(exporter.clone())))
        .build();
    (provider, exporter)
}

#[tokio::test(flavor = "current_thread")]
async fn the_three_recorders_record_the_same_request_alike() {
    let (provider, exporter) = new_provider();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("orders")));
    {
        let _default = tracing::subscriber::set_default(subscriber);
        run(TracingRecorder).await;
    }
    let through_tracing = from_otel(&exporter.get_finished_spans().unwrap());

    let (provider, exporter) = new_provider();
    run(OtelRecorder::new(provider.tracer("orders"))).await;
    let through_otel = from_otel(&exporter.get_finished_spans().unwrap());

    let store = InMemoryRecorder::new(16);
    run(store.clone()).await;
    let in_memory = from_memory(&store.finished());

    assert_eq!(in_memory.len(), 2, "{in_memory:#?}");
    let server = in_memory.iter().find(|s| s.kind == "server").unwrap();
    assert_eq!(server.attributes["correlation_id"], "req-7");
    assert_eq!(server.attributes["user.id"], "7");
    assert_eq!(server.attributes["error.type"], "std::io::error::Error");
    assert_eq!(server.events.len(), 2);
    assert_eq!(in_memory, through_otel, "in memory and OtelRecorder");
    assert_eq!(in_memory, through_tracing, "in memory and TracingRecorder");
}
