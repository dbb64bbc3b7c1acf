//! The stacks users assemble from the ecosystem for the jobs our layer
//! does, shared by the `layer` benchmark and the `callgrind` and
//! `throughput` examples.

#![allow(dead_code)]

use std::{
    collections::VecDeque,
    sync::{
        Arc, Mutex,
        atomic::{AtomicUsize, Ordering},
    },
};

use axum::{Router, body::Body};
use http::{HeaderName, Request};
use opentelemetry::propagation::TextMapPropagator as _;
use opentelemetry_http::HeaderExtractor;
use opentelemetry_sdk::{
    error::OTelSdkResult,
    propagation::TraceContextPropagator,
    trace::{SdkTracerProvider, SpanData, SpanExporter},
};
use tower_http::request_id::{MakeRequestUuid, PropagateRequestIdLayer, SetRequestIdLayer};
use trace_core::OtelIdGenerator;

/// The caller's trace context, extracted the way OpenTelemetry users do
/// it, put where a handler finds it.
pub(crate) fn otel_extract(mut request: Request<Body>) -> Request<Body> {
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(request.headers()));
    request.extensions_mut().insert(cx);
    request
}

/// The propagation job as users assemble it from tower-http and
/// OpenTelemetry today.
pub(crate) fn tower_http_propagation(app: Router) -> Router {
    let x_request_id = HeaderName::from_static("x-request-id");
    app.layer(PropagateRequestIdLayer::new(x_request_id.clone()))
        .layer(tower::util::MapRequestLayer::new(otel_extract))
        .layer(SetRequestIdLayer::new(x_request_id, MakeRequestUuid))
}

/// A `tracing` layer that keeps each closed span's name and fields, as our
/// in-memory recorder keeps each span: the recording side of tower-http's
/// `TraceLayer`. Bounded like our store.
#[derive(Clone, Default)]
pub(crate) struct KeepSpans(pub(crate) Arc<Mutex<VecDeque<Kept>>>);

/// A closed span's name and fields.
pub(crate) type Kept = (String, Vec<(String, String)>);

struct Fields(Vec<(String, String)>);

impl tracing::field::Visit for Fields {
    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        self.0.push((field.name().to_owned(), format!("{value:?}")));
    }
}

impl<S> tracing_subscriber::Layer<S> for KeepSpans
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    fn on_new_span(
        &self,
        attrs: &tracing::span::Attributes<'_>,
        id: &tracing::span::Id,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        let mut fields = Fields(Vec::new());
        attrs.record(&mut fields);
        if let Some(span) = ctx.span(id) {
            span.extensions_mut().insert(fields);
        }
    }

    fn on_record(
        &self,
        id: &tracing::span::Id,
        values: &tracing::span::Record<'_>,
        ctx: tracing_subscriber::layer::Context<'_, S>,
    ) {
        if let Some(span) = ctx.span(id)
            && let Some(fields) = span.extensions_mut().get_mut::<Fields>()
        {
            values.record(fields);
        }
    }

    fn on_close(&self, id: tracing::span::Id, ctx: tracing_subscriber::layer::Context<'_, S>) {
        if let Some(span) = ctx.span(&id) {
            let fields = span
                .extensions_mut()
                .remove::<Fields>()
                .map_or_else(Vec::new, |f| f.0);
            let mut kept = self.0.lock().unwrap();
            if kept.len() == 1024 {
                kept.pop_front();
            }
            kept.push_back((span.name().to_owned(), fields));
        }
    }
}

/// An exporter that drops spans: the benchmark measures the request path,
/// not a network.
/// It counts them, to check that both stacks export.
#[derive(Debug, Clone, Default)]
pub(crate) struct Discard(pub(crate) Arc<AtomicUsize>);

impl SpanExporter for Discard {
    async fn export(&self, batch: Vec<SpanData>) -> OTelSdkResult {
        self.0.fetch_add(batch.len(), Ordering::Relaxed);
        Ok(())
    }
}

pub(crate) fn otel_provider(exporter: Discard) -> SdkTracerProvider {
    SdkTracerProvider::builder()
        .with_id_generator(OtelIdGenerator::default())
        .with_batch_exporter(exporter)
        .build()
}
