//! The service: what happens per request.

use std::{
    borrow::Cow,
    net::SocketAddr,
    sync::Arc,
    task::{Context, Poll},
    time::SystemTime,
};

use http::{Extensions, Request, Response, Version, header};
use tower_service::Service;
use trace_core::{Attribute, Decision, FutureExt, RequestInfo, Span, SpanKind, SpanStart, semconv};

use crate::{
    ResponseBody,
    config::{Config, Protocol},
    future::{Pending, ResponseFuture},
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
#[derive(Debug, Clone)]
pub struct TraceContextService<S> {
    inner: S,
    config: Arc<Config>,
}

impl<S> TraceContextService<S> {
    pub(crate) fn new(inner: S, config: Arc<Config>) -> Self {
        Self { inner, config }
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

fn protocol_version(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// The semantic-convention attributes of a server request; computed only
/// for a span that records.
fn request_attributes<B>(
    req: &Request<B>,
    route: Option<&str>,
    peer: Option<SocketAddr>,
    protocol: Protocol,
) -> Vec<Attribute<'static>> {
    let mut attributes = match protocol {
        Protocol::Grpc => semconv::grpc_attributes(req.uri().path()),
        Protocol::Http => {
            let method = semconv::http_method(req.method());
            let mut attributes = Vec::with_capacity(10);
            attributes.push(Attribute::new(semconv::HTTP_REQUEST_METHOD, method));
            if method == "_OTHER" {
                attributes.push(Attribute::new(
                    semconv::HTTP_REQUEST_METHOD_ORIGINAL,
                    req.method().as_str().to_owned(),
                ));
            }
            // The two schemes there are, without an allocation.
            let scheme: Cow<'static, str> = match req.uri().scheme_str() {
                None | Some("http") => Cow::Borrowed("http"),
                Some("https") => Cow::Borrowed("https"),
                Some(other) => Cow::Owned(other.to_owned()),
            };
            attributes.push(Attribute::new(semconv::URL_SCHEME, scheme));
            attributes.push(Attribute::new(
                semconv::URL_PATH,
                req.uri().path().to_owned(),
            ));
            if let Some(route) = route {
                attributes.push(Attribute::new(semconv::HTTP_ROUTE, route.to_owned()));
            }
            attributes
        }
    };
    connection_attributes(req, peer, &mut attributes);
    attributes
}

/// Server address and port, protocol version, user agent, client address.
fn connection_attributes<B>(
    req: &Request<B>,
    peer: Option<SocketAddr>,
    attributes: &mut Vec<Attribute<'static>>,
) {
    let host = req
        .uri()
        .authority()
        .map(|a| (a.host().to_owned(), a.port_u16()))
        .or_else(|| {
            let host = req.headers().get(header::HOST)?.to_str().ok()?;
            let authority: http::uri::Authority = host.parse().ok()?;
            Some((authority.host().to_owned(), authority.port_u16()))
        });
    if let Some((host, port)) = host {
        attributes.push(Attribute::new(semconv::SERVER_ADDRESS, host));
        if let Some(port) = port {
            attributes.push(Attribute::new(semconv::SERVER_PORT, i64::from(port)));
        }
    }
    if let Some(version) = protocol_version(req.version()) {
        attributes.push(Attribute::new(semconv::NETWORK_PROTOCOL_VERSION, version));
    }
    if let Some(agent) = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
    {
        attributes.push(Attribute::new(
            semconv::USER_AGENT_ORIGINAL,
            agent.to_owned(),
        ));
    }
    if let Some(peer) = peer {
        attributes.push(Attribute::new(
            semconv::CLIENT_ADDRESS,
            peer.ip().to_string(),
        ));
    }
}

impl<S, ReqBody, ResBody> Service<Request<ReqBody>> for TraceContextService<S>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    ResBody: http_body::Body,
{
    type Response = Response<ResponseBody<ResBody>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: Request<ReqBody>) -> Self::Future {
        let config = &self.config;
        let peer = peer(req.extensions());
        let route = route(req.extensions());

        let mut info = RequestInfo::new(req.method(), req.uri(), req.headers());
        if let Some(peer) = peer {
            info = info.peer(peer);
        }
        let trust = config.trust.decide(&info);
        let filtered = config.filter.as_ref().filter(|f| f.matches(&info));

        let mut incoming = config.propagator.extract(req.headers());
        if incoming.correlation_id.is_none() {
            incoming.correlation_id = Some((config.new_correlation_id)());
        }

        // The full name is made only when a span may be recorded: in
        // propagation-only mode the sampler sees the method as the name and
        // the route as an attribute, and nothing is allocated.
        let recording = config.recorder.is_enabled();
        let name: Cow<'static, str> = match (config.protocol, recording) {
            (Protocol::Http, true) => semconv::http_server_span_name(req.method(), route),
            (Protocol::Http, false) => Cow::Borrowed(semconv::http_client_span_name(req.method())),
            (Protocol::Grpc, true) => {
                Cow::Owned(semconv::grpc_span_name(req.uri().path()).to_owned())
            }
            (Protocol::Grpc, false) => Cow::Borrowed("grpc"),
        };
        let method = Attribute::new(
            semconv::HTTP_REQUEST_METHOD,
            semconv::http_method(req.method()),
        );
        let sampling_attributes = match route {
            Some(route) => [method, Attribute::new(semconv::HTTP_ROUTE, route)],
            None => [method.clone(), method],
        };
        let sampling_attributes = &sampling_attributes[..if route.is_some() { 2 } else { 1 }];
        let started = incoming.start(
            trust,
            &*config.sampler,
            &name,
            SpanKind::Server,
            sampling_attributes,
        );
        let cx = started.context;

        // A filtered request records nothing now; if it fails, and its trace
        // is recorded, its span is made afterwards from what is kept here.
        let (decision, deferred) = match filtered {
            Some(filter)
                if recording && filter.records_errors() && started.decision.is_recording() =>
            {
                let deferred = (
                    SystemTime::now(),
                    name.clone(),
                    request_attributes(&req, route, peer, config.protocol),
                );
                (Decision::Drop, Some(deferred))
            }
            Some(_) => (Decision::Drop, None),
            None => (started.decision, None),
        };
        let span = Span::start_with(
            &*config.recorder,
            decision,
            || SpanStart::new(&cx, &name, SpanKind::Server),
            || request_attributes(&req, route, peer, config.protocol),
        );

        // A filtered request gets no `tracing` span either: under
        // `tracing-opentelemetry` it would be exported.
        #[cfg(feature = "tracing")]
        let tracing_span = filtered
            .is_none()
            .then(|| span.tracing_span(&cx, &name, SpanKind::Server));

        req.extensions_mut().insert(cx.clone());
        // Some services do work in `call` itself: it runs in the context too.
        let call = || cx.scope(|| self.inner.call(req));
        #[cfg(feature = "tracing")]
        let (future, cx) = match &tracing_span {
            Some(tracing_span) => tracing_span.in_scope(call),
            None => call(),
        };
        #[cfg(not(feature = "tracing"))]
        let (future, cx) = call();
        let future = future.with_trace_context(cx);
        #[cfg(feature = "tracing")]
        let future = match tracing_span {
            Some(tracing_span) => future.in_tracing_span(tracing_span),
            None => future,
        };
        ResponseFuture::new(
            future,
            Pending {
                span,
                config: Arc::clone(config),
                deferred,
            },
        )
    }
}
