//! Recording spans, whatever the backend: nothing, memory, OpenTelemetry,
//! `tracing`. Adapters only ever talk to [`Recorder`] through [`Span`].

use std::{
    borrow::Cow,
    collections::VecDeque,
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::SystemTime,
};

use crate::{Attribute, Decision, SpanId, SpanKind, TraceContext, TraceId, TraceParent};

/// How a span ended.
///
/// # Examples
///
/// ```
/// use trace_core::Status;
///
/// let status = Status::error("timeout");
/// assert!(status.is_error());
/// assert_eq!(status.error_type(), Some("timeout"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Status {
    /// No statement: the default, and what a successful request gets.
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed; `error_type` is the `error.type` attribute (a status code,
    /// an exception type, `cancelled`…).
    Error {
        /// Low-cardinality description of the error class.
        error_type: Cow<'static, str>,
    },
}

impl Status {
    /// An error of this type.
    pub fn error(error_type: impl Into<Cow<'static, str>>) -> Self {
        Self::Error {
            error_type: error_type.into(),
        }
    }

    /// Whether this is an error.
    #[must_use]
    pub fn is_error(&self) -> bool {
        matches!(self, Self::Error { .. })
    }

    /// The error type, for an error.
    #[must_use]
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Self::Error { error_type } => Some(error_type),
            _ => None,
        }
    }
}

/// What a recorder is told when a span starts.
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
/// use trace_core::{SpanKind, SpanStart, TraceContext};
///
/// let cx = TraceContext::new_root(true);
/// let start = SpanStart::new(&cx, "GET /users/{id}", SpanKind::Server);
/// assert!(start.start_time <= SystemTime::now());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpanStart<'a> {
    /// The span's context: trace id, its own span id (the one injected
    /// downstream), parent, flags, link.
    pub context: &'a TraceContext,
    /// The span's name.
    pub name: &'a str,
    /// The span's kind.
    pub kind: SpanKind,
    /// When the span started.
    pub start_time: SystemTime,
    /// Attributes known at the start.
    pub attributes: Vec<Attribute<'static>>,
}

impl<'a> SpanStart<'a> {
    /// A span starting now, with no attributes.
    #[must_use]
    pub fn new(context: &'a TraceContext, name: &'a str, kind: SpanKind) -> Self {
        Self {
            context,
            name,
            kind,
            start_time: SystemTime::now(),
            attributes: Vec::new(),
        }
    }
}

/// Records spans. Implementations: [`NoopRecorder`] (propagation only, the
/// default), [`InMemoryRecorder`], and the OpenTelemetry and `tracing`
/// recorders behind features.
///
/// # Examples
///
/// A recorder that counts spans:
///
/// ```
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use trace_core::{Recorder, RecordingSpan, SpanEnd, SpanStart, Attribute};
///
/// #[derive(Debug, Default)]
/// struct Count(AtomicUsize);
///
/// impl Recorder for Count {
///     fn start(&self, _: SpanStart<'_>) -> Option<Box<dyn RecordingSpan>> {
///         self.0.fetch_add(1, Ordering::Relaxed);
///         None
///     }
/// }
/// ```
pub trait Recorder: Send + Sync + 'static {
    /// Whether this recorder records anything. Adapters skip computing
    /// attributes when it does not.
    fn is_enabled(&self) -> bool {
        true
    }

    /// Starts recording a span; `None` when this recorder keeps nothing of it.
    fn start(&self, span: SpanStart<'_>) -> Option<Box<dyn RecordingSpan>>;
}

impl<R: Recorder + ?Sized> Recorder for Arc<R> {
    fn is_enabled(&self) -> bool {
        (**self).is_enabled()
    }

    fn start(&self, span: SpanStart<'_>) -> Option<Box<dyn RecordingSpan>> {
        (**self).start(span)
    }
}

/// What a recorder is told when a span ends.
///
/// # Examples
///
/// ```
/// use trace_core::{SpanEnd, Status};
///
/// let end = SpanEnd::new(Status::Unset);
/// assert!(end.attributes.is_empty());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct SpanEnd {
    /// When the span ended.
    pub end_time: SystemTime,
    /// How it ended.
    pub status: Status,
    /// Attributes known only at the end (a status code…).
    pub attributes: Vec<Attribute<'static>>,
}

impl SpanEnd {
    /// A span ending now with this status.
    #[must_use]
    pub fn new(status: Status) -> Self {
        Self {
            end_time: SystemTime::now(),
            status,
            attributes: Vec::new(),
        }
    }
}

