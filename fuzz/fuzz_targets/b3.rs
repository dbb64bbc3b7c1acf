//! Any bytes as a `b3` header: never a panic; what is accepted is written
//! back in lowercase hex, without a parent span id, and reads back the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trace_core::codec::B3;

fuzz_target!(|data: &[u8]| {
    if let Ok(b3) = B3::try_from(data) {
        let text = b3.to_string();
        assert!(text.len() <= 51, "{text}");
        assert!(text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b'-'));
        assert_eq!(text.parse::<B3>(), Ok(b3));
        if let Some(trace_id) = b3.trace_id() {
            assert!(trace_id.is_valid() && b3.span_id().is_some_and(|s| s.is_valid()));
        }
    }
});
