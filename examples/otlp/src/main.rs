//! Run: OTEL_EXPORTER_OTLP_ENDPOINT=http://localhost:4317 cargo run -p otlp
//!
//! Starts three services (frontend -> catalog over HTTP -> inventory over
//! gRPC), sends two orders through them, and exports the spans over
//! OTLP/gRPC to a Collector, Jaeger (`docker run -p 16686:16686 -p 4317:4317
//! jaegertracing/all-in-one`) or Tempo. Without one listening, the export
//! fails with a message and the example still ends.

use otlp::{BoxError, Services};

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let services = Services::start(None).await?;
    let client = reqwest::Client::new();
    for id in ["42", "missing"] {
        let url = format!("http://{}/orders/{id}", services.frontend);
        let response = client.get(&url).send().await?;
        let header = |name: &str| {
            let value = response.headers().get(name).and_then(|v| v.to_str().ok());
            value.unwrap_or("-").to_owned()
        };
        let (trace, id) = (header("server-timing"), header("x-request-id"));
        println!(
            "GET {url} -> {}\n  server-timing: {trace}\n  x-request-id: {id}",
            response.status()
        );
    }
    match services.shutdown().await {
        Ok(()) => println!("spans flushed to the OTLP endpoint"),
        Err(error) => println!("export failed (is a collector listening?): {error}"),
    }
    Ok(())
}
