//! Test support for the examples that export over OTLP: a trace receiver
//! (a tonic server implementing the Collector's `TraceService`) on
//! 127.0.0.1, keeping every span it is sent with its service's name.
//!
//! # Examples
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! let receiver = otlp_receiver::Receiver::start().await?;
//! // Point an exporter at `receiver.endpoint()`, export, shut it down…
//! for span in receiver.spans() {
//!     println!("{} {} {}", span.service, span.trace_id(), span.span.name);
//! }
//! # Ok(())
//! # }
//! ```

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::collector::trace::v1::{
    ExportTraceServiceRequest, ExportTraceServiceResponse,
    trace_service_server::{TraceService, TraceServiceServer},
};
pub use opentelemetry_proto::tonic::{
    common::v1::{KeyValue, any_value::Value},
    trace::v1::{Span, span::SpanKind, status::StatusCode},
};
use tokio::{net::TcpListener, task::JoinHandle};
use tonic::transport::{Server, server::TcpIncoming};

/// A span as received, with its resource's `service.name`.
#[derive(Debug, Clone)]
pub struct Received {
    /// The `service.name` of the span's resource.
    pub service: String,
    /// The span as exported.
    pub span: Span,
}

impl Received {
    /// The value of one of the span's attributes.
    #[must_use]
    pub fn attribute(&self, key: &str) -> Option<&Value> {
        find(&self.span.attributes, key)
    }

    /// A string attribute.
    #[must_use]
    pub fn string(&self, key: &str) -> Option<&str> {
        match self.attribute(key)? {
            Value::StringValue(s) => Some(s),
            _ => None,
        }
    }

    /// An integer attribute.
    #[must_use]
    pub fn int(&self, key: &str) -> Option<i64> {
        match self.attribute(key)? {
            Value::IntValue(v) => Some(*v),
            _ => None,
        }
    }

    /// The trace id, in lowercase hex.
    #[must_use]
    pub fn trace_id(&self) -> String {
        hex(&self.span.trace_id)
    }

    /// The span id, in lowercase hex.
    #[must_use]
    pub fn span_id(&self) -> String {
        hex(&self.span.span_id)
    }

    /// The parent's span id in lowercase hex; empty for a root.
    #[must_use]
    pub fn parent_id(&self) -> String {
        hex(&self.span.parent_span_id)
    }

    /// The span's kind.
    #[must_use]
    pub fn kind(&self) -> SpanKind {
        SpanKind::try_from(self.span.kind).unwrap_or(SpanKind::Unspecified)
    }

