//! Recording spans through OpenTelemetry (feature `opentelemetry`).

use std::{
    borrow::Cow,
    cell::Cell,
    fmt,
    sync::atomic::{AtomicBool, Ordering},
};

use opentelemetry::{
    Context, KeyValue,
    trace::{
        Link, SpanContext, SpanId as OtelSpanId, SpanKind as OtelSpanKind, Status as OtelStatus,
        TraceContextExt, TraceFlags as OtelTraceFlags, TraceId as OtelTraceId,
        TraceState as OtelTraceState, Tracer,
    },
};
use opentelemetry_sdk::trace::{IdGenerator, RandomIdGenerator};

use crate::{
    codec::TraceParent,
    context::TraceContext,
    record::{
        Attribute, Event, Recorder, RecordingSpan, SpanEnd, SpanKind, SpanStart, Status, Value,
    },
};

thread_local! {
    /// The ids of the span this thread is starting through OpenTelemetry,
    /// handed to [`OtelIdGenerator`] by [`OtelRecorder`]. Two slots, each
    /// taken by its own call: the SDK asks for the span id first and, for a
    /// root, the trace id after.
    static NEXT_TRACE_ID: Cell<Option<OtelTraceId>> = const { Cell::new(None) };
    static NEXT_SPAN_ID: Cell<Option<OtelSpanId>> = const { Cell::new(None) };
    /// Set while this thread starts a span for our recorder: the span was
    /// sampled by our decision (read by `OtelSetup`'s SDK sampler, after
    /// the generator has taken the ids).
    static STARTING_OURS: Cell<bool> = const { Cell::new(false) };
}

/// An OpenTelemetry SDK `IdGenerator` that gives the spans [`OtelRecorder`]
/// starts the ids this crate chose for them, and random ids to every other
/// span.
///
/// The SDK picks span ids itself; without this generator the span id it
/// exports would not be the one injected downstream, and the exported
/// trace would not connect. Install it on the provider:
///
/// # Examples
///
/// ```
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use trace_core::OtelIdGenerator;
///
/// let provider = SdkTracerProvider::builder().with_id_generator(OtelIdGenerator::default()).build();
/// # let _ = provider;
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
#[derive(Debug, Default, Clone)]
pub struct OtelIdGenerator {
    random: RandomIdGenerator,
}

impl IdGenerator for OtelIdGenerator {
    fn new_trace_id(&self) -> OtelTraceId {
        // Taken, not read: one hand-off per span.
        NEXT_TRACE_ID.with(Cell::take).unwrap_or_else(|| {
            warn_if_split_off();
            self.random.new_trace_id()
        })
    }

    fn new_span_id(&self) -> OtelSpanId {
        NEXT_SPAN_ID
            .with(Cell::take)
            .unwrap_or_else(|| self.random.new_span_id())
    }
}

/// Records spans through the OpenTelemetry API, with a `Tracer` from the
/// provider the application set up (OTLP to a Collector, Jaeger, Tempo…).
///
/// Each span gets this crate's trace and span ids (the provider must use
/// [`OtelIdGenerator`]), the parent as a remote or local parent, kind, start
/// and end times, attributes, status, and the link of a restarted trace.
///
/// Sampling is decided by this crate's sampler and carried in the sampled
/// flag; a span is handed to OpenTelemetry only when that decision records,
/// with a parent that carries the decision, so the SDK's default
/// `ParentBased(AlwaysOn)` sampler agrees with it. Use that sampler (or
/// `AlwaysOn`) on the provider.
///
/// # Examples
///
/// ```
/// use opentelemetry::trace::TracerProvider as _;
/// use opentelemetry_sdk::trace::SdkTracerProvider;
/// use trace_core::{OtelIdGenerator, OtelRecorder};
///
/// let provider = SdkTracerProvider::builder().with_id_generator(OtelIdGenerator::default()).build();
/// let recorder = OtelRecorder::new(provider.tracer("my-service"));
/// // e.g. `TraceContextLayer::new().recorder(recorder)`
/// # let _ = recorder;
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub struct OtelRecorder<T> {
    tracer: T,
}

