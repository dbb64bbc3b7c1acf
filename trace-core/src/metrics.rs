//! Request metrics (feature `metrics`): the duration of every request a
//! server answers, and how many are in flight, measured at the points
//! where the request's span starts and ends, through the OpenTelemetry
//! metrics API and whatever `MeterProvider` the application installed.
//!
//! The instruments are those of the OpenTelemetry semantic conventions,
//! "Semantic conventions for HTTP metrics"
//! (<https://opentelemetry.io/docs/specs/semconv/http/http-metrics/>) and
//! "Semantic conventions for RPC metrics"
//! (<https://opentelemetry.io/docs/specs/semconv/rpc/rpc-metrics/>):
//!
//! | instrument | unit | attributes |
//! |---|---|---|
//! | `http.server.request.duration` (histogram) | `s` | `http.request.method` (`_OTHER` for unknown methods), `url.scheme`, `http.route` (the template, never the path), `network.protocol.name`, `network.protocol.version`, `http.response.status_code`, `error.type` |
//! | `http.server.active_requests` (up-down counter) | `{request}` | `http.request.method`, `url.scheme` |
//! | `http.server.request.body.size` (histogram) | `By` | as the duration; only when the request says its length (`Content-Length`) |
//! | `http.server.response.body.size` (histogram) | `By` | as the duration; the bytes the body sent, when it ended |
//! | `rpc.server.call.duration` (histogram) | `s` | `rpc.system.name` (`grpc`), `rpc.method` (`package.Service/Method`, `_OTHER` for a method the server does not have), `rpc.status_code` (`OK`, `NOT_FOUND`…), `error.type` |
//!
//! Every attribute has few values: the opt-in `server.address` and
//! `server.port` are left out on the server side (a request's `Host` is
//! the caller's to choose). The durations use the buckets the conventions
//! advise ([`DURATION_BUCKETS`]).
//!
//! A request is measured from its start to the end of its response body,
//! as its span is; a request the client abandoned, or whose handler
//! panicked, is measured to that moment with `error.type` `cancelled` or
//! `panic`, and leaves the in-flight count. Requests a
//! [`RequestFilter`](crate::policy::RequestFilter) leaves out (health
//! checks) are not measured unless [`Metrics::measure_filtered`] says so.
//! Unsampled requests are measured like the others.

use std::{borrow::Cow, sync::Arc, time::Instant};

use http::{HeaderMap, Request};
use opentelemetry::{
    KeyValue,
    metrics::{Histogram, Meter, MeterProvider, UpDownCounter},
};

use crate::{
    instrument::Protocol,
    record::{Attribute, Status, Value},
    semconv,
};

/// The bucket boundaries, in seconds, the conventions advise for request
/// durations.
pub const DURATION_BUCKETS: [f64; 14] = [
    0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.25, 0.5, 0.75, 1.0, 2.5, 5.0, 7.5, 10.0,
];

/// The instrumentation scope the instruments are created in.
const SCOPE: &str = "trace-core";

fn scope() -> opentelemetry::InstrumentationScope {
    opentelemetry::InstrumentationScope::builder(SCOPE)
        .with_version(env!("CARGO_PKG_VERSION"))
        .build()
}

/// Where request metrics go: a `Meter` of the application's
/// `MeterProvider`, and whether filtered requests are measured.
///
/// # Examples
///
/// ```
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
/// use trace_core::{ServerTracing, metrics::Metrics};
///
/// let provider = SdkMeterProvider::builder().build();
/// let tracing = ServerTracing::new().metrics(&Metrics::new(&provider));
/// # let _ = tracing;
/// ```
#[derive(Clone, Debug)]
pub struct Metrics {
    meter: Meter,
    filtered: bool,
}

impl Metrics {
    /// Instruments of `provider`, in the scope `trace-core`.
    pub fn new(provider: &(impl MeterProvider + ?Sized)) -> Self {
        Self::from_meter(provider.meter_with_scope(scope()))
    }

    /// Instruments of the global `MeterProvider` (the one `OtelSetup` or
    /// the application installed with `opentelemetry::global`).
    #[must_use]
    pub fn global() -> Self {
        Self::from_meter(opentelemetry::global::meter_with_scope(scope()))
    }

    /// Instruments of `meter`.
    #[must_use]
    pub fn from_meter(meter: Meter) -> Self {
        Self {
            meter,
            filtered: false,
        }
    }

    /// Whether requests a filter leaves out of the traces (health checks)
    /// are measured all the same; `false` by default.
    #[must_use]
    pub fn measure_filtered(mut self, measure: bool) -> Self {
        self.filtered = measure;
        self
    }

