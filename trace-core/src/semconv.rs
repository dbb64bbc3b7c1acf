//! OpenTelemetry semantic-convention names and rules, kept here once so
//! that every adapter names and classifies spans alike.
//!
//! # Examples
//!
//! ```
//! use http::Method;
//! use trace_core::semconv;
//!
//! assert_eq!(semconv::http_server_span_name(&Method::GET, Some("/users/{id}")), "GET /users/{id}");
//! assert_eq!(semconv::http_server_span_name(&Method::from_bytes(b"PURGE").unwrap(), None), "HTTP");
//! assert!(semconv::http_server_status(503).is_error());
//! assert!(!semconv::http_server_status(404).is_error());
//! assert!(semconv::http_client_status(404).is_error());
//! ```

use std::borrow::Cow;

use http::{HeaderMap, HeaderName, Method};

use crate::{Attribute, Status};

/// `http.request.method`: a known method, or `_OTHER`.
pub const HTTP_REQUEST_METHOD: &str = "http.request.method";
/// `http.request.method_original`: the method as sent, when it was `_OTHER`.
pub const HTTP_REQUEST_METHOD_ORIGINAL: &str = "http.request.method_original";
/// `http.response.status_code`.
pub const HTTP_RESPONSE_STATUS_CODE: &str = "http.response.status_code";
/// `http.route`: the matched route template, never the raw path.
pub const HTTP_ROUTE: &str = "http.route";
/// `http.request.resend_count`: retries of a client request.
pub const HTTP_REQUEST_RESEND_COUNT: &str = "http.request.resend_count";
/// `url.scheme`.
pub const URL_SCHEME: &str = "url.scheme";
/// `url.path`.
pub const URL_PATH: &str = "url.path";
/// `url.full`: a client's full URL, credentials removed.
pub const URL_FULL: &str = "url.full";
/// `server.address`.
pub const SERVER_ADDRESS: &str = "server.address";
/// `server.port`.
pub const SERVER_PORT: &str = "server.port";
/// `client.address`.
pub const CLIENT_ADDRESS: &str = "client.address";
/// `network.protocol.version`.
pub const NETWORK_PROTOCOL_VERSION: &str = "network.protocol.version";
/// `user_agent.original`.
pub const USER_AGENT_ORIGINAL: &str = "user_agent.original";
/// `error.type`.
pub const ERROR_TYPE: &str = "error.type";
/// `rpc.system`.
pub const RPC_SYSTEM: &str = "rpc.system";
/// `rpc.service`.
pub const RPC_SERVICE: &str = "rpc.service";
/// `rpc.method`.
pub const RPC_METHOD: &str = "rpc.method";
/// `rpc.grpc.status_code`.
pub const RPC_GRPC_STATUS_CODE: &str = "rpc.grpc.status_code";

/// The `http.request.method` value: the method for the nine methods of RFC
/// 9110 and RFC 5789, `_OTHER` for anything else (unbounded values would
/// blow up cardinality).
#[must_use]
pub fn http_method(method: &Method) -> &'static str {
    match *method {
        Method::GET => "GET",
        Method::HEAD => "HEAD",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::DELETE => "DELETE",
        Method::CONNECT => "CONNECT",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::PATCH => "PATCH",
        _ => "_OTHER",
    }
}

/// An HTTP server span's name: `{method} {route}`, `{method}` without a
/// route, and `HTTP` in place of an unknown method.
#[must_use]
pub fn http_server_span_name(method: &Method, route: Option<&str>) -> Cow<'static, str> {
    let method = match http_method(method) {
        "_OTHER" => "HTTP",
        known => known,
    };
    match route {
        // Sized once: no `fmt` machinery and no regrowth per request.
        Some(route) => {
            let mut name = String::with_capacity(method.len() + 1 + route.len());
            name.push_str(method);
            name.push(' ');
            name.push_str(route);
            Cow::Owned(name)
        }
        None => Cow::Borrowed(method),
    }
}

