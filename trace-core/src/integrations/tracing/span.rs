//! `tracing` integration (feature `tracing`): a span per unit of work whose
//! fields carry the trace, span and correlation IDs, so that every log line
//! written inside it can be found by them.

use crate::{
    context::TraceContext,
    record::{Span, SpanKind},
};

impl TraceContext {
    /// A `tracing` span (level INFO, target `trace_core`) for the work done
    /// in this context, with the fields `trace_id`, `span_id`,
    /// `correlation_id` (when there is one), and `otel.name` and `otel.kind`
    /// for layers that export spans. The adapters open one per request and
    /// keep it entered while the request runs, so every event a handler
    /// logs carries the IDs.
    ///
    /// The span is called `request` for server and consumer work, `call`
    /// for client and producer calls, and `work` otherwise. Field values
    /// are computed only when a subscriber wants the span.
    ///
    /// With the feature `tracing-opentelemetry` and a
    /// `tracing_opentelemetry` layer installed, the span's OpenTelemetry
    /// parent is this context's span, with its sampled flag: spans made
    /// inside it join this trace (see [`TracingRecorder`](crate::TracingRecorder)
    /// to export the span itself as this context's span).
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::{SpanKind, TraceContext};
    ///
    /// let cx = TraceContext::new_root(true);
    /// let span = cx.tracing_span("GET /users/{id}", SpanKind::Server);
    /// let _entered = span.enter();
    /// tracing::info!("every event in here carries trace_id, span_id and correlation_id");
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    #[must_use]
    pub fn tracing_span(&self, name: &str, kind: SpanKind) -> tracing::Span {
        let span = new_span(self, name, kind);
        #[cfg(feature = "tracing-opentelemetry")]
        parent_is(&span, self);
        span
    }
}

/// The span, without any OpenTelemetry parent. One macro call per name:
/// `tracing` names are static.
pub(crate) fn new_span(cx: &TraceContext, name: &str, kind: SpanKind) -> tracing::Span {
    let correlation_id = cx.correlation_id().map(|id| id.as_str());
    macro_rules! span {
        ($name:literal) => {
            tracing::info_span!(
                target: "trace_core",
                $name,
                otel.name = name,
                otel.kind = kind.as_str(),
                trace_id = %cx.trace_id(),
                span_id = %cx.span_id(),
                correlation_id,
            )
        };
    }
    match kind {
        SpanKind::Server | SpanKind::Consumer => span!("request"),
        SpanKind::Client | SpanKind::Producer => span!("call"),
        SpanKind::Internal => span!("work"),
    }
}

#[cfg(feature = "tracing-opentelemetry")]
impl TraceContext {
    /// The context of the current `tracing` span, when it has a valid
    /// OpenTelemetry one (a tracing-opentelemetry layer records it), for
    /// work that has no context of ours: a task spawned with
    /// `.in_current_span()` alone.
    pub(crate) fn of_current_tracing_span() -> Option<Self> {
        let current = tracing::Span::current();
        if current.is_disabled() {
            return None;
        }
        Self::from_otel_context(&tracing_opentelemetry::OpenTelemetrySpanExt::context(
            &current,
        ))
    }

    /// This context, as the parent of work done under the current
    /// `tracing` span: that span's OpenTelemetry span id when it belongs to
    /// this trace (an `#[instrument]` span inside the request), else
    /// unchanged.
    pub(crate) fn under_current_tracing_span(self) -> Self {
        use opentelemetry::trace::TraceContextExt as _;

        let current = tracing::Span::current();
        if current.is_disabled() {
            return self;
        }
        let otel = tracing_opentelemetry::OpenTelemetrySpanExt::context(&current);
        let span = otel.span();
        let inner = span.span_context();
        if inner.is_valid() && inner.trace_id().to_bytes() == self.trace_id().to_bytes() {
            let id = crate::codec::SpanId::from_bytes(inner.span_id().to_bytes());
            self.with_span_id(id)
        } else {
            self
        }
    }
}

#[cfg(feature = "tracing-opentelemetry")]
/// Makes `cx`'s span the OpenTelemetry parent of `span`, with its sampled
/// flag: what is made inside `span` joins `cx`'s trace, and is dropped by
/// a parent-based sampler when `cx` is not sampled.
fn parent_is(span: &tracing::Span, cx: &TraceContext) {
    // Without a `tracing_opentelemetry` layer there is nothing to connect;
    // a disabled span (no subscriber wants it) costs nothing.
    if !span.is_disabled() {
        let _ = tracing_opentelemetry::OpenTelemetrySpanExt::set_parent(span, cx.to_otel_context());
    }
}

