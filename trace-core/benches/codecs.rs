//! The codecs, side by side with what a user would otherwise run on the same
//! input in the same process. Each row says what it does; a side-by-side
//! pair does the same work on both sides, and is checked once, outside the
//! timing, to produce the same output:
//!
//! - `traceparent`: request headers to the next request's headers, ours
//!   against `opentelemetry_sdk`'s `TraceContextPropagator` (through
//!   `opentelemetry_http`'s extractor and injector); and the bare parse and
//!   format beside a plain table-driven hex decode and encode of the 55
//!   bytes, the floor;
//! - `tracestate` of 3 and 32 members: parse and re-serialise, ours against
//!   the SDK's `TraceState`; and, separately, what our propagator does by
//!   design (validate, then pass the incoming value on untouched);
//! - `baggage` of 5 members: headers to headers, decoding every value and
//!   encoding it again, ours against the SDK's `BaggagePropagator`; and,
//!   separately, our validate-and-pass-through;
//! - a new correlation ID as a header value: ours against tower-http's
//!   `MakeRequestUuid`;
//! - `formats`: B3 (single, multi-header) and Jaeger, headers to headers,
//!   ours against `opentelemetry-zipkin` and `opentelemetry-jaeger-propagator`;
//! - `scaling`: parse time over input size (tracestate 1 to 32 members,
//!   baggage 1 to 64, and 10,000 members cut at the limits), to show the
//!   slope: linear in the input, bounded past the limits.
//!
//! Run with: `cargo bench -p trace-core --bench codecs`
//! (CI runs each once with `cargo test --benches`, so they cannot rot.)

use std::{collections::BTreeSet, hint::black_box};

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
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

/// 32 members (the most allowed) in under 512 bytes (what a mutation keeps).
fn tracestate_32() -> String {
    (0..32)
        .map(|i| format!("vendor{i:02}=v{i:02}"))
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
    g.bench_function("ours/parse+format (no headers)", |b| {
        b.iter(|| {
            let tp = TraceParent::try_from(black_box(&input)).unwrap();
            black_box(tp.encode())
        });
    });
    g.bench_function("floor: naive-table/parse+format (no headers)", |b| {
        b.iter(|| {
            let bytes = naive::decode(black_box(input.as_bytes())).unwrap();
            black_box(naive::encode(&bytes))
        });
    });

    // The same work as users do it today: from a request's headers to the
    // next request's headers.
    let mut incoming = HeaderMap::new();
    incoming.insert(TRACEPARENT, input.clone());
    let ours = |outgoing: &mut HeaderMap| {
        let tp = TraceParent::try_from(black_box(&incoming)[TRACEPARENT].as_bytes()).unwrap();
        outgoing.insert(TRACEPARENT, tp.to_header_value());
    };
    let sdk = TraceContextPropagator::new();
    let theirs = |outgoing: &mut HeaderMap| {
        let cx = sdk.extract(&HeaderExtractor(black_box(&incoming)));
        sdk.inject_context(&cx, &mut HeaderInjector(outgoing));
    };
    // The same work: the same header out of both (checked once, outside
    // the timing, so that a filtered run checks it too).
    let (mut a, mut b) = (HeaderMap::new(), HeaderMap::new());
    ours(&mut a);
    theirs(&mut b);
    assert_eq!(a[TRACEPARENT], b[TRACEPARENT]);
    let mut outgoing = HeaderMap::new();
    g.bench_function("ours/headers-to-headers", |b| {
        b.iter(|| {
            ours(&mut outgoing);
            black_box(&outgoing);
        });
    });
    let mut outgoing = HeaderMap::new();
    g.bench_function("otel-sdk/headers-to-headers", |b| {
        b.iter(|| {
            theirs(&mut outgoing);
            black_box(&outgoing);
        });
    });
    let ours = a;
    assert_eq!(ours[TRACEPARENT], TRACEPARENT_VALUE);
    g.finish();
}

