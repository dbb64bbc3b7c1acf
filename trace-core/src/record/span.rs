//! [`Span`]: the span an adapter runs, whatever the recorder; and
//! [`SpanRef`], the same span as the code running in its context sees it.

use std::{
    borrow::Cow,
    fmt,
    panic::AssertUnwindSafe,
    sync::{Arc, Mutex, PoisonError},
    time::SystemTime,
};

use crate::{
    record::{
        Attribute, Event, Limits, Recorder, RecordingSpan, SpanEnd, SpanStart, Status, Value,
    },
    sampling::Decision,
    semconv,
};

/// A span an adapter is running: its context (always) and its recording
/// (when sampled and a recorder records).
///
/// Ending is explicit with [`end`](Self::end); a span dropped before that
/// ends with `error.type` `cancelled`: the work was abandoned (a client went
/// away, a future was dropped), which is not success. Dropped while a panic
/// unwinds, it ends with `error.type` `panic`.
///
/// The code that runs in the span's context reaches the same recording
/// through [`SpanRef`] (attributes, events, errors, status), and starts
/// child spans of it with [`span`](crate::span()).
///
/// # Examples
///
/// ```
/// use trace_core::{InMemoryRecorder, Span, SpanKind, Status, TraceContext, record::SpanStart, sampling::Decision};
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
    recording: Option<Arc<Active>>,
}

/// A span being recorded, shared by whoever runs it ([`Span`]) and the
/// contexts that stand for it ([`SpanRef`]).
pub(crate) struct Active {
    /// Where its child spans are recorded; `None` for a span started with
    /// a borrowed recorder ([`Span::start`]), whose children record nothing.
    /// Asserted unwind-safe so that a context stays so (as it was before it
    /// could carry a span): a recorder left half-way by a panic records
    /// a span badly at worst, and the state below is poison-tolerant.
    recorder: Option<AssertUnwindSafe<Arc<dyn Recorder>>>,
    limits: Limits,
    /// The OpenTelemetry `Context` to make current while the span's work
    /// runs, for a span recorded through the OpenTelemetry API.
    /// Asserted unwind-safe as the recorder is (see above).
    #[cfg(feature = "opentelemetry")]
    otel: Option<AssertUnwindSafe<opentelemetry::Context>>,
    /// `None` once the span has ended: what comes after is dropped.
    state: Mutex<Option<Recording>>,
}

/// A span's recording, and how much more of it may be kept.
struct Recording {
    span: Box<dyn RecordingSpan>,
    /// Attributes kept so far.
    kept: usize,
    /// Events kept so far.
    events: usize,
    /// The status the span's own code set, which wins over the adapter's
    /// classification (as the OpenTelemetry API says of a status set by
    /// the application): `Ok` is final, an error stays an error.
    status: Option<Status>,
}

impl Recording {
    fn set_attribute(&mut self, limits: Limits, mut attribute: Attribute<'static>) {
        if self.kept < limits.count() {
            limits.cut(&mut attribute.value);
            self.kept += 1;
            self.span.set_attribute(attribute);
        }
    }

    fn add_event(&mut self, limits: Limits, mut event: Event) {
        if self.events < limits.events() {
            self.events += 1;
            if let Cow::Owned(name) = &mut event.name {
                let cut = limits.cut_str(name).len();
                name.truncate(cut);
            }
            limits.apply(&mut event.attributes, 0);
            self.span.add_event(event);
        }
    }

    fn set_status(&mut self, status: Status) {
        match (&self.status, status) {
            (Some(Status::Ok), _) | (_, Status::Unset) => {}
            (_, status) => self.status = Some(status),
        }
    }

    fn end(mut self, limits: Limits, status: Status, mut attributes: Vec<Attribute<'static>>) {
        let status = match self.status.take() {
            Some(own) => own,
            None => status,
        };
        limits.apply(&mut attributes, self.kept);
        // `error.type` is kept even in a full span: it says why it failed.
        if let Status::Error { error_type } = &status {
            let mut value = Value::from(error_type.clone());
            limits.cut(&mut value);
            attributes.push(Attribute::new(semconv::ERROR_TYPE, value));
        }
        self.span.end(SpanEnd {
            end_time: SystemTime::now(),
            status,
            attributes,
        });
    }
}

