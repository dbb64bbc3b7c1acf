//! What the workspace's end-to-end tests share: services chained over
//! real sockets on 127.0.0.1.

pub mod chain;
#[cfg(feature = "metrics")]
pub mod metrics;
pub mod serve;