    /// A server's instruments, for `protocol`.
    pub(crate) fn server(&self, protocol: Protocol) -> Arc<Instruments> {
        let duration = |name: &'static str, description: &'static str| {
            self.meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build()
        };
        let size = |name: &'static str, description: &'static str| {
            self.meter
                .u64_histogram(name)
                .with_unit("By")
                .with_description(description)
                .build()
        };
        Arc::new(match protocol {
            Protocol::Http => Instruments {
                protocol,
                side: Side::Server,
                filtered: self.filtered,
                duration: duration(
                    "http.server.request.duration",
                    "Duration of HTTP server requests.",
                ),
                active: Some(
                    self.meter
                        .i64_up_down_counter("http.server.active_requests")
                        .with_unit("{request}")
                        .with_description("Number of active HTTP server requests.")
                        .build(),
                ),
                request_size: Some(size(
                    "http.server.request.body.size",
                    "Size of HTTP server request bodies.",
                )),
                response_size: Some(size(
                    "http.server.response.body.size",
                    "Size of HTTP server response bodies.",
                )),
            },
            Protocol::Grpc => Instruments {
                protocol,
                side: Side::Server,
                filtered: self.filtered,
                duration: duration(
                    "rpc.server.call.duration",
                    "Measures the duration of an incoming Remote Procedure Call (RPC).",
                ),
                active: None,
                request_size: None,
                response_size: None,
            },
        })
    }
}

impl Metrics {
    /// A client's instruments, for `protocol`.
    pub(crate) fn client(&self, protocol: Protocol) -> Arc<Instruments> {
        let (name, description) = match protocol {
            Protocol::Http => (
                "http.client.request.duration",
                "Duration of HTTP client requests.",
            ),
            Protocol::Grpc => (
                "rpc.client.call.duration",
                "Measures the duration of an outgoing Remote Procedure Call (RPC).",
            ),
        };
        Arc::new(Instruments {
            protocol,
            side: Side::Client,
            filtered: true,
            duration: self
                .meter
                .f64_histogram(name)
                .with_unit("s")
                .with_description(description)
                .with_boundaries(DURATION_BUCKETS.to_vec())
                .build(),
            active: None,
            request_size: None,
            response_size: None,
        })
    }
}

/// Which end of a call is measured.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Side {
    Server,
    Client,
}

/// A server's or a client's instruments.
pub(crate) struct Instruments {
    protocol: Protocol,
    side: Side,
    filtered: bool,
    duration: Histogram<f64>,
    active: Option<UpDownCounter<i64>>,
    request_size: Option<Histogram<u64>>,
    response_size: Option<Histogram<u64>>,
}

impl std::fmt::Debug for Instruments {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Instruments")
            .field("protocol", &self.protocol)
            .field("filtered", &self.filtered)
            .finish_non_exhaustive()
    }
}

impl Instruments {
    /// Starts measuring `request`, unless a filter left it out (`filtered`)
    /// and filtered requests are not measured.
    pub(crate) fn start<B>(
        self: &Arc<Self>,
        request: &Request<B>,
        route: Option<&str>,
        filtered: bool,
    ) -> Option<Box<Measurement>> {
        if filtered && !self.filtered {
            return None;
        }
        let mut attributes = Vec::with_capacity(8);
        let active = match self.protocol {
            Protocol::Http => {
                attributes.push(KeyValue::new(
                    semconv::HTTP_REQUEST_METHOD,
                    semconv::http_method(request.method()),
                ));
                attributes.push(KeyValue::new(
                    semconv::URL_SCHEME,
                    semconv::url_scheme(request.uri().scheme_str()),
                ));
                let active = attributes.len();
                if let Some(route) = route {
                    attributes.push(KeyValue::new(semconv::HTTP_ROUTE, route.to_owned()));
                }
                if let Some(version) = semconv::protocol_version(request.version()) {
                    attributes.push(KeyValue::new(NETWORK_PROTOCOL_NAME, "http"));
                    attributes.push(KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, version));
                }
                active
            }
            Protocol::Grpc => {
                attributes.push(KeyValue::new(RPC_SYSTEM_NAME, "grpc"));
                attributes.push(rpc_method(request.uri().path()));
                0
            }
        };
        if let Some(counter) = &self.active {
            counter.add(1, &attributes[..active]);
        }
        let request_size = request
            .headers()
            .get(http::header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
        Some(Box::new(Measurement::new(
            self,
            attributes,
            active,
            request_size,
        )))
    }
}

