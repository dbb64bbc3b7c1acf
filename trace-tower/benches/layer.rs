//! Per-request cost of the server layer: in-process requests through an
//! axum router (`tower::ServiceExt::oneshot`, body read to the end), side
//! by side in one run:
//!
//! - the bare router;
//! - our layer, propagation only (the default no-op recorder);
//! - our layer recording into the in-memory recorder;
//! - tower-http's `TraceLayer::new_for_http()` + `SetRequestIdLayer` (UUID) +
//!   `PropagateRequestIdLayer`: the stack users pick today.
//!
//! Every request carries a `traceparent`, so both stacks have a trace to
//! continue.
//!
//! Run with: `cargo bench -p trace-tower --bench layer`

use std::hint::black_box;

use axum::{Router, body::Body, routing::get};
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderName, Request};
use http_body_util::BodyExt;
use tower::ServiceExt;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use trace_core::InMemoryRecorder;
use trace_tower::TraceContextLayer;

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

criterion_group!(benches, layer);
criterion_main!(benches);
