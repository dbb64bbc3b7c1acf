//! The middleware.

use std::sync::{Arc, LazyLock};

use http::{Extensions, HeaderMap, Uri};
use reqwest::{Request, Response, ResponseBuilderExt};
use reqwest_middleware::{Middleware, Next, Result};
use trace_core::{
    Attribute, ClientTracing, Propagate, RequestInfo, Span, Status, TraceContext,
    instrument::{ResponseInfo, UrlTemplate},
    record::SpanBody,
    semconv,
};

use crate::redirect::{ClientFollowedRedirect, Resend, TooManyRedirects};

/// Put this in a request's extensions to send no trace headers and record
/// no span for it.
///
/// # Examples
///
/// ```
/// use reqwest_middleware::ClientBuilder;
/// use trace_reqwest::{DisableTracePropagation, TraceMiddleware};
///
/// let client = ClientBuilder::new(reqwest::Client::new()).with(TraceMiddleware::new()).build();
/// let request = client.get("https://third-party.example/").with_extension(DisableTracePropagation);
/// # let _ = request;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct DisableTracePropagation;

/// Counts the attempts of one request across retries made by middleware
/// stacked outside this one (they share the request's extensions).
#[derive(Debug, Clone, Copy)]
struct Attempt(u32);

#[derive(Clone)]
struct Config {
    tracing: ClientTracing,
    record_query: bool,
    max_redirects: usize,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            tracing: ClientTracing::default(),
            record_query: false,
            // reqwest's default.
            max_redirects: 10,
        }
    }
}

/// A `reqwest_middleware::Middleware` that propagates the trace and records
/// a client span per attempt.
///
/// Per call: the context attached to the request (a [`TraceContext`]
/// extension, see `RequestBuilder::with_extension`) or else
/// [`TraceContext::current`]; a child of it with a new span id (every call,
/// and every retry, gets its own); the headers the destination policy
/// allows, written with the core propagator, replacing any set by hand.
///
/// The client span is named `{METHOD}`, records method, `url.full` (without
/// credentials, and without the query unless [`record_query`](Self::record_query)),
/// server address and port, `http.request.resend_count` on retries, the
/// status code, the response's `network.protocol.version` and
/// `error.type`; it is an error for 4xx, 5xx and transport
/// errors. The span id injected is the span id recorded. It ends when the
/// response body has been read to the end or dropped.
///
/// # Examples
///
/// ```
/// use reqwest_middleware::ClientBuilder;
/// use trace_core::InMemoryRecorder;
/// use trace_reqwest::TraceMiddleware;
///
/// let recorder = InMemoryRecorder::new(1000);
/// let client = ClientBuilder::new(reqwest::Client::new())
///     .with(TraceMiddleware::new().recorder(recorder.clone()))
///     .build();
/// # let _ = client;
/// ```
#[derive(Clone, Default)]
pub struct TraceMiddleware {
    config: Arc<Config>,
}

impl TraceMiddleware {
    /// The defaults: everything to every destination (the ecosystem's
    /// convention), a new trace outside any, parents' sampling followed,
    /// nothing recorded.
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

    trace_core::__client_setters!();

    /// Measures every attempt (feature `metrics`):
    /// `http.client.request.duration` with the method, `url.scheme`,
    /// `server.address`, `server.port`, the status code, the response's
    /// protocol version, `error.type`, and the caller's `url.template`
    /// when it gave one (see trace-core's `metrics` module). Measured to
    /// the end of the response body, as the span is.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use trace_core::metrics::Metrics;
    /// use trace_reqwest::TraceMiddleware;
    ///
    /// let provider = SdkMeterProvider::builder().build();
    /// let middleware = TraceMiddleware::new().metrics(&Metrics::new(&provider));
    /// # let _ = middleware;
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn metrics(mut self, metrics: &trace_core::metrics::Metrics) -> Self {
        let tracing = self.tracing_mut();
        *tracing = std::mem::take(tracing).metrics(metrics, trace_core::instrument::Protocol::Http);
        self
    }

    /// Whether `url.full` keeps the query string (default: no, it may hold
    /// secrets).
    #[must_use]
    pub fn record_query(mut self, record: bool) -> Self {
        self.config().record_query = record;
        self
    }

    /// How many redirects the middleware follows for one request, when it
    /// follows them (see [Redirects](Self#redirects); default 10, reqwest's
    /// own limit). One more is an error; 0 hands every redirect back.
    #[must_use]
    pub fn max_redirects(mut self, max: usize) -> Self {
        self.config().max_redirects = max;
        self
    }
}

/// A middleware with this client configuration (for example
/// `Telemetry::client_tracing()` from trace-core's `OtelSetup`).
impl From<ClientTracing> for TraceMiddleware {
    fn from(tracing: ClientTracing) -> Self {
        Self {
            config: Arc::new(Config {
                tracing,
                ..Config::default()
            }),
        }
    }
}

