//! A service's propagation work per request, on a full header set
//! (`traceparent`, a 3-member `tracestate`, a 5-member `baggage`,
//! `x-request-id`): read the headers, make the server span's context, make a
//! client child of it, write the headers of the outgoing call.
//!
//! Side by side in one run with the same work done by `opentelemetry_sdk`'s
//! `TraceContextPropagator` + `BaggagePropagator` through `opentelemetry_http`'s
//! extractor and injector (the SDK has no correlation ID: the header is
//! copied by hand, as an application would).
//!
//! Also: extraction of hostile header sets (64 KiB traceparent, a 10,000-member
//! tracestate, a 64 KiB baggage of 5,000 members, 100 tracestate lines), to
//! show the work stays bounded whatever the input.
//!
//! Run with: `cargo bench -p trace-core --bench propagation`

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue};
use opentelemetry::{
    propagation::TextMapPropagator,
    trace::{SpanContext, SpanId as OtelSpanId, TraceContextExt},
};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use trace_core::{
    AlwaysOn, ParentBased, Propagate, Propagator, SpanId, SpanKind, TraceContext, Trust,
};

fn incoming() -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(
        "traceparent",
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    headers.insert(
        "tracestate",
        HeaderValue::from_static("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,dd=s:1;o:rum"),
    );
    headers.insert(
        "baggage",
        HeaderValue::from_static("userId=alice,serverNode=DF%2028,isProduction=false,tenant=acme;region=eu,session=7f3a9c2d"),
    );
    headers.insert("x-request-id", HeaderValue::from_static("req-7f3a9c"));
    headers
}

fn full_set(c: &mut Criterion) {
    let mut g = c.benchmark_group("propagation/full-set");
    let headers = incoming();

    let propagator = Propagator::default();
    let sampler = ParentBased::new(AlwaysOn);
    let mut outgoing = HeaderMap::with_capacity(8);
    g.bench_function("ours/extract+child+inject", |b| {
        b.iter(|| {
            let server = propagator.extract(black_box(&headers)).start(
                Trust::CONTINUE,
                &sampler,
                "GET /",
                SpanKind::Server,
                &[],
            );
            let client = TraceContext::start_child(
                Some(&server.context),
                &sampler,
                "GET",
                SpanKind::Client,
                &[],
            );
            propagator.inject(&client.context, Propagate::ALL, &mut outgoing);
            black_box(&outgoing);
        });
    });

    let trace = TraceContextPropagator::new();
    let baggage = BaggagePropagator::new();
    let mut outgoing = HeaderMap::with_capacity(8);
    g.bench_function("otel-sdk/extract+child+inject", |b| {
        b.iter(|| {
            let extractor = HeaderExtractor(black_box(&headers));
            let cx = baggage.extract_with_context(&trace.extract(&extractor), &extractor);
            // A child: same trace, a new span id (drawn with the same
            // generator as ours, so only propagation is compared).
            let parent = cx.span().span_context().clone();
            let child = SpanContext::new(
                parent.trace_id(),
                OtelSpanId::from_bytes(SpanId::random().to_bytes()),
                parent.trace_flags(),
                false,
                parent.trace_state().clone(),
            );
            let cx = cx.with_remote_span_context(child);
            let mut injector = HeaderInjector(&mut outgoing);
            trace.inject_context(&cx, &mut injector);
            baggage.inject_context(&cx, &mut injector);
            if let Some(id) = headers.get("x-request-id") {
                outgoing.insert("x-request-id", id.clone());
            }
            black_box(&outgoing);
        });
    });
    g.finish();
}

fn hostile(c: &mut Criterion) {
    let mut g = c.benchmark_group("propagation/hostile-extract");
    let propagator = Propagator::default();
    let valid_tp =
        HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

    let mut cases: Vec<(&str, HeaderMap)> = Vec::new();
    let mut h = HeaderMap::new();
    h.insert(
        "traceparent",
        HeaderValue::from_str(&"a".repeat(64 * 1024)).unwrap(),
    );
    cases.push(("traceparent-64KiB", h));

    let mut h = HeaderMap::new();
    h.insert("traceparent", valid_tp.clone());
    let members: Vec<String> = (0..10_000).map(|i| format!("k{i}=v")).collect();
    h.insert(
        "tracestate",
        HeaderValue::from_str(&members.join(",")).unwrap(),
    );
    cases.push(("tracestate-10000-members", h));

    let mut h = HeaderMap::new();
    h.insert("traceparent", valid_tp);
    for i in 0..100 {
        h.append(
            "tracestate",
            HeaderValue::from_str(&format!("k{i}=v")).unwrap(),
        );
    }
    cases.push(("tracestate-100-lines", h));

    let mut h = HeaderMap::new();
    let members: Vec<String> = (0..5_000)
        .map(|i| format!("key{i:05}=value{i:03}"))
        .collect();
    let text = members.join(",");
    h.insert(
        "baggage",
        HeaderValue::from_str(&text[..64 * 1024]).unwrap(),
    );
    cases.push(("baggage-64KiB-5000-members", h));

    let mut h = HeaderMap::new();
    h.insert(
        "baggage",
        HeaderValue::from_str(&members[..10].join(",")).unwrap(),
    );
    cases.push(("baggage-10-members (for scale)", h));

    for (name, headers) in &cases {
        g.bench_function(*name, |b| {
            b.iter(|| black_box(propagator.extract(black_box(headers))));
        });
    }
    g.finish();
}

criterion_group!(benches, full_set, hostile);
criterion_main!(benches);
