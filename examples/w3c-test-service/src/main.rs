//! Run with: `cargo run -p w3c-test-service -- --port 5000`
//!
//! Serves the W3C Trace Context test suite's test-service protocol on
//! 127.0.0.1 (see the README beside this file for running the suite), in
//! the formats `OTEL_PROPAGATORS` names.

use std::net::SocketAddr;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut port: u16 = 5000;
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--port" => port = args.next().ok_or("--port needs a number")?.parse()?,
            "--help" | "-h" => {
                println!(
                    "usage: w3c-test-service [--port PORT]   (default 5000, listens on 127.0.0.1)"
                );
                return Ok(());
            }
            other => return Err(format!("unknown argument {other:?}; try --help").into()),
        }
    }
    let listener = tokio::net::TcpListener::bind(SocketAddr::from(([127, 0, 0, 1], port))).await?;
    println!(
        "W3C trace-context test service on http://{}/test",
        listener.local_addr()?
    );
    axum::serve(listener, w3c_test_service::app()?).await?;
    Ok(())
}
