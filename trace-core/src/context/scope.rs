//! The current-context scope: which context the work on this thread is
//! done in, set by a scope around a closure or a future.

use std::{
    cell::RefCell,
    fmt,
    future::Future,
    marker::PhantomData,
    pin::Pin,
    task::{Context, Poll},
};

use pin_project::pin_project;

use super::TraceContext;
use crate::codec::TraceParent;

/// This thread's current context, and what restores it.
///
/// Scopes (a [`TraceContext::scope`] call, a [`WithContext`] poll) are
/// strictly nested, by the call stack: one swaps its context in and, when
/// it ends, swaps it back out. Guards ([`ContextGuard`]) are not nested by
/// anything, so each keeps an entry here with the context it replaced and
/// an id, and restoring does not depend on the order they are dropped in:
///
/// - a guard dropped while newer guards are alive only marks its entry,
///   which goes (restoring what it replaced) once everything newer has;
/// - a guard made outside the innermost scope and dropped inside it only
///   marks its entry too, so the scope still hands back its own context;
/// - guards made inside a scope and still there when it ends (forgotten
///   with `mem::forget`, or alive) are discarded then, with what they
///   made current: nothing made current inside a scope outlives it.
///
/// A guard forgotten outside any scope stays current on its thread: there
/// is nothing to end.
struct State {
    current: Option<TraceContext>,
    guards: Vec<Guarded>,
    /// `guards.len()` when the innermost open scope began.
    floor: usize,
    next_id: u64,
}

struct Guarded {
    id: u64,
    /// The context the guard replaced, to restore.
    previous: Option<TraceContext>,
    /// `false` once its guard was dropped out of order.
    live: bool,
}

/// A guard's entry: its index, and its id to check it is still the same.
#[derive(Clone, Copy)]
struct Mark {
    index: usize,
    id: u64,
}

/// What a scope restores when it ends.
#[derive(Clone, Copy)]
struct Opened {
    floor: usize,
}

thread_local! {
    static STATE: RefCell<State> = const {
        RefCell::new(State {
            current: None,
            guards: Vec::new(),
            floor: 0,
            next_id: 0,
        })
    };
}

impl State {
    #[inline]
    fn open(&mut self, slot: &mut Option<TraceContext>) -> Opened {
        std::mem::swap(&mut self.current, slot);
        Opened {
            floor: std::mem::replace(&mut self.floor, self.guards.len()),
        }
    }

    #[inline]
    fn close(&mut self, opened: Opened, slot: &mut Option<TraceContext>) {
        if self.guards.len() > self.floor {
            // Guards left from inside the scope: the first one replaced the
            // scope's own context.
            self.current = self.guards[self.floor].previous.take();
            self.guards.truncate(self.floor);
        }
        std::mem::swap(&mut self.current, slot);
        self.floor = opened.floor;
        self.pop_dead();
    }

    fn attach(&mut self, cx: TraceContext) -> Mark {
        let id = self.next_id;
        self.next_id = self.next_id.wrapping_add(1);
        let previous = self.current.replace(cx);
        self.guards.push(Guarded {
            id,
            previous,
            live: true,
        });
        Mark {
            index: self.guards.len() - 1,
            id,
        }
    }

    fn detach(&mut self, mark: Mark) {
        if self.guards.get(mark.index).is_none_or(|g| g.id != mark.id) {
            // Discarded already, by the scope it was made in.
            return;
        }
        let on_top = mark.index + 1 == self.guards.len();
        if on_top && mark.index >= self.floor {
            let guard = self.guards.pop().expect("on top");
            self.current = guard.previous;
            self.pop_dead();
        } else {
            self.guards[mark.index].live = false;
        }
    }

    /// Takes off, restoring what each replaced, the entries of guards
    /// dropped out of order that are now on top of this scope's.
    #[inline]
    fn pop_dead(&mut self) {
        while self.guards.len() > self.floor && self.guards.last().is_some_and(|g| !g.live) {
            let guard = self.guards.pop().expect("not empty");
            self.current = guard.previous;
        }
    }
}

/// Calls `f` with the current context, borrowed (no clone).
#[inline]
pub(crate) fn with_current<R>(f: impl FnOnce(Option<&TraceContext>) -> R) -> R {
    let mut f = Some(f);
    let seen =
        STATE.try_with(|state| (f.take().expect("called once"))(state.borrow().current.as_ref()));
    match seen {
        Ok(result) => result,
        Err(_) => (f.take().expect("not called: the thread is being torn down"))(None),
    }
}

