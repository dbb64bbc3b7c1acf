//! [`Carrier`]: where headers are read from and written to.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Where headers are read from and written to: `http::HeaderMap`, and
/// through it gRPC metadata (tonic's `MetadataMap::as_mut`) and anything
/// else an adapter can turn into one.
///
/// [`Propagator::extract`](super::Propagator::extract) finds every header it
/// reads in one pass over [`headers`](Self::headers).
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use trace_core::{TRACEPARENT, propagation::Carrier};
///
/// let mut headers = HeaderMap::new();
/// headers.set(TRACEPARENT, HeaderValue::from_static("a"));
/// headers.set(TRACEPARENT, HeaderValue::from_static("b"));
/// assert_eq!(headers.get_all_values(&TRACEPARENT).count(), 1, "set replaces");
/// assert_eq!(Carrier::headers(&headers).count(), 1);
/// ```
pub trait Carrier {
    /// Every header and value, in order (a header's lines in the order
    /// they came).
    fn headers<'a>(
        &'a self,
    ) -> impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)> + use<'a, Self>;

    /// Every value of a header, in order. The default filters
    /// [`headers`](Self::headers); a carrier with an index overrides it.
    fn get_all_values<'a>(
        &'a self,
        name: &HeaderName,
    ) -> impl Iterator<Item = &'a HeaderValue> + use<'a, Self> {
        let name = name.clone();
        self.headers()
            .filter(move |(n, _)| **n == name)
            .map(|(_, value)| value)
    }

    /// Sets a header, replacing all its values.
    fn set(&mut self, name: HeaderName, value: HeaderValue);

    /// Removes a header.
    fn remove(&mut self, name: &HeaderName);
}

impl Carrier for HeaderMap {
    fn headers<'a>(&'a self) -> impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)> + use<'a> {
        self.iter()
    }

    fn get_all_values<'a>(
        &'a self,
        name: &HeaderName,
    ) -> impl Iterator<Item = &'a HeaderValue> + use<'a> {
        self.get_all(name).iter()
    }

    fn set(&mut self, name: HeaderName, value: HeaderValue) {
        self.insert(name, value);
    }

    fn remove(&mut self, name: &HeaderName) {
        Self::remove(self, name);
    }
}
