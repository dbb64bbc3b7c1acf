//! Run: `cargo run -p axum-server`, then `curl -i localhost:3000/users/7` (`PORT` picks another port).
//!
//! An axum server behind `TraceContextLayer`: each request joins the
//! caller's trace (or starts one), gets a correlation ID (`x-request-id`,
//! echoed back), and runs inside a `tracing` span, so every log line
//! carries `trace_id`, `span_id` and `correlation_id`.

use std::net::SocketAddr;

use axum::{Router, extract::Path, routing::get};
use trace_core::{CorrelationId, TraceContext};
use trace_tower::TraceContextLayer;

#[tracing::instrument]
async fn load_user(id: u32) -> String {
    tracing::info!("loading the user");
    format!("user {id}")
}

async fn user(Path(id): Path<u32>, cx: TraceContext, request_id: CorrelationId) -> String {
    let user = load_user(id).await;
    format!("{user}\ntrace {}\nrequest {request_id}\n", cx.trace_id())
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    tracing_subscriber::fmt().with_ansi(false).init();

    let app = Router::new()
        .route("/users/{id}", get(user))
        .layer(TraceContextLayer::new());

    let port = std::env::var("PORT").unwrap_or_else(|_| "3000".to_owned());
    let listener = tokio::net::TcpListener::bind(format!("127.0.0.1:{port}")).await?;
    println!("listening on http://{}", listener.local_addr()?);
    // `ConnectInfo` gives the layer the peer's address (for trust policies).
    axum::serve(
        listener,
        app.into_make_service_with_connect_info::<SocketAddr>(),
    )
    .await
}
