//! The `inventory.v1.Inventory` service of the examples and the demo,
//! generated at build time from `proto/inventory.proto` (see `build.rs`).

#![allow(missing_docs, unreachable_pub, clippy::all, clippy::pedantic)]

tonic::include_proto!("inventory.v1");
