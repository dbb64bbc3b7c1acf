//! The app's own work in the request's trace, in every mode: attributes,
//! events and an error on the request's span from the handler; child spans
//! of the app's (a closure, a future, a guard) that nest, with a reqwest
//! call made inside one being its child; and a task spawned with the
//! context. The same handler runs under each recorder.

use std::{io, net::SocketAddr, sync::Arc};

use axum::{Router, extract::State, routing::get};
use end_to_end::serve::{downstream, serve, wait_for};
use opentelemetry::trace::{SpanKind as OtelKind, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use trace_core::{
    Attribute, FinishedSpan, FutureExt as _, InMemoryRecorder, NoopRecorder, OtelIdGenerator,
    OtelRecorder, Recorder, SpanId, SpanKind, SpanRef, TraceContext, TraceParent, Value,
};
use trace_reqwest::TraceMiddleware;
use trace_tower::TraceContextLayer;

const INCOMING: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

/// What the handler saw: the ids of each span it made, and the
/// `traceparent` the downstream service received.
#[derive(Debug)]
struct Seen {
    server: SpanId,
    cache: SpanId,
    db: SpanId,
    spawned: SpanId,
    guard: SpanId,
    downstream: TraceParent,
}

fn current() -> TraceContext {
    TraceContext::current().expect("inside the request")
}

/// The handler a user writes on the second day.
async fn handler(State((client, b)): State<(ClientWithMiddleware, SocketAddr)>) -> String {
    let request = SpanRef::current();
    request.set_attribute("user.id", 7_i64);
    request.add_event("order.received", vec![Attribute::new("order.items", 3_i64)]);
    let server = current().span_id();

    // A closure, with an event of its own.
    let cache = trace_core::span("cache.lookup")
        .attribute("cache.key", "order:7")
        .in_scope(|span| {
            span.add_event("cache.miss", Vec::new());
            let cx = current();
            assert_eq!(
                cx.parent_span_id(),
                Some(server),
                "a child of the request's span"
            );
            cx.span_id()
        });

    // A future, with the call made inside it.
    let (db, downstream) = trace_core::span("db.query")
        .kind(SpanKind::Client)
        .attribute("db.system.name", "postgresql")
        .instrument(async {
            let cx = current();
            assert_eq!(cx.parent_span_id(), Some(server));
            let url = format!("http://{b}/b");
            let text = client.get(url).send().await.unwrap().text().await.unwrap();
            (cx.span_id(), text.parse::<TraceParent>().unwrap())
        })
        .await;

    // A task spawned with the context.
    let spawned = tokio::spawn(
        async {
            trace_core::span("background")
                .instrument(async { current() })
                .await
        }
        .in_current_context(),
    )
    .await
    .unwrap();
    assert_eq!(spawned.parent_span_id(), Some(server));

    // A guard, ended explicitly.
    let guard = trace_core::span("render").start();
    guard.span().set_attribute("template", "order.html");
    let guard_id = current().span_id();
    guard.end();
    assert_eq!(
        current().span_id(),
        server,
        "the request's span is current again"
    );

    request.record_error(&io::Error::other("payment declined"));
    let seen = Seen {
        server,
        cache,
        db,
        spawned: spawned.span_id(),
        guard: guard_id,
        downstream,
    };
    format!(
        "{} {} {} {} {} {}",
        seen.server, seen.cache, seen.db, seen.spawned, seen.guard, seen.downstream
    )
}

/// Runs the handler behind a layer and a client with these recorders
/// (`None`: propagation only), and returns what it saw.
async fn run(recorder: Option<Arc<dyn Recorder>>) -> Seen {
    let b = downstream(false).await;
    let recorder = recorder.unwrap_or_else(|| Arc::new(NoopRecorder));
    let layer = TraceContextLayer::new().recorder(recorder.clone());
    let middleware = TraceMiddleware::new().recorder(recorder);
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build();
    let app = Router::new()
        .route("/orders/{id}", get(handler))
        .with_state((client, b))
        .layer(layer);
    let a = serve(app).await;
    let text = reqwest::Client::new()
        .get(format!("http://{a}/orders/7"))
        .header("traceparent", INCOMING)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    parse(&text)
}

fn parse(text: &str) -> Seen {
    let fields: Vec<&str> = text.split(' ').collect();
    let id = |i: usize| fields[i].parse::<SpanId>().unwrap();
    Seen {
        server: id(0),
        cache: id(1),
        db: id(2),
        spawned: id(3),
        guard: id(4),
        downstream: fields[5].parse().unwrap(),
    }
}

fn distinct(seen: &Seen) {
    let ids = [seen.server, seen.cache, seen.db, seen.spawned, seen.guard];
    for (i, a) in ids.iter().enumerate() {
        assert!(
            ids[i + 1..].iter().all(|b| b != a),
            "every span its own id: {seen:?}"
        );
    }
    assert_eq!(
        seen.downstream.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736",
        "one trace"
    );
    assert_ne!(
        seen.downstream.parent_id(),
        seen.db,
        "the call is a span of its own"
    );
}

#[tokio::test]
async fn propagation_only_still_gives_each_span_its_id() {
    let seen = run(None).await;
    distinct(&seen);
}

fn by_name<'a>(spans: &'a [FinishedSpan], name: &str) -> &'a FinishedSpan {
    spans
        .iter()
        .find(|s| s.name == name)
        .unwrap_or_else(|| panic!("a span {name}: {spans:#?}"))
}

