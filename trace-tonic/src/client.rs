//! The client layer: a recorded client span per call.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
};

use http::{Request, Response};
use pin_project::pin_project;
use tower_layer::Layer;
use tower_service::Service;
use trace_core::{
    ClientTracing, RequestInfo, Span, Status, TraceContext, instrument::ResponseInfo,
    record::SpanBody, semconv,
};

#[derive(Clone, Default)]
struct Config {
    tracing: ClientTracing,
    endpoint: Option<http::Uri>,
}

/// A tower layer for a tonic `Channel`: every call gets a client span, a
/// child of the current context, and carries it in its metadata.
///
/// The span is named `package.Service/Method` with the `rpc.*` attributes
/// and the server's address; its status comes from `grpc-status` (in a
/// trailers-only response or in the trailers), and every code but OK is an
/// error, as the semantic conventions say for clients. It ends when the
/// response stream ends or is dropped. The destination policy decides what
/// the channel's host receives.
///
/// # Examples
///
/// ```
/// use tower::ServiceBuilder;
/// use trace_core::InMemoryRecorder;
/// use trace_tonic::GrpcClientLayer;
///
/// # async fn connect() {
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let channel = ServiceBuilder::new()
///     .layer(GrpcClientLayer::new().recorder(InMemoryRecorder::new(1000)))
///     .service(channel);
/// // e.g. `EchoClient::new(channel)`
/// # let _ = channel;
/// # }
/// ```
#[derive(Clone, Default)]
pub struct GrpcClientLayer {
    config: Arc<Config>,
}

/// A layer with this client configuration (for example
/// `Telemetry::client_tracing()` from trace-core's `OtelSetup`).
impl From<ClientTracing> for GrpcClientLayer {
    fn from(tracing: ClientTracing) -> Self {
        Self {
            config: Arc::new(Config {
                tracing,
                endpoint: None,
            }),
        }
    }
}

impl GrpcClientLayer {
    /// Everything propagated, parents' sampling followed, nothing recorded.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    fn config(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    fn tracing_mut(&mut self) -> &mut ClientTracing {
        &mut self.config().tracing
    }

    // A tonic client sends path-only URIs (the channel adds the origin
    // below this layer), so a host-based destination policy needs
    // `endpoint` to know the host.
    trace_core::__client_setters!();

    /// Measures every call (feature `metrics`): `rpc.client.call.duration`
    /// with `rpc.system.name`, `rpc.method`, `rpc.status_code`,
    /// `server.address`, `server.port` and `error.type` (see trace-core's
    /// `metrics` module), to the end of the response stream, as the span.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use trace_core::metrics::Metrics;
    /// use trace_tonic::GrpcClientLayer;
    ///
    /// let provider = SdkMeterProvider::builder().build();
    /// let layer = GrpcClientLayer::new().metrics(&Metrics::new(&provider));
    /// # let _ = layer;
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn metrics(mut self, metrics: &trace_core::metrics::Metrics) -> Self {
        let tracing = self.tracing_mut();
        *tracing = std::mem::take(tracing).metrics(metrics, trace_core::instrument::Protocol::Grpc);
        self
    }

    /// The channel's endpoint (`http://host:port`): the destination for the
    /// policy and the span's `server.address` and `server.port`, for calls
    /// whose URI has no host.
    #[must_use]
    pub fn endpoint(mut self, endpoint: http::Uri) -> Self {
        self.config().endpoint = Some(endpoint);
        self
    }
}