/// A span being recorded: what a [`Recorder`] hands back.
pub trait RecordingSpan: Send + Sync + 'static {
    /// Adds an attribute while the span runs.
    fn set_attribute(&mut self, attribute: Attribute<'static>);

    /// Ends the span.
    fn end(self: Box<Self>, end: SpanEnd);

    /// The `tracing` span this span is recorded as, for recorders that
    /// record through `tracing` ([`TracingRecorder`](crate::TracingRecorder)):
    /// adapters enter it for the request instead of making their own.
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    fn tracing_span(&self) -> Option<&tracing::Span> {
        None
    }
}

/// Records nothing, at no cost: the default.
///
/// # Examples
///
/// ```
/// use trace_core::{NoopRecorder, Recorder};
///
/// assert!(!NoopRecorder.is_enabled());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct NoopRecorder;

impl Recorder for NoopRecorder {
    fn is_enabled(&self) -> bool {
        false
    }

    fn start(&self, _: SpanStart<'_>) -> Option<Box<dyn RecordingSpan>> {
        None
    }
}

/// A span an adapter is running: its context (always) and its recording
/// (when sampled and a recorder records).
///
/// Ending is explicit with [`end`](Self::end); a span dropped before that
/// ends with `error.type` `cancelled`: the work was abandoned (a client went
/// away, a future was dropped), which is not success.
///
/// # Examples
///
/// ```
/// use trace_core::{Decision, InMemoryRecorder, Span, SpanKind, SpanStart, Status, TraceContext};
///
/// let recorder = InMemoryRecorder::new(16);
/// let cx = TraceContext::new_root(true);
/// let span = Span::start(&recorder, Decision::RecordAndSample, SpanStart::new(&cx, "work", SpanKind::Internal), Vec::new);
/// span.end(Status::Unset, Vec::new());
///
/// let spans = recorder.finished();
/// assert_eq!(spans.len(), 1);
/// assert_eq!(spans[0].span_id, cx.span_id());
/// ```
pub struct Span {
    recording: Option<Box<dyn RecordingSpan>>,
}

impl Span {
    /// Starts a span: recorded when `decision` says so and the recorder is
    /// enabled. Only then are its attributes computed, by `attributes`.
    pub fn start<F>(
        recorder: &dyn Recorder,
        decision: Decision,
        start: SpanStart<'_>,
        attributes: F,
    ) -> Self
    where
        F: FnOnce() -> Vec<Attribute<'static>>,
    {
        Self::start_with(recorder, decision, || start, attributes)
    }

    /// [`start`](Self::start), with the [`SpanStart`] made only for a span
    /// that records: [`SpanStart::new`] reads the clock, which a span that
    /// records nothing (propagation only, or not sampled) does not need.
    /// Adapters use this on the request path.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::{Decision, InMemoryRecorder, Span, SpanKind, SpanStart, Status, TraceContext};
    ///
    /// let recorder = InMemoryRecorder::new(16);
    /// let cx = TraceContext::new_root(true);
    /// for decision in [Decision::Drop, Decision::RecordAndSample] {
    ///     let span = Span::start_with(
    ///         &recorder,
    ///         decision,
    ///         || {
    ///             assert!(decision.is_recording(), "made only for a span that records");
    ///             SpanStart::new(&cx, "work", SpanKind::Internal)
    ///         },
    ///         Vec::new,
    ///     );
    ///     span.end(Status::Unset, Vec::new());
    /// }
    /// assert_eq!(recorder.finished().len(), 1);
    /// ```
    #[inline]
    pub fn start_with<'a, S, F>(
        recorder: &dyn Recorder,
        decision: Decision,
        start: S,
        attributes: F,
    ) -> Self
    where
        S: FnOnce() -> SpanStart<'a>,
        F: FnOnce() -> Vec<Attribute<'static>>,
    {
        let recording = if decision.is_recording() && recorder.is_enabled() {
            let mut start = start();
            let computed = attributes();
            // Usually there are none yet: keep the computed vector (and the
            // room its maker left for the response's attributes).
            if start.attributes.is_empty() {
                start.attributes = computed;
            } else {
                start.attributes.extend(computed);
            }
            recorder.start(start)
        } else {
            None
        };
        Self { recording }
    }

    /// A span that records nothing.
    #[must_use]
    pub const fn none() -> Self {
        Self { recording: None }
    }

    /// The `tracing` span for the work this span measures, to keep
    /// entered while it runs: the recorder's own when it records through
    /// `tracing`, else [`TraceContext::tracing_span`].
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    #[must_use]
    pub fn tracing_span(
        &self,
        context: &TraceContext,
        name: &str,
        kind: SpanKind,
    ) -> tracing::Span {
        self.recording
            .as_ref()
            .and_then(|recording| recording.tracing_span())
            .cloned()
            .unwrap_or_else(|| context.tracing_span(name, kind))
    }

    /// Whether anything is being recorded: compute attributes only then.
    #[must_use]
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Adds an attribute.
    pub fn set_attribute(&mut self, attribute: Attribute<'static>) {
        if let Some(recording) = &mut self.recording {
            recording.set_attribute(attribute);
        }
    }

    /// Ends the span.
    pub fn end(mut self, status: Status, attributes: Vec<Attribute<'static>>) {
        if let Some(recording) = self.recording.take() {
            recording.end(SpanEnd {
                end_time: SystemTime::now(),
                status,
                attributes,
            });
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(recording) = self.recording.take() {
            recording.end(SpanEnd {
                end_time: SystemTime::now(),
                status: Status::error("cancelled"),
                attributes: Vec::new(),
            });
        }
    }
}

