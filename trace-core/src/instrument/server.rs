//! [`ServerTracing`]: everything a server does per request, for HTTP and
//! gRPC alike; the server adapters only drive it.

use std::{borrow::Cow, fmt, net::SocketAddr, sync::Arc, time::SystemTime};

use arrayvec::ArrayString;
use http::{HeaderMap, HeaderName, HeaderValue, Method, Request, response};

use crate::{
    codec::CorrelationId,
    context::TraceContext,
    policy::{RequestFilter, RequestInfo, Trust, TrustPolicy},
    propagation::Propagator,
    record::{Attribute, NoopRecorder, Recorder, Span, SpanBody, SpanKind, SpanStart, Status},
    sampling::{AlwaysOn, Decision, ParentBased, Sampler},
    semconv,
};

const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");
const TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");

/// Which protocol's conventions name and classify a server span.
///
/// # Examples
///
/// ```
/// use trace_core::{ServerTracing, instrument::Protocol};
///
/// assert_eq!(ServerTracing::new_for_grpc().protocol(), Protocol::Grpc);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Protocol {
    /// `{METHOD} {route}`, the HTTP attributes, an error for 5xx.
    Http,
    /// `package.Service/Method`, the `rpc.*` attributes, the status from
    /// `grpc-status` (a trailers-only response's headers, or the trailers).
    Grpc,
}

/// Whether and how the response tells the caller about the server's span.
///
/// Never carries baggage or `tracestate` back to the caller.
///
/// # Examples
///
/// ```
/// use trace_core::{ServerTracing, instrument::ResponseTraceContext};
///
/// let tracing = ServerTracing::new().response_trace_context(ResponseTraceContext::ServerTiming);
/// # let _ = tracing;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseTraceContext {
    /// Nothing (the default).
    #[default]
    Off,
    /// `server-timing: trace;desc=00-{trace-id}-{span-id}-{flags}`: the form
    /// of the current W3C Trace Context draft
    /// (<https://w3c.github.io/trace-context/#trace-context-http-response-headers-format>).
    ServerTiming,
    /// `traceresponse: 00-{trace-id}-{span-id}-{flags}`: the earlier draft's
    /// header, for callers that still read it.
    TraceResponse,
}

/// Everything a server does per request, once for every server adapter
/// (trace-tower's layer, for axum, hyper and tonic), over `http` types.
///
/// At the request, [`start`](Self::start): the trust policy, extraction,
/// the filter, the correlation ID (the caller's when valid, else one made
/// here, once), the sampler (asked about the route-level span name, kind and
/// attributes, whether a recorder is set or not), the request's context and
/// its span. At the response, [`response`](Self::response) or
/// [`failed`](Self::failed): the classification (the HTTP status; for gRPC,
/// `grpc-status` from a trailers-only response's headers, from the trailers,
/// or from the HTTP status when `grpc-status` is missing), the response
/// headers (correlation ID, `server-timing` or `traceresponse`), and the
/// span of a filtered request that failed.
///
/// Defaults: the default propagator; callers trusted; parents' sampling
/// followed and new traces sampled; nothing recorded; the correlation ID
/// echoed; no response trace context; no filter.
///
/// # Examples
///
/// ```
/// use http::{Request, Response};
/// use trace_core::{InMemoryRecorder, ServerTracing, TraceContext};
///
/// let recorder = InMemoryRecorder::new(16);
/// let tracing = ServerTracing::new().recorder(recorder.clone());
/// let request = Request::builder()
///     .uri("/users/7")
///     .header("traceparent", "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01")
///     .body(())
///     .unwrap();
///
/// let started = tracing.start(&request, Some("/users/{id}"), None);
/// assert_eq!(started.context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
///
/// let (mut parts, body) = Response::new(String::from("ok")).into_parts();
/// let body = tracing.response(started.span, &started.context, &mut parts, body);
/// assert!(parts.headers.contains_key("x-request-id"));
/// drop(body); // the span ends with the body
/// assert_eq!(recorder.finished()[0].name, "GET /users/{id}");
/// ```
#[derive(Clone)]
pub struct ServerTracing {
    protocol: Protocol,
    propagator: Propagator,
    trust: Arc<dyn TrustPolicy>,
    sampler: Arc<dyn Sampler>,
    recorder: Arc<dyn Recorder>,
    echo_correlation_id: bool,
    new_correlation_id: fn() -> CorrelationId,
    response_trace_context: ResponseTraceContext,
    filter: Option<RequestFilter>,
    hooks: super::Hooks,
    #[cfg(feature = "tracing")]
    log_responses: bool,
    #[cfg(feature = "metrics")]
    metrics: Option<Arc<crate::metrics::Instruments>>,
}

