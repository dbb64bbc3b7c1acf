//! End to end over OTLP: the example's three services export, with the
//! batch processor, to an OTLP/gRPC trace receiver on 127.0.0.1 (a tonic
//! server implementing the collector's `TraceService`). The receiver must
//! get exactly the expected spans: one trace per order, parents and
//! children connected across the three services, kinds, names, attributes,
//! error statuses, and each service's name as its resource.

use std::sync::{Arc, Mutex};

use opentelemetry_proto::tonic::{
    collector::trace::v1::{
        ExportTraceServiceRequest, ExportTraceServiceResponse,
        trace_service_server::{TraceService, TraceServiceServer},
    },
    common::v1::{KeyValue, any_value::Value},
    trace::v1::{Span, span::SpanKind, status::StatusCode},
};
use otlp::Services;
use tokio::net::TcpListener;
use tonic::transport::{Server, server::TcpIncoming};

/// A span as received, with its resource's service name.
#[derive(Debug, Clone)]
struct Received {
    service: String,
    span: Span,
}

impl Received {
    fn attribute(&self, key: &str) -> Option<&Value> {
        find(&self.span.attributes, key)
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn trace_id(&self) -> String {
        Self::hex(&self.span.trace_id)
    }

    fn span_id(&self) -> String {
        Self::hex(&self.span.span_id)
    }

    fn parent_id(&self) -> String {
        Self::hex(&self.span.parent_span_id)
    }

    fn is_error(&self) -> bool {
        self.span
            .status
            .as_ref()
            .is_some_and(|s| s.code == StatusCode::Error as i32)
    }
}

fn find<'a>(attributes: &'a [KeyValue], key: &str) -> Option<&'a Value> {
    attributes
        .iter()
        .find(|kv| kv.key == key)
        .and_then(|kv| kv.value.as_ref()?.value.as_ref())
}

#[derive(Default, Clone)]
struct Receiver(Arc<Mutex<Vec<Received>>>);

#[tonic::async_trait]
impl TraceService for Receiver {
    async fn export(
        &self,
        request: tonic::Request<ExportTraceServiceRequest>,
    ) -> Result<tonic::Response<ExportTraceServiceResponse>, tonic::Status> {
        let mut received = self.0.lock().unwrap();
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
                for span in scope.spans {
                    received.push(Received {
                        service: service.clone(),
                        span,
                    });
                }
            }
        }
        Ok(tonic::Response::new(ExportTraceServiceResponse::default()))
    }
}

fn string(value: Option<&Value>) -> Option<&str> {
    match value? {
        Value::StringValue(s) => Some(s),
        _ => None,
    }
}

fn int(value: Option<&Value>) -> Option<i64> {
    match value? {
        Value::IntValue(v) => Some(*v),
        _ => None,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_gets_one_connected_trace_per_order() {
    let receiver = Receiver::default();
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let endpoint = format!("http://{}", listener.local_addr().unwrap());
    let server = tokio::spawn({
        let receiver = receiver.clone();
        async move {
            Server::builder()
                .add_service(TraceServiceServer::new(receiver))
                .serve_with_incoming(TcpIncoming::from(listener))
                .await
                .unwrap();
        }
    });

    let services = Services::start(Some(&endpoint)).await.unwrap();
    let client = reqwest::Client::new();
    let mut trace_ids = Vec::new();
    for (id, status) in [("42", 200), ("missing", 404)] {
        let response = client
            .get(format!("http://{}/orders/{id}", services.frontend))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), status);
        // server-timing: trace;desc=00-{trace-id}-{span-id}-{flags}
        let timing = response.headers()["server-timing"].to_str().unwrap();
        let traceparent = timing.strip_prefix("trace;desc=").unwrap();
        trace_ids.push(traceparent[3..35].to_owned());
        response.text().await.unwrap();
    }
    services.shutdown().await.unwrap();
    server.abort();

    let spans = receiver.0.lock().unwrap().clone();
    assert_eq!(spans.len(), 10, "five spans per order: {spans:#?}");
    for (trace_id, failed) in trace_ids.iter().zip([false, true]) {
        let trace: Vec<_> = spans.iter().filter(|s| s.trace_id() == *trace_id).collect();
        assert_eq!(trace.len(), 5, "{trace_id}: {spans:#?}");
        let by = |service: &str, kind: SpanKind| {
            let found: Vec<_> = trace
                .iter()
                .filter(|s| s.service == service && s.span.kind == kind as i32)
                .collect();
            let [one] = &found[..] else {
                panic!("one {kind:?} span of {service}: {trace:#?}")
            };
            (**one).clone()
        };
        let frontend = by("frontend", SpanKind::Server);
        let frontend_call = by("frontend", SpanKind::Client);
        let catalog = by("catalog", SpanKind::Server);
        let catalog_call = by("catalog", SpanKind::Client);
        let inventory = by("inventory", SpanKind::Server);

        // One tree: each span's parent is the span before it.
        assert!(frontend.span.parent_span_id.is_empty(), "the root");
        assert_eq!(frontend_call.parent_id(), frontend.span_id());
        assert_eq!(catalog.parent_id(), frontend_call.span_id());
        assert_eq!(catalog_call.parent_id(), catalog.span_id());
        assert_eq!(inventory.parent_id(), catalog_call.span_id());

        // Names and semantic-convention attributes.
        assert_eq!(frontend.span.name, "GET /orders/{id}");
        assert_eq!(
            string(frontend.attribute("http.route")),
            Some("/orders/{id}")
        );
        assert_eq!(frontend_call.span.name, "GET");
        assert_eq!(catalog.span.name, "GET /items/{id}");
        assert_eq!(
            string(catalog.attribute("http.request.method")),
            Some("GET")
        );
        assert_eq!(catalog_call.span.name, "inventory.v1.Inventory/GetStock");
        assert_eq!(inventory.span.name, "inventory.v1.Inventory/GetStock");
        for grpc in [&catalog_call, &inventory] {
            assert_eq!(string(grpc.attribute("rpc.system")), Some("grpc"));
            assert_eq!(
                string(grpc.attribute("rpc.service")),
                Some("inventory.v1.Inventory")
            );
            assert_eq!(string(grpc.attribute("rpc.method")), Some("GetStock"));
            assert_eq!(
                int(grpc.attribute("rpc.grpc.status_code")),
                Some(if failed { 5 } else { 0 })
            );
        }
        let code = if failed { 404 } else { 200 };
        for http in [&frontend, &frontend_call, &catalog] {
            assert_eq!(int(http.attribute("http.response.status_code")), Some(code));
        }

        // Statuses: a client span fails on any error; a server span only
        // on its own fault (5xx, or a gRPC server error), not on NOT_FOUND
        // or 404.
        assert_eq!(frontend_call.is_error(), failed, "{frontend_call:#?}");
        assert_eq!(catalog_call.is_error(), failed, "{catalog_call:#?}");
        for server in [&frontend, &catalog, &inventory] {
            assert!(!server.is_error(), "{server:#?}");
        }
        if failed {
            assert_eq!(string(frontend_call.attribute("error.type")), Some("404"));
        }
    }
}
