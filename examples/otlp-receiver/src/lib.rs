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
        let mut received = self.0.lock().unwrap_or_else(|e| e.into_inner());
        for resource_spans in request.into_inner().resource_spans {
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
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
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
        let store = Store::default();
        let server = tokio::spawn({
            let store = store.clone();
            async move {
                // The receiver lives as long as the test; an error here
                // shows up as spans missing from `spans()`.
                let _ = Server::builder()
                    .add_service(TraceServiceServer::new(store))
                    .serve_with_incoming(TcpIncoming::from(listener))
                    .await;
            }
        });
        Ok(Self {
            endpoint,
            store,
            server,
        })
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

impl Drop for Receiver {
    fn drop(&mut self) {
        self.server.abort();
    }
}
