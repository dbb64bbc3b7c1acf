//! The app's own spans: [`span`] starts a child of the current span for a
//! unit of work (a closure, a future, or a guard), recorded by the recorder
//! the request's span records with, whatever it is.

use std::{
    borrow::Cow,
    fmt,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use pin_project::pin_project;

use crate::{
    codec::TraceParent,
    context::{ContextGuard, FutureExt, TraceContext, WithContext},
    record::{Attribute, Recorder, Span, SpanKind, SpanRef, SpanStart, Status, Value},
    sampling::Decision,
};

/// Starts describing a span of the app's own work, a child of the current
/// span (the request's, or another of the app's): run it with
/// [`in_scope`](SpanBuilder::in_scope) (a closure),
/// [`instrument`](SpanBuilder::instrument) (a future) or
/// [`start`](SpanBuilder::start) (a guard).
///
/// The span is current while its work runs, so spans started and calls
/// made inside it (reqwest, tonic) are its children. It records through
/// the recorder of the request it runs in, in every mode: the in-memory
/// store, `OtelRecorder`, `TracingRecorder`. Where the current span records
/// nothing (propagation only, an unsampled request, no request at all) the
/// span still gets its own span id, which calls made inside it pass on, and
/// costs no allocation: attributes given to the builder are dropped at
/// once.
///
/// Outside any request's context (a background job), the span is the
/// root of a new trace and records nothing.
///
/// # Examples
///
/// ```
/// use trace_core::{SpanKind, SpanRef};
///
/// async fn handler() -> u64 {
///     // A closure…
///     let rows = trace_core::span("db.query")
///         .kind(SpanKind::Client)
///         .attribute("db.system.name", "postgresql")
///         .in_scope(|span| {
///             span.add_event("rows", Vec::new());
///             3
///         });
///     // …or a future.
///     let cached = trace_core::span("cache.lookup")
///         .instrument(async { SpanRef::current().set_attribute("cache.hit", true); 4 })
///         .await;
///     rows + cached
/// }
/// # #[tokio::main(flavor = "current_thread")] async fn main() { assert_eq!(handler().await, 7); }
/// ```
pub fn span(name: impl Into<Cow<'static, str>>) -> SpanBuilder {
    let parent = TraceContext::current();
    let recorder = parent
        .as_ref()
        .and_then(|p| p.span.as_ref()?.recorder().cloned());
    // Under a span the app started with the OpenTelemetry API, or an
    // `#[instrument]` span of the request's trace (with
    // tracing-opentelemetry), that span is the parent, as it is of calls.
    #[cfg(feature = "opentelemetry")]
    let parent = parent.map(TraceContext::under_current_otel_span);
    #[cfg(feature = "tracing-opentelemetry")]
    let parent = parent.map(TraceContext::under_current_tracing_span);
    SpanBuilder {
        name: name.into(),
        kind: SpanKind::Internal,
        parent,
        recorder,
        attributes: Vec::new(),
        links: Vec::new(),
    }
}

/// A span of the app's own work, before it starts; see [`span`].
///
/// # Examples
///
/// ```
/// use trace_core::{SpanKind, TraceParent};
///
/// let span = trace_core::span("orders.publish")
///     .kind(SpanKind::Producer)
///     .attribute("messaging.system", "kafka")
///     .link(TraceParent::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"))
///     .start();
/// span.end();
/// ```
#[must_use = "a span starts with `start`, `in_scope` or `instrument`"]
pub struct SpanBuilder {
    name: Cow<'static, str>,
    kind: SpanKind,
    parent: Option<TraceContext>,
    /// Where the span records, when it does: only then is anything kept.
    recorder: Option<Arc<dyn Recorder>>,
    attributes: Vec<Attribute<'static>>,
    links: Vec<TraceParent>,
}

impl SpanBuilder {
    /// The span's kind: internal by default; client, producer or consumer
    /// for a protocol the adapters do not cover (a database, a queue).
    pub fn kind(mut self, kind: SpanKind) -> Self {
        self.kind = kind;
        self
    }

    /// An attribute known at the start (the sampler-relevant ones, as the
    /// OpenTelemetry API advises); kept only if the span records.
    pub fn attribute(mut self, key: &'static str, value: impl Into<Value<'static>>) -> Self {
        if self.recorder.is_some() {
            self.attributes.push(Attribute::new(key, value));
        }
        self
    }

    /// A link to another span (the message this span consumes, the batch
    /// it belongs to); kept only if the span records.
    pub fn link(mut self, to: TraceParent) -> Self {
        if self.recorder.is_some() {
            self.links.push(to);
        }
        self
    }

    /// Whether the span will record: compute costly attributes only then.
    #[must_use]
    pub fn is_recording(&self) -> bool {
        self.recorder.is_some()
    }

    /// Starts the span now: its context, its recording and (feature
    /// `tracing`) its `tracing` span, so that log lines inside it carry its
    /// span id.
    fn begin(self) -> Begun {
        let Self {
            name,
            kind,
            parent,
            recorder,
            attributes,
            mut links,
        } = self;
        let (mut cx, recorder) = match parent {
            Some(parent) => (parent.child(), recorder),
            None => (TraceContext::new_root(true), None),
        };
        let span = match &recorder {
            Some(recorder) => {
                // A child of a recording span records: its parent's
                // decision (sampled or record-only) is its own.
                let decision = if cx.is_sampled() {
                    Decision::RecordAndSample
                } else {
                    Decision::RecordOnly
                };
                let span = Span::start_with(
                    recorder,
                    decision,
                    || {
                        let mut start = SpanStart::new(&cx, &name, kind);
                        links.truncate(recorder.limits().links());
                        start.links = links;
                        start
                    },
                    || attributes,
                );
                cx.span = span.active().cloned();
                span
            }
            None => Span::none(),
        };
        #[cfg(feature = "tracing")]
        let tracing = span.tracing_span(&cx, &name, kind);
        Begun {
            cx,
            span,
            #[cfg(feature = "tracing")]
            tracing,
        }
    }

    /// Starts the span and makes it current until the guard it returns is
    /// dropped or [`end`](LocalSpan::end)ed, on this thread: for
    /// synchronous work. The guard cannot cross an `.await` (it is not
    /// `Send`); a future uses [`instrument`](Self::instrument).
    pub fn start(self) -> LocalSpan {
        let begun = self.begin();
        let (cx, span) = (begun.cx, begun.span);
        #[cfg(feature = "tracing")]
        let entered = Some(begun.tracing.entered());
        LocalSpan {
            reference: span.as_ref(),
            span,
            guard: Some(cx.attach()),
            #[cfg(feature = "tracing")]
            entered,
        }
    }

    /// Runs `f` in the span, current while it runs, and ends the span when
    /// `f` returns (with an error status if `f` panics).
    pub fn in_scope<R>(self, f: impl FnOnce(&SpanRef) -> R) -> R {
        let begun = self.begin();
        let (cx, span) = (begun.cx, begun.span);
        let reference = span.as_ref();
        #[cfg(feature = "tracing")]
        let _entered = begun.tracing.entered();
        let (result, _) = cx.scope(|| f(&reference));
        span.end(Status::Unset, Vec::new());
        result
    }

    /// Runs `future` in the span, current whenever it is polled, and ends
    /// the span when the future completes (cancelled if it is dropped
    /// before).
    pub fn instrument<F: Future>(self, future: F) -> InSpan<F> {
        let begun = self.begin();
        let (cx, span) = (begun.cx, begun.span);
        #[cfg(feature = "tracing")]
        let inner = future.with_trace_context(cx).in_tracing_span(begun.tracing);
        #[cfg(not(feature = "tracing"))]
        let inner = future.with_trace_context(cx);
        InSpan { inner, span }
    }
}

/// A span of the app's own, started.
struct Begun {
    cx: TraceContext,
    span: Span,
    #[cfg(feature = "tracing")]
    tracing: tracing::Span,
}

impl fmt::Debug for SpanBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanBuilder")
            .field("name", &self.name)
            .field("kind", &self.kind)
            .field("recording", &self.recorder.is_some())
            .finish_non_exhaustive()
    }
}

