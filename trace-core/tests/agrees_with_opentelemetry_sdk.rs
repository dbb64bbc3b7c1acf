//! Cross-check with `opentelemetry_sdk`'s `TraceContextPropagator` and
//! `BaggagePropagator` (0.33), the propagators most Rust services use today.
//!
//! Where both accept, both must read the same ids, members and values. Where
//! they differ, the SDK departs from the specification; each departure is
//! listed below with the section it breaks, and asserted on both sides, so
//! that the list stays true when the SDK changes.

use std::collections::BTreeMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::{
    Context,
    baggage::BaggageExt,
    propagation::TextMapPropagator,
    trace::{
        SpanContext, SpanId as OtelSpanId, TraceContextExt, TraceFlags as OtelTraceFlags,
        TraceId as OtelTraceId, TraceState as OtelTraceState,
    },
};
use opentelemetry_http::{HeaderExtractor, HeaderInjector};
use opentelemetry_sdk::propagation::{BaggagePropagator, TraceContextPropagator};
use proptest::prelude::*;
use trace_core::{
    BAGGAGE, Baggage, SpanId, TRACEPARENT, TRACESTATE, TraceFlags, TraceId, TraceParent, TraceState,
};

fn headers(pairs: &[(HeaderName, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(name, HeaderValue::from_str(value).unwrap());
    }
    map
}

/// What the SDK reads from a request: (trace-id, span-id, flags, tracestate).
fn sdk_trace(map: &HeaderMap) -> Option<(String, String, u8, String)> {
    let cx = TraceContextPropagator::new().extract(&HeaderExtractor(map));
    let span = cx.span();
    let sc = span.span_context();
    sc.is_valid().then(|| {
        (
            sc.trace_id().to_string(),
            sc.span_id().to_string(),
            sc.trace_flags().to_u8(),
            sc.trace_state().header(),
        )
    })
}

/// What we read from a request, by the same rules as the SDK's shape: the
/// `traceparent` line (several lines are core-2's propagator's concern) and
/// the `tracestate` only when the `traceparent` is valid, empty if invalid.
fn our_trace(map: &HeaderMap) -> Option<(String, String, u8, String)> {
    let tp = TraceParent::try_from(map.get(TRACEPARENT)?).ok()?;
    let state = TraceState::from_header_values(map.get_all(TRACESTATE)).unwrap_or_default();
    Some((
        tp.trace_id().to_string(),
        tp.parent_id().to_string(),
        tp.flags().to_u8(),
        state.to_string(),
    ))
}

fn sdk_baggage(map: &HeaderMap) -> BTreeMap<String, String> {
    let cx = BaggagePropagator::new().extract(&HeaderExtractor(map));
    cx.baggage()
        .iter()
        .map(|(k, (v, _))| (k.as_str().to_owned(), v.as_str().to_owned()))
        .collect()
}

fn our_baggage(map: &HeaderMap) -> Vec<(String, String)> {
    let (baggage, _) = Baggage::from_header_values(map.get_all(BAGGAGE));
    baggage
        .iter()
        .map(|m| (m.key().to_owned(), m.value().into_owned()))
        .collect()
}

const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

#[test]
fn traceparent_departures() {
    // (input, SDK accepts, we accept, the rule)
    #[rustfmt::skip]
    let cases: &[(&str, bool, bool, &str)] = &[
        (VALID, true, true, "agreement: the spec's example"),
        (" 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01\t", true, true, "agreement: OWS is not part of the value"),
        ("ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", false, false, "agreement: §3.2.2.1 version ff is forbidden"),
        ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", false, false, "agreement: §3.2.2 HEXDIGLC"),
        ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", false, false, "agreement: §3.2.2.3 all-zero trace-id"),
        ("cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-future", true, true, "agreement: §3.2.4 future versions"),
        // Departures: the SDK uses from_str_radix, which takes short fields and a sign.
        ("00-abc-def-01", true, false, "§3.2.2.3/§3.2.2.4: ids are exactly 32 and 16 HEXDIGLC (w3c/trace-context#379)"),
        ("00-+bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, false, "§3.2.2.3: '+' is not HEXDIGLC"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1", true, false, "§3.2.2.5: trace-flags are 2HEXDIGLC"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-001", true, false, "§3.2.2.5: trace-flags are 2HEXDIGLC"),
        ("0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, false, "§3.2.4: a version that is not 2 hex digits restarts the trace"),
        ("000-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", true, false, "§3.2.4: a version that is not 2 hex digits restarts the trace"),
        ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-", true, false, "§3.2.2: version 00 is exactly 55 characters"),
    ];
    for &(input, sdk_accepts, we_accept, rule) in cases {
        let map = headers(&[(TRACEPARENT, input)]);
        assert_eq!(
            sdk_trace(&map).is_some(),
            sdk_accepts,
            "SDK, {rule}: {input:?}"
        );
        assert_eq!(
            our_trace(&map).is_some(),
            we_accept,
            "ours, {rule}: {input:?}"
        );
    }
}

#[test]
fn random_flag_departure() {
    // §3.2.2.5.2 (Level 2): a continued trace MUST keep the random flag.
    // The SDK masks flags to SAMPLED on extract and inject (its issue #3270).
    let map = headers(&[(
        TRACEPARENT,
        "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03",
    )]);
    assert_eq!(
        sdk_trace(&map).unwrap().2,
        0x01,
        "SDK drops the random flag"
    );
    assert_eq!(our_trace(&map).unwrap().2, 0x03, "we keep it");

    let sc = SpanContext::new(
        OtelTraceId::from(1u128),
        OtelSpanId::from(1u64),
        OtelTraceFlags::new(0x03),
        true,
        OtelTraceState::default(),
    );
    let cx = Context::new().with_remote_span_context(sc);
    let mut out = HeaderMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut out));
    assert!(
        out[TRACEPARENT].to_str().unwrap().ends_with("-01"),
        "SDK writes 01"
    );
    let ours = TraceParent::new(
        TraceId::from_u128(1),
        SpanId::from_u64(1),
        TraceFlags::new(0x03),
    );
    assert!(ours.to_string().ends_with("-03"));
}

#[test]
fn empty_tracestate_departure() {
    // §3.3.1: vendors SHOULD avoid sending an empty tracestate. The SDK
    // writes one whenever it writes a traceparent.
    let sc = SpanContext::new(
        OtelTraceId::from(1u128),
        OtelSpanId::from(1u64),
        OtelTraceFlags::SAMPLED,
        true,
        OtelTraceState::default(),
    );
    let cx = Context::new().with_remote_span_context(sc);
    let mut out = HeaderMap::new();
    TraceContextPropagator::new().inject_context(&cx, &mut HeaderInjector(&mut out));
    assert_eq!(
        out.get(TRACESTATE).map(HeaderValue::as_bytes),
        Some(&b""[..]),
        "SDK sends an empty header"
    );
    assert!(TraceState::EMPTY.header_value().is_none(), "we send none");
}

#[test]
fn tracestate_departures() {
    let ts = |lines: &[&str]| {
        let mut pairs = vec![(TRACEPARENT, VALID)];
        pairs.extend(lines.iter().map(|l| (TRACESTATE, *l)));
        headers(&pairs)
    };
    let thirty_three = (1..=33)
        .map(|i| format!("k{i}=v"))
        .collect::<Vec<_>>()
        .join(",");
    // (lines, SDK reads, we read, the rule)
    #[rustfmt::skip]
    let cases: &[(&[&str], &str, &str, &str)] = &[
        (&["rojo=00f067aa0ba902b7,congo=t61rcWkgMzE"], "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", "agreement"),
        (&["FOO=1"], "", "", "agreement: §3.3.1.3.1 keys are lowercase"),
        (&["foo=1", "bar=2"], "foo=1", "foo=1,bar=2", "§3.3.1: several tracestate lines MUST be combined"),
        (&["foo=,bar=2"], "foo=,bar=2", "", "§3.3.1.3.2: a value ends with nblk-chr, so it is not empty"),
        (&["foo=a\tb"], "foo=a\tb", "", "§3.3.1.3.2: a value is printable ASCII; tab is not"),
        (&["foo@@bar=1"], "", "foo@@bar=1", "§3.3.1.3.1: the current key grammar allows '@' anywhere after the first char"),
        (&[&thirty_three], &thirty_three[..thirty_three.rfind(',').unwrap()], "", "§3.3.1.1: at most 32 members; we discard the list (project choice), the SDK cuts it"),
    ];
    for (lines, sdk, ours, rule) in cases {
        let map = ts(lines);
        assert_eq!(sdk_trace(&map).unwrap().3, *sdk, "SDK, {rule}");
        assert_eq!(our_trace(&map).unwrap().3, *ours, "ours, {rule}");
    }
}

#[test]
fn baggage_departures() {
    let bag = |lines: &[&str]| headers(&lines.iter().map(|l| (BAGGAGE, *l)).collect::<Vec<_>>());
    let pairs = |p: &[(&str, &str)]| {
        p.iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect::<Vec<_>>()
    };

    // Agreement on the spec's examples, decoding included.
    let map = bag(&["userId=Am%C3%A9lie,serverNode=DF%2028,isProduction=false"]);
    let ours = our_baggage(&map);
    assert_eq!(
        ours,
        pairs(&[
            ("userId", "Amélie"),
            ("serverNode", "DF 28"),
            ("isProduction", "false")
        ])
    );
    assert_eq!(sdk_baggage(&map), ours.into_iter().collect());

    // W3C Baggage "baggage-string": order and duplicates SHOULD be kept.
    // The SDK stores a map: order and the duplicate are lost.
    let map = bag(&["b=1,a=2,b=3"]);
    assert_eq!(
        our_baggage(&map),
        pairs(&[("b", "1"), ("a", "2"), ("b", "3")])
    );
    assert_eq!(sdk_baggage(&map).len(), 2);

    // "Multiple baggage headers are allowed": the SDK reads the first only.
    let map = bag(&["a=1", "b=2"]);
    assert_eq!(our_baggage(&map), pairs(&[("a", "1"), ("b", "2")]));
    assert_eq!(sdk_baggage(&map).keys().collect::<Vec<_>>(), ["a"]);

    // "value MAY contain any number of the equal sign": the SDK cuts at the second '='.
    let map = bag(&["k=a=b"]);
    assert_eq!(our_baggage(&map), pairs(&[("k", "a=b")]));
    assert_eq!(sdk_baggage(&map)["k"], "a");

    // Invalid UTF-8 after decoding MUST become U+FFFD; the SDK drops the member.
    let map = bag(&["k=%FF"]);
    assert_eq!(our_baggage(&map), pairs(&[("k", "\u{FFFD}")]));
    assert!(sdk_baggage(&map).is_empty());

    // Past 8192 bytes whole members are dropped, never all: the SDK drops the header.
    let big = format!("a=1,b={}", "v".repeat(8200));
    let map = bag(&[&big]);
    assert_eq!(our_baggage(&map), pairs(&[("a", "1")]));
    assert!(sdk_baggage(&map).is_empty());
}

fn valid_traceparent() -> impl Strategy<Value = (TraceParent, u8)> {
    (
        any::<u128>(),
        any::<u64>(),
        any::<u8>(),
        prop_oneof![Just(0u8), 1u8..=0xfe],
    )
        .prop_filter_map("zero ids are invalid", |(t, s, f, v)| {
            let tp = TraceParent::new(
                TraceId::from_u128(t),
                SpanId::from_u64(s),
                TraceFlags::new(f),
            );
            tp.is_valid().then_some((tp, v))
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn both_read_valid_traceparents_alike((tp, version) in valid_traceparent(), raw_flags in any::<u8>()) {
        let text = format!("{version:02x}-{}-{}-{raw_flags:02x}", tp.trace_id(), tp.parent_id());
        let map = headers(&[(TRACEPARENT, &text)]);
        let sdk = sdk_trace(&map).expect("SDK accepts a valid traceparent");
        let ours = our_trace(&map).expect("we accept a valid traceparent");
        prop_assert_eq!(&sdk.0, &ours.0);
        prop_assert_eq!(&sdk.1, &ours.1);
        // Sampled agrees; the SDK drops the random flag (see random_flag_departure).
        prop_assert_eq!(sdk.2, ours.2 & 0x01);
        prop_assert_eq!(ours.2, raw_flags & 0x03);
    }

    #[test]
    fn both_read_valid_tracestates_alike(members in prop::collection::vec(("[a-z][a-z0-9_*/-]{0,10}", "[!-+\\--<>-~]{1,10}"), 1..=32)) {
        let text = members.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(",");
        let map = headers(&[(TRACEPARENT, VALID), (TRACESTATE, &text)]);
        let sdk = sdk_trace(&map).unwrap().3;
        let ours = our_trace(&map).unwrap().3;
        if text.len() <= 512 {
            prop_assert_eq!(sdk, ours);
        } else {
            // We cut to 512 as §3.3.1.4 advises; the SDK passes it all on.
            prop_assert!(ours.len() <= 512 && sdk.starts_with(&ours));
        }
    }

    #[test]
    fn both_read_valid_baggage_alike(entries in prop::collection::btree_map("[A-Za-z0-9_.-]{1,8}", any::<String>(), 0..8)) {
        let mut baggage = Baggage::default();
        for (k, v) in &entries {
            baggage.insert(k, v).unwrap();
        }
        let text = baggage.header_value().map_or(String::new(), |h| h.to_str().unwrap().to_owned());
        let map = headers(&[(BAGGAGE, &text)]);
        prop_assert_eq!(our_baggage(&map).into_iter().collect::<BTreeMap<_, _>>(), entries.clone());
        // The SDK trims values, so only values without surrounding white
        // space can agree.
        let sdk = sdk_baggage(&map);
        for (k, v) in &entries {
            if v.trim() == v && !v.is_empty() {
                prop_assert_eq!(sdk.get(k), Some(v));
            }
        }
    }
}
