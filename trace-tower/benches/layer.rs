//! Per-request cost of the server layer: in-process requests through an
//! axum router (`tower::ServiceExt::oneshot`, body read to the end). Each
//! group compares stacks that do the same job, side by side in one run, and
//! checks once, outside the timing, that each stack did it.
//!
//! `server-layer/propagation`, no span recorded anywhere:
//!
//! - the bare router;
//! - for reference, a layer that does nothing (what axum's `Router::layer`
//!   costs by itself), and the least a propagation-only layer must do
//!   (`support/minimal.rs`: parse the `traceparent`, make the ids, put the
//!   context in the extensions, write the correlation ID), and the same
//!   with the context current while the handler runs;
//! - our layer, propagation only (the default no-op recorder);
//! - what users assemble for the same job today: tower-http's
//!   `SetRequestIdLayer` (UUID) + `PropagateRequestIdLayer`, and the
//!   caller's trace context extracted by OpenTelemetry's
//!   `TraceContextPropagator` into the request's extensions.
//!
//! `server-layer/recording`, one span per request kept in memory:
//!
//! - for reference, the least recording in memory costs (`support/minimal.rs`:
//!   the minimal job with its scope, and a span with the same attributes
//!   kept in a bounded store);
//! - our layer recording into the in-memory recorder;
//! - tower-http's `TraceLayer::new_for_http()` + the two request-id layers,
//!   under a `tracing` subscriber whose layer keeps every closed span's name
//!   and fields in memory (without a subscriber `TraceLayer` makes no span
//!   at all, so it would not be recording).
//!
//! And, exporting through the OpenTelemetry SDK (batch processor, an
//! exporter that drops what it is given), side by side in one run:
//!
//! - the bare router;
//! - for reference, the minimal job with its scope, and the same span made
//!   and ended with the SDK's own API (`support/minimal.rs`);
//! - our layer with `OtelRecorder`;
//! - what users set up today: tower-http's `TraceLayer` making a server span
//!   (`otel.kind`, `otel.name`, the HTTP attributes) exported by
//!   `tracing-opentelemetry`, its parent extracted from the headers with
//!   OpenTelemetry's `TraceContextPropagator` (as axum-tracing-opentelemetry
//!   does);
//! - axum-tracing-opentelemetry's `OtelAxumLayer` itself (the crate users
//!   pick for this), under a tracing-opentelemetry layer on the same kind
//!   of provider and exporter.
//!
//! Every request carries a `traceparent`, so all stacks have a trace to
//! continue.
//!
//! Run with: `cargo bench -p trace-tower --bench layer`

use std::{hint::black_box, sync::atomic::Ordering, time::Duration};

use axum::{Router, body::Body, extract::MatchedPath, routing::get};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderName, Request};
use http_body_util::BodyExt;
use opentelemetry::{propagation::TextMapPropagator as _, trace::TracerProvider as _};
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::propagation::TraceContextPropagator;
use tower::{ServiceExt, layer::util::Identity};
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use trace_core::{InMemoryRecorder, OtelRecorder};
use trace_tower::TraceContextLayer;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

mod support {
    pub(crate) mod ecosystem;
    pub(crate) mod minimal;
}

use support::ecosystem::{Discard, KeepSpans, otel_provider, tower_http_propagation};

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
        // As every HTTP/1.1 request has (wrk sends it too).
        .header("host", "127.0.0.1:3000")
        .header("user-agent", "bench/1.0")
        .body(Body::empty())
        .unwrap()
}

/// Runs `app` once per iteration, as every row does.
fn bench_app(
    g: &mut criterion::BenchmarkGroup<'_, criterion::measurement::WallTime>,
    runtime: &tokio::runtime::Runtime,
    name: &str,
    app: &Router,
) {
    // As `axum::serve` does (`Router::into_make_service`): the routes and
    // their layers are made once, not again for every request.
    let app = app.clone().with_state::<()>(());
    g.bench_function(name, |b| {
        b.to_async(runtime).iter(|| {
            let app = app.clone();
            async move {
                let response = app.oneshot(request()).await.unwrap();
                black_box(response.into_body().collect().await.unwrap());
            }
        });
    });
}

/// One request through `app`, outside any timing.
fn check(runtime: &tokio::runtime::Runtime, app: &Router) -> http::Response<Body> {
    runtime.block_on(app.clone().oneshot(request())).unwrap()
}

async fn user_with_trace(request: Request<Body>) -> String {
    use opentelemetry::trace::TraceContextExt as _;
    let from_otel = request
        .extensions()
        .get::<opentelemetry::Context>()
        .map(|cx| cx.span().span_context().trace_id().to_string());
    let from_ours = request
        .extensions()
        .get::<trace_core::TraceContext>()
        .map(|cx| cx.trace_id().to_string());
    from_otel.or(from_ours).unwrap_or_default()
}