    /// Whether the span's status is an error.
    #[must_use]
    pub fn is_error(&self) -> bool {
        self.span
            .status
            .as_ref()
            .is_some_and(|s| s.code == StatusCode::Error as i32)
    }
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

#[derive(Debug, Default, Clone)]
struct Store(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Store {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        self.keep(request.into_inner());
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

impl Store {
    /// Keeps every span of an export request, with its service's name.
    fn keep(&self, export: ExportTraceServiceRequest) {
        let mut received = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for resource_spans in export.resource_spans {
            let service = resource_spans
                .resource
                .as_ref()
                .and_then(|r| find(&r.attributes, "service.name"))
                .map(|v| match v {
                    Value::StringValue(s) => s.clone(),
                    other => format!("{other:?}"),
                })
                .unwrap_or_default();
            for scope in resource_spans.scope_spans {
                received.extend(scope.spans.into_iter().map(|span| Received {
                    service: service.clone(),
                    span,
                }));
            }
        }
    }
}

/// An OTLP/gRPC trace receiver serving on 127.0.0.1 until dropped.
#[derive(Debug)]
pub struct Receiver {
    endpoint: String,
    store: Store,
    server: JoinHandle<()>,
}

impl Receiver {
    /// Starts serving on a port of 127.0.0.1 the system picks. Needs a
    /// tokio runtime.
    pub async fn start() -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("http://{}", listener.local_addr()?);
        Ok(Self::serve_grpc(Server::builder(), listener, endpoint))
    }

    /// Serves the trace service with `builder` on `listener`.
    fn serve_grpc(mut builder: Server, listener: TcpListener, endpoint: String) -> Self {
        let store = Store::default();
        let server = tokio::spawn({
            let store = store.clone();
            async move {
                // The receiver lives as long as the test; an error here
                // shows up as spans missing from `spans()`.
                let _ = builder
                    .add_service(TraceServiceServer::new(store))
                    .serve_with_incoming(TcpIncoming::from(listener))
                    .await;
            }
        });
        Self {
            endpoint,
            store,
            server,
        }
    }

    /// The endpoint for an exporter: `http://127.0.0.1:{port}`.
    #[must_use]
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Every span received so far, in order of arrival.
    #[must_use]
    pub fn spans(&self) -> Vec<Received> {
        self.store
            .0
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

/// A test CA and a server certificate it signed for `127.0.0.1` and
/// `localhost`, all PEM (feature `tls`).
#[cfg(feature = "tls")]
#[derive(Debug, Clone)]
pub struct TestCertificates {
    /// The CA's certificate: what a client trusts.
    pub ca: String,
    /// The server's certificate.
    pub server: String,
    /// The server's private key.
    pub server_key: String,
    /// A client certificate the CA signed, for mutual TLS.
    pub client: String,
    /// The client's private key.
    pub client_key: String,
}

#[cfg(feature = "tls")]
impl TestCertificates {
    /// A new CA, and server and client certificates signed by it.
    ///
    /// # Panics
    ///
    /// When `rcgen` cannot make them.
    #[must_use]
    pub fn new() -> Self {
        use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair};

        let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
        ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
        ca.distinguished_name
            .push(DnType::CommonName, "trace-rs test CA");
        let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
        let leaf = |names: Vec<String>| {
            let key = KeyPair::generate().unwrap();
            let cert = CertificateParams::new(names)
                .unwrap()
                .signed_by(&key, &ca)
                .unwrap();
            (cert.pem(), key.serialize_pem())
        };
        let (server, server_key) = leaf(vec!["127.0.0.1".to_owned(), "localhost".to_owned()]);
        let (client, client_key) = leaf(vec!["client.test".to_owned()]);
        Self {
            ca: ca.pem(),
            server,
            server_key,
            client,
            client_key,
        }
    }
}

#[cfg(feature = "tls")]
impl Default for TestCertificates {
    fn default() -> Self {
        Self::new()
    }
}

#[cfg(feature = "tls")]
impl Receiver {
    /// An OTLP/gRPC receiver over TLS with `certificates`' server identity:
    /// its endpoint is `https://127.0.0.1:{port}`. With `mutual`, it asks
    /// for a client certificate signed by the test CA.
    pub async fn start_grpc_tls(
        certificates: &TestCertificates,
        mutual: bool,
    ) -> std::io::Result<Self> {
        use tonic::transport::{Certificate, Identity, ServerTlsConfig};

        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("https://{}", listener.local_addr()?);
        let mut tls = ServerTlsConfig::new().identity(Identity::from_pem(
            &certificates.server,
            &certificates.server_key,
        ));
        if mutual {
            tls = tls.client_ca_root(Certificate::from_pem(&certificates.ca));
        }
        let builder = Server::builder()
            .tls_config(tls)
            .map_err(std::io::Error::other)?;
        Ok(Self::serve_grpc(builder, listener, endpoint))
    }

    /// An OTLP/HTTP (protobuf) receiver over TLS: `POST /v1/traces` at
    /// `https://127.0.0.1:{port}`; the endpoint given is that URL whole.
    pub async fn start_http_tls(certificates: &TestCertificates) -> std::io::Result<Self> {
        use std::sync::Arc as StdArc;

        use http_body_util::BodyExt as _;
        use hyper::{Response, StatusCode, body::Incoming, service::service_fn};
        use hyper_util::rt::TokioIo;
        use prost::Message as _;
        use tokio_rustls::{
            TlsAcceptor,
            rustls::{
                ServerConfig,
                pki_types::{CertificateDer, PrivateKeyDer, pem::PemObject as _},
            },
        };

        let certs = CertificateDer::pem_slice_iter(certificates.server.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(std::io::Error::other)?;
        let key = PrivateKeyDer::from_pem_slice(certificates.server_key.as_bytes())
            .map_err(std::io::Error::other)?;
        let config = ServerConfig::builder_with_provider(StdArc::new(
            tokio_rustls::rustls::crypto::aws_lc_rs::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(std::io::Error::other)?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(std::io::Error::other)?;
        let acceptor = TlsAcceptor::from(StdArc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let endpoint = format!("https://{}/v1/traces", listener.local_addr()?);
        let store = Store::default();
        let server = tokio::spawn({
            let store = store.clone();
            async move {
                while let Ok((stream, _)) = listener.accept().await {
                    let (acceptor, store) = (acceptor.clone(), store.clone());
                    tokio::spawn(async move {
                        let Ok(stream) = acceptor.accept(stream).await else {
                            return;
                        };
                        let service = service_fn(move |request: hyper::Request<Incoming>| {
                            let store = store.clone();
                            async move {
                                let ok = request.uri().path() == "/v1/traces";
                                let body = request.into_body().collect().await?.to_bytes();
                                let status = match ExportTraceServiceRequest::decode(body) {
                                    Ok(export) if ok => {
                                        store.keep(export);
                                        StatusCode::OK
                                    }
                                    _ => StatusCode::BAD_REQUEST,
                                };
                                let reply = ExportTraceServiceResponse::default().encode_to_vec();
                                let mut response = Response::new(http_body_util::Full::new(
                                    hyper::body::Bytes::from(reply),
                                ));
                                *response.status_mut() = status;
                                response.headers_mut().insert(
                                    "content-type",
                                    hyper::header::HeaderValue::from_static(
                                        "application/x-protobuf",
                                    ),
                                );
                                Ok::<_, hyper::Error>(response)
                            }
                        });
                        let _ = hyper::server::conn::http1::Builder::new()
                            .serve_connection(TokioIo::new(stream), service)
                            .await;
                    });
                }
            }
        });
        Ok(Self {
            endpoint,
            store,
            server,
        })
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
