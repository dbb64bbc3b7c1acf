//! Conformance tests of our own against the test service, written from the
//! W3C Trace Context processing model and W3C Baggage, driven as the
//! official harness drives a service: a POST naming callback URLs, then a
//! look at the headers of the callbacks it made. Loopback only.

use std::{
    collections::HashSet,
    net::SocketAddr,
    sync::{Arc, Mutex},
};

use axum::{Router, http::HeaderMap, routing::post};
use tokio::{
    io::{AsyncReadExt, AsyncWriteExt},
    net::{TcpListener, TcpStream},
};
use trace_core::TraceParent;

/// Headers of every callback received, in order.
type Seen = Arc<Mutex<Vec<HeaderMap>>>;

struct Harness {
    service: SocketAddr,
    callbacks: SocketAddr,
    seen: Seen,
}

async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

impl Harness {
    async fn start() -> Self {
        let service = serve(w3c_test_service::app_with(trace_core::Propagator::default())).await;
        let seen = Seen::default();
        let recorded = Arc::clone(&seen);
        let callbacks = serve(Router::new().route(
            "/callback/{n}",
            post(move |headers: HeaderMap| async move {
                recorded.lock().unwrap().push(headers);
                "ok"
            }),
        ))
        .await;
        Self {
            service,
            callbacks,
            seen,
        }
    }

    /// Sends `headers` to the service, asking for `count` callbacks; returns
    /// the callbacks' headers.
    async fn run(&self, headers: &[(&str, &str)], count: usize) -> Vec<HeaderMap> {
        self.seen.lock().unwrap().clear();
        let cases: Vec<String> = (0..count)
            .map(|n| {
                format!(
                    r#"{{"url": "http://{}/callback/{n}", "arguments": []}}"#,
                    self.callbacks
                )
            })
            .collect();
        let mut request = reqwest::Client::new()
            .post(format!("http://{}/test", self.service))
            .header("content-type", "application/json")
            .body(format!("[{}]", cases.join(",")));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        let response = request.send().await.unwrap();
        assert_eq!(
            response.status(),
            200,
            "the service answers after its callbacks"
        );
        let seen = self.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), count, "one callback per case");
        seen
    }

    /// Sends one HTTP/1.1 request with `header_line` exactly as written
    /// (name case included) over a raw socket, asking for one callback;
    /// returns the callback's headers.
    async fn raw(&self, header_line: &str) -> HeaderMap {
        self.seen.lock().unwrap().clear();
        let body = format!(
            r#"[{{"url": "http://{}/callback/0", "arguments": []}}]"#,
            self.callbacks
        );
        let request = format!(
            "POST /test HTTP/1.1\r\nhost: {}\r\ncontent-type: application/json\r\n{header_line}\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
            self.service,
            body.len()
        );
        let mut stream = TcpStream::connect(self.service).await.unwrap();
        stream.write_all(request.as_bytes()).await.unwrap();
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.unwrap();
        assert!(
            response.starts_with(b"HTTP/1.1 200"),
            "{}",
            String::from_utf8_lossy(&response)
        );
        let mut seen = self.seen.lock().unwrap().clone();
        assert_eq!(seen.len(), 1, "one callback");
        seen.remove(0)
    }

    async fn one(&self, headers: &[(&str, &str)]) -> (TraceParent, String, HeaderMap) {
        let headers = self.run(headers, 1).await.remove(0);
        let traceparents: Vec<_> = headers.get_all("traceparent").iter().collect();
        assert_eq!(traceparents.len(), 1, "exactly one traceparent goes out");
        let text = traceparents[0].to_str().unwrap();
        assert_eq!(text.len(), 55, "written as version 00");
        assert!(text.starts_with("00-"));
        let tracestate = headers
            .get_all("tracestate")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect::<Vec<_>>()
            .join(",");
        (text.parse().unwrap(), tracestate, headers)
    }
}

const TRACE_ID: &str = "12345678901234567890123456789012";
const PARENT: &str = "1234567890123456";

