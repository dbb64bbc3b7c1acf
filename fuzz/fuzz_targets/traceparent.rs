//! Any bytes: never a panic; what is accepted is written back as a version 00
//! value of 55 lowercase characters that parses to the same thing.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trace_core::TraceParent;

fuzz_target!(|data: &[u8]| {
    if let Ok(tp) = TraceParent::try_from(data) {
        assert!(tp.is_valid());
        let text = tp.encode();
        assert!(text.starts_with(b"00-"));
        assert!(text.iter().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b) || *b == b'-'));
        assert_eq!(TraceParent::try_from(&text[..]), Ok(tp));
    }
});
