//! Any lines: never a panic; what is kept fits the limits and parses back
//! to itself, strictly.
#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use trace_core::Baggage;

fuzz_target!(|data: &[u8]| {
    let lines: Vec<HeaderValue> = data
        .split(|&b| b == 0)
        .filter_map(|line| HeaderValue::from_bytes(line).ok())
        .collect();
    let (baggage, _) = Baggage::from_header_values(&lines);
    let text = baggage.header_value().map_or(&b""[..], HeaderValue::as_bytes);
    assert!(text.len() <= 8192);
    assert!(baggage.len() <= 64);
    assert_eq!(Baggage::try_from(text), Ok(baggage.clone()));
    for member in &baggage {
        let _ = member.value();
        member.properties().for_each(|p| drop(p.value()));
    }
    let _ = Baggage::try_from(data);
});
