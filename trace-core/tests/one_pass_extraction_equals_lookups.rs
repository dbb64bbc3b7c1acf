//! `Propagator::extract` reads a `HeaderMap` in one pass over its headers;
//! any other carrier is read by one lookup per header. Both must give the
//! same result for any mix of headers: present or not, valid or not,
//! repeated or not, in any order, under any propagator configuration.

use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::prelude::*;
use trace_core::{Propagate, Propagator, propagation::Carrier};

/// A carrier that only offers lookups (the trait's default `all_headers`).
struct Lookups<'a>(&'a HeaderMap);

impl<'m> Carrier for Lookups<'m> {
    fn get_all_values<'a>(
        &'a self,
        name: &HeaderName,
    ) -> impl Iterator<Item = &'a HeaderValue> + use<'a, 'm> {
        self.0.get_all(name).iter()
    }

    fn set(&mut self, _: HeaderName, _: HeaderValue) {
        unreachable!("extraction only reads")
    }

    fn remove(&mut self, _: &HeaderName) {
        unreachable!("extraction only reads")
    }
}

const NAMES: &[&str] = &[
    "traceparent",
    "tracestate",
    "baggage",
    "x-request-id",
    "x-correlation-id",
    "request-id",
    "user-agent",
    "x-forwarded-for",
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
