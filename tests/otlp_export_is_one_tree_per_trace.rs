//! End to end over OTLP: the example's three services export, with the
//! batch processor, to an OTLP/gRPC trace receiver on 127.0.0.1 (a tonic
//! server implementing the collector's `TraceService`). The receiver must
//! get exactly the expected spans: one trace per order, parents and
//! children connected across the three services, kinds, names, attributes,
//! error statuses, and each service's name as its resource.

use otlp::Services;
use otlp_receiver::{Receiver, SpanKind};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_receiver_gets_one_connected_trace_per_order() {
    let receiver = Receiver::start().await.unwrap();
    let endpoint = receiver.endpoint().to_owned();
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

    let spans = receiver.spans();
    assert_eq!(spans.len(), 10, "five spans per order: {spans:#?}");
    for (trace_id, failed) in trace_ids.iter().zip([false, true]) {
        let trace: Vec<_> = spans.iter().filter(|s| s.trace_id() == *trace_id).collect();
        assert_eq!(trace.len(), 5, "{trace_id}: {spans:#?}");
        let by = |service: &str, kind: SpanKind| {
            let found: Vec<_> = trace
                .iter()
                .filter(|s| s.service == service && s.kind() == kind)
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
        assert_eq!(frontend.string("http.route"), Some("/orders/{id}"));
        assert_eq!(frontend_call.span.name, "GET");
        assert_eq!(catalog.span.name, "GET /items/{id}");
        assert_eq!(catalog.string("http.request.method"), Some("GET"));
        assert_eq!(catalog_call.span.name, "inventory.v1.Inventory/GetStock");
        assert_eq!(inventory.span.name, "inventory.v1.Inventory/GetStock");
        for grpc in [&catalog_call, &inventory] {
            assert_eq!(grpc.string("rpc.system"), Some("grpc"));
            assert_eq!(grpc.string("rpc.service"), Some("inventory.v1.Inventory"));
            assert_eq!(grpc.string("rpc.method"), Some("GetStock"));
            assert_eq!(
                grpc.int("rpc.grpc.status_code"),
                Some(if failed { 5 } else { 0 })
            );
        }
        let code = if failed { 404 } else { 200 };
        for http in [&frontend, &frontend_call, &catalog] {
            assert_eq!(http.int("http.response.status_code"), Some(code));
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
            assert_eq!(frontend_call.string("error.type"), Some("404"));
        }
    }
}