impl Instruments {
    /// Starts measuring a call: `method` and `destination` (its scheme,
    /// host and port), and `operation`, the caller's `url.template` for
    /// HTTP or the path (`/package.Service/Method`) for gRPC.
    pub(crate) fn start_call(
        self: &Arc<Self>,
        method: &http::Method,
        destination: Option<&http::Uri>,
        operation: Option<&str>,
    ) -> Measurement {
        let mut attributes = Vec::with_capacity(8);
        match self.protocol {
            Protocol::Http => {
                attributes.push(KeyValue::new(
                    semconv::HTTP_REQUEST_METHOD,
                    semconv::http_method(method),
                ));
                if let Some(scheme) = destination.and_then(http::Uri::scheme_str) {
                    attributes.push(KeyValue::new(
                        semconv::URL_SCHEME,
                        semconv::url_scheme(Some(scheme)),
                    ));
                }
                if let Some(template) = operation {
                    attributes.push(KeyValue::new(semconv::URL_TEMPLATE, template.to_owned()));
                }
            }
            Protocol::Grpc => {
                attributes.push(KeyValue::new(RPC_SYSTEM_NAME, "grpc"));
                attributes.push(rpc_method(operation.unwrap_or_default()));
            }
        }
        if let Some(uri) = destination
            && let Some(authority) = uri.authority()
        {
            attributes.push(KeyValue::new(
                semconv::SERVER_ADDRESS,
                authority.host().to_owned(),
            ));
            if let Some(port) = authority.port_u16().or_else(|| semconv::default_port(uri)) {
                attributes.push(KeyValue::new(semconv::SERVER_PORT, i64::from(port)));
            }
        }
        Measurement::new(self, attributes, 0, None)
    }
}

/// `rpc.method` of a call to `path`: `package.Service/Method`, or `_OTHER`.
fn rpc_method(path: &str) -> KeyValue {
    let method = match semconv::grpc_span_name(path) {
        semconv::GRPC_UNRECOGNISED_SPAN_NAME => Cow::Borrowed(OTHER),
        method => Cow::Owned(method.to_owned()),
    };
    KeyValue::new(semconv::RPC_METHOD, method)
}

impl Measurement {
    fn new(
        instruments: &Arc<Instruments>,
        attributes: Vec<KeyValue>,
        active: usize,
        request_size: Option<u64>,
    ) -> Self {
        Self {
            instruments: Arc::clone(instruments),
            started: Instant::now(),
            attributes,
            active,
            request_size,
            response_size: 0,
            body_done: false,
            pending: Status::Unset,
            trailers: false,
            method_index: 1,
            ended: false,
        }
    }
}

/// `network.protocol.name`.
const NETWORK_PROTOCOL_NAME: &str = "network.protocol.name";
/// `rpc.system.name`.
const RPC_SYSTEM_NAME: &str = "rpc.system.name";
/// `rpc.status_code`.
const RPC_STATUS_CODE: &str = "rpc.status_code";
/// A method the conventions do not know, or the server does not have.
const OTHER: &str = "_OTHER";

/// One request or call being measured: ended with its response (or its
/// body), or on drop, as an abandoned one.
///
/// An adapter gets one from
/// [`ClientTracing::measure_call`](crate::ClientTracing::measure_call), tells it the response's head,
/// and hands it to the response's [`SpanBody`](crate::record::SpanBody)
/// ([`measured`](crate::record::SpanBody::measured)), or ends it.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, Method, StatusCode, Uri};
/// use opentelemetry_sdk::metrics::SdkMeterProvider;
/// use trace_core::{ClientTracing, instrument::Protocol, metrics::Metrics};
///
/// let provider = SdkMeterProvider::builder().build();
/// let tracing = ClientTracing::default().metrics(&Metrics::new(&provider), Protocol::Http);
/// let uri = Uri::from_static("http://users:8080/users/7");
/// let mut measurement = tracing.measure_call(&Method::GET, Some(&uri), Some("/users/{id}")).unwrap();
/// measurement.head(StatusCode::OK, &HeaderMap::new());
/// measurement.end(None);
/// ```
pub struct Measurement {
    instruments: Arc<Instruments>,
    started: Instant,
    /// The request's attributes, then the response's.
    attributes: Vec<KeyValue>,
    /// How many of the first attributes `active_requests` has.
    active: usize,
    request_size: Option<u64>,
    response_size: u64,
    /// The response body was sent whole: its size is known.
    body_done: bool,
    /// The status the response's head gave.
    pending: Status,
    /// gRPC: the status is still to come, in the trailers.
    trailers: bool,
    /// Where `rpc.method` is among the attributes.
    method_index: usize,
    ended: bool,
}

