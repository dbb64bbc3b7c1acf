//! Any bytes as an `uber-trace-id`: never a panic; what is accepted is
//! written back as `{trace-id}:{span-id}:0:{flags}` in lowercase hex and
//! reads back the same, URL-encoded or not.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trace_core::codec::UberTraceId;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = UberTraceId::try_from(data) {
        assert!(id.trace_id().is_valid() && id.span_id().is_valid());
        assert!(!id.is_debug() || id.is_sampled(), "debug only with sampled");
        let text = id.to_string();
        assert!(text.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b) || b == b':'));
        assert_eq!(text.parse::<UberTraceId>(), Ok(id));
        assert_eq!(text.replace(':', "%3A").parse::<UberTraceId>(), Ok(id));
    }
});