impl fmt::Debug for Span {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Span")
            .field("recording", &self.is_recording())
            .finish()
    }
}

/// A span as the in-memory recorder keeps it.
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct FinishedSpan {
    /// The service that recorded it (see [`InMemoryRecorder::service`]).
    pub service: Option<Arc<str>>,
    /// The trace-id.
    pub trace_id: TraceId,
    /// The span's own id.
    pub span_id: SpanId,
    /// The parent span's id, `None` at a root.
    pub parent_span_id: Option<SpanId>,
    /// Whether the parent is in another process.
    pub parent_is_remote: bool,
    /// The incoming `traceparent` of a restarted trace.
    pub link: Option<TraceParent>,
    /// The span's name.
    pub name: String,
    /// The span's kind.
    pub kind: SpanKind,
    /// When it started.
    pub start_time: SystemTime,
    /// When it ended.
    pub end_time: SystemTime,
    /// How it ended.
    pub status: Status,
    /// Start and end attributes, in order.
    pub attributes: Vec<Attribute<'static>>,
}

impl FinishedSpan {
    /// The value of an attribute.
    #[must_use]
    pub fn attribute(&self, key: &str) -> Option<&crate::Value<'static>> {
        self.attributes
            .iter()
            .rev()
            .find(|a| a.key == key)
            .map(|a| &a.value)
    }

    /// How long the span lasted (zero if the clock went backwards).
    #[must_use]
    pub fn duration(&self) -> std::time::Duration {
        self.end_time
            .duration_since(self.start_time)
            .unwrap_or_default()
    }
}

/// Keeps the last `capacity` finished spans in memory: for tests and the
/// demo's embedded trace view. Clones share the same store.
///
/// # Examples
///
/// ```
/// use trace_core::{Decision, InMemoryRecorder, Span, SpanKind, SpanStart, Status, TraceContext};
///
/// let store = InMemoryRecorder::new(1000);
/// let users = store.service("users");
/// let cx = TraceContext::new_root(true);
/// Span::start(&users, Decision::RecordAndSample, SpanStart::new(&cx, "GET /users", SpanKind::Server), Vec::new)
///     .end(Status::Unset, Vec::new());
/// assert_eq!(store.finished()[0].service.as_deref(), Some("users"));
/// ```
#[derive(Clone)]
pub struct InMemoryRecorder {
    store: Arc<Mutex<Store>>,
    service: Option<Arc<str>>,
}

struct Store {
    spans: VecDeque<FinishedSpan>,
    capacity: usize,
    dropped: u64,
}

impl InMemoryRecorder {
    /// A recorder keeping at most `capacity` spans; older ones are dropped.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            store: Arc::new(Mutex::new(Store {
                spans: VecDeque::with_capacity(capacity.min(4096)),
                capacity,
                dropped: 0,
            })),
            service: None,
        }
    }

    /// A recorder sharing this store that tags its spans with `name`.
    #[must_use]
    pub fn service(&self, name: &str) -> Self {
        Self {
            store: Arc::clone(&self.store),
            service: Some(name.into()),
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-written:
        // every change is one push or pop.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The finished spans, oldest first.
    #[must_use]
    pub fn finished(&self) -> Vec<FinishedSpan> {
        self.lock().spans.iter().cloned().collect()
    }

    /// Takes the finished spans out of the store, oldest first.
    #[must_use]
    pub fn drain(&self) -> Vec<FinishedSpan> {
        self.lock().spans.drain(..).collect()
    }

    /// How many spans were dropped because the store was full.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    fn push(&self, span: FinishedSpan) {
        let mut store = self.lock();
        if store.capacity == 0 {
            store.dropped += 1;
            return;
        }
        if store.spans.len() == store.capacity {
            store.spans.pop_front();
            store.dropped += 1;
        }
        store.spans.push_back(span);
    }
}

impl fmt::Debug for InMemoryRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let store = self.lock();
        f.debug_struct("InMemoryRecorder")
            .field("service", &self.service)
            .field("spans", &store.spans.len())
            .field("capacity", &store.capacity)
            .field("dropped", &store.dropped)
            .finish()
    }
}