impl Active {
    fn lock(&self) -> std::sync::MutexGuard<'_, Option<Recording>> {
        // A recorder that panicked mid-call leaves nothing half-written
        // that matters here: keep recording.
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    fn with(&self, f: impl FnOnce(&mut Recording, Limits)) {
        if let Some(recording) = &mut *self.lock() {
            f(recording, self.limits);
        }
    }

    fn end(&self, status: Status, attributes: Vec<Attribute<'static>>) {
        // Taken out first: the recorder's `end` runs without the lock.
        let recording = self.lock().take();
        if let Some(recording) = recording {
            recording.end(self.limits, status, attributes);
        }
    }

    fn discard(&self) {
        // Dropped unended: a recorder that keeps spans when they end keeps
        // nothing; the later calls of the contexts that hold it do nothing.
        drop(self.lock().take());
    }

    pub(crate) fn recorder(&self) -> Option<&Arc<dyn Recorder>> {
        self.recorder.as_ref().map(|r| &r.0)
    }

    #[cfg(feature = "opentelemetry")]
    pub(crate) fn otel(&self) -> Option<&opentelemetry::Context> {
        self.otel.as_ref().map(|cx| &cx.0)
    }
}

impl Span {
    /// Starts a span: recorded when `decision` says so and the recorder is
    /// enabled. Only then are its attributes computed, by `attributes`.
    ///
    /// The recorder is borrowed: child spans started in this span's
    /// context ([`span`](crate::span())) get span ids but record nothing.
    /// [`start_shared`](Self::start_shared) records them too.
    pub fn start<F>(
        recorder: &dyn Recorder,
        decision: Decision,
        start: SpanStart<'_>,
        attributes: F,
    ) -> Self
    where
        F: FnOnce() -> Vec<Attribute<'static>>,
    {
        Self::begin(recorder, None, decision, || start, attributes)
    }

    /// [`start`](Self::start) with a recorder this span keeps, so that the
    /// child spans started in its context record through it too.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use trace_core::{InMemoryRecorder, Recorder, Span, SpanKind, Status, TraceContext, record::SpanStart, sampling::Decision};
    ///
    /// let store = InMemoryRecorder::new(16);
    /// let recorder: Arc<dyn Recorder> = Arc::new(store.clone());
    /// let mut cx = TraceContext::new_root(true);
    /// let span = Span::start_shared(&recorder, Decision::RecordAndSample, SpanStart::new(&cx, "job", SpanKind::Internal), Vec::new);
    /// let cx = cx.with_span(&span);
    /// cx.scope(|| trace_core::span("step").in_scope(|_| ()));
    /// span.end(Status::Unset, Vec::new());
    /// assert_eq!(store.finished().len(), 2);
    /// ```
    pub fn start_shared<F>(
        recorder: &Arc<dyn Recorder>,
        decision: Decision,
        start: SpanStart<'_>,
        attributes: F,
    ) -> Self
    where
        F: FnOnce() -> Vec<Attribute<'static>>,
    {
        Self::begin(&**recorder, Some(recorder), decision, || start, attributes)
    }

