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

/// The app's own spans where nothing records (propagation only, or a
/// request that is not sampled): each still gets its span id, and none
/// allocates, whatever is given to it.
#[test]
fn the_apps_spans_allocate_nothing_when_nothing_records() {
    use trace_core::{Attribute, InMemoryRecorder, ServerTracing, SpanRef, TraceContext};

    let request = http::Request::builder()
        .uri("/orders/7")
        .header(
            "traceparent",
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00",
        )
        .body(())
        .unwrap();
    let unsampled = ServerTracing::new().recorder(InMemoryRecorder::new(8));
    for tracing in [ServerTracing::new(), unsampled] {
        let started = tracing.start(&request, Some("/orders/{id}"), None);
        let server = started.context.span_id();
        // The thread's guard list and id generator, set up once per thread.
        let _ = started
            .context
            .clone()
            .scope(|| trace_core::span("warm").start().end());
        let (ids, context) = started.context.scope(|| {
            let mut ids = Vec::with_capacity(3);
            let declined = std::io::Error::other("declined");
            let info = measure(|| {
                let request = SpanRef::current();
                request.set_attribute("user.id", 7_i64);
                request.add_event("order.received", []);
                request.record_error(&declined);
                let closure = trace_core::span("cache.lookup")
                    .attribute("cache.key", "order:7")
                    .in_scope(|span| {
                        span.add_event("cache.miss", [Attribute::new("k", "v")]);
                        TraceContext::current_traceparent().unwrap().parent_id()
                    });
                let guard = trace_core::span("render").start();
                guard.span().set_attribute("template", "order.html");
                let in_guard = TraceContext::current_traceparent().unwrap().parent_id();
                guard.end();
                ids.extend([closure, in_guard]);
            });
            assert_eq!(
                info.count_total, 0,
                "no allocation for spans that record nothing"
            );
            ids
        });
        assert!(ids.iter().all(|id| *id != server), "each span its own id");
        assert_ne!(ids[0], ids[1]);
        tracing.failed::<std::io::Error>(started.span, &context);
    }
}