impl<T> OtelRecorder<T> {
    /// A recorder using this tracer.
    pub fn new(tracer: T) -> Self {
        Self { tracer }
    }
}

impl<T> fmt::Debug for OtelRecorder<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelRecorder")
            .field("tracer", &std::any::type_name::<T>())
            .finish()
    }
}

#[inline]
pub(crate) fn otel_value(value: Value<'static>) -> opentelemetry::Value {
    match value {
        // Static text stays static: no copy, no allocation.
        Value::Str(Cow::Borrowed(s)) => opentelemetry::Value::from(s),
        Value::Str(Cow::Owned(s)) => opentelemetry::Value::from(s),
        Value::I64(v) => opentelemetry::Value::I64(v),
        Value::F64(v) => opentelemetry::Value::F64(v),
        Value::Bool(v) => opentelemetry::Value::Bool(v),
    }
}

/// Our tracestate as OpenTelemetry's, without a copy when it is empty (as
/// it usually is). Ours is valid by construction, and the SDK's parser is
/// looser than ours, so it accepts it.
pub(crate) fn otel_trace_state(state: &crate::codec::TraceState) -> OtelTraceState {
    if state.is_empty() {
        return OtelTraceState::NONE;
    }
    state.to_string().parse().unwrap_or_default()
}

#[inline]
pub(crate) fn key_value(attribute: Attribute<'static>) -> KeyValue {
    KeyValue::new(attribute.key, otel_value(attribute.value))
}

pub(crate) fn kind(kind: SpanKind) -> OtelSpanKind {
    match kind {
        SpanKind::Server => OtelSpanKind::Server,
        SpanKind::Client => OtelSpanKind::Client,
        SpanKind::Producer => OtelSpanKind::Producer,
        SpanKind::Consumer => OtelSpanKind::Consumer,
        _ => OtelSpanKind::Internal,
    }
}

/// The parent as OpenTelemetry sees it: same trace, the parent's span id,
/// and this span's flags, so the SDK's parent-based sampler follows the
/// decision already made.
pub(crate) fn parent_context(cx: &TraceContext) -> Context {
    match cx.parent_span_id() {
        Some(parent) => {
            let state = otel_trace_state(cx.trace_state());
            Context::new().with_remote_span_context(SpanContext::new(
                OtelTraceId::from_bytes(cx.trace_id().to_bytes()),
                OtelSpanId::from_bytes(parent.to_bytes()),
                OtelTraceFlags::new(cx.flags().to_u8()),
                cx.is_parent_remote(),
                state,
            ))
        }
        None => Context::new(),
    }
}

/// The span context of a restarted trace's link.
pub(crate) fn link_context(link: TraceParent) -> SpanContext {
    SpanContext::new(
        OtelTraceId::from_bytes(link.trace_id().to_bytes()),
        OtelSpanId::from_bytes(link.parent_id().to_bytes()),
        OtelTraceFlags::new(link.flags().to_u8()),
        true,
        OtelTraceState::default(),
    )
}

/// Runs `start`, which starts one OpenTelemetry span, with `cx`'s ids
/// handed to [`OtelIdGenerator`] on this thread.
pub(crate) fn with_our_ids<R>(cx: &TraceContext, start: impl FnOnce() -> R) -> R {
    /// Clears the hand-off however `start` returns, by a panic too: ids
    /// left behind would go to the next span this thread starts.
    struct Clear;
    impl Drop for Clear {
        fn drop(&mut self) {
            NEXT_TRACE_ID.with(|next| next.set(None));
            NEXT_SPAN_ID.with(|next| next.set(None));
            STARTING_OURS.with(|ours| ours.set(false));
        }
    }
    STARTING_OURS.with(|ours| ours.set(true));
    NEXT_TRACE_ID.with(|next| next.set(Some(OtelTraceId::from_bytes(cx.trace_id().to_bytes()))));
    NEXT_SPAN_ID.with(|next| next.set(Some(OtelSpanId::from_bytes(cx.span_id().to_bytes()))));
    // Cleared also when the SDK did not ask (a provider without our
    // generator, or a span with a parent, whose trace id it inherits).
    let _clear = Clear;
    start()
}

