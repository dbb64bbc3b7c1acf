//! A real tonic server and client on 127.0.0.1: the interceptor carries the
//! caller's trace, baggage and correlation ID in the metadata, and the
//! server side (trace-tower's layer, as a tonic server layer) makes it
//! current in the service method, for unary and streaming calls, with
//! errors and hostile metadata.

use std::{net::SocketAddr, pin::Pin};

use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use tokio_stream::{Stream, StreamExt};
use tonic::{
    Code, Request, Response, Status, Streaming,
    metadata::{BinaryMetadataValue, MetadataValue},
    service::interceptor::InterceptedService,
    transport::{Channel, Endpoint, Server, server::TcpIncoming},
};
use trace_core::{
    FinishedSpan, FutureExt, InMemoryRecorder, SpanKind, TraceContext, Value, semconv,
};
use trace_tonic::{RequestExt, TraceInterceptor};
use trace_tonic_testproto::{
    EchoReply, EchoRequest,
    echo_client::EchoClient,
    echo_server::{Echo, EchoServer},
};

/// What the service method saw.
fn reply(message: &str) -> EchoReply {
    let cx = TraceContext::current().expect("the layer made the context current");
    EchoReply {
        message: message.to_owned(),
        trace_id: cx.trace_id().to_string(),
        span_id: cx.span_id().to_string(),
        parent_span_id: cx
            .parent_span_id()
            .map(|p| p.to_string())
            .unwrap_or_default(),
        correlation_id: cx
            .correlation_id()
            .map(ToString::to_string)
            .unwrap_or_default(),
        baggage: cx
            .baggage()
            .header_value()
            .map(|v| v.to_str().unwrap().to_owned())
            .unwrap_or_default(),
    }
}

struct Service;

type ReplyStream = Pin<Box<dyn Stream<Item = Result<EchoReply, Status>> + Send>>;

#[tonic::async_trait]
impl Echo for Service {
    async fn unary(&self, request: Request<EchoRequest>) -> Result<Response<EchoReply>, Status> {
        // The request carries the same context as the current scope.
        let from_request = request.trace_context().map(TraceContext::span_id);
        assert_eq!(from_request, TraceContext::current().map(|cx| cx.span_id()));
        match request.into_inner().message.as_str() {
            "not_found" => Err(Status::not_found("no such thing")),
            "internal" => Err(Status::internal("broken")),
            message => Ok(Response::new(reply(message))),
        }
    }

    type ServerStreamStream = ReplyStream;

    async fn server_stream(
        &self,
        _: Request<EchoRequest>,
    ) -> Result<Response<ReplyStream>, Status> {
        // Two messages, then a failure carried in the trailers.
        let first = reply("one");
        let second = reply("two");
        let stream =
            tokio_stream::iter([Ok(first), Ok(second), Err(Status::internal("after two"))]);
        Ok(Response::new(Box::pin(stream)))
    }

    async fn client_stream(
        &self,
        request: Request<Streaming<EchoRequest>>,
    ) -> Result<Response<EchoReply>, Status> {
        let mut stream = request.into_inner();
        let mut messages = Vec::new();
        while let Some(message) = stream.next().await {
            messages.push(message?.message);
        }
        Ok(Response::new(reply(&messages.join(","))))
    }
}

struct Running {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    handle: JoinHandle<()>,
}

async fn start() -> Running {
    start_recording(&InMemoryRecorder::new(64)).await
}

async fn start_recording(recorder: &InMemoryRecorder) -> Running {
    let layer = trace_tonic::server_layer().recorder(recorder.clone());
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let (shutdown, rx) = oneshot::channel::<()>();
    let handle = tokio::spawn(async move {
        Server::builder()
            .layer(layer)
            .add_service(EchoServer::new(Service))
            .serve_with_incoming_shutdown(TcpIncoming::from(listener), async {
                let _ = rx.await;
            })
            .await
            .unwrap();
    });
    Running {
        addr,
        shutdown,
        handle,
    }
}

