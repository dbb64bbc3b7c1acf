//! Over a real socket: a valid `traceparent` is continued, an invalid or
//! repeated one restarts the trace, and each trust option does what it says.
//!
//! Needs the `axum` feature (handlers take `TraceContext`; spans are named
//! by axum's matched route). CI runs with all features.
#![cfg(feature = "axum")]

mod common;

use axum::{Router, routing::get};
use common::{Server, echo, get_report, spans};
use trace_core::{AlwaysOff, InMemoryRecorder, ParentBased, Trust};
use trace_tower::TraceContextLayer;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const PARENT: &str = "00f067aa0ba902b7";

fn app<M>(layer: TraceContextLayer<M>) -> Router
where
    M: trace_tower::mode::Mode,
    M::Body<axum::body::Body>: Send,
{
    Router::new().route("/echo", get(echo)).layer(layer)
}

#[tokio::test]
async fn a_valid_traceparent_is_continued() {
    let server = Server::start(app(TraceContextLayer::new())).await;
    let seen = get_report(
        &server,
        &[
            ("traceparent", &format!("00-{TRACE_ID}-{PARENT}-03")),
            ("tracestate", "congo=t61rcWkgMzE"),
            ("tracestate", "rojo=00f067aa0ba902b7"),
            ("baggage", "userId=Am%C3%A9lie,isProduction=false"),
        ],
    )
    .await;
    assert_eq!(seen["trace_id"], TRACE_ID, "same trace");
    assert_eq!(seen["parent"], PARENT, "the caller's span is the parent");
    assert_ne!(seen["span_id"], PARENT, "a new span id");
    assert_eq!(
        seen["current"], seen["span_id"],
        "the handler's current context is the request's"
    );
    assert_eq!(seen["sampled"], "true", "the caller's decision is followed");
    assert_eq!(seen["random"], "true", "the Level 2 random flag is kept");
    assert_eq!(
        seen["tracestate"],
        "congo=t61rcWkgMzE,rojo=00f067aa0ba902b7"
    );
    assert_eq!(seen["baggage"], "userId:Amélie;isProduction:false");

    let seen = get_report(
        &server,
        &[("traceparent", &format!("00-{TRACE_ID}-{PARENT}-00"))],
    )
    .await;
    assert_eq!(
        seen["sampled"], "false",
        "an unsampled caller is followed too"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_missing_invalid_or_repeated_traceparent_restarts_the_trace() {
    let server = Server::start(app(TraceContextLayer::new())).await;
    let valid = format!("00-{TRACE_ID}-{PARENT}-01");
    #[rustfmt::skip]
    let cases: Vec<(Vec<(&str, String)>, &str)> = vec![
        (vec![], "no traceparent"),
        (vec![("traceparent", format!("00-{}-{PARENT}-01", TRACE_ID.to_uppercase()))], "uppercase"),
        (vec![("traceparent", format!("00-00000000000000000000000000000000-{PARENT}-01"))], "zero trace-id"),
        (vec![("traceparent", format!("00-{TRACE_ID}-0000000000000000-01"))], "zero parent-id"),
        (vec![("traceparent", format!("ff-{TRACE_ID}-{PARENT}-01"))], "version ff"),
        (vec![("traceparent", format!("00-{TRACE_ID}-{PARENT}-01-extra"))], "version 00 with extra fields"),
        (vec![("traceparent", format!("00-{TRACE_ID}-{PARENT}-1"))], "short flags"),
        (vec![("traceparent", "00-abc-def-01".to_owned())], "short ids"),
        (vec![("traceparent", format!("0-{TRACE_ID}-{PARENT}-01"))], "short version"),
        (vec![("traceparent", format!("00_{TRACE_ID}_{PARENT}_01"))], "wrong separators"),
        (vec![("traceparent", valid.clone()), ("traceparent", valid.clone())], "two traceparent lines"),
        (vec![("traceparent", "garbage".to_owned()), ("tracestate", "congo=1".to_owned())], "tracestate without a valid parent"),
    ];
    for (headers, reason) in cases {
        let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let seen = get_report(&server, &headers).await;
        assert_ne!(seen["trace_id"], TRACE_ID, "{reason}: a new trace");
        assert_eq!(seen["parent"], "", "{reason}: no parent");
        assert_eq!(seen["random"], "true", "{reason}: a new, random trace-id");
        assert_eq!(
            seen["tracestate"], "",
            "{reason}: no tracestate without its traceparent"
        );
    }
    server.stop().await;
}

#[tokio::test]
async fn each_trust_option_does_what_it_says() {
    let headers = [
        ("traceparent", format!("00-{TRACE_ID}-{PARENT}-01")),
        ("tracestate", "congo=1".to_owned()),
        ("baggage", "k=v".to_owned()),
    ];
    let headers: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();

    // A new root, with the caller as a link on the recorded span.
    let recorder = InMemoryRecorder::new(16);
    let server = Server::start(app(TraceContextLayer::new()
        .trust(Trust::NEW_ROOT)
        .recorder(recorder.clone())))
    .await;
    let seen = get_report(&server, &headers).await;
    assert_ne!(seen["trace_id"], TRACE_ID);
    assert_eq!(seen["parent"], "");
    assert_eq!(
        seen["tracestate"], "",
        "tracestate belongs to the old trace"
    );
    assert_eq!(seen["baggage"], "k:v", "baggage is kept unless stripped");
    let span = &spans(&recorder, 1).await[0];
    let link = span.link.expect("the caller is kept as a link");
    assert_eq!(
        (link.trace_id().to_string(), link.parent_id().to_string()),
        (TRACE_ID.to_owned(), PARENT.to_owned())
    );
    server.stop().await;

    // Re-sample: same trace, but the caller's "sampled" does not decide.
    let server = Server::start(app(TraceContextLayer::new()
        .trust(Trust::RESAMPLE)
        .sampler(ParentBased::new(AlwaysOff))))
    .await;
    let seen = get_report(&server, &headers).await;
    assert_eq!(seen["trace_id"], TRACE_ID);
    assert_eq!(seen["parent"], PARENT);
    assert_eq!(
        seen["sampled"], "false",
        "sampled here, by the root sampler"
    );
    server.stop().await;

    // Strip baggage, strip tracestate.
    let server = Server::start(app(
        TraceContextLayer::new().trust(Trust::CONTINUE.strip_baggage())
    ))
    .await;
    let seen = get_report(&server, &headers).await;
    assert_eq!(
        (seen["baggage"].as_str(), seen["tracestate"].as_str()),
        ("", "congo=1")
    );
    server.stop().await;
    let server = Server::start(app(
        TraceContextLayer::new().trust(Trust::CONTINUE.strip_trace_state())
    ))
    .await;
    let seen = get_report(&server, &headers).await;
    assert_eq!(
        (seen["baggage"].as_str(), seen["tracestate"].as_str()),
        ("k:v", "")
    );
    server.stop().await;
}
