//! What to tell callees: which headers each destination receives.

use std::{fmt, ops};

use http::Uri;

/// Which headers go to a destination: a set of flags.
///
/// # Examples
///
/// ```
/// use trace_core::Propagate;
///
/// let third_party = Propagate::TRACEPARENT | Propagate::CORRELATION_ID;
/// assert!(third_party.contains(Propagate::TRACEPARENT));
/// assert!(!third_party.contains(Propagate::BAGGAGE));
/// assert_eq!(Propagate::ALL & Propagate::BAGGAGE, Propagate::BAGGAGE);
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Propagate(u8);

impl Propagate {
    /// Nothing.
    pub const NONE: Self = Self(0);
    /// `traceparent`.
    pub const TRACEPARENT: Self = Self(1);
    /// `tracestate` (only ever with `traceparent`).
    pub const TRACESTATE: Self = Self(1 << 1);
    /// `baggage`.
    pub const BAGGAGE: Self = Self(1 << 2);
    /// The correlation ID header.
    pub const CORRELATION_ID: Self = Self(1 << 3);
    /// Everything: the ecosystem's convention and the default.
    pub const ALL: Self = Self(0b1111);

    /// Whether every flag of `other` is set.
    #[must_use]
    pub const fn contains(self, other: Self) -> bool {
        self.0 & other.0 == other.0
    }

    /// Whether no flag is set.
    #[must_use]
    pub const fn is_empty(self) -> bool {
        self.0 == 0
    }
}

impl ops::BitOr for Propagate {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl ops::BitAnd for Propagate {
    type Output = Self;

    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl ops::Not for Propagate {
    type Output = Self;

    fn not(self) -> Self {
        Self(!self.0 & Self::ALL.0)
    }
}

impl fmt::Debug for Propagate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = [
            (Self::TRACEPARENT, "TRACEPARENT"),
            (Self::TRACESTATE, "TRACESTATE"),
            (Self::BAGGAGE, "BAGGAGE"),
            (Self::CORRELATION_ID, "CORRELATION_ID"),
        ];
        let mut set = f.debug_set();
        for (flag, name) in names {
            if self.contains(flag) {
                set.entry(&format_args!("{name}"));
            }
        }
        set.finish()
    }
}

/// Decides, per outgoing call, which headers its destination receives.
///
/// Shared by the HTTP and gRPC client adapters. Implemented by
/// [`Propagate`] (the same for every call), by [`AllowHosts`], and by any
/// `Fn(&Uri) -> Propagate`.
///
/// # Examples
///
/// Lock it down: everything to our own hosts, only `traceparent` (so a
/// partner can still report the ids) to anyone else:
///
/// ```
/// use http::Uri;
/// use trace_core::{AllowHosts, DestinationPolicy, Propagate};
///
/// let policy = AllowHosts::new(["users.internal", ".svc.cluster.local", "localhost"])
///     .otherwise(Propagate::TRACEPARENT);
/// assert_eq!(policy.decide(&Uri::from_static("http://users.internal/u/1")), Propagate::ALL);
/// assert_eq!(policy.decide(&Uri::from_static("http://inventory.shop.svc.cluster.local")), Propagate::ALL);
/// assert_eq!(policy.decide(&Uri::from_static("https://api.partner.example")), Propagate::TRACEPARENT);
/// ```
pub trait DestinationPolicy: Send + Sync + 'static {
    /// What the destination `uri` receives.
    fn decide(&self, uri: &Uri) -> Propagate;

    /// The headers a call whose destination is not known receives: none
    /// (fail closed), unless the policy is the same for every destination.
    fn decide_unknown(&self) -> Propagate {
        Propagate::NONE
    }

    /// `Some(fields)` when every destination receives the same `fields`
    /// (then a redirect cannot carry a field to a host that may not have
    /// it); `None` (the default) when the decision depends on the host.
    fn same_everywhere(&self) -> Option<Propagate> {
        None
    }
}

