//! The three services: `gateway` (HTTP) calls `users` (HTTP) with reqwest
//! and `inventory` (gRPC) with tonic. Each is its own server on 127.0.0.1,
//! with its own service name.

use std::{
    future::Future,
    net::SocketAddr,
    sync::{Arc, OnceLock},
    time::Duration,
};

use axum::{
    Router,
    extract::{Path, RawQuery, State},
    http::{HeaderName, StatusCode},
    routing::get,
};
use inventory_proto::{
    FixedStock, StockRequest, inventory_client::InventoryClient, inventory_server::InventoryServer,
};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::{net::TcpListener, sync::watch, task::JoinHandle};
use tonic::transport::{Channel, Endpoint, Server, server::TcpIncoming};
use tower::ServiceBuilder;
use trace_core::{
    Attribute, Baggage, CorrelationId, Recorder, SpanRef, Trust, instrument::UrlTemplate,
};
use trace_reqwest::TraceMiddleware;
use trace_tonic::{GrpcClient, GrpcClientLayer};
use trace_tower::{ResponseTraceContext, TraceContextLayer};

/// The header a trusted partner sends: only its trace context is continued.
pub(crate) const PARTNER_KEY: HeaderName = HeaderName::from_static("x-partner-key");
/// Its value, for the demo.
pub(crate) const PARTNER_SECRET: &str = "demo-partner-secret";

/// Makes each service's recorder.
pub(crate) type Recorders = Arc<dyn Fn(&'static str) -> Arc<dyn Recorder> + Send + Sync>;

/// The running services.
pub(crate) struct Services {
    /// The gateway's address: `GET /checkout/{item}?user=…&slow=…`.
    pub(crate) gateway: SocketAddr,
    /// The users service's address: `GET /users/{id}`.
    pub(crate) users: SocketAddr,
    /// The inventory service's address (gRPC).
    pub(crate) inventory: SocketAddr,
    /// The trace headers of the first request users received, as they
    /// came over the wire from the gateway.
    pub(crate) first_at_users: Arc<OnceLock<Vec<(String, String)>>>,
    tasks: Vec<JoinHandle<()>>,
    stop: watch::Sender<bool>,
}

impl Drop for Services {
    fn drop(&mut self) {
        for task in &self.tasks {
            task.abort();
        }
    }
}

impl Services {
    /// Stops the three services gracefully and waits until they have: every
    /// connection closed, every response body sent or dropped, so every
    /// span the services made has ended (no guess at when the last one
    /// arrives).
    pub(crate) async fn stop(mut self) {
        self.stop.send_replace(true);
        for task in std::mem::take(&mut self.tasks) {
            // Bounded: a connection that never closes cannot hang the demo.
            let _ = tokio::time::timeout(Duration::from_secs(5), task).await;
        }
    }
}

/// A future that completes when `stop` says so.
fn stopped(stop: &watch::Sender<bool>) -> impl Future<Output = ()> + Send + 'static {
    let mut rx = stop.subscribe();
    async move {
        let _ = rx.wait_for(|stop| *stop).await;
    }
}

/// A query parameter, for the demo's two (`user`, `slow`).
fn param<'a>(query: Option<&'a str>, name: &str) -> Option<&'a str> {
    query?
        .split('&')
        .filter_map(|pair| pair.split_once('='))
        .find(|(key, _)| *key == name)
        .map(|(_, value)| value)
}

/// What goes wrong when users reads a record it cannot use.
#[derive(Debug)]
struct CorruptRecord;

impl std::fmt::Display for CorruptRecord {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("the user's record is corrupt")
    }
}

impl std::error::Error for CorruptRecord {}

async fn user(Path(id): Path<String>, RawQuery(query): RawQuery) -> Result<String, StatusCode> {
    if let Some(ms) = param(query.as_deref(), "slow").and_then(|v| v.parse().ok()) {
        tokio::time::sleep(Duration::from_millis(u64::min(ms, 2_000))).await;
    }
    match id.as_str() {
        "broken" => {
            // The `exception` event, on the span where it fails.
            SpanRef::current().record_error(&CorruptRecord);
            Err(StatusCode::INTERNAL_SERVER_ERROR)
        }
        _ => Ok(format!("user {id}")),
    }
}

/// The gateway's own work: a price, in a span of its own.
fn quote(item: &str, quantity: u32) -> u64 {
    trace_core::span("price.quote")
        .attribute("item.id", item.to_owned())
        .in_scope(|span| {
            let cents = 1_250 * u64::from(quantity.min(3));
            if quantity > 1 {
                span.add_event(
                    "discount.applied",
                    [Attribute::new("discount.percent", 10_i64)],
                );
            }
            cents
        })
}

#[derive(Clone)]
struct Gateway {
    http: ClientWithMiddleware,
    users: String,
    inventory: InventoryClient<GrpcClient<Channel>>,
}

