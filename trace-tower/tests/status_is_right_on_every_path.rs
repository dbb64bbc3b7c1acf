//! The span's status is right on the paths a server meets over a real
//! socket (harden, finding 8): HEAD, 204 and 304 responses end their spans as
//! successes although hyper never reads their bodies, a panicking handler
//! is recorded as a panic (not as a client that went away), and a gRPC
//! response whose body ends without `grpc-status` is an error.
#![cfg(feature = "axum")]

use std::{convert::Infallible, net::SocketAddr, time::Duration};

use axum::{Router, http::StatusCode, routing::get};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full, StreamBody};
use tokio::net::TcpListener;
use trace_core::{FinishedSpan, InMemoryRecorder, Value, semconv};
use trace_tower::TraceContextLayer;

/// Serves `app` on 127.0.0.1 until the test ends.
async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

async fn finished(recorder: &InMemoryRecorder, n: usize) -> Vec<FinishedSpan> {
    for _ in 0..500 {
        let spans = recorder.finished();
        if spans.len() >= n {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {n} spans, have {:?}", recorder.finished());
}

#[tokio::test]
async fn head_and_304_responses_end_their_spans_as_successes() {
    let recorder = InMemoryRecorder::new(16);
    let app = Router::new()
        .route(
            "/page",
            get(|| async { "a body hyper never sends to HEAD" }),
        )
        .route(
            "/cached",
            get(|| async { (StatusCode::NOT_MODIFIED, "a body a 304 never has") }),
        )
        .route(
            "/empty",
            get(|| async { (StatusCode::NO_CONTENT, "a body a 204 never has") }),
        )
        .layer(TraceContextLayer::new().recorder(recorder.clone()));
    let addr = serve(app).await;
    let client = reqwest::Client::new();
    let head = client
        .head(format!("http://{addr}/page"))
        .send()
        .await
        .unwrap();
    assert_eq!(head.status(), 200);
    let cached = client
        .get(format!("http://{addr}/cached"))
        .send()
        .await
        .unwrap();
    assert_eq!(cached.status(), 304);
    let empty = client
        .get(format!("http://{addr}/empty"))
        .send()
        .await
        .unwrap();
    assert_eq!(empty.status(), 204);

    let spans = finished(&recorder, 3).await;
    for (span, code) in spans.iter().zip([200, 304, 204]) {
        assert!(!span.status.is_error(), "{}: {:?}", span.name, span.status);
        assert_eq!(
            span.attribute(semconv::HTTP_RESPONSE_STATUS_CODE),
            Some(&Value::I64(code))
        );
    }
    assert_eq!(spans[0].name, "HEAD /page");
}

#[tokio::test]
async fn a_panicking_handler_is_recorded_as_a_panic() {
    let recorder = InMemoryRecorder::new(16);
    let app = Router::new()
        .route(
            "/boom",
            get(|| async {
                if true {
                    panic!("the handler panicked (expected by this test)");
                }
                ""
            }),
        )
        .layer(TraceContextLayer::new().recorder(recorder.clone()));
    let addr = serve(app).await;
    // hyper's connection task dies with the handler: the client sees the
    // connection close.
    let result = reqwest::get(format!("http://{addr}/boom")).await;
    assert!(result.is_err());

    let spans = finished(&recorder, 1).await;
    assert_eq!(spans[0].status.error_type(), Some("panic"));
    assert_eq!(
        spans[0].attribute(semconv::ERROR_TYPE),
        Some(&Value::from("panic"))
    );
}

#[tokio::test]
async fn a_grpc_body_that_ends_without_grpc_status_is_an_error() {
    use tower::{Layer, ServiceExt, service_fn};

    let recorder = InMemoryRecorder::new(16);
    let layer = TraceContextLayer::new_for_grpc().recorder(recorder.clone());
    let grpc_request = || {
        Request::builder()
            .uri("/echo.v1.Echo/Unary")
            .header("content-type", "application/grpc")
            .body(())
            .unwrap()
    };
    // A message, then the end of the stream: no trailers at all.
    let no_trailers = layer.layer(service_fn(|_: Request<()>| async {
        let mut response = Response::new(Full::new(Bytes::from_static(b"\0\0\0\0\0")));
        response
            .headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        Ok::<_, Infallible>(response)
    }));
    let response = no_trailers.oneshot(grpc_request()).await.unwrap();
    response.into_body().collect().await.unwrap();

    // Trailers without `grpc-status`.
    let bare_trailers = layer.layer(service_fn(|_: Request<()>| async {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-other", "1".parse().unwrap());
        let frames = [
            Ok::<_, Infallible>(http_body::Frame::data(Bytes::from_static(b"\0\0\0\0\0"))),
            Ok(http_body::Frame::trailers(trailers)),
        ];
        let mut response = Response::new(StreamBody::new(futures_util::stream::iter(frames)));
        response
            .headers_mut()
            .insert("content-type", "application/grpc".parse().unwrap());
        Ok::<_, Infallible>(response)
    }));
    let response = bare_trailers.oneshot(grpc_request()).await.unwrap();
    response.into_body().collect().await.unwrap();

    let spans = finished(&recorder, 2).await;
    for span in &spans {
        assert_eq!(span.status.error_type(), Some("UNKNOWN"), "{span:?}");
        assert_eq!(
            span.attribute(semconv::RPC_GRPC_STATUS_CODE),
            Some(&Value::I64(2))
        );
    }
}
