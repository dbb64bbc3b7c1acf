//! The app's own spans under `TracingRecorder` (tracing-opentelemetry
//! mode), beside the `#[instrument]` spans users already write: a span of
//! ours started inside an `#[instrument]` function is that function's
//! child, a call made inside it is its child, and a task spawned with
//! tracing's own `.in_current_span()` carries the trace.
//!
//! One test in its binary: the subscriber is this thread's default, and
//! `tracing` caches per call site whether a span is wanted.

use std::net::SocketAddr;

use axum::{Router, extract::State, routing::get};
use end_to_end::serve::{downstream, serve, wait_for};
use opentelemetry::trace::{SpanKind, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use trace_core::{OtelIdGenerator, SpanRef, TracingRecorder};
use trace_reqwest::TraceMiddleware;
use trace_tower::TraceContextLayer;
use tracing::Instrument as _;
use tracing_subscriber::layer::SubscriberExt as _;

#[tracing::instrument(skip(client))]
async fn load(client: &ClientWithMiddleware, b: SocketAddr) -> String {
    trace_core::span("db.query")
        .attribute("db.system.name", "postgresql")
        .instrument(async {
            let url = format!("http://{b}/b");
            client.get(url).send().await.unwrap().text().await.unwrap()
        })
        .await
}

async fn handler(State((client, b)): State<(ClientWithMiddleware, SocketAddr)>) -> String {
    SpanRef::current().set_attribute("user.id", 7_i64);
    SpanRef::current().add_event("order.received", []);
    let first = load(&client, b).await;
    // tracing's own idiom for a spawned task.
    let spawned = tokio::spawn(
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
        .in_current_span(),
    )
    .await
    .unwrap();
    format!("{first} {spawned}")
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> Vec<&'a SpanData> {
    spans.iter().filter(|s| s.name == name).collect()
}

#[tokio::test]
async fn our_spans_nest_with_instrument_spans() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_id_generator(OtelIdGenerator::default())
        .with_simple_exporter(exporter.clone())
        .build();
    let subscriber = tracing_subscriber::registry()
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("orders")));
    let _default = tracing::subscriber::set_default(subscriber);

    let b = downstream(true).await;

    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new().recorder(TracingRecorder))
        .build();
    let app = Router::new()
        .route("/orders", get(handler))
        .with_state((client, b))
        .layer(TraceContextLayer::new().recorder(TracingRecorder));
    let a = serve(app).await;
    let text = reqwest::Client::new()
        .get(format!("http://{a}/orders"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("x-request-id", "req-7")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let received: Vec<trace_core::TraceParent> = text
        .split(' ')
        .map(|call| {
            let (tp, id) = call.split_once('|').unwrap();
            assert_eq!(id, "req-7", "the request's correlation ID on every call");
            tp.parse().unwrap()
        })
        .collect();

    let spans = wait_for(|| {
        let spans = exporter.get_finished_spans().unwrap();
        (spans.len() >= 5).then_some(spans)
    })
    .await;
    let [server] = named(&spans, "GET /orders")[..] else {
        panic!("one server span: {spans:#?}")
    };
    let [load] = named(&spans, "load")[..] else {
        panic!("one #[instrument] span: {spans:#?}")
    };
    let [db] = named(&spans, "db.query")[..] else {
        panic!("one span of ours: {spans:#?}")
    };
    assert_eq!(load.parent_span_id, server.span_context.span_id());
    assert_eq!(
        db.parent_span_id,
        load.span_context.span_id(),
        "ours is the #[instrument] span's child"
    );
    assert!(
        db.attributes
            .iter()
            .any(|kv| kv.key.as_str() == "db.system.name")
    );
    assert!(
        server
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "user.id")
    );
    assert_eq!(server.events.events[0].name, "order.received");

    let calls: Vec<_> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Client)
        .collect();
    assert_eq!(calls.len(), 2, "{spans:#?}");
    let in_db = calls
        .iter()
        .find(|c| c.parent_span_id == db.span_context.span_id());
    let in_task = calls
        .iter()
        .find(|c| c.parent_span_id == server.span_context.span_id());
    let (Some(in_db), Some(in_task)) = (in_db, in_task) else {
        panic!(
            "the first call under db.query, the spawned one under the server span: calls {:?} db {} server {}",
            calls
                .iter()
                .map(|c| (
                    c.span_context.span_id(),
                    c.parent_span_id,
                    c.span_context.trace_id()
                ))
                .collect::<Vec<_>>(),
            db.span_context.span_id(),
            server.span_context.span_id()
        )
    };
    assert_eq!(
        received[0].parent_id().to_bytes(),
        in_db.span_context.span_id().to_bytes()
    );
    assert_eq!(
        received[1].parent_id().to_bytes(),
        in_task.span_context.span_id().to_bytes()
    );
    for span in &spans {
        assert_eq!(
            span.span_context.trace_id(),
            server.span_context.trace_id(),
            "one trace: {span:#?}"
        );
    }
}
