//! Runs the example (it exits by itself) and reads what it sent.

use std::process::Command;

#[test]
fn each_call_carries_the_trace_with_its_own_span_id() {
    let output = Command::new(env!("CARGO_BIN_EXE_reqwest-client"))
        .output()
        .unwrap();
    assert!(output.status.success());
    let out = String::from_utf8(output.stdout).unwrap();
    let trace_id = out.lines().next().unwrap().strip_prefix("trace ").unwrap();
    let parents: Vec<&str> = out
        .lines()
        .filter_map(|l| l.trim().strip_prefix("traceparent: "))
        .collect();
    assert_eq!(parents.len(), 2, "{out}");
    for parent in &parents {
        assert_eq!(&parent[3..35], trace_id, "{out}");
    }
    assert_ne!(parents[0], parents[1], "a new span id per call: {out}");
    assert_eq!(out.matches("baggage: tenant=acme").count(), 2, "{out}");
    assert_eq!(out.matches("x-request-id: (none)").count(), 0, "{out}");
}
