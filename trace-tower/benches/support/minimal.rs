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
//!
//! [`RecordingLayer`] adds a span kept in a bounded in-memory store: the
//! least the in-memory recorder must do. Each request's record has its ids,
//! a `{method} {route}` name, its start and end times and the HTTP server
//! span's attributes that `semconv::http_server_attributes` writes for this
//! request (method, scheme, path, route, server address and port, protocol
//! version, user agent) with the status code at the end, each text copied
//! once. It ends when the body is dropped (the layer ends at the body's last
//! frame), knows no limits, no sampler and no error classes, and shares one
//! store behind one lock.
//!
//! [`OtelLayer`] records the same span through the OpenTelemetry SDK
//! instead: the span, a child of the request's context, is built with the
//! same attributes as OpenTelemetry's own types and ended, with its status
//! code, when the body is dropped. The SDK makes the span's id, so it is
//! not the id in the extensions (the layer makes them the same).

use std::{
    collections::VecDeque,
    future::Future,
    pin::Pin,
    sync::{Arc, Mutex, PoisonError},
    task::{Context, Poll, ready},
    time::SystemTime,
};

use http::{HeaderName, HeaderValue, Method, Request, Response, header};
use http_body::{Body, Frame, SizeHint};
use opentelemetry::{
    KeyValue,
    trace::{TraceContextExt as _, Tracer as _},
};
use opentelemetry_sdk::trace::SdkTracer;
use pin_project::{pin_project, pinned_drop};
use tower::{Layer, Service};
use trace_core::{
    Attribute, CorrelationId, FutureExt, SpanId, TraceContext, TraceId, TraceParent,
    context::WithContext, semconv,
};

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

/// A record being made: what the response adds to it, and where it goes.
pub(crate) trait Keep {
    /// The response's status code.
    fn status(&mut self, code: i64);
    /// The span is over.
    fn keep(self);
    /// Makes the span OpenTelemetry's current one while the request's
    /// work runs (what opentelemetry-instrumentation-tower does, and what
    /// OpenTelemetry users expect of a server span), for a span of the SDK.
    fn attach(&self) -> Option<opentelemetry::ContextGuard> {
        None
    }
}

/// The minimal layer, with the scope and a span recorded in memory.
#[derive(Clone, Debug)]
pub(crate) struct RecordingLayer(Store);

type Store = Arc<Mutex<VecDeque<Arc<Record>>>>;

/// How many records the store keeps, as the benchmarks' in-memory recorder.
const KEPT: usize = 1024;

impl Default for RecordingLayer {
    fn default() -> Self {
        Self(Arc::new(Mutex::new(VecDeque::with_capacity(KEPT))))
    }
}

impl<S> Layer<S> for RecordingLayer {
    type Service = Minimal<Recorded<Scope<S>, Store>>;

    fn layer(&self, inner: S) -> Self::Service {
        Minimal(Recorded {
            inner: Scope(inner),
            to: Arc::clone(&self.0),
        })
    }
}

/// The minimal layer, with the scope and a span recorded through the
/// OpenTelemetry SDK.
#[derive(Clone, Debug)]
pub(crate) struct OtelLayer(pub(crate) SdkTracer);

impl<S> Layer<S> for OtelLayer {
    type Service = Minimal<Recorded<Scope<S>, SdkTracer>>;

    fn layer(&self, inner: S) -> Self::Service {
        Minimal(Recorded {
            inner: Scope(inner),
            to: self.0.clone(),
        })
    }
}

/// A finished span, as the store keeps it.
#[derive(Debug)]
#[allow(dead_code)] // Kept, not read: the cost is in making and keeping it.
pub(crate) struct Record {
    trace_id: TraceId,
    span_id: SpanId,
    parent_span_id: Option<SpanId>,
    name: String,
    start_time: SystemTime,
    end_time: SystemTime,
    attributes: Vec<Attribute<'static>>,
}

/// A record, and the store it goes to.
pub(crate) struct InStore(Record, Store);

impl Keep for InStore {
    fn status(&mut self, code: i64) {
        self.0
            .attributes
            .push(Attribute::new(semconv::HTTP_RESPONSE_STATUS_CODE, code));
    }

    fn keep(self) {
        let Self(mut record, store) = self;
        record.end_time = SystemTime::now();
        let record = Arc::new(record);
        let mut store = store.lock().unwrap_or_else(PoisonError::into_inner);
        if store.len() == KEPT {
            store.pop_front();
        }
        store.push_back(record);
    }
}

impl Keep for opentelemetry::Context {
    fn status(&mut self, code: i64) {
        self.span()
            .set_attribute(KeyValue::new(semconv::HTTP_RESPONSE_STATUS_CODE, code));
    }

    fn keep(self) {
        self.span().end();
    }

    fn attach(&self) -> Option<opentelemetry::ContextGuard> {
        Some(self.clone().attach())
    }
}

/// Where a span goes: the store or the SDK.
pub(crate) trait Recorder {
    /// What is kept of a request.
    type Kept: Keep;
    /// Starts the span of the request the minimal layer put a context on.
    fn start<B>(&self, req: &Request<B>) -> Self::Kept;
}

/// The request's route, from axum.
fn route<B>(req: &Request<B>) -> Option<&str> {
    req.extensions()
        .get::<axum::extract::MatchedPath>()
        .map(axum::extract::MatchedPath::as_str)
}

/// The span's name: `{method} {route}`.
fn name<B>(req: &Request<B>) -> String {
    let method = req.method().as_str();
    let Some(route) = route(req) else {
        return method.to_owned();
    };
    let mut name = String::with_capacity(method.len() + 1 + route.len());
    name.push_str(method);
    name.push(' ');
    name.push_str(route);
    name
}

