//! Installed as OpenTelemetry's global propagator, ours is what every
//! OpenTelemetry-instrumented library uses. Needs the `opentelemetry`
//! feature (CI runs with all features).
#![cfg(feature = "opentelemetry")]

use http::{HeaderMap, HeaderValue};
use opentelemetry::{global, trace::TraceContextExt};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use trace_core::{Propagator, TraceContext};

#[test]
fn the_global_propagator_validates_and_keeps_the_random_flag() {
    global::set_text_map_propagator(Propagator::default());

    let mut incoming = HeaderMap::new();
    incoming.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"),
    );
    incoming.insert("x-request-id", HeaderValue::from_static("req-1"));
    let cx = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(&incoming)));
    assert_eq!(cx.span().span_context().trace_flags().to_u8(), 0x03);

    // Our view of the same context, then a child of it, injected by the
    // global propagator as any instrumented client would.
    let child = TraceContext::from_otel_context(&cx).unwrap().child();
    let mut outgoing = HeaderMap::new();
    let otel_cx = child.to_otel_context();
    global::get_text_map_propagator(|p| {
        p.inject_context(&otel_cx, &mut HeaderInjector(&mut outgoing));
    });
    assert_eq!(outgoing["traceparent"], child.traceparent().to_string());
    assert!(outgoing["traceparent"].to_str().unwrap().ends_with("-03"));
    assert_eq!(outgoing["x-request-id"], "req-1");

    // A short id that the SDK's propagator would accept is refused.
    let mut hostile = HeaderMap::new();
    hostile.insert("traceparent", HeaderValue::from_static("00-abc-def-01"));
    let cx = global::get_text_map_propagator(|p| p.extract(&HeaderExtractor(&hostile)));
    assert!(!cx.span().span_context().is_valid());
}
