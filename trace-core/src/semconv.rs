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

use std::{borrow::Cow, fmt::Write as _, net::SocketAddr};

use arrayvec::ArrayString;

use http::{HeaderMap, HeaderName, Method, Request, Uri, Version, header, uri::Authority};

use crate::record::{Attribute, Status, Value};

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
/// `url.template`: the route template of a client call's target.
pub const URL_TEMPLATE: &str = "url.template";
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
/// `correlation_id`: the request's correlation ID, on every span of ours
/// that has one, under the name its `tracing` field has (not an
/// OpenTelemetry convention: there is none for it).
pub const CORRELATION_ID: &str = "correlation_id";
/// The name of the event that records an exception (an error), from the
/// OpenTelemetry exception conventions.
pub const EXCEPTION_EVENT: &str = "exception";
/// `exception.type`: the error's type.
pub const EXCEPTION_TYPE: &str = "exception.type";
/// `exception.message`: the error's message.
pub const EXCEPTION_MESSAGE: &str = "exception.message";
/// `error.type`.
pub const ERROR_TYPE: &str = "error.type";
/// `rpc.system`.
pub const RPC_SYSTEM: &str = "rpc.system";
/// `rpc.service`.
pub const RPC_SERVICE: &str = "rpc.service";
/// `rpc.method`.
pub const RPC_METHOD: &str = "rpc.method";
/// `rpc.method_original`: the method a client asked for, when `rpc.method`
/// is `_OTHER`.
pub const RPC_METHOD_ORIGINAL: &str = "rpc.method_original";
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
        Some(route) => http_server_span_name_owned(method, route),
        None => Cow::Borrowed(method),
    }
}

/// [`http_server_span_name`], written into `buffer` when it fits (no
/// allocation on the request path), else allocated.
pub(crate) fn http_server_span_name_in<'b, const N: usize>(
    method: &Method,
    route: Option<&'b str>,
    buffer: &'b mut ArrayString<N>,
) -> Cow<'b, str> {
    let method = http_client_span_name(method);
    let Some(route) = route else {
        return Cow::Borrowed(method);
    };
    buffer.clear();
    if method.len() + 1 + route.len() > N {
        return http_server_span_name_owned(method, route);
    }
    buffer.push_str(method);
    buffer.push(' ');
    buffer.push_str(route);
    Cow::Borrowed(buffer.as_str())
}

fn http_server_span_name_owned(method: &str, route: &str) -> Cow<'static, str> {
    // Sized once: no `fmt` machinery and no regrowth.
    let mut name = String::with_capacity(method.len() + 1 + route.len());
    name.push_str(method);
    name.push(' ');
    name.push_str(route);
    Cow::Owned(name)
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
///
/// A response that ends without `grpc-status` (no trailers, or trailers
/// without it) is UNKNOWN, as gRPC's protocol has clients read it
/// (<https://github.com/grpc/grpc/blob/master/doc/PROTOCOL-HTTP2.md#responses>;
/// grpc-go and tonic do): an error, never a silent OK.
#[must_use]
pub fn grpc_server_trailers(trailers: Option<&HeaderMap>) -> (Status, Vec<Attribute<'static>>) {
    grpc_trailers(trailers, grpc_server_status)
}

/// How a gRPC client span ends, read from `grpc-status` in the trailers
/// (UNKNOWN when it is missing, as for the server).
#[must_use]
pub fn grpc_client_trailers(trailers: Option<&HeaderMap>) -> (Status, Vec<Attribute<'static>>) {
    grpc_trailers(trailers, grpc_client_status)
}

/// The status code gRPC clients use when `grpc-status` is missing.
const GRPC_UNKNOWN: i32 = 2;

fn grpc_trailers(
    trailers: Option<&HeaderMap>,
    status: fn(i32) -> Status,
) -> (Status, Vec<Attribute<'static>>) {
    let code = trailers.and_then(grpc_status_code).unwrap_or(GRPC_UNKNOWN);
    (
        status(code),
        vec![Attribute::new(RPC_GRPC_STATUS_CODE, i64::from(code))],
    )
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
    attributes.extend(grpc_method_attributes(path));
    attributes
}

/// `rpc.service` and `rpc.method` of a call to `path` (none for a path
/// that is not a gRPC method).
#[must_use]
pub fn grpc_method_attributes(path: &str) -> Vec<Attribute<'static>> {
    match grpc_service_method(path) {
        Some((service, method)) => vec![
            Attribute::new(RPC_SERVICE, service.to_owned()),
            Attribute::new(RPC_METHOD, method.to_owned()),
        ],
        None => Vec::new(),
    }
}

