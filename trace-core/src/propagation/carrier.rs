//! [`Carrier`]: where headers are read from and written to.

use http::{HeaderMap, HeaderName, HeaderValue};

/// Where headers are read from and written to: `http::HeaderMap` here; gRPC
/// metadata in `trace-tonic`.
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
/// ```
pub trait Carrier {
    /// Every value of a header, in order.
    fn get_all_values<'a>(
        &'a self,
        name: &HeaderName,
    ) -> impl Iterator<Item = &'a HeaderValue> + use<'a, Self>;

    /// Sets a header, replacing all its values.
    fn set(&mut self, name: HeaderName, value: HeaderValue);

    /// Removes a header.
    fn remove(&mut self, name: &HeaderName);

    /// Every header and value, in order, when the carrier can list them
    /// cheaply. [`Propagator::extract`] then finds all the headers it reads
    /// in one pass instead of one lookup (and one hash of the name) each.
    /// The default is `None`: one [`get_all_values`](Self::get_all_values)
    /// per header.
    fn all_headers<'a>(
        &'a self,
    ) -> Option<impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)> + use<'a, Self>> {
        None::<std::iter::Empty<_>>
    }
}

impl Carrier for HeaderMap {
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

    fn all_headers<'a>(
        &'a self,
    ) -> Option<impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)> + use<'a>> {
        Some(self.iter())
    }
}