impl std::fmt::Debug for TraceMiddleware {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TraceMiddleware")
            .field("tracing", &self.config.tracing)
            .field("record_query", &self.config.record_query)
            .finish_non_exhaustive()
    }
}

fn request_attributes(
    req: &Request,
    destination: Option<&Uri>,
    attempt: u32,
    record_query: bool,
) -> Vec<Attribute<'static>> {
    let mut url = req.url().clone();
    // Credentials never reach a span; the query only when allowed.
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.set_fragment(None);
    if !record_query {
        url.set_query(None);
    }
    semconv::http_client_attributes(req.method(), String::from(url), destination, attempt)
}

/// A low-cardinality name for what went wrong.
fn error_type(error: &reqwest_middleware::Error) -> &'static str {
    match error {
        reqwest_middleware::Error::Reqwest(e) if e.is_timeout() => "timeout",
        reqwest_middleware::Error::Reqwest(e) if e.is_connect() => "connect",
        reqwest_middleware::Error::Reqwest(e) if e.is_body() => "body",
        reqwest_middleware::Error::Reqwest(e) if e.is_decode() => "decode",
        reqwest_middleware::Error::Reqwest(e) if e.is_redirect() => "redirect",
        reqwest_middleware::Error::Reqwest(_) => "reqwest",
        reqwest_middleware::Error::Middleware(_) => "middleware",
    }
}

/// Hands the response on with its body wrapped, so the span ends when the
/// body has been read or dropped.
fn wrap(
    response: Response,
    span: Span,
    status: Status,
    #[cfg(feature = "metrics")] measurement: Option<trace_core::metrics::Measurement>,
) -> Response {
    let url = response.url().clone();
    let response: http::Response<reqwest::Body> = response.into();
    let (mut parts, body) = response.into_parts();
    // The conversion to `http::Response` drops the URL; put it back.
    let (url_parts, ()) = http::Response::builder()
        .url(url)
        .body(())
        .expect("an empty response")
        .into_parts();
    parts.extensions.extend(url_parts.extensions);
    let body = SpanBody::new(body, span, status);
    #[cfg(feature = "metrics")]
    let body = body.measured(measurement);
    let body = reqwest::Body::wrap(body);
    Response::from(http::Response::from_parts(parts, body))
}

#[async_trait::async_trait]
impl Middleware for TraceMiddleware {
    async fn handle(
        &self,
        mut req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let config = &self.config;
        if extensions.get::<DisableTracePropagation>().is_some() {
            return next.run(req, extensions).await;
        }
        let parent = TraceContext::attached_or_current(extensions.get::<TraceContext>());
        if !config.tracing.starts_call(parent.as_ref()) {
            return next.run(req, extensions).await;
        }
        if config.tracing.same_everywhere() {
            return self.call(req, parent.as_ref(), extensions, next).await;
        }
        let first = config.tracing.fields_for(destination(&req).as_ref());
        let mut redirects = 0;
        loop {
            let resend = Resend::save(&req);
            let response = self
                .call(req, parent.as_ref(), extensions, next.clone())
                .await?;
            if response.url() != resend.url() {
                let landed = response.url().as_str().parse::<Uri>().ok();
                if !config.tracing.fields_for(landed.as_ref()).contains(first) {
                    let to = response.url().clone();
                    return Err(reqwest_middleware::Error::middleware(
                        ClientFollowedRedirect { to },
                    ));
                }
            }
            let Some(hop) = resend.follow(&response) else {
                return Ok(response);
            };
            if redirects == config.max_redirects {
                // 0 hands every redirect back; past any other limit, an error.
                return match config.max_redirects {
                    0 => Ok(response),
                    max => Err(reqwest_middleware::Error::middleware(TooManyRedirects(max))),
                };
            }
            // Dropping the redirect's response ends its span.
            drop(response);
            redirects += 1;
            req = hop;
        }
    }
}

/// The request's destination; a URL that is not a valid URI gets nothing
/// (fail closed).
fn destination(req: &Request) -> Option<Uri> {
    req.url().as_str().parse::<Uri>().ok()
}

