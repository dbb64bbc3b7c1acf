//! A trust policy that reads the connection's peer on a server that does
//! not know it says so, once, with the fix; a policy that never reads the
//! peer, or a server that knows it, says nothing. Its own binary: the
//! warning is said once per process.

use http::Request;
use trace_core::{RequestInfo, ServerTracing, Trust};

const CALLER: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn request() -> Request<()> {
    Request::builder()
        .header("traceparent", CALLER)
        .body(())
        .unwrap()
}

#[test]
fn said_once_and_only_when_the_peer_is_read_and_unknown() {
    // A policy that never reads the peer.
    let started = ServerTracing::new().start(&request(), None, None);
    assert_eq!(started.context.trace_id().to_string(), &CALLER[3..35]);
    assert!(
        !trace_core::__warned_no_peer(),
        "nothing read, nothing said"
    );

    // A policy that reads it, on a server that knows it.
    let by_peer =
        ServerTracing::new().trust(Trust::CONTINUE.when(|r: &RequestInfo<'_>| r.peer_is_private()));
    let started = by_peer.start(&request(), None, Some("127.0.0.1:4000".parse().unwrap()));
    assert_eq!(
        started.context.trace_id().to_string(),
        &CALLER[3..35],
        "trusted"
    );
    assert!(!trace_core::__warned_no_peer(), "the peer was known");

    // The same policy, on a server that does not know it.
    let started = by_peer.start(&request(), None, None);
    assert_ne!(
        started.context.trace_id().to_string(),
        &CALLER[3..35],
        "restarted"
    );
    assert!(trace_core::__warned_no_peer(), "said");
    // Said once: the flag is the once (see `warn_once`); a second request
    // goes the same way, silently.
    let started = by_peer.start(&request(), None, None);
    assert_ne!(started.context.trace_id().to_string(), &CALLER[3..35]);
}
