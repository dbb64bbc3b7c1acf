//! The axum extractors read what the layer put in the request; without the
//! layer they reject with a 500 that says to add it, or give `None`.
//!
//! Needs the `axum` feature (handlers take `TraceContext`; spans are named
//! by axum's matched route). CI runs with all features.
#![cfg(feature = "axum")]

mod common;

use axum::{Router, routing::get};
use common::{Server, client};
use trace_core::{Baggage, CorrelationId, TraceContext};
use trace_tower::TraceContextLayer;

async fn all(cx: TraceContext, id: CorrelationId, baggage: Baggage) -> String {
    format!(
        "{} {id} {}",
        cx.trace_id(),
        baggage.get("k").unwrap_or_default()
    )
}

async fn optional(cx: Option<TraceContext>) -> String {
    cx.map_or_else(|| "none".to_owned(), |cx| cx.trace_id().to_string())
}

fn routes() -> Router {
    Router::new()
        .route("/all", get(all))
        .route("/optional", get(optional))
}

#[tokio::test]
async fn with_the_layer() {
    let server = Server::start(routes().layer(TraceContextLayer::new())).await;
    let body = client()
        .get(server.url("/all"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("x-request-id", "req-1")
        .header("baggage", "k=v")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "4bf92f3577b34da6a3ce929d0e0e4736 req-1 v");
    let body = client()
        .get(server.url("/optional"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body.len(), 32, "a new trace");
    server.stop().await;
}

#[tokio::test]
async fn without_the_layer() {
    let server = Server::start(routes()).await;
    let response = client().get(server.url("/all")).send().await.unwrap();
    assert_eq!(response.status(), 500);
    assert!(response.text().await.unwrap().contains("TraceContextLayer"));
    let body = client()
        .get(server.url("/optional"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "none");
    server.stop().await;
}
