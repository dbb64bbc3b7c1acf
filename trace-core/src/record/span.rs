//! [`Span`]: the span an adapter runs, whatever the recorder.

use std::{fmt, time::SystemTime};

use crate::{
    record::{Attribute, Limits, Recorder, RecordingSpan, SpanEnd, SpanStart, Status, Value},
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
    recording: Option<Recording>,
}

/// A span being recorded, and how much more of it may be kept.
struct Recording {
    span: Box<dyn RecordingSpan>,
    limits: Limits,
    /// Attributes kept so far.
    kept: usize,
}

impl Recording {
    fn set_attribute(&mut self, mut attribute: Attribute<'static>) {
        if self.kept < self.limits.count() {
            self.limits.cut(&mut attribute.value);
            self.kept += 1;
            self.span.set_attribute(attribute);
        }
    }

    fn end(self, status: Status, mut attributes: Vec<Attribute<'static>>) {
        self.limits.apply(&mut attributes, self.kept);
        // `error.type` is kept even in a full span: it says why it failed.
        if let Status::Error { error_type } = &status {
            let mut value = Value::from(error_type.clone());
            self.limits.cut(&mut value);
            attributes.push(Attribute::new(semconv::ERROR_TYPE, value));
        }
        self.span.end(SpanEnd {
            end_time: SystemTime::now(),
            status,
            attributes,
        });
    }
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
    /// use trace_core::{InMemoryRecorder, Span, SpanKind, Status, TraceContext, record::SpanStart, sampling::Decision};
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
            // Nothing from a request reaches a recorder whole.
            let limits = recorder.limits();
            let kept = limits.apply(&mut start.attributes, 0);
            recorder
                .start(start)
                .map(|span| Recording { span, limits, kept })
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

    /// The recording, when there is one.
    #[cfg(feature = "tracing")]
    pub(crate) fn recording(&self) -> Option<&dyn RecordingSpan> {
        self.recording.as_ref().map(|r| &*r.span)
    }

    /// Whether anything is being recorded: compute attributes only then.
    #[must_use]
    pub fn is_recording(&self) -> bool {
        self.recording.is_some()
    }

    /// Adds an attribute (within the recorder's [`Limits`]).
    pub fn set_attribute(&mut self, attribute: Attribute<'static>) {
        if let Some(recording) = &mut self.recording {
            recording.set_attribute(attribute);
        }
    }

    /// Gives the span another name (within the recorder's [`Limits`]), as
    /// OpenTelemetry's `UpdateName` does: for a name known only later, such
    /// as a gRPC method the server turned out not to have.
    pub fn set_name(&mut self, name: &str) {
        if let Some(recording) = &mut self.recording {
            let name = recording.limits.cut_str(name);
            recording.span.set_name(name);
        }
    }

    /// Ends the span.
    ///
    /// An error status is also written as the `error.type` attribute, here
    /// and only here, so every error path (a failed service or body, a
    /// cancelled span, a 5xx, a failed call) carries it alike.
    pub fn end(mut self, status: Status, attributes: Vec<Attribute<'static>>) {
        if let Some(recording) = self.recording.take() {
            recording.end(status, attributes);
        }
    }
}

impl Drop for Span {
    fn drop(&mut self) {
        if let Some(recording) = self.recording.take() {
            // Dropped while a panic unwinds (the handler panicked under
            // an adapter that drops its span then): not a client that left.
            let why = if std::thread::panicking() {
                "panic"
            } else {
                "cancelled"
            };
            recording.end(Status::error(why), Vec::new());
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
