//! Which requests are not recorded (health checks and the like).

use std::{fmt, ops, sync::Arc};

use http::{HeaderName, HeaderValue, Method};

use crate::{policy::RequestInfo, semconv};

/// Requests that make no span: by path, path prefix, method, header, gRPC
/// service, or a closure; combined with [`or`](Self::or),
/// [`and`](Self::and) and `!`.
///
/// A filtered request still propagates and still gets its correlation ID.
/// By default it is recorded anyway when it fails, so a failing health check
/// stays visible; [`record_errors(false)`](Self::record_errors) turns that
/// off. The HTTP and gRPC adapters share it.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, Method, Uri};
/// use trace_core::{RequestFilter, RequestInfo};
///
/// let skip = RequestFilter::path("/health")
///     .or(RequestFilter::path_prefix("/metrics"))
///     .or(RequestFilter::grpc_service("grpc.health.v1.Health"));
///
/// let headers = HeaderMap::new();
/// let matches = |path: &'static str| {
///     let uri = Uri::from_static(path);
///     skip.matches(&RequestInfo::new(&Method::GET, &uri, &headers))
/// };
/// assert!(matches("/health"));
/// assert!(matches("/metrics/prometheus"));
/// assert!(matches("/grpc.health.v1.Health/Check"));
/// assert!(!matches("/healthz"));
/// assert!(!matches("/users"));
/// ```
#[derive(Clone)]
pub struct RequestFilter {
    rule: Rule,
    record_errors: bool,
}

#[derive(Clone)]
enum Rule {
    Path(Box<str>),
    PathPrefix(Box<str>),
    Method(Method),
    Header(HeaderName, Option<HeaderValue>),
    GrpcService(Box<str>),
    Custom(Arc<dyn Fn(&RequestInfo<'_>) -> bool + Send + Sync>),
    Any(Vec<Self>),
    All(Vec<Self>),
    Not(Box<Self>),
}

impl Rule {
    fn matches(&self, request: &RequestInfo<'_>) -> bool {
        let path = request.uri.path();
        match self {
            Self::Path(p) => path == &**p,
            Self::PathPrefix(p) => path.starts_with(&**p),
            Self::Method(m) => request.method == m,
            Self::Header(name, None) => request.headers.contains_key(name),
            Self::Header(name, Some(value)) => {
                request.headers.get_all(name).iter().any(|v| v == value)
            }
            Self::GrpcService(service) => {
                semconv::grpc_service_method(path).is_some_and(|(s, _)| s == &**service)
            }
            Self::Custom(f) => f(request),
            Self::Any(rules) => rules.iter().any(|r| r.matches(request)),
            Self::All(rules) => rules.iter().all(|r| r.matches(request)),
            Self::Not(rule) => !rule.matches(request),
        }
    }
}

impl RequestFilter {
    fn new(rule: Rule) -> Self {
        Self {
            rule,
            record_errors: true,
        }
    }

    /// Requests for exactly this path.
    pub fn path(path: impl Into<Box<str>>) -> Self {
        Self::new(Rule::Path(path.into()))
    }

    /// Requests whose path starts with `prefix`.
    pub fn path_prefix(prefix: impl Into<Box<str>>) -> Self {
        Self::new(Rule::PathPrefix(prefix.into()))
    }

    /// Requests with this method.
    #[must_use]
    pub fn method(method: Method) -> Self {
        Self::new(Rule::Method(method))
    }

    /// Requests that carry this header.
    #[must_use]
    pub fn header(name: HeaderName) -> Self {
        Self::new(Rule::Header(name, None))
    }

    /// Requests that carry this header with this value.
    #[must_use]
    pub fn header_value(name: HeaderName, value: HeaderValue) -> Self {
        Self::new(Rule::Header(name, Some(value)))
    }

    /// gRPC calls to this service (`package.Service`).
    pub fn grpc_service(service: impl Into<Box<str>>) -> Self {
        Self::new(Rule::GrpcService(service.into()))
    }

    /// Requests for which `f` returns `true`.
    pub fn custom(f: impl Fn(&RequestInfo<'_>) -> bool + Send + Sync + 'static) -> Self {
        Self::new(Rule::Custom(Arc::new(f)))
    }

    /// Requests either filter matches.
    #[must_use]
    pub fn or(self, other: Self) -> Self {
        Self {
            rule: Rule::Any(vec![self.rule, other.rule]),
            record_errors: self.record_errors && other.record_errors,
        }
    }

    /// Requests both filters match.
    #[must_use]
    pub fn and(self, other: Self) -> Self {
        Self {
            rule: Rule::All(vec![self.rule, other.rule]),
            record_errors: self.record_errors && other.record_errors,
        }
    }

    /// Whether a matching request that fails is recorded anyway (default: yes).
    #[must_use]
    pub fn record_errors(mut self, record: bool) -> Self {
        self.record_errors = record;
        self
    }

    /// Whether a matching request that fails is recorded anyway.
    #[must_use]
    pub fn records_errors(&self) -> bool {
        self.record_errors
    }

    /// Whether `request` is filtered out (makes no span).
    #[must_use]
    pub fn matches(&self, request: &RequestInfo<'_>) -> bool {
        self.rule.matches(request)
    }
}

impl ops::Not for RequestFilter {
    type Output = Self;

    fn not(self) -> Self {
        Self {
            rule: Rule::Not(Box::new(self.rule)),
            record_errors: self.record_errors,
        }
    }
}

impl fmt::Debug for Rule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Path(p) => f.debug_tuple("Path").field(p).finish(),
            Self::PathPrefix(p) => f.debug_tuple("PathPrefix").field(p).finish(),
            Self::Method(m) => f.debug_tuple("Method").field(m).finish(),
            Self::Header(n, v) => f.debug_tuple("Header").field(n).field(v).finish(),
            Self::GrpcService(s) => f.debug_tuple("GrpcService").field(s).finish(),
            Self::Custom(_) => f.write_str("Custom(..)"),
            Self::Any(r) => f.debug_tuple("Any").field(r).finish(),
            Self::All(r) => f.debug_tuple("All").field(r).finish(),
            Self::Not(r) => f.debug_tuple("Not").field(r).finish(),
        }
    }
}

