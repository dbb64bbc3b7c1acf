//! Recording through `tracing` for `tracing-opentelemetry` users (feature
//! `tracing-opentelemetry`).

use opentelemetry::trace::Status as OtelStatus;
use tracing_opentelemetry::OpenTelemetrySpanExt as _;

use super::span::new_span;
use crate::{
    integrations::opentelemetry::{
        check_provider, link_context, otel_value, parent_context, with_our_ids,
    },
    record::{Attribute, Event, Recorder, RecordingSpan, SpanEnd, SpanStart, Status},
};

/// Records this crate's spans as `tracing` spans that a
/// `tracing_opentelemetry` layer exports with this crate's ids: the setup
/// for applications that export through `tracing-opentelemetry`.
///
/// Each recorded span is a `tracing` span (see
/// [`TraceContext::tracing_span`](crate::TraceContext::tracing_span) for its name and fields) whose
/// OpenTelemetry span has this crate's trace and span ids (the provider
/// must use [`OtelIdGenerator`](crate::integrations::opentelemetry::OtelIdGenerator)), the caller's span
/// as its parent, the kind, the attributes, the status and the link of a
/// restarted trace. The adapters keep it entered while the request runs,
/// so spans made inside a handler with `#[instrument]` are its children in
/// the exported trace, and every log line carries the IDs.
///
/// Use it instead of [`OtelRecorder`](crate::integrations::opentelemetry::OtelRecorder), not with it:
/// both would export the same span. Without a `tracing_opentelemetry` layer
/// the spans still carry the IDs into logs, and nothing is exported.
///
/// # Examples
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use tracing_subscriber::layer::SubscriberExt as _;
/// use trace_core::{OtelIdGenerator, TracingRecorder};
///
/// let provider = SdkTracerProvider::builder().with_id_generator(OtelIdGenerator::default()).build();
/// let subscriber = tracing_subscriber::registry()
///     .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("my-service")));
/// let _guard = tracing::subscriber::set_default(subscriber);
/// // e.g. `TraceContextLayer::new().recorder(TracingRecorder)`
/// let recorder = TracingRecorder;
/// # let _ = recorder;
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tracing-opentelemetry")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct TracingRecorder;

impl Recorder for TracingRecorder {
    fn start(&self, start: SpanStart<'_>) -> Option<Box<dyn RecordingSpan>> {
        let cx = start.context;
        let span = new_span(cx, start.name, start.kind);
        if span.is_disabled() {
            return None;
        }
        // All of this goes into the span's builder before it starts, as it
        // would for a span started through the OpenTelemetry API.
        // With the context itself, so that what runs under this span with
        // no context of ours (a task spawned with `.in_current_span()`)
        // finds it whole: correlation ID and baggage too.
        let _ = span.set_parent(parent_context(cx).with_value(cx.clone()));
        for link in cx.link().into_iter().chain(start.links) {
            span.add_link(link_context(link));
        }
        for attribute in start.attributes {
            span.set_attribute(attribute.key, otel_value(attribute.value));
        }
        // Asking for the span's context starts it, here, on this thread:
        // the id generator takes our ids (when the provider has ours).
        let started = with_our_ids(cx, || span.context());
        let started = opentelemetry::trace::TraceContextExt::span(&started);
        // Without a tracing-opentelemetry layer there is no span to check.
        if started.span_context().is_valid() {
            check_provider(true, started.span_context(), cx);
        }
        Some(Box::new(TracingSpan { span }))
    }
}

struct TracingSpan {
    span: tracing::Span,
}

impl RecordingSpan for TracingSpan {
    fn set_attribute(&mut self, attribute: Attribute<'static>) {
        self.span
            .set_attribute(attribute.key, otel_value(attribute.value));
    }

    fn add_event(&mut self, event: Event) {
        self.span.add_event_with_timestamp(
            event.name,
            event.time,
            event
                .attributes
                .into_iter()
                .map(|a| opentelemetry::KeyValue::new(a.key, otel_value(a.value)))
                .collect(),
        );
    }