#[tokio::test]
async fn traceparent_processing() {
    let h = Harness::start().await;
    let valid = format!("00-{TRACE_ID}-{PARENT}-01");

    // Missing: a new trace, still propagated.
    let (tp, _, _) = h.one(&[]).await;
    assert!(tp.is_valid() && tp.flags().is_random());

    // Valid: same trace-id, new parent-id.
    let (tp, _, _) = h.one(&[("traceparent", &valid)]).await;
    assert_eq!(tp.trace_id().to_string(), TRACE_ID);
    assert_ne!(tp.parent_id().to_string(), PARENT);

    // Header name is case-insensitive: sent as written, over a raw
    // socket (an HTTP client library would lowercase it first).
    let headers = h.raw(&format!("TraceParent: {valid}")).await;
    let tp: TraceParent = headers["traceparent"].to_str().unwrap().parse().unwrap();
    assert_eq!(tp.trace_id().to_string(), TRACE_ID);

    // OWS around the value is not part of it.
    let padded = format!(" \t{valid}\t ");
    let (tp, _, _) = h.one(&[("traceparent", &padded)]).await;
    assert_eq!(tp.trace_id().to_string(), TRACE_ID);

    // A future version is read and written as 00.
    let future = format!("cc-{TRACE_ID}-{PARENT}-01-what-the-future-will-be-like");
    let (tp, _, _) = h.one(&[("traceparent", &future)]).await;
    assert_eq!(tp.trace_id().to_string(), TRACE_ID);

    // Invalid or repeated: the trace restarts.
    #[rustfmt::skip]
    let restarts: Vec<Vec<(&str, String)>> = vec![
        vec![("traceparent", valid.clone()), ("traceparent", valid.clone())],
        vec![("trace-parent", valid.clone())],
        vec![("traceparent", format!("00-{TRACE_ID}-{PARENT}-01."))],
        vec![("traceparent", format!("00-{TRACE_ID}-{PARENT}-01-what-the-future-will-be-like"))],
        vec![("traceparent", format!("cc-{TRACE_ID}-{PARENT}-01.what-the-future-will-be-like"))],
        vec![("traceparent", format!("ff-{TRACE_ID}-{PARENT}-01"))],
        vec![("traceparent", format!(".0-{TRACE_ID}-{PARENT}-01"))],
        vec![("traceparent", format!("000-{TRACE_ID}-{PARENT}-01"))],
        vec![("traceparent", format!("0-{TRACE_ID}-{PARENT}-01"))],
        vec![("traceparent", format!("00-00000000000000000000000000000000-{PARENT}-01"))],
        vec![("traceparent", format!("00-.2345678901234567890123456789012-{PARENT}-01"))],
        vec![("traceparent", format!("00-{TRACE_ID}3-{PARENT}-01"))],
        vec![("traceparent", format!("00-{}-{PARENT}-01", &TRACE_ID[1..]))],
        vec![("traceparent", format!("00-{TRACE_ID}-0000000000000000-01"))],
        vec![("traceparent", format!("00-{TRACE_ID}-.234567890123456-01"))],
        vec![("traceparent", format!("00-{TRACE_ID}-{PARENT}7-01"))],
        vec![("traceparent", format!("00-{TRACE_ID}-{}-01", &PARENT[1..]))],
        vec![("traceparent", format!("00-{TRACE_ID}-{PARENT}-.0"))],
        vec![("traceparent", format!("00-{TRACE_ID}-{PARENT}-001"))],
        vec![("traceparent", format!("00-{TRACE_ID}-{PARENT}-1"))],
    ];
    for headers in restarts {
        let pairs: Vec<(&str, &str)> = headers.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let (tp, _, _) = h.one(&pairs).await;
        assert_ne!(tp.trace_id().to_string(), TRACE_ID, "{headers:?}");
        assert!(tp.is_valid());
    }
}

#[tokio::test]
async fn a_new_parent_id_for_each_call_and_the_random_flag_kept() {
    let h = Harness::start().await;
    let seen = h
        .run(&[("traceparent", &format!("00-{TRACE_ID}-{PARENT}-03"))], 3)
        .await;
    let parents: Vec<TraceParent> = seen
        .iter()
        .map(|h| h["traceparent"].to_str().unwrap().parse().unwrap())
        .collect();
    assert!(
        parents
            .iter()
            .all(|tp| tp.trace_id().to_string() == TRACE_ID)
    );
    let ids: HashSet<_> = parents.iter().map(TraceParent::parent_id).collect();
    assert_eq!(ids.len(), 3, "each outgoing call has its own parent-id");
    assert!(
        parents
            .iter()
            .all(|tp| tp.flags().is_random() && tp.flags().is_sampled()),
        "flags kept"
    );

    // Level 2: an unset random flag stays unset on the same trace-id.
    let (tp, _, _) = h
        .one(&[("traceparent", &format!("00-{TRACE_ID}-{PARENT}-01"))])
        .await;
    assert!(!tp.flags().is_random());
}

