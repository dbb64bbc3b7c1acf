//! `Propagator::extract` finds the headers it reads in one pass over a
//! carrier's headers. The result must not depend on where in the request
//! each header came, nor on the headers it does not read: a carrier that
//! lists the same headers grouped in another order (and without the rest)
//! gives the same result, for any mix of headers present or not, valid or
//! not, repeated or not, under any propagator configuration.

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use trace_core::{Propagate, Propagator, propagation::Carrier};

/// The headers of a map, looked up one name at a time in `NAMES`' reverse
/// order (so grouped and ordered unlike the map), leaving out the headers
/// extraction never reads.
struct Lookups<'a>(&'a HeaderMap);

impl<'m> Carrier for Lookups<'m> {
    fn headers<'a>(
        &'a self,
    ) -> impl Iterator<Item = (&'a HeaderName, &'a HeaderValue)> + use<'a, 'm> {
        HEADER_NAMES
            .iter()
            .rev()
            .take(NAMES.len() - 2)
            .flat_map(|name| self.0.get_all(name).iter().map(move |value| (name, value)))
    }

    fn set(&mut self, _: HeaderName, _: HeaderValue) {
        unreachable!("extraction only reads")
    }

    fn remove(&mut self, _: &HeaderName) {
        unreachable!("extraction only reads")
    }
}

/// The names the tests use; the last two are never read by extraction.
const NAMES: &[&str] = &[
    "user-agent",
    "x-forwarded-for",
    "traceparent",
    "tracestate",
    "baggage",
    "x-request-id",
    "x-correlation-id",
    "request-id",
];

static HEADER_NAMES: [HeaderName; 8] = [
    HeaderName::from_static("user-agent"),
    HeaderName::from_static("x-forwarded-for"),
    HeaderName::from_static("traceparent"),
    HeaderName::from_static("tracestate"),
    HeaderName::from_static("baggage"),
    HeaderName::from_static("x-request-id"),
    HeaderName::from_static("x-correlation-id"),
    HeaderName::from_static("request-id"),
];

const VALUES: &[&str] = &[
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
    "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-00",
    "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7",
    "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE",
    "Rojo=1",
    "userId=alice,isProduction=false",
    "bad key=1,ok=2",
    "req-7f3a9c",
    "evil id",
    "",
];

fn propagator(choice: u8) -> Propagator {
    match choice % 4 {
        0 => Propagator::default(),
        1 => Propagator::default().propagating(Propagate::TRACEPARENT | Propagate::CORRELATION_ID),
        2 => Propagator::default().correlation_header(HeaderName::from_static("request-id")),
        _ => Propagator::default().propagating(Propagate::NONE),
    }
}

proptest! {
    #[test]
    fn the_same_result(
        headers in proptest::collection::vec((0..NAMES.len(), 0..VALUES.len()), 0..12),
        choice in any::<u8>(),
    ) {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            map.append(HeaderName::from_static(NAMES[name]), HeaderValue::from_static(VALUES[value]));
        }
        let propagator = propagator(choice);
        let one_pass = propagator.extract(&map);
        let lookups = propagator.extract(&Lookups(&map));
        prop_assert_eq!(one_pass.parent, lookups.parent);
        prop_assert_eq!(one_pass.trace_state.to_string(), lookups.trace_state.to_string());
        prop_assert_eq!(one_pass.baggage.header_value(), lookups.baggage.header_value());
        prop_assert_eq!(one_pass.correlation_id, lookups.correlation_id);
        prop_assert_eq!(one_pass.dropped, lookups.dropped);
    }
}
