//! The client behind trusted proxies: the address a reverse proxy, a load
//! balancer or a sidecar reports, believed only when it comes from one.

use std::{fmt, net::IpAddr, str::FromStr};

use http::{HeaderMap, HeaderName, header::FORWARDED};
use ipnet::IpNet;

/// The proxies whose report of the client's address is believed, and the
/// header they write it in.
///
/// Behind a proxy the TCP peer is the proxy, so `peer_is_private()` is
/// true for every request. [`RequestInfo::client_ip`](super::RequestInfo::client_ip) reads the client's
/// address from the proxies' header instead, and only when the TCP peer is
/// one of these proxies: anyone else can write that header too. The list
/// in the header is read from the right (the hop nearest to us), skipping
/// the trusted proxies, and the first other address is the client's. Any
/// entry that is not an address (`unknown`, an obfuscated name, a
/// malformed value), more than 32 hops, or a trusted peer that sent no
/// header, gives no client address at all: a policy on it then fails
/// closed.
///
/// One header is read, `X-Forwarded-For` by default or `Forwarded`
/// (RFC 7239, <https://www.rfc-editor.org/rfc/rfc7239>) with
/// [`forwarded`](Self::forwarded): the one your proxy writes (and
/// overwrites), never both, since the other one is the client's to forge.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, Method, Uri};
/// use trace_core::{RequestInfo, Trust, policy::TrustedProxies};
///
/// let proxies = TrustedProxies::new(["10.0.0.0/8", "fd00::/8"]).unwrap();
///
/// let mut headers = HeaderMap::new();
/// headers.insert("x-forwarded-for", "203.0.113.7, 10.0.0.9".parse().unwrap());
/// let (method, uri) = (Method::GET, Uri::from_static("/"));
/// let via_proxy = RequestInfo::new(&method, &uri, &headers).peer("10.0.0.2:4000".parse().unwrap());
/// assert!(via_proxy.peer_is_private(), "the peer is the proxy");
/// assert_eq!(via_proxy.client_ip(&proxies), Some("203.0.113.7".parse().unwrap()));
/// assert!(!via_proxy.client_is_private(&proxies));
///
/// // The same header from anyone else is not believed.
/// let forged = RequestInfo::new(&method, &uri, &headers).peer("198.51.100.1:4000".parse().unwrap());
/// assert_eq!(forged.client_ip(&proxies), Some("198.51.100.1".parse().unwrap()));
///
/// // An edge behind the proxy: trust the private network, not the internet.
/// let edge = Trust::CONTINUE
///     .when(move |r: &RequestInfo<'_>| r.client_is_private(&proxies))
///     .otherwise(Trust::NEW_ROOT.strip_baggage());
/// # let _ = edge;
/// ```
#[derive(Clone)]
pub struct TrustedProxies {
    nets: Vec<IpNet>,
    header: Header,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Header {
    XForwardedFor,
    Forwarded,
}

/// The most hops read from a proxy header.
const MAX_HOPS: usize = 32;

static X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");

/// A proxy address or network that does not parse.
///
/// # Examples
///
/// ```
/// use trace_core::policy::TrustedProxies;
///
/// let error = TrustedProxies::new(["10.0.0.0/33"]).unwrap_err();
/// assert!(error.to_string().contains("10.0.0.0/33"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InvalidProxy(String);

impl fmt::Display for InvalidProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "`{}` is not an IP address or network (such as 10.0.0.0/8)",
            self.0
        )
    }
}

impl std::error::Error for InvalidProxy {}

impl TrustedProxies {
    /// The proxies at these addresses (`10.0.0.7`, `::1`) or networks
    /// (`10.0.0.0/8`, `fd00::/8`), reporting the client in
    /// `X-Forwarded-For`.
    ///
    /// # Errors
    ///
    /// [`InvalidProxy`] names the first entry that is neither.
    pub fn new<I, S>(proxies: I) -> Result<Self, InvalidProxy>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let nets = proxies
            .into_iter()
            .map(|proxy| {
                let proxy = proxy.as_ref().trim();
                IpNet::from_str(proxy)
                    .or_else(|_| IpAddr::from_str(proxy).map(IpNet::from))
                    .map_err(|_| InvalidProxy(proxy.to_owned()))
            })
            .collect::<Result<_, _>>()?;
        Ok(Self {
            nets,
            header: Header::XForwardedFor,
        })
    }

    /// Reads the client from `Forwarded` (its `for=` parameters) instead of
    /// `X-Forwarded-For`.
    #[must_use]
    pub fn forwarded(mut self) -> Self {
        self.header = Header::Forwarded;
        self
    }

    /// Whether `ip` is one of the proxies.
    #[must_use]
    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = ip.to_canonical();
        self.nets.iter().any(|net| net.contains(&ip))
    }

    /// The client's address: `peer` itself unless it is a trusted proxy,
    /// else what the proxies' header reports (see the type's docs).
    #[must_use]
    pub fn client(&self, peer: IpAddr, headers: &HeaderMap) -> Option<IpAddr> {
        if !self.contains(peer) {
            return Some(peer);
        }
        let name = match self.header {
            Header::XForwardedFor => &X_FORWARDED_FOR,
            Header::Forwarded => &FORWARDED,
        };
        // Lines in order make one list; read it from the right.
        let mut hops = headers
            .get_all(name)
            .iter()
            .rev()
            .flat_map(|line| line.as_bytes().rsplit(|&b| b == b','))
            .map(|hop| match self.header {
                Header::XForwardedFor => parse_address(hop),
                Header::Forwarded => forwarded_for(hop).and_then(parse_address),
            });
        let mut leftmost = None;
        for _ in 0..MAX_HOPS {
            match hops.next() {
                None => return leftmost,
                Some(None) => return None,
                Some(Some(ip)) if self.contains(ip) => leftmost = Some(ip),
                Some(Some(ip)) => return Some(ip),
            }
        }
        None
    }
}