/// The span name of a gRPC method the server does not implement:
/// `{rpc.system}`, as the OpenTelemetry RPC conventions say for `_OTHER`.
pub const GRPC_UNRECOGNISED_SPAN_NAME: &str = "grpc";

/// The attributes of a call to a method the server does not implement
/// (OpenTelemetry's RPC conventions, <https://opentelemetry.io/docs/specs/semconv/rpc/rpc-spans/>),
/// from those [`grpc_method_attributes`] made: `rpc.method` is `_OTHER` (a
/// bounded value for backends) and `rpc.method_original` keeps the
/// `package.Service/Method` the client asked for.
#[must_use]
pub fn grpc_unrecognised_method_attributes(
    method_attributes: &[Attribute<'static>],
) -> Vec<Attribute<'static>> {
    let text = |key| {
        method_attributes
            .iter()
            .find(|a| a.key == key)
            .and_then(|a| match &a.value {
                Value::Str(s) => Some(s.as_ref()),
                _ => None,
            })
    };
    let mut attributes = vec![Attribute::new(RPC_METHOD, "_OTHER")];
    if let (Some(service), Some(method)) = (text(RPC_SERVICE), text(RPC_METHOD)) {
        attributes.push(Attribute::new(
            RPC_METHOD_ORIGINAL,
            format!("{service}/{method}"),
        ));
    }
    attributes
}

/// Whether a gRPC response's head says the server does not have the
/// method: a trailers-only UNIMPLEMENTED (what gRPC servers answer for an
/// unknown service or method; tonic's router and generated servers do),
/// or an HTTP status that gRPC maps to UNIMPLEMENTED (404 from a router
/// that is not gRPC's). A method that answered with headers first was
/// routed, whatever its trailers say.
#[must_use]
pub fn grpc_method_unrecognised(http_status: u16, headers: &HeaderMap) -> bool {
    grpc_status_code(headers).or_else(|| grpc_status_from_http(http_status)) == Some(12)
}

/// Splits a gRPC path `/package.Service/Method` into service and method.
#[must_use]
pub fn grpc_service_method(path: &str) -> Option<(&str, &str)> {
    let (service, method) = path.strip_prefix('/')?.split_once('/')?;
    (!service.is_empty() && !method.is_empty() && !method.contains('/'))
        .then_some((service, method))
}

/// The `http.request.method` attribute, and `http.request.method_original`
/// with the method as sent when it is `_OTHER`: for servers and clients.
pub fn push_http_method(method: &Method, attributes: &mut Vec<Attribute<'static>>) {
    let known = http_method(method);
    attributes.push(Attribute::new(HTTP_REQUEST_METHOD, known));
    if known == "_OTHER" {
        attributes.push(Attribute::new(
            HTTP_REQUEST_METHOD_ORIGINAL,
            method.as_str().to_owned(),
        ));
    }
}

/// `server.address` and `server.port` of an authority; `default_port` is
/// the port to report when the authority names none (clients report the
/// scheme's, servers only a port that was sent).
pub fn push_server_address(
    authority: &Authority,
    default_port: Option<u16>,
    attributes: &mut Vec<Attribute<'static>>,
) {
    attributes.push(Attribute::new(SERVER_ADDRESS, authority.host().to_owned()));
    if let Some(port) = authority.port_u16().or(default_port) {
        attributes.push(Attribute::new(SERVER_PORT, i64::from(port)));
    }
}

