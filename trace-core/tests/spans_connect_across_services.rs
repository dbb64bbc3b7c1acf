//! Two services, one trace: the span id a client injects is the span id it
//! records, so the recorded spans form one connected tree.

use http::HeaderMap;
use trace_core::{
    AlwaysOn, InMemoryRecorder, ParentBased, Propagate, Propagator, RequestInfo, Span, SpanKind,
    Status, TraceContext, Trust, TrustPolicy, record::SpanStart, sampling::Decision,
};

#[test]
fn server_client_server_is_one_connected_tree() {
    let store = InMemoryRecorder::new(64);
    let (a, b) = (store.service("a"), store.service("b"));
    let propagator = Propagator::default();
    let sampler = ParentBased::new(AlwaysOn);

    // Service A receives a request with no trace context.
    let a_server = propagator.extract(&HeaderMap::new()).start(
        Trust::CONTINUE,
        &sampler,
        "GET /",
        SpanKind::Server,
        &[],
    );
    let a_server_span = Span::start(
        &a,
        a_server.decision,
        SpanStart::new(&a_server.context, "GET /", SpanKind::Server),
        Vec::new,
    );

    // A calls B.
    let a_client = TraceContext::start_child(
        Some(&a_server.context),
        &sampler,
        "GET",
        SpanKind::Client,
        &[],
    );
    let a_client_span = Span::start(
        &a,
        a_client.decision,
        SpanStart::new(&a_client.context, "GET", SpanKind::Client),
        Vec::new,
    );
    let mut wire = HeaderMap::new();
    propagator.inject(&a_client.context, Propagate::ALL, &mut wire);

    // B receives it.
    let b_server =
        propagator
            .extract(&wire)
            .start(Trust::CONTINUE, &sampler, "GET /b", SpanKind::Server, &[]);
    Span::start(
        &b,
        b_server.decision,
        SpanStart::new(&b_server.context, "GET /b", SpanKind::Server),
        Vec::new,
    )
    .end(Status::Unset, Vec::new());
    a_client_span.end(Status::Unset, Vec::new());
    a_server_span.end(Status::Unset, Vec::new());

    let spans = store.finished();
    assert_eq!(spans.len(), 3);
    let find = |service: &str, kind: SpanKind| {
        spans
            .iter()
            .find(|s| s.service.as_deref() == Some(service) && s.kind == kind)
            .unwrap()
    };
    let (root, client, server_b) = (
        find("a", SpanKind::Server),
        find("a", SpanKind::Client),
        find("b", SpanKind::Server),
    );
    assert!(
        spans.iter().all(|s| s.trace_id == root.trace_id),
        "one trace"
    );
    assert_eq!(root.parent_span_id, None);
    assert_eq!(client.parent_span_id, Some(root.span_id));
    assert!(!client.parent_is_remote);
    assert_eq!(
        server_b.parent_span_id,
        Some(client.span_id),
        "B's parent is A's client span"
    );
    assert!(server_b.parent_is_remote);
    assert_eq!(
        b_server.context.correlation_id(),
        a_server.context.correlation_id(),
        "the correlation ID made at A reaches B"
    );
}

#[test]
fn a_per_request_trust_policy_decides_per_request() {
    let policy = |req: &RequestInfo<'_>| {
        if req.peer_is_private() {
            Trust::CONTINUE
        } else {
            Trust::NEW_ROOT
        }
    };
    let mut headers = HeaderMap::new();
    let caller = TraceContext::new_root(true);
    Propagator::default().inject(&caller, Propagate::ALL, &mut headers);
    let uri = http::Uri::from_static("/");

    for (peer, same_trace) in [("10.0.0.7:5000", true), ("198.51.100.7:5000", false)] {
        let info = RequestInfo::new(&http::Method::GET, &uri, &headers).peer(peer.parse().unwrap());
        let started = Propagator::default().extract(&headers).start(
            policy.decide(&info),
            &AlwaysOn,
            "GET /",
            SpanKind::Server,
            &[],
        );
        assert_eq!(
            started.context.trace_id() == caller.trace_id(),
            same_trace,
            "{peer}"
        );
        assert_eq!(started.decision, Decision::RecordAndSample);
        if !same_trace {
            assert_eq!(
                started.context.link(),
                Some(caller.traceparent()),
                "the caller is linked"
            );
        }
    }
}