/// A started server request: its context (to put in the request's
/// extensions and make current) and its span, to hand back to
/// [`ServerTracing::response`] or [`ServerTracing::failed`].
///
/// # Examples
///
/// ```
/// use http::Request;
/// use trace_core::{InMemoryRecorder, ServerTracing};
///
/// let recorder = InMemoryRecorder::new(4);
/// let tracing = ServerTracing::new().recorder(recorder.clone());
/// let started = tracing.start(&Request::new(()), None, None);
/// assert!(started.context.correlation_id().is_some(), "made once, here");
/// tracing.failed::<std::io::Error>(started.span, &started.context);
/// assert_eq!(recorder.finished()[0].status.error_type(), Some("std::io::error::Error"));
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ServerStart {
    /// The request's context: a child of the caller's span, or a new root.
    pub context: TraceContext,
    /// The request's span.
    pub span: ServerSpan,
    /// The `tracing` span to keep entered while the request runs (the
    /// recorder's own when it records through `tracing`); `None` for a
    /// filtered request.
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    pub tracing_span: Option<tracing::Span>,
}

/// A response extension: a response that carries it leaves its server span
/// unrecorded ([`ServerTracing::response`], the path of a layer that
/// records), for a recorder that keeps a span only when it ends (the
/// in-memory store). The trace viewer marks its own responses with it, so
/// that a viewer nested under a traced router does not show its own page
/// views. The OpenTelemetry SDK and `tracing` end a span that is dropped
/// unended, so under them the span is recorded as it stands.
///
/// # Examples
///
/// ```
/// use http::{Request, Response};
/// use trace_core::{InMemoryRecorder, ServerTracing, instrument::Unrecorded};
///
/// let store = InMemoryRecorder::new(16);
/// let tracing = ServerTracing::new().recorder(store.clone());
/// let started = tracing.start(&Request::new(()), None, None);
/// let mut response = Response::new(String::new());
/// response.extensions_mut().insert(Unrecorded);
/// let (mut head, body) = response.into_parts();
/// drop(tracing.response(started.span, &started.context, &mut head, body));
/// assert!(store.finished().is_empty());
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Unrecorded;

/// Out of the head's line: only a recording span asks.
#[inline(never)]
fn discard_if_unrecorded(span: &mut Span, extensions: &http::Extensions) {
    if extensions.get::<Unrecorded>().is_some() {
        span.discard();
    }
}

/// A server request's span while the request runs.
///
/// # Examples
///
/// ```
/// use http::Request;
/// use trace_core::ServerTracing;
///
/// let started = ServerTracing::new().start(&Request::new(()), None, None);
/// assert!(!started.span.is_recording(), "nothing is recorded by default");
/// ```
pub struct ServerSpan {
    span: Span,
    /// A HEAD request: its response has no body to wait for.
    head: bool,
    /// Which correlation-ID header the caller's came in, to answer under.
    correlation_header: Option<u8>,
    /// A gRPC method's attributes, held until the response says whether
    /// the server has the method (recorded as they are if the span is
    /// dropped first).
    held: Vec<Attribute<'static>>,
    /// When the request started, when responses are logged.
    #[cfg(feature = "tracing")]
    started: Option<std::time::Instant>,
    /// The span's name and the request's attributes, kept for a filtered
    /// request whose trace records, in case it fails.
    /// Boxed: rare, and the span is moved with the request's future.
    deferred: Option<Box<Deferred>>,
    /// The request's measurement, when metrics are on.
    #[cfg(feature = "metrics")]
    measurement: Option<Box<crate::metrics::Measurement>>,
}