impl Span {
    /// The `tracing` span for the work this span measures, to keep
    /// entered while it runs: the recorder's own when it records through
    /// `tracing`, else [`TraceContext::tracing_span`].
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    #[must_use]
    pub fn tracing_span(
        &self,
        context: &TraceContext,
        name: &str,
        kind: SpanKind,
    ) -> tracing::Span {
        if let Some(own) = self.recorded_tracing_span() {
            return own;
        }
        let span = context.tracing_span(name, kind);
        #[cfg(feature = "tracing-opentelemetry")]
        warn_if_exported_twice(&span, context, self.is_recording());
        #[cfg(all(feature = "opentelemetry", not(feature = "tracing-opentelemetry")))]
        warn_if_split(&span);
        span
    }
}

/// Said once per process: a tracing-opentelemetry layer that trace-core,
/// built without its feature `tracing-opentelemetry`, cannot connect.
#[cfg(all(feature = "opentelemetry", not(feature = "tracing-opentelemetry")))]
pub(crate) static WARNED_SPLIT: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// Without the feature `tracing-opentelemetry`, trace-core cannot give a
/// tracing-opentelemetry layer the request's ids: the layer would export
/// each request's `tracing` span as a trace of its own, with the
/// `#[instrument]` spans under it, apart from the trace sent downstream.
/// A layer shows itself by making the span's OpenTelemetry context current
/// while it is entered. Said once, with the fix (until then, each request
/// with a subscriber enters its span once more to ask).
#[cfg(all(feature = "opentelemetry", not(feature = "tracing-opentelemetry")))]
fn warn_if_split(span: &tracing::Span) {
    use std::sync::atomic::Ordering;

    use opentelemetry::trace::TraceContextExt as _;

    if span.is_disabled() || WARNED_SPLIT.load(Ordering::Relaxed) {
        return;
    }
    let current = || {
        opentelemetry::Context::current()
            .span()
            .span_context()
            .span_id()
    };
    let outside = current();
    let inside = span.in_scope(current);
    if inside != outside && !WARNED_SPLIT.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "trace-core: a tracing-opentelemetry layer exports each request's `tracing` span as a \
             trace of its own, apart from the trace sent downstream (trace-core was built without \
             its feature `tracing-opentelemetry`, so it cannot give that span the request's ids); \
             enable the feature `tracing-opentelemetry` on trace-core and the adapters and record \
             with trace_core::TracingRecorder, or set everything up with \
             trace_core::OtelSetup::with_subscriber"
        );
    }
}

/// Said once per process: a tracing-opentelemetry layer beside a recorder
/// of our own.
#[cfg(feature = "tracing-opentelemetry")]
pub(crate) static WARNED_TWICE: std::sync::atomic::AtomicBool =
    std::sync::atomic::AtomicBool::new(false);

/// For a request not recorded by `TracingRecorder`: if a
/// tracing-opentelemetry layer is installed, it exports this `tracing`
/// span with ids of its own, beside the recorder's span (every operation
/// exported twice) or, with no recorder, in place of it (ids that are not
/// the ones sent downstream). Said once, with the fix (until then, each
/// request asks the subscriber whether the span has a sampled
/// OpenTelemetry span of its own).
#[cfg(feature = "tracing-opentelemetry")]
fn warn_if_exported_twice(span: &tracing::Span, context: &TraceContext, recording: bool) {
    use std::sync::atomic::Ordering;

    use opentelemetry::trace::TraceContextExt as _;

    if span.is_disabled() || WARNED_TWICE.load(Ordering::Relaxed) {
        return;
    }
    let otel = tracing_opentelemetry::OpenTelemetrySpanExt::context(span);
    let inner = otel.span();
    let ids = inner.span_context();
    // With a layer, the span has an OpenTelemetry span of its own.
    if ids.is_valid()
        && ids.is_sampled()
        && ids.span_id().to_bytes() != context.span_id().to_bytes()
        && !WARNED_TWICE.swap(true, Ordering::Relaxed)
    {
        if recording {
            tracing::warn!(
                "trace-core: a tracing-opentelemetry layer exports each request's `tracing` span as \
                 well as the recorder's span, so every operation is exported twice; with that \
                 layer, record with trace_core::TracingRecorder instead (it exports the `tracing` \
                 span itself, with our ids)"
            );
        } else {
            tracing::warn!(
                "trace-core: a tracing-opentelemetry layer exports each request's `tracing` span \
                 with ids of its own, not the ones sent downstream, so the services below hang \
                 from a span that is never exported; with that layer, record with \
                 trace_core::TracingRecorder (it exports the `tracing` span with our ids)"
            );
        }
    }
}

