//! The `tracing` integration: log lines written in a handler carry the
//! request's IDs, and under `tracing-opentelemetry` the spans a handler
//! makes with `#[instrument]` are children of the server span we inject
//! downstream.
//!
//! The test runs on one thread (`#[tokio::test]`'s current-thread
//! runtime), where each scenario's subscriber is the default: server and
//! client both.

#![cfg(all(feature = "axum", feature = "tracing-opentelemetry"))]

mod common;

use std::{
    io,
    sync::{Arc, Mutex},
};

use axum::{Router, extract::Path, routing::get};
use opentelemetry::trace::{SpanKind, Status, TracerProvider as _};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};
use trace_core::{OtelIdGenerator, TraceContext, TracingRecorder};
use trace_tower::TraceContextLayer;
use tracing_subscriber::{fmt::MakeWriter, layer::SubscriberExt as _};

use common::{Server, client, parse_report, report};

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[derive(Clone, Default)]
struct Logs(Arc<Mutex<Vec<u8>>>);

impl Logs {
    fn lines(&self) -> Vec<String> {
        String::from_utf8(self.0.lock().unwrap().clone())
            .unwrap()
            .lines()
            .map(str::to_owned)
            .collect()
    }
}

impl io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Logs {
    type Writer = Self;

    fn make_writer(&'a self) -> Self {
        self.clone()
    }
}

#[tracing::instrument]
async fn lookup(id: u32) -> String {
    tracing::info!("looking up");
    let cx = TraceContext::current().expect("inside the request");
    report(&cx)
}

async fn user(Path(id): Path<u32>) -> String {
    lookup(id).await
}

fn app(recorder: impl trace_core::Recorder) -> Router {
    Router::new()
        .route("/users/{id}", get(user))
        .layer(TraceContextLayer::new().recorder(recorder))
}

async fn call(server: &Server, fail: bool) -> std::collections::HashMap<String, String> {
    let path = if fail {
        "/users/not-a-number"
    } else {
        "/users/7"
    };
    let response = client()
        .get(server.url(path))
        .header("traceparent", TRACEPARENT)
        .header("x-request-id", "req-7")
        .send()
        .await
        .unwrap();
    parse_report(&response.text().await.unwrap())
}

/// One test, two scenarios in turn: `tracing` caches per call site whether
/// a span is wanted, for every thread at once, so scenarios with different
/// subscribers must not run side by side.
#[tokio::test]
async fn handler_logs_and_spans_join_the_request() {
    instrumented_spans_are_children_of_the_server_span().await;
    propagation_only_logs_carry_the_ids().await;
}

async fn instrumented_spans_are_children_of_the_server_span() {
    let exporter = InMemorySpanExporter::default();
    let provider = SdkTracerProvider::builder()
        .with_id_generator(OtelIdGenerator::default())
        .with_simple_exporter(exporter.clone())
        .build();
    let logs = Logs::default();
    let subscriber = tracing_subscriber::registry()
        .with(
            tracing_subscriber::fmt::layer()
                .with_writer(logs.clone())
                .with_ansi(false),
        )
        .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("users")));
    let _default = tracing::subscriber::set_default(subscriber);

    let server = Server::start(app(TracingRecorder)).await;
    let seen = call(&server, false).await;
    // A request axum rejects before the handler: an error span, no child.
    call(&server, true).await;
    server.stop().await;

    let spans = exporter.get_finished_spans().unwrap();
    let server_spans: Vec<_> = spans
        .iter()
        .filter(|s| s.span_kind == SpanKind::Server)
        .collect();
    let [ok, failed] = &server_spans[..] else {
        panic!("two server spans: {spans:#?}")
    };
    assert_eq!(ok.name, "GET /users/{id}");
    assert_eq!(ok.span_context.trace_id().to_string(), TRACE_ID);
    assert_eq!(
        ok.span_context.span_id().to_string(),
        seen["span_id"],
        "the exported server span is the span the handler saw (and injects)"
    );
    assert_eq!(ok.parent_span_id.to_string(), "00f067aa0ba902b7");
    assert!(ok.parent_span_is_remote);
    assert!(
        ok.attributes
            .iter()
            .any(|kv| kv.key.as_str() == "http.route" && kv.value.as_str() == "/users/{id}"),
        "{:?}",
        ok.attributes
    );
    assert_eq!(
        failed.status,
        Status::Unset,
        "a rejected request is the client's error, not the server's"
    );
    assert!(
        failed
            .attributes
            .iter()
            .any(|kv| kv.key.as_str() == "http.response.status_code" && kv.value == 400_i64.into()),
        "{:?}",
        failed.attributes
    );

    let instrumented: Vec<_> = spans.iter().filter(|s| s.name == "lookup").collect();
    let [lookup] = &instrumented[..] else {
        panic!("one handler span: {spans:#?}")
    };
    assert_eq!(
        lookup.parent_span_id,
        ok.span_context.span_id(),
        "#[instrument] spans are children of the server span"
    );
    assert_eq!(lookup.span_context.trace_id(), ok.span_context.trace_id());
    assert_eq!(spans.len(), 3, "nothing else is exported: {spans:#?}");

    let logs = logs.lines();
    let line = logs
        .iter()
        .find(|l| l.contains("looking up"))
        .unwrap_or_else(|| panic!("{logs:#?}"));
    for field in [
        format!("trace_id={TRACE_ID}"),
        format!("span_id={}", seen["span_id"]),
        "correlation_id=\"req-7\"".to_owned(),
        "lookup{id=7}".to_owned(),
    ] {
        assert!(line.contains(&field), "{field} in {line}");
    }
}

async fn propagation_only_logs_carry_the_ids() {
    let logs = Logs::default();
    let subscriber = tracing_subscriber::registry().with(
        tracing_subscriber::fmt::layer()
            .json()
            .with_writer(logs.clone()),
    );
    let _default = tracing::subscriber::set_default(subscriber);

    let server = Server::start(app(trace_core::NoopRecorder)).await;
    let seen = call(&server, false).await;
    server.stop().await;

    let logs = logs.lines();
    let line = logs
        .iter()
        .find(|l| l.contains("looking up"))
        .unwrap_or_else(|| panic!("{logs:#?}"));
    let json: serde_json::Value = serde_json::from_str(line).unwrap();
    let request = &json["spans"][0];
    assert_eq!(request["name"], "request", "{json}");
    assert_eq!(request["trace_id"], TRACE_ID);
    assert_eq!(request["span_id"], seen["span_id"].as_str());
    assert_eq!(request["correlation_id"], "req-7");
}
