//! The service: what happens per request.

use std::{
    marker::PhantomData,
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
};

use http::{Extensions, Request, Response};
use tower_service::Service;
use trace_core::ServerTracing;

use crate::{
    future::ResponseFuture,
    mode::{Mode, PropagationOnly},
};

/// The service made by [`TraceContextLayer`](crate::TraceContextLayer).
///
/// # Examples
///
/// ```
/// use std::convert::Infallible;
/// use http::{Request, Response};
/// use tower::{Layer, ServiceExt, service_fn};
/// use trace_core::TraceContext;
/// use trace_tower::TraceContextLayer;
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() {
/// let handler = service_fn(|req: Request<String>| async move {
///     let cx = req.extensions().get::<TraceContext>().cloned().unwrap();
///     Ok::<_, Infallible>(Response::new(cx.trace_id().to_string()))
/// });
/// let service = TraceContextLayer::new().layer(handler);
/// let response = service.oneshot(Request::new(String::new())).await.unwrap();
/// assert!(response.headers().contains_key("x-request-id"));
/// # }
/// ```
/// `M` is the layer's [`mode`](crate::mode).
pub struct TraceContextService<S, M = PropagationOnly> {
    inner: S,
    tracing: Arc<ServerTracing>,
    mode: PhantomData<fn() -> M>,
}

impl<S: Clone, M> Clone for TraceContextService<S, M> {
    fn clone(&self) -> Self {
        Self::new(self.inner.clone(), Arc::clone(&self.tracing))
    }
}

impl<S: std::fmt::Debug, M> std::fmt::Debug for TraceContextService<S, M> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceContextService")
            .field("inner", &self.inner)
            .field("tracing", &self.tracing)
            .finish()
    }
}

impl<S, M> TraceContextService<S, M> {
    pub(crate) fn new(inner: S, tracing: Arc<ServerTracing>) -> Self {
        Self {
            inner,
            tracing,
            mode: PhantomData,
        }
    }

    /// The inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The inner service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service, unwrapped.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

/// The peer's address, when the server put it in the extensions: axum's
/// `ConnectInfo<SocketAddr>`, or a plain `SocketAddr` (hyper users insert
/// that themselves).
fn peer(extensions: &Extensions) -> Option<SocketAddr> {
    #[cfg(feature = "axum")]
    if let Some(axum::extract::ConnectInfo(addr)) =
        extensions.get::<axum::extract::ConnectInfo<SocketAddr>>()
    {
        return Some(*addr);
    }
    extensions.get::<SocketAddr>().copied()
}

/// The route template the router matched, never the raw path.
fn route(extensions: &Extensions) -> Option<&str> {
    #[cfg(feature = "axum")]
    if let Some(path) = extensions.get::<axum::extract::MatchedPath>() {
        return Some(path.as_str());
    }
    let _ = extensions;
    None
}

impl<S, M, ReqBody, ResBody> Service<Request<ReqBody>> for TraceContextService<S, M>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
    M: Mode,
{
    type Response = Response<M::Body<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, M>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let peer = peer(req.extensions());
        let started = self.tracing.start(&req, route(req.extensions()), peer);
        req.extensions_mut().insert(started.context.clone());

        // Some services do work in `call` itself: it runs in the context too.
        #[cfg(feature = "tracing")]
        let future = {
            let call = || started.context.scope_future(|| self.inner.call(req));
            match &started.tracing_span {
                Some(tracing_span) => tracing_span.in_scope(call),
                None => call(),
            }
        };
        #[cfg(not(feature = "tracing"))]
        let future = started.context.scope_future(|| self.inner.call(req));
        #[cfg(feature = "tracing")]
        let future = match started.tracing_span {
            Some(tracing_span) => future.in_tracing_span(tracing_span),
            None => future,
        };
        ResponseFuture::new(future, started.span, Arc::clone(&self.tracing))
    }
}
