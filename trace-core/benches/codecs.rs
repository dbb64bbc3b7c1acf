//! The codecs, side by side with what a user would otherwise run on the same
//! input in the same process:
//!
//! - `traceparent`: ours against `opentelemetry_sdk`'s `TraceContextPropagator`
//!   (through `opentelemetry_http`'s extractor and injector), and against a
//!   plain table-driven hex decode and encode of the 55 bytes, the floor;
//! - `tracestate` of 3 and 32 members: ours against the SDK's `TraceState`;
//! - `baggage` of 5 members: ours against the SDK's `BaggagePropagator`;
//! - a new correlation ID: ours against tower-http's `MakeRequestUuid`.
//!
//! Run with: `cargo bench -p trace-core --bench codecs`
//! (CI runs each once with `cargo test --benches`, so they cannot rot.)

use std::hint::black_box;

use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderMap, HeaderValue, Request};
use opentelemetry::{propagation::TextMapPropagator, trace::TraceState as OtelTraceState};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use tower_http::request_id::{MakeRequestId, MakeRequestUuid};
use trace_core::{BAGGAGE, Baggage, CorrelationId, TRACEPARENT, TraceParent, TraceState};

const TRACEPARENT_VALUE: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";
const TRACESTATE_3: &str = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE,dd=s:1;o:rum";
const BAGGAGE_5: &str =
    "userId=alice,serverNode=DF%2028,isProduction=false,tenant=acme;region=eu,session=7f3a9c2d";

fn tracestate_32() -> String {
    (0..32)
        .map(|i| format!("vendor{i:02}=value{i:02}"))
        .collect::<Vec<_>>()
        .join(",")
}

/// A plain table-driven decode and encode of the 55 bytes: hex only, no
/// rule checks beyond the separators. The floor for our parser.
mod naive {
    static HEX: [u8; 256] = {
        let mut t = [0xff; 256];
        let digits = b"0123456789abcdef";
        let mut i: u8 = 0;
        while i < 16 {
            t[digits[i as usize] as usize] = i;
            i += 1;
        }
        t
    };

    pub(crate) fn decode(src: &[u8]) -> Option<[u8; 26]> {
        if src.len() != 55 || src[2] != b'-' || src[35] != b'-' || src[52] != b'-' {
            return None;
        }
        let mut out = [0u8; 26];
        let mut o = 0;
        for range in [0..2, 3..35, 36..52, 53..55] {
            for pair in src[range].chunks_exact(2) {
                let (hi, lo) = (HEX[pair[0] as usize], HEX[pair[1] as usize]);
                if hi | lo == 0xff {
                    return None;
                }
                out[o] = hi << 4 | lo;
                o += 1;
            }
        }
        Some(out)
    }

    pub(crate) fn encode(bytes: &[u8; 26]) -> [u8; 55] {
        let digits = b"0123456789abcdef";
        let mut out = [b'-'; 55];
        let mut o = 0;
        for (i, b) in bytes.iter().enumerate() {
            if matches!(i, 1 | 17 | 25) {
                o += 1;
            }
            out[o] = digits[(b >> 4) as usize];
            out[o + 1] = digits[(b & 15) as usize];
            o += 2;
        }
        out
    }
}