impl Running {
    fn client(&self) -> EchoClient<InterceptedService<Channel, TraceInterceptor>> {
        let channel = Endpoint::from_shared(format!("http://{}", self.addr))
            .unwrap()
            .connect_lazy();
        EchoClient::with_interceptor(channel, TraceInterceptor::new())
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.handle.await.unwrap();
    }
}

fn caller() -> TraceContext {
    TraceContext::new_root(true)
        .with_correlation_id("req-grpc-1".parse().unwrap())
        .with_baggage("userId=alice".parse().unwrap())
}

#[tokio::test]
async fn a_unary_call_joins_the_callers_trace() {
    let server = start().await;
    let cx = caller();
    let seen = async {
        server
            .client()
            .unary(EchoRequest {
                message: "hi".into(),
            })
            .await
            .unwrap()
            .into_inner()
    }
    .with_trace_context(cx.clone())
    .await;
    assert_eq!(seen.message, "hi");
    assert_eq!(seen.trace_id, cx.trace_id().to_string(), "one trace");
    assert_ne!(
        seen.parent_span_id,
        cx.span_id().to_string(),
        "the call has its own span id"
    );
    assert_ne!(seen.parent_span_id, "");
    assert_eq!(seen.correlation_id, "req-grpc-1");
    assert_eq!(seen.baggage, "userId=alice");

    // Two calls, two parent ids.
    let again = async {
        server
            .client()
            .unary(EchoRequest {
                message: "hi".into(),
            })
            .await
            .unwrap()
            .into_inner()
    }
    .with_trace_context(cx.clone())
    .await;
    assert_ne!(again.parent_span_id, seen.parent_span_id);
    server.stop().await;
}

#[tokio::test]
async fn status_errors_pass_through_unchanged() {
    let server = start().await;
    let cx = caller();
    for (message, code) in [("not_found", Code::NotFound), ("internal", Code::Internal)] {
        let status = async {
            server
                .client()
                .unary(EchoRequest {
                    message: message.into(),
                })
                .await
                .unwrap_err()
        }
        .with_trace_context(cx.clone())
        .await;
        assert_eq!(status.code(), code);
    }
    server.stop().await;
}

