//! The response future: hands the response's head to `ServerTracing`.

use std::{
    future::Future,
    marker::PhantomData,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use http::Response;
use pin_project::pin_project;
use trace_core::{ServerTracing, context::WithContext, instrument::ServerSpan};

use crate::mode::{Mode, PropagationOnly};

/// The future of [`TraceContextService`](crate::TraceContextService); `M`
/// is the layer's [`mode`](crate::mode).
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use http::{Request, Response};
/// use tower::{Layer, Service, service_fn};
/// use trace_tower::{ResponseFuture, TraceContextLayer};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let mut service = TraceContextLayer::new().layer(service_fn(|_: Request<()>| async {
///     Ok::<_, Infallible>(Response::new(String::new()))
/// }));
/// let future: ResponseFuture<_> = service.call(Request::new(()));
/// assert!(future.await.unwrap().headers().contains_key("x-request-id"));
/// # }
/// ```
#[pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ResponseFuture<F, M = PropagationOnly> {
    #[pin]
    inner: WithContext<F>,
    span: Option<ServerSpan>,
    tracing: Arc<ServerTracing>,
    mode: PhantomData<fn() -> M>,
}

impl<F, M> ResponseFuture<F, M> {
    pub(crate) fn new(
        inner: WithContext<F>,
        span: ServerSpan,
        tracing: Arc<ServerTracing>,
    ) -> Self {
        Self {
            inner,
            span: Some(span),
            tracing,
            mode: PhantomData,
        }
    }
}

impl<F, M> std::fmt::Debug for ResponseFuture<F, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("context", &self.inner.trace_context())
            .finish_non_exhaustive()
    }
}

/// Drops the span it holds if it is dropped while a panic unwinds.
struct DropOnPanic<'a>(&'a mut Option<ServerSpan>);

impl Drop for DropOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            self.0.take();
        }
    }
}

impl<F, M, B, E> Future for ResponseFuture<F, M>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
    M: Mode,
{
    type Output = Result<Response<M::Body<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        // If the inner service panics, its span is dropped as the panic
        // unwinds (and so ends as `panic`), not later with the future.
        let guard = DropOnPanic(this.span);
        let result = ready!(this.inner.as_mut().poll(cx));
        let span = guard.0.take().expect("polled after completion");
        // The request's context, as the inner future ran with it: no copy
        // of it is kept for the response.
        let context = this
            .inner
            .as_ref()
            .get_ref()
            .trace_context()
            .expect("set by the service");
        Poll::Ready(match result {
            Ok(response) => Ok(M::respond(this.tracing, span, context, response)),
            Err(error) => {
                this.tracing.failed::<E>(span, context);
                Err(error)
            }
        })
    }
}
