//! What to believe from callers: the trust policy, and what a policy may
//! read of a request.

use std::{
    fmt,
    net::{IpAddr, SocketAddr},
};

use http::{HeaderMap, HeaderName, Method, Uri};
use subtle::ConstantTimeEq as _;

use super::TrustedProxies;

/// What the trust policy decided about an incoming parent; samplers see it.
///
/// # Examples
///
/// ```
/// use trace_core::policy::ParentTrust;
///
/// assert_eq!(ParentTrust::default(), ParentTrust::Continue);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ParentTrust {
    /// Continue the incoming trace and follow its sampled flag.
    #[default]
    Continue,
    /// Keep the incoming trace-id but decide sampling here, as if at a root.
    Resample,
    /// Start a new trace; the incoming parent is only a link.
    NewRoot,
}

/// What a policy may look at in an incoming request.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, Method, Uri};
/// use trace_core::RequestInfo;
///
/// let headers = HeaderMap::new();
/// let uri = Uri::from_static("/users/7");
/// let info = RequestInfo::new(&Method::GET, &uri, &headers).peer("10.1.2.3:4567".parse().unwrap());
/// assert!(info.peer_is_private());
/// ```
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RequestInfo<'a> {
    /// The request method.
    pub method: &'a Method,
    /// The request URI (for a server, usually just the path and query).
    pub uri: &'a Uri,
    /// The request headers.
    pub headers: &'a HeaderMap,
    /// The address of the connection's peer, when the server knows it.
    pub peer: Option<SocketAddr>,
}

/// Said once per process: a policy read the peer of a server that does not
/// know it.
static WARNED_NO_PEER: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

#[cold]
fn warn_no_peer() {
    crate::warn_once(
        &WARNED_NO_PEER,
        "trace-core: a trust policy asked for the connection's peer, but the server does not \
         know it, so every such request counts as coming from outside (its trace restarts and \
         its baggage is dropped); serve with \
         `axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())` (with \
         hyper, put the peer's `SocketAddr` in the request's extensions), or, behind a proxy, \
         decide with `client_is_private` and `TrustedProxies`",
    );
}

/// Whether the warning of [`warn_no_peer`] was given.
pub(crate) fn warned_no_peer() -> bool {
    WARNED_NO_PEER.load(std::sync::atomic::Ordering::Relaxed)
}

impl<'a> RequestInfo<'a> {
    /// A request with no known peer.
    #[must_use]
    pub fn new(method: &'a Method, uri: &'a Uri, headers: &'a HeaderMap) -> Self {
        Self {
            method,
            uri,
            headers,
            peer: None,
        }
    }

    /// This request with its peer's address.
    #[must_use]
    pub fn peer(mut self, peer: SocketAddr) -> Self {
        self.peer = Some(peer);
        self
    }

    /// Whether the peer is on a private network: loopback, RFC 1918,
    /// link-local, carrier-grade NAT (RFC 6598), or IPv6 unique-local.
    /// `false` when the peer is unknown, which is said once per process,
    /// with the fix: a server that does not hand its layers the peer
    /// (`axum::serve(listener, app)` without
    /// `into_make_service_with_connect_info::<SocketAddr>()`) would
    /// otherwise trust nobody, silently.
    ///
    /// The peer is the TCP peer: behind a reverse proxy, a load balancer
    /// or a sidecar it is the proxy, so every request is private. Do not
    /// use this alone to trust callers at an edge behind a proxy: use
    /// [`client_is_private`](Self::client_is_private).
    #[must_use]
    pub fn peer_is_private(&self) -> bool {
        self.known_peer().is_some_and(|peer| is_private(peer.ip()))
    }

    /// The peer, or the warning that there is none to read.
    fn known_peer(&self) -> Option<SocketAddr> {
        if self.peer.is_none() {
            warn_no_peer();
        }
        self.peer
    }

    /// The client's address: the peer's, unless the peer is one of
    /// `proxies`, then the address they report (see [`TrustedProxies`]).
    /// `None` when the peer is unknown or the report is not believable.
    #[must_use]
    pub fn client_ip(&self, proxies: &TrustedProxies) -> Option<IpAddr> {
        proxies.client(self.known_peer()?.ip(), self.headers)
    }

