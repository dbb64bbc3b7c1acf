//! [`TraceContext`], what a unit of work carries, and the current-context
//! scope ([`TraceContext::current`], [`FutureExt`]).

mod scope;

use std::fmt;

use std::sync::Arc;

use crate::{
    codec::{Baggage, CorrelationId, SpanId, TraceFlags, TraceId, TraceParent, TraceState},
    record::{Active, Span, SpanRef},
};

pub(crate) use self::scope::with_current;
pub use self::scope::{ContextGuard, FutureExt, WithContext};

/// What a unit of work carries: its trace, its own span, its parent, and the
/// context that travels with it (tracestate, baggage, correlation ID).
///
/// The span id is the id of the span this work records, and the parent-id
/// written downstream: the trace a backend shows is connected because the
/// two are the same.
///
/// Cloning is cheap: the ids are copied, the rest are reference-counted
/// header values.
///
/// # Examples
///
/// ```
/// use trace_core::{TraceContext, TraceParent};
///
/// // A request arrives from another service…
/// let incoming = TraceParent::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
/// let remote = TraceContext::remote(incoming);
///
/// // …and the work done here is a child of the caller's span.
/// let server = remote.child();
/// assert_eq!(server.trace_id(), incoming.trace_id());
/// assert_eq!(server.parent_span_id(), Some(incoming.parent_id()));
/// assert!(server.is_parent_remote());
/// assert_ne!(server.span_id(), incoming.parent_id());
///
/// // What goes downstream names this span as the parent.
/// assert_eq!(server.traceparent().parent_id(), server.span_id());
/// ```
#[derive(Clone)]
pub struct TraceContext {
    trace_id: TraceId,
    span_id: SpanId,
    flags: TraceFlags,
    /// This context stands for a span of another process (an incoming
    /// `traceparent`), not for work done here.
    remote: bool,
    parent: Option<Parent>,
    pub(crate) state: TraceState,
    pub(crate) baggage: Baggage,
    pub(crate) correlation_id: Option<CorrelationId>,
    /// Shared, not inline: only a restarted trace has one, and inline it
    /// would make every context 18 bytes larger, copied at every scope.
    link: Option<Arc<TraceParent>>,
    /// The recording of the span this context stands for, when it records:
    /// what [`SpanRef::current`] reaches, and where child spans record.
    pub(crate) span: Option<Arc<Active>>,
    /// A debug trace (B3's `d`, Jaeger's flag `0x02`), passed on as such in
    /// the formats that carry it.
    pub(crate) debug: bool,
    /// The trace id came in 16 digits (B3, Jaeger): written so in them.
    pub(crate) narrow: bool,
}

