//! The response future: response headers and the span's status.

use std::{
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll, ready},
    time::SystemTime,
};

use http::{HeaderName, HeaderValue, Response};
use pin_project::pin_project;
use trace_core::{
    Attribute, Decision, Span, SpanKind, SpanStart, Status, TraceContext, WithContext, semconv,
};

use crate::{
    ResponseBody, ResponseTraceContext,
    config::{Config, Protocol},
};

const SERVER_TIMING: HeaderName = HeaderName::from_static("server-timing");
const TRACERESPONSE: HeaderName = HeaderName::from_static("traceresponse");

/// What the future needs once the inner service answers.
pub(crate) struct Pending {
    pub(crate) span: Span,
    pub(crate) config: Arc<Config>,
    /// A filtered request's span data, kept in case it fails.
    pub(crate) deferred: Option<(
        SystemTime,
        std::borrow::Cow<'static, str>,
        Vec<Attribute<'static>>,
    )>,
}

impl Pending {
    /// The span to carry on: the running one, or for a filtered request that
    /// failed, one made now with the request's start time.
    fn span_for(mut self, context: &TraceContext, status: &Status) -> Span {
        if let Some((start_time, name, attributes)) = self.deferred.take()
            && status.is_error()
        {
            let mut start = SpanStart::new(context, &name, SpanKind::Server);
            start.start_time = start_time;
            return Span::start(
                &*self.config.recorder,
                Decision::RecordAndSample,
                start,
                || attributes,
            );
        }
        self.span
    }
}

/// The future of [`TraceContextService`](crate::TraceContextService).
#[pin_project]
#[must_use = "futures do nothing unless you `.await` or poll them"]
pub struct ResponseFuture<F> {
    #[pin]
    inner: WithContext<F>,
    pending: Option<Pending>,
}

impl<F> ResponseFuture<F> {
    pub(crate) fn new(inner: WithContext<F>, pending: Pending) -> Self {
        Self {
            inner,
            pending: Some(pending),
        }
    }
}

impl<F> std::fmt::Debug for ResponseFuture<F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture")
            .field("context", &self.inner.trace_context())
            .finish_non_exhaustive()
    }
}

impl<F, B, E> Future for ResponseFuture<F>
where
    F: Future<Output = Result<Response<B>, E>>,
    B: http_body::Body,
{
    type Output = Result<Response<ResponseBody<B>>, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let result = ready!(this.inner.as_mut().poll(cx));
        let pending = this.pending.take().expect("polled after completion");
        // The request's context, as the inner future ran with it: no copy
        // of it is kept for the response.
        let context = this
            .inner
            .as_ref()
            .get_ref()
            .trace_context()
            .expect("set by the service");
        match result {
            Ok(response) => {
                let (mut parts, body) = response.into_parts();
                write_headers(&pending, context, &mut parts.headers);
                let body = match pending.config.protocol {
                    Protocol::Http => {
                        let code = parts.status.as_u16();
                        let status = semconv::http_server_status(code);
                        let mut span = pending.span_for(context, &status);
                        span.set_attribute(Attribute::new(
                            semconv::HTTP_RESPONSE_STATUS_CODE,
                            i64::from(code),
                        ));
                        if let Some(error_type) = status.error_type() {
                            span.set_attribute(Attribute::new(
                                semconv::ERROR_TYPE,
                                error_type.to_owned(),
                            ));
                        }
                        ResponseBody::new(body, span, status)
                    }
                    // A trailers-only response has its status in the headers;
                    // otherwise it comes in the trailers after the messages.
                    Protocol::Grpc => match semconv::grpc_server_trailers(&parts.headers) {
                        Some((status, attributes)) => {
                            let mut span = pending.span_for(context, &status);
                            attributes.into_iter().for_each(|a| span.set_attribute(a));
                            ResponseBody::new(body, span, status)
                        }
                        None => {
                            let span = pending.span_for(context, &Status::Unset);
                            ResponseBody::with_trailers(
                                body,
                                span,
                                Status::Unset,
                                semconv::grpc_server_trailers,
                            )
                        }
                    },
                };
                Poll::Ready(Ok(Response::from_parts(parts, body)))
            }
            Err(error) => {
                let status = Status::error(std::any::type_name::<E>());
                pending.span_for(context, &status).end(status, Vec::new());
                Poll::Ready(Err(error))
            }
        }
    }
}

/// The correlation ID (unless the handler set its own) and, when enabled,
/// the server span's trace context. Every value comes from validated or
/// generated data, never from raw request bytes.
fn write_headers(pending: &Pending, context: &TraceContext, headers: &mut http::HeaderMap) {
    let config = &pending.config;
    if config.echo_correlation_id
        && let Some(id) = context.correlation_id()
    {
        let name = config.propagator.correlation_header_name().clone();
        headers.entry(name).or_insert_with(|| id.to_header_value());
    }
    match config.response_trace_context {
        ResponseTraceContext::Off => {}
        ResponseTraceContext::ServerTiming => {
            let mut desc = *b"trace;desc=00-00000000000000000000000000000000-0000000000000000-00";
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
