//! Over a real socket: the correlation ID is echoed only when valid and
//! never reflected raw, and hostile headers (within what hyper accepts)
//! never fail a request.
//!
//! Needs the `axum` feature (handlers take `TraceContext`; spans are named
//! by axum's matched route). CI runs with all features.
#![cfg(feature = "axum")]

mod common;

use axum::{Router, routing::get};
use common::{Server, client, echo, parse_report};
use reqwest::header::{HeaderMap, HeaderValue};
use trace_core::CorrelationId;
use trace_tower::TraceContextLayer;

fn app() -> Router {
    Router::new()
        .route("/echo", get(echo))
        .layer(TraceContextLayer::new())
}

#[tokio::test]
async fn the_correlation_id_is_echoed_when_valid_and_replaced_otherwise() {
    let server = Server::start(app()).await;
    let too_long = "a".repeat(129);
    let longest = "a".repeat(128);
    #[rustfmt::skip]
    let cases: &[(Option<&[u8]>, bool, &str)] = &[
        (Some(b"req-7f3a9c"), true, "valid: echoed"),
        (Some(longest.as_bytes()), true, "128 bytes: echoed"),
        (None, false, "missing: a new one"),
        (Some(too_long.as_bytes()), false, "too long"),
        (Some(b"a\tb"), false, "a tab"),
        (Some(b"a b"), false, "a space"),
        (Some(b"\"quoted\""), false, "a quote"),
        (Some(b"caf\xc3\xa9"), false, "non-ASCII (UTF-8)"),
        (Some(b"\xff\xfe\x80"), false, "non-UTF-8 bytes"),
    ];
    for &(sent, echoed, reason) in cases {
        let mut request = client().get(server.url("/echo"));
        if let Some(sent) = sent {
            request = request.header("x-request-id", HeaderValue::from_bytes(sent).unwrap());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{reason}");
        let returned = response.headers()["x-request-id"].as_bytes().to_vec();
        let seen = parse_report(&response.text().await.unwrap());
        assert_eq!(
            returned,
            seen["correlation"].as_bytes(),
            "{reason}: the handler and the caller see the same ID"
        );
        match (echoed, sent) {
            (true, _) => assert_eq!(Some(&returned[..]), sent, "{reason}"),
            (false, sent) => {
                if let Some(sent) = sent {
                    assert_ne!(&returned[..], sent, "{reason}: never reflected raw");
                }
                let id = std::str::from_utf8(&returned).unwrap();
                assert!(id.parse::<CorrelationId>().is_ok(), "{reason}: {id}");
                // A UUID v7: 36 characters, version nibble 7, RFC 4122 variant.
                let uuid = id.as_bytes();
                assert_eq!(uuid.len(), 36, "{reason}: {id}");
                assert_eq!(uuid[14], b'7', "{reason}: a UUID v7: {id}");
                assert!(b"89ab".contains(&uuid[19]), "{reason}: {id}");
            }
        }
    }
    server.stop().await;
}

#[tokio::test]
async fn hostile_headers_are_answered_normally() {
    let server = Server::start(app()).await;
    let tracestate_10k: String = (0..10_000)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let baggage_5k: String = (0..5_000)
        .map(|i| format!("key{i:05}=value{i:03}"))
        .collect::<Vec<_>>()
        .join(",");
    let baggage_64k = &baggage_5k[..64 * 1024];
    let valid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    let mut cases: Vec<(&str, HeaderMap)> = Vec::new();
    let mut h = HeaderMap::new();
    h.insert(
        "traceparent",
        HeaderValue::from_str(&"0".repeat(64 * 1024)).unwrap(),
    );
    cases.push(("a 64 KiB traceparent", h));
    let mut h = HeaderMap::new();
    h.insert("traceparent", HeaderValue::from_static(valid));
    h.insert(
        "tracestate",
        HeaderValue::from_str(&tracestate_10k).unwrap(),
    );
    cases.push(("a tracestate of 10,000 members", h));
    let mut h = HeaderMap::new();
    h.insert("baggage", HeaderValue::from_str(baggage_64k).unwrap());
    cases.push(("a 64 KiB baggage of 5,000 members", h));
    let mut h = HeaderMap::new();
    h.insert(
        "traceparent",
        HeaderValue::from_bytes(b"00-\xff\xfe-\x80").unwrap(),
    );
    h.insert("tracestate", HeaderValue::from_bytes(b"k=\xff").unwrap());
    h.insert(
        "baggage",
        HeaderValue::from_bytes(b"k=\xc3\x28,\xff=1").unwrap(),
    );
    cases.push(("non-UTF-8 bytes", h));
    let mut h = HeaderMap::new();
    h.insert("traceparent", HeaderValue::from_static(valid));
    // hyper's HTTP/1 server refuses more than 100 header lines (431) before
    // any layer runs; 90 is as many as a request can carry to us.
    for i in 0..90 {
        h.append(
            "tracestate",
            HeaderValue::from_str(&format!("k{i}=v")).unwrap(),
        );
    }
    cases.push(("90 tracestate lines", h));

    for (reason, headers) in cases {
        let response = client()
            .get(server.url("/echo"))
            .headers(headers)
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{reason}");
        let seen = parse_report(&response.text().await.unwrap());
        assert!(seen["tracestate"].len() <= 512, "{reason}");
        assert!(
            seen["baggage"].split(';').filter(|m| !m.is_empty()).count() <= 64,
            "{reason}"
        );
        if reason.contains("tracestate") {
            assert_eq!(
                seen["tracestate"], "",
                "{reason}: over 32 members, discarded"
            );
        }
        if reason.contains("5,000") {
            assert_eq!(
                seen["baggage"].split(';').count(),
                64,
                "{reason}: the first 64 kept"
            );
        }
    }
    server.stop().await;
}