    /// Whether the client (see [`client_ip`](Self::client_ip)) is on a
    /// private network, by the rules of
    /// [`peer_is_private`](Self::peer_is_private); `false` when unknown.
    #[must_use]
    pub fn client_is_private(&self, proxies: &TrustedProxies) -> bool {
        self.client_ip(proxies).is_some_and(is_private)
    }

    /// Whether the request carries `name: secret`.
    ///
    /// The bytes are compared with the `subtle` crate's `ConstantTimeEq`,
    /// made so that the optimiser cannot turn the comparison into an early
    /// exit: its time does not tell a caller how much of a guess was right
    /// (the length is not hidden: only a guess of the right length is
    /// compared at all). A repeated header never matches, and an empty
    /// secret never matches anything (an unset configuration value must not
    /// open the door). The header is not removed: the handler sees it too.
    #[must_use]
    pub fn has_secret_header(&self, name: &HeaderName, secret: &[u8]) -> bool {
        if secret.is_empty() {
            return false;
        }
        let mut values = self.headers.get_all(name).iter();
        match (values.next(), values.next()) {
            (Some(value), None) => value.as_bytes().ct_eq(secret).into(),
            _ => false,
        }
    }
}

fn is_private(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || (a == 100 && (64..128).contains(&b))
        }
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return is_private(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            v6.is_loopback() || (first & 0xfe00) == 0xfc00 || (first & 0xffc0) == 0xfe80
        }
    }
}

/// What to believe from an incoming request.
///
/// The correlation ID is kept in every case when valid: it is the caller's,
/// not the trace's.
///
/// # Examples
///
/// ```
/// use trace_core::{Trust, policy::ParentTrust};
///
/// // An edge service: a new trace for every request, the caller's
/// // traceparent kept as a link, and none of its baggage.
/// let edge = Trust::NEW_ROOT.strip_baggage();
/// assert_eq!(edge.parent(), ParentTrust::NewRoot);
/// assert!(!edge.keeps_baggage() && edge.keeps_trace_state());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Trust {
    parent: ParentTrust,
    keep_baggage: bool,
    keep_trace_state: bool,
}

impl Trust {
    /// Continue the incoming trace, sampled flag and all (internal services).
    pub const CONTINUE: Self = Self::new(ParentTrust::Continue);
    /// Keep the trace-id, but decide sampling here.
    ///
    /// The decision uses randomness of this service's own, not the
    /// caller's: the `ot` entry of the `tracestate` gets a new `rv` (56
    /// random bits) and loses the caller's `th`, so a caller can neither
    /// send `rv:ffffffffffffff` nor pick a trace-id to be sampled.
    /// Downstream samplers read the same `rv` (OpenTelemetry's
    /// probability sampling,
    /// <https://opentelemetry.io/docs/specs/otel/trace/tracestate-probability-sampling/>),
    /// so the trace stays consistently sampled after this service.
    pub const RESAMPLE: Self = Self::new(ParentTrust::Resample);
    /// Start a new trace; the incoming `traceparent` becomes a link.
    ///
    /// The new trace-id is this service's, and the caller's `tracestate`
    /// (its `rv` with it) is not kept, so sampling uses only randomness of
    /// our own.
    pub const NEW_ROOT: Self = Self::new(ParentTrust::NewRoot);

    const fn new(parent: ParentTrust) -> Self {
        Self {
            parent,
            keep_baggage: true,
            keep_trace_state: true,
        }
    }

    /// This decision, dropping incoming baggage.
    #[must_use]
    pub const fn strip_baggage(mut self) -> Self {
        self.keep_baggage = false;
        self
    }

    /// This decision, dropping the incoming `tracestate`.
    #[must_use]
    pub const fn strip_trace_state(mut self) -> Self {
        self.keep_trace_state = false;
        self
    }