impl Measurement {
    /// The response's head: its status code, and for gRPC `grpc-status`
    /// if the head has it (else the trailers will).
    pub fn head(&mut self, code: http::StatusCode, headers: &HeaderMap) {
        let code = code.as_u16();
        let side = self.instruments.side;
        match self.instruments.protocol {
            Protocol::Http => {
                self.attributes.push(KeyValue::new(
                    semconv::HTTP_RESPONSE_STATUS_CODE,
                    i64::from(code),
                ));
                self.pending = match side {
                    Side::Server => semconv::http_server_status(code),
                    Side::Client => semconv::http_client_status(code),
                };
            }
            Protocol::Grpc => {
                if side == Side::Server && semconv::grpc_method_unrecognised(code, headers) {
                    self.attributes[self.method_index] = KeyValue::new(semconv::RPC_METHOD, OTHER);
                }
                let classify = match side {
                    Side::Server => semconv::grpc_server_status,
                    Side::Client => semconv::grpc_client_status,
                };
                match semconv::grpc_response_status(code, headers, classify) {
                    Some((status, attributes)) => self.grpc_status(status, &attributes),
                    None => self.trailers = true,
                }
            }
        }
    }

    /// The version of HTTP the response came over (a client's).
    pub fn protocol_version(&mut self, version: http::Version) {
        if self.instruments.protocol == Protocol::Http
            && let Some(version) = semconv::protocol_version(version)
        {
            self.attributes
                .push(KeyValue::new(NETWORK_PROTOCOL_NAME, "http"));
            self.attributes
                .push(KeyValue::new(semconv::NETWORK_PROTOCOL_VERSION, version));
        }
    }

    /// Whether the status is still to come in the trailers.
    pub(crate) fn wants_trailers(&self) -> bool {
        self.trailers
    }

    /// The trailers (`None`: the body ended without), for a gRPC status.
    pub(crate) fn trailers(&mut self, trailers: Option<&HeaderMap>) {
        if std::mem::take(&mut self.trailers) {
            let (status, attributes) = match self.instruments.side {
                Side::Server => semconv::grpc_server_trailers(trailers),
                Side::Client => semconv::grpc_client_trailers(trailers),
            };
            self.grpc_status(status, &attributes);
        }
    }

    fn grpc_status(&mut self, status: Status, attributes: &[Attribute<'static>]) {
        let code = attributes.iter().find_map(|a| match a.value {
            Value::I64(code) if a.key == semconv::RPC_GRPC_STATUS_CODE => i32::try_from(code).ok(),
            _ => None,
        });
        if let Some(code) = code {
            self.attributes.push(KeyValue::new(
                RPC_STATUS_CODE,
                semconv::grpc_code_name(code),
            ));
        }
        self.pending = status;
    }

    /// Bytes of the response body, as they go.
    pub(crate) fn sent(&mut self, bytes: usize) {
        self.response_size = self
            .response_size
            .saturating_add(u64::try_from(bytes).unwrap_or(u64::MAX));
    }

    /// Ends the measurement: with `error` if the call, the body or the
    /// service failed, else with the status the response gave (and its
    /// body's size, now known).
    pub fn end(mut self, error: Option<Status>) {
        match error {
            Some(error) => self.pending = error,
            None => self.body_done = true,
        }
        self.record();
    }

    fn record(&mut self) {
        if std::mem::replace(&mut self.ended, true) {
            return;
        }
        if self.trailers {
            // The body ended (or went) before its trailers.
            self.trailers(None);
        }
        let seconds = self.started.elapsed().as_secs_f64();
        let instruments = &*self.instruments;
        if let Some(counter) = &instruments.active {
            counter.add(-1, &self.attributes[..self.active]);
        }
        if let Some(error_type) = self.pending.error_type() {
            self.attributes
                .push(KeyValue::new(semconv::ERROR_TYPE, error_type.to_owned()));
        }
        instruments.duration.record(seconds, &self.attributes);
        if let (Some(histogram), Some(size)) = (&instruments.request_size, self.request_size) {
            histogram.record(size, &self.attributes);
        }
        if let Some(histogram) = &instruments.response_size
            && self.body_done
        {
            histogram.record(self.response_size, &self.attributes);
        }
    }
}

impl Drop for Measurement {
    /// Dropped before it ended: the request was abandoned, or its handler
    /// panicked, as its span says.
    fn drop(&mut self) {
        if !self.ended {
            let why = if std::thread::panicking() {
                "panic"
            } else {
                "cancelled"
            };
            self.pending = Status::error(why);
            self.record();
        }
    }
}

impl std::fmt::Debug for Measurement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Measurement")
            .field("attributes", &self.attributes)
            .finish_non_exhaustive()
    }
}
