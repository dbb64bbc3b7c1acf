//! Hooks that add the app's own attributes to the spans the adapters make,
//! from the request and from the response: what a handler should not have
//! to do (a tenant header to `tenant.id`, a response header to an
//! attribute), on every adapter alike. And [`UrlTemplate`], the low
//! cardinality name of a client call's target.

use std::{borrow::Cow, fmt, sync::Arc};

use http::{HeaderMap, StatusCode};

use crate::{
    policy::RequestInfo,
    record::{Span, SpanRef},
};

type RequestHook = Arc<dyn Fn(&RequestInfo<'_>, &SpanRef) + Send + Sync>;
type ResponseHook = Arc<dyn Fn(&ResponseInfo<'_>, &SpanRef) + Send + Sync>;

/// A response's head, as a response hook sees it.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, StatusCode};
/// use trace_core::instrument::ResponseInfo;
///
/// let headers = HeaderMap::new();
/// let response = ResponseInfo::new(StatusCode::OK, &headers);
/// assert_eq!(response.status, StatusCode::OK);
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ResponseInfo<'a> {
    /// The HTTP status (for gRPC, the HTTP status of the response).
    pub status: StatusCode,
    /// The response's headers.
    pub headers: &'a HeaderMap,
}

impl<'a> ResponseInfo<'a> {
    /// A response head.
    #[must_use]
    pub fn new(status: StatusCode, headers: &'a HeaderMap) -> Self {
        Self { status, headers }
    }
}

/// The hooks of a server or a client: run only for a span that records.
#[derive(Clone, Default)]
pub(crate) struct Hooks {
    request: Option<RequestHook>,
    response: Option<ResponseHook>,
}

impl Hooks {
    pub(crate) fn set_request(
        &mut self,
        hook: impl Fn(&RequestInfo<'_>, &SpanRef) + Send + Sync + 'static,
    ) {
        self.request = Some(Arc::new(hook));
    }

    pub(crate) fn set_response(
        &mut self,
        hook: impl Fn(&ResponseInfo<'_>, &SpanRef) + Send + Sync + 'static,
    ) {
        self.response = Some(Arc::new(hook));
    }

    // The checks inline, the calls out of line: the request path of a
    // server or client without hooks stays as it was.
    #[inline]
    pub(crate) fn request(&self, request: &RequestInfo<'_>, span: &Span) {
        if self.request.is_some() && span.is_recording() {
            self.run_request(request, span);
        }
    }

    #[inline(never)]
    fn run_request(&self, request: &RequestInfo<'_>, span: &Span) {
        if let Some(hook) = &self.request {
            hook(request, &span.as_ref());
        }
    }

    #[inline]
    pub(crate) fn response(&self, response: &ResponseInfo<'_>, span: &Span) {
        if self.response.is_some() && span.is_recording() {
            self.run_response(response, span);
        }
    }

    #[inline(never)]
    fn run_response(&self, response: &ResponseInfo<'_>, span: &Span) {
        if let Some(hook) = &self.response {
            hook(response, &span.as_ref());
        }
    }
}

impl fmt::Debug for Hooks {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("request", &self.request.is_some())
            .field("response", &self.response.is_some())
            .finish()
    }
}

/// The route template of a client call's target (`/users/{id}`): the
/// client span is named `{method} {template}` and carries `url.template`,
/// as the OpenTelemetry HTTP conventions say
/// (<https://opentelemetry.io/docs/specs/semconv/http/http-spans/#name>),
/// instead of `{method}` alone, so that the calls a service makes are told
/// apart by operation. Set it as a request extension (with
/// reqwest-middleware, `RequestBuilder::with_extension`).
///
/// # Examples
///
/// ```
/// use trace_core::instrument::UrlTemplate;
///
/// let template = UrlTemplate::new("/users/{id}");
/// assert_eq!(template.span_name(&http::Method::GET), "GET /users/{id}");
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UrlTemplate(Cow<'static, str>);

impl UrlTemplate {
    /// A template: a path with `{placeholders}` for what varies.
    pub fn new(template: impl Into<Cow<'static, str>>) -> Self {
        Self(template.into())
    }

    /// The template.
    #[must_use]
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The client span's name for a call with this method.
    #[must_use]
    pub fn span_name(&self, method: &http::Method) -> String {
        let method = crate::semconv::http_client_span_name(method);
        let mut name = String::with_capacity(method.len() + 1 + self.0.len());
        name.push_str(method);
        name.push(' ');
        name.push_str(&self.0);
        name
    }
}
