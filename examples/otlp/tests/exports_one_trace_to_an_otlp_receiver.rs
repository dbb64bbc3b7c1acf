//! The example's binary, as a user runs it, against an OTLP/gRPC receiver
//! on 127.0.0.1. The services' export chain itself is checked end to end
//! in the workspace's `tests/` (`otlp_export_is_one_tree_per_trace.rs`).

use otlp_receiver::Receiver;

/// The binary, as a user runs it: two orders, the spans flushed to the
/// endpoint named by `OTEL_EXPORTER_OTLP_ENDPOINT`, and it ends by itself.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_runs_and_flushes_its_spans() {
    let receiver = Receiver::start().await.unwrap();
    let endpoint = receiver.endpoint().to_owned();
    let output = tokio::task::spawn_blocking(move || {
        std::process::Command::new(env!("CARGO_BIN_EXE_otlp"))
            .env("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
            .env_remove("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT")
            .output()
            .unwrap()
    })
    .await
    .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains("spans flushed to the OTLP endpoint"),
        "{stdout}"
    );
    assert_eq!(stdout.matches("x-request-id: ").count(), 2, "{stdout}");
    assert_eq!(receiver.spans().len(), 10);
}
