//! `error.type` is written in one place, from the span's status, on every
//! path a server span can fail by: a 5xx, an error from the inner service,
//! an error from the response body, and a body dropped before its end.

use std::{
    convert::Infallible,
    pin::Pin,
    task::{Context, Poll},
};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame};
use http_body_util::{BodyExt, Full};
use tower::{Layer, ServiceExt, service_fn};
use trace_core::{FinishedSpan, InMemoryRecorder, Value, semconv};
use trace_tower::TraceContextLayer;

/// The one span a request recorded, and a check that its `error.type`
/// attribute is its status's error type.
fn the_error_type(recorder: &InMemoryRecorder) -> String {
    let spans = recorder.finished();
    let [span]: &[FinishedSpan] = &spans[..] else {
        panic!("one span, got {}", spans.len())
    };
    let error_type = span
        .status
        .error_type()
        .expect("the span is an error")
        .to_owned();
    assert_eq!(
        span.attribute(semconv::ERROR_TYPE),
        Some(&Value::from(error_type.clone())),
        "error.type is the status's"
    );
    let written = span
        .attributes
        .iter()
        .filter(|a| a.key == semconv::ERROR_TYPE)
        .count();
    assert_eq!(written, 1, "written once");
    error_type
}

#[tokio::test]
async fn a_5xx_response() {
    let recorder = InMemoryRecorder::new(4);
    let service = TraceContextLayer::new()
        .recorder(recorder.clone())
        .layer(service_fn(|_: Request<()>| async {
            let mut response = Response::new(Full::new(Bytes::from_static(b"down")));
            *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
            Ok::<_, Infallible>(response)
        }));
    let response = service.oneshot(Request::new(())).await.unwrap();
    response.into_body().collect().await.unwrap();
    assert_eq!(the_error_type(&recorder), "503");
}

#[derive(Debug)]
struct Refused;

impl std::fmt::Display for Refused {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("refused")
    }
}

impl std::error::Error for Refused {}

#[tokio::test]
async fn an_error_from_the_inner_service() {
    let recorder = InMemoryRecorder::new(4);
    let service = TraceContextLayer::new()
        .recorder(recorder.clone())
        .layer(service_fn(|_: Request<()>| async {
            Err::<Response<Full<Bytes>>, _>(Refused)
        }));
    assert!(service.oneshot(Request::new(())).await.is_err());
    assert_eq!(the_error_type(&recorder), std::any::type_name::<Refused>());
}

/// A body whose first frame is an error.
struct Failing;

impl Body for Failing {
    type Data = Bytes;
    type Error = Refused;

    fn poll_frame(
        self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Refused>>> {
        Poll::Ready(Some(Err(Refused)))
    }
}

#[tokio::test]
async fn an_error_from_the_body() {
    let recorder = InMemoryRecorder::new(4);
    let service = TraceContextLayer::new()
        .recorder(recorder.clone())
        .layer(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Failing))
        }));
    let response = service.oneshot(Request::new(())).await.unwrap();
    assert!(response.into_body().collect().await.is_err());
    assert_eq!(the_error_type(&recorder), std::any::type_name::<Refused>());
}

#[tokio::test]
async fn a_body_dropped_before_its_end() {
    let recorder = InMemoryRecorder::new(4);
    let service = TraceContextLayer::new()
        .recorder(recorder.clone())
        .layer(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"unread"))))
        }));
    let response = service.oneshot(Request::new(())).await.unwrap();
    assert!(
        recorder.finished().is_empty(),
        "the body is still to be sent"
    );
    drop(response);
    assert_eq!(the_error_type(&recorder), "cancelled");
}
