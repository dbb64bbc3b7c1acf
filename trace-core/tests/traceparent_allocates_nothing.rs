//! Parsing and formatting `traceparent` must not touch the heap; nor
//! parsing B3's `b3` and Jaeger's `uber-trace-id`.
//!
//! This file is its own test binary because `allocation-counter` installs
//! its counting global allocator in the binary that uses it. Counting is per
//! thread, so tests running side by side do not disturb each other.

use std::hint::black_box;

use allocation_counter::measure;
use trace_core::{SpanId, TraceFlags, TraceId, TraceParent};

const INPUTS: &[&str] = &[
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03-future-fields",
    " \t00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00\t ",
    // Rejected inputs must not allocate either: errors are plain values.
    "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
    "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
    "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "garbage",
];

#[test]
fn the_allocator_counts() {
    // Without this the other tests could pass by counting nothing.
    let info = measure(|| {
        black_box(Box::new(black_box(1u8)));
    });
    assert_eq!(info.count_total, 1);
}

#[test]
fn parsing_does_not_allocate() {
    for input in INPUTS {
        let info = measure(|| {
            let _ = black_box(black_box(*input).parse::<TraceParent>());
            let _ = black_box(TraceParent::try_from(black_box(input.as_bytes())));
        });
        assert_eq!(info.count_total, 0, "{input:?}");
    }
}

#[test]
fn parsing_b3_and_jaeger_ids_does_not_allocate() {
    use trace_core::codec::{B3, UberTraceId};
    for input in [
        "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90",
        "64fe8b2a57d3eff7-e457b5a2e4d86bd1",
        "d",
        "80F198EE56343BA864FE8B2A57D3EFF7-E457B5A2E4D86BD1",
        "garbage-garbage-garbage",
    ] {
        let info = measure(|| {
            let _ = black_box(black_box(input).parse::<B3>());
        });
        assert_eq!(info.count_total, 0, "{input:?}");
    }
    for input in [
        "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1",
        "abc%3Adef%3A0%3A3",
        "ABC:DEF:0:1",
        "%zz",
        "1:2:3",
    ] {
        let info = measure(|| {
            let _ = black_box(black_box(input).parse::<UberTraceId>());
        });
        assert_eq!(info.count_total, 0, "{input:?}");
    }
}

#[test]
fn formatting_does_not_allocate() {
    let tp = TraceParent::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    let info = measure(|| {
        black_box(black_box(tp).encode());
        black_box(black_box(tp.trace_id()).to_hex());
        black_box(black_box(tp.parent_id()).to_hex());
    });
    assert_eq!(info.count_total, 0);
}

#[test]
fn making_a_child_does_not_allocate() {
    let tp = TraceParent::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    // Warm the thread's generator: it is created once per thread, on first use.
    black_box(SpanId::random());
    let info = measure(|| {
        let child = black_box(tp).with_parent_id(SpanId::random());
        black_box(child.encode());
        let root = TraceParent::new(TraceId::random(), SpanId::random(), TraceFlags::RANDOM);
        black_box(root.encode());
    });
    assert_eq!(info.count_total, 0);
}

#[test]
fn writing_the_header_allocates_once() {
    // The header value owns its bytes: that one allocation is the floor.
    let tp = TraceParent::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    let info = measure(|| {
        black_box(black_box(tp).to_header_value());
    });
    assert_eq!(info.count_total, 1);
}
