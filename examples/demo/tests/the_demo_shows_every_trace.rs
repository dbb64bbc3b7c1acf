//! Runs the demo binary end to end (it exits by itself) and reads what it
//! printed: every request of the workload is one connected trace, the
//! failing call is an error, and the untrusted caller's trace is linked.

use std::{
    collections::{BTreeMap, BTreeSet},
    io::{BufRead, BufReader, Read},
    process::{Command, Stdio},
};

use tokio::sync::Mutex;

use otlp_receiver::Receiver;

/// The demo, without colour and without an OTLP endpoint from the
/// environment the tests run in.
fn command(args: &[&str]) -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_demo"));
    command
        .args(args)
        .env("NO_COLOR", "1")
        .env_remove("OTEL_EXPORTER_OTLP_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
        .env_remove("OTEL_EXPORTER_OTLP_PROTOCOL")
        .env_remove("OTEL_TRACES_SAMPLER")
        .env_remove("OTEL_SDK_DISABLED")
        .env_remove("OTEL_PROPAGATORS");
    command
}

fn demo(args: &[&str]) -> String {
    run(command(args))
}

/// One demo process at a time: on a 2-core machine, four at once would
/// slow each other down, and the durations they print with them.
static ONE_AT_A_TIME: Mutex<()> = Mutex::const_new(());

fn run(mut command: Command) -> String {
    let _one = ONE_AT_A_TIME.blocking_lock();
    let output = command.output().unwrap();
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
    // Six spans each (the gateway's own `price.quote` among them), but the
    // one whose users call fails stops there, and the unknown item gets no
    // price.
    let sizes: Vec<_> = traces
        .iter()
        .map(|t| t.iter().filter(|l| l.contains('|')).count())
        .collect();
    assert_eq!(sizes, [6, 6, 3, 5, 6, 6, 6], "{out}");
    assert!(
        traces[0]
            .iter()
            .any(|l| l.contains("price.quote") && l.contains("internal")),
        "the gateway's own span: {:#?}",
        traces[0]
    );
    assert!(
        traces[0]
            .iter()
            .any(|l| l.contains("* discount.applied") && l.contains("discount.percent=10")),
        "its event: {:#?}",
        traces[0]
    );

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
    assert!(
        failed.iter().any(|l| l.contains("* exception")
            && l.contains("exception.message=the user's record is corrupt")),
        "the exception where it failed: {failed:#?}"
    );

    // Client spans say where they went; the first trace shows the headers
    // the gateway sent users; the 404's split verdict is explained.
    let first = &traces[0];
    assert!(
        first
            .iter()
            .any(|l| l.contains("GET /users/{id}") && l.contains("client")),
        "{first:#?}"
    );
    let wire = first
        .iter()
        .position(|l| l.contains("on the wire, gateway -> users:"));
    let wire = wire.unwrap_or_else(|| panic!("{first:#?}"));
    assert!(first[wire + 1].contains(&format!("traceparent: 00-{}-", &first[0][..32])));
    assert!(
        first
            .iter()
            .any(|l| l.trim_start().starts_with("x-request-id: "))
    );
    let missing = traces
        .iter()
        .find(|t| t[1].contains("does not know"))
        .unwrap();
    assert!(
        missing
            .iter()
            .any(|l| l.contains("the caller's errors, not the server's"))
    );
    assert_eq!(out.matches("on the wire").count(), 1, "once");

    // Both outside callers send the same traceparent, new in each run:
    // the partner's trace continues it, the untrusted caller's links to it.
    let untrusted = traces.iter().find(|t| t[1].contains("untrusted")).unwrap();
    let outside = untrusted[2]
        .split("linked to its trace ")
        .nth(1)
        .and_then(|rest| rest.split(' ').next())
        .unwrap_or_else(|| panic!("{untrusted:#?}"));
    assert_eq!(outside.len(), 32, "{untrusted:#?}");
    assert!(!untrusted[0].starts_with(outside), "{untrusted:#?}");
    let partner = traces.iter().find(|t| t[1].contains("a partner")).unwrap();
    assert!(partner[0].starts_with(outside), "continued: {partner:#?}");

    assert!(out.contains("7 traces, 38 spans"), "{out}");
    // The edge trusts the partner's key only: the partner's baggage is
    // kept, the untrusted caller's is dropped before any service sees it.
    assert!(
        out.contains("baggage sent and kept: the services saw tenant acme"),
        "{out}"
    );
    assert!(
        out.contains("baggage sent, dropped at the edge: the services saw no tenant"),
        "{out}"
    );
    assert!(!out.contains("spoofed"), "{out}");
    assert!(out.contains("gateway -> users (HTTP, 7 calls)"), "{out}");
    assert!(
        out.contains("gateway -> inventory (gRPC, 6 calls)"),
        "{out}"
    );
    // RED per service and operation: the gateway's seven checkouts, one
    // failed (?user=broken), its calls to users named by their template.
    let red: Vec<&str> = out
        .split("rate, errors, duration")
        .nth(1)
        .unwrap_or_else(|| panic!("{out}"))
        .lines()
        .collect();
    let row = |kind: &str, operation: &str| {
        red.iter()
            .find(|l| l.contains(&format!("{kind:<8} {operation} ")))
            .unwrap_or_else(|| panic!("{kind} {operation}: {red:#?}"))
            .split_whitespace()
            .collect::<Vec<_>>()
            .join(" ")
    };
    let checkout = row("server", "GET /checkout/{item}");
    assert!(checkout.contains(" 7 spans "), "{checkout}");
    assert!(checkout.contains(" 14% errors "), "{checkout}");
    assert!(row("client", "GET /users/{id}").contains(" 7 spans "));
    assert!(row("server", "inventory.v1.Inventory/GetStock").contains(" 6 spans 6.0/s 0% errors"));
    assert!(!out.contains('\x1b'), "NO_COLOR: no escape codes");
}