/// A `Host` header's host and port (RFC 9110, section 7.2: `uri-host [
/// ":" port ]`), read in place: a host of RFC 3986's reg-name characters
/// (percent-encoding included) or a bracketed IP literal, and a port of up
/// to five digits that fits in 16 bits. `None` for anything else, which then
/// names no address.
#[inline]
fn host_header(value: &[u8]) -> Option<(&str, Option<u16>)> {
    let (host, port) = match value.first()? {
        b'[' => {
            let end = value.iter().position(|&b| b == b']')? + 1;
            let literal = &value[1..end - 1];
            let ok = !literal.is_empty()
                && literal
                    .iter()
                    .all(|&b| b.is_ascii_hexdigit() || matches!(b, b':' | b'.'));
            (ok.then_some(&value[..end])?, &value[end..])
        }
        _ => {
            let end = value.iter().position(|&b| b == b':').unwrap_or(value.len());
            let host = &value[..end];
            let ok = host.iter().all(|&b| {
                b.is_ascii_alphanumeric()
                    || matches!(
                        b,
                        b'-' | b'.'
                            | b'_'
                            | b'~'
                            | b'%'
                            | b'!'
                            | b'$'
                            | b'&'
                            | b'\''
                            | b'('
                            | b')'
                            | b'*'
                            | b'+'
                            | b','
                            | b';'
                            | b'='
                    )
            });
            (ok.then_some(host).filter(|h| !h.is_empty())?, &value[end..])
        }
    };
    let port = match port {
        // RFC 3986 allows an empty port: none is named.
        [] | [b':'] => None,
        [b':', digits @ ..] if digits.len() <= 5 => {
            let port = digits.iter().try_fold(0u32, |n, &b| {
                b.is_ascii_digit().then(|| n * 10 + u32::from(b - b'0'))
            })?;
            Some(u16::try_from(port).ok()?)
        }
        _ => return None,
    };
    // Only ASCII was accepted above.
    Some((std::str::from_utf8(host).ok()?, port))
}

/// The port a URI's scheme implies: 80 for `http`, 443 for `https`.
#[must_use]
pub fn default_port(uri: &Uri) -> Option<u16> {
    match uri.scheme_str() {
        Some("http") => Some(80),
        Some("https") => Some(443),
        _ => None,
    }
}

/// `network.protocol.version` of an HTTP version.
#[must_use]
pub fn protocol_version(version: Version) -> Option<&'static str> {
    Some(match version {
        Version::HTTP_09 => "0.9",
        Version::HTTP_10 => "1.0",
        Version::HTTP_11 => "1.1",
        Version::HTTP_2 => "2",
        Version::HTTP_3 => "3",
        _ => return None,
    })
}

/// `url.scheme` of a URI's scheme (`http` when it has none, as a server's
/// request URI): the two schemes there are without an allocation.
#[must_use]
pub fn url_scheme(scheme: Option<&str>) -> Cow<'static, str> {
    match scheme {
        None | Some("http") => Cow::Borrowed("http"),
        Some("https") => Cow::Borrowed("https"),
        Some(other) => Cow::Owned(other.to_owned()),
    }
}

/// The attributes of an HTTP server span at its start: method, scheme,
/// path, route, then those [`push_connection`] adds.
#[must_use]
pub fn http_server_attributes<B>(
    request: &Request<B>,
    route: Option<&str>,
    peer: Option<SocketAddr>,
) -> Vec<Attribute<'static>> {
    // Room for the response's attributes too, so they never regrow it.
    let mut attributes = Vec::with_capacity(12);
    push_http_method(request.method(), &mut attributes);
    attributes.push(Attribute::new(
        URL_SCHEME,
        url_scheme(request.uri().scheme_str()),
    ));
    attributes.push(Attribute::new(URL_PATH, request.uri().path().to_owned()));
    if let Some(route) = route {
        attributes.push(Attribute::new(HTTP_ROUTE, route.to_owned()));
    }
    push_connection(request, peer, &mut attributes);
    attributes
}

/// The attributes of a gRPC server span at its start: `rpc.system`, then
/// those [`push_connection`] adds. The method's attributes wait for the
/// response, which says whether the server has it
/// ([`grpc_method_attributes`], [`grpc_unrecognised_method_attributes`]).
#[must_use]
pub fn grpc_server_attributes<B>(
    request: &Request<B>,
    peer: Option<SocketAddr>,
) -> Vec<Attribute<'static>> {
    let mut attributes = vec![Attribute::new(RPC_SYSTEM, "grpc")];
    push_connection(request, peer, &mut attributes);
    attributes
}

/// What a server knows of the connection: `server.address` and
/// `server.port` (from the URI's authority, else the `Host` header),
/// `network.protocol.version`, `user_agent.original` and `client.address`.
pub fn push_connection<B>(
    request: &Request<B>,
    peer: Option<SocketAddr>,
    attributes: &mut Vec<Attribute<'static>>,
) {
    // Both headers found in one pass: a request has few headers, and
    // comparing a standard name is cheaper than hashing it for a lookup.
    let (mut host, mut agent) = (None, None);
    for (name, value) in request.headers() {
        if *name == header::HOST {
            host.get_or_insert(value);
        } else if *name == header::USER_AGENT {
            agent.get_or_insert(value);
        }
    }
    if let Some(authority) = request.uri().authority() {
        push_server_address(authority, None, attributes);
    } else if let Some((host, port)) = host.and_then(|host| host_header(host.as_bytes())) {
        attributes.push(Attribute::new(SERVER_ADDRESS, host.to_owned()));
        if let Some(port) = port {
            attributes.push(Attribute::new(SERVER_PORT, i64::from(port)));
        }
    }
    if let Some(version) = protocol_version(request.version()) {
        attributes.push(Attribute::new(NETWORK_PROTOCOL_VERSION, version));
    }
    if let Some(agent) = agent.and_then(|v| v.to_str().ok()) {
        attributes.push(Attribute::new(USER_AGENT_ORIGINAL, agent.to_owned()));
    }
    if let Some(peer) = peer {
        // Written into room for the longest address: no regrowth.
        let mut address = String::with_capacity(45);
        let _ = write!(address, "{}", peer.ip());
        attributes.push(Attribute::new(CLIENT_ADDRESS, address));
    }
}