struct Deferred {
    start_time: SystemTime,
    name: String,
    attributes: Vec<Attribute<'static>>,
}

impl Default for ServerTracing {
    fn default() -> Self {
        Self {
            protocol: Protocol::Http,
            propagator: Propagator::default(),
            trust: Arc::new(Trust::CONTINUE),
            sampler: Arc::new(ParentBased::new(AlwaysOn)),
            recorder: Arc::new(NoopRecorder),
            echo_correlation_id: true,
            new_correlation_id: CorrelationId::new,
            response_trace_context: ResponseTraceContext::Off,
            filter: None,
            hooks: super::Hooks::default(),
            #[cfg(feature = "tracing")]
            log_responses: false,
            #[cfg(feature = "metrics")]
            metrics: None,
        }
    }
}

/// The longest route-level span name made without an allocation.
const NAME_ON_STACK: usize = 128;

impl ServerTracing {
    /// The defaults, for an HTTP server.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// The defaults, for a gRPC server: spans named
    /// `package.Service/Method` with the `rpc.*` attributes, and the status
    /// read from `grpc-status`, where UNKNOWN, DEADLINE_EXCEEDED,
    /// UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS are errors.
    ///
    /// A method the server does not have (answered with a trailers-only
    /// UNIMPLEMENTED, as tonic's router and generated servers answer an
    /// unknown service or method, or with an HTTP 404) is renamed `grpc`
    /// when its span ends, with `rpc.method` `_OTHER` and
    /// `rpc.method_original` the method asked for, as the OpenTelemetry RPC
    /// conventions say (<https://opentelemetry.io/docs/specs/semconv/rpc/rpc-spans/>):
    /// clients cannot make a span name per call. The sampler, which runs
    /// before the server has answered, sees the path's name.
    #[must_use]
    pub fn new_for_grpc() -> Self {
        Self {
            protocol: Protocol::Grpc,
            ..Self::default()
        }
    }

    /// The protocol whose conventions this server follows.
    #[must_use]
    pub fn protocol(&self) -> Protocol {
        self.protocol
    }

