//! Request metrics from the layer (metrics), read back from the SDK's
//! in-memory exporter: one series per route whatever the paths, the
//! advised buckets, status codes and errors, body sizes, filtered and
//! unsampled requests, and `http.server.active_requests` back to 0 after
//! abandoned requests and a panicking handler.

use std::{sync::Arc, time::Duration};

use axum::{Router, http::StatusCode, routing::get};
use end_to_end::{metrics::Meters, serve::serve};
use tokio::sync::Notify;
use trace_core::{
    RequestFilter,
    metrics::{DURATION_BUCKETS, Metrics},
    sampling::AlwaysOff,
};
use trace_tower::TraceContextLayer;

const DURATION: &str = "http.server.request.duration";
const ACTIVE: &str = "http.server.active_requests";

fn app(metrics: &Metrics) -> Router {
    Router::new()
        .route("/users/{id}", get(|| async { "a user" }))
        .route(
            "/fail",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "no") }),
        )
        .route("/health", get(|| async { "ok" }))
        .route(
            "/echo",
            axum::routing::post(|body: String| async move { body.repeat(2) }),
        )
        .layer(
            TraceContextLayer::new()
                .filter(RequestFilter::path("/health"))
                .metrics(metrics),
        )
}

#[tokio::test]
async fn a_thousand_paths_under_one_route_are_one_series() {
    let meters = Meters::new();
    let server = serve(app(&Metrics::new(&meters.provider))).await;
    let client = reqwest::Client::new();
    for id in 0..1_000 {
        let response = client
            .get(format!("http://{server}/users/{id}"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), "a user");
    }
    let points = meters.of(DURATION);
    assert_eq!(points.len(), 1, "{points:#?}");
    let point = &points[0];
    assert_eq!(point.count, 1_000);
    assert_eq!(point.unit, "s");
    assert_eq!(
        point.bounds, DURATION_BUCKETS,
        "the buckets the conventions advise"
    );
    assert_eq!(point.buckets.iter().sum::<u64>(), 1_000);
    assert!(point.sum > 0.0 && point.sum < 1_000.0 * 10.0, "{point:?}");
    let expected: Vec<(&str, &str)> = vec![
        ("http.request.method", "GET"),
        ("http.response.status_code", "200"),
        ("http.route", "/users/{id}"),
        ("network.protocol.name", "http"),
        ("network.protocol.version", "1.1"),
        ("url.scheme", "http"),
    ];
    let got: Vec<(&str, &str)> = point
        .attributes
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(got, expected, "never the path, never a per-request value");
    let active = meters.of(ACTIVE);
    assert_eq!(active.len(), 1, "{active:#?}");
    assert_eq!(active[0].sum, 0.0, "none in flight");
    assert_eq!(active[0].unit, "{request}");
    assert_eq!(
        active[0].attributes.keys().collect::<Vec<_>>(),
        ["http.request.method", "url.scheme"]
    );
}

#[tokio::test]
async fn errors_sizes_filters_and_unsampled_requests() {
    let meters = Meters::new();
    let server = serve(app(&Metrics::new(&meters.provider))).await;
    let base = format!("http://{server}");
    let client = reqwest::Client::new();
    for path in ["/fail", "/fail", "/nowhere", "/health"] {
        client
            .get(format!("{base}{path}"))
            .send()
            .await
            .unwrap()
            .bytes()
            .await
            .unwrap();
    }
    let echoed = client
        .post(format!("{base}/echo"))
        .body("hello")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(echoed, "hellohello");

    let points = meters.of(DURATION);
    let by_status = |code: &str| {
        points
            .iter()
            .find(|p| p.attribute("http.response.status_code") == Some(code))
            .unwrap_or_else(|| panic!("{code}: {points:#?}"))
    };
    let failed = by_status("500");
    assert_eq!(failed.count, 2);
    assert_eq!(failed.attribute("error.type"), Some("500"));
    assert_eq!(failed.attribute("http.route"), Some("/fail"));
    let missing = by_status("404");
    assert_eq!(
        missing.attribute("error.type"),
        None,
        "a 404 is not a server error"
    );
    assert_eq!(missing.attribute("http.route"), None, "no route matched");
    assert!(
        points
            .iter()
            .all(|p| p.attribute("http.route") != Some("/health")),
        "filtered out, not measured: {points:#?}"
    );
    assert_eq!(points.len(), 3, "{points:#?}");

    let sizes = |name: &str| {
        meters
            .of(name)
            .into_iter()
            .find(|p| p.attribute("http.route") == Some("/echo"))
            .unwrap_or_else(|| panic!("{name}"))
    };
    let request = sizes("http.server.request.body.size");
    assert_eq!(
        (request.count, request.sum, request.unit.as_str()),
        (1, 5.0, "By")
    );
    let response = sizes("http.server.response.body.size");
    assert_eq!((response.count, response.sum), (1, 10.0));

    // Measured when configured, and whatever the sampler says.
    let meters = Meters::new();
    let metrics = Metrics::new(&meters.provider).measure_filtered(true);
    let app = Router::new()
        .route("/health", get(|| async { "ok" }))
        .layer(
            TraceContextLayer::new()
                .sampler(AlwaysOff)
                .filter(RequestFilter::path("/health"))
                .metrics(&metrics),
        );
    let server = serve(app).await;
    reqwest::get(format!("http://{server}/health"))
        .await
        .unwrap();
    let points = meters.of(DURATION);
    assert_eq!(points.len(), 1);
    assert_eq!(points[0].attribute("http.route"), Some("/health"));
}

#[tokio::test]
async fn abandoned_requests_and_panics_end_their_measurement() {
    let meters = Meters::new();
    let reached = Arc::new(Notify::new());
    let app = {
        let reached = reached.clone();
        Router::new()
            .route(
                "/slow",
                get(move || {
                    let reached = reached.clone();
                    async move {
                        reached.notify_one();
                        tokio::time::sleep(Duration::from_secs(30)).await;
                        "late"
                    }
                }),
            )
            .route(
                "/panic",
                get(|| async {
                    if true {
                        panic!("the handler's own bug");
                    }
                    "never"
                }),
            )
            .layer(TraceContextLayer::new().metrics(&Metrics::new(&meters.provider)))
    };
    let server = serve(app).await;
    let base = format!("http://{server}");

    // In flight: counted.
    let slow = tokio::spawn(reqwest::get(format!("{base}/slow")));
    reached.notified().await;
    assert_eq!(meters.of(ACTIVE)[0].sum, 1.0, "one in flight");
    // The client goes away: hyper drops the request's future.
    slow.abort();
    let _ = slow.await;
    let mut cancelled = None;
    for _ in 0..200 {
        cancelled = meters
            .of(DURATION)
            .into_iter()
            .find(|p| p.attribute("error.type") == Some("cancelled"));
        if cancelled.is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let cancelled = cancelled.expect("the abandoned request is measured");
    assert_eq!(cancelled.attribute("http.route"), Some("/slow"));
    assert_eq!(cancelled.attribute("http.response.status_code"), None);

    // The handler panics: the connection's task unwinds through the layer.
    assert!(reqwest::get(format!("{base}/panic")).await.is_err());
    let panicked = meters
        .of(DURATION)
        .into_iter()
        .find(|p| p.attribute("error.type") == Some("panic"))
        .expect("the panicking request is measured");
    assert_eq!(panicked.attribute("http.route"), Some("/panic"));
    assert_eq!(meters.of(ACTIVE)[0].sum, 0.0, "none left in flight");
}
