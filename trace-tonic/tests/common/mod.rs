//! The A (HTTP) -> B (gRPC) -> C (HTTP) chain the cross-protocol tests
//! run, with the recorder of their choice.

#![allow(dead_code, unreachable_pub)]

use std::{net::SocketAddr, pin::Pin, sync::Arc};

use axum::{Router, extract::State, routing::get};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::net::TcpListener;
use tokio_stream::Stream;
use tonic::{
    Request, Response, Status, Streaming,
    transport::{Endpoint, Server, server::TcpIncoming},
};
use tower::ServiceBuilder;
use trace_core::{Baggage, CorrelationId, Recorder};
use trace_reqwest::TraceMiddleware;
use trace_tonic::GrpcClientLayer;
use trace_tonic_testproto::{
    EchoReply, EchoRequest,
    echo_client::EchoClient,
    echo_server::{Echo, EchoServer},
};
use trace_tower::TraceContextLayer;

async fn listen() -> (TcpListener, SocketAddr) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    (listener, addr)
}

/// The gRPC service: relays to the HTTP service C.
struct Relay {
    client: ClientWithMiddleware,
    url: String,
}

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

#[tonic::async_trait]
impl Echo for Relay {
    async fn unary(&self, _: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let body = self
            .client
            .get(&self.url)
            .send()
            .await
            .map_err(|e| Status::unavailable(e.to_string()))?
            .text()
            .await
            .map_err(|e| Status::internal(e.to_string()))?;
        Ok(Response::new(EchoReply {
            message: body,
            ..EchoReply::default()
        }))
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

/// Runs A -> B -> C once, each recording with `recorder(service)`.
pub async fn run_chain(recorder: impl Fn(&'static str) -> Arc<dyn Recorder>) {
    // C: HTTP, reports what reached it.
    let (listener, c_addr) = listen().await;
    let c = Router::new()
        .route(
            "/c",
            get(|id: CorrelationId, baggage: Baggage| async move {
                format!("{id} {}", baggage.get("userId").unwrap_or_default())
            }),
        )
        .layer(TraceContextLayer::new().recorder(recorder("c")));
    tokio::spawn(async move { axum::serve(listener, c).await.unwrap() });

    // B: gRPC, calls C over HTTP.
    let (listener, b_addr) = listen().await;
    let relay = Relay {
        client: ClientBuilder::new(reqwest::Client::new())
            .with(TraceMiddleware::new().recorder(recorder("b")))
            .build(),
        url: format!("http://{c_addr}/c"),
    };
    let b_layer = TraceContextLayer::new_for_grpc().recorder(recorder("b"));
    tokio::spawn(async move {
        Server::builder()
            .layer(b_layer)
            .add_service(EchoServer::new(relay))
            .serve_with_incoming(TcpIncoming::from(listener))
            .await
            .unwrap();
    });

    // A: HTTP, calls B over gRPC.
    let (listener, a_addr) = listen().await;
    let channel = Endpoint::from_shared(format!("http://{b_addr}"))
        .unwrap()
        .connect_lazy();
    let grpc = EchoClient::new(
        ServiceBuilder::new()
            .layer(GrpcClientLayer::new().recorder(recorder("a")))
            .service(channel),
    );
    async fn call_b(
        State(mut grpc): State<EchoClient<trace_tonic::GrpcClient<tonic::transport::Channel>>>,
    ) -> String {
        grpc.unary(EchoRequest::default())
            .await
            .unwrap()
            .into_inner()
            .message
    }
    let a = Router::new()
        .route("/a", get(call_b))
        .with_state(grpc)
        .layer(TraceContextLayer::new().recorder(recorder("a")));
    tokio::spawn(async move { axum::serve(listener, a).await.unwrap() });

    let body = reqwest::Client::new()
        .get(format!("http://{a_addr}/a"))
        .header("x-request-id", "req-across-protocols")
        .header("baggage", "userId=alice")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        body, "req-across-protocols alice",
        "correlation ID and baggage reach C"
    );
}
