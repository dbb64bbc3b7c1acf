//! [`InMemoryRecorder`]: finished spans kept in memory, for tests and the
//! demo's embedded trace view.

use std::{
    collections::VecDeque,
    fmt,
    sync::{Arc, Mutex, PoisonError},
    time::SystemTime,
};

use crate::{
    codec::{CorrelationId, SpanId, TraceId, TraceParent},
    record::{
        Attribute, Event, Limits, Recorder, RecordingSpan, SpanEnd, SpanKind, SpanStart, Status,
        Value,
    },
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
    /// The request's correlation ID, when its context has one.
    pub correlation_id: Option<CorrelationId>,
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
    /// Events, in the order they were added.
    pub events: Vec<Event>,
    /// Links given by the code that started the span (see
    /// [`SpanStart::links`]; a restarted trace's is [`link`](Self::link)).
    pub links: Vec<TraceParent>,
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
    limits: Limits,
}

struct Store {
    /// Shared, so that reading the store copies a pointer per span under
    /// the lock, and the spans themselves after it; each with its size, so
    /// that dropping it out takes no count again.
    spans: VecDeque<(Arc<FinishedSpan>, usize)>,
    capacity: usize,
    max_bytes: usize,
    bytes: usize,
    dropped: u64,
}

/// The default bound on the bytes the store keeps (see
/// [`InMemoryRecorder::max_bytes`]).
pub const DEFAULT_MAX_BYTES: usize = 64 * 1024 * 1024;