/// The attributes of an HTTP client span at its start: method,
/// `url.full` (as given: the caller removes credentials and, unless asked,
/// the query), `server.address` and `server.port` (the scheme's port when
/// none is named), and `http.request.resend_count` for a retry.
#[must_use]
pub fn http_client_attributes(
    method: &Method,
    url_full: String,
    destination: Option<&Uri>,
    resend_count: u32,
) -> Vec<Attribute<'static>> {
    let mut attributes = Vec::with_capacity(8);
    push_http_method(method, &mut attributes);
    attributes.push(Attribute::new(URL_FULL, url_full));
    if let Some(uri) = destination
        && let Some(authority) = uri.authority()
    {
        push_server_address(authority, default_port(uri), &mut attributes);
    }
    if resend_count > 0 {
        attributes.push(Attribute::new(
            HTTP_REQUEST_RESEND_COUNT,
            i64::from(resend_count),
        ));
    }
    attributes
}

/// The attributes of a gRPC client span at its start: the `rpc.*`
/// attributes of `path`, and the address of `target` (the channel's
/// endpoint).
#[must_use]
pub fn grpc_client_attributes(path: &str, target: &Uri) -> Vec<Attribute<'static>> {
    let mut attributes = grpc_attributes(path);
    if let Some(authority) = target.authority() {
        push_server_address(authority, None, &mut attributes);
    }
    attributes
}

/// The gRPC status a response without `grpc-status` stands for, from its
/// HTTP status, as gRPC's "HTTP to gRPC Status Code Mapping"
/// (<https://github.com/grpc/grpc/blob/master/doc/http-grpc-status-mapping.md>)
/// says: `None` for 200, whose status comes in the trailers.
#[must_use]
pub fn grpc_status_from_http(code: u16) -> Option<i32> {
    Some(match code {
        200 => return None,
        400 => 13,
        401 => 16,
        403 => 7,
        404 => 12,
        429 | 502 | 503 | 504 => 14,
        _ => 2,
    })
}

