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

thread_local! {
    static CURRENT: RefCell<Option<TraceContext>> = const { RefCell::new(None) };
}

/// Puts `slot` into the current-context cell and the cell's old value into
/// `slot`. Swapping twice restores; scopes nest as a stack.
fn swap_current(slot: &mut Option<TraceContext>) {
    CURRENT.with(|current| std::mem::swap(&mut *current.borrow_mut(), slot));
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
        CURRENT.with(|current| current.borrow().clone())
    }

    /// The `traceparent` of the current context, without cloning the rest.
    #[must_use]
    pub fn current_traceparent() -> Option<TraceParent> {
        CURRENT.with(|current| current.borrow().as_ref().map(Self::traceparent))
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
    pub fn scope<R>(self, f: impl FnOnce() -> R) -> (R, Self) {
        let mut slot = Some(self);
        swap_current(&mut slot);
        let restore = Restore(&mut slot);
        let result = f();
        drop(restore);
        (result, slot.expect("the scope gives its context back"))
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
        let mut previous = Some(self);
        swap_current(&mut previous);
        ContextGuard {
            previous,
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
    previous: Option<TraceContext>,
    _not_send: PhantomData<*const ()>,
}

impl Drop for ContextGuard {
    fn drop(&mut self) {
        swap_current(&mut self.previous);
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

/// Swaps the context back even if the inner `poll` panics.
struct Restore<'a>(&'a mut Option<TraceContext>);

impl Drop for Restore<'_> {
    fn drop(&mut self) {
        swap_current(self.0);
    }
}

impl<F: Future> Future for WithContext<F> {
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, task: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        #[cfg(feature = "tracing")]
        let _entered = this.span.enter();
        swap_current(this.cx);
        let _restore = Restore(this.cx);
        this.inner.poll(task)
    }
}