impl std::fmt::Debug for GrpcClientLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcClientLayer")
            .field("tracing", &self.config.tracing)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for GrpcClientLayer {
    type Service = GrpcClient<S>;

    fn layer(&self, inner: S) -> GrpcClient<S> {
        GrpcClient {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}

/// The service made by [`GrpcClientLayer`].
///
/// # Examples
///
/// ```
/// use tower::Layer;
/// use trace_tonic::{GrpcClient, GrpcClientLayer};
///
/// # async fn connect() {
/// let channel = tonic::transport::Endpoint::from_static("http://127.0.0.1:50051").connect_lazy();
/// let client: GrpcClient<_> = GrpcClientLayer::new().layer(channel);
/// assert!(format!("{client:?}").contains("GrpcClient"));
/// # }
/// ```
#[derive(Clone)]
pub struct GrpcClient<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> GrpcClient<S> {
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

impl<S> std::fmt::Debug for GrpcClient<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("GrpcClient")
            .field("inner", &std::any::type_name::<S>())
            .finish_non_exhaustive()
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for GrpcClient<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<SpanBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        let parent = TraceContext::attached_or_current(req.extensions().get::<TraceContext>());
        if !config.tracing.starts_call(parent.as_ref()) {
            return ResponseFuture {
                inner: self.inner.call(req),
                span: Some(Span::none()),
                config: None,
                #[cfg(feature = "metrics")]
                measurement: None,
                #[cfg(feature = "tracing")]
                tracing_span: tracing::Span::none(),
            };
        }
        let name = semconv::grpc_span_name(req.uri().path()).to_owned();
        // The request's own URI when it names a host, else the endpoint.
        let target = match (req.uri().host(), &config.endpoint) {
            (None, Some(endpoint)) => endpoint.clone(),
            _ => req.uri().clone(),
        };
        // The headers are moved out while the span's attributes read the
        // request's path, then put back: no copy.
        #[cfg(feature = "metrics")]
        let measurement =
            config
                .tracing
                .measure_call(req.method(), Some(&target), Some(req.uri().path()));
        let mut headers = std::mem::take(req.headers_mut());
        let call =
            config
                .tracing
                .start_call(parent.as_ref(), &name, Some(&target), &mut headers, || {
                    semconv::grpc_client_attributes(req.uri().path(), &target)
                });
        let request = RequestInfo::new(req.method(), &target, &headers);
        config.tracing.record_request(&request, &call.span);
        *req.headers_mut() = headers;
        let span = call.span;
        let config = span.is_recording().then(|| Arc::clone(config));
        #[cfg(feature = "tracing")]
        let tracing_span = span.tracing_span(&call.context, &name, trace_core::SpanKind::Client);
        #[cfg(feature = "tracing")]
        let inner = tracing_span.in_scope(|| self.inner.call(req));
        #[cfg(not(feature = "tracing"))]
        let inner = self.inner.call(req);
        ResponseFuture {
            inner,
            span: Some(span),
            config,
            #[cfg(feature = "metrics")]
            measurement,
            #[cfg(feature = "tracing")]
            tracing_span,
        }
    }
}

/// The future of [`GrpcClient`]: the response, with its body wrapped so
/// the call's span ends when the stream does.
///
/// # Examples
///
/// ```
/// use trace_tonic::{GrpcClient, GrpcClientLayer, ResponseFuture};
///
/// // `GrpcClient<Channel>::call` returns `ResponseFuture<ResponseFuture of the channel>`.
/// fn is_the_future<S: tower::Service<http::Request<tonic::body::Body>>>(_: &GrpcClient<S>) {}
/// # let _ = is_the_future::<tonic::transport::Channel>;
/// # let _: Option<ResponseFuture<std::future::Ready<()>>> = None;
/// ```
#[pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ResponseFuture<F> {
    #[pin]
    inner: F,
    span: Option<Span>,
    /// For a span that records: the configuration, whose response hook runs
    /// at the response's head.
    config: Option<Arc<Config>>,
    /// The call's measurement, when metrics are on.
    #[cfg(feature = "metrics")]
    measurement: Option<trace_core::metrics::Measurement>,
    #[cfg(feature = "tracing")]
    tracing_span: tracing::Span,
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<SpanBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        #[cfg(feature = "tracing")]
        let _entered = this.tracing_span.enter();
        let result = ready!(this.inner.poll(cx));
        let mut span = this.span.take().expect("polled after completion");
        Poll::Ready(match result {
            Ok(response) => {
                let (parts, body) = response.into_parts();
                if let Some(config) = this.config.take() {
                    let head = ResponseInfo::new(parts.status, &parts.headers);
                    config.tracing.record_response(&head, &span);
                }
                let body = match semconv::grpc_response_status(
                    parts.status.as_u16(),
                    &parts.headers,
                    semconv::grpc_client_status,
                ) {
                    // A trailers-only response, or an HTTP error without a
                    // `grpc-status` (a proxy's 503): the status is known now.
                    Some((status, attributes)) => {
                        attributes.into_iter().for_each(|a| span.set_attribute(a));
                        SpanBody::new(body, span, status)
                    }
                    None => SpanBody::with_trailers(body, span, semconv::grpc_client_trailers),
                };
                #[cfg(feature = "metrics")]
                let body = body.measured(this.measurement.take().map(|mut measurement| {
                    measurement.head(parts.status, &parts.headers);
                    measurement
                }));
                Ok(Response::from_parts(parts, body))
            }
            Err(error) => {
                #[cfg(feature = "metrics")]
                if let Some(measurement) = this.measurement.take() {
                    measurement.end(Some(Status::error("transport")));
                }
                // The transport failed before any status.
                span.end(Status::error("transport"), Vec::new());
                Err(error)
            }
        })
    }
}