/// An HTTP client span's name: `{method}` (`HTTP` for an unknown method).
#[must_use]
pub fn http_client_span_name(method: &Method) -> &'static str {
    match http_method(method) {
        "_OTHER" => "HTTP",
        known => known,
    }
}

/// A server span's status for an HTTP status code: an error only for 5xx
/// (a 4xx is the client's mistake, not the server's failure).
#[must_use]
pub fn http_server_status(code: u16) -> Status {
    if (500..600).contains(&code) {
        Status::error(status_text(code))
    } else {
        Status::Unset
    }
}

/// A client span's status for an HTTP status code: an error for 4xx and 5xx.
#[must_use]
pub fn http_client_status(code: u16) -> Status {
    if (400..600).contains(&code) {
        Status::error(status_text(code))
    } else {
        Status::Unset
    }
}

fn status_text(code: u16) -> Cow<'static, str> {
    Cow::Owned(code.to_string())
}

/// A gRPC server span's status: an error for UNKNOWN (2),
/// DEADLINE_EXCEEDED (4), UNIMPLEMENTED (12), INTERNAL (13), UNAVAILABLE
/// (14) and DATA_LOSS (15); not for the others, which describe the request.
#[must_use]
pub fn grpc_server_status(code: i32) -> Status {
    if matches!(code, 2 | 4 | 12 | 13 | 14 | 15) {
        Status::error(grpc_code_name(code))
    } else {
        Status::Unset
    }
}

/// A gRPC client span's status: every code but OK (0) is an error.
#[must_use]
pub fn grpc_client_status(code: i32) -> Status {
    if code == 0 {
        Status::Unset
    } else {
        Status::error(grpc_code_name(code))
    }
}

/// The name of a gRPC status code, as in the gRPC specification.
#[must_use]
pub fn grpc_code_name(code: i32) -> &'static str {
    match code {
        0 => "OK",
        1 => "CANCELLED",
        2 => "UNKNOWN",
        3 => "INVALID_ARGUMENT",
        4 => "DEADLINE_EXCEEDED",
        5 => "NOT_FOUND",
        6 => "ALREADY_EXISTS",
        7 => "PERMISSION_DENIED",
        8 => "RESOURCE_EXHAUSTED",
        9 => "FAILED_PRECONDITION",
        10 => "ABORTED",
        11 => "OUT_OF_RANGE",
        12 => "UNIMPLEMENTED",
        13 => "INTERNAL",
        14 => "UNAVAILABLE",
        15 => "DATA_LOSS",
        16 => "UNAUTHENTICATED",
        _ => "_OTHER",
    }
}

/// The `grpc-status` header or trailer.
pub const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// The status code in a `grpc-status` header or trailer, when there is a
/// valid one (a decimal number).
#[must_use]
pub fn grpc_status_code(headers: &HeaderMap) -> Option<i32> {
    let value = headers.get(GRPC_STATUS)?.to_str().ok()?;
    (!value.is_empty() && value.len() <= 3 && value.bytes().all(|b| b.is_ascii_digit()))
        .then(|| value.parse().ok())
        .flatten()
}

/// How a gRPC server span ends, read from `grpc-status` (a trailers-only
/// response's headers, or the trailers): its status and the
/// `rpc.grpc.status_code` attribute.
#[must_use]
pub fn grpc_server_trailers(headers: &HeaderMap) -> Option<(Status, Vec<Attribute<'static>>)> {
    let code = grpc_status_code(headers)?;
    Some((
        grpc_server_status(code),
        vec![Attribute::new(RPC_GRPC_STATUS_CODE, i64::from(code))],
    ))
}

/// How a gRPC client span ends, read from `grpc-status`.
#[must_use]
pub fn grpc_client_trailers(headers: &HeaderMap) -> Option<(Status, Vec<Attribute<'static>>)> {
    let code = grpc_status_code(headers)?;
    Some((
        grpc_client_status(code),
        vec![Attribute::new(RPC_GRPC_STATUS_CODE, i64::from(code))],
    ))
}

