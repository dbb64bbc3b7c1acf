//! Run: `cargo run -p tonic-grpc`
//!
//! A tonic server with `trace_tonic::server_layer()` and a client with
//! `GrpcClientLayer`, in one process: the client's call carries the current
//! trace, and the server's handler runs in a child of it. Prints both
//! sides' ids, then exits.

use inventory_proto::{
    StockReply, StockRequest,
    inventory_client::InventoryClient,
    inventory_server::{Inventory, InventoryServer},
};
use tonic::{
    Request, Response, Status,
    transport::{Endpoint, Server, server::TcpIncoming},
};
use tower::ServiceBuilder;
use trace_core::{FutureExt as _, TraceContext};
use trace_tonic::GrpcClientLayer;

struct Stock;

#[tonic::async_trait]
impl Inventory for Stock {
    async fn get_stock(
        &self,
        request: Request<StockRequest>,
    ) -> Result<Response<StockReply>, Status> {
        // The server layer made this call's context current.
        let cx = TraceContext::current().expect("inside a traced call");
        println!(
            "server: trace {} span {} parent {}",
            cx.trace_id(),
            cx.span_id(),
            cx.parent_span_id()
                .map(|p| p.to_string())
                .unwrap_or_default()
        );
        let item_id = request.into_inner().item_id;
        Ok(Response::new(StockReply {
            item_id,
            quantity: 7,
        }))
    }
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(
        Server::builder()
            .layer(trace_tonic::server_layer())
            .add_service(InventoryServer::new(Stock))
            .serve_with_incoming(TcpIncoming::from(listener)),
    );

    let channel = Endpoint::from_shared(format!("http://{addr}"))?.connect_lazy();
    let mut client = InventoryClient::new(
        ServiceBuilder::new()
            .layer(GrpcClientLayer::new())
            .service(channel),
    );

    // Inside a server this is the request's context; here a new trace.
    let cx = TraceContext::new_root(true);
    println!("client: trace {} span {}", cx.trace_id(), cx.span_id());
    let reply = client
        .get_stock(StockRequest {
            item_id: "42".to_owned(),
        })
        .with_trace_context(cx)
        .await?;
    println!("reply: {} in stock", reply.into_inner().quantity);
    Ok(())
}
