//! Run: `cargo build --release -p trace-tower --features axum --example callgrind`, then
//! `valgrind --tool=callgrind target/release/examples/callgrind ours 2000`.
//!
//! Sends `N` requests (default 10,000) through an axum router, as the
//! `layer` benchmark does, for an instruction count that does not vary from
//! run to run: `bare` (no layer), `identity` (a layer that does nothing:
//! what axum's `Router::layer` itself costs), `minimal` (the least a
//! propagation-only layer must do: `benches/support/minimal.rs`),
//! `minimal-scoped` (the same, with the context current while the handler
//! runs, as the layer makes it), `minimal-recording` and `minimal-otel` (the
//! same, and a span kept in a bounded store or made through the
//! OpenTelemetry SDK's own API: the least recording costs), `ours`
//! (propagation only), `memory`
//! (recording into the in-memory store), `otel` (exported through the
//! OpenTelemetry SDK's batch processor to an exporter that drops it) or
//! `tower-http` (`TraceLayer` +
//! `SetRequestIdLayer` + `PropagateRequestIdLayer`, with no subscriber, so
//! `TraceLayer` makes no span), `tower-http-propagation` (the request-id
//! layers and OpenTelemetry's `TraceContextPropagator` extract: the same
//! job as `ours`) or `tower-http-recording` (the `tower-http` stack under a
//! subscriber that keeps every span in memory: the same job as `memory`).
//! The difference between two counts over `N` is the layer's cost per
//! request.

use std::hint::black_box;

#[path = "../benches/support/ecosystem.rs"]
mod ecosystem;
#[path = "../benches/support/minimal.rs"]
mod minimal;

use axum::{Router, body::Body, routing::get};
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
        .expect("a valid request")
}

fn main() {
    let mut args = std::env::args().skip(1);
    let stack = args.next().unwrap_or_default();
    let count: usize = args.next().and_then(|n| n.parse().ok()).unwrap_or(10_000);
    let router = Router::new().route("/users/{id}", get(user));
    let app = match stack.as_str() {
        "bare" => router,
        // Any layer at all: what axum's `Router::layer` costs by itself.
        "identity" => router.layer(tower::layer::util::Identity::new()),
        // The least a propagation-only layer must do (see its module).
        "minimal" => router.layer(minimal::MinimalLayer),
        // The same, with the context current while the handler runs.
        "minimal-scoped" => router.layer(minimal::ScopedLayer),
        // The same, recording a span into a bounded store.
        "minimal-recording" => router.layer(minimal::RecordingLayer::default()),
        // The same, recording through the OpenTelemetry SDK as `otel` does.
        "minimal-otel" => {
            let provider = ecosystem::otel_provider(ecosystem::Discard::default());
            let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "bench");
            router.layer(minimal::OtelLayer(tracer))
        }
        "ours" => router.layer(TraceContextLayer::new()),
        "memory" => router.layer(TraceContextLayer::new().recorder(InMemoryRecorder::new(1024))),
        // Exported through the OpenTelemetry SDK: the batch processor and an
        // exporter that drops what it is given (its thread is counted too).
        "otel" => {
            let provider = ecosystem::otel_provider(ecosystem::Discard::default());
            let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "bench");
            router.layer(TraceContextLayer::new().recorder(trace_core::OtelRecorder::new(tracer)))
        }
        // The same job as `ours`, as users assemble it today.
        "tower-http-propagation" => ecosystem::tower_http_propagation(router),
        // `tower-http` below, under a subscriber that keeps its spans: the
        // same job as `memory`.
        "tower-http-recording" | "tower-http" => {
            let x_request_id = HeaderName::from_static("x-request-id");
            router
                .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
                .layer(TraceLayer::new_for_http())
                .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
        }
        _ => {
            eprintln!(
                "usage: callgrind bare|identity|minimal|minimal-scoped|minimal-recording|minimal-otel|ours|memory|otel|tower-http|tower-http-propagation|tower-http-recording [N]"
            );
            std::process::exit(2);
        }
    };
    // As `axum::serve` does (`Router::into_make_service`): the routes and
    // their layers are made once, not again for every request.
    let app = app.with_state(());
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("a runtime");
    let _subscriber = (stack == "tower-http-recording").then(|| {
        use tracing_subscriber::layer::SubscriberExt as _;
        tracing::subscriber::set_default(
            tracing_subscriber::registry().with(ecosystem::KeepSpans::default()),
        )
    });
    runtime.block_on(async {
        for _ in 0..count {
            let response = app.clone().oneshot(request()).await.expect("infallible");
            black_box(response.into_body().collect().await.expect("a body"));
        }
    });
}