impl TraceMiddleware {
    /// One call: its span, its headers, its outcome.
    async fn call(
        &self,
        mut req: Request,
        parent: Option<&TraceContext>,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> Result<Response> {
        let config = &self.config;
        let attempt = match extensions.get_mut::<Attempt>() {
            Some(attempt) => {
                attempt.0 += 1;
                attempt.0
            }
            None => {
                extensions.insert(Attempt(0));
                0
            }
        };

        // `{method} {url.template}` when the caller named the operation.
        let template = extensions.get::<UrlTemplate>();
        let templated = template.map(|t| t.span_name(req.method()));
        let name = templated
            .as_deref()
            .unwrap_or_else(|| semconv::http_client_span_name(req.method()));
        let destination = destination(&req);
        #[cfg(feature = "metrics")]
        let mut measurement = config.tracing.measure_call(
            req.method(),
            destination.as_ref(),
            template.map(UrlTemplate::as_str),
        );
        // The headers are moved out while the span's attributes read the
        // request (method and URL only), then put back: no copy.
        let mut headers = std::mem::take(req.headers_mut());
        let call =
            config
                .tracing
                .start_call(parent, name, destination.as_ref(), &mut headers, || {
                    let mut attributes = request_attributes(
                        &req,
                        destination.as_ref(),
                        attempt,
                        config.record_query,
                    );
                    if let Some(template) = template {
                        attributes.push(Attribute::new(
                            semconv::URL_TEMPLATE,
                            template.as_str().to_owned(),
                        ));
                    }
                    attributes
                });
        if let Some(uri) = &destination {
            let request = RequestInfo::new(req.method(), uri, &headers);
            config.tracing.record_request(&request, &call.span);
        }
        *req.headers_mut() = headers;
        let mut span = call.span;

        let result = next.run(req, extensions);
        #[cfg(feature = "tracing")]
        let result = tracing::Instrument::instrument(
            result,
            span.tracing_span(&call.context, name, trace_core::SpanKind::Client),
        );
        match result.await {
            Ok(response) => {
                let code = response.status().as_u16();
                let status = semconv::http_client_status(code);
                #[cfg(feature = "metrics")]
                if let Some(measurement) = measurement.as_mut() {
                    measurement.head(response.status(), response.headers());
                    measurement.protocol_version(response.version());
                }
                if !span.is_recording() {
                    #[cfg(feature = "metrics")]
                    if measurement.is_some() {
                        return Ok(wrap(response, span, status, measurement));
                    }
                    return Ok(response);
                }
                span.set_attribute(Attribute::new(
                    semconv::HTTP_RESPONSE_STATUS_CODE,
                    i64::from(code),
                ));
                if let Some(version) = semconv::protocol_version(response.version()) {
                    span.set_attribute(Attribute::new(semconv::NETWORK_PROTOCOL_VERSION, version));
                }
                let head = ResponseInfo::new(response.status(), response.headers());
                config.tracing.record_response(&head, &span);
                Ok(wrap(
                    response,
                    span,
                    status,
                    #[cfg(feature = "metrics")]
                    measurement,
                ))
            }
            Err(error) => {
                #[cfg(feature = "metrics")]
                if let Some(measurement) = measurement {
                    measurement.end(Some(Status::error(error_type(&error))));
                }
                span.end(Status::error(error_type(&error)), Vec::new());
                Err(error)
            }
        }
    }
}

/// Writes the current context into `headers` for a call made without the
/// middleware: a child context with its own span id (each call gets one),
/// all headers, the default propagator. Returns the child (to record it, or
/// to know its ids), or `None` outside any trace (nothing is written).
///
/// # Examples
///
/// ```
/// use http::HeaderMap;
/// use trace_core::TraceContext;
/// use trace_reqwest::inject_current_context;
///
/// let mut headers = HeaderMap::new();
/// assert!(inject_current_context(&mut headers).is_none());
///
/// let _guard = TraceContext::new_root(true).attach();
/// let child = inject_current_context(&mut headers).unwrap();
/// assert_eq!(headers["traceparent"], child.traceparent().to_string());
/// ```
pub fn inject_current_context(headers: &mut HeaderMap) -> Option<TraceContext> {
    static EVERYTHING: LazyLock<ClientTracing> =
        LazyLock::new(|| ClientTracing::default().destinations(Propagate::ALL));
    let parent = TraceContext::current()?;
    Some(
        EVERYTHING
            .propagate(Some(&parent), "call", None, headers)
            .context,
    )
}

/// Trace propagation for a plain `reqwest::RequestBuilder`, for code that
/// does not use reqwest-middleware.
///
/// # Examples
///
/// ```
/// use trace_core::TraceContext;
/// use trace_reqwest::RequestBuilderExt;
///
/// let _guard = TraceContext::new_root(true).attach();
/// let request = reqwest::Client::new()
///     .get("http://127.0.0.1:9/")
///     .with_current_trace_context()
///     .build()
///     .unwrap();
/// assert!(request.headers().contains_key("traceparent"));
/// ```
pub trait RequestBuilderExt: Sized {
    /// Adds the headers of a child of the current context (its own span id),
    /// as [`inject_current_context`] does; unchanged outside any trace.
    #[must_use]
    fn with_current_trace_context(self) -> Self;
}

impl RequestBuilderExt for reqwest::RequestBuilder {
    fn with_current_trace_context(self) -> Self {
        let mut headers = HeaderMap::new();
        match inject_current_context(&mut headers) {
            Some(_) => self.headers(headers),
            None => self,
        }
    }
}