/// A span of the app's own work, current on this thread until it ends
/// (see [`SpanBuilder::start`]); dropped without [`end`](Self::end), it ends
/// as cancelled (or `panic` while a panic unwinds).
///
/// # Examples
///
/// ```
/// use trace_core::{SpanRef, TraceContext};
///
/// let span = trace_core::span("render").start();
/// let id = TraceContext::current().unwrap().span_id();
/// span.span().set_attribute("template", "order.html");
/// span.end();
/// assert_ne!(TraceContext::current().map(|c| c.span_id()), Some(id));
/// ```
#[must_use = "the span ends when the guard is dropped"]
pub struct LocalSpan {
    span: Span,
    reference: SpanRef,
    guard: Option<ContextGuard>,
    #[cfg(feature = "tracing")]
    entered: Option<tracing::span::EnteredSpan>,
}

impl LocalSpan {
    /// The span, to add attributes and events to.
    #[must_use]
    pub fn span(&self) -> &SpanRef {
        &self.reference
    }

    /// Ends the span now (its status is what was set through
    /// [`span`](Self::span), else unset).
    pub fn end(mut self) {
        self.close();
        std::mem::replace(&mut self.span, Span::none()).end(Status::Unset, Vec::new());
    }

    fn close(&mut self) {
        #[cfg(feature = "tracing")]
        drop(self.entered.take());
        drop(self.guard.take());
    }
}

impl Drop for LocalSpan {
    fn drop(&mut self) {
        // The context first: the span's own drop then ends it.
        self.close();
    }
}

impl fmt::Debug for LocalSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LocalSpan")
            .field("recording", &self.span.is_recording())
            .finish_non_exhaustive()
    }
}

/// A future run in a span of the app's own; see [`SpanBuilder::instrument`].
///
/// # Examples
///
/// ```
/// # #[tokio::main(flavor = "current_thread")] async fn main() {
/// let n = trace_core::span("work").instrument(async { 1 }).await;
/// assert_eq!(n, 1);
/// # }
/// ```
#[pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct InSpan<F> {
    #[pin]
    inner: WithContext<F>,
    span: Span,
}

impl<F: Future> Future for InSpan<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let output = ready!(this.inner.poll(task));
        std::mem::replace(this.span, Span::none()).end(Status::Unset, Vec::new());
        Poll::Ready(output)
    }
}

impl<F> fmt::Debug for InSpan<F> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InSpan")
            .field("recording", &self.span.is_recording())
            .finish_non_exhaustive()
    }
}