fn propagation(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    // Not a timing: both stacks that do the job did it, the caller's trace
    // reached the handler and a request id came back.
    let reports = Router::new().route("/users/{id}", get(user_with_trace));
    for (name, app) in [
        ("ours", reports.clone().layer(TraceContextLayer::new())),
        ("tower-http", tower_http_propagation(reports)),
    ] {
        let response = check(&runtime, &app);
        assert!(response.headers().contains_key("x-request-id"), "{name}");
        let body = runtime
            .block_on(response.into_body().collect())
            .unwrap()
            .to_bytes();
        assert_eq!(body, "4bf92f3577b34da6a3ce929d0e0e4736", "{name}");
    }
    let stacks: Vec<(&str, Router)> = vec![
        ("bare-router", router()),
        ("reference/identity-layer", router().layer(Identity::new())),
        (
            "reference/minimal-propagation",
            router().layer(support::minimal::MinimalLayer),
        ),
        (
            "reference/minimal-propagation+scope",
            router().layer(support::minimal::ScopedLayer),
        ),
        (
            "ours/propagation-only",
            router().layer(TraceContextLayer::new()),
        ),
        (
            "tower-http/request-id+otel-propagator-extract",
            tower_http_propagation(router()),
        ),
    ];
    let mut g = c.benchmark_group("server-layer/propagation");
    for (name, app) in &stacks {
        bench_app(&mut g, &runtime, name, app);
    }
    g.finish();
}

fn recording(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let recorder = InMemoryRecorder::new(1024);
    let kept = KeepSpans::default();
    let subscriber = tracing::Dispatch::new(tracing_subscriber::registry().with(kept.clone()));
    let x_request_id = HeaderName::from_static("x-request-id");
    let ours = router().layer(TraceContextLayer::new().recorder(recorder.clone()));
    let theirs = router()
        .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(TraceLayer::new_for_http())
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid));

    let mut g = c.benchmark_group("server-layer/recording");
    bench_app(
        &mut g,
        &runtime,
        "reference/minimal-recording",
        &router().layer(support::minimal::RecordingLayer::default()),
    );
    bench_app(&mut g, &runtime, "ours/in-memory-recorder", &ours);
    {
        // The subscriber is this thread's (the runtime's) while this row
        // runs, so the other rows do not pay for it.
        let _default = tracing::dispatcher::set_default(&subscriber);
        bench_app(
            &mut g,
            &runtime,
            "tower-http/trace+request-id, spans kept in memory",
            &theirs,
        );
        drop(check(&runtime, &theirs).into_body());
    }
    g.finish();
    drop(check(&runtime, &ours).into_body());

    // Not a timing: both stacks recorded a span per request, and the
    // stores stayed bounded.
    let ours = recorder.finished();
    assert!(!ours.is_empty() && ours.len() <= 1024, "{}", ours.len());
    assert!(ours.iter().all(|s| s.name == "GET /users/{id}"));
    let theirs = kept.0.lock().unwrap();
    assert!(
        !theirs.is_empty() && theirs.len() <= 1024,
        "{}",
        theirs.len()
    );
    assert!(
        theirs
            .iter()
            .all(|(name, fields)| name == "request" && fields.iter().any(|(k, _)| k == "uri"))
    );
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
    let (axum_exported, axum_provider) = {
        let exported = Discard::default();
        (exported.clone(), otel_provider(exported))
    };
    let axum_subscriber = tracing::Dispatch::new(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(axum_provider.tracer("bench"))),
    );
    let (minimal_exported, minimal_provider) = {
        let exported = Discard::default();
        (exported.clone(), otel_provider(exported))
    };
    // `OtelAxumLayer` extracts with the global propagator.
    opentelemetry::global::set_text_map_propagator(TraceContextPropagator::new());
    let mut g = c.benchmark_group("server-layer-opentelemetry");
    bench_app(&mut g, &runtime, "bare-router", &router());
    bench_app(
        &mut g,
        &runtime,
        "reference/minimal-otel",
        &router().layer(support::minimal::OtelLayer(
            minimal_provider.tracer("bench"),
        )),
    );
    bench_app(
        &mut g,
        &runtime,
        "ours/otel-recorder",
        &router().layer(TraceContextLayer::new().recorder(OtelRecorder::new(ours.tracer("bench")))),
    );
    {
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
        // block runs, so the other stacks do not pay for it.
        let _default = tracing::dispatcher::set_default(&subscriber);
        bench_app(
            &mut g,
            &runtime,
            "tower-http/trace+tracing-opentelemetry",
            &app,
        );
    }
    {
        let app = router().layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default());
        let _default = tracing::dispatcher::set_default(&axum_subscriber);
        bench_app(
            &mut g,
            &runtime,
            "axum-tracing-opentelemetry/OtelAxumLayer",
            &app,
        );
    }
    g.finish();
    ours.shutdown().unwrap();
    theirs.shutdown().unwrap();
    axum_provider.shutdown().unwrap();
    minimal_provider.shutdown().unwrap();
    // Not a timing: a check that both stacks really made spans (the batch
    // processor may drop some when its queue is full).
    assert!(ours_exported.0.load(Ordering::Relaxed) > 0);
    assert!(theirs_exported.0.load(Ordering::Relaxed) > 0);
    assert!(axum_exported.0.load(Ordering::Relaxed) > 0);
    assert!(minimal_exported.0.load(Ordering::Relaxed) > 0);
}

criterion_group!(benches, propagation, recording, opentelemetry);
criterion_main!(benches);
