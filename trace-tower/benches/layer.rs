//! Per-request cost of the server layer: in-process requests through an
//! axum router (`tower::ServiceExt::oneshot`, body read to the end), side
//! by side in one run:
//!
//! - the bare router;
//! - for reference, a layer that does nothing (what axum's `Router::layer`
//!   costs by itself), and the least a propagation-only layer must do
//!   (`support/minimal.rs`: parse the `traceparent`, make the ids, put the
//!   context in the extensions, write the correlation ID);
//! - our layer, propagation only (the default no-op recorder);
//! - our layer recording into the in-memory recorder;
//! - tower-http's `TraceLayer::new_for_http()` + `SetRequestIdLayer` (UUID) +
//!   `PropagateRequestIdLayer`: the stack users pick today.
//!
//! And, exporting through the OpenTelemetry SDK (batch processor, an
//! exporter that drops what it is given), side by side in one run:
//!
//! - the bare router;
//! - our layer with `OtelRecorder`;
//! - what users set up today: tower-http's `TraceLayer` making a server span
//!   (`otel.kind`, `otel.name`, the HTTP attributes) exported by
//!   `tracing-opentelemetry`, its parent extracted from the headers with
//!   OpenTelemetry's `TraceContextPropagator` (as axum-tracing-opentelemetry
//!   does).
//!
//! Every request carries a `traceparent`, so all stacks have a trace to
//! continue.
//!
//! Run with: `cargo bench -p trace-tower --bench layer`

use std::{
    hint::black_box,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, body::Body, extract::MatchedPath, routing::get};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderName, Request};
use http_body_util::BodyExt;
use opentelemetry::{propagation::TextMapPropagator as _, trace::TracerProvider as _};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::{
    error::OTelSdkResult,
    propagation::TraceContextPropagator,
    trace::{SdkTracerProvider, SpanData, SpanExporter},
};
use tower::{ServiceExt, layer::util::Identity};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use trace_core::{InMemoryRecorder, OtelIdGenerator, OtelRecorder};
use trace_tower::TraceContextLayer;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

mod support {
    pub(crate) mod minimal;
}

async fn user() -> &'static str {
    "{\"id\":7}"
}

fn router() -> Router {
    Router::new().route("/users/{id}", get(user))
}

fn request() -> Request<Body> {
    Request::get("/users/7")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("user-agent", "bench/1.0")
        .body(Body::empty())
        .unwrap()
}

fn layer(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let recorder = InMemoryRecorder::new(1024);
    let x_request_id = HeaderName::from_static("x-request-id");
    let stacks: Vec<(&str, Router)> = vec![
        ("bare-router", router()),
        ("reference/identity-layer", router().layer(Identity::new())),
        (
            "reference/minimal-propagation",
            router().layer(support::minimal::MinimalLayer),
        ),
        (
            "ours/propagation-only",
            router().layer(TraceContextLayer::new()),
        ),
        (
            "ours/in-memory-recorder",
            router().layer(TraceContextLayer::new().recorder(recorder.clone())),
        ),
        (
            "tower-http/trace+set-request-id+propagate-request-id",
            router()
                .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
                .layer(TraceLayer::new_for_http())
                .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid)),
        ),
    ];
    let mut g = c.benchmark_group("server-layer");
    for (name, app) in stacks {
        g.bench_function(name, |b| {
            b.to_async(&runtime).iter(|| {
                let app = app.clone();
                async move {
                    let response = app.oneshot(request()).await.unwrap();
                    black_box(response.into_body().collect().await.unwrap());
                }
            });
        });
    }
    g.finish();
    // The store is bounded: the benchmark cannot grow memory without end.
    assert!(recorder.finished().len() <= 1024);
}

/// An exporter that drops spans: the benchmark measures the request path,
/// not a network.
/// It counts them, to check that both stacks export.
#[derive(Debug, Clone, Default)]
struct Discard(Arc<AtomicUsize>);

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len(), Ordering::Relaxed);
        Ok(())
    }
}

fn otel_provider(exporter: Discard) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_id_generator(OtelIdGenerator::default())
        .with_batch_exporter(exporter)
        .build()
}

/// The span tower-http's `TraceLayer` makes for `tracing-opentelemetry`,
/// with the caller's trace as its parent.
fn otel_span(request: &Request<Body>) -> tracing::Span {
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("", MatchedPath::as_str);
    let span = tracing::info_span!(
        "request",
        otel.kind = "server",
        otel.name = %format_args!("{} {route}", request.method()),
        http.request.method = %request.method(),
        http.route = route,
        url.path = request.uri().path(),
        http.response.status_code = tracing::field::Empty,
    );
    let parent = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    let _ = span.set_parent(parent);
    span
}

fn opentelemetry(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let (ours_exported, theirs_exported) = (Discard::default(), Discard::default());
    let ours = otel_provider(ours_exported.clone());
    let theirs = otel_provider(theirs_exported.clone());
    let subscriber = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(theirs.tracer("bench"))),
    );
    let mut g = c.benchmark_group("server-layer-opentelemetry");
    g.bench_function("bare-router", |b| {
        let app = router();
        b.to_async(&runtime).iter(|| {
            let app = app.clone();
            async move {
                let response = app.oneshot(request()).await.unwrap();
                black_box(response.into_body().collect().await.unwrap());
            }
        });
    });
    g.bench_function("ours/otel-recorder", |b| {
        let app = router()
            .layer(TraceContextLayer::new().recorder(OtelRecorder::new(ours.tracer("bench"))));
        b.to_async(&runtime).iter(|| {
            let app = app.clone();
            async move {
                let response = app.oneshot(request()).await.unwrap();
                black_box(response.into_body().collect().await.unwrap());
            }
        });
    });
    g.bench_function("tower-http/trace+tracing-opentelemetry", |b| {
        let app = Router::new().route("/users/{id}", get(user)).layer(
            TraceLayer::new_for_http()
                .make_span_with(otel_span)
                .on_response(
                    |response: &http::Response<Body>, _: Duration, span: &tracing::Span| {
                        span.record("http.response.status_code", response.status().as_u16());
                    },
                ),
        );
        // The subscriber is this thread's (the runtime's) while this
        // function runs, so the other stacks do not pay for it.
        let _default = tracing::dispatcher::set_default(&subscriber);
        b.to_async(&runtime).iter(|| {
            let app = app.clone();
            async move {
                let response = app.oneshot(request()).await.unwrap();
                black_box(response.into_body().collect().await.unwrap());
            }
        });
    });
    g.finish();
    ours.shutdown().unwrap();
    theirs.shutdown().unwrap();
    // Not a timing: a check that both stacks really made spans (the batch
    // processor may drop some when its queue is full).
    assert!(ours_exported.0.load(Ordering::Relaxed) > 0);
    assert!(theirs_exported.0.load(Ordering::Relaxed) > 0);
}

criterion_group!(benches, layer, opentelemetry);
criterion_main!(benches);