    /// A policy giving this decision to requests `predicate` accepts, and
    /// [`Trust::NEW_ROOT`] with baggage stripped to the others, unless
    /// [`otherwise`](TrustIf::otherwise) says different.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::{HeaderMap, Method, Uri};
    /// use trace_core::{RequestInfo, Trust, TrustPolicy, policy::ParentTrust};
    ///
    /// let policy = Trust::CONTINUE.when(|req: &RequestInfo<'_>| req.peer_is_private());
    ///
    /// let (uri, headers) = (Uri::from_static("/"), HeaderMap::new());
    /// let outside = RequestInfo::new(&Method::GET, &uri, &headers).peer("192.0.2.1:1".parse().unwrap());
    /// assert_eq!(policy.decide(&outside), Trust::NEW_ROOT.strip_baggage());
    /// ```
    pub fn when<P>(self, predicate: P) -> TrustIf<P>
    where
        P: Fn(&RequestInfo<'_>) -> bool + Send + Sync + 'static,
    {
        TrustIf {
            predicate,
            trusted: self,
            otherwise: Self::NEW_ROOT.strip_baggage(),
        }
    }

    /// What is done with the incoming parent.
    #[must_use]
    pub const fn parent(self) -> ParentTrust {
        self.parent
    }

    /// Whether incoming baggage is kept.
    #[must_use]
    pub const fn keeps_baggage(self) -> bool {
        self.keep_baggage
    }

    /// Whether the incoming `tracestate` is kept (a new root never keeps
    /// it: the specification ties `tracestate` to its `traceparent`).
    #[must_use]
    pub const fn keeps_trace_state(self) -> bool {
        self.keep_trace_state
    }
}

impl Default for Trust {
    fn default() -> Self {
        Self::CONTINUE
    }
}

/// Decides, per request, what to believe from the caller.
///
/// Implemented by [`Trust`] (the same decision for every request) and by
/// any `Fn(&RequestInfo<'_>) -> Trust`.
///
/// # Examples
///
/// Trust callers on private networks, or those presenting a shared secret;
/// everyone else starts a new trace (kept as a link) without baggage:
///
/// ```
/// use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
/// use trace_core::{RequestInfo, Trust, TrustPolicy, policy::ParentTrust};
///
/// const MESH_SECRET: HeaderName = HeaderName::from_static("x-mesh-secret");
///
/// let policy = |req: &RequestInfo<'_>| {
///     if req.peer_is_private() || req.has_secret_header(&MESH_SECRET, b"s3cr3t") {
///         Trust::CONTINUE
///     } else {
///         Trust::NEW_ROOT.strip_baggage()
///     }
/// };
///
/// let uri = Uri::from_static("/");
/// let mut headers = HeaderMap::new();
/// let internet = RequestInfo::new(&Method::GET, &uri, &headers).peer("203.0.113.9:443".parse().unwrap());
/// assert_eq!(policy.decide(&internet).parent(), ParentTrust::NewRoot);
///
/// headers.insert(MESH_SECRET, HeaderValue::from_static("s3cr3t"));
/// let partner = RequestInfo::new(&Method::GET, &uri, &headers).peer("203.0.113.9:443".parse().unwrap());
/// assert_eq!(policy.decide(&partner), Trust::CONTINUE);
/// ```
pub trait TrustPolicy: Send + Sync + 'static {
    /// The decision for one request.
    fn decide(&self, request: &RequestInfo<'_>) -> Trust;
}

impl TrustPolicy for Trust {
    fn decide(&self, _: &RequestInfo<'_>) -> Trust {
        *self
    }
}

impl<F> TrustPolicy for F
where
    F: Fn(&RequestInfo<'_>) -> Trust + Send + Sync + 'static,
{
    fn decide(&self, request: &RequestInfo<'_>) -> Trust {
        self(request)
    }
}

/// A trust decision for requests a predicate accepts, another for the rest;
/// made by [`Trust::when`].
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, HeaderName, HeaderValue, Method, Uri};
/// use trace_core::{RequestInfo, Trust, TrustPolicy};
///
/// const SECRET: HeaderName = HeaderName::from_static("x-mesh-secret");
/// let policy = Trust::CONTINUE
///     .when(|req: &RequestInfo<'_>| req.peer_is_private() || req.has_secret_header(&SECRET, b"s3cr3t"))
///     .otherwise(Trust::RESAMPLE.strip_baggage());
///
/// let (uri, mut headers) = (Uri::from_static("/"), HeaderMap::new());
/// headers.insert(SECRET, HeaderValue::from_static("s3cr3t"));
/// let partner = RequestInfo::new(&Method::GET, &uri, &headers);
/// assert_eq!(policy.decide(&partner), Trust::CONTINUE);
/// ```
pub struct TrustIf<P> {
    predicate: P,
    trusted: Trust,
    otherwise: Trust,
}

impl<P> TrustIf<P> {
    /// The decision for requests the predicate does not accept.
    #[must_use]
    pub fn otherwise(mut self, trust: Trust) -> Self {
        self.otherwise = trust;
        self
    }
}

impl<P> TrustPolicy for TrustIf<P>
where
    P: Fn(&RequestInfo<'_>) -> bool + Send + Sync + 'static,
{
    fn decide(&self, request: &RequestInfo<'_>) -> Trust {
        if (self.predicate)(request) {
            self.trusted
        } else {
            self.otherwise
        }
    }
}

impl<P> fmt::Debug for TrustIf<P> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustIf")
            .field("predicate", &std::any::type_name::<P>())
            .field("trusted", &self.trusted)
            .field("otherwise", &self.otherwise)
            .finish()
    }
}
#[cfg(test)]
mod tests {
    use http::HeaderValue;