    /// The propagator: which headers are read and written, and the
    /// correlation-ID header's name.
    #[must_use]
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.propagator = propagator;
        self
    }

    /// What to believe from callers, decided per request.
    #[must_use]
    pub fn trust(mut self, policy: impl TrustPolicy) -> Self {
        self.trust = Arc::new(policy);
        self
    }

    /// The sampler.
    #[must_use]
    pub fn sampler(mut self, sampler: impl Sampler) -> Self {
        self.sampler = Arc::new(sampler);
        self
    }

    /// Where spans are recorded.
    #[must_use]
    pub fn recorder(mut self, recorder: impl Recorder) -> Self {
        self.recorder = Arc::new(recorder);
        self
    }

    /// Whether the response carries the correlation ID (default: yes).
    #[must_use]
    pub fn echo_correlation_id(mut self, echo: bool) -> Self {
        self.echo_correlation_id = echo;
        self
    }

    /// An INFO event (target `trace_core::response`) per request when its
    /// response's head is ready, as tower-http's `on_response`: status,
    /// latency, and the trace, span and correlation IDs (default: off).
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::ServerTracing;
    ///
    /// let tracing = ServerTracing::new().log_responses(true);
    /// # let _ = tracing;
    /// ```
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    #[must_use]
    pub fn log_responses(mut self, log: bool) -> Self {
        self.log_responses = log;
        self
    }

    /// How a correlation ID is made when the request has none (default: a
    /// UUID v7).
    #[must_use]
    pub fn correlation_id_generator(mut self, generate: fn() -> CorrelationId) -> Self {
        self.new_correlation_id = generate;
        self
    }

    /// Whether the response tells the caller about the server span.
    #[must_use]
    pub fn response_trace_context(mut self, mode: ResponseTraceContext) -> Self {
        self.response_trace_context = mode;
        self
    }

    /// Requests that make no span (they still propagate and get their
    /// correlation ID); see [`RequestFilter::record_errors`] for those that
    /// fail.
    #[must_use]
    pub fn filter(mut self, filter: RequestFilter) -> Self {
        self.filter = Some(filter);
        self
    }

    /// Runs `hook` at each request whose span records, with the request
    /// and its span: the app's attributes from the request (a header to
    /// `tenant.id`), as tower-http's `make_span_with` or
    /// opentelemetry-instrumentation-tower's request extractor would, in
    /// every mode.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::{InMemoryRecorder, ServerTracing};
    ///
    /// let store = InMemoryRecorder::new(4);
    /// let tracing = ServerTracing::new().recorder(store.clone()).on_request(|request, span| {
    ///     if let Some(tenant) = request.headers.get("x-tenant").and_then(|v| v.to_str().ok()) {
    ///         span.set_attribute("tenant.id", tenant.to_owned());
    ///     }
    /// });
    /// let request = http::Request::builder().header("x-tenant", "acme").body(()).unwrap();
    /// let started = tracing.start(&request, None, None);
    /// tracing.failed::<std::io::Error>(started.span, &started.context);
    /// assert_eq!(store.finished()[0].attribute("tenant.id"), Some(&"acme".into()));
    /// ```
    #[must_use]
    pub fn on_request(
        mut self,
        hook: impl Fn(&RequestInfo<'_>, &crate::SpanRef) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.set_request(hook);
        self
    }

    /// Runs `hook` when the response's head is ready, for a request whose
    /// span records, with the head and the span: the app's attributes from
    /// the response.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::{InMemoryRecorder, ServerTracing};
    ///
    /// let store = InMemoryRecorder::new(4);
    /// let tracing = ServerTracing::new().recorder(store.clone()).on_response(|response, span| {
    ///     span.set_attribute("cache.status", if response.headers.contains_key("age") { "hit" } else { "miss" });
    /// });
    /// let started = tracing.start(&http::Request::new(()), None, None);
    /// let mut response = http::Response::new(());
    /// tracing.response_head(started.span, &started.context, &mut response);
    /// assert_eq!(store.finished()[0].attribute("cache.status"), Some(&"miss".into()));
    /// ```
    #[must_use]
    pub fn on_response(
        mut self,
        hook: impl Fn(&super::ResponseInfo<'_>, &crate::SpanRef) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.set_response(hook);
        self
    }

    /// Measures every request (feature `metrics`): its duration, the
    /// requests in flight and the body sizes, through the OpenTelemetry
    /// metrics API (see [`metrics`](crate::metrics) for the instruments).
    /// Set it after [`new_for_grpc`](Self::new_for_grpc): the instruments
    /// are the protocol's.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use trace_core::{ServerTracing, metrics::Metrics};
    ///
    /// let provider = SdkMeterProvider::builder().build();
    /// let grpc = ServerTracing::new_for_grpc().metrics(&Metrics::new(&provider));
    /// # let _ = grpc;
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn metrics(mut self, metrics: &crate::metrics::Metrics) -> Self {
        self.metrics = Some(metrics.server(self.protocol));
        self
    }

    /// Starts a request: `route` is the route template the router matched
    /// (never the raw path), `peer` the client's address when the server
    /// knows it.
    pub fn start<B>(
        &self,
        request: &Request<B>,
        route: Option<&str>,
        peer: Option<SocketAddr>,
    ) -> ServerStart {
        let mut info = RequestInfo::new(request.method(), request.uri(), request.headers());
        if let Some(peer) = peer {
            info = info.peer(peer);
        }
        let trust = self.trust.decide(&info);
        let filter = self.filter.as_ref().filter(|f| f.matches(&info));
        #[cfg(feature = "metrics")]
        let measurement = self
            .metrics
            .as_ref()
            .and_then(|m| m.start(request, route, filter.is_some()));

        let mut incoming = self.propagator.extract(request.headers());
        #[cfg(feature = "tracing")]
        crate::integrations::tracing::log_dropped(incoming.dropped);
        incoming
            .correlation_id
            .get_or_insert_with(self.new_correlation_id);

        // The route-level name, the same for the sampler whether a recorder
        // is set or not; made on the stack unless it is long.
        let mut buffer = ArrayString::new();
        let name = self.span_name(request, route, &mut buffer);
        let method = Attribute::new(
            semconv::HTTP_REQUEST_METHOD,
            semconv::http_method(request.method()),
        );
        let sampling_attributes = match route {
            Some(route) => [method, Attribute::new(semconv::HTTP_ROUTE, route)],
            None => [method.clone(), method],
        };
        let sampling_attributes = &sampling_attributes[..if route.is_some() { 2 } else { 1 }];
        let correlation_header = incoming.correlation_header;
        let started = incoming.start(
            trust,
            &*self.sampler,
            &name,
            SpanKind::Server,
            sampling_attributes,
        );
        // Borrowed until it is handed over: it is not copied on the way.
        let context = &started.context;
        let attributes = || match self.protocol {
            Protocol::Http => semconv::http_server_attributes(request, route, peer),
            Protocol::Grpc => semconv::grpc_server_attributes(request, peer),
        };

        // A filtered request records nothing now; if it fails and its trace
        // records, its span is made afterwards from what is kept here.
        let recording = self.recorder.is_enabled() && started.decision.is_recording();
        let (decision, deferred) = match filter {
            Some(filter) if recording && filter.records_errors() => {
                let deferred = Deferred {
                    start_time: SystemTime::now(),
                    name: name.to_string(),
                    attributes: attributes(),
                };
                (Decision::Drop, Some(Box::new(deferred)))
            }
            Some(_) => (Decision::Drop, None),
            None => (started.decision, None),
        };
        let span = Span::start_with(
            &self.recorder,
            decision,
            || SpanStart::new(context, &name, SpanKind::Server),
            attributes,
        );
        self.hooks.request(&info, &span);
        let held = if span.is_recording() || deferred.is_some() {
            self.held_attributes(request)
        } else {
            Vec::new()
        };
        // A filtered request gets no `tracing` span either: under
        // `tracing-opentelemetry` it would be exported.
        #[cfg(feature = "tracing")]
        let tracing_span = filter
            .is_none()
            .then(|| span.tracing_span(context, &name, SpanKind::Server));
        // What the handler reaches through `SpanRef::current`, and where
        // its own spans record.
        let active = span.active().cloned();
        ServerStart {
            context: started.context.standing_for(active),
            span: ServerSpan {
                span,
                head: request.method() == Method::HEAD,
                correlation_header,
                held,
                #[cfg(feature = "tracing")]
                started: self.log_responses.then(std::time::Instant::now),
                deferred,
                #[cfg(feature = "metrics")]
                measurement,
            },
            #[cfg(feature = "tracing")]
            tracing_span,
        }
    }

    /// What a span holds until the response: a gRPC method's attributes.
    fn held_attributes<B>(&self, request: &Request<B>) -> Vec<Attribute<'static>> {
        match self.protocol {
            Protocol::Http => Vec::new(),
            Protocol::Grpc => semconv::grpc_method_attributes(request.uri().path()),
        }
    }

    fn span_name<'b, B>(
        &self,
        request: &'b Request<B>,
        route: Option<&'b str>,
        buffer: &'b mut ArrayString<NAME_ON_STACK>,
    ) -> Cow<'b, str> {
        match self.protocol {
            Protocol::Http => semconv::http_server_span_name_in(request.method(), route, buffer),
            Protocol::Grpc => Cow::Borrowed(semconv::grpc_span_name(request.uri().path())),
        }
    }

    /// The response's head is known: writes the response headers, and
    /// returns `body` wrapped so that the span ends when the body does,
    /// with the response's status (for gRPC, the trailers' when the head
    /// has none).
    pub fn response<B: http_body::Body>(
        &self,
        span: ServerSpan,
        context: &TraceContext,
        head: &mut response::Parts,
        body: B,
    ) -> SpanBody<B> {
        let mut span = span;
        if span.span.is_recording() {
            discard_if_unrecorded(&mut span.span, &head.extensions);
        }
        #[cfg(feature = "metrics")]
        let measurement = measured(&mut span, head.status, &head.headers);
        let body = match self.at_head(span, context, head.status, &mut head.headers) {
            AtHead::Ended => SpanBody::new(body, Span::none(), Status::Unset),
            AtHead::WithBody(span, status) => SpanBody::new(body, span, status),
            AtHead::WithTrailers(span) => {
                SpanBody::with_trailers(body, span, semconv::grpc_server_trailers)
            }
        };
        #[cfg(feature = "metrics")]
        let body = body.measured_boxed(measurement);
        body
    }

    /// The response's head is known, and the span ends with it: writes the
    /// response headers and ends the span now, with the head's status (for
    /// gRPC, `grpc-status` when the response is trailers-only, else unset).
    ///
    /// For a server that records nothing, or nothing past the head: the
    /// response keeps its own body, so nothing is wrapped.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::{Request, Response};
    /// use trace_core::ServerTracing;
    ///
    /// let tracing = ServerTracing::new();
    /// let started = tracing.start(&Request::new(()), None, None);
    /// let mut response = Response::new("ok");
    /// tracing.response_head(started.span, &started.context, &mut response);
    /// assert!(response.headers().contains_key("x-request-id"));
    /// ```
    pub fn response_head<B>(
        &self,
        span: ServerSpan,
        context: &TraceContext,
        response: &mut http::Response<B>,
    ) {
        let status = response.status();
        #[cfg(feature = "metrics")]
        let mut span = span;
        #[cfg(feature = "metrics")]
        if let Some(measurement) = measured(&mut span, status, response.headers()) {
            measurement.end(None);
        }
        match self.at_head(span, context, status, response.headers_mut()) {
            AtHead::Ended => {}
            AtHead::WithBody(span, status) => span.end(status, Vec::new()),
            AtHead::WithTrailers(span) => span.end(Status::Unset, Vec::new()),
        }
    }

    /// What the head decides: the response headers written, and the span
    /// ended (a response with no body) or still to end with the body.
    fn at_head(
        &self,
        span: ServerSpan,
        context: &TraceContext,
        code: http::StatusCode,
        headers: &mut HeaderMap,
    ) -> AtHead {
        self.write_headers(context, span.correlation_header, headers);
        #[cfg(feature = "tracing")]
        if let Some(started) = span.started {
            log_response(context, Some(code.as_u16()), started);
        }
        if !span.span.is_recording() && span.deferred.is_none() {
            // Nothing records this request (propagation only, or not
            // sampled), and nothing will: there is nothing to classify.
            return AtHead::Ended;
        }
        let head = super::ResponseInfo::new(code, headers);
        let code = code.as_u16();
        match self.protocol {
            Protocol::Http => {
                let status = semconv::http_server_status(code);
                // HTTP says these responses have no body, so hyper never
                // reads theirs: the span ends with the head (else it would
                // end as cancelled when the unread body is dropped).
                let no_body = span.head || matches!(code, 100..=199 | 204 | 304);
                let (mut span, _) = self.span_for(span, context, &status);
                if !span.is_recording() {
                    return AtHead::Ended;
                }
                span.set_attribute(Attribute::new(
                    semconv::HTTP_RESPONSE_STATUS_CODE,
                    i64::from(code),
                ));
                self.hooks.response(&head, &span);
                if no_body {
                    span.end(status, Vec::new());
                    return AtHead::Ended;
                }
                AtHead::WithBody(span, status)
            }
            Protocol::Grpc => {
                match semconv::grpc_response_status(code, headers, semconv::grpc_server_status) {
                    Some((status, attributes)) => {
                        let unrecognised = semconv::grpc_method_unrecognised(code, headers);
                        let (mut span, held) = self.span_for(span, context, &status);
                        if unrecognised {
                            span.set_name(semconv::GRPC_UNRECOGNISED_SPAN_NAME);
                            semconv::grpc_unrecognised_method_attributes(&held)
                                .into_iter()
                                .for_each(|a| span.set_attribute(a));
                        } else {
                            held.into_iter().for_each(|a| span.set_attribute(a));
                        }
                        attributes.into_iter().for_each(|a| span.set_attribute(a));
                        self.hooks.response(&head, &span);
                        AtHead::WithBody(span, status)
                    }
                    None => {
                        // A filtered request's failure in the trailers comes
                        // too late to make its span: only a trailers-only
                        // failure is recorded.
                        let (mut span, held) = self.span_for(span, context, &Status::Unset);
                        held.into_iter().for_each(|a| span.set_attribute(a));
                        self.hooks.response(&head, &span);
                        AtHead::WithTrailers(span)
                    }
                }
            }
        }
    }

    /// The inner service failed with an error of type `E` (no response):
    /// the span ends as an error of that type.
    pub fn failed<E>(&self, span: ServerSpan, context: &TraceContext) {
        #[cfg(feature = "tracing")]
        if let Some(started) = span.started {
            log_response(context, None, started);
        }
        let status = Status::error(std::any::type_name::<E>());
        #[cfg(feature = "metrics")]
        let mut span = span;
        #[cfg(feature = "metrics")]
        if let Some(measurement) = span.measurement.take() {
            measurement.end(Some(status.clone()));
        }
        let (span, held) = self.span_for(span, context, &status);
        span.end(status, held);
    }

    /// The span to carry on (the running one or, for a filtered request
    /// that failed, one made now with the request's start time), and the
    /// attributes it held.
    fn span_for(
        &self,
        mut span: ServerSpan,
        context: &TraceContext,
        status: &Status,
    ) -> (Span, Vec<Attribute<'static>>) {
        let held = std::mem::take(&mut span.held);
        let running = std::mem::replace(&mut span.span, Span::none());
        let span = match span.deferred.take().map(|deferred| *deferred) {
            Some(Deferred {
                start_time,
                name,
                attributes,
            }) if status.is_error() => {
                let mut start = SpanStart::new(context, &name, SpanKind::Server);
                start.start_time = start_time;
                Span::start_shared(&self.recorder, Decision::RecordAndSample, start, || {
                    attributes
                })
            }
            _ => running,
        };
        (span, held)
    }

    /// The correlation ID (unless the handler set its own) and, when
    /// enabled, the server span's trace context. Every value comes from
    /// validated or generated data, never from raw request bytes.
    fn write_headers(&self, context: &TraceContext, came_in: Option<u8>, headers: &mut HeaderMap) {
        if self.echo_correlation_id
            && let Some(id) = context.correlation_id()
        {
            // Under the name the caller used, so that it finds it.
            let name = self.propagator.correlation_header_in(came_in).clone();
            headers.entry(name).or_insert_with(|| id.to_header_value());
        }
        match self.response_trace_context {
            ResponseTraceContext::Off => {}
            ResponseTraceContext::ServerTiming => {
                let mut desc =
                    *b"trace;desc=00-00000000000000000000000000000000-0000000000000000-00";
                desc[11..].copy_from_slice(&context.traceparent().encode());
                let value = HeaderValue::from_bytes(&desc).expect("a traceparent is visible ASCII");
                // Appended: the application may report its own metrics too.
                headers.append(SERVER_TIMING, value);
            }
            ResponseTraceContext::TraceResponse => {
                headers.insert(TRACERESPONSE, context.traceparent().to_header_value());
            }
        }
    }
}

