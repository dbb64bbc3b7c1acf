//! OTLP over TLS (feature `otlp-tls`), both transports, against local
//! receivers whose certificates a test CA (made with `rcgen`) signed:
//! `OtelSetup::from_env()` with an `https://` endpoint and
//! `OTEL_EXPORTER_OTLP_CERTIFICATE` exports there; without the CA it
//! exports nothing (the receiver is not trusted); with
//! `OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE` and `_CLIENT_KEY`, over mutual
//! TLS. Each set-up runs in a child process of this test, which is given
//! its variables (the environment is the process's).

use std::time::Duration;

use otlp_receiver::{Receiver, TestCertificates};
use trace_core::OtelSetup;

/// The child: set up from the environment it was given, export one server
/// span, shut down (flushing), and say how the set-up went.
async fn child() {
    let telemetry = match OtelSetup::from_env()
        .service_name("over-tls")
        .global(false)
        .install()
    {
        Ok(telemetry) => telemetry,
        Err(error) => {
            println!("SETUP-ERROR {error}");
            return;
        }
    };
    let tracing = telemetry.server_tracing();
    let started = tracing.start(&axum::http::Request::new(()), Some("/tls"), None);
    let (mut head, ()) = axum::http::Response::new(()).into_parts();
    drop(tracing.response(started.span, &started.context, &mut head, String::new()));
    // Dropping the telemetry flushes and shuts the provider down, off the
    // runtime's threads (the export may block).
    tokio::task::spawn_blocking(move || drop(telemetry))
        .await
        .unwrap();
    println!("EXPORTED");
}

/// This binary again, as the child, with these variables (and no other
/// OTLP ones): what it printed.
async fn run(variables: &[(&str, &str)]) -> String {
    let mut command = std::process::Command::new(std::env::current_exe().unwrap());
    command
        .args([
            "otlp_exports_over_tls_on_both_transports",
            "--exact",
            "--nocapture",
        ])
        .env("OTLP_TLS_CHILD", "1");
    for (name, _) in std::env::vars() {
        if name.starts_with("OTEL_") {
            command.env_remove(name);
        }
    }
    command.envs(variables.iter().copied());
    let out = tokio::task::spawn_blocking(move || command.output().unwrap())
        .await
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap()
}

/// What the receiver has once `wait` has passed or a span came.
async fn received(receiver: &Receiver, wait: Duration) -> usize {
    let deadline = tokio::time::Instant::now() + wait;
    while receiver.spans().is_empty() && tokio::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    receiver.spans().len()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn otlp_exports_over_tls_on_both_transports() {
    if std::env::var_os("OTLP_TLS_CHILD").is_some() {
        child().await;
        return;
    }
    let certificates = TestCertificates::new();
    let dir = std::env::temp_dir().join(format!("trace-rs-tls-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let file = |name: &str, pem: &str| {
        let path = dir.join(name);
        std::fs::write(&path, pem).unwrap();
        path.to_str().unwrap().to_owned()
    };
    let ca = file("ca.pem", &certificates.ca);
    let client = file("client.pem", &certificates.client);
    let client_key = file("client-key.pem", &certificates.client_key);

    for protocol in ["grpc", "http/protobuf"] {
        let start = || async {
            if protocol == "grpc" {
                Receiver::start_grpc_tls(&certificates, false)
                    .await
                    .unwrap()
            } else {
                Receiver::start_http_tls(&certificates).await.unwrap()
            }
        };
        // Trusted through OTEL_EXPORTER_OTLP_CERTIFICATE: the span arrives.
        let receiver = start().await;
        let out = run(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint()),
            ("OTEL_EXPORTER_OTLP_CERTIFICATE", &ca),
        ])
        .await;
        assert!(out.contains("EXPORTED"), "{protocol}: {out}");
        assert_eq!(
            received(&receiver, Duration::from_secs(10)).await,
            1,
            "{protocol}"
        );
        let span = &receiver.spans()[0];
        assert_eq!(
            (span.service.as_str(), span.span.name.as_str()),
            ("over-tls", "GET /tls")
        );

        // Not trusted (no CA given, the system's roots do not hold ours):
        // nothing arrives, and nothing fails the application.
        let receiver = start().await;
        let out = run(&[
            ("OTEL_EXPORTER_OTLP_PROTOCOL", protocol),
            ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", receiver.endpoint()),
        ])
        .await;
        assert!(out.contains("EXPORTED"), "{protocol}: {out}");
        assert_eq!(
            received(&receiver, Duration::from_secs(1)).await,
            0,
            "{protocol}: untrusted"
        );
    }

    // Mutual TLS over gRPC: the receiver asks for a client certificate.
    let receiver = Receiver::start_grpc_tls(&certificates, true).await.unwrap();
    let endpoint = receiver.endpoint().to_owned();
    let mutual = [
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", endpoint.as_str()),
        ("OTEL_EXPORTER_OTLP_CERTIFICATE", ca.as_str()),
        ("OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE", client.as_str()),
        ("OTEL_EXPORTER_OTLP_CLIENT_KEY", client_key.as_str()),
    ];
    let out = run(&mutual).await;
    assert!(out.contains("EXPORTED"), "mutual TLS: {out}");
    assert_eq!(
        received(&receiver, Duration::from_secs(10)).await,
        1,
        "mutual TLS"
    );

    // Half a client identity is refused at set-up, naming the variable.
    let out = run(&mutual[..4]).await;
    assert!(
        out.contains("SETUP-ERROR OTEL_EXPORTER_OTLP_CLIENT_CERTIFICATE"),
        "{out}"
    );

    // An endpoint that is not a URL is named as the user wrote it.
    let out = run(&[
        ("OTEL_EXPORTER_OTLP_PROTOCOL", "grpc"),
        ("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "not-a-url"),
    ])
    .await;
    assert!(
        out.contains("SETUP-ERROR OTEL_EXPORTER_OTLP_TRACES_ENDPOINT=\"not-a-url\""),
        "{out}"
    );
    assert!(!out.contains("https://not-a-url"), "{out}");
    let _ = std::fs::remove_dir_all(dir);
}