#[tokio::test]
async fn streaming_calls_keep_the_trace() {
    let server = start().await;
    let cx = caller();
    async {
        let mut stream = server
            .client()
            .server_stream(EchoRequest {
                message: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        let first = stream.message().await.unwrap().unwrap();
        let second = stream.message().await.unwrap().unwrap();
        assert_eq!(
            (first.message.as_str(), second.message.as_str()),
            ("one", "two")
        );
        assert_eq!(first.trace_id, cx.trace_id().to_string());
        let status = stream.message().await.unwrap_err();
        assert_eq!(
            status.code(),
            Code::Internal,
            "the failure after two messages arrives in the trailers"
        );

        let outbound =
            tokio_stream::iter(["a", "b", "c"].map(|m| EchoRequest { message: m.into() }));
        let reply = server
            .client()
            .client_stream(outbound)
            .await
            .unwrap()
            .into_inner();
        assert_eq!(reply.message, "a,b,c");
        assert_eq!(reply.trace_id, cx.trace_id().to_string());
    }
    .with_trace_context(cx.clone())
    .await;
    server.stop().await;
}

#[tokio::test]
async fn hostile_metadata_never_fails_the_call() {
    let server = start().await;
    let cases: Vec<(&str, Box<dyn Fn(&mut tonic::metadata::MetadataMap)>)> = vec![
        (
            "an invalid traceparent",
            Box::new(|m| {
                m.insert(
                    "traceparent",
                    MetadataValue::from_static("00-not-a-trace-01"),
                );
            }),
        ),
        (
            "an oversized traceparent",
            Box::new(|m| {
                // hyper's HTTP/2 server refuses header lists over 16 KiB (431)
                // before any layer runs; 8 KiB is as much as reaches us.
                m.insert("traceparent", "0".repeat(8 * 1024).parse().unwrap());
            }),
        ),
        (
            "binary keys",
            Box::new(|m| {
                m.insert_bin(
                    "traceparent-bin",
                    BinaryMetadataValue::from_bytes(&[0xff, 0x00, 0x01]),
                );
                m.insert_bin("baggage-bin", BinaryMetadataValue::from_bytes(b"\xfe\xfd"));
            }),
        ),
        (
            "a tracestate without a traceparent",
            Box::new(|m| {
                m.insert("tracestate", MetadataValue::from_static("k=v"));
            }),
        ),
    ];
    for (reason, set) in cases {
        // Outside any trace the interceptor writes nothing, so the hostile
        // metadata reaches the server as set.
        let mut request = Request::new(EchoRequest {
            message: "ok".into(),
        });
        set(request.metadata_mut());
        let seen = server
            .client()
            .unary(request)
            .await
            .unwrap_or_else(|e| panic!("{reason}: {e}"))
            .into_inner();
        assert_eq!(seen.message, "ok", "{reason}");
        assert_eq!(seen.parent_span_id, "", "{reason}: a new trace");
        assert_eq!(seen.trace_id.len(), 32, "{reason}");
    }
    server.stop().await;
}

/// Waits (bounded) until the recorder holds `n` spans.
async fn finished(recorder: &InMemoryRecorder, n: usize) -> Vec<FinishedSpan> {
    for _ in 0..500 {
        let spans = recorder.finished();
        if spans.len() >= n {
            return spans;
        }
        tokio::time::sleep(std::time::Duration::from_millis(10)).await;
    }
    panic!("expected {n} spans, have {:?}", recorder.finished());
}

#[tokio::test]
async fn server_spans_follow_the_grpc_conventions() {
    let recorder = InMemoryRecorder::new(64);
    let server = start_recording(&recorder).await;
    let client = server.client();
    let cx = caller();
    async {
        let mut c = client.clone();
        c.unary(EchoRequest {
            message: "ok".into(),
        })
        .await
        .unwrap();
        c.unary(EchoRequest {
            message: "not_found".into(),
        })
        .await
        .unwrap_err();
        c.unary(EchoRequest {
            message: "internal".into(),
        })
        .await
        .unwrap_err();
        let mut stream = c
            .server_stream(EchoRequest {
                message: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        while stream
            .message()
            .await
            .transpose()
            .is_some_and(|m| m.is_ok())
        {}
        let outbound = tokio_stream::iter(["a"].map(|m| EchoRequest { message: m.into() }));
        c.client_stream(outbound).await.unwrap();
    }
    .with_trace_context(cx.clone())
    .await;

    let spans = finished(&recorder, 5).await;
    let code = |s: &FinishedSpan| s.attribute(semconv::RPC_GRPC_STATUS_CODE).cloned();
    let find = |name: &str| {
        spans
            .iter()
            .filter(move |s| s.name == name)
            .cloned()
            .collect::<Vec<_>>()
    };
    let unary = find("echo.v1.Echo/Unary");
    assert_eq!(unary.len(), 3);
    assert!(
        unary
            .iter()
            .all(|s| s.kind == SpanKind::Server && s.trace_id == cx.trace_id())
    );
    let by_code = |c: i64| {
        unary
            .iter()
            .find(|s| code(s) == Some(Value::I64(c)))
            .unwrap()
            .clone()
    };
    assert!(!by_code(0).status.is_error(), "OK");
    assert!(
        !by_code(5).status.is_error(),
        "NOT_FOUND is not a server error"
    );
    assert_eq!(by_code(13).status.error_type(), Some("INTERNAL"));
    let ok = by_code(0);
    assert_eq!(
        ok.attribute(semconv::RPC_SYSTEM),
        Some(&Value::from("grpc"))
    );
    assert_eq!(
        ok.attribute(semconv::RPC_SERVICE),
        Some(&Value::from("echo.v1.Echo".to_owned()))
    );
    assert_eq!(
        ok.attribute(semconv::RPC_METHOD),
        Some(&Value::from("Unary".to_owned()))
    );
    assert_eq!(
        ok.attribute(semconv::SERVER_ADDRESS),
        Some(&Value::from("127.0.0.1".to_owned()))
    );
    assert_eq!(
        ok.attribute(semconv::SERVER_PORT),
        Some(&Value::I64(i64::from(server.addr.port())))
    );

    let stream = &find("echo.v1.Echo/ServerStream")[0];
    assert_eq!(
        code(stream),
        Some(Value::I64(13)),
        "read from the trailers after two messages"
    );
    assert_eq!(stream.status.error_type(), Some("INTERNAL"));
    let client_stream = &find("echo.v1.Echo/ClientStream")[0];
    assert!(!client_stream.status.is_error());
    server.stop().await;
}

fn layered_client(
    server: &Running,
    layer: trace_tonic::GrpcClientLayer,
) -> EchoClient<trace_tonic::GrpcClient<Channel>> {
    let channel = Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect_lazy();
    EchoClient::new(tower::ServiceBuilder::new().layer(layer).service(channel))
}

#[tokio::test]
async fn client_spans_follow_the_grpc_conventions() {
    let server = start().await;
    let recorder = InMemoryRecorder::new(16);
    let endpoint: http::Uri = format!("http://{}", server.addr).parse().unwrap();
    let mut client = layered_client(
        &server,
        trace_tonic::GrpcClientLayer::new()
            .recorder(recorder.clone())
            .endpoint(endpoint),
    );
    let cx = caller();
    async {
        let seen = client
            .unary(EchoRequest {
                message: "ok".into(),
            })
            .await
            .unwrap()
            .into_inner();
        assert_eq!(seen.trace_id, cx.trace_id().to_string());
        client
            .unary(EchoRequest {
                message: "not_found".into(),
            })
            .await
            .unwrap_err();
        let mut stream = client
            .server_stream(EchoRequest {
                message: String::new(),
            })
            .await
            .unwrap()
            .into_inner();
        while stream
            .message()
            .await
            .transpose()
            .is_some_and(|m| m.is_ok())
        {}
    }
    .with_trace_context(cx.clone())
    .await;

    let spans = finished(&recorder, 3).await;
    assert!(
        spans
            .iter()
            .all(|s| s.kind == SpanKind::Client && s.parent_span_id == Some(cx.span_id()))
    );
    let code = |s: &FinishedSpan| s.attribute(semconv::RPC_GRPC_STATUS_CODE).cloned();
    let ok = spans
        .iter()
        .find(|s| code(s) == Some(Value::I64(0)))
        .unwrap();
    assert!(!ok.status.is_error());
    assert_eq!(
        ok.attribute(semconv::SERVER_ADDRESS),
        Some(&Value::from("127.0.0.1".to_owned()))
    );
    let not_found = spans
        .iter()
        .find(|s| code(s) == Some(Value::I64(5)))
        .unwrap();
    assert_eq!(
        not_found.status.error_type(),
        Some("NOT_FOUND"),
        "every code but OK is a client error"
    );
    let stream = spans
        .iter()
        .find(|s| s.name == "echo.v1.Echo/ServerStream")
        .unwrap();
    assert_eq!(
        stream.status.error_type(),
        Some("INTERNAL"),
        "from the trailers"
    );
    server.stop().await;
}

#[tokio::test]
async fn the_client_layer_honours_the_destination_policy() {
    let server = start().await;
    let mut client = layered_client(
        &server,
        trace_tonic::GrpcClientLayer::new().destinations(trace_core::Propagate::NONE),
    );
    let cx = caller();
    let seen = async {
        client
            .unary(EchoRequest {
                message: "ok".into(),
            })
            .await
            .unwrap()
            .into_inner()
    }
    .with_trace_context(cx.clone())
    .await;
    assert_ne!(
        seen.trace_id,
        cx.trace_id().to_string(),
        "nothing was sent: the server started its own trace"
    );
    assert_eq!(seen.baggage, "");
    server.stop().await;
}

#[tokio::test]
async fn a_host_based_policy_sees_the_endpoints_host() {
    let server = start().await;
    let endpoint: http::Uri = format!("http://{}", server.addr).parse().unwrap();
    let allow_loopback = trace_core::AllowHosts::new(["127.0.0.1"]);
    let mut client = layered_client(
        &server,
        trace_tonic::GrpcClientLayer::new()
            .destinations(allow_loopback)
            .endpoint(endpoint),
    );
    let cx = caller();
    let seen = async {
        client
            .unary(EchoRequest {
                message: "ok".into(),
            })
            .await
            .unwrap()
            .into_inner()
    }
    .with_trace_context(cx.clone())
    .await;
    assert_eq!(
        seen.trace_id,
        cx.trace_id().to_string(),
        "127.0.0.1 is allowed: the trace went through"
    );
    server.stop().await;
}

#[tokio::test]
async fn a_failed_transport_ends_the_client_span_as_an_error() {
    // A port nothing listens on: bound, then closed.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let recorder = InMemoryRecorder::new(4);
    let channel = Endpoint::from_shared(format!("http://{closed}"))
        .unwrap()
        .connect_lazy();
    let layer = trace_tonic::GrpcClientLayer::new().recorder(recorder.clone());
    let mut client = EchoClient::new(tower::ServiceBuilder::new().layer(layer).service(channel));
    let status = client
        .unary(EchoRequest {
            message: "ok".into(),
        })
        .with_trace_context(caller())
        .await
        .unwrap_err();
    assert_eq!(status.code(), Code::Unavailable);
    let spans = recorder.finished();
    let [span] = &spans[..] else {
        panic!("one client span, got {}", spans.len())
    };
    assert_eq!(span.status.error_type(), Some("transport"));
    assert_eq!(
        span.attribute(semconv::ERROR_TYPE),
        Some(&Value::from("transport")),
        "error.type is written from the status"
    );
}

#[tokio::test]
async fn outside_any_trace_the_client_layer_follows_its_no_context_rule() {
    let server = start().await;
    let request = || EchoRequest {
        message: "ok".into(),
    };

    // The default: a new trace, so the callee still joins something.
    let recorder = InMemoryRecorder::new(4);
    let mut client = layered_client(
        &server,
        trace_tonic::GrpcClientLayer::new().recorder(recorder.clone()),
    );
    let seen = client.unary(request()).await.unwrap().into_inner();
    let spans = recorder.finished();
    assert_eq!(spans.len(), 1, "a client span for the new trace");
    assert_eq!(seen.parent_span_id, spans[0].span_id.to_string());

    // SendNothing: the call goes out untouched and records nothing.
    let recorder = InMemoryRecorder::new(4);
    let mut client = layered_client(
        &server,
        trace_tonic::GrpcClientLayer::new()
            .recorder(recorder.clone())
            .without_context(trace_tonic::NoContext::SendNothing),
    );
    let seen = client.unary(request()).await.unwrap().into_inner();
    assert!(recorder.finished().is_empty(), "no client span");
    assert_eq!(seen.parent_span_id, "", "no traceparent reached the server");
    server.stop().await;
}

/// A request whose metadata already holds every trace field, as a proxy
/// handler copying the incoming request's would.
fn preset(message: &str) -> Request<EchoRequest> {
    let mut request = Request::new(EchoRequest {
        message: message.into(),
    });
    let metadata = request.metadata_mut();
    metadata.insert(
        "traceparent",
        MetadataValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"),
    );
    metadata.insert("baggage", MetadataValue::from_static("userId=copied"));
    metadata.insert("x-request-id", MetadataValue::from_static("copied"));
    request
}

#[tokio::test]
async fn a_blocked_field_never_leaves_whoever_set_it() {
    let server = start().await;
    let cx = caller();

    // The client layer, with a policy that sends nothing to this host.
    let mut layered = layered_client(
        &server,
        trace_tonic::GrpcClientLayer::new().destinations(trace_core::Propagate::NONE),
    );
    let seen = layered
        .unary(preset("ok"))
        .with_trace_context(cx.clone())
        .await
        .unwrap()
        .into_inner();
    assert_ne!(
        seen.trace_id, "4bf92f3577b34da6a3ce929d0e0e4736",
        "the copy was removed"
    );
    assert_eq!(seen.parent_span_id, "", "no traceparent at all");
    assert_eq!(seen.baggage, "");
    assert_ne!(seen.correlation_id, "copied");

    // The interceptor, sending only `traceparent`.
    let channel = Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect_lazy();
    let mut intercepted = EchoClient::with_interceptor(
        channel,
        TraceInterceptor::new().propagate(trace_core::Propagate::TRACEPARENT),
    );
    let seen = intercepted
        .unary(preset("ok"))
        .with_trace_context(cx.clone())
        .await
        .unwrap()
        .into_inner();
    assert_eq!(seen.trace_id, cx.trace_id().to_string(), "our traceparent");
    assert_eq!(seen.baggage, "", "the copied baggage was removed");
    assert_ne!(seen.correlation_id, "copied");
    assert_ne!(seen.correlation_id, "req-grpc-1", "ours is blocked too");
    server.stop().await;
}

/// Calls `path`, a method the server may not have, with the echo messages.
async fn call_raw(server: &Running, path: &'static str) -> Status {
    let channel = Endpoint::from_shared(format!("http://{}", server.addr))
        .unwrap()
        .connect_lazy();
    let mut grpc =
        tonic::client::Grpc::new(InterceptedService::new(channel, TraceInterceptor::new()));
    grpc.ready().await.unwrap();
    let codec = tonic_prost::ProstCodec::<EchoRequest, EchoReply>::default();
    let request = Request::new(EchoRequest {
        message: "ok".into(),
    });
    grpc.unary(request, http::uri::PathAndQuery::from_static(path), codec)
        .await
        .unwrap_err()
}

#[tokio::test]
async fn an_unknown_method_gets_a_bounded_name() {
    let recorder = InMemoryRecorder::new(64);
    let server = start_recording(&recorder).await;
    let paths = [
        "/echo.v1.Echo/NoSuchMethod",
        "/echo.v1.Echo/AnotherOne",
        "/no.such.Service/Unary",
        "/x1/y1",
    ];
    for path in paths {
        let status = call_raw(&server, path).with_trace_context(caller()).await;
        assert_eq!(status.code(), Code::Unimplemented, "{path}");
    }
    let spans = finished(&recorder, paths.len()).await;
    for (span, path) in spans.iter().zip(paths) {
        // OpenTelemetry's RPC conventions: `{rpc.system}` as the name,
        // `_OTHER` as the method, what the client asked for beside it.
        assert_eq!(span.name, "grpc", "{path}");
        assert_eq!(
            span.attribute(semconv::RPC_METHOD),
            Some(&Value::from("_OTHER"))
        );
        assert_eq!(
            span.attribute(semconv::RPC_METHOD_ORIGINAL),
            Some(&Value::from(path[1..].to_owned()))
        );
        assert_eq!(span.attribute(semconv::RPC_SERVICE), None, "{path}");
        assert_eq!(span.status.error_type(), Some("UNIMPLEMENTED"));
    }

    // A method the server has keeps its name and attributes.
    let mut client = server.client();
    client
        .unary(EchoRequest {
            message: "ok".into(),
        })
        .with_trace_context(caller())
        .await
        .unwrap();
    let spans = finished(&recorder, paths.len() + 1).await;
    let known = spans.last().unwrap();
    assert_eq!(known.name, "echo.v1.Echo/Unary");
    assert_eq!(
        known.attribute(semconv::RPC_METHOD),
        Some(&Value::from("Unary".to_owned()))
    );
    assert_eq!(known.attribute(semconv::RPC_METHOD_ORIGINAL), None);
    server.stop().await;
}