/// Said once per process: a provider without [`OtelIdGenerator`].
pub(crate) static WARNED_IDS: AtomicBool = AtomicBool::new(false);
/// Said once per process: a provider whose sampler dropped a span we
/// sampled.
pub(crate) static WARNED_SAMPLER: AtomicBool = AtomicBool::new(false);

/// Says once, at the first span, what would otherwise split traces
/// silently: the provider did not take our ids (its trace would differ from
/// its children's), or its sampler dropped a span whose `sampled` flag
/// went downstream (orphans). `OtelSetup` builds a provider with neither
/// problem.
pub(crate) fn check_provider(
    recording: bool,
    started: &opentelemetry::trace::SpanContext,
    cx: &TraceContext,
) {
    if !recording {
        warn_once(
            &WARNED_SAMPLER,
            "trace-core: the OpenTelemetry provider's sampler dropped a span that trace-core sampled \
             (its `sampled` flag was sent downstream, so the spans below it will be orphans); \
             sample in one place: build the provider with trace_core::OtelSetup, or give it \
             an always-on sampler and configure trace-core's sampler instead",
        );
    } else if started.span_id().to_bytes() != cx.span_id().to_bytes()
        || started.trace_id().to_bytes() != cx.trace_id().to_bytes()
    {
        warn_once(
            &WARNED_IDS,
            "trace-core: the OpenTelemetry provider chose its own ids, so the spans it exports do \
             not match the ids sent downstream; build it with \
             .with_id_generator(trace_core::OtelIdGenerator::default()), or with trace_core::OtelSetup",
        );
    }
}

/// Said once per process: a span started as a trace of its own inside a
/// request.
pub(crate) static WARNED_SPLIT_OFF: AtomicBool = AtomicBool::new(false);

/// Whether the warning on [`WARNED_SPLIT_OFF`] was given.
pub(crate) fn warned_split_off() -> bool {
    WARNED_SPLIT_OFF.load(Ordering::Relaxed)
}

/// Someone else's span (the SDK asks for a trace id only for a root) is
/// starting a trace of its own while one of our requests is current: it
/// will not be part of the request's trace. The usual cause is a
/// tracing-opentelemetry layer that trace-core, built without its feature
/// `tracing-opentelemetry`, cannot connect.
fn warn_if_split_off() {
    if TraceContext::current_traceparent().is_some() {
        warn_once(
            &WARNED_SPLIT_OFF,
            "trace-core: a span was started as a trace of its own inside a request, so it is not \
             part of the request's trace; for spans made with `#[instrument]` or `tracing` spans, \
             enable the feature `tracing-opentelemetry` on trace-core and the adapters and record \
             with trace_core::TracingRecorder (or set up with OtelSetup::with_subscriber); for \
             spans started through the OpenTelemetry API, record the request with \
             OtelRecorder (or OtelSetup), which makes its span OpenTelemetry's current one, or \
             start them in TraceContext::current()'s to_otel_context()",
        );
    }
}

pub(crate) use crate::warn_once;

/// Whether the span the SDK is starting on this thread is one of our
/// recorder's.
pub(crate) fn is_ours() -> bool {
    STARTING_OURS.with(Cell::get)
}

impl<T> Recorder for OtelRecorder<T>
where
    T: Tracer + Send + Sync + 'static,
    T::Span: Send + Sync + 'static,
{
    fn start(&self, start: SpanStart<'_>) -> Option<Box<dyn RecordingSpan>> {
        let cx = start.context;
        // Room for what the response adds (status code, error type), so the
        // SDK's list never regrows: it keeps this vector's allocation.
        let mut attributes = Vec::with_capacity(start.attributes.len() + 5);
        attributes.extend(start.attributes.into_iter().map(key_value));
        // As the `tracing` spans carry it, and the in-memory store keeps it.
        if let Some(id) = cx.correlation_id() {
            attributes.push(KeyValue::new(
                crate::semconv::CORRELATION_ID,
                id.as_str().to_owned(),
            ));
        }
        let mut builder = self
            .tracer
            .span_builder(start.name.to_owned())
            .with_kind(kind(start.kind))
            .with_start_time(start.start_time)
            .with_attributes(attributes);
        if cx.link().is_some() || !start.links.is_empty() {
            let links = cx
                .link()
                .into_iter()
                .chain(start.links)
                .map(|link| Link::with_context(link_context(link)))
                .collect();
            builder = builder.with_links(links);
        }
        let span = with_our_ids(cx, || {
            builder.start_with_context(&self.tracer, &parent_context(cx))
        });
        check_provider(
            opentelemetry::trace::Span::is_recording(&span),
            opentelemetry::trace::Span::span_context(&span),
            cx,
        );
        // Held in a `Context`, the form the OpenTelemetry API makes current
        // (`Context::current()`) while the span's work runs; with the
        // request's baggage, which the API reads there (`cx.baggage()`).
        let mut otel = Context::new().with_span(span);
        if !cx.baggage().is_empty() {
            otel = opentelemetry::baggage::BaggageExt::with_baggage(
                &otel,
                super::propagator::to_otel_baggage(cx.baggage()),
            );
        }
        Some(Box::new(OtelSpan { cx: otel }))
    }
}