/// The attributes of the request: the common methods' names and the
/// constant ones are static, as semconv's are; the rest is copied once.
fn attributes<B, T>(req: &Request<B>, make: impl Fn(&'static str, Value) -> T) -> Vec<T> {
    let mut attributes = Vec::with_capacity(12);
    let method = match *req.method() {
        Method::GET => Value::Static("GET"),
        Method::POST => Value::Static("POST"),
        ref other => Value::Owned(other.as_str().to_owned()),
    };
    attributes.push(make(semconv::HTTP_REQUEST_METHOD, method));
    attributes.push(make(semconv::URL_SCHEME, Value::Static("http")));
    attributes.push(make(
        semconv::URL_PATH,
        Value::Owned(req.uri().path().to_owned()),
    ));
    if let Some(route) = route(req) {
        attributes.push(make(semconv::HTTP_ROUTE, Value::Owned(route.to_owned())));
    }
    let headers = req.headers();
    if let Some(host) = headers.get(header::HOST).and_then(|v| v.to_str().ok()) {
        let (address, port) = host.rsplit_once(':').unwrap_or((host, ""));
        attributes.push(make(
            semconv::SERVER_ADDRESS,
            Value::Owned(address.to_owned()),
        ));
        if let Ok(port) = port.parse::<i64>() {
            attributes.push(make(semconv::SERVER_PORT, Value::Int(port)));
        }
    }
    attributes.push(make(
        semconv::NETWORK_PROTOCOL_VERSION,
        Value::Static("1.1"),
    ));
    if let Some(agent) = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        attributes.push(make(
            semconv::USER_AGENT_ORIGINAL,
            Value::Owned(agent.to_owned()),
        ));
    }
    attributes
}

/// An attribute's value, before it becomes the recorder's own.
pub(crate) enum Value {
    Static(&'static str),
    Owned(String),
    Int(i64),
}

impl Recorder for Store {
    type Kept = InStore;

    fn start<B>(&self, req: &Request<B>) -> InStore {
        let start_time = SystemTime::now();
        let context = req
            .extensions()
            .get::<TraceContext>()
            .expect("the minimal layer put it there");
        let attributes = attributes(req, |key, value| {
            Attribute::new(
                key,
                match value {
                    Value::Static(s) => trace_core::Value::from(s),
                    Value::Owned(s) => trace_core::Value::from(s),
                    Value::Int(n) => trace_core::Value::from(n),
                },
            )
        });
        let record = Record {
            trace_id: context.trace_id(),
            span_id: context.span_id(),
            parent_span_id: context.parent_span_id(),
            name: name(req),
            start_time,
            end_time: start_time,
            attributes,
        };
        InStore(record, Self::clone(self))
    }
}

impl Recorder for SdkTracer {
    type Kept = opentelemetry::Context;

    fn start<B>(&self, req: &Request<B>) -> Self::Kept {
        let context = req
            .extensions()
            .get::<TraceContext>()
            .expect("the minimal layer put it there");
        let parent = opentelemetry::Context::new()
            .with_remote_span_context(opentelemetry::trace::SpanContext::from(context));
        let attributes = attributes(req, |key, value| {
            KeyValue::new(
                key,
                match value {
                    Value::Static(s) => opentelemetry::Value::from(s),
                    Value::Owned(s) => opentelemetry::Value::from(s),
                    Value::Int(n) => opentelemetry::Value::from(n),
                },
            )
        });
        let span = self
            .span_builder(name(req))
            .with_kind(opentelemetry::trace::SpanKind::Server)
            .with_attributes(attributes)
            .start_with_context(self, &parent);
        opentelemetry::Context::new().with_span(span)
    }
}

/// Records the request the minimal layer put a context on.
#[derive(Clone, Debug)]
pub(crate) struct Recorded<S, R> {
    inner: S,
    to: R,
}

impl<S, R, B, Rb> Service<Request<B>> for Recorded<S, R>
where
    S: Service<Request<B>, Response = Response<Rb>>,
    R: Recorder,
{
    type Response = Response<RecordBody<Rb, R::Kept>>;
    type Error = S::Error;
    type Future = RecordedFuture<S::Future, R::Kept>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let kept = self.to.start(&req);
        let attached = kept.attach();
        let inner = self.inner.call(req);
        drop(attached);
        RecordedFuture {
            inner,
            kept: Some(kept),
        }
    }
}

/// The recording layer's response future.
#[pin_project]
pub(crate) struct RecordedFuture<F, K> {
    #[pin]
    inner: F,
    kept: Option<K>,
}

impl<F, R, E, K: Keep> Future for RecordedFuture<F, K>
where
    F: Future<Output = Result<Response<R>, E>>,
{
    type Output = Result<Response<RecordBody<R, K>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        let attached = this.kept.as_ref().and_then(Keep::attach);
        let response = ready!(this.inner.poll(cx))?;
        drop(attached);
        let mut kept = this.kept.take();
        if let Some(kept) = &mut kept {
            kept.status(i64::from(response.status().as_u16()));
        }
        Poll::Ready(Ok(response.map(|inner| RecordBody { inner, kept })))
    }
}

/// The response body; the span is over when it is dropped.
#[pin_project(PinnedDrop)]
pub(crate) struct RecordBody<B, K: Keep> {
    #[pin]
    inner: B,
    kept: Option<K>,
}

impl<B: Body, K: Keep> Body for RecordBody<B, K> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        let this = self.project();
        let _attached = this.kept.as_ref().and_then(Keep::attach);
        this.inner.poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[pinned_drop]
impl<B, K: Keep> PinnedDrop for RecordBody<B, K> {
    fn drop(self: Pin<&mut Self>) {
        if let Some(kept) = self.project().kept.take() {
            kept.keep();
        }
    }
}
