//! Run: `cargo run -p reqwest-client`
//!
//! A reqwest client with `TraceMiddleware`: every call made inside a trace
//! carries `traceparent` (a new span id per call), `tracestate`, `baggage`
//! and the correlation ID. To show what is sent, it calls a small server in
//! this process that answers with the headers it received, then exits.

use axum::{Router, http::HeaderMap, routing::get};
use reqwest_middleware::ClientBuilder;
use trace_core::{Baggage, CorrelationId, FutureExt as _, TraceContext};
use trace_reqwest::TraceMiddleware;

/// Answers with the trace headers it received.
async fn headers(headers: HeaderMap) -> String {
    ["traceparent", "baggage", "x-request-id"]
        .iter()
        .map(|name| {
            let value = headers.get(*name).and_then(|v| v.to_str().ok());
            format!("  {name}: {}\n", value.unwrap_or("(none)"))
        })
        .collect()
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let url = format!("http://{}/", listener.local_addr()?);
    tokio::spawn(axum::serve(listener, Router::new().route("/", get(headers))).into_future());

    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new())
        .build();

    // Inside a server this is the request's context, set by the server
    // layer; here a new trace, with baggage and a correlation ID, stands in
    // for it.
    let baggage: Baggage = "tenant=acme".parse()?;
    let cx = TraceContext::new_root(true)
        .with_baggage(baggage)
        .with_correlation_id(CorrelationId::new());
    println!("trace {}", cx.trace_id());
    async {
        for call in 1..=2 {
            let received = client.get(&url).send().await?.text().await?;
            println!("call {call} sent:\n{received}");
        }
        Ok::<_, Box<dyn std::error::Error>>(())
    }
    .with_trace_context(cx)
    .await
}