#[tokio::test]
async fn in_memory_records_the_apps_spans_events_and_error() {
    let store = InMemoryRecorder::new(64);
    let seen = run(Some(Arc::new(store.clone()))).await;
    distinct(&seen);
    let spans = wait_for(|| {
        let spans = store.finished();
        (spans.len() >= 6).then_some(spans)
    })
    .await;

    let server = by_name(&spans, "GET /orders/{id}");
    assert_eq!(server.span_id, seen.server);
    assert_eq!(server.attribute("user.id"), Some(&Value::I64(7)));
    let events: Vec<_> = server.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(events, ["order.received", "exception"]);
    let exception = &server.events[1];
    assert_eq!(
        exception.attributes,
        [
            Attribute::new("exception.type", "std::io::error::Error"),
            Attribute::new("exception.message", "payment declined"),
        ]
    );
    assert_eq!(
        server.status.error_type(),
        Some("std::io::error::Error"),
        "the handler's status wins over 200"
    );

    let cache = by_name(&spans, "cache.lookup");
    assert_eq!(
        (cache.span_id, cache.parent_span_id),
        (seen.cache, Some(seen.server))
    );
    assert_eq!(cache.kind, SpanKind::Internal);
    assert_eq!(cache.attribute("cache.key"), Some(&Value::from("order:7")));
    assert_eq!(cache.events[0].name, "cache.miss");
    assert!(!cache.status.is_error());

    let db = by_name(&spans, "db.query");
    assert_eq!((db.span_id, db.kind), (seen.db, SpanKind::Client));
    let call = by_name(&spans, "GET");
    assert_eq!(
        call.parent_span_id,
        Some(seen.db),
        "the call made inside db.query is its child"
    );
    assert_eq!(call.span_id, seen.downstream.parent_id());

    let background = by_name(&spans, "background");
    assert_eq!(
        (background.span_id, background.parent_span_id),
        (seen.spawned, Some(seen.server))
    );
    let render = by_name(&spans, "render");
    assert_eq!(
        render.attribute("template"),
        Some(&Value::from("order.html"))
    );
    assert_eq!(render.parent_span_id, Some(seen.server));
}

fn otel_by_name<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "a span {name}: {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

fn otel_id(span: &SpanData) -> SpanId {
    SpanId::from_bytes(span.span_context.span_id().to_bytes())
}

fn otel_parent(span: &SpanData) -> SpanId {
    SpanId::from_bytes(span.parent_span_id.to_bytes())
}

fn check_exported(spans: &[SpanData], seen: &Seen) {
    let server = otel_by_name(spans, "GET /orders/{id}");
    assert_eq!(otel_id(server), seen.server);
    assert!(
        server
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "user.id" && kv.value == opentelemetry::Value::I64(7))
    );
    let events: Vec<_> = server.events.iter().map(|e| e.name.as_ref()).collect();
    assert_eq!(events, ["order.received", "exception"]);
    assert!(
        server.events.events[1]
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "exception.message"
                && kv.value.as_str() == "payment declined")
    );
    assert!(matches!(
        server.status,
        opentelemetry::trace::Status::Error { .. }
    ));

    let cache = otel_by_name(spans, "cache.lookup");
    assert_eq!(
        (otel_id(cache), otel_parent(cache)),
        (seen.cache, seen.server)
    );
    assert_eq!(cache.events.events[0].name, "cache.miss");
    let db = otel_by_name(spans, "db.query");
    assert_eq!(
        (otel_id(db), db.span_kind.clone()),
        (seen.db, OtelKind::Client)
    );
    let call = spans
        .iter()
        .find(|s| s.span_kind == OtelKind::Client && s.name == "GET")
        .expect("the call's span");
    assert_eq!(otel_parent(call), seen.db);
    assert_eq!(otel_id(call), seen.downstream.parent_id());
    assert_eq!(otel_parent(otel_by_name(spans, "background")), seen.server);
    assert_eq!(otel_parent(otel_by_name(spans, "render")), seen.server);
    let trace_ids: std::collections::HashSet<_> =
        spans.iter().map(|s| s.span_context.trace_id()).collect();
    assert_eq!(trace_ids.len(), 1, "one trace");
}

#[tokio::test]
async fn otel_recorder_exports_the_apps_spans_events_and_error() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_id_generator(OtelIdGenerator::default())
        .with_simple_exporter(exporter.clone())
        .build();
    let seen = run(Some(Arc::new(OtelRecorder::new(provider.tracer("orders"))))).await;
    distinct(&seen);
    let spans = wait_for(|| {
        let spans = exporter.get_finished_spans().unwrap();
        (spans.len() >= 6).then_some(spans)
    })
    .await;
    check_exported(&spans, &seen);
}
