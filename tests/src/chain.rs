//! The F (HTTP) -> A (HTTP) -> B (gRPC) -> C (HTTP) chain the
//! cross-protocol tests run, with the recorder of their choice.

use std::{future::Future, net::SocketAddr, pin::Pin, sync::Arc, time::Duration};

use axum::{Router, extract::State, routing::get};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
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

/// The servers of a chain: each stops when `stop` says so, and
/// [`Servers::stop`] waits until every one has, so that every span the
/// chain makes has ended.
#[derive(Default)]
struct Servers {
    stop: Option<watch::Sender<bool>>,
    running: Vec<JoinHandle<()>>,
}

impl Servers {
    /// A future that completes when the servers are told to stop.
    fn stopped(&mut self) -> impl Future<Output = ()> + Send + 'static {
        let mut rx = self
            .stop
            .get_or_insert_with(|| watch::channel(false).0)
            .subscribe();
        async move {
            let _ = rx.wait_for(|stop| *stop).await;
        }
    }

    fn http(&mut self, listener: TcpListener, app: Router) {
        let stopped = self.stopped();
        self.running.push(tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(stopped)
                .await
                .unwrap();
        }));
    }

    async fn stop(mut self) {
        if let Some(stop) = self.stop.take() {
            stop.send_replace(true);
        }
        for server in self.running {
            tokio::time::timeout(Duration::from_secs(10), server)
                .await
                .expect("the server stops within 10 s")
                .unwrap();
        }
    }
}

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

/// Runs F -> A -> B -> C once, each recording with `recorder(service)`:
/// seven spans (a server span in each, a client span in F, A and B). When
/// it returns, every server has shut down: every span has ended.
pub async fn run_chain(recorder: impl Fn(&'static str) -> Arc<dyn Recorder>) {
    let mut servers = Servers::default();
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
    servers.http(listener, c);

    // B: gRPC, calls C over HTTP.
    let (listener, b_addr) = listen().await;
    let relay = Relay {
        client: ClientBuilder::new(reqwest::Client::new())
            .with(TraceMiddleware::new().recorder(recorder("b")))
            .build(),
        url: format!("http://{c_addr}/c"),
    };
    let b_layer = TraceContextLayer::new_for_grpc().recorder(recorder("b"));
    let stopped = servers.stopped();
    servers.running.push(tokio::spawn(async move {
        Server::builder()
            .layer(b_layer)
            .add_service(EchoServer::new(relay))
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), stopped)
            .await
            .unwrap();
    }));

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
    servers.http(listener, a);

    // F: HTTP, the front, calls A over HTTP.
    let (listener, f_addr) = listen().await;
    let to_a = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new().recorder(recorder("f")))
        .build();
    let a_url = format!("http://{a_addr}/a");
    let f = Router::new()
        .route(
            "/f",
            get(
                move || async move { to_a.get(&a_url).send().await.unwrap().text().await.unwrap() },
            ),
        )
        .layer(TraceContextLayer::new().recorder(recorder("f")));
    servers.http(listener, f);

    let body = reqwest::Client::new()
        .get(format!("http://{f_addr}/f"))
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
    servers.stop().await;
}
