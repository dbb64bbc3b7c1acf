//! Policies: what to believe from callers ([`Trust`], [`TrustPolicy`]),
//! what to tell callees ([`Propagate`], [`DestinationPolicy`]), and which
//! requests make no span ([`RequestFilter`]), and whose report of the
//! client's address to believe ([`TrustedProxies`]).

mod destination;
mod filter;
mod proxy;
mod trust;

pub(crate) use self::trust::warned_no_peer;
pub use self::{
    destination::{AllowHosts, DestinationPolicy, Propagate},
    filter::RequestFilter,
    proxy::{InvalidProxy, TrustedProxies},
    trust::{ParentTrust, RequestInfo, Trust, TrustIf, TrustPolicy},
};
