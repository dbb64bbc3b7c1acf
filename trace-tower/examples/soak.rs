//! The server half of the soak (`scripts/soak.sh`): an axum app on
//! 127.0.0.1 that records every request into a bounded in-memory store,
//! on one worker thread (the load generator gets the other core).
//!
//! Run: `cargo run --release -p trace-tower --features axum --example soak`.
//! It prints `listening on 127.0.0.1:PORT`; `GET /_stats` answers with the
//! store's span count, byte count and drops, and the process's RSS.

use axum::{Router, extract::Path, http::header::CONTENT_TYPE, routing::get};
use serde_json::{Value, json};
use tokio::net::TcpListener;
use trace_core::InMemoryRecorder;
use trace_tower::TraceContextLayer;

/// The store's bounds: 10,000 spans or 16 MiB, whichever comes first.
const SPANS: usize = 10_000;
const BYTES: usize = 16 << 20;

/// This process's resident set size in KiB, from `/proc/self/status`.
fn rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn main() -> std::io::Result<()> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let recorder = InMemoryRecorder::new(SPANS).max_bytes(BYTES);
        let stats = {
            let recorder = recorder.clone();
            move || {
                let recorder = recorder.clone();
                async move {
                    let stats = json!({
                        "spans": recorder.finished().len(),
                        "bytes": recorder.bytes(),
                        "dropped": recorder.dropped(),
                        "max_bytes": BYTES,
                        "rss_kib": rss_kib().map_or(Value::Null, Value::from),
                    });
                    ([(CONTENT_TYPE, "application/json")], stats.to_string())
                }
            }
        };
        let app = Router::new()
            .route("/", get(|| async { "ok" }))
            .route(
                "/items/{id}",
                get(|Path(id): Path<u64>| async move { format!("item {id}") }),
            )
            // Every other path (a 4,000-byte one too) is a page as well.
            .fallback(|| async { "page" })
            .layer(TraceContextLayer::new().recorder(recorder))
            .route("/_stats", get(stats));
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        println!("listening on {}", listener.local_addr()?);
        axum::serve(listener, app).await
    })
}