    fn end(self: Box<Self>, end: SpanEnd) {
        for attribute in end.attributes {
            self.span
                .set_attribute(attribute.key, otel_value(attribute.value));
        }
        match end.status {
            Status::Unset => {}
            Status::Ok => self.span.set_status(OtelStatus::Ok),
            Status::Error { error_type } => self.span.set_status(OtelStatus::error(error_type)),
        }
        // The OpenTelemetry span ends when the last handle to the `tracing`
        // span is dropped: this one, or the adapter's if it is still
        // running.
    }

    fn tracing_span(&self) -> Option<&tracing::Span> {
        Some(&self.span)
    }
}

/// A span processor that takes out of the spans [`TracingRecorder`]
/// records what only logs need: the `trace_id` and `span_id` fields (the
/// span's own ids, again), and the `code.*` location and `target` that
/// tracing-opentelemetry adds (a line inside trace-core, the same for
/// every request). Spans made elsewhere (your `#[instrument]` functions)
/// pass untouched. [`OtelSetup`](crate::OtelSetup) puts it in front of its
/// exporter; wrap your own processor with it when you build the provider
/// yourself.
///
/// # Examples
///
/// ```
/// use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SimpleSpanProcessor};
/// use trace_core::{LeanSpans, OtelIdGenerator};
///
/// let exporter = InMemorySpanExporter::default();
/// let provider = SdkTracerProvider::builder()
///     .with_id_generator(OtelIdGenerator::default())
///     .with_span_processor(LeanSpans::new(SimpleSpanProcessor::new(exporter.clone())))
///     .build();
/// # drop(provider);
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "tracing-opentelemetry")))]
#[derive(Debug)]
pub struct LeanSpans<P> {
    next: P,
}

impl<P> LeanSpans<P> {
    /// Hands the trimmed spans to `next`.
    pub const fn new(next: P) -> Self {
        Self { next }
    }
}

impl<P: opentelemetry_sdk::trace::SpanProcessor> opentelemetry_sdk::trace::SpanProcessor
    for LeanSpans<P>
{
    fn on_start(&self, span: &mut opentelemetry_sdk::trace::Span, cx: &opentelemetry::Context) {
        self.next.on_start(span, cx);
    }

    fn on_end(&self, mut span: opentelemetry_sdk::trace::SpanData) {
        if records_its_own_ids(&span) {
            span.attributes.retain(|kv| {
                let key = kv.key.as_str();
                !(matches!(key, "trace_id" | "span_id" | "target") || key.starts_with("code."))
            });
        }
        self.next.on_end(span);
    }

    fn force_flush(&self) -> opentelemetry_sdk::error::OTelSdkResult {
        self.next.force_flush()
    }

    fn shutdown_with_timeout(
        &self,
        timeout: std::time::Duration,
    ) -> opentelemetry_sdk::error::OTelSdkResult {
        self.next.shutdown_with_timeout(timeout)
    }

    fn set_resource(&mut self, resource: &opentelemetry_sdk::Resource) {
        self.next.set_resource(resource);
    }
}