/// The request's measurement, told the response's head.
#[cfg(feature = "metrics")]
fn measured(
    span: &mut ServerSpan,
    code: http::StatusCode,
    headers: &HeaderMap,
) -> Option<Box<crate::metrics::Measurement>> {
    let mut measurement = span.measurement.take()?;
    measurement.head(code, headers);
    Some(measurement)
}

/// What a response's head leaves to do with its span.
enum AtHead {
    /// Nothing: the span ended, or records nothing.
    Ended,
    /// End it with the body, with this status.
    WithBody(Span, Status),
    /// End it with the body, with the status its trailers give.
    WithTrailers(Span),
}

/// The event [`ServerTracing::log_responses`] asks for; `status` is `None`
/// when the service failed without a response.
#[cfg(feature = "tracing")]
fn log_response(context: &TraceContext, status: Option<u16>, started: std::time::Instant) {
    let latency = started.elapsed();
    tracing::info!(
        target: "trace_core::response",
        trace_id = %context.trace_id(),
        span_id = %context.span_id(),
        correlation_id = context.correlation_id().map(CorrelationId::as_str),
        status,
        latency_us = u64::try_from(latency.as_micros()).unwrap_or(u64::MAX),
        "response"
    );
}

impl Drop for ServerSpan {
    /// A span dropped before the response (the client went away, the
    /// handler panicked) keeps its held attributes.
    fn drop(&mut self) {
        // Held only by a recording gRPC span: usually there is nothing.
        if self.held.is_empty() {
            return;
        }
        for attribute in self.held.drain(..) {
            self.span.set_attribute(attribute);
        }
    }
}

