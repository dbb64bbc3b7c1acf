//! The layers' hooks: attributes from the request and from the response
//! on the server layer (HTTP and gRPC), the reqwest middleware and the
//! gRPC client layer; and `url.template` naming a client span
//! `{method} {url.template}`.

use std::pin::Pin;

use axum::{Router, routing::get};
use end_to_end::serve::{serve, wait_for};
use reqwest_middleware::ClientBuilder;
use tokio::net::TcpListener;
use tokio_stream::Stream;
use tonic::{
    Request, Response, Status, Streaming,
    transport::{Endpoint, Server, server::TcpIncoming},
};
use tower::ServiceBuilder;
use trace_core::{
    InMemoryRecorder, RequestInfo, SpanKind, SpanRef, Value,
    instrument::{ResponseInfo, UrlTemplate},
};
use trace_reqwest::TraceMiddleware;
use trace_tonic::GrpcClientLayer;
use trace_tonic_testproto::{
    EchoReply, EchoRequest,
    echo_client::EchoClient,
    echo_server::{Echo, EchoServer},
};
use trace_tower::TraceContextLayer;

fn tenant(request: &RequestInfo<'_>, span: &SpanRef) {
    if let Some(tenant) = request
        .headers
        .get("x-tenant")
        .and_then(|v| v.to_str().ok())
    {
        span.set_attribute("tenant.id", tenant.to_owned());
    }
}

fn served_by(response: &ResponseInfo<'_>, span: &SpanRef) {
    if let Some(by) = response
        .headers
        .get("x-served-by")
        .and_then(|v| v.to_str().ok())
    {
        span.set_attribute("served_by", by.to_owned());
    }
}

struct Echoing;

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

#[tonic::async_trait]
impl Echo for Echoing {
    async fn unary(&self, _: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let mut response = Response::new(EchoReply::default());
        response
            .metadata_mut()
            .insert("x-served-by", "grpc-1".parse().unwrap());
        Ok(response)
    }

    type ServerStreamStream = ReplyStream;

    async fn server_stream(
        &self,
        _: Request<EchoRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        Err(Status::unimplemented("not used here"))
    }

    async fn client_stream(
        &self,
        _: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoReply>, Status> {
        Err(Status::unimplemented("not used here"))
    }
}

#[tokio::test]
async fn hooks_and_url_templates() {
    let store = InMemoryRecorder::new(64);

    // An HTTP server with both hooks.
    let app = Router::new()
        .route(
            "/users/{id}",
            get(|| async { ([("x-served-by", "http-1")], "ok") }),
        )
        .layer(
            TraceContextLayer::new()
                .on_request(tenant)
                .on_response(served_by)
                .recorder(store.service("users")),
        );
    let http = serve(app).await;

    // A gRPC server with both hooks.
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let grpc = listener.local_addr().unwrap();
    let layer = TraceContextLayer::new_for_grpc()
        .on_request(tenant)
        .on_response(served_by)
        .recorder(store.service("echo"));
    tokio::spawn(async move {
        Server::builder()
            .layer(layer)
            .add_service(EchoServer::new(Echoing))
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .unwrap();
    });

    // The clients, with both hooks too.
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(
            TraceMiddleware::new()
                .on_request(tenant)
                .on_response(served_by)
                .recorder(store.service("caller")),
        )
        .build();
    for id in [7, 8] {
        let response = client
            .get(format!("http://{http}/users/{id}"))
            .header("x-tenant", "acme")
            .with_extension(UrlTemplate::new("/users/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), "ok");
    }
    let untemplated = client
        .get(format!("http://{http}/users/9"))
        .send()
        .await
        .unwrap();
    untemplated.text().await.unwrap();

    let channel = Endpoint::from_shared(format!("http://{grpc}"))
        .unwrap()
        .connect_lazy();
    let mut echo = EchoClient::new(
        ServiceBuilder::new()
            .layer(
                GrpcClientLayer::new()
                    .on_request(tenant)
                    .on_response(served_by)
                    .recorder(store.service("caller")),
            )
            .service(channel),
    );
    let mut request = Request::new(EchoRequest::default());
    request
        .metadata_mut()
        .insert("x-tenant", "acme".parse().unwrap());
    echo.unary(request).await.unwrap();

    let spans = wait_for(|| {
        let spans = store.finished();
        (spans.len() >= 8).then_some(spans)
    })
    .await;
    let acme = Value::from("acme");
    let templated: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "GET /users/{id}" && s.kind == SpanKind::Client)
        .collect();
    assert_eq!(templated.len(), 2, "{spans:#?}");
    for span in &templated {
        assert_eq!(
            span.attribute("url.template"),
            Some(&Value::from("/users/{id}"))
        );
        assert_eq!(
            span.attribute("tenant.id"),
            Some(&acme),
            "the client's request hook"
        );
        assert_eq!(
            span.attribute("served_by"),
            Some(&Value::from("http-1")),
            "the client's response hook"
        );
    }
    let plain = spans
        .iter()
        .find(|s| s.kind == SpanKind::Client && s.name == "GET")
        .expect("no template: GET");
    assert_eq!(plain.attribute("url.template"), None);
    assert_eq!(
        plain.attribute("tenant.id"),
        None,
        "no header, no attribute"
    );

    let servers: Vec<_> = spans
        .iter()
        .filter(|s| s.name == "GET /users/{id}" && s.kind == SpanKind::Server)
        .collect();
    assert_eq!(servers.len(), 3);
    assert!(
        servers
            .iter()
            .all(|s| s.attribute("served_by") == Some(&Value::from("http-1")))
    );
    assert_eq!(
        servers
            .iter()
            .filter(|s| s.attribute("tenant.id") == Some(&acme))
            .count(),
        2
    );

    let grpc_server = spans
        .iter()
        .find(|s| s.kind == SpanKind::Server && s.name == "echo.v1.Echo/Unary")
        .expect("the gRPC server span");
    assert_eq!(
        grpc_server.attribute("tenant.id"),
        Some(&acme),
        "the gRPC server's request hook"
    );
    assert_eq!(
        grpc_server.attribute("served_by"),
        Some(&Value::from("grpc-1")),
        "the gRPC server's response hook"
    );
    let grpc_client = spans
        .iter()
        .find(|s| s.kind == SpanKind::Client && s.name == "echo.v1.Echo/Unary")
        .expect("the gRPC client span");
    assert_eq!(
        grpc_client.attribute("tenant.id"),
        Some(&acme),
        "the gRPC client's request hook"
    );
    assert_eq!(
        grpc_client.attribute("served_by"),
        Some(&Value::from("grpc-1")),
        "the gRPC client's response hook"
    );
}
