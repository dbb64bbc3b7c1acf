//! Under `OtelSetup`, a handler that instruments its own code the
//! OpenTelemetry way (`global::tracer(..).in_span`, `tracer.start`,
//! `.with_context(Context::current_with_span(..))`) gets spans that are
//! children of the request's span, and a call made under such a span is
//! that span's child: one trace, as every OpenTelemetry server
//! instrumentation gives. Ours made under an OpenTelemetry span nest too,
//! and the "a trace of its own inside a request" warning does not fire.
//!
//! Its own binary: the provider is OpenTelemetry's global one.

use axum::{Router, extract::State, routing::get};
use end_to_end::serve::{downstream, serve, wait_for};
use opentelemetry::{
    Context, KeyValue,
    baggage::BaggageExt as _,
    global,
    trace::{FutureExt as _, Span as _, SpanKind, TraceContextExt as _, Tracer as _},
};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use trace_core::{OtelSetup, TraceParent};
use trace_reqwest::TraceMiddleware;
use trace_tower::TraceContextLayer;

async fn handler(State((client, b)): State<(ClientWithMiddleware, String)>) -> String {
    // The request's baggage, where the OpenTelemetry API reads it.
    let tenant = Context::current()
        .baggage()
        .get("tenant")
        .map(|v| v.as_str().to_owned());
    assert_eq!(
        tenant.as_deref(),
        Some("acme"),
        "Context::current().baggage()"
    );
    let tracer = global::tracer("orders");
    tracer.in_span("db.query", |cx| {
        cx.span()
            .set_attribute(KeyValue::new("db.system.name", "postgresql"));
    });
    let mut cache = tracer.start("cache.lookup");
    cache.add_event("cache.miss", Vec::new());
    cache.end();
    // A call, and a span of ours, under a span of the app's.
    let render = tracer.start("render");
    let received = async {
        trace_core::span("template").in_scope(|_| ());
        client.get(&b).send().await.unwrap().text().await.unwrap()
    }
    .with_context(Context::current_with_span(render))
    .await;
    // The body's streaming work is outside the handler: nothing to add.
    received
}

fn named<'a>(spans: &'a [SpanData], name: &str) -> &'a SpanData {
    spans.iter().find(|s| s.name == name).unwrap_or_else(|| {
        panic!(
            "{name} in {:?}",
            spans.iter().map(|s| &s.name).collect::<Vec<_>>()
        )
    })
}

#[tokio::test]
async fn the_opentelemetry_api_nests_under_the_request() {
    let exporter = InMemorySpanExporter::default();
    let telemetry = OtelSetup::from_env()
        .service_name("orders")
        .exporter(exporter.clone())
        .install()
        .unwrap();

    let b = format!("http://{}/b", downstream(false).await);

    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::from(telemetry.client_tracing()))
        .build();
    let app = Router::new()
        .route("/orders", get(handler))
        .with_state((client, b))
        .layer(TraceContextLayer::from(telemetry.server_tracing()));
    let a = serve(app).await;
    let received: TraceParent = reqwest::Client::new()
        .get(format!("http://{a}/orders"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("baggage", "tenant=acme")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
        .parse()
        .unwrap();

    let spans = wait_for(|| {
        let spans = exporter.get_finished_spans().unwrap();
        (spans.len() >= 6).then_some(spans)
    })
    .await;
    let server = named(&spans, "GET /orders");
    let server_id = server.span_context.span_id();
    for name in ["db.query", "cache.lookup", "render"] {
        assert_eq!(
            named(&spans, name).parent_span_id,
            server_id,
            "{name} is the request's child"
        );
    }
    let render = named(&spans, "render").span_context.span_id();
    assert_eq!(
        named(&spans, "template").parent_span_id,
        render,
        "ours under the app's span"
    );
    let call = spans
        .iter()
        .find(|s| s.span_kind == SpanKind::Client)
        .expect("the call");
    assert_eq!(
        call.parent_span_id, render,
        "the call made under the app's span is its child"
    );
    assert_eq!(
        received.parent_id().to_bytes(),
        call.span_context.span_id().to_bytes()
    );
    for span in &spans {
        assert_eq!(
            span.span_context.trace_id(),
            server.span_context.trace_id(),
            "one trace: {}",
            span.name
        );
    }
    assert_eq!(
        named(&spans, "cache.lookup").events.events[0].name,
        "cache.miss"
    );
    assert!(
        !trace_core::__warned_split_off(),
        "no 'a trace of its own inside a request' warning"
    );
}
