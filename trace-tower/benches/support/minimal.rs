//! A reference point, not a product: the least a propagation-only layer
//! must do per request, with `trace-core`'s parsers and id generators and
//! nothing else. It reads one `traceparent` and the `x-request-id`, makes
//! the server context, puts it in the request's extensions and writes the
//! correlation ID on the response.
//!
//! It leaves out what `TraceContextLayer` adds on top: the current-context
//! scope around the inner future, the trust policy, the sampler, the span
//! and the body that ends it, repeated-header handling, `tracestate`,
//! baggage and the filter. Measured beside the layer, it shows how much of
//! the layer's cost is the job itself.
//!
//! [`ScopedLayer`] adds the current-context scope, as the layer makes it
//! (the extension's context cloned, current around `call` and every poll):
//! the difference between the two is what the scope costs.

use std::{
    future::Future,
    pin::Pin,
    task::{Context, Poll, ready},
};

use http::{HeaderName, HeaderValue, Request, Response};
use pin_project::pin_project;
use tower::{Layer, Service};
use trace_core::{CorrelationId, FutureExt, TraceContext, TraceParent, context::WithContext};

const TRACEPARENT: HeaderName = HeaderName::from_static("traceparent");
const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// The minimal layer.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct MinimalLayer;

impl<S> Layer<S> for MinimalLayer {
    type Service = Minimal<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Minimal(inner)
    }
}

/// The minimal layer's service.
#[derive(Clone, Debug)]
pub(crate) struct Minimal<S>(S);

impl<S, B, R> Service<Request<B>> for Minimal<S>
where
    S: Service<Request<B>, Response = Response<R>>,
{
    type Response = Response<R>;
    type Error = S::Error;
    type Future = MinimalFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<B>) -> Self::Future {
        let headers = req.headers();
        let context = match headers
            .get(TRACEPARENT)
            .and_then(|value| TraceParent::try_from(value).ok())
        {
            Some(parent) => TraceContext::remote(parent).child(),
            None => TraceContext::new_root(true),
        };
        let id = CorrelationId::from_header(headers, &X_REQUEST_ID)
            .ok()
            .flatten()
            .unwrap_or_default();
        req.extensions_mut().insert(context);
        MinimalFuture {
            inner: self.0.call(req),
            id: Some(id.to_header_value()),
        }
    }
}

/// The minimal layer's response future.
#[pin_project]
pub(crate) struct MinimalFuture<F> {
    #[pin]
    inner: F,
    id: Option<HeaderValue>,
}

impl<F, R, E> Future for MinimalFuture<F>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = F::Output;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let mut response = ready!(this.inner.poll(cx))?;
        if let Some(id) = this.id.take() {
            response.headers_mut().insert(X_REQUEST_ID, id);
        }
        Poll::Ready(Ok(response))
    }
}

/// The minimal layer, with the context current while the inner service
/// runs, as the layer makes it: around `call` and every poll.
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct ScopedLayer;

impl<S> Layer<S> for ScopedLayer {
    type Service = Minimal<Scope<S>>;

    fn layer(&self, inner: S) -> Self::Service {
        Minimal(Scope(inner))
    }
}

/// Makes the context the minimal layer put in the extensions current.
#[derive(Clone, Debug)]
pub(crate) struct Scope<S>(S);

impl<S, B> Service<Request<B>> for Scope<S>
where
    S: Service<Request<B>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = WithContext<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.0.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let context = req
            .extensions()
            .get::<TraceContext>()
            .cloned()
            .expect("the minimal layer put it there");
        let (inner, context) = context.scope(|| self.0.call(req));
        inner.with_trace_context(context)
    }
}
