//! Over a real socket: the server span is named by route, carries the
//! semantic-convention attributes, ends with the body (or as `cancelled`
//! when the client goes away), is an error only for 5xx; filtered requests
//! make no span unless they fail; the response trace context is opt-in.
//!
//! Needs the `axum` feature (handlers take `TraceContext`; spans are named
//! by axum's matched route). CI runs with all features.
#![cfg(feature = "axum")]

mod common;

use std::sync::{Arc, Mutex};

use axum::{Router, body::Body, http::StatusCode, routing::get};
use bytes::Bytes;
use common::{Server, client, spans};
use futures_util::StreamExt;
use tokio::sync::mpsc;
use trace_core::{InMemoryRecorder, RequestFilter, SpanKind, TraceParent, Value, semconv};
use trace_tower::{ResponseTraceContext, TraceContextLayer};

type Chunks = Arc<Mutex<Option<mpsc::Receiver<Bytes>>>>;

fn app(recorder: &InMemoryRecorder, chunks: Chunks) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "user" }))
        .route("/fail", get(|| async { StatusCode::SERVICE_UNAVAILABLE }))
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route("/health", get(|| async { "ok" }))
        .route(
            "/health/broken",
            get(|| async { StatusCode::INTERNAL_SERVER_ERROR }),
        )
        .route(
            "/stream",
            get(move || {
                let rx = chunks
                    .lock()
                    .unwrap()
                    .take()
                    .expect("one streaming request");
                async move {
                    let stream = futures_util::stream::unfold(rx, |mut rx| async move {
                        rx.recv()
                            .await
                            .map(|chunk| (Ok::<_, std::io::Error>(chunk), rx))
                    });
                    Body::from_stream(stream)
                }
            }),
        )
        .layer(
            TraceContextLayer::new()
                .recorder(recorder.clone())
                .filter(RequestFilter::path_prefix("/health"))
                .response_trace_context(ResponseTraceContext::ServerTiming),
        )
}

