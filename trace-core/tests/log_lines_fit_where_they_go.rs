//! `OtelSetup::with_subscriber`'s log lines (subscriber): plain text, with
//! no colour codes, when standard output is not a terminal (a file, a
//! pipe, a log collector); JSON lines with `RUST_LOG_FORMAT=json`; and an
//! error naming the variable for any other format. Each case runs in a
//! process of its own (the subscriber is global), this binary run again.
#![cfg(feature = "subscriber")]

use std::process::Command;

use http::Request;
use opentelemetry_sdk::trace::InMemorySpanExporter;
use trace_core::OtelSetup;

/// The child: installs, logs once inside a request's span.
fn child() {
    let telemetry = match OtelSetup::from_env()
        .exporter(InMemorySpanExporter::default())
        .global(false)
        .with_subscriber()
        .install()
    {
        Ok(telemetry) => telemetry,
        Err(error) => {
            println!("ERROR {error}");
            return;
        }
    };
    let tracing = telemetry.server_tracing();
    let started = tracing.start(&Request::new(()), None, None);
    let span = started.tracing_span.clone().expect("a tracing span");
    span.in_scope(|| tracing::info!("inside the request"));
    println!("TRACE {}", started.context.trace_id());
}

fn run(format: Option<&str>) -> String {
    let mut command = Command::new(std::env::current_exe().unwrap());
    command
        .args(["log_lines", "--exact", "--nocapture", "--test-threads=1"])
        .env("LOG_LINES_CHILD", "1")
        .env_remove("NO_COLOR")
        .env_remove("RUST_LOG");
    match format {
        Some(format) => command.env("RUST_LOG_FORMAT", format),
        None => command.env_remove("RUST_LOG_FORMAT"),
    };
    let out = command.output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn log_lines() {
    if std::env::var_os("LOG_LINES_CHILD").is_some() {
        child();
        return;
    }
    let text = run(None);
    let trace = text
        .lines()
        .find_map(|l| l.split_once("TRACE ").map(|(_, t)| t))
        .expect("ran");
    let line = text
        .lines()
        .find(|l| l.contains("inside the request"))
        .unwrap_or_else(|| panic!("{text}"));
    assert!(
        !line.contains('\u{1b}'),
        "no colour codes into a pipe: {line:?}"
    );
    assert!(line.contains(&format!("trace_id={trace}")), "{line}");

    let json = run(Some("json"));
    let trace = json
        .lines()
        .find_map(|l| l.split_once("TRACE ").map(|(_, t)| t))
        .expect("ran");
    let line = json
        .lines()
        .find(|l| l.contains("inside the request"))
        .unwrap_or_else(|| panic!("{json}"));
    // (The test harness's own "test log_lines ... " may share the line.)
    let line = &line[line.find('{').unwrap_or(0)..];
    assert!(
        line.starts_with('{') && line.ends_with('}'),
        "one JSON object a line: {line}"
    );
    assert!(
        line.contains(&format!("\"trace_id\":\"{trace}\"")),
        "{line}"
    );
    assert!(!line.contains('\u{1b}'));

    let refused = run(Some("yaml"));
    let error = refused
        .lines()
        .find_map(|l| l.split_once("ERROR ").map(|(_, e)| e))
        .unwrap_or_else(|| panic!("{refused}"));
    assert!(error.starts_with("RUST_LOG_FORMAT=\"yaml\""), "{error}");
}
