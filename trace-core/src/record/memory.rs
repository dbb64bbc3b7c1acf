//! [`InMemoryRecorder`]: finished spans kept in memory, for tests and the
//! demo's embedded trace view.

use std::{
    collections::VecDeque,
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::SystemTime,
};

use crate::{
    codec::{SpanId, TraceId, TraceParent},
    record::{Attribute, Recorder, RecordingSpan, SpanEnd, SpanKind, SpanStart, Status},
};

/// A span as the in-memory recorder keeps it.
///
/// # Examples
///
/// ```
/// use trace_core::{InMemoryRecorder, Span, SpanKind, Status, TraceContext, record::SpanStart, sampling::Decision};
///
/// let recorder = InMemoryRecorder::new(4);
/// let cx = TraceContext::new_root(true);
/// Span::start(&recorder, Decision::RecordAndSample, SpanStart::new(&cx, "work", SpanKind::Internal), Vec::new)
///     .end(Status::Unset, Vec::new());
/// let span = &recorder.finished()[0];
/// assert_eq!((span.name.as_str(), span.span_id), ("work", cx.span_id()));
/// ```
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
    pub fn attribute(&self, key: &str) -> Option<&crate::record::Value<'static>> {
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
/// use trace_core::{InMemoryRecorder, Span, SpanKind, Status, TraceContext, record::SpanStart, sampling::Decision};
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
    use crate::{
        context::TraceContext,
        record::{NoopRecorder, Span, Value},
        sampling::Decision,
    };

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
            [
                "http.request.method",
                "late",
                "http.response.status_code",
                "error.type"
            ]
        );
        assert_eq!(
            finished.attribute("error.type"),
            Some(&Value::from("500")),
            "written from the status"
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
