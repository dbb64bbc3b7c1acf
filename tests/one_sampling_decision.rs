//! One sampling decision (otel-setup): two services set up with
//! `OtelSetup` from the same `OTEL_TRACES_SAMPLER` values, A calling B with
//! reqwest. A span is exported if and only if the `sampled` flag sent
//! downstream says so, so every trace is exported whole or not at all:
//! no orphans whose parent never arrives.

use std::collections::HashMap;

use axum::{Router, extract::State, http::HeaderMap, routing::get};
use opentelemetry_sdk::trace::{InMemorySpanExporter, SpanData};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::net::TcpListener;
use trace_core::{OtelSetup, TraceParent, sampling::sampler_from_env_values};
use trace_reqwest::TraceMiddleware;
use trace_tower::TraceContextLayer;

/// Serves `app` on 127.0.0.1 until the test ends.
async fn serve(app: Router) -> std::net::SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// Sends `n` requests with no trace headers through A -> B, both set up
/// as `OTEL_TRACES_SAMPLER=sampler`, `OTEL_TRACES_SAMPLER_ARG=arg` say;
/// returns the `traceparent` B received for each, and what was exported.
async fn run(sampler: &str, arg: Option<&str>, n: usize) -> (Vec<TraceParent>, Vec<SpanData>) {
    let exporter = InMemorySpanExporter::default();
    let setup = |service: &str| {
        OtelSetup::from_env()
            .service_name(service)
            .sampler(sampler_from_env_values(Some(sampler), arg).unwrap())
            .exporter(exporter.clone())
            .global(false)
            .install()
            .unwrap()
    };
    let (a, b) = (setup("a"), setup("b"));

    let b_addr = serve(
        Router::new()
            .route(
                "/b",
                get(|headers: HeaderMap| async move {
                    headers["traceparent"].to_str().unwrap().to_owned()
                }),
            )
            .layer(TraceContextLayer::from(b.server_tracing())),
    )
    .await;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::from(a.client_tracing()))
        .build();
    async fn call(State((client, url)): State<(ClientWithMiddleware, String)>) -> String {
        client.get(&url).send().await.unwrap().text().await.unwrap()
    }
    let a_addr = serve(
        Router::new()
            .route("/a", get(call))
            .with_state((client, format!("http://{b_addr}/b")))
            .layer(TraceContextLayer::from(a.server_tracing())),
    )
    .await;

    let plain = reqwest::Client::new();
    let mut sent = Vec::new();
    for _ in 0..n {
        let text = plain
            .get(format!("http://{a_addr}/a"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        sent.push(text.parse().unwrap());
    }
    // The simple processor exports as spans end; read before shutdown,
    // which clears the exporter.
    let spans = exporter.get_finished_spans().unwrap();
    (sent, spans)
}

/// The exported spans by trace id (hex).
fn by_trace(spans: &[SpanData]) -> HashMap<String, Vec<&SpanData>> {
    let mut traces: HashMap<String, Vec<&SpanData>> = HashMap::new();
    for span in spans {
        traces
            .entry(span.span_context.trace_id().to_string())
            .or_default()
            .push(span);
    }
    traces
}

#[tokio::test]
async fn a_trace_is_exported_whole_exactly_when_the_flag_says_sampled() {
    let (sent, spans) = run("parentbased_traceidratio", Some("0.5"), 200).await;
    let traces = by_trace(&spans);
    let sampled: Vec<_> = sent.iter().filter(|tp| tp.flags().is_sampled()).collect();
    assert!(
        (60..=140).contains(&sampled.len()),
        "about half of 200 sampled: {}",
        sampled.len()
    );
    for traceparent in &sent {
        let exported = traces.get(&traceparent.trace_id().to_string());
        match exported {
            // A's server span, A's client span, B's server span: one tree.
            Some(trace) => {
                assert!(
                    traceparent.flags().is_sampled(),
                    "exported but sent unsampled"
                );
                assert_eq!(trace.len(), 3, "whole: {trace:?}");
                let ids: Vec<_> = trace.iter().map(|s| s.span_context.span_id()).collect();
                let roots = trace
                    .iter()
                    .filter(|s| !ids.contains(&s.parent_span_id))
                    .count();
                assert_eq!(roots, 1, "one root, the rest connected");
                let client = trace
                    .iter()
                    .find(|s| s.span_kind == opentelemetry::trace::SpanKind::Client)
                    .unwrap();
                assert_eq!(
                    client.span_context.span_id().to_bytes(),
                    traceparent.parent_id().to_bytes(),
                    "the id exported is the id sent"
                );
            }
            None => assert!(
                !traceparent.flags().is_sampled(),
                "sent sampled, never exported"
            ),
        }
    }
    assert_eq!(traces.len(), sampled.len());
}

#[tokio::test]
async fn always_off_exports_nothing_and_says_so_downstream() {
    let (sent, spans) = run("always_off", None, 20).await;
    assert!(spans.is_empty(), "{} spans exported", spans.len());
    assert!(sent.iter().all(|tp| !tp.flags().is_sampled()));
}

#[tokio::test]
async fn always_on_exports_every_trace_whole() {
    let (sent, spans) = run("always_on", None, 20).await;
    assert_eq!(spans.len(), 60);
    assert!(sent.iter().all(|tp| tp.flags().is_sampled()));
    assert_eq!(by_trace(&spans).len(), 20);
}

/// Both OTLP transports install inside a Tokio runtime, record, and shut
/// down (here with nothing listening: the export fails, nothing panics).
#[tokio::test(flavor = "multi_thread")]
async fn both_otlp_transports_install_and_shut_down_inside_tokio() {
    use trace_core::{
        OtlpProtocol, Status, TraceContext,
        record::{Span, SpanKind, SpanStart},
        sampling::Decision,
    };
    let dead = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let port = dead.local_addr().unwrap().port();
    drop(dead);
    for (protocol, endpoint) in [
        (OtlpProtocol::Grpc, format!("http://127.0.0.1:{port}")),
        (
            OtlpProtocol::HttpProtobuf,
            format!("http://127.0.0.1:{port}/v1/traces"),
        ),
    ] {
        let telemetry = OtelSetup::from_env()
            .service_name("t")
            .sampler(trace_core::AlwaysOn)
            .otlp_protocol(protocol)
            .otlp_endpoint(endpoint)
            .global(false)
            .install()
            .unwrap();
        let cx = TraceContext::new_root(true);
        Span::start(
            &*telemetry.recorder(),
            Decision::RecordAndSample,
            SpanStart::new(&cx, "work", SpanKind::Internal),
            Vec::new,
        )
        .end(Status::Unset, Vec::new());
        let result = tokio::task::spawn_blocking(move || telemetry.shutdown())
            .await
            .unwrap();
        assert!(
            result.is_err(),
            "{protocol:?}: nothing listens, so the export fails"
        );
    }
}