/// Our `TraceState` rebuilt from its members, in one pass
/// (`TraceState::from_members`).
fn rebuild_tracestate(state: &TraceState) -> TraceState {
    TraceState::from_members(state.iter()).unwrap()
}

/// The same, member by member: `insert` puts a member in front, as W3C
/// Trace Context's mutation rules say, so members go in from the last. Each
/// insert rewrites the header: quadratic, shown beside the one-pass row.
fn rebuild_tracestate_by_inserts(state: &TraceState) -> TraceState {
    let members: Vec<_> = state.iter().collect();
    let mut rebuilt = TraceState::default();
    for (key, value) in members.into_iter().rev() {
        rebuilt.insert(key, value).unwrap();
    }
    rebuilt
}

fn tracestate(c: &mut Criterion) {
    let mut g = c.benchmark_group("tracestate");
    let long = tracestate_32();
    for (name, text) in [("3", TRACESTATE_3), ("32", long.as_str())] {
        let line = HeaderValue::from_str(text).unwrap();
        let ours = || {
            let state = TraceState::from_header_values([black_box(&line)]).unwrap();
            rebuild_tracestate(&state).header_value().cloned().unwrap()
        };
        let sdk = || {
            let state: OtelTraceState = black_box(line.to_str().unwrap()).parse().unwrap();
            HeaderValue::from_str(&state.header()).unwrap()
        };
        let by_inserts = || {
            let state = TraceState::from_header_values([black_box(&line)]).unwrap();
            rebuild_tracestate_by_inserts(&state)
                .header_value()
                .cloned()
                .unwrap()
        };
        assert_eq!(ours(), sdk(), "the same work: the same header out");
        assert_eq!(by_inserts(), sdk());
        g.bench_function(format!("ours/parse+reserialise/{name}"), |b| {
            b.iter(|| black_box(ours()));
        });
        g.bench_function(format!("ours/parse+reserialise-by-inserts/{name}"), |b| {
            b.iter(|| black_box(by_inserts()));
        });
        g.bench_function(format!("otel-sdk/parse+reserialise/{name}"), |b| {
            b.iter(|| black_box(sdk()));
        });
        // By design, not a comparison: an unchanged `tracestate` is
        // validated and passed on as it came.
        g.bench_function(format!("ours/validate+pass-through/{name}"), |b| {
            b.iter(|| {
                let state = TraceState::from_header_values([black_box(&line)]).unwrap();
                black_box(state.header_value().cloned())
            });
        });
    }
    g.finish();
}

/// The members of a `baggage` header as decoded key and value pairs, in a
/// set: how two encoders' outputs are compared.
fn decoded(value: &HeaderValue) -> BTreeSet<(String, String)> {
    let baggage: Baggage = value.to_str().unwrap().parse().unwrap();
    baggage
        .iter()
        .map(|m| (m.key().to_owned(), m.value().into_owned()))
        .collect()
}

