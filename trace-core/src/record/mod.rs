//! Recording spans, whatever the backend: nothing, memory, OpenTelemetry,
//! `tracing`. Adapters only ever talk to a [`Recorder`] through a [`Span`].

mod attribute;
mod body;
mod limits;
mod local;
mod memory;
mod span;

use std::{sync::Arc, time::SystemTime};

use crate::{codec::TraceParent, context::TraceContext};

pub(crate) use self::span::Active;
pub use self::{
    attribute::{Attribute, Event, SpanKind, Status, Value},
    body::{SpanBody, TrailerClassifier},
    limits::Limits,
    local::{InSpan, LocalSpan, SpanBuilder, span},
    memory::{DEFAULT_MAX_BYTES, FinishedSpan, InMemoryRecorder},
    span::{Span, SpanRef},
};

/// What a recorder is told when a span starts.
///
/// # Examples
///
/// ```
/// use std::time::SystemTime;
/// use trace_core::{SpanKind, TraceContext, record::SpanStart};
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
    /// Links to other spans, given by the code that started it (the
    /// context's own [`link`](TraceContext::link), the `traceparent` a
    /// restarted trace came with, is not among them).
    pub links: Vec<TraceParent>,
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
            links: Vec::new(),
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
/// use trace_core::{Recorder, Attribute, record::{RecordingSpan, SpanEnd, SpanStart}};
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

    /// How much of each span is kept: [`Span`] applies these to every
    /// attribute before the recorder sees it.
    fn limits(&self) -> Limits {
        Limits::default()
    }
}

impl<R: Recorder + ?Sized> Recorder for Arc<R> {
    fn is_enabled(&self) -> bool {
        (**self).is_enabled()
    }

    fn start(&self, span: SpanStart<'_>) -> Option<Box<dyn RecordingSpan>> {
        (**self).start(span)
    }

    fn limits(&self) -> Limits {
        (**self).limits()
    }
}

/// What a recorder is told when a span ends.
///
/// # Examples
///
/// ```
/// use trace_core::{Status, record::SpanEnd};
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
///
/// # Examples
///
/// A recorder that prints each span's name when it ends:
///
/// ```
/// use trace_core::{Attribute, Recorder, record::{RecordingSpan, SpanEnd, SpanStart}};
///
/// struct Printed(String);
///
/// impl RecordingSpan for Printed {
///     fn set_attribute(&mut self, _: Attribute<'static>) {}
///     fn end(self: Box<Self>, end: SpanEnd) {
///         println!("{} ended: {:?}", self.0, end.status);
///     }
/// }
///
/// struct Print;
///
/// impl Recorder for Print {
///     fn start(&self, span: SpanStart<'_>) -> Option<Box<dyn RecordingSpan>> {
///         Some(Box::new(Printed(span.name.to_owned())))
///     }
/// }
/// ```
pub trait RecordingSpan: Send + Sync + 'static {
    /// Adds an attribute while the span runs.
    fn set_attribute(&mut self, attribute: Attribute<'static>);

    /// Gives the span another name, known only after its start (a gRPC
    /// server span for a method the server does not have is renamed
    /// `grpc`, as OpenTelemetry's RPC conventions say). The default keeps
    /// the first name; `TracingRecorder` must (tracing-opentelemetry takes
    /// no name once a span has started).
    fn set_name(&mut self, name: &str) {
        let _ = name;
    }

    /// Adds an event (within the limits, applied before). The default
    /// keeps nothing of it.
    fn add_event(&mut self, event: Event) {
        let _ = event;
    }

    /// Ends the span.
    fn end(self: Box<Self>, end: SpanEnd);

    /// The OpenTelemetry `Context` whose active span this span is, for
    /// recorders that record through the OpenTelemetry API
    /// ([`OtelRecorder`](crate::OtelRecorder)): it is made current
    /// (`opentelemetry::Context::current()`) while the span's work runs, so
    /// that spans started with the OpenTelemetry API there are its children.
    #[cfg(feature = "opentelemetry")]
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    fn otel_context(&self) -> Option<opentelemetry::Context> {
        None
    }

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
