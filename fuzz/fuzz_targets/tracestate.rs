//! Any lines: never a panic; what is accepted fits in 512 characters, has at
//! most 32 members and parses back to itself.
#![no_main]

use http::HeaderValue;
use libfuzzer_sys::fuzz_target;
use trace_core::TraceState;

fuzz_target!(|data: &[u8]| {
    // A 0x00 byte splits the input into several header lines.
    let lines: Vec<HeaderValue> = data
        .split(|&b| b == 0)
        .filter_map(|line| HeaderValue::from_bytes(line).ok())
        .collect();
    if let Ok(state) = TraceState::from_header_values(&lines) {
        let text = state.to_string();
        assert!(text.len() <= 512);
        assert!(state.len() <= 32);
        assert_eq!(state.is_empty(), text.is_empty());
        assert_eq!(text.parse::<TraceState>(), Ok(state));
    }
    let _ = TraceState::try_from(data);
});
