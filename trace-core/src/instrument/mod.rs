//! What a server or a client does per request, once for every adapter:
//! [`ServerTracing`] and [`ClientTracing`], and the start of a span's
//! context ([`Started`]) that both use.

mod client;
mod server;
mod start;

pub use self::{
    client::{ClientCall, ClientTracing, NoContext},
    server::{Protocol, ResponseTraceContext, ServerSpan, ServerStart, ServerTracing},
    start::Started,
};