    use super::*;

    #[test]
    fn private_networks() {
        #[rustfmt::skip]
        let cases: &[(&str, bool, &str)] = &[
            ("127.0.0.1:1", true, "loopback"),
            ("10.0.0.1:1", true, "RFC 1918"),
            ("172.16.5.4:1", true, "RFC 1918"),
            ("172.32.0.1:1", false, "just outside 172.16/12"),
            ("192.168.1.1:1", true, "RFC 1918"),
            ("169.254.1.1:1", true, "link-local"),
            ("100.64.0.1:1", true, "carrier-grade NAT"),
            ("100.128.0.1:1", false, "just outside 100.64/10"),
            ("8.8.8.8:1", false, "public"),
            ("[::1]:1", true, "IPv6 loopback"),
            ("[fd00::1]:1", true, "IPv6 unique-local"),
            ("[fe80::1]:1", true, "IPv6 link-local"),
            ("[2001:db8::1]:1", false, "IPv6 global"),
            ("[::ffff:10.0.0.1]:1", true, "IPv4-mapped private"),
            ("[::ffff:8.8.8.8]:1", false, "IPv4-mapped public"),
        ];
        let headers = HeaderMap::new();
        let uri = Uri::from_static("/");
        for &(addr, private, reason) in cases {
            let info = RequestInfo::new(&Method::GET, &uri, &headers).peer(addr.parse().unwrap());
            assert_eq!(info.peer_is_private(), private, "{reason}: {addr}");
        }
        assert!(
            !RequestInfo::new(&Method::GET, &uri, &headers).peer_is_private(),
            "unknown peer"
        );
    }

    #[test]
    fn secret_header() {
        let name = HeaderName::from_static("x-secret");
        let uri = Uri::from_static("/");
        let mut headers = HeaderMap::new();
        let info = |h: &HeaderMap| {
            RequestInfo::new(&Method::GET, &uri, h).has_secret_header(&name, b"abc")
        };
        assert!(!info(&headers), "absent");
        headers.insert(&name, HeaderValue::from_static("abd"));
        assert!(!info(&headers), "wrong");
        headers.insert(&name, HeaderValue::from_static("ab"));
        assert!(!info(&headers), "a prefix");
        headers.insert(&name, HeaderValue::from_static("abc"));
        assert!(info(&headers));
        headers.append(&name, HeaderValue::from_static("abc"));
        assert!(!info(&headers), "repeated");

        // An empty secret (an unset configuration value) never matches,
        // not even an empty header.
        let mut headers = HeaderMap::new();
        headers.insert(&name, HeaderValue::from_static(""));
        let info = RequestInfo::new(&Method::GET, &uri, &headers);
        assert!(!info.has_secret_header(&name, b""));
    }
}