/// Runs `f` with `slot`'s context current, and puts it back in `slot` after,
/// even if `f` panics. Without the thread's state (the thread is being torn
/// down), `f` runs without it.
#[inline]
fn in_scope<R>(slot: &mut Option<TraceContext>, f: impl FnOnce() -> R) -> R {
    // A span recorded through the OpenTelemetry API is OpenTelemetry's
    // current span too, so that spans started with its API nest.
    #[cfg(feature = "opentelemetry")]
    let _otel = otel_guard(slot.as_ref());
    let Ok(opened) = STATE.try_with(|state| state.borrow_mut().open(slot)) else {
        return f();
    };
    let _close = Close {
        opened: Some(opened),
        slot,
    };
    f()
}

/// Makes `cx`'s OpenTelemetry `Context` current, when its span has one.
#[cfg(feature = "opentelemetry")]
#[inline]
fn otel_guard(cx: Option<&TraceContext>) -> Option<opentelemetry::ContextGuard> {
    let otel = cx?.span.as_ref()?.otel()?;
    Some(otel.clone().attach())
}

struct Close<'a> {
    opened: Option<Opened>,
    slot: &'a mut Option<TraceContext>,
}

impl Drop for Close<'_> {
    #[inline]
    fn drop(&mut self) {
        if let Some(opened) = self.opened.take() {
            let _ = STATE.try_with(|state| state.borrow_mut().close(opened, self.slot));
        }
    }
}

impl TraceContext {
    /// The context of the work being done now, if a scope set one: inside a
    /// future run with [`FutureExt::with_trace_context`] or
    /// [`in_current_context`](FutureExt::in_current_context), or while a
    /// [`ContextGuard`] from [`attach`](Self::attach) is alive.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::TraceContext;
    ///
    /// assert!(TraceContext::current().is_none());
    /// let cx = TraceContext::new_root(true);
    /// let _guard = cx.clone().attach();
    /// assert_eq!(TraceContext::current().unwrap().span_id(), cx.span_id());
    /// ```
    #[must_use]
    pub fn current() -> Option<Self> {
        STATE
            .try_with(|state| state.borrow().current.clone())
            .ok()
            .flatten()
    }

    /// The `traceparent` of the current context, without cloning the rest.
    #[must_use]
    pub fn current_traceparent() -> Option<TraceParent> {
        STATE
            .try_with(|state| state.borrow().current.as_ref().map(Self::traceparent))
            .ok()
            .flatten()
    }

    /// Runs `f` with this context current, then hands the context back: for
    /// synchronous work done by the owner of a context, without the clone
    /// that [`attach`](Self::attach) would need to keep it.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::TraceContext;
    ///
    /// let cx = TraceContext::new_root(true);
    /// let span_id = cx.span_id();
    /// let (seen, cx) = cx.scope(|| TraceContext::current_traceparent().unwrap().parent_id());
    /// assert_eq!((seen, cx.span_id()), (span_id, span_id));
    /// assert!(TraceContext::current().is_none());
    /// ```
    ///
    /// Whatever `f` does with guards (drops them out of order, forgets
    /// them), the context is given back and the previous one is current
    /// again when `scope` returns.
    #[inline]
    pub fn scope<R>(self, f: impl FnOnce() -> R) -> (R, Self) {
        let mut slot = Some(self);
        let result = in_scope(&mut slot, f);
        // The scope swaps its own context back out whatever `f` did with
        // guards (see `State`).
        (result, slot.expect("a scope hands back its own context"))
    }

    /// Calls `make` with this context current and returns the future it
    /// made, to be polled in this context too: a service's `call` (some
    /// services do work in `call` itself) and its response future, in one
    /// step. The same as [`scope`](Self::scope) then
    /// [`with_trace_context`](FutureExt::with_trace_context), without the
    /// context being moved in between.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::TraceContext;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let cx = TraceContext::new_root(true);
    /// let span_id = cx.span_id();
    /// let future = cx.scope_future(|| {
    ///     let in_call = TraceContext::current().map(|c| c.span_id());
    ///     async move { (in_call, TraceContext::current().map(|c| c.span_id())) }
    /// });
    /// assert!(TraceContext::current().is_none());
    /// assert_eq!(future.await, (Some(span_id), Some(span_id)));
    /// # }
    /// ```
    #[inline]
    pub fn scope_future<F: Future>(self, make: impl FnOnce() -> F) -> WithContext<F> {
        let mut cx = Some(self);
        let inner = in_scope(&mut cx, make);
        WithContext {
            inner,
            cx,
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
        }
    }

