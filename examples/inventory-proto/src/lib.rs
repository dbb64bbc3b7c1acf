//! The `inventory.v1.Inventory` service of the examples and the demo,
//! generated at build time from `proto/inventory.proto` (see `build.rs`).

#![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]

tonic::include_proto!("inventory.v1");

/// The inventory the examples and the demo serve: item `42` (7 in stock),
/// item `43` (1 in stock), and NOT_FOUND for anything else.
#[derive(Debug, Clone, Copy, Default)]
pub struct FixedStock;

#[tonic::async_trait]
impl inventory_server::Inventory for FixedStock {
    async fn get_stock(
        &self,
        request: tonic::Request<StockRequest>,
    ) -> Result<tonic::Response<StockReply>, tonic::Status> {
        let item_id = request.into_inner().item_id;
        let quantity = match item_id.as_str() {
            "42" => 7,
            "43" => 1,
            _ => return Err(tonic::Status::not_found("no such item")),
        };
        Ok(tonic::Response::new(StockReply { item_id, quantity }))
    }
}