impl ServerSpan {
    /// Whether the span records (a filtered request's does not, unless it
    /// fails).
    #[must_use]
    pub fn is_recording(&self) -> bool {
        self.span.is_recording()
    }
}

impl fmt::Debug for ServerTracing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerTracing")
            .field("protocol", &self.protocol)
            .field("propagator", &self.propagator)
            .field("recording", &self.recorder.is_enabled())
            .field("echo_correlation_id", &self.echo_correlation_id)
            .field("response_trace_context", &self.response_trace_context)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for ServerSpan {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ServerSpan")
            .field("recording", &self.is_recording())
            .finish_non_exhaustive()
    }
}

#[cfg(test)]
mod tests {
    use http::{Request, Response};

    use super::*;

    fn answered(name: Option<&str>, tracing: &ServerTracing) -> HeaderMap {
        let mut request = Request::builder();
        if let Some(name) = name {
            request = request.header(name, "corr-42");
        }
        let started = tracing.start(&request.body(()).unwrap(), None, None);
        let mut response = Response::new(());
        tracing.response_head(started.span, &started.context, &mut response);
        response.headers().clone()
    }

    #[test]
    fn the_correlation_id_answers_under_the_name_it_came_in() {
        let tracing = ServerTracing::new();
        for (came_in, other) in [
            ("x-request-id", "x-correlation-id"),
            ("x-correlation-id", "x-request-id"),
        ] {
            let headers = answered(Some(came_in), &tracing);
            assert_eq!(headers[came_in], "corr-42", "under {came_in}");
            assert!(!headers.contains_key(other), "and only there");
        }
        // Made here: the configured name.
        let made = answered(None, &tracing);
        assert!(made.contains_key("x-request-id"));
        assert!(!made.contains_key("x-correlation-id"));
        // A configured name is read and answered.
        let custom = ServerTracing::new().propagator(
            Propagator::default().correlation_header(HeaderName::from_static("x-trace-me")),
        );
        assert_eq!(
            answered(Some("x-trace-me"), &custom)["x-trace-me"],
            "corr-42"
        );
    }
}