#[test]
fn queries_select_traces() {
    let errors = demo(&["--errors"]);
    assert_eq!(traces(&errors).len(), 2, "{errors}");
    // The slow step sleeps 400 ms, so its trace lasts at least that however
    // loaded the machine is; the others would have to be slowed down to
    // 400 ms to be selected too.
    let slow = demo(&["--min-duration", "400ms"]);
    let slow_traces = traces(&slow);
    assert_eq!(slow_traces.len(), 1, "{slow}");
    assert!(slow_traces[0][1].contains("slow"), "{slow}");
    let inventory = demo(&["--service", "inventory"]);
    assert_eq!(traces(&inventory).len(), 6, "{inventory}");
}

/// The trace ids of the waterfalls, in order.
fn trace_ids<'a>(traces: &[Vec<&'a str>]) -> Vec<&'a str> {
    traces.iter().map(|t| &t[0][..32]).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_sends_every_span_to_the_endpoint() {
    let receiver = Receiver::start().await.unwrap();
    let mut command = command(&["--otlp"]);
    command.env("OTEL_EXPORTER_OTLP_ENDPOINT", receiver.endpoint());
    let out = tokio::task::spawn_blocking(move || run(command))
        .await
        .unwrap();
    assert!(out.contains("(also exporting over OTLP)"), "{out}");
    assert!(out.contains("spans sent over OTLP"), "{out}");

    // What was exported is what was shown: the same 7 traces, the same
    // 38 spans, each trace one tree.
    let spans = receiver.spans();
    assert_eq!(spans.len(), 38, "{spans:#?}");
    let shown = traces(&out);
    let exported: BTreeSet<String> = spans.iter().map(|s| s.trace_id()).collect();
    let printed: BTreeSet<String> = trace_ids(&shown).into_iter().map(str::to_owned).collect();
    assert_eq!(exported, printed);
    let mut by_trace: BTreeMap<String, Vec<_>> = BTreeMap::new();
    for span in &spans {
        by_trace.entry(span.trace_id()).or_default().push(span);
    }
    for (trace_id, trace) in &by_trace {
        let ids: BTreeSet<String> = trace.iter().map(|s| s.span_id()).collect();
        let roots: Vec<_> = trace
            .iter()
            .filter(|s| !ids.contains(&s.parent_id()))
            .collect();
        assert_eq!(roots.len(), 1, "{trace_id}: one root: {trace:#?}");
        assert_eq!(roots[0].service, "gateway");
        assert_eq!(roots[0].span.name, "GET /checkout/{item}");
        let services: BTreeSet<&str> = trace.iter().map(|s| s.service.as_str()).collect();
        assert!(services.contains("users"), "{trace:#?}");
    }

    // The failing users call is an error on both sides, and the
    // gateway's span too (it answers 502).
    let failed = trace_ids(&shown)[2];
    let errors: BTreeSet<_> = by_trace[failed]
        .iter()
        .filter(|s| s.is_error())
        .map(|s| (s.service.as_str(), s.span.name.as_str()))
        .collect();
    assert_eq!(
        errors,
        BTreeSet::from([
            ("gateway", "GET /checkout/{item}"),
            ("gateway", "GET /users/{id}"),
            ("users", "GET /users/{id}"),
        ])
    );

    // The partner's trace continues; the untrusted caller's root is
    // linked to the trace it sent.
    let ids = trace_ids(&shown);
    let untrusted = by_trace[ids[6]]
        .iter()
        .find(|s| s.span.parent_span_id.is_empty())
        .unwrap();
    let linked: Vec<String> = untrusted
        .span
        .links
        .iter()
        .map(|l| l.trace_id.iter().map(|b| format!("{b:02x}")).collect())
        .collect();
    assert_eq!(linked, [ids[5]], "{untrusted:#?}");
}