impl Recorder for InMemoryRecorder {
    fn start(&self, span: SpanStart<'_>) -> Option<Box<dyn RecordingSpan>> {
        let cx = span.context;
        Some(Box::new(InMemorySpan {
            recorder: self.clone(),
            span: FinishedSpan {
                service: self.service.clone(),
                trace_id: cx.trace_id(),
                span_id: cx.span_id(),
                parent_span_id: cx.parent_span_id(),
                parent_is_remote: cx.is_parent_remote(),
                link: cx.link(),
                name: span.name.to_owned(),
                kind: span.kind,
                start_time: span.start_time,
                end_time: span.start_time,
                status: Status::Unset,
                attributes: span.attributes,
            },
        }))
    }
}

struct InMemorySpan {
    recorder: InMemoryRecorder,
    span: FinishedSpan,
}

impl RecordingSpan for InMemorySpan {
    fn set_attribute(&mut self, attribute: Attribute<'static>) {
        self.span.attributes.push(attribute);
    }

    fn end(self: Box<Self>, end: SpanEnd) {
        let Self { recorder, mut span } = *self;
        span.end_time = end.end_time;
        span.status = end.status;
        span.attributes.extend(end.attributes);
        recorder.push(span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run(recorder: &dyn Recorder, decision: Decision, cx: &TraceContext) -> Span {
        Span::start(
            recorder,
            decision,
            SpanStart::new(cx, "op", SpanKind::Server),
            Vec::new,
        )
    }

    #[test]
    fn only_recorded_when_sampled_and_enabled() {
        let memory = InMemoryRecorder::new(8);
        let cx = TraceContext::new_root(true);
        assert!(run(&memory, Decision::RecordAndSample, &cx).is_recording());
        assert!(run(&memory, Decision::RecordOnly, &cx).is_recording());
        assert!(!run(&memory, Decision::Drop, &cx).is_recording());
        assert!(!run(&NoopRecorder, Decision::RecordAndSample, &cx).is_recording());
    }

    #[test]
    fn ids_status_and_attributes_are_kept() {
        let memory = InMemoryRecorder::new(8);
        let parent = TraceContext::new_root(true);
        let cx = parent.child();
        let start = SpanStart::new(&cx, "GET /x", SpanKind::Client);
        let attributes = || vec![Attribute::new("http.request.method", "GET")];
        let mut span = Span::start(&memory, Decision::RecordAndSample, start, attributes);
        span.set_attribute(Attribute::new("late", true));
        span.end(
            Status::error("500"),
            vec![Attribute::new("http.response.status_code", 500_i64)],
        );

        let [finished] = &memory.finished()[..] else {
            panic!("one span")
        };
        assert_eq!(
            (finished.trace_id, finished.span_id),
            (cx.trace_id(), cx.span_id())
        );
        assert_eq!(finished.parent_span_id, Some(parent.span_id()));
        assert_eq!(finished.kind, SpanKind::Client);
        assert_eq!(finished.status.error_type(), Some("500"));
        let keys: Vec<_> = finished.attributes.iter().map(|a| a.key).collect();
        assert_eq!(
            keys,
            ["http.request.method", "late", "http.response.status_code"]
        );
        assert!(finished.end_time >= finished.start_time);
    }

    #[test]
    fn attributes_are_computed_only_when_recording() {
        let cx = TraceContext::new_root(true);
        let never =
            || -> Vec<Attribute<'static>> { panic!("computed for a span that records nothing") };
        let start = || SpanStart::new(&cx, "op", SpanKind::Server);
        drop(Span::start(
            &NoopRecorder,
            Decision::RecordAndSample,
            start(),
            never,
        ));
        drop(Span::start(
            &InMemoryRecorder::new(1),
            Decision::Drop,
            start(),
            never,
        ));
    }

    #[test]
    fn a_dropped_span_is_cancelled() {
        let memory = InMemoryRecorder::new(8);
        drop(run(
            &memory,
            Decision::RecordAndSample,
            &TraceContext::new_root(true),
        ));
        assert_eq!(memory.finished()[0].status.error_type(), Some("cancelled"));
    }

    #[test]
    fn the_store_is_bounded() {
        let memory = InMemoryRecorder::new(3);
        let cx = TraceContext::new_root(true);
        for _ in 0..5 {
            run(&memory, Decision::RecordAndSample, &cx).end(Status::Unset, Vec::new());
        }
        assert_eq!(memory.finished().len(), 3);
        assert_eq!(memory.dropped(), 2);
        assert_eq!(memory.drain().len(), 3);
        assert!(memory.finished().is_empty());
    }
}
