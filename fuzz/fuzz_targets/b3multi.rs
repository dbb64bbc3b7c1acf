//! Any values (and repeated lines) of the `X-B3-*` headers, read by a
//! propagator that takes B3 only: never a panic; a context read is valid,
//! and written out as `X-B3-*` and read back it is the same.
#![no_main]

use http::{HeaderMap, HeaderValue};
use libfuzzer_sys::fuzz_target;
use trace_core::{Propagate, Propagator, propagation::Format};

const NAMES: [&str; 6] = [
    "x-b3-traceid",
    "x-b3-spanid",
    "x-b3-parentspanid",
    "x-b3-sampled",
    "x-b3-flags",
    "b3",
];

fuzz_target!(|data: &[u8]| {
    let mut headers = HeaderMap::new();
    for line in data.split(|&b| b == 0) {
        let Some((&pick, value)) = line.split_first() else {
            continue;
        };
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(NAMES[usize::from(pick) % NAMES.len()], value);
        }
    }
    let propagator = Propagator::default().with_formats([Format::B3Multi]);
    let incoming = propagator.extract(&headers);
    let Some(remote) = incoming.clone().into_remote_context() else {
        return;
    };
    assert!(remote.trace_id().is_valid() && remote.span_id().is_valid());
    let mut out = HeaderMap::new();
    propagator.inject(&remote, Propagate::ALL, &mut out);
    assert!(!out.contains_key("x-b3-parentspanid") && !out.contains_key("b3"));
    let again = propagator.extract(&out);
    assert_eq!(again.parent, incoming.parent);
});