/// `--serve` keeps the services up after the workload; a request sent
/// then is one more trace, shown when the demo is interrupted.
#[cfg(unix)]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn serve_keeps_serving_until_interrupted() {
    /// Ends the demo if the test fails before it does.
    struct Running(std::process::Child);
    impl Drop for Running {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }

    let _one = ONE_AT_A_TIME.lock().await;
    let mut child = Running(
        command(&["--serve"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let mut stdout = BufReader::new(child.0.stdout.take().unwrap());
    let (stdout, url, partner, viewer) = tokio::task::spawn_blocking(move || {
        let mut url = None;
        let mut partner = None;
        let mut viewer = None;
        let mut line = String::new();
        loop {
            line.clear();
            assert_ne!(stdout.read_line(&mut line).unwrap(), 0, "ended early");
            if let Some(rest) = line.trim().strip_prefix("curl -i http://") {
                url.get_or_insert_with(|| format!("http://{rest}"));
            }
            if let Some(sent) = line.split("-H 'traceparent: ").nth(1) {
                partner = sent.get(3..35).map(str::to_owned);
            }
            if let Some(at) = line.trim().strip_prefix("the traces in a browser: ") {
                viewer = Some(at.to_owned());
            }
            if line.starts_with("Ctrl-C") {
                return (
                    stdout,
                    url.expect("a curl line"),
                    partner.expect("a partner line"),
                    viewer.expect("the viewer's URL"),
                );
            }
        }
    })
    .await
    .unwrap();

    // The viewer holds the workload's traces.
    let listed = reqwest::get(format!("{viewer}api/traces"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let listed: serde_json::Value = serde_json::from_str(&listed).unwrap();
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(7), "{listed}");
    let response = reqwest::Client::new()
        .get(&url)
        .header("x-request-id", "tried-with-curl")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-request-id"], "tried-with-curl");
    let timing = response.headers()["server-timing"].to_str().unwrap();
    let trace_id = timing.strip_prefix("trace;desc=00-").unwrap()[..32].to_owned();
    response.bytes().await.unwrap();

    // Ctrl-C, as a user would.
    let interrupted = Command::new("sh")
        .args(["-c", &format!("kill -INT {}", child.0.id())])
        .status()
        .unwrap();
    assert!(interrupted.success());
    let out = tokio::task::spawn_blocking(move || {
        let mut rest = String::new();
        let mut stdout = stdout;
        stdout.read_to_string(&mut rest).unwrap();
        let status = child.0.wait().unwrap();
        assert!(status.success(), "{rest}");
        rest
    })
    .await
    .unwrap();
    let shown = traces(&out);
    assert_eq!(shown.len(), 8, "the workload's 7 and ours: {out}");
    // The partner line's trace is its own, not one of the workload's.
    assert!(
        !trace_ids(&shown).contains(&partner.as_str()),
        "{partner}: {out}"
    );
    assert_eq!(trace_ids(&shown)[7], trace_id, "{out}");
    assert_eq!(
        shown[7].iter().filter(|l| l.contains('|')).count(),
        6,
        "{out}"
    );
}
