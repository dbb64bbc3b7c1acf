//! The response-side trace context (`server-timing` or `traceresponse`)
//! names the server span and nothing else: whatever `baggage` and
//! `tracestate` the request brought, the response carries neither, in
//! every mode.

use std::convert::Infallible;

use http::{Request, Response};
use tower::{Layer, ServiceExt, service_fn};
use trace_core::TraceParent;
use trace_tower::{ResponseTraceContext, TraceContextLayer};

const BAGGAGE: &str = "userId=alice,secret=s3cr3t";
const TRACESTATE: &str = "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7";

async fn response(mode: ResponseTraceContext) -> Response<()> {
    let service = TraceContextLayer::new()
        .response_trace_context(mode)
        .layer(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let request = Request::builder()
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        )
        .header("tracestate", TRACESTATE)
        .header("baggage", BAGGAGE)
        .body(())
        .unwrap();
    let response = service.oneshot(request).await.unwrap();
    response.map(drop)
}

fn assert_carries_neither(response: &Response<()>) {
    let headers = response.headers();
    assert!(headers.get("baggage").is_none(), "{headers:?}");
    assert!(headers.get("tracestate").is_none(), "{headers:?}");
    for (name, value) in headers {
        let value = value.to_str().unwrap();
        for secret in ["userId", "alice", "s3cr3t", "congo", "t61rcWkgMzE", "rojo"] {
            assert!(!value.contains(secret), "{name}: {value}");
        }
    }
}

#[tokio::test]
async fn server_timing_names_the_span_and_nothing_else() {
    let response = response(ResponseTraceContext::ServerTiming).await;
    assert_carries_neither(&response);
    let timing = response.headers()["server-timing"].to_str().unwrap();
    let tp: TraceParent = timing.strip_prefix("trace;desc=").unwrap().parse().unwrap();
    assert_eq!(
        tp.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
}

#[tokio::test]
async fn traceresponse_names_the_span_and_nothing_else() {
    let response = response(ResponseTraceContext::TraceResponse).await;
    assert_carries_neither(&response);
    let tp: TraceParent = response.headers()["traceresponse"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        tp.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
}

#[tokio::test]
async fn off_sends_no_trace_context_at_all() {
    let response = response(ResponseTraceContext::Off).await;
    assert_carries_neither(&response);
    assert!(response.headers().get("server-timing").is_none());
    assert!(response.headers().get("traceresponse").is_none());
}