#[tokio::test]
async fn tracestate_processing() {
    let h = Harness::start().await;
    let tp = format!("00-{TRACE_ID}-{PARENT}-00");

    // Passed on, several lines combined in order.
    let (_, state, _) = h
        .one(&[
            ("traceparent", &tp),
            ("tracestate", "foo=1,bar=2"),
            ("tracestate", "rojo=1,congo=2"),
            ("tracestate", "baz=3"),
        ])
        .await;
    assert_eq!(state, "foo=1,bar=2,rojo=1,congo=2,baz=3");

    // Without a valid traceparent it is not used.
    let (_, state, _) = h.one(&[("tracestate", "foo=1")]).await;
    assert_eq!(state, "");

    // Empty headers are accepted and never sent.
    let (_, state, headers) = h.one(&[("traceparent", &tp), ("tracestate", "")]).await;
    assert_eq!(state, "");
    assert!(
        headers.get("tracestate").is_none(),
        "an empty tracestate is not sent"
    );
    let (_, state, _) = h
        .one(&[
            ("traceparent", &tp),
            ("tracestate", "foo=1"),
            ("tracestate", ""),
        ])
        .await;
    assert_eq!(state, "foo=1");

    // OWS around members.
    let (_, state, _) = h
        .one(&[
            ("traceparent", &tp),
            ("tracestate", "foo=1 \t , \t bar=2, \t baz=3"),
        ])
        .await;
    let members: Vec<_> = state.split(',').map(str::trim).collect();
    assert_eq!(members, ["foo=1", "bar=2", "baz=3"]);

    // 32 members are kept; 33 discard the list.
    let members = |n: usize| {
        (1..=n)
            .map(|i| format!("bar{i:02}={i:02}"))
            .collect::<Vec<_>>()
            .join(",")
    };
    let (_, state, _) = h
        .one(&[("traceparent", &tp), ("tracestate", &members(32))])
        .await;
    assert_eq!(state.split(',').count(), 32);
    let (_, state, _) = h
        .one(&[("traceparent", &tp), ("tracestate", &members(33))])
        .await;
    assert_eq!(state, "");

    // Invalid keys and values discard the list; the traceparent is kept.
    for bad in [
        "foo =1",
        "FOO=1",
        "foo.bar=1",
        "foo=bar=baz",
        "foo=,bar=3",
        &format!("{}=1", "z".repeat(257)),
    ] {
        let (kept, state, _) = h.one(&[("traceparent", &tp), ("tracestate", bad)]).await;
        assert_eq!(state, "", "{bad:?}");
        assert_eq!(kept.trace_id().to_string(), TRACE_ID, "{bad:?}");
    }
    let key_256 = format!("{}=1", "z".repeat(256));
    let (_, state, _) = h
        .one(&[("traceparent", &tp), ("tracestate", &key_256)])
        .await;
    assert_eq!(state, key_256);
}

#[tokio::test]
async fn baggage_processing() {
    let h = Harness::start().await;
    // Propagated with or without a trace, in order, combined across lines.
    let (_, _, headers) = h
        .one(&[
            ("baggage", "userId=alice"),
            ("baggage", "serverNode=DF%2028,isProduction=false"),
        ])
        .await;
    assert_eq!(
        headers["baggage"],
        "userId=alice,serverNode=DF%2028,isProduction=false"
    );

    // At most 64 members, whole members only.
    let many: String = (0..100)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    let (_, _, headers) = h.one(&[("baggage", &many)]).await;
    let sent = headers["baggage"].to_str().unwrap();
    assert_eq!(sent.split(',').count(), 64);
    assert!(
        sent.split(',')
            .all(|m| m.starts_with('k') && m.ends_with("=v"))
    );
}