    /// [`start_shared`](Self::start_shared), with the [`SpanStart`] made
    /// only for a span that records: [`SpanStart::new`] reads the clock,
    /// which a span that records nothing (propagation only, or not
    /// sampled) does not need. Adapters use this on the request path.
    ///
    /// # Examples
    ///
    /// ```
    /// use std::sync::Arc;
    /// use trace_core::{InMemoryRecorder, Recorder, Span, SpanKind, Status, TraceContext, record::SpanStart, sampling::Decision};
    ///
    /// let store = InMemoryRecorder::new(16);
    /// let recorder: Arc<dyn Recorder> = Arc::new(store.clone());
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
    /// assert_eq!(store.finished().len(), 1);
    /// ```
    #[inline]
    pub fn start_with<'a, S, F>(
        recorder: &Arc<dyn Recorder>,
        decision: Decision,
        start: S,
        attributes: F,
    ) -> Self
    where
        S: FnOnce() -> SpanStart<'a>,
        F: FnOnce() -> Vec<Attribute<'static>>,
    {
        Self::begin(&**recorder, Some(recorder), decision, start, attributes)
    }

    #[inline]
    fn begin<'a, S, F>(
        recorder: &dyn Recorder,
        shared: Option<&Arc<dyn Recorder>>,
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
            // Nothing from a request reaches a recorder whole.
            let limits = recorder.limits();
            let kept = limits.apply(&mut start.attributes, 0);
            recorder.start(start).map(|span| {
                Arc::new(Active {
                    recorder: shared.cloned().map(AssertUnwindSafe),
                    limits,
                    #[cfg(feature = "opentelemetry")]
                    otel: span.otel_context().map(AssertUnwindSafe),
                    state: Mutex::new(Some(Recording {
                        span,
                        kept,
                        events: 0,
                        status: None,
                    })),
                })
            })
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

    /// The `tracing` span the recording is, for recorders that record
    /// through `tracing`.
    #[cfg(feature = "tracing")]
    pub(crate) fn recorded_tracing_span(&self) -> Option<tracing::Span> {
        let active = self.recording.as_ref()?;
        let state = active.lock();
        state.as_ref()?.span.tracing_span().cloned()
    }

    /// Whether anything is being recorded: compute attributes only then.
    #[must_use]
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// This span, as the code running in its context reaches it.
    #[must_use]
    pub fn as_ref(&self) -> SpanRef {
        SpanRef {
            active: self.recording.clone(),
        }
    }

    pub(crate) fn active(&self) -> Option<&Arc<Active>> {
        self.recording.as_ref()
    }

    /// The OpenTelemetry `Context` to make current while this span's work
    /// runs (see [`RecordingSpan::otel_context`]).
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn otel_context(&self) -> Option<&opentelemetry::Context> {
        self.recording.as_ref()?.otel()
    }

    /// Adds an attribute (within the recorder's [`Limits`]).
    pub fn set_attribute(&mut self, attribute: Attribute<'static>) {
        if let Some(active) = &self.recording {
            active.with(|recording, limits| recording.set_attribute(limits, attribute));
        }
    }

    /// Gives the span another name (within the recorder's [`Limits`]), as
    /// OpenTelemetry's `UpdateName` does: for a name known only later, such
    /// as a gRPC method the server turned out not to have.
    pub fn set_name(&mut self, name: &str) {
        if let Some(active) = &self.recording {
            active.with(|recording, limits| recording.span.set_name(limits.cut_str(name)));
        }
    }

    /// Drops the recording without ending it: a recorder that keeps a span
    /// only when it ends (the in-memory store) keeps nothing of it; the
    /// OpenTelemetry SDK and `tracing` end a span dropped unended, so there
    /// it is recorded as it stands. The span records nothing after this.
    pub fn discard(&mut self) {
        if let Some(active) = self.recording.take() {
            active.discard();
        }
    }

    /// Ends the span.
    ///
    /// An error status is also written as the `error.type` attribute, here
    /// and only here, so every error path (a failed service or body, a
    /// cancelled span, a 5xx, a failed call) carries it alike. A status the
    /// span's own code set through [`SpanRef::set_status`] or
    /// [`SpanRef::record_error`] wins over `status`.
    pub fn end(mut self, status: Status, attributes: Vec<Attribute<'static>>) {
        if let Some(active) = self.recording.take() {
            active.end(status, attributes);
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(active) = self.recording.take() {
            // Dropped while a panic unwinds (the handler panicked under
            // an adapter that drops its span then): not a client that left.
            let why = if std::thread::panicking() {
                "panic"
            } else {
                "cancelled"
            };
            active.end(Status::error(why), Vec::new());
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

/// The span a context stands for, as the code running in it reaches it:
/// to add attributes and events, record an error or set the status,
/// whatever the recorder. [`SpanRef::current`] is the current context's
/// span: the request's span in a handler, or a span of the app's own
/// started with [`span`](crate::span()).
///
/// Everything goes through the same [`Limits`] as the adapters'
/// attributes. A span that records nothing (propagation only, not
/// sampled, or ended already) takes each call and keeps nothing, at the
/// cost of a branch.
///
/// # Examples
///
/// ```
/// use trace_core::{InMemoryRecorder, ServerTracing, SpanRef};
///
/// let store = InMemoryRecorder::new(16);
/// let tracing = ServerTracing::new().recorder(store.clone());
/// let started = tracing.start(&http::Request::new(()), Some("/orders"), None);
/// let (_, context) = started.context.scope(|| {
///     // In a handler: the request's own span.
///     let span = SpanRef::current();
///     span.set_attribute("user.id", 7_i64);
///     span.add_event("cache.miss", [trace_core::Attribute::new("cache.key", "orders:7")]);
/// });
/// tracing.failed::<std::io::Error>(started.span, &context);
///
/// let recorded = &store.finished()[0];
/// assert_eq!(recorded.attribute("user.id"), Some(&trace_core::Value::I64(7)));
/// assert_eq!(recorded.events[0].name, "cache.miss");
/// ```
#[derive(Clone, Default)]
pub struct SpanRef {
    active: Option<Arc<Active>>,
}

impl SpanRef {
    /// The current context's span: nothing is recorded through it when no
    /// context is current, or its span records nothing.
    #[must_use]
    pub fn current() -> Self {
        Self {
            active: crate::context::with_current(|cx| cx.and_then(|cx| cx.span.clone())),
        }
    }

    pub(crate) fn from_active(active: Option<Arc<Active>>) -> Self {
        Self { active }
    }

    /// Whether this span is being recorded: compute costly attributes only
    /// then.
    #[must_use]
    pub fn is_recording(&self) -> bool {
        self.active.as_ref().is_some_and(|a| a.lock().is_some())
    }

    /// Adds an attribute: `user.id`, `tenant.id`, `db.system.name`…
    pub fn set_attribute(&self, key: &'static str, value: impl Into<Value<'static>>) {
        if let Some(active) = &self.active {
            let attribute = Attribute::new(key, value);
            active.with(|recording, limits| recording.set_attribute(limits, attribute));
        }
    }

    /// Adds an event at this moment, with its attributes (an array, a
    /// `Vec`, `[]`: collected only when the span records).
    pub fn add_event(
        &self,
        name: impl Into<Cow<'static, str>>,
        attributes: impl IntoIterator<Item = Attribute<'static>>,
    ) {
        if let Some(active) = &self.active {
            let event = Event::new(name, attributes.into_iter().collect());
            active.with(|recording, limits| recording.add_event(limits, event));
        }
    }

    /// Records that the span's work failed with `error`, as the
    /// OpenTelemetry conventions say
    /// (<https://opentelemetry.io/docs/specs/semconv/general/recording-errors/>):
    /// an `exception` event with `exception.type` (the error's Rust type)
    /// and `exception.message` (its `Display`), and an error status whose
    /// `error.type` is that type. Record an error once, where it is not
    /// handled.
    pub fn record_error<E: std::error::Error + ?Sized>(&self, error: &E) {
        if let Some(active) = &self.active {
            let error_type = std::any::type_name::<E>();
            let event = Event::new(
                semconv::EXCEPTION_EVENT,
                vec![
                    Attribute::new(semconv::EXCEPTION_TYPE, error_type),
                    Attribute::new(semconv::EXCEPTION_MESSAGE, error.to_string()),
                ],
            );
            active.with(|recording, limits| {
                recording.add_event(limits, event);
                recording.set_status(Status::error(error_type));
            });
        }
    }

    /// Sets the span's status, over what its adapter would say: `Ok` is
    /// final, an error stays unless `Ok` follows, `Unset` changes nothing
    /// (the OpenTelemetry API's rules for `SetStatus`).
    pub fn set_status(&self, status: Status) {
        if let Some(active) = &self.active {
            active.with(|recording, _| recording.set_status(status));
        }
    }

    /// Gives the span another name (within the [`Limits`]).
    pub fn update_name(&self, name: &str) {
        if let Some(active) = &self.active {
            active.with(|recording, limits| recording.span.set_name(limits.cut_str(name)));
        }
    }
}

impl fmt::Debug for SpanRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SpanRef")
            .field("recording", &self.is_recording())
            .finish()
    }
}