/// About how many bytes a finished span takes in the store: the struct,
/// its name, its attributes, events and links and their text.
fn size_of_span(span: &FinishedSpan) -> usize {
    fn attributes(attributes: &[Attribute<'static>]) -> usize {
        let text: usize = attributes
            .iter()
            .map(|a| match &a.value {
                Value::Str(s) => s.len(),
                _ => 0,
            })
            .sum();
        std::mem::size_of_val(attributes) + text
    }
    let events: usize = span
        .events
        .iter()
        .map(|e| std::mem::size_of::<Event>() + e.name.len() + attributes(&e.attributes))
        .sum();
    std::mem::size_of::<FinishedSpan>()
        + span.name.len()
        + attributes(&span.attributes)
        + events
        + span.links.len() * std::mem::size_of::<TraceParent>()
        + span.status.error_type().map_or(0, str::len)
}

impl InMemoryRecorder {
    /// A recorder keeping at most `capacity` spans, and at most
    /// [`DEFAULT_MAX_BYTES`] (64 MiB) of them; older ones are dropped.
    #[must_use]
    pub fn new(capacity: usize) -> Self {
        Self {
            store: Arc::new(Mutex::new(Store {
                spans: VecDeque::with_capacity(capacity.min(4096)),
                capacity,
                max_bytes: DEFAULT_MAX_BYTES,
                bytes: 0,
                dropped: 0,
            })),
            service: None,
            limits: Limits::default(),
        }
    }

    /// This recorder, keeping at most `bytes` of spans (as counted by
    /// [`bytes`](Self::bytes)); older ones are dropped first, and a span
    /// larger than that alone is not kept. Shared by every recorder of the
    /// store.
    #[must_use]
    pub fn max_bytes(self, bytes: usize) -> Self {
        self.lock().max_bytes = bytes;
        self
    }

    /// This recorder (and the recorders made from it by
    /// [`service`](Self::service) afterwards), with other [`Limits`] on what
    /// is kept of each span.
    #[must_use]
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// A recorder sharing this store that tags its spans with `name`.
    #[must_use]
    pub fn service(&self, name: &str) -> Self {
        Self {
            store: Arc::clone(&self.store),
            service: Some(name.into()),
            limits: self.limits,
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-written:
        // every change is one push or pop and its byte count.
        self.store.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The finished spans, oldest first.
    ///
    /// The threads that end spans wait for a pointer copy per span at most:
    /// the spans are copied after the store is unlocked.
    #[must_use]
    pub fn finished(&self) -> Vec<FinishedSpan> {
        let shared: Vec<Arc<FinishedSpan>> = self
            .lock()
            .spans
            .iter()
            .map(|(span, _)| Arc::clone(span))
            .collect();
        shared
            .iter()
            .map(|span| FinishedSpan::clone(span))
            .collect()
    }

    /// Takes the finished spans out of the store, oldest first.
    #[must_use]
    pub fn drain(&self) -> Vec<FinishedSpan> {
        let shared: Vec<Arc<FinishedSpan>> = {
            let mut store = self.lock();
            store.bytes = 0;
            store.spans.drain(..).map(|(span, _)| span).collect()
        };
        shared
            .into_iter()
            .map(|span| Arc::try_unwrap(span).unwrap_or_else(|span| FinishedSpan::clone(&span)))
            .collect()
    }

    /// How many spans were dropped because the store was full, in spans or
    /// in bytes.
    #[must_use]
    pub fn dropped(&self) -> u64 {
        self.lock().dropped
    }

    /// About how many bytes the kept spans take: what
    /// [`max_bytes`](Self::max_bytes) bounds.
    #[must_use]
    pub fn bytes(&self) -> usize {
        self.lock().bytes
    }

    fn push(&self, span: Arc<FinishedSpan>) {
        let size = size_of_span(&span);
        // The span a full store lets go of is freed after the lock (any
        // more, when a large span takes the room of several, under it).
        let mut oldest = None;
        let mut store = self.lock();
        if store.capacity == 0 || size > store.max_bytes {
            store.dropped += 1;
            return;
        }
        while store.spans.len() == store.capacity || store.bytes + size > store.max_bytes {
            let Some((old, old_size)) = store.spans.pop_front() else {
                break;
            };
            store.bytes -= old_size;
            store.dropped += 1;
            oldest.get_or_insert(old);
        }
        store.bytes += size;
        store.spans.push_back((span, size));
        drop(store);
        drop(oldest);
    }
}

impl fmt::Debug for InMemoryRecorder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let store = self.lock();
        f.debug_struct("InMemoryRecorder")
            .field("service", &self.service)
            .field("spans", &store.spans.len())
            .field("capacity", &store.capacity)
            .field("bytes", &store.bytes)
            .field("max_bytes", &store.max_bytes)
            .field("dropped", &store.dropped)
            .finish()
    }
}

impl Recorder for InMemoryRecorder {
    fn limits(&self) -> Limits {
        self.limits
    }

    fn start(&self, span: SpanStart<'_>) -> Option<Box<dyn RecordingSpan>> {
        let cx = span.context;
        Some(Box::new(InMemorySpan {
            recorder: self.clone(),
            // Made where the store keeps it: ending the span moves nothing.
            span: Arc::new(FinishedSpan {
                service: self.service.clone(),
                trace_id: cx.trace_id(),
                span_id: cx.span_id(),
                parent_span_id: cx.parent_span_id(),
                parent_is_remote: cx.is_parent_remote(),
                link: cx.link(),
                correlation_id: cx.correlation_id().cloned(),
                // The name too may come from a request (a gRPC path).
                name: self.limits.cut_str(span.name).to_owned(),
                kind: span.kind,
                start_time: span.start_time,
                end_time: span.start_time,
                status: Status::Unset,
                attributes: span.attributes,
                events: Vec::new(),
                links: span.links,
            }),
        }))
    }
}

/// A span being recorded. Only it holds its `Arc` until it ends, so
/// `make_mut` never clones.
struct InMemorySpan {
    recorder: InMemoryRecorder,
    span: Arc<FinishedSpan>,
}

impl RecordingSpan for InMemorySpan {
    fn set_attribute(&mut self, attribute: Attribute<'static>) {
        Arc::make_mut(&mut self.span).attributes.push(attribute);
    }

    fn set_name(&mut self, name: &str) {
        name.clone_into(&mut Arc::make_mut(&mut self.span).name);
    }

    fn add_event(&mut self, event: Event) {
        Arc::make_mut(&mut self.span).events.push(event);
    }

    fn end(self: Box<Self>, end: SpanEnd) {
        let Self { recorder, mut span } = *self;
        let finished = Arc::make_mut(&mut span);
        finished.end_time = end.end_time;
        finished.status = end.status;
        finished.attributes.extend(end.attributes);
        recorder.push(span);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        context::TraceContext,
        record::{NoopRecorder, Span},
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

    #[test]
    fn the_store_is_bounded_in_bytes_and_counts_what_it_drops() {
        let memory = InMemoryRecorder::new(1000).max_bytes(20_000);
        let cx = TraceContext::new_root(true);
        for _ in 0..100 {
            let attributes = || vec![Attribute::new("big", "x".repeat(1500))];
            Span::start(
                &memory,
                Decision::RecordAndSample,
                SpanStart::new(&cx, "op", SpanKind::Server),
                attributes,
            )
            .end(Status::Unset, Vec::new());
        }
        let kept = memory.finished();
        assert!(memory.bytes() <= 20_000, "{}", memory.bytes());
        assert_eq!(memory.bytes(), kept.iter().map(size_of_span).sum::<usize>());
        assert!(kept.len() > 1 && kept.len() < 100, "{}", kept.len());
        assert_eq!(memory.dropped(), 100 - kept.len() as u64);

        // A span larger than the whole bound is not kept at all.
        let tiny = InMemoryRecorder::new(10).max_bytes(100);
        run(&tiny, Decision::RecordAndSample, &cx).end(Status::Unset, Vec::new());
        assert!(tiny.finished().is_empty());
        assert_eq!((tiny.dropped(), tiny.bytes()), (1, 0));
    }

    #[test]
    fn every_value_is_cut_to_the_limits() {
        let memory = InMemoryRecorder::new(4).limits(
            Limits::default()
                .attribute_value_length(8)
                .attribute_count(3),
        );
        let cx = TraceContext::new_root(true);
        let name = "GET /a/very/long/route/from/the/request";
        let mut span = Span::start(
            &memory,
            Decision::RecordAndSample,
            SpanStart::new(&cx, name, SpanKind::Server),
            || vec![Attribute::new("user_agent.original", "a".repeat(100_000))],
        );
        span.set_attribute(Attribute::new("url.path", String::from("/0123456789")));
        span.set_attribute(Attribute::new("dropped.at.start", "one too many"));
        span.end(
            Status::error("a-long-error-type"),
            vec![Attribute::new("end", "x")],
        );
        let [finished] = &memory.finished()[..] else {
            panic!("one span")
        };
        assert_eq!(finished.name, "GET /a/v");
        let values: Vec<_> = finished
            .attributes
            .iter()
            .map(|a| (a.key, a.value.to_string()))
            .collect();
        assert_eq!(
            values,
            [
                ("user_agent.original", "aaaaaaaa".to_owned()),
                ("url.path", "/0123456".to_owned()),
                ("dropped.at.start", "one too ".to_owned()),
                ("error.type", "a-long-e".to_owned()),
            ],
            "three attributes, and error.type always"
        );
    }
}
