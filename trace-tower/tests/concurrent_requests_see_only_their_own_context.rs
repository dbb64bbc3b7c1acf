//! 1,000 concurrent requests with distinct trace ids on a multi-thread
//! runtime: every handler, and a task it spawns with the combinator, sees
//! exactly its own ids.
//!
//! Needs the `axum` feature (handlers take `TraceContext`; spans are named
//! by axum's matched route). CI runs with all features.
#![cfg(feature = "axum")]

mod common;

use axum::{Router, routing::get};
use common::{Server, client, parse_report, report};
use trace_core::{FutureExt, TraceContext, TraceId};
use trace_tower::TraceContextLayer;

async fn handler(cx: TraceContext) -> String {
    // Yield so that requests interleave on the workers.
    tokio::task::yield_now().await;
    let spawned = tokio::spawn(
        async { TraceContext::current().map(|c| c.span_id().to_string()) }.in_current_context(),
    );
    let seen_by_task = spawned.await.unwrap().unwrap_or_default();
    format!("{}task={seen_by_task}\n", report(&cx))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn a_thousand_concurrent_requests() {
    let server = Server::start(
        Router::new()
            .route("/", get(handler))
            .layer(TraceContextLayer::new()),
    )
    .await;
    let client = client();
    let url = server.url("/");
    let requests = (0..1000).map(|_| {
        let (client, url) = (client.clone(), url.clone());
        tokio::spawn(async move {
            let trace_id = TraceId::random();
            let parent = trace_core::SpanId::random();
            let traceparent = format!("00-{trace_id}-{parent}-01");
            let body = client
                .get(url)
                .header("traceparent", traceparent)
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap();
            let seen = parse_report(&body);
            assert_eq!(seen["trace_id"], trace_id.to_string(), "its own trace");
            assert_eq!(seen["parent"], parent.to_string(), "its own caller");
            assert_eq!(seen["current"], seen["span_id"], "its own current context");
            assert_eq!(seen["task"], seen["span_id"], "a spawned task keeps it");
            seen["span_id"].clone()
        })
    });
    let mut span_ids = Vec::new();
    for request in requests.collect::<Vec<_>>() {
        span_ids.push(request.await.unwrap());
    }
    span_ids.sort_unstable();
    span_ids.dedup();
    assert_eq!(span_ids.len(), 1000, "distinct server spans");
    server.stop().await;
}
