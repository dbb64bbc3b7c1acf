//! A unary gRPC call over loopback (a real tonic server and client on
//! 127.0.0.1), side by side in one run: without the layers; with the server
//! layer and the client layer in propagation-only mode; and with both
//! recording into the in-memory recorder. Every call is made inside a trace
//! context, so the layers have something to propagate.
//!
//! Run with: `cargo bench -p trace-tonic --bench unary`

use std::{net::SocketAddr, pin::Pin};

use criterion::{Criterion, criterion_group, criterion_main};
use tokio::net::TcpListener;
use tokio_stream::Stream;
use tonic::{
    Request, Response, Status, Streaming,
    transport::{Channel, Endpoint, Server, server::TcpIncoming},
};
use tower::ServiceBuilder;
use trace_core::{FutureExt, InMemoryRecorder, TraceContext};
use trace_tonic::GrpcClientLayer;
use trace_tonic_testproto::{
    EchoReply, EchoRequest,
    echo_client::EchoClient,
    echo_server::{Echo, EchoServer},
};
use trace_tower::TraceContextLayer;

struct Service;

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

#[tonic::async_trait]
impl Echo for Service {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        Ok(Response::new(EchoReply {
            message: request.into_inner().message,
            ..EchoReply::default()
        }))
    }

    type ServerStreamStream = ReplyStream;

    async fn server_stream(
        &self,
        _: Request<EchoRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        Err(Status::unimplemented("not benchmarked"))
    }

    async fn client_stream(
        &self,
        _: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoReply>, Status> {
        Err(Status::unimplemented("not benchmarked"))
    }
}

async fn serve<M>(layer: Option<TraceContextLayer<M>>) -> SocketAddr
where
    M: trace_tower::mode::Mode,
    M::Body<tonic::body::Body>: Send,
{
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let incoming = TcpIncoming::from(listener);
    tokio::spawn(async move {
        match layer {
            Some(layer) => {
                Server::builder()
                    .layer(layer)
                    .add_service(EchoServer::new(Service))
                    .serve_with_incoming(incoming)
                    .await
            }
            None => {
                Server::builder()
                    .add_service(EchoServer::new(Service))
                    .serve_with_incoming(incoming)
                    .await
            }
        }
        .unwrap();
    });
    addr
}

fn channel(addr: SocketAddr) -> Channel {
    Endpoint::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect_lazy()
}

fn unary(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let recorder = InMemoryRecorder::new(1024);
    let (bare, propagating, recording) =
        runtime.block_on(async {
            let bare = EchoClient::new(channel(
                serve::<trace_tower::mode::PropagationOnly>(None).await,
            ));
            let propagating =
                EchoClient::new(ServiceBuilder::new().layer(GrpcClientLayer::new()).service(
                    channel(serve(Some(TraceContextLayer::new_for_grpc())).await),
                ));
            let recording = EchoClient::new(
                ServiceBuilder::new()
                    .layer(GrpcClientLayer::new().recorder(recorder.clone()))
                    .service(channel(
                        serve(Some(
                            TraceContextLayer::new_for_grpc().recorder(recorder.clone()),
                        ))
                        .await,
                    )),
            );
            (bare, propagating, recording)
        });
    let cx = TraceContext::new_root(true);
    let mut g = c.benchmark_group("grpc-unary-loopback");
    g.bench_function("no-layers", |b| {
        b.to_async(&runtime).iter(|| {
            let mut client = bare.clone();
            async move {
                client
                    .unary(EchoRequest {
                        message: "hi".into(),
                    })
                    .await
                    .unwrap()
            }
            .with_trace_context(cx.clone())
        });
    });
    g.bench_function("both-layers/propagation-only", |b| {
        b.to_async(&runtime).iter(|| {
            let mut client = propagating.clone();
            async move {
                client
                    .unary(EchoRequest {
                        message: "hi".into(),
                    })
                    .await
                    .unwrap()
            }
            .with_trace_context(cx.clone())
        });
    });
    g.bench_function("both-layers/in-memory-recorder", |b| {
        b.to_async(&runtime).iter(|| {
            let mut client = recording.clone();
            async move {
                client
                    .unary(EchoRequest {
                        message: "hi".into(),
                    })
                    .await
                    .unwrap()
            }
            .with_trace_context(cx.clone())
        });
    });
    g.finish();
}

criterion_group!(benches, unary);
criterion_main!(benches);
