//! Every format over HTTP/2: a reqwest client (`http2_prior_knowledge`)
//! calls a server served as h2c by hyper-util's auto builder, whose handler
//! calls another such server, and a tonic client calls a tonic server; each
//! writes one format (W3C, B3, B3 multi-header, Jaeger) and each server reads
//! them all. One trace per call chain, every parent the span that called
//! it, the baggage kept, and `network.protocol.version` `2`.

use std::{net::SocketAddr, pin::Pin, sync::Arc};

use axum::{Router, extract::State, http::HeaderMap, routing::get};
use hyper_util::{
    rt::{TokioExecutor, TokioIo},
    server::conn::auto::Builder,
    service::TowerToHyperService,
};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::net::TcpListener;
use tokio_stream::Stream;
use tonic::{
    Request, Response, Status, Streaming,
    transport::{Endpoint, Server, server::TcpIncoming},
};
use tower::ServiceBuilder;
use trace_core::{
    Baggage, FinishedSpan, InMemoryRecorder, Propagator, Recorder, SpanKind, TraceContext, Value,
    propagation::Format,
};
use trace_reqwest::TraceMiddleware;
use trace_tonic::GrpcClientLayer;
use trace_tonic_testproto::{
    EchoReply, EchoRequest,
    echo_client::EchoClient,
    echo_server::{Echo, EchoServer},
};
use trace_tower::TraceContextLayer;

const FORMATS: [Format; 4] = [
    Format::TraceContext,
    Format::B3,
    Format::B3Multi,
    Format::Jaeger,
];

/// What a server reads: every format, and W3C baggage.
fn reads_all() -> Propagator {
    Propagator::from_env_value(Some("tracecontext,baggage,b3,b3multi,jaeger")).unwrap()
}

/// What a client writes: one format, and W3C baggage.
fn writes(format: Format) -> Propagator {
    Propagator::default().with_formats([format, Format::Baggage])
}

/// Serves `app` as HTTP/1.1 and h2c on 127.0.0.1, with hyper-util's auto
/// builder, until the runtime ends.
async fn serve_h2c(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = TowerToHyperService::new(app.clone());
            tokio::spawn(async move {
                let _ = Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    addr
}

fn h2_client(format: Format, recorder: &InMemoryRecorder) -> ClientWithMiddleware {
    let client = reqwest::Client::builder()
        .http2_prior_knowledge()
        .build()
        .unwrap();
    ClientBuilder::new(client)
        .with(
            TraceMiddleware::new()
                .propagator(writes(format))
                .recorder(recorder.clone()),
        )
        .build()
}

fn attribute<'a>(span: &'a FinishedSpan, key: &str) -> Option<&'a Value<'static>> {
    span.attribute(key)
}

fn version(span: &FinishedSpan) -> Option<&Value<'static>> {
    attribute(span, "network.protocol.version")
}

#[tokio::test]
async fn reqwest_to_h2c_servers_in_every_format() {
    for format in FORMATS {
        let store = InMemoryRecorder::new(64);
        // D: the far server, reports what reached it.
        let d = serve_h2c(
            Router::new()
                .route(
                    "/d",
                    get(|headers: HeaderMap, baggage: Baggage| async move {
                        let names: Vec<_> = headers.keys().map(|n| n.as_str().to_owned()).collect();
                        format!(
                            "{} {}",
                            names.join(","),
                            baggage.get("tenant").unwrap_or_default()
                        )
                    }),
                )
                .layer(
                    TraceContextLayer::new()
                        .propagator(reads_all())
                        .recorder(store.service("d")),
                ),
        )
        .await;
        // S: calls D over HTTP/2 in the same format.
        let to_d = h2_client(format, &store.service("s"));
        let url = format!("http://{d}/d");
        let s = serve_h2c(
            Router::new()
                .route(
                    "/s",
                    get(
                        |State((client, url)): State<(ClientWithMiddleware, String)>| async move {
                            client.get(&url).send().await.unwrap().text().await.unwrap()
                        },
                    ),
                )
                .with_state((to_d, url))
                .layer(
                    TraceContextLayer::new()
                        .propagator(reads_all())
                        .recorder(store.service("s")),
                ),
        )
        .await;

        let client = h2_client(format, &store.service("c"));
        let root = TraceContext::new_root(true).with_baggage("tenant=acme".parse().unwrap());
        let body = trace_core::FutureExt::with_trace_context(
            async { client.get(format!("http://{s}/s")).send().await.unwrap() },
            root.clone(),
        )
        .await;
        assert_eq!(body.version(), axum::http::Version::HTTP_2, "{format:?}");
        let body = body.text().await.unwrap();
        let (names, tenant) = body.split_once(' ').unwrap();
        assert_eq!(tenant, "acme", "{format:?}: baggage kept");
        let expected = match format {
            Format::TraceContext => "traceparent",
            Format::B3 => "b3",
            Format::B3Multi => "x-b3-traceid",
            _ => "uber-trace-id",
        };
        assert!(
            names.split(',').any(|n| n == expected),
            "{format:?}: {names}"
        );

        let spans = store.finished();
        let one = |service: &str, kind: SpanKind| {
            spans
                .iter()
                .find(|s| s.service.as_deref() == Some(service) && s.kind == kind)
                .unwrap_or_else(|| panic!("{format:?}: {service} {kind:?} in {spans:#?}"))
                .clone()
        };
        let (c, s_server, s_client, d_server) = (
            one("c", SpanKind::Client),
            one("s", SpanKind::Server),
            one("s", SpanKind::Client),
            one("d", SpanKind::Server),
        );
        assert!(
            [&c, &s_server, &s_client, &d_server]
                .iter()
                .all(|s| s.trace_id == root.trace_id()),
            "{format:?}: one trace"
        );
        assert_eq!(c.parent_span_id, Some(root.span_id()));
        assert_eq!(s_server.parent_span_id, Some(c.span_id), "{format:?}");
        assert_eq!(
            s_client.parent_span_id,
            Some(s_server.span_id),
            "{format:?}"
        );
        assert_eq!(
            d_server.parent_span_id,
            Some(s_client.span_id),
            "{format:?}"
        );
        for span in [&c, &s_server, &s_client, &d_server] {
            assert_eq!(
                version(span),
                Some(&Value::from("2")),
                "{format:?}: {} {:?}",
                span.name,
                span.kind
            );
        }
    }
}

