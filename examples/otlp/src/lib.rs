//! The `otlp` example's services, as a library so that its end-to-end test
//! runs exactly what the example runs.
//!
//! Three services in one process, each with its own service name and its
//! own OpenTelemetry set-up (`OtelSetup`): `frontend` (HTTP) calls `catalog`
//! (HTTP) with reqwest, which calls `inventory` (gRPC) with tonic. Each sends
//! its spans over OTLP with the batch processor.

use std::{error::Error, net::SocketAddr};

use axum::{
    Router,
    extract::{Path, State},
    http::StatusCode,
    routing::get,
};
use inventory_proto::{
    FixedStock, StockRequest, inventory_client::InventoryClient, inventory_server::InventoryServer,
};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::{net::TcpListener, task::JoinHandle};
use tonic::transport::{Channel, Endpoint, Server, server::TcpIncoming};
use tower::ServiceBuilder;
use trace_core::{OtelSetup, OtlpProtocol, Telemetry};
use trace_reqwest::TraceMiddleware;
use trace_tonic::{GrpcClient, GrpcClientLayer};
use trace_tower::{ResponseTraceContext, TraceContextLayer};

/// Any error of the example.
pub type BoxError = Box<dyn Error + Send + Sync>;

/// `service`'s OpenTelemetry set-up, from the standard `OTEL_*`
/// environment in one call ([`OtelSetup`]): OTLP/gRPC unless
/// `OTEL_EXPORTER_OTLP_PROTOCOL` says `http/protobuf`, to
/// `OTEL_EXPORTER_OTLP_ENDPOINT` (default `http://localhost:4317`), in
/// batches, with our id generator, so the ids exported are the ids
/// injected downstream. `endpoint` is for tests. Build it inside a Tokio
/// runtime: the gRPC channel lives there.
///
/// # Errors
///
/// A standard variable that cannot apply (named in the error), or an
/// exporter that cannot be built (an invalid endpoint).
pub fn telemetry(service: &'static str, endpoint: Option<&str>) -> Result<Telemetry, BoxError> {
    let mut setup = OtelSetup::from_env().service_name(service).global(false);
    if std::env::var_os("OTEL_EXPORTER_OTLP_PROTOCOL").is_none() {
        setup = setup.otlp_protocol(OtlpProtocol::Grpc);
    }
    if let Some(endpoint) = endpoint {
        setup = setup.otlp_endpoint(endpoint);
    }
    Ok(setup.install()?)
}

type Grpc = InventoryClient<GrpcClient<Channel>>;

async fn item(
    State(mut inventory): State<Grpc>,
    Path(id): Path<String>,
) -> Result<String, StatusCode> {
    let reply = inventory
        .get_stock(StockRequest { item_id: id })
        .await
        .map_err(|status| match status.code() {
            tonic::Code::NotFound => StatusCode::NOT_FOUND,
            _ => StatusCode::BAD_GATEWAY,
        })?;
    Ok(reply.into_inner().quantity.to_string())
}

async fn order(
    State((client, catalog)): State<(ClientWithMiddleware, String)>,
    Path(id): Path<String>,
) -> Result<String, StatusCode> {
    let response = client
        .get(format!("{catalog}/items/{id}"))
        .send()
        .await
        .map_err(|_| StatusCode::BAD_GATEWAY)?;
    if !response.status().is_success() {
        return Err(
            StatusCode::from_u16(response.status().as_u16()).unwrap_or(StatusCode::BAD_GATEWAY)
        );
    }
    let quantity = response.text().await.map_err(|_| StatusCode::BAD_GATEWAY)?;
    Ok(format!("order for item {id}: {quantity} in stock\n"))
}

/// The three running services.
#[derive(Debug)]
pub struct Services {
    /// Where `frontend` listens: `GET /orders/{id}`. Its responses carry
    /// the trace in `server-timing` and the correlation ID in `x-request-id`.
    pub frontend: SocketAddr,
    providers: Vec<Telemetry>,
    tasks: Vec<JoinHandle<()>>,
}

async fn listen() -> std::io::Result<(TcpListener, SocketAddr)> {
    let listener = TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    Ok((listener, addr))
}

impl Services {
    /// Starts the services on 127.0.0.1, on ports the system picks.
    ///
    /// # Errors
    ///
    /// When a socket cannot be bound or an exporter built.
    pub async fn start(endpoint: Option<&str>) -> Result<Self, BoxError> {
        let providers = vec![
            telemetry("frontend", endpoint)?,
            telemetry("catalog", endpoint)?,
            telemetry("inventory", endpoint)?,
        ];
        let mut tasks = Vec::new();

        let (listener, inventory) = listen().await?;
        let layer = TraceContextLayer::new_for_grpc().recorder(providers[2].recorder());
        tasks.push(tokio::spawn(async move {
            let _ = Server::builder()
                .layer(layer)
                .add_service(InventoryServer::new(FixedStock))
                .serve_with_incoming(TcpIncoming::from(listener))
                .await;
        }));

        let (listener, catalog) = listen().await?;
        let channel = Endpoint::from_shared(format!("http://{inventory}"))?.connect_lazy();
        let grpc = InventoryClient::new(
            ServiceBuilder::new()
                .layer(GrpcClientLayer::new().recorder(providers[1].recorder()))
                .service(channel),
        );
        let app = Router::new()
            .route("/items/{id}", get(item))
            .with_state(grpc)
            .layer(TraceContextLayer::new().recorder(providers[1].recorder()));
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));

        let (listener, frontend) = listen().await?;
        let client = ClientBuilder::new(reqwest::Client::new())
            .with(TraceMiddleware::new().recorder(providers[0].recorder()))
            .build();
        let app = Router::new()
            .route("/orders/{id}", get(order))
            .with_state((client, format!("http://{catalog}")))
            .layer(
                TraceContextLayer::new()
                    .recorder(providers[0].recorder())
                    .response_trace_context(ResponseTraceContext::ServerTiming),
            );
        tasks.push(tokio::spawn(async move {
            let _ = axum::serve(listener, app).await;
        }));

        Ok(Self {
            frontend,
            providers,
            tasks,
        })
    }

    /// Stops the services and sends every span still in a batch.
    ///
    /// # Errors
    ///
    /// When a provider could not export what it held.
    pub async fn shutdown(self) -> Result<(), BoxError> {
        for task in &self.tasks {
            task.abort();
        }
        // The batch processor's shutdown blocks until its last export ends.
        tokio::task::spawn_blocking(move || {
            self.providers.into_iter().try_for_each(Telemetry::shutdown)
        })
        .await??;
        Ok(())
    }
}