/// A gRPC span's name: `package.Service/Method`, or `grpc` for a path that
/// is not a gRPC method.
#[must_use]
pub fn grpc_span_name(path: &str) -> &str {
    match grpc_service_method(path) {
        Some(_) => &path[1..],
        None => "grpc",
    }
}

/// The `rpc.*` attributes of a gRPC call to `path`.
#[must_use]
pub fn grpc_attributes(path: &str) -> Vec<Attribute<'static>> {
    let mut attributes = vec![Attribute::new(RPC_SYSTEM, "grpc")];
    if let Some((service, method)) = grpc_service_method(path) {
        attributes.push(Attribute::new(RPC_SERVICE, service.to_owned()));
        attributes.push(Attribute::new(RPC_METHOD, method.to_owned()));
    }
    attributes
}

/// Splits a gRPC path `/package.Service/Method` into service and method.
#[must_use]
pub fn grpc_service_method(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    (!service.is_empty() && !method.is_empty() && !method.contains('/'))
        .then_some((service, method))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grpc_status_tables() {
        let server_errors: Vec<i32> = (0..=16)
            .filter(|&c| grpc_server_status(c).is_error())
            .collect();
        assert_eq!(server_errors, [2, 4, 12, 13, 14, 15]);
        let client_errors: Vec<i32> = (0..=16)
            .filter(|&c| grpc_client_status(c).is_error())
            .collect();
        assert_eq!(client_errors, (1..=16).collect::<Vec<_>>());
        assert_eq!(grpc_server_status(13).error_type(), Some("INTERNAL"));
    }

    #[test]
    fn http_status_tables() {
        assert!(!http_server_status(499).is_error());
        assert_eq!(http_server_status(500).error_type(), Some("500"));
        assert!(!http_client_status(399).is_error());
        assert!(http_client_status(400).is_error());
        assert!(!http_server_status(200).is_error());
    }

    #[test]
    fn grpc_status_from_headers() {
        let mut headers = HeaderMap::new();
        assert_eq!(grpc_status_code(&headers), None);
        for (value, code) in [
            ("0", Some(0)),
            ("13", Some(13)),
            ("-1", None),
            ("x", None),
            ("1234", None),
            (" 1", None),
        ] {
            headers.insert(GRPC_STATUS, http::HeaderValue::from_static(value));
            assert_eq!(grpc_status_code(&headers), code, "{value:?}");
        }
        headers.insert(GRPC_STATUS, http::HeaderValue::from_static("5"));
        let (status, attributes) = grpc_server_trailers(&headers).unwrap();
        assert!(
            !status.is_error(),
            "NOT_FOUND is the caller's problem on the server side"
        );
        assert_eq!(attributes[0].value, crate::Value::I64(5));
        assert!(
            grpc_client_trailers(&headers).unwrap().0.is_error(),
            "but an error for the client"
        );
        assert_eq!(grpc_span_name("/echo.v1.Echo/Unary"), "echo.v1.Echo/Unary");
        assert_eq!(grpc_span_name("/not-grpc"), "grpc");
        assert_eq!(grpc_attributes("/echo.v1.Echo/Unary").len(), 3);
    }

    #[test]
    fn names() {
        assert_eq!(http_server_span_name(&Method::POST, None), "POST");
        assert_eq!(
            http_client_span_name(&Method::from_bytes(b"QUERY").unwrap()),
            "HTTP"
        );
        assert_eq!(
            http_method(&Method::from_bytes(b"get").unwrap()),
            "_OTHER",
            "methods are case-sensitive"
        );
        assert_eq!(
            grpc_service_method("/helloworld.Greeter/SayHello"),
            Some(("helloworld.Greeter", "SayHello"))
        );
        assert_eq!(grpc_service_method("/x"), None);
        assert_eq!(grpc_service_method("//m"), None);
    }
}