impl fmt::Debug for TrustedProxies {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TrustedProxies")
            .field("nets", &self.nets)
            .field("header", &self.header)
            .finish()
    }
}

/// The value of the `for` parameter of one `Forwarded` element.
fn forwarded_for(element: &[u8]) -> Option<&[u8]> {
    element.split(|&b| b == b';').find_map(|pair| {
        let pair = pair.trim_ascii();
        let (name, value) = pair.split_at(pair.iter().position(|&b| b == b'=')?);
        name.eq_ignore_ascii_case(b"for").then(|| {
            let value = &value[1..];
            value
                .strip_prefix(b"\"")
                .and_then(|v| v.strip_suffix(b"\""))
                .unwrap_or(value)
        })
    })
}

/// An address as proxies write it: `192.0.2.1`, `192.0.2.1:4711`,
/// `2001:db8::1` or `[2001:db8::1]:4711`.
fn parse_address(hop: &[u8]) -> Option<IpAddr> {
    let hop = std::str::from_utf8(hop.trim_ascii()).ok()?;
    if let Some(rest) = hop.strip_prefix('[') {
        let (ip, port) = rest.split_once(']')?;
        if !(port.is_empty() || port.strip_prefix(':')?.parse::<u16>().is_ok()) {
            return None;
        }
        return ip.parse::<IpAddr>().ok().map(|ip| ip.to_canonical());
    }
    if let Ok(ip) = hop.parse::<IpAddr>() {
        return Some(ip.to_canonical());
    }
    let (ip, port) = hop.rsplit_once(':')?;
    port.parse::<u16>().ok()?;
    ip.parse::<std::net::Ipv4Addr>().ok().map(IpAddr::V4)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(name: &str, lines: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for line in lines {
            headers.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                line.parse().unwrap(),
            );
        }
        headers
    }

    #[test]
    fn the_client_is_the_first_untrusted_hop_from_the_right() {
        let proxies = TrustedProxies::new(["10.0.0.0/8", "192.168.1.5", "fd00::/8"]).unwrap();
        let proxy: IpAddr = "10.1.1.1".parse().unwrap();
        let xff = |lines: &[&str]| proxies.client(proxy, &headers("x-forwarded-for", lines));
        let ip = |s: &str| Some(s.parse::<IpAddr>().unwrap());
        #[rustfmt::skip]
        let cases: &[(&[&str], Option<IpAddr>, &str)] = &[
            (&["203.0.113.7"], ip("203.0.113.7"), "one hop"),
            (&["1.1.1.1, 203.0.113.7, 10.0.0.9"], ip("203.0.113.7"), "a forged left part is skipped"),
            (&["1.1.1.1", "203.0.113.7, 192.168.1.5"], ip("203.0.113.7"), "lines are one list"),
            (&["203.0.113.7:4711"], ip("203.0.113.7"), "a port"),
            (&["[2001:db8::1]:4711, fd00::2"], ip("2001:db8::1"), "IPv6 with a port"),
            (&["::ffff:203.0.113.7"], ip("203.0.113.7"), "IPv4-mapped"),
            (&["10.0.0.3, 10.0.0.9"], ip("10.0.0.3"), "only proxies: the leftmost"),
            (&["unknown, 10.0.0.9"], None, "not an address: fail closed"),
            (&["203.0.113.7, garbage"], None, "a malformed nearest hop"),
            (&[], None, "a trusted proxy that sent nothing"),
            (&["203.0.113.7,"], None, "an empty entry"),
        ];
        for (lines, expected, why) in cases {
            assert_eq!(xff(lines), *expected, "{why}: {lines:?}");
        }
        // Anyone else's header is not read.
        let other: IpAddr = "198.51.100.1".parse().unwrap();
        assert_eq!(
            proxies.client(other, &headers("x-forwarded-for", &["10.0.0.1"])),
            Some(other)
        );
        // Hostile lengths are bounded.
        let long = vec!["10.0.0.1"; 5000].join(",");
        assert_eq!(xff(&[&long]), None, "more than 32 hops");
    }

    #[test]
    fn forwarded_reads_the_for_parameters() {
        let proxies = TrustedProxies::new(["10.0.0.0/8"]).unwrap().forwarded();
        let proxy: IpAddr = "10.1.1.1".parse().unwrap();
        let client = |lines: &[&str]| proxies.client(proxy, &headers("forwarded", lines));
        assert_eq!(
            client(&[
                r#"for=192.0.2.60;proto=http;by=203.0.113.43, For="[2001:db8:cafe::17]:4711""#
            ]),
            Some("2001:db8:cafe::17".parse().unwrap())
        );
        assert_eq!(
            client(&["for=192.0.2.60, for=10.0.0.4"]),
            Some("192.0.2.60".parse().unwrap())
        );
        assert_eq!(client(&["for=_hidden"]), None, "obfuscated");
        assert_eq!(client(&["proto=https"]), None, "no for");
        // X-Forwarded-For is not read when Forwarded is configured.
        assert_eq!(
            proxies.client(proxy, &headers("x-forwarded-for", &["192.0.2.60"])),
            None
        );
    }

    #[test]
    fn bad_configuration_is_an_error_naming_the_entry() {
        for bad in ["10.0.0.0/33", "example.com", ""] {
            let error = TrustedProxies::new([bad]).unwrap_err();
            assert!(error.to_string().contains(&format!("`{bad}`")));
        }
    }
}
