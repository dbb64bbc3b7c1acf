//! Runs the demo binary end to end (it exits by itself) and reads what it
//! printed: every request of the workload is one connected trace, the
//! failing call is an error, and the untrusted caller's trace is linked.

use std::process::Command;

fn demo(args: &[&str]) -> String {
    let output = Command::new(env!("CARGO_BIN_EXE_demo"))
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .output()
        .unwrap();
    let stdout = String::from_utf8(output.stdout).unwrap();
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    stdout
}

/// The waterfalls: each trace's header and span lines.
fn traces(out: &str) -> Vec<Vec<&str>> {
    let mut traces = Vec::new();
    for block in out.split("\ntrace ").skip(1) {
        let block = block.split("\n\n").next().unwrap();
        traces.push(block.lines().collect());
    }
    traces
}

/// A span line's indentation in the name column: its depth.
fn depth(line: &str) -> usize {
    let name = &line[13..];
    (name.len() - name.trim_start().len()) / 2
}

#[test]
fn seven_requests_seven_connected_traces() {
    let out = demo(&[]);
    let traces = traces(&out);
    assert_eq!(traces.len(), 7, "{out}");
    for trace in &traces {
        let spans: Vec<_> = trace
            .iter()
            .filter(|l| l.starts_with("  ") && l.contains('|'))
            .collect();
        let roots = spans.iter().filter(|l| depth(l) == 0).count();
        assert_eq!(roots, 1, "one root: {trace:#?}");
        assert!(
            spans[0].contains("gateway    GET /checkout/{item}"),
            "{trace:#?}"
        );
    }
    // Five spans each, but the one whose users call fails stops there.
    let sizes: Vec<_> = traces
        .iter()
        .map(|t| t.iter().filter(|l| l.contains('|')).count())
        .collect();
    assert_eq!(sizes, [5, 5, 3, 5, 5, 5, 5], "{out}");

    let failed = traces
        .iter()
        .find(|t| t[1].contains("the users service fails"))
        .unwrap();
    assert!(
        failed
            .iter()
            .any(|l| l.contains("users") && l.ends_with("ERROR 500")),
        "{failed:#?}"
    );
    assert!(
        failed[2].ends_with("ERROR 502"),
        "the gateway answers 502: {failed:#?}"
    );

    let partner = traces.iter().find(|t| t[1].contains("a partner")).unwrap();
    assert!(
        partner[0].starts_with("0af7651916cd43dd8448eb211c80319c"),
        "continued: {partner:#?}"
    );
    let untrusted = traces.iter().find(|t| t[1].contains("untrusted")).unwrap();
    assert!(
        !untrusted[0].starts_with("0af7651916cd43dd8448eb211c80319c"),
        "{untrusted:#?}"
    );
    assert!(
        untrusted[2].contains("linked to its trace 0af7651916cd43dd8448eb211c80319c"),
        "{untrusted:#?}"
    );

    assert!(out.contains("7 traces, 33 spans"), "{out}");
    assert!(out.contains("gateway -> users (HTTP, 7 calls)"), "{out}");
    assert!(
        out.contains("gateway -> inventory (gRPC, 6 calls)"),
        "{out}"
    );
    assert!(!out.contains('\x1b'), "NO_COLOR: no escape codes");
}

#[test]
fn queries_select_traces() {
    let errors = demo(&["--errors"]);
    assert_eq!(traces(&errors).len(), 2, "{errors}");
    let slow = demo(&["--min-duration", "100ms"]);
    let slow_traces = traces(&slow);
    assert_eq!(slow_traces.len(), 1, "{slow}");
    assert!(slow_traces[0][1].contains("slow"), "{slow}");
    let inventory = demo(&["--service", "inventory"]);
    assert_eq!(traces(&inventory).len(), 6, "{inventory}");
}