fn baggage(c: &mut Criterion) {
    let mut g = c.benchmark_group("baggage");
    let mut incoming = HeaderMap::new();
    incoming.insert(BAGGAGE, HeaderValue::from_static(BAGGAGE_5));
    // As the SDK does: every value decoded, then encoded again.
    let ours = |outgoing: &mut HeaderMap| {
        let (baggage, _) = Baggage::from_header_values(black_box(&incoming).get_all(BAGGAGE));
        let mut out = Baggage::default();
        for member in &baggage {
            out.insert(member.key(), &member.value()).unwrap();
        }
        if let Some(value) = out.header_value() {
            outgoing.insert(BAGGAGE, value.clone());
        }
    };
    let sdk = BaggagePropagator::new();
    let theirs = |outgoing: &mut HeaderMap| {
        let cx = sdk.extract(&HeaderExtractor(black_box(&incoming)));
        sdk.inject_context(&cx, &mut HeaderInjector(outgoing));
    };
    // The same work: the same members and values out of both (the two
    // encoders may escape differently, and the SDK reorders). Checked
    // once, outside the timing, so that a filtered run checks it too.
    let (mut a, mut b) = (HeaderMap::new(), HeaderMap::new());
    ours(&mut a);
    theirs(&mut b);
    assert_eq!(decoded(&a[BAGGAGE]), decoded(&b[BAGGAGE]));
    assert_eq!(decoded(&a[BAGGAGE]).len(), 5);
    let mut outgoing = HeaderMap::new();
    g.bench_function("ours/headers-to-headers/5", |b| {
        b.iter(|| {
            ours(&mut outgoing);
            black_box(&outgoing);
        });
    });
    let mut outgoing = HeaderMap::new();
    g.bench_function("otel-sdk/headers-to-headers/5", |b| {
        b.iter(|| {
            theirs(&mut outgoing);
            black_box(&outgoing);
        });
    });

    // By design, not a comparison: baggage that is not changed is
    // validated and passed on as it came.
    let mut outgoing = HeaderMap::new();
    g.bench_function("ours/validate+pass-through/5", |b| {
        b.iter(|| {
            let (baggage, _) = Baggage::from_header_values(black_box(&incoming).get_all(BAGGAGE));
            if let Some(value) = baggage.header_value() {
                outgoing.insert(BAGGAGE, value.clone());
            }
            black_box(&outgoing);
        });
    });
    g.finish();
}

fn correlation_id(c: &mut Criterion) {
    let mut g = c.benchmark_group("correlation-id");
    let request = Request::new(());
    let mut make = MakeRequestUuid;
    // The same work: a new UUID as a header value, on both sides.
    let ours = CorrelationId::new().to_header_value();
    let theirs = make.make_request_id(&request).unwrap().into_header_value();
    assert_eq!((ours.len(), theirs.len()), (36, 36));
    g.bench_function("ours/new-header-value", |b| {
        b.iter(|| black_box(CorrelationId::new().to_header_value()));
    });
    g.bench_function("tower-http/MakeRequestUuid", |b| {
        b.iter(|| black_box(make.make_request_id(black_box(&request))));
    });
    g.finish();
}

/// Parse time over input size: each row's time over its bytes is the slope.
fn scaling(c: &mut Criterion) {
    let mut g = c.benchmark_group("scaling");
    for members in [1, 8, 32] {
        let text = (0..members)
            .map(|i| format!("vendor{i:02}=value{i:02}"))
            .collect::<Vec<_>>()
            .join(",");
        let line = HeaderValue::from_str(&text).unwrap();
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("tracestate", members), &line, |b, line| {
            b.iter(|| black_box(TraceState::from_header_values([black_box(line)]).unwrap()));
        });
    }
    // Past the limits (64 members, 8192 bytes), the rest is cut: the work
    // stops growing with the input.
    for members in [1, 16, 64, 10_000] {
        let text = (0..members)
            .map(|i| format!("key{i:05}=value{i:05}"))
            .collect::<Vec<_>>()
            .join(",");
        let line = HeaderValue::from_str(&text).unwrap();
        g.throughput(Throughput::Bytes(text.len() as u64));
        g.bench_with_input(BenchmarkId::new("baggage", members), &line, |b, line| {
            b.iter(|| black_box(Baggage::from_header_values([black_box(line)])));
        });
    }
    g.finish();
}

/// `opentelemetry-jaeger-propagator` speaks opentelemetry 0.32: a header
/// map as its carrier, as `opentelemetry-http` makes one for 0.33.
mod otel032 {
    use http::{HeaderMap, HeaderName, HeaderValue};
    use opentelemetry_032::propagation::{Extractor, Injector};