impl fmt::Debug for RequestFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RequestFilter")
            .field("rule", &self.rule)
            .field("record_errors", &self.record_errors)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, Uri};

    use super::*;

    fn matches(
        filter: &RequestFilter,
        method: &Method,
        path: &'static str,
        headers: &HeaderMap,
    ) -> bool {
        let uri = Uri::from_static(path);
        filter.matches(&RequestInfo::new(method, &uri, headers))
    }

    #[test]
    fn each_rule_and_combinator() {
        let empty = HeaderMap::new();
        let mut probe = HeaderMap::new();
        probe.insert("x-probe", HeaderValue::from_static("k8s"));
        let health = RequestFilter::path("/health");
        assert!(
            matches(&health, &Method::GET, "/health?verbose=1", &empty),
            "the query is not the path"
        );
        assert!(!matches(&health, &Method::GET, "/health/db", &empty));
        let head = RequestFilter::method(Method::HEAD);
        assert!(matches(&head, &Method::HEAD, "/", &empty));
        assert!(!matches(&head, &Method::GET, "/", &empty));
        let by_header = RequestFilter::header_value(
            HeaderName::from_static("x-probe"),
            HeaderValue::from_static("k8s"),
        );
        assert!(matches(&by_header, &Method::GET, "/", &probe));
        assert!(!matches(&by_header, &Method::GET, "/", &empty));
        assert!(matches(
            &RequestFilter::header(HeaderName::from_static("x-probe")),
            &Method::GET,
            "/",
            &probe
        ));

        let both = RequestFilter::path("/health").and(RequestFilter::method(Method::GET));
        assert!(matches(&both, &Method::GET, "/health", &empty));
        assert!(!matches(&both, &Method::POST, "/health", &empty));
        let not_api = !RequestFilter::path_prefix("/api/");
        assert!(matches(&not_api, &Method::GET, "/static/x.css", &empty));
        assert!(!matches(&not_api, &Method::GET, "/api/users", &empty));
        let custom = RequestFilter::custom(|r| r.uri.path().ends_with(".ico"));
        assert!(matches(&custom, &Method::GET, "/favicon.ico", &empty));
    }

    #[test]
    fn errors_are_recorded_unless_switched_off() {
        assert!(RequestFilter::path("/health").records_errors());
        let quiet = RequestFilter::path("/a").or(RequestFilter::path("/b").record_errors(false));
        assert!(!quiet.records_errors(), "switching it off anywhere wins");
    }
}
