//! Small servers the end-to-end tests start on 127.0.0.1, and waiting for
//! what an exporter receives after the response.

use std::{net::SocketAddr, time::Duration};

use axum::{Router, http::HeaderMap, routing::get};
use tokio::net::TcpListener;

/// Serves `app` on a free port of 127.0.0.1, until the runtime ends.
pub async fn serve(app: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    addr
}

/// A downstream service: `GET /b` answers with the `traceparent` it
/// received, and with `|{x-request-id}` after it when `with_id`.
pub async fn downstream(with_id: bool) -> SocketAddr {
    serve(Router::new().route(
        "/b",
        get(move |headers: HeaderMap| async move {
            let header = |name: &str| headers[name].to_str().unwrap().to_owned();
            if with_id {
                format!("{}|{}", header("traceparent"), header("x-request-id"))
            } else {
                header("traceparent")
            }
        }),
    ))
    .await
}

/// What `found` finds, asked every 10 ms for up to 5 s (spans reach an
/// exporter after their response).
///
/// # Panics
///
/// When nothing is found in time.
pub async fn wait_for<T>(mut found: impl FnMut() -> Option<T>) -> T {
    for _ in 0..500 {
        if let Some(found) = found() {
            return found;
        }
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    panic!("never came")
}
