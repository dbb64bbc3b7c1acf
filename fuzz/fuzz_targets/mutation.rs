//! `TraceState` and `Baggage` mutation: any sequence of `insert` and
//! `remove` on any text, from any starting value. Never a panic; after
//! every step the value is within its limits, and formatted and parsed back
//! it is the same.
#![no_main]

use libfuzzer_sys::fuzz_target;
use trace_core::{Baggage, TraceState, limits};

fuzz_target!(|data: &[u8]| {
    // Steps split by 0x00: the first byte says what to do, the rest up to
    // 0x01 is the key and after it the value.
    let mut steps = data.split(|&b| b == 0);
    let start = String::from_utf8_lossy(steps.next().unwrap_or_default());
    let mut state: TraceState = start.parse().unwrap_or_default();
    let mut baggage: Baggage = start.parse().unwrap_or_default();
    for step in steps {
        let Some((&what, rest)) = step.split_first() else {
            continue;
        };
        let (key, value) = match rest.iter().position(|&b| b == 1) {
            Some(at) => (&rest[..at], &rest[at + 1..]),
            None => (rest, &b""[..]),
        };
        let (key, value) = (String::from_utf8_lossy(key), String::from_utf8_lossy(value));
        match what % 4 {
            0 => {
                let _ = state.insert(&key, &value);
            }
            1 => {
                state.remove(&key);
            }
            2 => {
                let _ = baggage.insert(&key, &value);
            }
            _ => {
                baggage.remove(&key);
            }
        }
        let text = state.to_string();
        assert!(state.len() <= limits::TRACESTATE_MAX_MEMBERS);
        assert!(text.len() <= limits::TRACESTATE_MAX_LEN);
        assert_eq!(text.parse::<TraceState>().unwrap_or_default().to_string(), text);
        let text = baggage
            .header_value()
            .map_or("", |v| v.to_str().expect("baggage is ASCII"));
        assert!(baggage.len() <= limits::BAGGAGE_MAX_MEMBERS);
        assert!(text.len() <= limits::BAGGAGE_MAX_BYTES);
        assert_eq!(text.parse::<Baggage>().unwrap_or_default(), baggage);
    }
});
