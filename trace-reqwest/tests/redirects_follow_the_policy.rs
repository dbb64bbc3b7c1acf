//! Redirects never carry a field the destination policy blocks for the host
//! they go to (harden, finding 2). Two host names on one server on
//! 127.0.0.1: `127.0.0.1` (allowed everything) and `localhost` (allowed
//! only `traceparent`) count as different hosts.

use std::{collections::HashMap, net::SocketAddr, str::FromStr, time::Duration};

use axum::{
    Router,
    extract::{Path, Query},
    http::{HeaderMap, Method, StatusCode, header},
    response::IntoResponse,
    routing::any,
};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::{net::TcpListener, sync::oneshot, task::JoinHandle};
use trace_core::{
    AllowHosts, Baggage, FinishedSpan, FutureExt, InMemoryRecorder, Propagate, SpanKind,
    TraceContext, TraceParent, Value, semconv,
};
use trace_reqwest::TraceMiddleware;

struct Server {
    addr: SocketAddr,
    shutdown: oneshot::Sender<()>,
    handle: JoinHandle<()>,
}

/// `/redirect/{status}?to=URL` answers `status` with `Location: URL`;
/// `/echo` answers with the method, the headers that matter here and the
/// body, one per line; `/loop` redirects to itself.
async fn start() -> Server {
    async fn redirect(
        Path(status): Path<u16>,
        Query(query): Query<HashMap<String, String>>,
    ) -> impl IntoResponse {
        (
            StatusCode::from_u16(status).unwrap(),
            [(header::LOCATION, query["to"].clone())],
        )
    }
    async fn echo(method: Method, headers: HeaderMap, body: String) -> String {
        let mut lines = vec![format!("method={method}")];
        for name in [
            "traceparent",
            "tracestate",
            "baggage",
            "x-request-id",
            "authorization",
            "cookie",
            "content-type",
        ] {
            for value in headers.get_all(name) {
                lines.push(format!("{name}={}", value.to_str().unwrap()));
            }
        }
        lines.push(format!("body={body}"));
        lines.join("\n")
    }
    let app = Router::new()
        .route("/redirect/{status}", any(redirect))
        .route("/echo", any(echo))
        .route(
            "/loop",
            any(|| async { (StatusCode::FOUND, [(header::LOCATION, "/loop")]) }),
        );
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
    Server {
        addr,
        shutdown,
        handle,
    }
}

impl Server {
    /// The URL of `path` under the host name `host` (`127.0.0.1` or
    /// `localhost`).
    fn url(&self, host: &str, path: &str) -> String {
        format!("http://{host}:{}{path}", self.addr.port())
    }

    /// A redirect from `127.0.0.1` with `status` to `to`.
    fn redirect(&self, status: u16, to: &str) -> String {
        let to = percent_encode(to);
        self.url("127.0.0.1", &format!("/redirect/{status}?to={to}"))
    }

    async fn stop(self) {
        let _ = self.shutdown.send(());
        self.handle.await.unwrap();
    }
}