    /// Makes this the current context on this thread until the guard is
    /// dropped; the previous one comes back then. For synchronous code: a
    /// future should use [`FutureExt::with_trace_context`] instead, since a
    /// task may move between threads at each `.await`.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::TraceContext;
    ///
    /// let outer = TraceContext::new_root(true);
    /// let _outer = outer.clone().attach();
    /// {
    ///     let inner = outer.child();
    ///     let _inner = inner.clone().attach();
    ///     assert_eq!(TraceContext::current().unwrap().span_id(), inner.span_id());
    /// }
    /// assert_eq!(TraceContext::current().unwrap().span_id(), outer.span_id());
    /// ```
    pub fn attach(self) -> ContextGuard {
        #[cfg(feature = "opentelemetry")]
        let otel = otel_guard(Some(&self));
        ContextGuard {
            mark: STATE.try_with(|state| state.borrow_mut().attach(self)).ok(),
            #[cfg(feature = "opentelemetry")]
            otel,
            _not_send: PhantomData,
        }
    }
}

/// Restores the previous current context when dropped; see
/// [`TraceContext::attach`].
///
/// It cannot be sent to another thread: the context it set is this thread's.
///
/// # Examples
///
/// ```
/// use trace_core::TraceContext;
///
/// let guard = TraceContext::new_root(false).attach();
/// assert!(TraceContext::current().is_some());
/// drop(guard);
/// assert!(TraceContext::current().is_none());
/// ```
#[must_use = "the context is current only while the guard is alive"]
pub struct ContextGuard {
    mark: Option<Mark>,
    /// OpenTelemetry's current context, when this one's span is recorded
    /// through its API; restored after ours.
    #[cfg(feature = "opentelemetry")]
    otel: Option<opentelemetry::ContextGuard>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        if let Some(mark) = self.mark {
            let _ = STATE.try_with(|state| state.borrow_mut().detach(mark));
        }
        #[cfg(feature = "opentelemetry")]
        drop(self.otel.take());
    }
}

impl fmt::Debug for ContextGuard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContextGuard").finish_non_exhaustive()
    }
}

/// Runs futures inside a trace context.
///
/// # Examples
///
/// ```
/// use trace_core::{FutureExt, TraceContext};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let cx = TraceContext::new_root(true);
/// async {
///     // Everything this future awaits sees the context…
///     assert_eq!(TraceContext::current().unwrap().span_id(), cx.span_id());
///
///     // …and a spawned task keeps it with `in_current_context`.
///     let task = tokio::spawn(async { TraceContext::current().map(|c| c.span_id()) }.in_current_context());
///     assert_eq!(task.await.unwrap(), Some(cx.span_id()));
/// }
/// .with_trace_context(cx.clone())
/// .await;
///
/// assert!(TraceContext::current().is_none(), "only inside the future");
/// # }
/// ```
pub trait FutureExt: Future + Sized {
    /// Makes `cx` current whenever this future is polled.
    fn with_trace_context(self, cx: TraceContext) -> WithContext<Self> {
        WithContext {
            inner: self,
            cx: Some(cx),
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
        }
    }

    /// Keeps the context that is current *now* (or its absence) for this
    /// future, wherever and whenever it is polled: the combinator for
    /// `tokio::spawn` and other work that leaves the request's task.
    fn in_current_context(self) -> WithContext<Self> {
        WithContext {
            inner: self,
            cx: TraceContext::current(),
            #[cfg(feature = "tracing")]
            span: tracing::Span::none(),
        }
    }
}

impl<F: Future> FutureExt for F {}

/// A future run inside a trace context; see [`FutureExt`].
///
/// # Examples
///
/// ```
/// use trace_core::{FutureExt, TraceContext};
///
/// let cx = TraceContext::new_root(true);
/// let future = async { TraceContext::current().is_some() }.with_trace_context(cx.clone());
/// assert_eq!(future.trace_context().map(TraceContext::span_id), Some(cx.span_id()));
/// ```
#[pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
#[derive(Debug, Clone)]
pub struct WithContext<F> {
    #[pin]
    inner: F,
    cx: Option<TraceContext>,
    #[cfg(feature = "tracing")]
    span: tracing::Span,
}

impl<F> WithContext<F> {
    /// The context the future runs in.
    #[must_use]
    pub fn trace_context(&self) -> Option<&TraceContext> {
        self.cx.as_ref()
    }

    /// The wrapped future.
    pub fn into_inner(self) -> F {
        self.inner
    }

    /// Also enters `span` while the future is polled: the `tracing` span of
    /// the work the context stands for (see [`TraceContext::tracing_span`]).
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::{FutureExt, SpanKind, TraceContext};
    ///
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// let cx = TraceContext::new_root(true);
    /// let span = cx.tracing_span("work", SpanKind::Internal);
    /// async { tracing::info!("with the ids") }.with_trace_context(cx).in_tracing_span(span).await;
    /// # }
    /// ```
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    pub fn in_tracing_span(mut self, span: tracing::Span) -> Self {
        self.span = span;
        self
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        #[cfg(feature = "tracing")]
        let _entered = this.span.enter();
        in_scope(this.cx, || this.inner.poll(task))
    }
}
