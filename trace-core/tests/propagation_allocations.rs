//! What propagation costs in heap allocations, counted: nothing to read a
//! `traceparent`, and at most one per header written. An unchanged
//! `tracestate`, baggage and correlation ID are passed on as the very
//! header values that came in.
//!
//! Its own test binary: `allocation-counter` installs a counting global
//! allocator in the binary that uses it (counts are per thread).
//!
//! The incoming header values are made with `from_static`, as hyper's are
//! slices of a shared buffer: cloning either is a reference-count bump.

use allocation_counter::measure;
use http::{HeaderMap, HeaderValue};
use trace_core::{
    AlwaysOn, NoopRecorder, ParentBased, Propagate, Propagator, Span, SpanKind, Status, Trust,
    record::SpanStart,
};

fn incoming() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    headers.insert(
        "tracestate",
        HeaderValue::from_static("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,dd=s:1"),
    );
    headers.insert(
        "baggage",
        HeaderValue::from_static(
            "userId=alice,serverNode=DF%2028,isProduction=false,tenant=acme;region=eu,session=7f3a",
        ),
    );
    headers.insert("x-request-id", HeaderValue::from_static("req-7f3a9c"));
    headers
}

#[test]
fn the_allocator_counts() {
    let info = measure(|| drop(std::hint::black_box(vec![1u8])));
    assert_eq!(info.count_total, 1);
}

#[test]
fn extracting_a_traceparent_allocates_nothing() {
    let propagator = Propagator::default();
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    let info = measure(|| {
        let incoming = propagator.extract(&headers);
        assert!(incoming.parent.is_some());
    });
    assert_eq!(info.count_total, 0);
}

#[test]
fn extracting_the_full_set_allocates_nothing() {
    let propagator = Propagator::default();
    let headers = incoming();
    let info = measure(|| {
        let incoming = propagator.extract(&headers);
        assert!(incoming.dropped.is_empty());
    });
    assert_eq!(
        info.count_total, 0,
        "single-line headers are kept as they came"
    );
}

#[test]
fn extract_start_inject_writes_one_allocation_for_four_headers() {
    let propagator = Propagator::default();
    let sampler = ParentBased::new(AlwaysOn);
    let headers = incoming();
    let mut outgoing = HeaderMap::with_capacity(8);
    // The thread's id generator is set up (one allocation) on its first use
    // in a thread; a server's worker threads pay that once, not per request.
    let _ = trace_core::SpanId::random();
    let info = measure(|| {
        let started = propagator.extract(&headers).start(
            Trust::CONTINUE,
            &sampler,
            "GET /",
            SpanKind::Server,
            &[],
        );
        // Propagation only: the no-op recorder costs nothing either.
        let span = Span::start(
            &NoopRecorder,
            started.decision,
            SpanStart::new(&started.context, "GET /", SpanKind::Server),
            Vec::new,
        );
        propagator.inject(&started.context, Propagate::ALL, &mut outgoing);
        span.end(Status::Unset, Vec::new());
    });
    // The new traceparent is the only new text; everything else is shared.
    assert_eq!(info.count_total, 1);
    assert_eq!(outgoing.len(), 4);
    for name in ["tracestate", "baggage", "x-request-id"] {
        assert_eq!(
            outgoing[name].as_bytes().as_ptr(),
            headers[name].as_bytes().as_ptr(),
            "{name} passed on without copying"
        );
    }
}