fn percent_encode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn parse(text: &str) -> HashMap<String, String> {
    text.lines()
        .filter_map(|l| l.split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// Everything to 127.0.0.1, only `traceparent` to any other host.
fn policy() -> AllowHosts {
    AllowHosts::new(["127.0.0.1"]).otherwise(Propagate::TRACEPARENT)
}

/// A client built as the middleware's docs say: reqwest follows nothing.
fn client(middleware: TraceMiddleware) -> ClientWithMiddleware {
    let client = reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap();
    ClientBuilder::new(client).with(middleware).build()
}

/// A parent with baggage and a correlation ID, as a server would attach.
fn parent() -> TraceContext {
    TraceContext::new_root(true)
        .with_baggage(Baggage::from_str("tenant=acme").unwrap())
        .with_correlation_id("req-1".parse().unwrap())
}

/// Sends `request` as a call made under `parent`; the response's text.
async fn text_under(request: reqwest_middleware::RequestBuilder, parent: TraceContext) -> String {
    async { request.send().await.unwrap().text().await.unwrap() }
        .with_trace_context(parent)
        .await
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

#[tokio::test]
async fn a_redirect_to_a_restricted_host_carries_only_what_it_allows() {
    let server = start().await;
    let recorder = InMemoryRecorder::new(16);
    let client = client(
        TraceMiddleware::new()
            .destinations(policy())
            .recorder(recorder.clone()),
    );
    let parent = parent();
    let url = server.redirect(302, &server.url("localhost", "/echo"));
    let text = text_under(
        client
            .get(url)
            // Set by hand, as a proxy handler copying the incoming request
            // would: allowed to 127.0.0.1, not to localhost.
            .header("tracestate", "vendor=copied")
            .header("baggage", "hand=set")
            .header("x-request-id", "copied")
            .header("authorization", "Bearer secret"),
        parent.clone(),
    )
    .await;
    let at_landing = parse(&text);
    assert_eq!(
        at_landing
            .keys()
            .filter(|k| *k != "method" && *k != "body")
            .count(),
        1,
        "only traceparent reaches localhost: {at_landing:?}"
    );
    let sent: TraceParent = at_landing["traceparent"].parse().unwrap();

    // One client span per hop, both children of the parent; the second is
    // a resend, and its span id is the one localhost received.
    let spans = finished(&recorder, 2).await;
    assert_eq!(spans.len(), 2);
    assert!(spans.iter().all(|s| s.kind == SpanKind::Client
        && s.trace_id == parent.trace_id()
        && s.parent_span_id == Some(parent.span_id())));
    let (first, second) = (&spans[0], &spans[1]);
    assert_eq!(
        first.attribute(semconv::HTTP_RESPONSE_STATUS_CODE),
        Some(&Value::I64(302))
    );
    assert_eq!(first.attribute(semconv::HTTP_REQUEST_RESEND_COUNT), None);
    assert_eq!(
        second.attribute(semconv::HTTP_REQUEST_RESEND_COUNT),
        Some(&Value::I64(1))
    );
    assert_eq!(second.span_id, sent.parent_id());
    assert_eq!(
        second.attribute(semconv::SERVER_ADDRESS),
        Some(&Value::from("localhost"))
    );
    server.stop().await;
}

#[tokio::test]
async fn the_policy_decides_again_at_every_hop() {
    let server = start().await;
    let client = client(TraceMiddleware::new().destinations(policy()));
    // 127.0.0.1 -> localhost -> 127.0.0.1: the last hop is allowed
    // everything again, and gets the context's own fields (the hand-set
    // baggage was removed on the way through localhost).
    let back = server.url("127.0.0.1", "/echo");
    let via_localhost = format!(
        "http://localhost:{}/redirect/307?to={}",
        server.addr.port(),
        percent_encode(&back)
    );
    let text = text_under(
        client
            .get(server.redirect(302, &via_localhost))
            .header("baggage", "hand=set"),
        parent(),
    )
    .await;
    let at_end = parse(&text);
    assert_eq!(at_end["baggage"], "tenant=acme", "{at_end:?}");
    assert_eq!(at_end["x-request-id"], "req-1");
    assert!(at_end.contains_key("traceparent"));
    server.stop().await;
}

#[tokio::test]
async fn a_client_that_follows_redirects_itself_is_an_error_that_says_how_to_build_it() {
    let server = start().await;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new().destinations(policy()))
        .build();
    let error = async {
        client
            .get(server.redirect(302, &server.url("localhost", "/echo")))
            .send()
            .await
            .unwrap_err()
    }
    .with_trace_context(parent())
    .await;
    let message = error.to_string();
    assert!(
        message.contains("redirect::Policy::none()") && message.contains("http://localhost"),
        "{message}"
    );

    // A redirect to a host allowed as much as the first is no leak: the
    // client may follow it.
    let text = text_under(
        client.get(server.redirect(302, &server.url("127.0.0.1", "/echo"))),
        parent(),
    )
    .await;
    assert_eq!(parse(&text)["baggage"], "tenant=acme");

    // One `Propagate` for every host: redirects are the client's to follow.
    let uniform = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new().destinations(Propagate::TRACEPARENT))
        .build();
    let text = text_under(
        uniform.get(server.redirect(302, &server.url("localhost", "/echo"))),
        parent(),
    )
    .await;
    let at = parse(&text);
    assert!(
        at.contains_key("traceparent") && !at.contains_key("baggage"),
        "{at:?}"
    );
    server.stop().await;
}

#[tokio::test]
async fn methods_bodies_and_credentials_follow_reqwests_rules() {
    let server = start().await;
    let client = client(TraceMiddleware::new().destinations(policy()));
    let landing = server.url("localhost", "/echo");
    let post = |status: u16| {
        let request = client
            .post(server.redirect(status, &landing))
            .header("content-type", "text/plain")
            .header("authorization", "Bearer secret")
            .header("cookie", "session=1")
            .body("payload");
        async move { parse(&request.send().await.unwrap().text().await.unwrap()) }
            .with_trace_context(parent())
    };
    for status in [307, 308] {
        let at = post(status).await;
        assert_eq!(at["method"], "POST", "{status}");
        assert_eq!(at["body"], "payload", "{status}");
        assert_eq!(at["content-type"], "text/plain", "{status}");
        assert!(!at.contains_key("authorization") && !at.contains_key("cookie"));
    }
    for status in [301, 302, 303] {
        let at = post(status).await;
        assert_eq!(at["method"], "GET", "{status}");
        assert_eq!(at["body"], "", "{status}");
        assert!(!at.contains_key("content-type"), "{status}: {at:?}");
    }
    // Same origin: credentials stay.
    let at = async {
        parse(
            &client
                .get(server.redirect(302, &server.url("127.0.0.1", "/echo")))
                .header("authorization", "Bearer secret")
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        )
    }
    .with_trace_context(parent())
    .await;
    assert_eq!(at["authorization"], "Bearer secret");
    server.stop().await;
}

#[tokio::test]
async fn redirects_are_bounded() {
    let server = start().await;
    let recorder = InMemoryRecorder::new(64);
    let client = client(
        TraceMiddleware::new()
            .destinations(policy())
            .recorder(recorder.clone())
            .max_redirects(3),
    );
    // A redirect to itself, forever.
    let forever = server.url("127.0.0.1", "/loop");
    let error = async { client.get(&forever).send().await.unwrap_err() }
        .with_trace_context(parent())
        .await;
    assert!(
        error
            .to_string()
            .contains("too many redirects (more than 3)"),
        "{error}"
    );
    assert_eq!(
        finished(&recorder, 4).await.len(),
        4,
        "three redirects and the one too many"
    );

    // 0 hands the redirect back.
    let client = self::client(
        TraceMiddleware::new()
            .destinations(policy())
            .max_redirects(0),
    );
    let response = async {
        client
            .get(server.redirect(302, &server.url("localhost", "/echo")))
            .send()
            .await
            .unwrap()
    }
    .with_trace_context(parent())
    .await;
    assert_eq!(response.status(), 302);
    server.stop().await;
}
