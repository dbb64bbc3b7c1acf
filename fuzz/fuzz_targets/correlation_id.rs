//! Any bytes: never a panic; what is accepted is the input itself, and holds
//! no byte that could split a header or a log line.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trace_core::CorrelationId;

fuzz_target!(|data: &[u8]| {
    if let Ok(id) = CorrelationId::try_from(data) {
        assert_eq!(id.as_str().as_bytes(), data);
        assert!(!data.is_empty() && data.len() <= 128);
        assert!(data.iter().all(|&b| (0x21..=0x7e).contains(&b) && !b"\"\\,".contains(&b)));
        assert_eq!(id.as_str().parse::<CorrelationId>(), Ok(id.clone()));
        let _ = id.to_header_value();
    }
});