/// The gRPC service: says which trace headers reached it.
struct Headers;

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

#[tonic::async_trait]
impl Echo for Headers {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        let names: Vec<_> = request
            .metadata()
            .keys()
            .map(|key| match key {
                tonic::metadata::KeyRef::Ascii(key) => key.as_str().to_owned(),
                tonic::metadata::KeyRef::Binary(key) => key.as_str().to_owned(),
            })
            .collect();
        Ok(Response::new(EchoReply {
            message: names.join(","),
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

#[tokio::test]
async fn tonic_in_every_format() {
    for format in FORMATS {
        let store = InMemoryRecorder::new(16);
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let layer = TraceContextLayer::new_for_grpc()
            .propagator(reads_all())
            .recorder(store.service("server"));
        let server = tokio::spawn(async move {
            Server::builder()
                .layer(layer)
                .add_service(EchoServer::new(Headers))
                .serve_with_incoming(TcpIncoming::from(listener))
                .await
                .unwrap();
        });
        let channel = Endpoint::from_shared(format!("http://{addr}"))
            .unwrap()
            .connect_lazy();
        let recorder: Arc<dyn Recorder> = Arc::new(store.service("client"));
        let mut client = EchoClient::new(
            ServiceBuilder::new()
                .layer(
                    GrpcClientLayer::new()
                        .propagator(writes(format))
                        .recorder(recorder),
                )
                .service(channel),
        );
        let root = TraceContext::new_root(true);
        let names = trace_core::FutureExt::with_trace_context(
            async {
                client
                    .unary(EchoRequest::default())
                    .await
                    .unwrap()
                    .into_inner()
                    .message
            },
            root.clone(),
        )
        .await;
        let expected = match format {
            Format::TraceContext => "traceparent",
            Format::B3 => "b3",
            Format::B3Multi => "x-b3-traceid",
            _ => "uber-trace-id",
        };
        assert!(
            names.split(',').any(|n| n == expected),
            "{format:?}: {names}"
        );
        let spans = trace_core_wait(&store, 2).await;
        let client_span = spans.iter().find(|s| s.kind == SpanKind::Client).unwrap();
        let server_span = spans.iter().find(|s| s.kind == SpanKind::Server).unwrap();
        assert_eq!(client_span.trace_id, root.trace_id(), "{format:?}");
        assert_eq!(server_span.trace_id, root.trace_id(), "{format:?}");
        assert_eq!(
            server_span.parent_span_id,
            Some(client_span.span_id),
            "{format:?}"
        );
        assert_eq!(version(server_span), Some(&Value::from("2")), "{format:?}");
        server.abort();
    }
}

/// The finished spans once there are `count` (the server's ends when its
/// response body has been sent, after the client has read it).
async fn trace_core_wait(store: &InMemoryRecorder, count: usize) -> Vec<FinishedSpan> {
    end_to_end::serve::wait_for(|| {
        let spans = store.finished();
        (spans.len() >= count).then_some(spans)
    })
    .await
}
