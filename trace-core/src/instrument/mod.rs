//! What a server or a client does per request, once for every adapter:
//! [`ServerTracing`] and [`ClientTracing`], and the start of a span's
//! context ([`Started`]) that both use.

mod client;
mod hooks;
mod server;
mod start;

pub(crate) use self::hooks::Hooks;
pub use self::{
    client::{ClientCall, ClientTracing, NoContext},
    hooks::{ResponseInfo, UrlTemplate},
    server::{Protocol, ResponseTraceContext, ServerSpan, ServerStart, ServerTracing, Unrecorded},
    start::Started,
};
