//! The app's own span inside a request: a child of the current span with
//! two attributes and an event, run as a closure. Side by side in one run:
//!
//! - ours (`trace_core::span(..).in_scope(..)`), recorded in memory and
//!   through `OtelRecorder`;
//! - the OpenTelemetry SDK's own API (`tracer.in_span`, the attributes and
//!   the event set on `cx.span()`), under an active server span;
//! - `tracing`'s `info_span!` with an `info!` event, under a
//!   tracing-opentelemetry layer (the event becomes the span's event).
//!
//! Each sampled (the request records) and unsampled (it does not: ours is
//! then propagation only, the others' spans are non-recording). The three
//! OpenTelemetry stacks share one provider shape: our id generator, the
//! default parent-based sampler, and a processor that counts and drops
//! (the benchmark measures the API path, not an exporter).
//!
//! Run with: `cargo bench -p trace-core --bench own_spans`

use std::{
    hint::black_box,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use criterion::{Criterion, criterion_group, criterion_main};
use opentelemetry::{
    Context, KeyValue,
    trace::{
        SpanContext, SpanId as OtelSpanId, TraceContextExt as _, TraceFlags,
        TraceId as OtelTraceId, TraceState, Tracer as _, TracerProvider as _,
    },
};
use opentelemetry_sdk::{
    error::OTelSdkResult,
    trace::{SdkTracerProvider, SpanData, SpanProcessor},
};
use trace_core::{
    Attribute, InMemoryRecorder, OtelIdGenerator, OtelRecorder, Recorder, Span, SpanKind,
    TraceContext, record::SpanStart, sampling::Decision,
};
use tracing_opentelemetry::OpenTelemetrySpanExt as _;
use tracing_subscriber::layer::SubscriberExt as _;

/// Counts the spans that end, and drops them.
#[derive(Debug, Clone, Default)]
struct Count(Arc<AtomicUsize>);

impl SpanProcessor for Count {
    fn on_start(&self, _: &mut opentelemetry_sdk::trace::Span, _: &Context) {}
    fn on_end(&self, _: SpanData) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    fn force_flush(&self) -> OTelSdkResult {
        Ok(())
    }
    fn shutdown_with_timeout(&self, _: Duration) -> OTelSdkResult {
        Ok(())
    }
}

fn provider(count: &Count) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_id_generator(OtelIdGenerator::default())
        .with_span_processor(count.clone())
        .build()
}

/// The unit of work, ours.
fn ours() -> u64 {
    trace_core::span("db.query")
        .attribute("db.system.name", "postgresql")
        .attribute("db.operation.name", "SELECT")
        .in_scope(|span| {
            span.add_event("rows", [Attribute::new("db.response.returned_rows", 3_i64)]);
            black_box(3)
        })
}

/// The same, through the OpenTelemetry API.
fn otel(tracer: &opentelemetry_sdk::trace::SdkTracer) -> u64 {
    tracer.in_span("db.query", |cx| {
        let span = cx.span();
        span.set_attribute(KeyValue::new("db.system.name", "postgresql"));
        span.set_attribute(KeyValue::new("db.operation.name", "SELECT"));
        span.add_event(
            "rows",
            vec![KeyValue::new("db.response.returned_rows", 3_i64)],
        );
        black_box(3)
    })
}

/// The same, with `tracing`.
fn with_tracing() -> u64 {
    let span = tracing::info_span!(
        "db.query",
        db.system.name = "postgresql",
        db.operation.name = "SELECT"
    );
    span.in_scope(|| {
        tracing::info!(db.response.returned_rows = 3_i64, "rows");
        black_box(3)
    })
}

/// A request's context, current while `f` runs: recorded by `recorder`
/// when `sampled`.
fn in_request(recorder: Option<&Arc<dyn Recorder>>, sampled: bool, f: impl FnOnce()) {
    let cx = TraceContext::new_root(sampled);
    let span = match recorder {
        Some(recorder) if sampled => Span::start_shared(
            recorder,
            Decision::RecordAndSample,
            SpanStart::new(&cx, "GET /orders", SpanKind::Server),
            Vec::new,
        ),
        _ => Span::none(),
    };
    let cx = cx.with_span(&span);
    cx.scope(f);
    span.end(trace_core::Status::Unset, Vec::new());
}

fn remote(sampled: bool) -> Context {
    Context::new().with_remote_span_context(SpanContext::new(
        OtelTraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736_u128),
        OtelSpanId::from(0x00f0_67aa_0ba9_02b7_u64),
        if sampled {
            TraceFlags::SAMPLED
        } else {
            TraceFlags::default()
        },
        true,
        TraceState::default(),
    ))
}

fn own_spans(c: &mut Criterion) {
    let mut group = c.benchmark_group("own span (2 attributes, 1 event)");
    let count = Count::default();
    let provider = provider(&count);
    let tracer = provider.tracer("bench");
    for sampled in [true, false] {
        let label = if sampled { "sampled" } else { "unsampled" };

        let store = InMemoryRecorder::new(1024);
        let memory: Arc<dyn Recorder> = Arc::new(store.clone());
        in_request(Some(&memory), sampled, || {
            group.bench_function(format!("ours, in memory, {label}"), |b| b.iter(ours));
        });
        // What each row measures: recorded spans, or none.
        assert_eq!(store.finished().len() > 1, sampled, "{label}");
        let recorder: Arc<dyn Recorder> = Arc::new(OtelRecorder::new(tracer.clone()));
        in_request(Some(&recorder), sampled, || {
            group.bench_function(format!("ours, OtelRecorder, {label}"), |b| b.iter(ours));
        });

        let server = tracer.start_with_context("GET /orders", &remote(sampled));
        let active = remote(sampled).with_span(server);
        {
            let _attached = active.clone().attach();
            group.bench_function(format!("OpenTelemetry SDK in_span, {label}"), |b| {
                b.iter(|| otel(&tracer));
            });
        }
        active.span().end();

        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(tracer.clone()));
        tracing::subscriber::with_default(subscriber, || {
            let server = tracing::info_span!("GET /orders");
            let _ = server.set_parent(remote(sampled));
            server.in_scope(|| {
                group.bench_function(
                    format!("tracing info_span! under tracing-opentelemetry, {label}"),
                    |b| b.iter(with_tracing),
                );
            });
        });
    }
    group.finish();
    assert!(
        count.0.load(Ordering::Relaxed) > 0,
        "the OpenTelemetry stacks recorded"
    );
}

criterion_group!(benches, own_spans);
criterion_main!(benches);