/// `GET /checkout/{item}`: who is buying (users, HTTP), and is it in stock
/// (inventory, gRPC).
async fn checkout(
    State(mut gateway): State<Gateway>,
    Path(item): Path<String>,
    RawQuery(query): RawQuery,
    correlation_id: CorrelationId,
    baggage: Baggage,
) -> Result<String, (StatusCode, String)> {
    let user = param(query.as_deref(), "user").unwrap_or("7");
    // What the app knows, on the request's span.
    SpanRef::current().set_attribute("user.id", user.to_owned());
    let mut url = format!("{}/users/{user}", gateway.users);
    if let Some(slow) = param(query.as_deref(), "slow") {
        url = format!("{url}?slow={slow}");
    }
    let response = gateway
        .http
        .get(url)
        // The route it calls, for the client span's name and the RED table.
        .with_extension(UrlTemplate::new("/users/{id}"))
        .send()
        .await
        .map_err(|e| (StatusCode::BAD_GATEWAY, format!("users unreachable: {e}\n")))?;
    if !response.status().is_success() {
        return Err((
            StatusCode::BAD_GATEWAY,
            format!("users answered {}\n", response.status()),
        ));
    }
    let who = response.text().await.unwrap_or_default();
    let stock = gateway
        .inventory
        .get_stock(StockRequest {
            item_id: item.clone(),
        })
        .await
        .map_err(|status| match status.code() {
            tonic::Code::NotFound => (StatusCode::NOT_FOUND, format!("no item {item}\n")),
            _ => (
                StatusCode::BAD_GATEWAY,
                format!("inventory: {}\n", status.message()),
            ),
        })?
        .into_inner();
    let tenant = baggage.get("tenant").unwrap_or_default();
    let cents = quote(&item, stock.quantity);
    Ok(format!(
        "{who} buys item {item}: {} in stock at {}.{:02} (request {correlation_id}, tenant {tenant})\n",
        stock.quantity,
        cents / 100,
        cents % 100
    ))
}

async fn listen() -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

impl Services {
    /// Starts the three services, each recording with `recorders(name)`.
    ///
    /// # Errors
    ///
    /// When a socket cannot be bound.
    pub(crate) async fn start(recorders: &Recorders) -> Result<Self, Box<dyn std::error::Error>> {
        let mut tasks = Vec::new();
        let stop = watch::channel(false).0;

        let (listener, inventory) = listen().await?;
        let layer = TraceContextLayer::new_for_grpc().recorder(recorders("inventory"));
        let shutdown = stopped(&stop);
        tasks.push(tokio::spawn(async move {
            let _ = Server::builder()
                .layer(layer)
                .add_service(InventoryServer::new(FixedStock))
                .serve_with_incoming_shutdown(TcpIncoming::from(listener), shutdown)
                .await;
        }));

        let (listener, users) = listen().await?;
        let first_at_users = Arc::new(OnceLock::new());
        let capture = Arc::clone(&first_at_users);
        let app = Router::new()
            .route("/users/{id}", get(user))
            .layer(TraceContextLayer::new().recorder(recorders("users")))
            // Outside the layer: the headers as they arrived.
            .layer(tower::util::MapRequestLayer::new(
                move |request: axum::extract::Request| {
                    capture.get_or_init(|| {
                        ["traceparent", "tracestate", "baggage", "x-request-id"]
                            .into_iter()
                            .filter_map(|name| {
                                let value = request.headers().get(name)?.to_str().ok()?;
                                Some((name.to_owned(), value.to_owned()))
                            })
                            .collect()
                    });
                    request
                },
            ));
        let shutdown = stopped(&stop);
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        }));

        let (listener, gateway) = listen().await?;
        // Connected now, so that the first checkout's gRPC call does not
        // pay for the connection.
        let channel = Endpoint::from_shared(format!("http://{inventory}"))?
            .connect()
            .await?;
        let state = Gateway {
            http: ClientBuilder::new(reqwest::Client::new())
                .with(TraceMiddleware::new().recorder(recorders("gateway")))
                .build(),
            users: format!("http://{users}"),
            inventory: InventoryClient::new(
                ServiceBuilder::new()
                    .layer(GrpcClientLayer::new().recorder(recorders("gateway")))
                    .service(channel),
            ),
        };
        // The edge: only a partner with the key continues its own trace;
        // anyone else gets a new trace, linked to what they sent.
        let trust = Trust::CONTINUE
            .when(|request| request.has_secret_header(&PARTNER_KEY, PARTNER_SECRET.as_bytes()));
        let app = Router::new()
            .route("/checkout/{item}", get(checkout))
            .with_state(state)
            .layer(
                TraceContextLayer::new()
                    .trust(trust)
                    .recorder(recorders("gateway"))
                    .response_trace_context(ResponseTraceContext::ServerTiming),
            );
        let shutdown = stopped(&stop);
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app)
                .with_graceful_shutdown(shutdown)
                .await;
        }));

        Ok(Self {
            gateway,
            users,
            inventory,
            first_at_users,
            tasks,
            stop,
        })
    }
}