/// A DEBUG event (target `trace_core`) naming the incoming trace headers
/// that were dropped and why: the reasons only, never the values.
pub(crate) fn log_dropped(dropped: crate::propagation::Dropped) {
    if !dropped.is_empty() {
        tracing::debug!(
            target: "trace_core",
            traceparent = ?dropped.traceparent,
            tracestate = ?dropped.tracestate,
            baggage = ?dropped.baggage,
            correlation_id = ?dropped.correlation_id,
            "incoming trace headers dropped"
        );
    }
}

#[cfg(test)]
mod tests {
    use std::{
        io,
        sync::{Arc, Mutex},
    };

    use tracing_subscriber::fmt::MakeWriter;

    use super::*;
    use crate::codec::{CorrelationId, TraceParent};

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }

        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Buffer {
        type Writer = Self;

        fn make_writer(&'a self) -> Self {
            self.clone()
        }
    }

    #[test]
    fn log_lines_carry_the_ids() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .with_ansi(false)
            .finish();
        let cx = TraceContext::remote(TraceParent::from_static(
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
        ))
        .child()
        .with_correlation_id("req-42".parse::<CorrelationId>().unwrap());
        tracing::subscriber::with_default(subscriber, || {
            let span = cx.tracing_span("GET /x", SpanKind::Server);
            let _entered = span.enter();
            tracing::info!("handled");
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(out.contains("request{"), "{out}");
        assert!(
            out.contains("trace_id=4bf92f3577b34da6a3ce929d0e0e4736"),
            "{out}"
        );
        assert!(out.contains(&format!("span_id={}", cx.span_id())), "{out}");
        assert!(out.contains("correlation_id=\"req-42\""), "{out}");
        assert!(out.contains("handled"), "{out}");
    }

    #[test]
    fn a_dropped_header_is_a_debug_event_with_the_reason_and_not_the_value() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .with_max_level(tracing::Level::DEBUG)
            .with_ansi(false)
            .finish();
        let request = http::Request::builder()
            .header("traceparent", "00-SECRETzzzz-not-hex-01")
            .header("x-request-id", "ok-id")
            .body(())
            .unwrap();
        tracing::subscriber::with_default(subscriber, || {
            drop(crate::ServerTracing::new().start(&request, None, None));
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert!(out.contains("DEBUG"), "{out}");
        assert!(out.contains("incoming trace headers dropped"), "{out}");
        assert!(out.contains("traceparent=Some(Invalid("), "{out}");
        assert!(out.contains("correlation_id=None"), "{out}");
        assert!(!out.contains("SECRET"), "never the value: {out}");
    }

    #[test]
    fn responses_are_logged_when_asked() {
        let buffer = Buffer::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(buffer.clone())
            .with_ansi(false)
            .finish();
        let request = http::Request::builder()
            .header("x-request-id", "req-7")
            .body(())
            .unwrap();
        tracing::subscriber::with_default(subscriber, || {
            for log in [false, true] {
                let tracing = crate::ServerTracing::new().log_responses(log);
                let started = tracing.start(&request, Some("/x"), None);
                let (mut head, ()) = http::Response::new(()).into_parts();
                drop(tracing.response(started.span, &started.context, &mut head, String::new()));
            }
        });
        let out = String::from_utf8(buffer.0.lock().unwrap().clone()).unwrap();
        assert_eq!(
            out.matches("trace_core::response").count(),
            1,
            "only when asked: {out}"
        );
        assert!(out.contains("status=200"), "{out}");
        assert!(out.contains("correlation_id=\"req-7\""), "{out}");
        assert!(out.contains("latency_us="), "{out}");
    }

    #[test]
    fn span_names_follow_the_kind() {
        let cx = TraceContext::new_root(true);
        let subscriber = tracing_subscriber::fmt().with_writer(io::sink).finish();
        tracing::subscriber::with_default(subscriber, || {
            let names: Vec<_> = [SpanKind::Server, SpanKind::Client, SpanKind::Internal]
                .into_iter()
                .map(|kind| new_span(&cx, "x", kind).metadata().map(|m| m.name()))
                .collect();
            assert_eq!(names, [Some("request"), Some("call"), Some("work")]);
        });
    }
}