    pub(crate) struct In<'a>(pub(crate) &'a HeaderMap);
    pub(crate) struct Out<'a>(pub(crate) &'a mut HeaderMap);

    impl Extractor for In<'_> {
        fn get(&self, key: &str) -> Option<&str> {
            self.0.get(key).and_then(|value| value.to_str().ok())
        }

        fn keys(&self) -> Vec<&str> {
            self.0.keys().map(HeaderName::as_str).collect()
        }
    }

    impl Injector for Out<'_> {
        fn set(&mut self, key: &str, value: String) {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(key.as_bytes()),
                HeaderValue::from_str(&value),
            ) {
                self.0.insert(name, value);
            }
        }
    }
}

/// B3 and Jaeger, request headers to the next request's headers (the
/// caller's span id passed on, as a proxy would), ours beside the
/// OpenTelemetry Rust propagators on the same headers:
/// `opentelemetry-zipkin` (0.33) and `opentelemetry-jaeger-propagator`
/// (0.32). The crate's single-header B3 also writes the `X-B3-*` headers,
/// so that row's work is both on each side.
#[allow(deprecated)]
fn formats(c: &mut Criterion) {
    use opentelemetry_zipkin::{B3Encoding, Propagator as Zipkin};
    use trace_core::{Propagate, Propagator, propagation::Format};

    let mut g = c.benchmark_group("formats");
    let header_map = |pairs: &[(&'static str, &'static str)]| {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.insert(*name, HeaderValue::from_static(value));
        }
        map
    };
    let rows = [
        (
            "b3+b3multi-out",
            header_map(&[("b3", "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1")]),
            vec![Format::B3, Format::B3Multi],
            Some(B3Encoding::SingleHeader),
        ),
        (
            "b3multi",
            header_map(&[
                ("x-b3-traceid", "80f198ee56343ba864fe8b2a57d3eff7"),
                ("x-b3-spanid", "e457b5a2e4d86bd1"),
                ("x-b3-sampled", "1"),
            ]),
            vec![Format::B3Multi],
            Some(B3Encoding::MultipleHeader),
        ),
        (
            "jaeger",
            header_map(&[(
                "uber-trace-id",
                "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1",
            )]),
            vec![Format::Jaeger],
            None,
        ),
    ];
    for (name, incoming, formats, zipkin) in rows {
        let propagator = Propagator::default().with_formats(formats);
        let ours = |out: &mut HeaderMap| {
            let cx = propagator
                .extract(black_box(&incoming))
                .into_remote_context()
                .unwrap();
            propagator.inject(&cx, Propagate::ALL, out);
        };
        let zipkin = zipkin.map(Zipkin::with_encoding);
        let jaeger = opentelemetry_jaeger_propagator::Propagator::new();
        let theirs = |out: &mut HeaderMap| match &zipkin {
            Some(zipkin) => {
                let cx = zipkin.extract(&HeaderExtractor(black_box(&incoming)));
                zipkin.inject_context(&cx, &mut HeaderInjector(out));
            }
            None => {
                use opentelemetry_032::propagation::TextMapPropagator as _;
                let cx = jaeger.extract(&otel032::In(black_box(&incoming)));
                jaeger.inject_context(&cx, &mut otel032::Out(out));
            }
        };
        // The same work: the same headers out of both.
        let (mut a, mut b) = (HeaderMap::new(), HeaderMap::new());
        ours(&mut a);
        theirs(&mut b);
        assert_eq!(a, b, "{name}");
        let mut out = HeaderMap::new();
        g.bench_function(format!("ours/headers-to-headers/{name}"), |bench| {
            bench.iter(|| {
                ours(&mut out);
                black_box(&out);
            });
        });
        let mut out = HeaderMap::new();
        let reference = if zipkin.is_some() {
            "opentelemetry-zipkin"
        } else {
            "opentelemetry-jaeger-propagator"
        };
        g.bench_function(format!("{reference}/headers-to-headers/{name}"), |bench| {
            bench.iter(|| {
                theirs(&mut out);
                black_box(&out);
            });
        });
    }
    g.finish();
}

criterion_group!(
    benches,
    traceparent,
    tracestate,
    baggage,
    correlation_id,
    formats,
    scaling
);
criterion_main!(benches);