#[tokio::test]
async fn named_by_route_with_attributes_and_status() {
    let recorder = InMemoryRecorder::new(64);
    let server = Server::start(app(&recorder, Chunks::default())).await;
    let response = client()
        .get(server.url("/users/42"))
        .header("user-agent", "tests/1.0")
        .header("baggage", "secret=1")
        .send()
        .await
        .unwrap();
    let timing = response.headers()["server-timing"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(response.text().await.unwrap(), "user");
    let span = spans(&recorder, 1).await.remove(0);
    assert_eq!(
        span.name, "GET /users/{id}",
        "the route, never the raw path"
    );
    assert_eq!(span.kind, SpanKind::Server);
    assert!(!span.status.is_error());
    let attr = |key| span.attribute(key).cloned();
    assert_eq!(attr(semconv::HTTP_REQUEST_METHOD), Some(Value::from("GET")));
    assert_eq!(
        attr(semconv::HTTP_ROUTE),
        Some(Value::from("/users/{id}".to_owned()))
    );
    assert_eq!(
        attr(semconv::URL_PATH),
        Some(Value::from("/users/42".to_owned()))
    );
    assert_eq!(
        attr(semconv::URL_SCHEME),
        Some(Value::from("http".to_owned()))
    );
    assert_eq!(
        attr(semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(Value::I64(200))
    );
    assert_eq!(
        attr(semconv::SERVER_ADDRESS),
        Some(Value::from("127.0.0.1".to_owned()))
    );
    assert_eq!(
        attr(semconv::SERVER_PORT),
        Some(Value::I64(i64::from(server.addr.port())))
    );
    assert_eq!(
        attr(semconv::NETWORK_PROTOCOL_VERSION),
        Some(Value::from("1.1"))
    );
    assert_eq!(
        attr(semconv::USER_AGENT_ORIGINAL),
        Some(Value::from("tests/1.0".to_owned()))
    );
    assert_eq!(
        attr(semconv::CLIENT_ADDRESS),
        Some(Value::from("127.0.0.1".to_owned()))
    );

    // server-timing names the server span; no baggage goes back.
    let desc = timing.strip_prefix("trace;desc=").unwrap();
    let tp: TraceParent = desc.parse().unwrap();
    assert_eq!(
        (tp.trace_id(), tp.parent_id()),
        (span.trace_id, span.span_id)
    );
    assert!(!timing.contains("secret"));

    // 5xx is an error, 4xx is not.
    client().get(server.url("/fail")).send().await.unwrap();
    client().get(server.url("/missing")).send().await.unwrap();
    let spans = spans(&recorder, 3).await;
    let fail = spans.iter().find(|s| s.name == "GET /fail").unwrap();
    assert_eq!(fail.status.error_type(), Some("503"));
    assert_eq!(
        fail.attribute(semconv::ERROR_TYPE),
        Some(&Value::from("503".to_owned()))
    );
    assert!(
        !spans
            .iter()
            .find(|s| s.name == "GET /missing")
            .unwrap()
            .status
            .is_error()
    );
    server.stop().await;
}

/// A server whose `/stream` response sends what the test sends, and a
/// client reading it.
async fn streaming(
    recorder: &InMemoryRecorder,
) -> (
    Server,
    mpsc::Sender<Bytes>,
    impl futures_util::Stream<Item = reqwest::Result<Bytes>>,
) {
    let (tx, rx) = mpsc::channel(4);
    let server = Server::start(app(recorder, Arc::new(Mutex::new(Some(rx))))).await;
    let response = client().get(server.url("/stream")).send().await.unwrap();
    (server, tx, response.bytes_stream())
}

#[tokio::test]
async fn the_span_ends_after_the_last_chunk() {
    let recorder = InMemoryRecorder::new(8);
    let (server, tx, body) = streaming(&recorder).await;
    let mut body = std::pin::pin!(body);

    tx.send(Bytes::from_static(b"one")).await.unwrap();
    assert_eq!(&body.next().await.unwrap().unwrap()[..], b"one");
    tx.send(Bytes::from_static(b"two")).await.unwrap();
    assert_eq!(&body.next().await.unwrap().unwrap()[..], b"two");
    assert!(
        recorder.finished().is_empty(),
        "the body is still being sent: the span is open"
    );

    drop(tx);
    assert!(body.next().await.is_none());
    let span = spans(&recorder, 1).await.remove(0);
    assert_eq!(span.name, "GET /stream");
    assert!(!span.status.is_error());
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_leaves_midway_cancels_the_span() {
    let recorder = InMemoryRecorder::new(8);
    let (server, tx, body) = streaming(&recorder).await;
    let mut body = Box::pin(body);
    tx.send(Bytes::from_static(b"one")).await.unwrap();
    body.next().await.unwrap().unwrap();
    drop(body); // the client goes away; the connection closes

    // The server notices on its next write.
    let _ = tx.send(Bytes::from_static(b"two")).await;
    let span = spans(&recorder, 1).await.remove(0);
    assert_eq!(
        span.status.error_type(),
        Some("cancelled"),
        "not silently ok"
    );
    server.stop().await;
}

#[tokio::test]
async fn filtered_requests_make_no_span_unless_they_fail() {
    let recorder = InMemoryRecorder::new(8);
    let server = Server::start(app(&recorder, Chunks::default())).await;
    let response = client()
        .get(server.url("/health"))
        .header("x-request-id", "probe-1")
        .send()
        .await
        .unwrap();
    assert_eq!(
        response.headers()["x-request-id"],
        "probe-1",
        "still echoed"
    );
    assert!(
        response.headers().contains_key("server-timing"),
        "still propagated"
    );
    response.text().await.unwrap();

    client()
        .get(server.url("/health/broken"))
        .send()
        .await
        .unwrap();
    // Every connection closed, every body done: nothing more can come.
    server.stop().await;
    let spans = recorder.finished();
    assert_eq!(spans.len(), 1, "only the failure is recorded: {spans:?}");
    assert_eq!(spans[0].name, "GET /health/broken");
    assert!(spans[0].status.is_error());
}
