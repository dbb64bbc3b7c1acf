//! Policies: what to believe from callers ([`Trust`], [`TrustPolicy`]),
//! what to tell callees ([`Propagate`], [`DestinationPolicy`]), and which
//! requests make no span ([`RequestFilter`]).

mod destination;
mod filter;
mod trust;

pub use self::{
    destination::{AllowHosts, DestinationPolicy, Propagate},
    filter::RequestFilter,
    trust::{ParentTrust, RequestInfo, Trust, TrustIf, TrustPolicy},
};