fn traceparent(c: &mut Criterion) {
    let mut g = c.benchmark_group("traceparent");
    let input = HeaderValue::from_static(TRACEPARENT_VALUE);
    // The baseline must do the same work correctly to be a fair floor.
    let decoded = naive::decode(input.as_bytes()).unwrap();
    assert_eq!(&naive::encode(&decoded)[..], input.as_bytes());
    g.bench_function("ours/parse+format", |b| {
        b.iter(|| {
            let tp = TraceParent::try_from(black_box(&input)).unwrap();
            black_box(tp.encode())
        });
    });
    g.bench_function("naive-table/parse+format", |b| {
        b.iter(|| {
            let bytes = naive::decode(black_box(input.as_bytes())).unwrap();
            black_box(naive::encode(&bytes))
        });
    });

    // The same work as users do it today: from a request's headers to the
    // next request's headers.
    let mut incoming = HeaderMap::new();
    incoming.insert(TRACEPARENT, input.clone());
    let mut outgoing = HeaderMap::new();
    g.bench_function("ours/headers-to-headers", |b| {
        b.iter(|| {
            let tp = TraceParent::try_from(black_box(&incoming)[TRACEPARENT].as_bytes()).unwrap();
            outgoing.insert(TRACEPARENT, tp.to_header_value());
            black_box(&outgoing);
        });
    });
    let sdk = TraceContextPropagator::new();
    let mut outgoing = HeaderMap::new();
    g.bench_function("otel-sdk/extract+inject", |b| {
        b.iter(|| {
            let cx = sdk.extract(&HeaderExtractor(black_box(&incoming)));
            sdk.inject_context(&cx, &mut HeaderInjector(&mut outgoing));
            black_box(&outgoing);
        });
    });
    g.finish();
}

fn tracestate(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracestate");
    let long = tracestate_32();
    for (name, text) in [("3", TRACESTATE_3), ("32", long.as_str())] {
        let line = HeaderValue::from_str(text).unwrap();
        g.bench_function(format!("ours/parse+format/{name}"), |b| {
            b.iter(|| {
                let state = TraceState::from_header_values([black_box(&line)]).unwrap();
                black_box(state.header_value().cloned())
            });
        });
        g.bench_function(format!("otel-sdk/parse+format/{name}"), |b| {
            b.iter(|| {
                let state: OtelTraceState = black_box(line.to_str().unwrap()).parse().unwrap();
                black_box(HeaderValue::from_str(&state.header()).unwrap())
            });
        });
    }
    g.finish();
}

fn baggage(c: &mut Criterion) {
    let mut g = c.benchmark_group("baggage");
    let mut incoming = HeaderMap::new();
    incoming.insert(BAGGAGE, HeaderValue::from_static(BAGGAGE_5));
    let mut outgoing = HeaderMap::new();
    g.bench_function("ours/parse+format/5", |b| {
        b.iter(|| {
            let (baggage, _) = Baggage::from_header_values(black_box(&incoming).get_all(BAGGAGE));
            if let Some(value) = baggage.header_value() {
                outgoing.insert(BAGGAGE, value.clone());
            }
            black_box(&outgoing);
        });
    });
    g.bench_function("ours/parse+read-values/5", |b| {
        b.iter(|| {
            let (baggage, _) = Baggage::from_header_values(black_box(&incoming).get_all(BAGGAGE));
            for member in &baggage {
                black_box(member.value());
            }
        });
    });
    let sdk = BaggagePropagator::new();
    let mut outgoing = HeaderMap::new();
    g.bench_function("otel-sdk/extract+inject/5", |b| {
        b.iter(|| {
            let cx = sdk.extract(&HeaderExtractor(black_box(&incoming)));
            sdk.inject_context(&cx, &mut HeaderInjector(&mut outgoing));
            black_box(&outgoing);
        });
    });
    g.finish();
}

fn correlation_id(c: &mut Criterion) {
    let mut g = c.benchmark_group("correlation-id");
    g.bench_function("ours/new", |b| b.iter(|| black_box(CorrelationId::new())));
    g.bench_function("ours/new+header-value", |b| {
        b.iter(|| black_box(CorrelationId::new().to_header_value()));
    });
    let request = Request::new(());
    let mut make = MakeRequestUuid;
    g.bench_function("tower-http/MakeRequestUuid", |b| {
        b.iter(|| black_box(make.make_request_id(black_box(&request))));
    });
    g.finish();
}

criterion_group!(benches, traceparent, tracestate, baggage, correlation_id);
criterion_main!(benches);