impl DestinationPolicy for Propagate {
    fn decide(&self, _: &Uri) -> Propagate {
        *self
    }

    fn decide_unknown(&self) -> Propagate {
        *self
    }

    fn same_everywhere(&self) -> Option<Propagate> {
        Some(*self)
    }
}

impl<F> DestinationPolicy for F
where
    F: Fn(&Uri) -> Propagate + Send + Sync + 'static,
{
    fn decide(&self, uri: &Uri) -> Propagate {
        self(uri)
    }
}

/// Everything to a list of hosts, something else (by default nothing) to
/// the rest. An entry starting with `.` matches every subdomain of it; other
/// entries match the host exactly. Hosts compare case-insensitively.
///
/// # Examples
///
/// ```
/// use http::Uri;
/// use trace_core::{AllowHosts, DestinationPolicy, Propagate};
///
/// let policy = AllowHosts::new([".example.internal"]);
/// assert_eq!(policy.decide(&Uri::from_static("http://a.example.internal")), Propagate::ALL);
/// assert_eq!(policy.decide(&Uri::from_static("http://example.com")), Propagate::NONE);
/// ```
#[derive(Debug, Clone)]
pub struct AllowHosts {
    hosts: Vec<Box<str>>,
    otherwise: Propagate,
}

impl AllowHosts {
    /// Everything to these hosts, nothing to others.
    pub fn new<I, S>(hosts: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        Self {
            hosts: hosts
                .into_iter()
                .map(|h| h.as_ref().to_ascii_lowercase().into())
                .collect(),
            otherwise: Propagate::NONE,
        }
    }

    /// What hosts not on the list receive.
    #[must_use]
    pub fn otherwise(mut self, propagate: Propagate) -> Self {
        self.otherwise = propagate;
        self
    }

    fn allows(&self, host: &str) -> bool {
        self.hosts.iter().any(|allowed| {
            if allowed.starts_with('.') {
                host.len() > allowed.len()
                    && host[host.len() - allowed.len()..].eq_ignore_ascii_case(allowed)
            } else {
                host.eq_ignore_ascii_case(allowed)
            }
        })
    }
}

impl DestinationPolicy for AllowHosts {
    fn decide(&self, uri: &Uri) -> Propagate {
        match uri.host() {
            Some(host) if self.allows(host) => Propagate::ALL,
            _ => self.otherwise,
        }
    }
}
#[cfg(test)]
mod tests {

    use super::*;

    #[test]
    fn allow_hosts() {
        let policy = AllowHosts::new(["Users", ".Internal"]).otherwise(Propagate::TRACEPARENT);
        #[rustfmt::skip]
        let cases: &[(&str, Propagate, &str)] = &[
            ("http://users/x", Propagate::ALL, "exact"),
            ("http://USERS:8080/x", Propagate::ALL, "case-insensitive, any port"),
            ("http://a.b.internal/", Propagate::ALL, "subdomain"),
            ("http://internal/", Propagate::TRACEPARENT, "the suffix alone is not a subdomain"),
            ("http://evilinternal/", Propagate::TRACEPARENT, "not a label boundary"),
            ("http://users.evil.com/", Propagate::TRACEPARENT, "prefix is not a match"),
            ("/relative", Propagate::TRACEPARENT, "no host"),
        ];
        for &(uri, expected, reason) in cases {
            assert_eq!(
                policy.decide(&uri.parse().unwrap()),
                expected,
                "{reason}: {uri}"
            );
        }
    }

    #[test]
    fn propagate_flags() {
        assert!(Propagate::ALL.contains(Propagate::TRACESTATE | Propagate::BAGGAGE));
        assert!(Propagate::NONE.is_empty());
        assert_eq!(
            format!("{:?}", Propagate::TRACEPARENT | Propagate::BAGGAGE),
            "{TRACEPARENT, BAGGAGE}"
        );
    }
}
