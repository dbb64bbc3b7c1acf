//! The sampler is asked about the same route-level span (`{METHOD}
//! {route}`, the method and route attributes) whether a recorder is set or
//! not, so a sampler that drops `/health` drops it in propagation-only mode
//! too, and the sampled flag it decides is what goes downstream.
#![cfg(feature = "axum")]

use std::sync::{Arc, Mutex};

use axum::{Router, body::Body, routing::get};
use http::Request;
use tower::ServiceExt;
use trace_core::{
    InMemoryRecorder, NoopRecorder, Recorder, Sampler, TraceContext,
    sampling::{Decision, SamplingInput, SamplingResult},
    semconv,
};
use trace_tower::TraceContextLayer;

/// Drops `/health` (the `Sampler` docs' example) and writes down what it
/// was asked.
#[derive(Clone, Default)]
struct DropHealth {
    asked: Arc<Mutex<Vec<(String, Vec<String>)>>>,
}

impl Sampler for DropHealth {
    fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingResult {
        let attributes = input
            .attributes
            .iter()
            .map(|a| format!("{}={}", a.key, a.value))
            .collect();
        self.asked
            .lock()
            .unwrap()
            .push((input.name.to_owned(), attributes));
        if input.name.ends_with(" /health") {
            Decision::Drop.into()
        } else {
            Decision::RecordAndSample.into()
        }
    }
}

/// The sampled flag the handler's context carries (what it would send on).
async fn sampled(recorder: impl Recorder, sampler: DropHealth, path: &str) -> bool {
    let app = Router::new()
        .route(
            "/health",
            get(|| async { TraceContext::current().unwrap().is_sampled().to_string() }),
        )
        .route(
            "/users/{id}",
            get(|| async { TraceContext::current().unwrap().is_sampled().to_string() }),
        )
        .layer(TraceContextLayer::new().sampler(sampler).recorder(recorder));
    let response = app
        .oneshot(Request::get(path).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let body = axum::body::to_bytes(response.into_body(), 64)
        .await
        .unwrap();
    body == "true"
}

#[tokio::test]
async fn the_same_name_with_and_without_a_recorder() {
    let without = DropHealth::default();
    let with = DropHealth::default();
    assert!(!sampled(NoopRecorder, without.clone(), "/health").await);
    assert!(!sampled(InMemoryRecorder::new(4), with.clone(), "/health").await);
    assert!(sampled(NoopRecorder, without.clone(), "/users/7").await);
    assert!(sampled(InMemoryRecorder::new(4), with.clone(), "/users/7").await);

    let without = without.asked.lock().unwrap().clone();
    let with = with.asked.lock().unwrap().clone();
    assert_eq!(without, with, "the same input, recorder or not");
    assert_eq!(
        without,
        [
            (
                "GET /health".to_owned(),
                vec![
                    format!("{}=GET", semconv::HTTP_REQUEST_METHOD),
                    format!("{}=/health", semconv::HTTP_ROUTE)
                ]
            ),
            (
                "GET /users/{id}".to_owned(),
                vec![
                    format!("{}=GET", semconv::HTTP_REQUEST_METHOD),
                    format!("{}=/users/{{id}}", semconv::HTTP_ROUTE)
                ]
            ),
        ]
    );
}
