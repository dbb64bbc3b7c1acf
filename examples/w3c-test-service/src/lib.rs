//! The test-service side of the W3C Trace Context test suite (the `test/`
//! folder of the w3c/trace-context repository), built with the same crates
//! users get: `trace-tower` reads the incoming context, `trace-reqwest`
//! carries it onto the callbacks. Nothing here is special-cased.
//!
//! The protocol: a `POST` to any path whose JSON body is an array of
//! `{"url": ..., "arguments": ...}`. For each element, in order, the service
//! `POST`s `arguments` as JSON to `url`, and answers `200` once every
//! callback has been made.

use axum::{Router, body::Bytes, extract::State, http::StatusCode};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use trace_core::{Propagator, propagation::EnvError};
use trace_reqwest::TraceMiddleware;
use trace_tower::TraceContextLayer;

/// The service's router, reading and writing the formats `OTEL_PROPAGATORS`
/// names (W3C Trace Context and Baggage when it is unset): started with
/// `OTEL_PROPAGATORS=tracecontext,baggage,b3,b3multi,jaeger`, it accepts
/// any of them and writes all of them on its calls.
///
/// # Errors
///
/// When `OTEL_PROPAGATORS` names a propagator trace-core does not implement.
pub fn app() -> Result<Router, EnvError> {
    Ok(app_with(Propagator::from_env()?))
}

/// The service's router with this propagator, in and out.
pub fn app_with(propagator: Propagator) -> Router {
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(TraceMiddleware::new().propagator(propagator.clone()))
        .build();
    Router::new()
        .fallback(handle)
        .with_state(client)
        .layer(TraceContextLayer::new().propagator(propagator))
}

async fn handle(State(client): State<ClientWithMiddleware>, body: Bytes) -> StatusCode {
    let Ok(serde_json::Value::Array(cases)) = serde_json::from_slice(&body) else {
        return StatusCode::BAD_REQUEST;
    };
    for case in cases {
        let Some(url) = case.get("url").and_then(serde_json::Value::as_str) else {
            continue;
        };
        let arguments = case
            .get("arguments")
            .cloned()
            .unwrap_or(serde_json::Value::Null);
        // Each callback is a call made while handling this request: the
        // middleware gives it its own span id under the request's context.
        let sent = client
            .post(url)
            .header("content-type", "application/json")
            .body(arguments.to_string())
            .send()
            .await;
        if let Ok(response) = sent {
            let _ = response.bytes().await;
        }
    }
    StatusCode::OK
}
