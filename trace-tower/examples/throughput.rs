//! The server half of the loopback throughput benchmark
//! (`scripts/throughput.sh`): one stack, on one worker thread, a trivial
//! handler. The script pins it to one core and wrk to the other.
//!
//! Run: `cargo run --release -p trace-tower --features axum --example throughput -- STACK`,
//! where STACK is one of
//!
//! - `bare`: the router alone;
//! - `minimal`, `minimal-scoped`: the least a propagation-only layer must
//!   do, without and with the current-context scope
//!   (`benches/support/minimal.rs`), for reference;
//! - `minimal-recording`, `minimal-otel`: the same with the scope, and a
//!   span kept in a bounded store or recorded through the OpenTelemetry
//!   SDK as `otel` does: the least recording costs, for reference;
//! - `ours`: `TraceContextLayer`, propagation only;
//! - `memory`: ours, recording into the in-memory store;
//! - `otel`: ours with `OtelRecorder` on an SDK provider (batch processor,
//!   an exporter that drops the spans);
//! - `tower-http`: `TraceLayer` + `SetRequestIdLayer` +
//!   `PropagateRequestIdLayer` (no subscriber, so `TraceLayer` makes no
//!   span: what users assemble for request ids and logs);
//! - `otel-axum`: axum-tracing-opentelemetry's `OtelAxumLayer` under a
//!   tracing-opentelemetry layer, on the same kind of provider and
//!   exporter as `otel` (what users pick for OpenTelemetry with axum).
//!
//! It prints `listening on 127.0.0.1:PORT`.

#[path = "../benches/support/ecosystem.rs"]
mod ecosystem;
#[path = "../benches/support/minimal.rs"]
mod minimal;

use axum::{Router, routing::get};
use http::HeaderName;
use opentelemetry::trace::TracerProvider as _;
use tokio::net::TcpListener;
use tower_http::{
    request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer},
    trace::TraceLayer,
};
use trace_core::{InMemoryRecorder, OtelRecorder};
use trace_tower::TraceContextLayer;

const STACKS: &str = "bare|minimal|minimal-scoped|minimal-recording|minimal-otel|ours|memory|otel|tower-http|otel-axum";

fn main() -> std::io::Result<()> {
    let stack = std::env::args().nth(1).unwrap_or_default();
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let router = Router::new().route("/users/{id}", get(|| async { "{\"id\":7}" }));
        // Kept alive while serving.
        let mut _provider = None;
        let app = match stack.as_str() {
            "bare" => router,
            "minimal" => router.layer(minimal::MinimalLayer),
            "minimal-scoped" => router.layer(minimal::ScopedLayer),
            "minimal-recording" => router.layer(minimal::RecordingLayer::default()),
            "minimal-otel" => {
                let provider = ecosystem::otel_provider(ecosystem::Discard::default());
                let layer = minimal::OtelLayer(provider.tracer("bench"));
                _provider = Some(provider);
                router.layer(layer)
            }
            "ours" => router.layer(TraceContextLayer::new()),
            "memory" => {
                router.layer(TraceContextLayer::new().recorder(InMemoryRecorder::new(10_000)))
            }
            "otel" => {
                let provider = ecosystem::otel_provider(ecosystem::Discard::default());
                let layer =
                    TraceContextLayer::new().recorder(OtelRecorder::new(provider.tracer("bench")));
                _provider = Some(provider);
                router.layer(layer)
            }
            "tower-http" => {
                let x_request_id = HeaderName::from_static("x-request-id");
                router
                    .layer(PropagateRequestIdLayer::new(x_request_id.clone()))
                    .layer(TraceLayer::new_for_http())
                    .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
            }
            "otel-axum" => {
                use tracing_subscriber::layer::SubscriberExt as _;

                let provider = ecosystem::otel_provider(ecosystem::Discard::default());
                let subscriber = tracing_subscriber::registry()
                    .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("bench")));
                tracing::subscriber::set_global_default(subscriber).expect("the only subscriber");
                opentelemetry::global::set_text_map_propagator(
                    opentelemetry_sdk::propagation::TraceContextPropagator::new(),
                );
                _provider = Some(provider);
                router.layer(axum_tracing_opentelemetry::middleware::OtelAxumLayer::default())
            }
            _ => {
                eprintln!("usage: throughput {STACKS}");
                std::process::exit(2);
            }
        };
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on {}", listener.local_addr()?);
        axum::serve(listener, app).await
    })
}
