//! What a request sends is never kept whole: 2,000 requests, each with a
//! 100 KB `User-Agent` and a long path, recorded into a store of 10,000
//! spans. Every value is cut to the limit, and the store's own byte count
//! stays within what the limits allow (on main it kept 2,000 × 100 KB).

use std::convert::Infallible;

use bytes::Bytes;
use http::{HeaderValue, Request, Response};
use tower::{Layer, Service, ServiceExt, service_fn};
use trace_core::{InMemoryRecorder, Value, record::Limits, semconv};
use trace_tower::TraceContextLayer;

#[tokio::test]
async fn a_hundred_kilobyte_user_agent_is_cut_and_the_store_stays_small() {
    let recorder = InMemoryRecorder::new(10_000);
    let mut service = TraceContextLayer::new()
        .recorder(recorder.clone())
        .layer(service_fn(|_: Request<()>| async {
            Ok::<_, Infallible>(Response::new(String::new()))
        }));
    let agent = HeaderValue::from_maybe_shared(Bytes::from(vec![b'a'; 100 * 1024])).unwrap();
    let path = format!("/{}", "p".repeat(10_000));
    for _ in 0..2_000 {
        let request = Request::builder()
            .uri(path.as_str())
            .header("user-agent", agent.clone())
            .body(())
            .unwrap();
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        drop(response.into_body());
    }
    let spans = recorder.finished();
    assert_eq!(spans.len(), 2_000);
    let limit = Limits::default().value_length();
    for span in &spans {
        for attribute in &span.attributes {
            if let Value::Str(text) = &attribute.value {
                assert!(
                    text.len() <= limit,
                    "{} is {} bytes",
                    attribute.key,
                    text.len()
                );
            }
        }
        let Some(Value::Str(agent)) = span.attribute(semconv::USER_AGENT_ORIGINAL) else {
            panic!("the user agent is recorded, cut");
        };
        assert_eq!(agent.len(), limit);
    }
    // The store's own count: each span holds at most its attributes' limit
    // (two values of 2 KB here, the rest small), not 100 KB.
    let per_span = recorder.bytes() / spans.len();
    assert!(per_span < 3 * limit, "{per_span} bytes a span");
    assert!(recorder.bytes() < 2_000 * 3 * limit, "{}", recorder.bytes());
}