/// Whether the span carries its own ids as `trace_id` and `span_id`
/// attributes: one of ours, recorded through `tracing`.
fn records_its_own_ids(span: &opentelemetry_sdk::trace::SpanData) -> bool {
    let hex = |key: &str| {
        span.attributes.iter().find_map(|kv| match &kv.value {
            opentelemetry::Value::String(value) if kv.key.as_str() == key => {
                u128::from_str_radix(value.as_str(), 16).ok()
            }
            _ => None,
        })
    };
    let ids = &span.span_context;
    hex("trace_id") == Some(u128::from_be_bytes(ids.trace_id().to_bytes()))
        && hex("span_id") == Some(u128::from(u64::from_be_bytes(ids.span_id().to_bytes())))
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::{SpanKind as OtelSpanKind, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider, SpanData};
    use tracing_subscriber::layer::SubscriberExt as _;

    use super::*;
    use crate::{
        codec::TraceParent,
        context::TraceContext,
        integrations::opentelemetry::OtelIdGenerator,
        record::{Span, SpanKind},
        sampling::{AlwaysOff, AlwaysOn, Decision},
    };

    fn exported(f: impl FnOnce()) -> Vec<SpanData> {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_id_generator(OtelIdGenerator::default())
            .with_simple_exporter(exporter.clone())
            .build();
        let subscriber = tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("test")));
        tracing::subscriber::with_default(subscriber, f);
        exporter.get_finished_spans().unwrap()
    }

    #[tracing::instrument]
    fn handler() {
        tracing::info!("inside");
    }

    const INCOMING: TraceParent =
        TraceParent::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");

    #[test]
    fn instrumented_spans_are_children_of_the_server_span() {
        let server = TraceContext::remote(INCOMING).child();
        let spans = exported(|| {
            let span = Span::start(
                &TracingRecorder,
                Decision::RecordAndSample,
                SpanStart::new(&server, "GET /x", SpanKind::Server),
                || vec![Attribute::new("http.request.method", "GET")],
            );
            let entered = span.tracing_span(&server, "GET /x", SpanKind::Server);
            entered.in_scope(handler);
            drop(entered);
            span.end(
                Status::error("500"),
                vec![Attribute::new("http.response.status_code", 500_i64)],
            );
        });
        let [handler, request] = &spans[..] else {
            panic!("two spans: {spans:?}")
        };
        assert_eq!(request.name, "GET /x");
        assert_eq!(request.span_kind, OtelSpanKind::Server);
        assert_eq!(
            request.span_context.span_id().to_bytes(),
            server.span_id().to_bytes(),
            "exported with the id injected downstream"
        );
        assert_eq!(
            request.span_context.trace_id().to_bytes(),
            server.trace_id().to_bytes()
        );
        assert_eq!(
            request.parent_span_id.to_bytes(),
            INCOMING.parent_id().to_bytes()
        );
        assert_eq!(request.status, OtelStatus::error("500"));
        for key in ["http.request.method", "http.response.status_code"] {
            assert!(
                request.attributes.iter().any(|kv| kv.key.as_str() == key),
                "{key}: {:?}",
                request.attributes
            );
        }
        assert_eq!(handler.name, "handler");
        assert_eq!(handler.parent_span_id, request.span_context.span_id());
        assert_eq!(
            handler.span_context.trace_id(),
            request.span_context.trace_id()
        );
    }

    #[test]
    fn a_renamed_span_keeps_its_first_name() {
        let cx = TraceContext::new_root(true);
        let spans = exported(|| {
            let mut span = Span::start(
                &TracingRecorder,
                Decision::RecordAndSample,
                SpanStart::new(&cx, "no.Such/Method", SpanKind::Server),
                Vec::new,
            );
            span.set_name("grpc");
            span.end(Status::Unset, Vec::new());
        });
        assert_eq!(
            spans[0].name, "no.Such/Method",
            "tracing-opentelemetry takes no name once a span has started"
        );
    }

    #[tracing::instrument]
    fn calls_out(tracing: &crate::instrument::ClientTracing) {
        let parent = TraceContext::attached_or_current(None);
        let call = tracing.start_call(
            parent.as_ref(),
            "GET",
            None,
            &mut http::HeaderMap::new(),
            Vec::new,
        );
        call.span.end(Status::Unset, Vec::new());
    }

    #[test]
    fn a_call_inside_an_instrumented_function_is_its_child() {
        let server = TraceContext::remote(INCOMING).child();
        let client = crate::instrument::ClientTracing::default().recorder(TracingRecorder);
        let spans = exported(|| {
            let span = Span::start(
                &TracingRecorder,
                Decision::RecordAndSample,
                SpanStart::new(&server, "GET /x", SpanKind::Server),
                Vec::new,
            );
            let entered = span.tracing_span(&server, "GET /x", SpanKind::Server);
            let _current = server.clone().attach();
            entered.in_scope(|| calls_out(&client));
            drop(entered);
            span.end(Status::Unset, Vec::new());
        });
        let find = |name: &str| spans.iter().find(|s| s.name == name).unwrap();
        let (request, function, call) = (find("GET /x"), find("calls_out"), find("GET"));
        assert_eq!(function.parent_span_id, request.span_context.span_id());
        assert_eq!(
            call.parent_span_id,
            function.span_context.span_id(),
            "nested where it ran, as its log lines are"
        );
        assert_eq!(
            call.span_context.trace_id(),
            request.span_context.trace_id()
        );
    }

    #[test]
    fn another_recorder_beside_a_tracing_opentelemetry_layer_is_named_once() {
        use std::sync::atomic::Ordering;

        use crate::integrations::tracing::span::WARNED_TWICE;

        // OtelRecorder on one provider and a tracing-opentelemetry layer
        // on another: each operation would be exported twice.
        let (exporter, provider) = {
            let exporter = InMemorySpanExporter::default();
            let provider = SdkTracerProvider::builder()
                .with_id_generator(OtelIdGenerator::default())
                .with_simple_exporter(exporter.clone())
                .build();
            (exporter, provider)
        };
        let recorder = crate::OtelRecorder::new(provider.tracer("recorder"));
        let cx = TraceContext::new_root(true);
        let request = || {
            let span = Span::start(
                &recorder,
                Decision::RecordAndSample,
                SpanStart::new(&cx, "GET /x", SpanKind::Server),
                Vec::new,
            );
            drop(span.tracing_span(&cx, "GET /x", SpanKind::Server));
            span.end(Status::Unset, Vec::new());
        };
        // A subscriber without the layer: nothing to say.
        tracing::subscriber::with_default(tracing_subscriber::registry(), request);
        assert!(!WARNED_TWICE.load(Ordering::Relaxed));
        let layer_spans = exported(request);
        assert!(WARNED_TWICE.load(Ordering::Relaxed));
        assert_eq!(
            exporter.get_finished_spans().unwrap().len(),
            2,
            "one per request"
        );
        assert_eq!(
            layer_spans.len(),
            1,
            "the case the warning names: two spans for one operation"
        );
    }

    #[test]
    fn an_unsampled_request_exports_nothing() {
        let started = crate::propagation::Incoming::default().start(
            crate::policy::Trust::CONTINUE,
            &AlwaysOff,
            "GET /x",
            SpanKind::Server,
            &[],
        );
        let cx = started.context;
        let spans = exported(|| {
            let span = Span::start(
                &TracingRecorder,
                started.decision,
                SpanStart::new(&cx, "GET /x", SpanKind::Server),
                Vec::new,
            );
            assert!(!span.is_recording());
            span.tracing_span(&cx, "GET /x", SpanKind::Server)
                .in_scope(handler);
        });
        assert!(spans.is_empty(), "{spans:?}");
    }

    #[test]
    fn a_restarted_trace_is_linked() {
        let started = crate::propagation::Incoming {
            parent: Some(INCOMING),
            ..crate::propagation::Incoming::default()
        }
        .start(
            crate::policy::Trust::NEW_ROOT,
            &AlwaysOn,
            "GET /x",
            SpanKind::Server,
            &[],
        );
        let cx = started.context;
        let spans = exported(|| {
            Span::start(
                &TracingRecorder,
                started.decision,
                SpanStart::new(&cx, "GET /x", SpanKind::Server),
                Vec::new,
            )
            .end(Status::Unset, Vec::new());
        });
        let [root] = &spans[..] else {
            panic!("{spans:?}")
        };
        assert_eq!(
            root.span_context.trace_id().to_bytes(),
            cx.trace_id().to_bytes(),
            "a root keeps our trace id"
        );
        assert_eq!(root.links.links.len(), 1);
        assert_eq!(
            root.links.links[0].span_context.span_id().to_bytes(),
            INCOMING.parent_id().to_bytes()
        );
    }
}
