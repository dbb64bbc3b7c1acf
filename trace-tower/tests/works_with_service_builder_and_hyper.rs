//! The layer is a plain tower layer: it composes with `tower::ServiceBuilder`
//! and serves hyper directly (through hyper-util), not only axum.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper_util::{
    client::legacy::Client,
    rt::{TokioExecutor, TokioIo},
    service::TowerToHyperService,
};
use tokio::net::TcpListener;
use tower::{ServiceBuilder, ServiceExt};
use trace_core::{InMemoryRecorder, Status, TraceContext, Value, semconv};
use trace_tower::TraceContextLayer;

async fn handler<B>(req: Request<B>) -> Result<Response<Full<Bytes>>, Infallible> {
    // Both ways to reach the context: the extension and the current scope.
    let from_extension = req
        .extensions()
        .get::<TraceContext>()
        .map(|cx| cx.span_id());
    let current = TraceContext::current().map(|cx| cx.span_id());
    assert_eq!(from_extension, current);
    let trace_id = TraceContext::current().unwrap().trace_id().to_string();
    Ok(Response::new(Full::new(Bytes::from(trace_id))))
}

#[tokio::test]
async fn with_service_builder() {
    let service = ServiceBuilder::new()
        .layer(TraceContextLayer::new())
        .service_fn(handler::<Full<Bytes>>);
    let request = Request::builder()
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    assert!(response.headers().contains_key("x-request-id"));
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "4bf92f3577b34da6a3ce929d0e0e4736");
}

#[tokio::test]
async fn served_by_hyper() {
    let recorder = InMemoryRecorder::new(4);
    let service = ServiceBuilder::new()
        .layer(TraceContextLayer::new().recorder(recorder.clone()))
        .service_fn(handler::<hyper::body::Incoming>);
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (stream, _) = listener.accept().await.unwrap();
        hyper::server::conn::http1::Builder::new()
            .serve_connection(TokioIo::new(stream), TowerToHyperService::new(service))
            .await
            .unwrap();
    });

    let client = Client::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let request = Request::get(format!("http://{addr}/"))
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("x-request-id", "via-hyper")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = client.request(request).await.unwrap();
    assert_eq!(response.headers()["x-request-id"], "via-hyper");
    let body = response.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(body, "4bf92f3577b34da6a3ce929d0e0e4736");
    drop(client);
    server.await.unwrap();

    let spans = recorder.finished();
    assert_eq!(spans.len(), 1, "one server span");
    assert_eq!(
        spans[0].trace_id.to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    // Ended by the body's last frame, with the response's status: a span
    // dropped with the connection would end as `cancelled`.
    assert_eq!(spans[0].status, Status::Unset, "ended with the body");
    assert_eq!(
        spans[0].attribute(semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(&Value::I64(200))
    );
}