/// How a gRPC span ends, read from a response's head: `grpc-status` in a
/// trailers-only response, else the HTTP status when it is not 200
/// ([`grpc_status_from_http`]); `None` when the status is still to come in
/// the trailers. `status` maps the code for the side (server or client).
#[must_use]
pub fn grpc_response_status(
    http_status: u16,
    headers: &HeaderMap,
    status: fn(i32) -> Status,
) -> Option<(Status, Vec<Attribute<'static>>)> {
    let code = grpc_status_code(headers).or_else(|| grpc_status_from_http(http_status))?;
    Some((
        status(code),
        vec![Attribute::new(RPC_GRPC_STATUS_CODE, i64::from(code))],
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_host_header_names_the_server() {
        #[rustfmt::skip]
        let table: &[(&[u8], Option<(&str, Option<u16>)>)] = &[
            (b"example.com", Some(("example.com", None))),
            (b"example.com:8080", Some(("example.com", Some(8080)))),
            (b"example.com:", Some(("example.com", None))),
            (b"127.0.0.1:80", Some(("127.0.0.1", Some(80)))),
            (b"[::1]:3000", Some(("[::1]", Some(3000)))),
            (b"[2001:db8::7]", Some(("[2001:db8::7]", None))),
            (b"my_host%41", Some(("my_host%41", None))),
            (b"", None),
            (b":80", None),
            (b"example.com:65536", None),
            (b"example.com:123456", None),
            (b"example.com:8o", None),
            (b"example.com:80:80", None),
            (b"user@example.com", None),
            (b"exa mple.com", None),
            (b"[::1", None),
            (b"[]", None),
            (b"[::1]x", None),
            (b"[zz::1]", None),
            (b"ex\xc3\xa9.com", None),
            (b"a\r\nb", None),
        ];
        for &(value, expected) in table {
            assert_eq!(
                host_header(value),
                expected,
                "{:?}",
                String::from_utf8_lossy(value)
            );
        }
        let request = Request::get("/")
            .header("host", "api.example.com:8443")
            .body(())
            .unwrap();
        let mut attributes = Vec::new();
        push_connection(
            &request,
            Some(SocketAddr::from(([10, 0, 0, 7], 4000))),
            &mut attributes,
        );
        let find = |key: &str| {
            attributes
                .iter()
                .find(|a| a.key == key)
                .map(|a| a.value.to_string())
        };
        assert_eq!(find(SERVER_ADDRESS).as_deref(), Some("api.example.com"));
        assert_eq!(find(SERVER_PORT).as_deref(), Some("8443"));
        assert_eq!(find(CLIENT_ADDRESS).as_deref(), Some("10.0.0.7"));
    }

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
        let (status, attributes) = grpc_server_trailers(Some(&headers));
        assert!(
            !status.is_error(),
            "NOT_FOUND is the caller's problem on the server side"
        );
        assert_eq!(attributes[0].value, crate::record::Value::I64(5));
        assert!(
            grpc_client_trailers(Some(&headers)).0.is_error(),
            "but an error for the client"
        );
        // No `grpc-status` at all: UNKNOWN, an error on both sides.
        for trailers in [None, Some(&HeaderMap::new())] {
            let (status, attributes) = grpc_server_trailers(trailers);
            assert_eq!(status.error_type(), Some("UNKNOWN"));
            assert_eq!(attributes[0].value, crate::record::Value::I64(2));
            assert!(grpc_client_trailers(trailers).0.is_error());
        }
        assert_eq!(grpc_span_name("/echo.v1.Echo/Unary"), "echo.v1.Echo/Unary");
        assert_eq!(grpc_span_name("/not-grpc"), "grpc");
        assert_eq!(grpc_attributes("/echo.v1.Echo/Unary").len(), 3);
    }

    #[test]
    fn server_names_on_the_stack_or_allocated() {
        let mut buffer = ArrayString::<16>::new();
        let name = http_server_span_name_in(&Method::GET, Some("/users/{id}"), &mut buffer);
        assert!(
            matches!(name, Cow::Borrowed("GET /users/{id}")),
            "fits: {name:?}"
        );
        let long = "/a/route/longer/than/the/buffer";
        let name = http_server_span_name_in(&Method::POST, Some(long), &mut buffer);
        assert!(
            matches!(&name, Cow::Owned(n) if *n == format!("POST {long}")),
            "{name:?}"
        );
        let name =
            http_server_span_name_in(&Method::from_bytes(b"PURGE").unwrap(), None, &mut buffer);
        assert_eq!(name, "HTTP");
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

    #[test]
    fn grpc_status_from_the_http_status_when_grpc_status_is_missing() {
        // gRPC's "HTTP to gRPC Status Code Mapping", row by row.
        #[rustfmt::skip]
        let rows: &[(u16, Option<i32>, &str)] = &[
            (200, None, "the status comes in the trailers"),
            (400, Some(13), "INTERNAL"),
            (401, Some(16), "UNAUTHENTICATED"),
            (403, Some(7), "PERMISSION_DENIED"),
            (404, Some(12), "UNIMPLEMENTED"),
            (429, Some(14), "UNAVAILABLE"),
            (502, Some(14), "UNAVAILABLE"),
            (503, Some(14), "UNAVAILABLE"),
            (504, Some(14), "UNAVAILABLE"),
            (500, Some(2), "UNKNOWN: any other status"),
            (302, Some(2), "UNKNOWN: any other status"),
        ];
        for &(http, grpc, why) in rows {
            assert_eq!(grpc_status_from_http(http), grpc, "{http}: {why}");
        }
        let empty = HeaderMap::new();
        let (status, _) = grpc_response_status(503, &empty, grpc_client_status).unwrap();
        assert_eq!(status.error_type(), Some("UNAVAILABLE"), "a proxy's 503");
        assert!(grpc_response_status(200, &empty, grpc_client_status).is_none());
        let mut headers = HeaderMap::new();
        headers.insert(GRPC_STATUS, http::HeaderValue::from_static("5"));
        let (status, _) = grpc_response_status(200, &headers, grpc_client_status).unwrap();
        assert_eq!(status.error_type(), Some("NOT_FOUND"), "grpc-status wins");
    }
}