/// A span recorded through the OpenTelemetry API, as the active span of a
/// `Context`.
struct OtelSpan {
    cx: Context,
}

impl RecordingSpan for OtelSpan {
    fn set_attribute(&mut self, attribute: Attribute<'static>) {
        self.cx.span().set_attribute(key_value(attribute));
    }

    fn set_name(&mut self, name: &str) {
        self.cx.span().update_name(name.to_owned());
    }

    fn add_event(&mut self, event: Event) {
        self.cx.span().add_event_with_timestamp(
            event.name,
            event.time,
            event.attributes.into_iter().map(key_value).collect(),
        );
    }

    fn end(self: Box<Self>, end: SpanEnd) {
        let span = self.cx.span();
        span.set_attributes(end.attributes.into_iter().map(key_value));
        match end.status {
            Status::Unset => {}
            Status::Ok => span.set_status(OtelStatus::Ok),
            Status::Error { error_type } => span.set_status(OtelStatus::error(error_type)),
        }
        span.end_with_timestamp(end.end_time);
    }

    fn otel_context(&self) -> Option<Context> {
        Some(self.cx.clone())
    }
}

#[cfg(test)]
mod tests {
    use opentelemetry::trace::TracerProvider as _;
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracerProvider};

    use super::*;
    use crate::{codec::TraceParent, record::Span, sampling::Decision};

    fn provider() -> (SdkTracerProvider, InMemorySpanExporter) {
        let exporter = InMemorySpanExporter::default();
        let provider = SdkTracerProvider::builder()
            .with_id_generator(OtelIdGenerator::default())
            .with_simple_exporter(exporter.clone())
            .build();
        (provider, exporter)
    }

    #[test]
    fn a_provider_that_would_split_traces_is_named_once() {
        // Without our id generator, and with a sampler that drops all.
        let exporter = InMemorySpanExporter::default();
        let no_ids = SdkTracerProvider::builder()
            .with_simple_exporter(exporter)
            .build();
        let dropping = SdkTracerProvider::builder()
            .with_id_generator(OtelIdGenerator::default())
            .with_sampler(opentelemetry_sdk::trace::Sampler::AlwaysOff)
            .build();
        let cx = TraceContext::new_root(true);
        for provider in [&no_ids, &dropping] {
            let span = Span::start(
                &OtelRecorder::new(provider.tracer("test")),
                Decision::RecordAndSample,
                SpanStart::new(&cx, "GET /", SpanKind::Server),
                Vec::new,
            );
            span.end(Status::Unset, Vec::new());
        }
        assert!(WARNED_IDS.load(Ordering::Relaxed));
        assert!(WARNED_SAMPLER.load(Ordering::Relaxed));
    }

    #[test]
    fn the_id_hand_off_is_cleared_when_the_sdk_panics() {
        let cx = TraceContext::new_root(true);
        let panicked = std::panic::catch_unwind(|| {
            with_our_ids(&cx, || panic!("an SDK that panics (expected by this test)"))
        });
        assert!(panicked.is_err());
        assert!(NEXT_TRACE_ID.with(Cell::get).is_none());
        assert!(NEXT_SPAN_ID.with(Cell::get).is_none());
    }

    #[test]
    fn a_name_given_later_is_exported() {
        let (provider, exporter) = provider();
        let recorder = OtelRecorder::new(provider.tracer("test"));
        let cx = TraceContext::new_root(true);
        let mut span = Span::start(
            &recorder,
            Decision::RecordAndSample,
            SpanStart::new(&cx, "no.Such/Method", SpanKind::Server),
            Vec::new,
        );
        span.set_name("grpc");
        span.end(Status::Unset, Vec::new());
        let spans = exporter.get_finished_spans().unwrap();
        assert_eq!(spans[0].name, "grpc");
    }

    #[test]
    fn exported_ids_are_the_ids_we_chose() {
        let (provider, exporter) = provider();
        let recorder = OtelRecorder::new(provider.tracer("test"));
        let incoming =
            TraceParent::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
        let server = TraceContext::remote(incoming).child();
        let span = Span::start(
            &recorder,
            Decision::RecordAndSample,
            SpanStart::new(&server, "GET /x", SpanKind::Server),
            || vec![Attribute::new("http.request.method", "GET")],
        );
        span.end(
            Status::error("500"),
            vec![Attribute::new("http.response.status_code", 500_i64)],
        );

        let spans = exporter.get_finished_spans().unwrap();
        let [exported] = &spans[..] else {
            panic!("one span: {spans:?}")
        };
        assert_eq!(
            exported.span_context.trace_id().to_bytes(),
            server.trace_id().to_bytes()
        );
        assert_eq!(
            exported.span_context.span_id().to_bytes(),
            server.span_id().to_bytes(),
            "the injected id"
        );
        assert_eq!(
            exported.parent_span_id.to_bytes(),
            incoming.parent_id().to_bytes()
        );
        assert!(exported.parent_span_is_remote);
        assert_eq!(exported.span_kind, OtelSpanKind::Server);
        assert_eq!(exported.name, "GET /x");
        assert_eq!(exported.status, OtelStatus::error("500"));
        let keys: Vec<_> = exported
            .attributes
            .iter()
            .map(|kv| kv.key.as_str())
            .collect();
        assert_eq!(
            keys,
            [
                "http.request.method",
                "http.response.status_code",
                "error.type"
            ],
            "error.type comes from the status"
        );
    }

    #[test]
    fn roots_children_and_links() {
        let (provider, exporter) = provider();
        let recorder = OtelRecorder::new(provider.tracer("test"));
        let link =
            TraceParent::from_static("00-11111111111111111111111111111111-2222222222222222-01");
        let root = TraceContext::new_root(true).with_link(link);
        let child = root.child();
        Span::start(
            &recorder,
            Decision::RecordAndSample,
            SpanStart::new(&child, "GET", SpanKind::Client),
            Vec::new,
        )
        .end(Status::Unset, Vec::new());
        Span::start(
            &recorder,
            Decision::RecordAndSample,
            SpanStart::new(&root, "GET /", SpanKind::Server),
            Vec::new,
        )
        .end(Status::Unset, Vec::new());

        let spans = exporter.get_finished_spans().unwrap();
        let client = spans
            .iter()
            .find(|s| s.span_kind == OtelSpanKind::Client)
            .unwrap();
        let server = spans
            .iter()
            .find(|s| s.span_kind == OtelSpanKind::Server)
            .unwrap();
        assert_eq!(
            server.span_context.trace_id().to_bytes(),
            root.trace_id().to_bytes(),
            "a root keeps our trace id"
        );
        assert_eq!(server.parent_span_id, OtelSpanId::INVALID);
        assert_eq!(client.parent_span_id.to_bytes(), root.span_id().to_bytes());
        assert!(!client.parent_span_is_remote, "a local parent");
        assert_eq!(server.links.links.len(), 1, "the restarted trace's link");
        assert_eq!(
            server.links.links[0].span_context.trace_id().to_bytes(),
            link.trace_id().to_bytes()
        );
    }

    #[test]
    fn other_spans_get_random_ids() {
        let generator = OtelIdGenerator::default();
        assert_ne!(generator.new_span_id(), generator.new_span_id());
        assert_ne!(generator.new_trace_id(), OtelTraceId::INVALID);
    }
}
