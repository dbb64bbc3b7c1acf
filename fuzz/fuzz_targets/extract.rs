//! Extraction from a whole request's headers: arbitrary names (a few of
//! ours among them, B3's and Jaeger's too), values and repeated lines,
//! under every propagator option and order of formats. Never a panic; what is extracted is within the limits, and
//! written out and read back it is the same.
#![no_main]

use http::{HeaderMap, HeaderName, HeaderValue};
use libfuzzer_sys::fuzz_target;
use trace_core::{Propagate, Propagator, TraceContext, limits};

const NAMES: [&str; 16] = [
    "traceparent",
    "tracestate",
    "baggage",
    "x-request-id",
    "x-correlation-id",
    "request-id",
    "TraceParent",
    "user-agent",
    "b3",
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-sampled",
    "x-b3-flags",
    "uber-trace-id",
    "uberctx-tenant",
    "uberctx-UserId",
];

fn propagator(choice: u8) -> Propagator {
    let fields = [
        Propagate::ALL,
        Propagate::TRACEPARENT | Propagate::TRACESTATE,
        Propagate::BAGGAGE | Propagate::CORRELATION_ID,
        Propagate::NONE,
    ][usize::from(choice & 3)];
    let formats = [
        "tracecontext,baggage",
        "tracecontext,baggage,b3,b3multi,jaeger",
        "jaeger,b3multi,baggage,tracecontext",
        "b3",
    ][usize::from(choice >> 4 & 3)];
    let propagator = Propagator::from_env_value(Some(formats))
        .unwrap()
        .propagating(fields);
    match choice >> 2 & 3 {
        0 => propagator,
        1 => propagator.correlation_header(HeaderName::from_static("request-id")),
        2 => propagator.also_read_correlation_from(HeaderName::from_static("request-id")),
        _ => Propagator::from_env_value(Some("tracecontext")).unwrap(),
    }
}

fuzz_target!(|data: &[u8]| {
    let Some((&choice, rest)) = data.split_first() else {
        return;
    };
    // Lines split by 0x00; a line's first byte picks one of our names (or,
    // past them, the rest up to 0x01 is the name itself).
    let mut headers = HeaderMap::new();
    for line in rest.split(|&b| b == 0) {
        let Some((&pick, line)) = line.split_first() else {
            continue;
        };
        let (name, value) = match NAMES.get(usize::from(pick)) {
            Some(name) => (HeaderName::from_bytes(name.as_bytes()).ok(), line),
            None => match line.iter().position(|&b| b == 1) {
                Some(at) => (HeaderName::from_bytes(&line[..at]).ok(), &line[at + 1..]),
                None => (None, line),
            },
        };
        if let (Some(name), Ok(value)) = (name, HeaderValue::from_bytes(value)) {
            headers.append(name, value);
        }
    }
    let propagator = propagator(choice);
    let incoming = propagator.extract(&headers);
    assert!(incoming.baggage.len() <= limits::BAGGAGE_MAX_MEMBERS);
    let baggage_len = incoming.baggage.header_value().map_or(0, HeaderValue::len);
    assert!(baggage_len <= limits::BAGGAGE_MAX_BYTES);
    assert!(incoming.trace_state.len() <= limits::TRACESTATE_MAX_MEMBERS);
    if incoming.parent.is_none() {
        assert!(incoming.trace_state.is_empty(), "no tracestate without a parent");
    }
    if let Some(id) = &incoming.correlation_id {
        assert!(id.as_str().len() <= limits::CORRELATION_ID_MAX_LEN);
    }

    // Written out and read back: the same.
    let Some(remote) = incoming.clone().into_remote_context() else {
        return;
    };
    let mut out = HeaderMap::new();
    propagator.inject(&remote, Propagate::ALL, &mut out);
    let again = propagator.extract(&out);
    assert_eq!(again.parent.map(|p| (p.trace_id(), p.parent_id())), incoming.parent.map(|p| (p.trace_id(), p.parent_id())));
    assert_eq!(again.parent.map(|p| p.flags().is_sampled()), incoming.parent.map(|p| p.flags().is_sampled()));
    assert_eq!(again.trace_state.to_string(), incoming.trace_state.to_string());
    assert_eq!(again.baggage, incoming.baggage);
    assert_eq!(again.correlation_id, incoming.correlation_id);
    let _ = TraceContext::current();
});
