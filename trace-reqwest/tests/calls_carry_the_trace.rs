//! Over real sockets: client -> service A (trace-tower; calls B with
//! trace-reqwest) -> service B. One trace, one connected tree of spans, the
//! correlation ID and baggage everywhere, and the policies and failures
//! doing what they say.

use std::{
    collections::HashMap,
    net::SocketAddr,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use axum::{Router, extract::State, http::HeaderMap, routing::get};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use reqwest_retry::{RetryTransientMiddleware, policies::ExponentialBackoff};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use trace_core::{
    AllowHosts, FinishedSpan, FutureExt, InMemoryRecorder, Propagate, SpanKind, TraceContext,
    TraceParent, Value, semconv,
};
use trace_reqwest::{NoContext, TraceMiddleware};
use trace_tower::TraceContextLayer;

struct Server {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    handle: JoinHandle<()>,
}

impl Server {
    async fn start(app: Router) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let (shutdown, rx) = oneshot::channel::<()>();
        let handle = tokio::spawn(async move {
            axum::serve(listener, app)
                .with_graceful_shutdown(async {
                    let _ = rx.await;
                })
                .await
                .unwrap();
        });
        Self {
            addr,
            shutdown,
            handle,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.handle.await.unwrap();
    }
}

/// Service B: answers with the trace headers it received, one per line.
fn service_b(layer: Option<TraceContextLayer<trace_tower::mode::Recording>>) -> Router {
    async fn headers(headers: HeaderMap) -> String {
        let mut lines = Vec::new();
        for name in ["traceparent", "tracestate", "baggage", "x-request-id"] {
            for value in headers.get_all(name) {
                lines.push(format!("{name}={}", value.to_str().unwrap()));
            }
        }
        lines.join("\n")
    }
    let router = Router::new().route("/b", get(headers)).route(
        "/fail",
        get(|| async { axum::http::StatusCode::INTERNAL_SERVER_ERROR }),
    );
    match layer {
        Some(layer) => router.layer(layer),
        None => router,
    }
}

fn parse(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

fn client(middleware: TraceMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(middleware)
        .build()
}

/// Service A: calls `target` with the traced client and answers with what
/// came back (or the error).
fn service_a(recorder: &InMemoryRecorder, client: ClientWithMiddleware, target: String) -> Router {
    async fn call(State((client, target)): State<(ClientWithMiddleware, String)>) -> String {
        match client.get(&target).send().await {
            Ok(response) => response.text().await.unwrap_or_default(),
            Err(error) => format!("error={error}"),
        }
    }
    async fn call_from_task(
        State((client, target)): State<(ClientWithMiddleware, String)>,
    ) -> String {
        let task = tokio::spawn(
            async move {
                client
                    .get(&target)
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
            .in_current_context(),
        );
        task.await.unwrap()
    }
    async fn call_twice(State((client, target)): State<(ClientWithMiddleware, String)>) -> String {
        let first = client
            .get(&target)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let second = client
            .get(&target)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        format!("{first}\n--\n{second}")
    }
    Router::new()
        .route("/a", get(call))
        .route("/a/spawn", get(call_from_task))
        .route("/a/twice", get(call_twice))
        .with_state((client, target))
        .layer(TraceContextLayer::new().recorder(recorder.service("a")))
}

async fn finished(recorder: &InMemoryRecorder, n: usize) -> Vec<FinishedSpan> {
    for _ in 0..500 {
        let spans = recorder.finished();
        if spans.len() >= n {
            return spans;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("expected {n} spans, have {:?}", recorder.finished());
}

fn one(spans: &[FinishedSpan], service: &str, kind: SpanKind) -> FinishedSpan {
    let mut found = spans
        .iter()
        .filter(|s| s.service.as_deref() == Some(service) && s.kind == kind);
    let span = found
        .next()
        .unwrap_or_else(|| panic!("no {kind:?} span of {service}"));
    assert!(found.next().is_none(), "one {kind:?} span of {service}");
    span.clone()
}

#[tokio::test]
async fn three_hops_are_one_connected_trace() {
    let recorder = InMemoryRecorder::new(64);
    let b = Server::start(service_b(Some(
        TraceContextLayer::new().recorder(recorder.service("b")),
    )))
    .await;
    let a_client = client(TraceMiddleware::new().recorder(recorder.service("a")));
    let a = Server::start(service_a(&recorder, a_client, b.url("/b"))).await;

    let body = reqwest::Client::new()
        .get(a.url("/a"))
        .header("x-request-id", "req-from-outside")
        .header("baggage", "userId=alice,tenant=acme;region=eu")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at_b = parse(&body);
    assert_eq!(
        at_b["x-request-id"], "req-from-outside",
        "the correlation ID arrives unchanged"
    );
    assert_eq!(
        at_b["baggage"], "userId=alice,tenant=acme;region=eu",
        "baggage arrives unchanged"
    );

    let spans = finished(&recorder, 3).await;
    let server_a = one(&spans, "a", SpanKind::Server);
    let client_a = one(&spans, "a", SpanKind::Client);
    let server_b = one(&spans, "b", SpanKind::Server);
    assert!(
        spans.iter().all(|s| s.trace_id == server_a.trace_id),
        "one trace"
    );
    assert_eq!(client_a.parent_span_id, Some(server_a.span_id));
    assert_eq!(
        server_b.parent_span_id,
        Some(client_a.span_id),
        "B's parent is A's client span"
    );
    let traceparent: trace_core::TraceParent = at_b["traceparent"].parse().unwrap();
    assert_eq!(
        traceparent.parent_id(),
        client_a.span_id,
        "the span id injected is the span id recorded"
    );
    assert_eq!(client_a.name, "GET");
    assert_eq!(
        client_a.attribute(semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(&Value::I64(200))
    );
    assert_eq!(
        client_a.attribute(semconv::URL_FULL),
        Some(&Value::from(b.url("/b")))
    );
    assert!(client_a.end_time >= client_a.start_time);
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_forbidden_host_gets_no_trace_headers() {
    let b = Server::start(service_b(None)).await;
    let recorder = InMemoryRecorder::new(16);
    let locked = TraceMiddleware::new().destinations(AllowHosts::new(["users.internal"]));
    let a = Server::start(service_a(&recorder, client(locked), b.url("/b"))).await;
    let body = reqwest::Client::new()
        .get(a.url("/a"))
        .header("baggage", "k=v")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        body, "",
        "no traceparent, tracestate, baggage or correlation ID at 127.0.0.1"
    );

    let partial = TraceMiddleware::new()
        .destinations(AllowHosts::new(["users.internal"]).otherwise(Propagate::TRACEPARENT));
    let a2 = Server::start(service_a(&recorder, client(partial), b.url("/b"))).await;
    let body = reqwest::Client::new()
        .get(a2.url("/a"))
        .header("baggage", "k=v")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at_b = parse(&body);
    assert!(at_b.contains_key("traceparent"));
    assert!(!at_b.contains_key("baggage") && !at_b.contains_key("x-request-id"));
    a.stop().await;
    a2.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn a_blocked_field_never_leaves_whoever_set_it() {
    let b = Server::start(service_b(None)).await;
    // Set by hand (or copied from the incoming request by a proxy handler):
    // every trace header, on a call to a host the policy blocks.
    let call = |middleware: TraceMiddleware| {
        let url = b.url("/b");
        async move {
            client(middleware)
                .get(url)
                .header(
                    "traceparent",
                    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
                )
                .header("tracestate", "vendor=copied")
                .header("baggage", "tenant=copied")
                .header("x-request-id", "copied")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap()
        }
        .with_trace_context(TraceContext::new_root(true))
    };
    let locked = TraceMiddleware::new().destinations(AllowHosts::new(["users.internal"]));
    assert_eq!(call(locked).await, "", "nothing reaches 127.0.0.1");

    let partial = TraceMiddleware::new()
        .destinations(AllowHosts::new(["users.internal"]).otherwise(Propagate::TRACEPARENT));
    let at_b = parse(&call(partial).await);
    let sent: TraceParent = at_b["traceparent"].parse().unwrap();
    assert_ne!(
        sent.parent_id().to_string(),
        "00f067aa0ba902b7",
        "ours, not the copy"
    );
    assert_eq!(at_b.len(), 1, "only traceparent: {at_b:?}");
    b.stop().await;
}

#[tokio::test]
async fn a_spawned_task_keeps_the_trace_and_each_call_gets_its_own_parent_id() {
    let b = Server::start(service_b(None)).await;
    let recorder = InMemoryRecorder::new(16);
    let a = Server::start(service_a(
        &recorder,
        client(TraceMiddleware::new()),
        b.url("/b"),
    ))
    .await;
    let incoming = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03";

    let body = reqwest::Client::new()
        .get(a.url("/a/spawn"))
        .header("traceparent", incoming)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at_b: trace_core::TraceParent = parse(&body)["traceparent"].parse().unwrap();
    assert_eq!(
        at_b.trace_id().to_string(),
        "4bf92f3577b34da6a3ce929d0e0e4736"
    );
    assert!(at_b.flags().is_random(), "the random flag is kept");

    let body = reqwest::Client::new()
        .get(a.url("/a/twice"))
        .header("traceparent", incoming)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let (first, second) = body.split_once("\n--\n").unwrap();
    let (first, second) = (parse(first), parse(second));
    assert_eq!(
        first["traceparent"][..36],
        second["traceparent"][..36],
        "same trace"
    );
    assert_ne!(
        first["traceparent"], second["traceparent"],
        "a new parent-id for each call"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn failures_are_error_spans_and_the_caller_still_gets_an_answer() {
    let b = Server::start(service_b(None)).await;
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0")
        .await
        .unwrap()
        .local_addr()
        .unwrap();
    let recorder = InMemoryRecorder::new(16);
    let a_client = client(TraceMiddleware::new().recorder(recorder.service("a")));

    let a = Server::start(service_a(
        &recorder,
        a_client.clone(),
        format!("http://{closed}/"),
    ))
    .await;
    let response = reqwest::Client::new()
        .get(a.url("/a"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.text().await.unwrap().starts_with("error="));
    let spans = finished(&recorder, 2).await;
    let client_span = one(&spans, "a", SpanKind::Client);
    assert_eq!(client_span.status.error_type(), Some("connect"));
    assert_eq!(
        client_span.attribute(semconv::ERROR_TYPE),
        Some(&Value::from("connect")),
        "error.type is written from the status"
    );
    a.stop().await;

    let recorder = InMemoryRecorder::new(16);
    let a_client = client(TraceMiddleware::new().recorder(recorder.service("a")));
    let a = Server::start(service_a(&recorder, a_client, b.url("/fail"))).await;
    assert_eq!(
        reqwest::Client::new()
            .get(a.url("/a"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let spans = finished(&recorder, 2).await;
    let client_span = one(&spans, "a", SpanKind::Client);
    assert_eq!(client_span.status.error_type(), Some("500"));
    assert!(
        !one(&spans, "a", SpanKind::Server).status.is_error(),
        "A answered fine"
    );
    a.stop().await;
    b.stop().await;
}

#[tokio::test]
async fn each_retry_is_its_own_span() {
    // B fails once, then answers.
    let calls = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (calls_b, seen_b) = (Arc::clone(&calls), Arc::clone(&seen));
    let b = Server::start(Router::new().route(
        "/flaky",
        get(move |headers: HeaderMap| async move {
            seen_b
                .lock()
                .unwrap()
                .push(headers["traceparent"].to_str().unwrap().to_owned());
            if calls_b.fetch_add(1, Ordering::SeqCst) == 0 {
                axum::http::StatusCode::SERVICE_UNAVAILABLE
            } else {
                axum::http::StatusCode::OK
            }
        }),
    ))
    .await;
    let recorder = InMemoryRecorder::new(16);
    let retry = RetryTransientMiddleware::new_with_policy(
        ExponentialBackoff::builder()
            .retry_bounds(Duration::from_millis(1), Duration::from_millis(5))
            .build_with_max_retries(2),
    );
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(retry)
        .with(TraceMiddleware::new().recorder(recorder.clone()))
        .build();
    let cx = TraceContext::new_root(true);
    let response = async { client.get(b.url("/flaky")).send().await.unwrap() }
        .with_trace_context(cx.clone())
        .await;
    assert_eq!(response.status(), 200);
    response.text().await.unwrap();

    let spans = finished(&recorder, 2).await;
    assert_eq!(spans.len(), 2, "two attempts, two client spans");
    assert_ne!(spans[0].span_id, spans[1].span_id);
    assert!(
        spans.iter().all(|s| s.parent_span_id == Some(cx.span_id())),
        "both under the same parent"
    );
    let resend = |s: &FinishedSpan| s.attribute(semconv::HTTP_REQUEST_RESEND_COUNT).cloned();
    assert_eq!(resend(&spans[0]), None);
    assert_eq!(resend(&spans[1]), Some(Value::I64(1)));
    assert_eq!(spans[0].status.error_type(), Some("503"));
    let seen = seen.lock().unwrap().clone();
    assert_ne!(seen[0], seen[1], "each attempt sends its own span id");
    b.stop().await;
}

#[tokio::test]
async fn the_span_ends_when_the_body_has_been_read() {
    let b = Server::start(service_b(None)).await;
    let recorder = InMemoryRecorder::new(4);
    let client = client(TraceMiddleware::new().recorder(recorder.clone()));
    let response = client.get(b.url("/b")).send().await.unwrap();
    assert!(
        recorder.finished().is_empty(),
        "headers are in, the body is not read"
    );
    assert_eq!(
        response.url().as_str(),
        b.url("/b"),
        "the URL survives the body wrapping"
    );
    response.text().await.unwrap();
    assert_eq!(recorder.finished().len(), 1);
    assert!(!recorder.finished()[0].status.is_error());

    // A response dropped unread ends its span as cancelled.
    let response = client.get(b.url("/b")).send().await.unwrap();
    drop(response);
    let spans = recorder.finished();
    assert_eq!(spans.len(), 2);
    assert_eq!(spans[1].status.error_type(), Some("cancelled"));
    b.stop().await;
}

#[tokio::test]
async fn outside_any_trace_and_headers_set_by_hand() {
    let b = Server::start(service_b(None)).await;
    // Default: a new trace, with a correlation ID.
    let body = client(TraceMiddleware::new())
        .get(b.url("/b"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let at_b = parse(&body);
    assert!(at_b.contains_key("traceparent") && at_b.contains_key("x-request-id"));

    let quiet = client(TraceMiddleware::new().without_context(NoContext::SendNothing));
    assert_eq!(
        quiet
            .get(b.url("/b"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap(),
        ""
    );

    // A traceparent set by hand is replaced, not sent twice.
    let cx = TraceContext::new_root(true);
    let body = client(TraceMiddleware::new())
        .get(b.url("/b"))
        .header(
            "traceparent",
            "00-11111111111111111111111111111111-1111111111111111-01",
        )
        .with_extension(cx.clone())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let lines: Vec<_> = body
        .lines()
        .filter(|l| l.starts_with("traceparent="))
        .collect();
    assert_eq!(lines.len(), 1);
    assert!(
        lines[0].contains(&cx.trace_id().to_string()),
        "the attached context wins"
    );
    b.stop().await;
}
