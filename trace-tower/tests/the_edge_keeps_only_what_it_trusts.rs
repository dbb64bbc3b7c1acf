//! The README's edge, over a real socket: `Trust::CONTINUE.when(..)`
//! continues the trace of a caller the predicate accepts, with its baggage;
//! any other caller gets a new trace, linked to what it sent, and none of
//! its baggage reaches the handler. The predicates are the README's three:
//! the peer on a private network (every peer on 127.0.0.1 is), a shared
//! secret header, and, behind a proxy, the client the proxy reports.
#![cfg(feature = "axum")]

mod common;

use axum::{Router, routing::get};
use common::{Server, echo, get_report};
use http::HeaderName;
use trace_core::{RequestInfo, Trust, policy::TrustedProxies};
use trace_tower::TraceContextLayer;

const TRACE_ID: &str = "4bf92f3577b34da6a3ce929d0e0e4736";
const TRACEPARENT: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const PARTNER_KEY: HeaderName = HeaderName::from_static("x-partner-key");

fn edge(trust: impl trace_core::TrustPolicy) -> Router {
    Router::new()
        .route("/echo", get(echo))
        .layer(TraceContextLayer::new().trust(trust))
}

#[tokio::test]
async fn a_caller_on_a_private_network_is_trusted() {
    let server = Server::start(edge(
        Trust::CONTINUE.when(|r: &RequestInfo<'_>| r.peer_is_private()),
    ))
    .await;
    let report = get_report(
        &server,
        &[("traceparent", TRACEPARENT), ("baggage", "tenant=acme")],
    )
    .await;
    assert_eq!(
        report["trace_id"], TRACE_ID,
        "127.0.0.1 is private: continued"
    );
    assert_eq!(report["baggage"], "tenant:acme");
    server.stop().await;
}

#[tokio::test]
async fn only_the_partner_with_the_key_is_trusted() {
    let server =
        Server::start(edge(Trust::CONTINUE.when(|r: &RequestInfo<'_>| {
            r.has_secret_header(&PARTNER_KEY, b"s3cr3t")
        })))
        .await;
    let sent = [
        ("traceparent", TRACEPARENT),
        ("baggage", "tenant=spoofed"),
        ("tracestate", "vendor=chosen-by-the-caller"),
    ];

    let stranger = get_report(&server, &sent).await;
    assert_ne!(stranger["trace_id"], TRACE_ID, "a new trace");
    assert_eq!(stranger["parent"], "", "a new root");
    assert_eq!(stranger["baggage"], "", "none of the caller's baggage");
    assert_eq!(stranger["tracestate"], "", "nor its tracestate");

    let wrong_key = get_report(&server, &[sent[0], sent[1], ("x-partner-key", "guess")]).await;
    assert_ne!(wrong_key["trace_id"], TRACE_ID);
    assert_eq!(wrong_key["baggage"], "");

    let partner = get_report(
        &server,
        &[
            sent[0],
            ("baggage", "tenant=acme"),
            ("x-partner-key", "s3cr3t"),
        ],
    )
    .await;
    assert_eq!(
        partner["trace_id"], TRACE_ID,
        "the partner's trace continues"
    );
    assert_eq!(partner["parent"], "00f067aa0ba902b7");
    assert_eq!(partner["baggage"], "tenant:acme");
    server.stop().await;
}

#[tokio::test]
async fn behind_a_proxy_the_client_it_reports_decides() {
    // The test's client on 127.0.0.1 plays the proxy: every request is
    // private by its peer, so `peer_is_private()` would trust them all.
    let proxies = TrustedProxies::new(["127.0.0.1"]).unwrap();
    let server = Server::start(edge(
        Trust::CONTINUE.when(move |r: &RequestInfo<'_>| r.client_is_private(&proxies)),
    ))
    .await;
    let sent = |forwarded_for| {
        [
            ("traceparent", TRACEPARENT),
            ("baggage", "tenant=acme"),
            ("x-forwarded-for", forwarded_for),
        ]
    };

    let internet = get_report(&server, &sent("203.0.113.7")).await;
    assert_ne!(internet["trace_id"], TRACE_ID, "a client on the internet");
    assert_eq!(internet["baggage"], "");

    let forged_left = get_report(&server, &sent("10.0.0.5, 203.0.113.7")).await;
    assert_ne!(
        forged_left["trace_id"], TRACE_ID,
        "what the client wrote before the proxy's entry is not read"
    );

    let internal = get_report(&server, &sent("10.0.0.5")).await;
    assert_eq!(
        internal["trace_id"], TRACE_ID,
        "a client on the private network"
    );
    assert_eq!(internal["baggage"], "tenant:acme");

    let unknown = get_report(&server, &[("traceparent", TRACEPARENT)]).await;
    assert_ne!(
        unknown["trace_id"], TRACE_ID,
        "a proxy that reports no client: fail closed"
    );
    server.stop().await;
}