/// A restarted trace's link, shared (rare: out of the request path's line).
#[cold]
#[inline(never)]
fn shared_link(link: TraceParent) -> Arc<TraceParent> {
    Arc::new(link)
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Parent {
    span_id: SpanId,
    remote: bool,
}

impl TraceContext {
    /// This context with another span id: the same trace, as seen from
    /// another span of this process (the current `tracing` span's).
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn with_span_id(mut self, span_id: SpanId) -> Self {
        self.span_id = span_id;
        self.span = None;
        self
    }

    /// The start of a new trace: random ids, the `RANDOM` flag set (every
    /// byte of the trace-id is random), and `sampled` as given.
    #[must_use]
    pub fn new_root(sampled: bool) -> Self {
        Self::root(TraceId::random(), TraceFlags::RANDOM.with_sampled(sampled))
    }

    /// The root of a trace with this id: no parent, a new span id.
    #[must_use]
    pub fn root(trace_id: TraceId, flags: TraceFlags) -> Self {
        Self {
            trace_id,
            span_id: SpanId::random(),
            flags,
            remote: false,
            parent: None,
            state: TraceState::EMPTY,
            baggage: Baggage::EMPTY,
            correlation_id: None,
            link: None,
            span: None,
            debug: false,
            narrow: false,
        }
    }

    /// A context with these ids and no parent (for the OpenTelemetry bridge).
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn from_ids(
        trace_id: TraceId,
        span_id: SpanId,
        flags: TraceFlags,
        remote: bool,
    ) -> Self {
        Self {
            span_id,
            remote,
            ..Self::root(trace_id, flags)
        }
    }

    /// The caller's span, as described by an incoming `traceparent`.
    ///
    /// Work done here is recorded in a [`child`](Self::child) of it.
    #[must_use]
    pub fn remote(parent: TraceParent) -> Self {
        Self {
            trace_id: parent.trace_id(),
            span_id: parent.parent_id(),
            flags: parent.flags(),
            remote: true,
            parent: None,
            state: TraceState::EMPTY,
            baggage: Baggage::EMPTY,
            correlation_id: None,
            link: None,
            span: None,
            debug: false,
            narrow: false,
        }
    }

    /// A child: same trace, flags, tracestate, baggage and correlation ID, a
    /// new span id, and this span as the parent.
    #[must_use]
    pub fn child(&self) -> Self {
        Self {
            span_id: SpanId::random(),
            remote: false,
            parent: Some(Parent {
                span_id: self.span_id,
                remote: self.remote,
            }),
            link: None,
            span: None,
            trace_id: self.trace_id,
            flags: self.flags,
            state: self.state.clone(),
            baggage: self.baggage.clone(),
            correlation_id: self.correlation_id.clone(),
            debug: self.debug,
            narrow: self.narrow,
        }
    }

    /// An incoming request's context, whole: the caller's span, or a new
    /// root (linked to the `traceparent` it was restarted from), with what
    /// travels with it.
    #[inline]
    pub(crate) fn incoming(
        parent: Option<TraceParent>,
        link: Option<TraceParent>,
        state: TraceState,
        baggage: Baggage,
        correlation_id: CorrelationId,
    ) -> Self {
        let (trace_id, span_id, flags) = match parent {
            Some(parent) => (parent.trace_id(), parent.parent_id(), parent.flags()),
            // Every byte of a new trace-id is random: the Level 2 flag says so.
            None => (TraceId::random(), SpanId::random(), TraceFlags::RANDOM),
        };
        Self {
            trace_id,
            span_id,
            flags,
            remote: parent.is_some(),
            parent: None,
            state,
            baggage,
            correlation_id: Some(correlation_id),
            link: link.map(shared_link),
            span: None,
            debug: false,
            narrow: false,
        }
    }

    /// This context, standing for `span`'s recording (field by field: the
    /// context is not copied whole on the way).
    #[inline]
    pub(crate) fn standing_for(self, span: Option<Arc<Active>>) -> Self {
        Self { span, ..self }
    }

    /// Turns the caller's span into a child of it, in place: a new span
    /// id, and the caller's span as the (remote) parent. The rest is kept.
    pub(crate) fn become_child(&mut self) {
        self.parent = Some(Parent {
            span_id: self.span_id,
            remote: self.remote,
        });
        self.span_id = SpanId::random();
        self.remote = false;
        self.link = None;
        self.span = None;
    }

    /// Sets the sampled flag, in place.
    pub(crate) fn set_sampled(&mut self, sampled: bool) {
        self.flags = self.flags.with_sampled(sampled);
    }

    /// The trace-id.
    #[must_use]
    pub fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// This span's id: the parent-id of every call made from here.
    #[must_use]
    pub fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The parent span's id, `None` at the root of a trace.
    #[must_use]
    pub fn parent_span_id(&self) -> Option<SpanId> {
        self.parent.map(|p| p.span_id)
    }

    /// Whether the parent span is in another process.
    #[must_use]
    pub fn is_parent_remote(&self) -> bool {
        self.parent.is_some_and(|p| p.remote)
    }

    /// Whether this context stands for a span in another process (made by
    /// [`remote`](Self::remote)).
    #[must_use]
    pub fn is_remote(&self) -> bool {
        self.remote
    }

    /// The trace flags.
    #[must_use]
    pub fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// Whether the trace is sampled.
    #[must_use]
    pub fn is_sampled(&self) -> bool {
        self.flags.is_sampled()
    }

    /// The `tracestate`.
    #[must_use]
    pub fn trace_state(&self) -> &TraceState {
        &self.state
    }

    /// The baggage.
    #[must_use]
    pub fn baggage(&self) -> &Baggage {
        &self.baggage
    }

    /// The correlation ID, if one was received or made.
    #[must_use]
    pub fn correlation_id(&self) -> Option<&CorrelationId> {
        self.correlation_id.as_ref()
    }

    /// The incoming `traceparent` this trace was restarted from, kept so the
    /// two traces can be joined (see the trust policy).
    #[must_use]
    pub fn link(&self) -> Option<TraceParent> {
        self.link.as_deref().copied()
    }

    /// The `traceparent` to send downstream: this trace, this span.
    #[must_use]
    pub fn traceparent(&self) -> TraceParent {
        TraceParent::new(self.trace_id, self.span_id, self.flags)
    }

    /// This context with other flags.
    #[must_use]
    pub fn with_flags(mut self, flags: TraceFlags) -> Self {
        self.flags = flags;
        self
    }

    /// This context with another `tracestate`.
    #[must_use]
    pub fn with_trace_state(mut self, state: TraceState) -> Self {
        self.state = state;
        self
    }

    /// This context with other baggage.
    #[must_use]
    pub fn with_baggage(mut self, baggage: Baggage) -> Self {
        self.baggage = baggage;
        self
    }

    /// Whether this is a debug trace (B3's `d` or `X-B3-Flags: 1`, Jaeger's
    /// flag `0x02`), which the B3 and Jaeger formats pass on as such.
    #[must_use]
    pub fn is_debug(&self) -> bool {
        self.debug
    }

    /// This context as a debug trace, or not.
    #[must_use]
    pub fn with_debug(mut self, debug: bool) -> Self {
        self.debug = debug;
        self
    }

    /// Whether the trace id came in 16 digits (a 64-bit B3 or Jaeger trace
    /// id, padded to 128 bits): B3 and Jaeger write it so.
    #[must_use]
    pub fn is_narrow_trace_id(&self) -> bool {
        self.narrow
    }

    /// This context with its trace id written in 16 digits in B3 and
    /// Jaeger (when its high 64 bits are zero), or in 32.
    #[must_use]
    pub fn with_narrow_trace_id(mut self, narrow: bool) -> Self {
        self.narrow = narrow;
        self
    }

    /// This context with a correlation ID.
    #[must_use]
    pub fn with_correlation_id(mut self, id: CorrelationId) -> Self {
        self.correlation_id = Some(id);
        self
    }

    /// The span this context stands for, to add attributes and events to
    /// (see [`SpanRef`]); it records nothing when the context's span does
    /// not record.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::TraceContext;
    ///
    /// let cx = TraceContext::new_root(true);
    /// cx.span().set_attribute("user.id", 7_i64); // kept by nothing: no recorder
    /// assert!(!cx.span().is_recording());
    /// ```
    #[must_use]
    pub fn span(&self) -> SpanRef {
        SpanRef::from_active(self.span.clone())
    }

    /// This context, standing for `span`'s recording: what an adapter that
    /// runs its own [`Span`] does so that [`SpanRef::current`] and child
    /// spans reach it. The ids are the context's own, as when the span
    /// started.
    #[must_use]
    pub fn with_span(mut self, span: &Span) -> Self {
        self.span = span.active().cloned();
        self
    }

    /// This context with a link to the `traceparent` it was restarted from.
    #[must_use]
    pub fn with_link(mut self, link: TraceParent) -> Self {
        self.link = Some(Arc::new(link));
        self
    }
}

impl fmt::Debug for TraceContext {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceContext")
            .field("trace_id", &format_args!("{}", self.trace_id))
            .field("span_id", &format_args!("{}", self.span_id))
            .field("parent_span_id", &self.parent.map(|p| p.span_id))
            .field("flags", &self.flags)
            .field("remote", &self.remote)
            .field("trace_state", &self.state)
            .field("baggage", &self.baggage)
            .field("correlation_id", &self.correlation_id)
            .field("link", &self.link)
            .field("debug", &self.debug)
            .field("narrow_trace_id", &self.narrow)
            .field("recording", &self.span.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use std::task::{Context, Poll};

    use super::*;

    #[test]
    fn root_and_children() {
        let root = TraceContext::new_root(true);
        assert!(root.flags().is_random() && root.is_sampled());
        assert_eq!(root.parent_span_id(), None);
        let child = root.child();
        assert_eq!(child.trace_id(), root.trace_id());
        assert_eq!(child.parent_span_id(), Some(root.span_id()));
        assert!(!child.is_parent_remote(), "a local parent");
        assert_ne!(child.span_id(), root.span_id());
    }

    #[test]
    fn a_child_keeps_what_travels_and_drops_the_link() {
        let tp =
            TraceParent::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02");
        let state: TraceState = "congo=1".parse().unwrap();
        let baggage: Baggage = "k=v".parse().unwrap();
        let id: CorrelationId = "req-1".parse().unwrap();
        let cx = TraceContext::new_root(false)
            .with_trace_state(state.clone())
            .with_baggage(baggage.clone())
            .with_correlation_id(id.clone())
            .with_link(tp);
        let child = cx.child();
        assert_eq!(child.trace_state(), &state);
        assert_eq!(child.baggage(), &baggage);
        assert_eq!(child.correlation_id(), Some(&id));
        assert_eq!(cx.link(), Some(tp));
        assert_eq!(
            child.link(),
            None,
            "a link belongs to the span that restarted the trace"
        );
    }

    #[test]
    fn the_random_flag_survives_a_remote_child() {
        let tp =
            TraceParent::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02");
        let child = TraceContext::remote(tp).child();
        assert!(child.flags().is_random());
        assert!(child.traceparent().flags().is_random());
    }

    #[test]
    fn guards_nest_and_restore() {
        assert!(TraceContext::current().is_none());
        let a = TraceContext::new_root(true);
        let b = a.child();
        let guard_a = a.clone().attach();
        let guard_b = b.clone().attach();
        assert_eq!(TraceContext::current_traceparent(), Some(b.traceparent()));
        drop(guard_b);
        assert_eq!(TraceContext::current_traceparent(), Some(a.traceparent()));
        drop(guard_a);
        assert!(TraceContext::current().is_none());
    }

    #[test]
    fn a_panicking_poll_restores_the_context() {
        let cx = TraceContext::new_root(true);
        let fut = std::pin::pin!(async { panic!("boom") }.with_trace_context(cx));
        let waker = std::task::Waker::noop();
        let mut task = Context::from_waker(waker);
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| fut.poll(&mut task)));
        assert!(result.is_err());
        assert!(TraceContext::current().is_none());
    }

    fn current_span() -> Option<SpanId> {
        TraceContext::current_traceparent().map(|tp| tp.parent_id())
    }

    #[test]
    fn guards_dropped_out_of_order_restore_what_was_before_them() {
        let (a, b, c) = (
            TraceContext::new_root(true),
            TraceContext::new_root(true),
            TraceContext::new_root(true),
        );
        let guard_a = a.clone().attach();
        let guard_b = b.clone().attach();
        let guard_c = c.clone().attach();
        drop(guard_a);
        assert_eq!(
            current_span(),
            Some(c.span_id()),
            "the newest is still current"
        );
        drop(guard_c);
        assert_eq!(
            current_span(),
            Some(b.span_id()),
            "never a's: its guard is gone"
        );
        drop(guard_b);
        assert_eq!(current_span(), None, "what was before all three");

        let guard_a = a.attach();
        let guard_b = b.attach();
        drop(guard_a);
        drop(guard_b);
        assert_eq!(current_span(), None);
    }

    #[test]
    fn a_forgotten_guard_does_not_outlive_its_scope() {
        let (outer, leaked) = (TraceContext::new_root(true), TraceContext::new_root(true));
        let outer_id = outer.span_id();
        let (seen, outer) = outer.scope(|| {
            std::mem::forget(leaked.clone().attach());
            current_span()
        });
        assert_eq!(
            seen,
            Some(leaked.span_id()),
            "current inside, while forgotten"
        );
        assert_eq!(
            outer.span_id(),
            outer_id,
            "the scope hands back its own context"
        );
        assert_eq!(
            current_span(),
            None,
            "and the forgotten one is gone with the scope"
        );

        // In a future: the leak ends with the poll, and the future keeps its
        // own context for the next one.
        let cx = TraceContext::new_root(true);
        let mut polls = 0;
        let fut = std::future::poll_fn(|_| {
            polls += 1;
            let here = current_span();
            std::mem::forget(leaked.clone().attach());
            if polls == 2 {
                Poll::Ready(here)
            } else {
                Poll::Pending
            }
        });
        let mut fut = std::pin::pin!(fut.with_trace_context(cx.clone()));
        let mut task = Context::from_waker(std::task::Waker::noop());
        assert!(fut.as_mut().poll(&mut task).is_pending());
        assert_eq!(current_span(), None);
        assert_eq!(
            fut.as_mut().poll(&mut task),
            Poll::Ready(Some(cx.span_id()))
        );
        assert_eq!(current_span(), None);
    }

    #[test]
    fn scopes_nest_and_never_panic_on_guards_dropped_inside() {
        let (a, b, c) = (
            TraceContext::new_root(true),
            TraceContext::new_root(true),
            TraceContext::new_root(true),
        );
        let guard = a.attach();
        let (inner, b) = b.scope(|| {
            // The guard made before the scope, dropped inside it.
            drop(guard);
            let (seen, _c) = c.clone().scope(current_span);
            assert_eq!(seen, Some(c.span_id()));
            current_span()
        });
        assert_eq!(inner, Some(b.span_id()));
        assert_eq!(current_span(), None, "a's guard is gone, and so is a");
    }
}
