//! B3, B3 multi-header and Jaeger beside W3C in one propagator: which
//! format gives the context, what is written, and what the policies do
//! with each.

use http::{HeaderMap, HeaderName, HeaderValue};
use trace_core::{
    AlwaysOff, AlwaysOn, ParentBased, Propagate, Propagator, SpanKind, Trust,
    codec::{B3Sampling, ParseErrorKind},
    propagation::{CallerSampling, DropReason, Format},
};

const TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const SPAN: &str = "e457b5a2e4d86bd1";
const W3C: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in pairs {
        map.append(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    map
}

fn all() -> Propagator {
    Propagator::from_env_value(Some("tracecontext,baggage,b3,b3multi,jaeger")).unwrap()
}

#[test]
fn each_format_gives_the_context() {
    let b3 = format!("{TRACE}-{SPAN}-1");
    let uber = format!("{TRACE}:{SPAN}:0:1");
    let encoded = uber.replace(':', "%3A");
    #[rustfmt::skip]
    let cases: &[(Vec<(&str, &str)>, Format)] = &[
        (vec![("b3", &b3)], Format::B3),
        (vec![("X-B3-TraceId", TRACE), ("X-B3-SpanId", SPAN), ("X-B3-Sampled", "1")], Format::B3Multi),
        (vec![("uber-trace-id", &uber)], Format::Jaeger),
        (vec![("uber-trace-id", &encoded)], Format::Jaeger),
    ];
    for (pairs, format) in cases {
        let incoming = all().extract(&headers(pairs));
        assert_eq!(incoming.format, Some(*format), "{pairs:?}");
        let parent = incoming.parent.unwrap();
        assert_eq!(parent.trace_id().to_string(), TRACE, "{pairs:?}");
        assert_eq!(parent.parent_id().to_string(), SPAN, "{pairs:?}");
        assert!(parent.flags().is_sampled(), "{pairs:?}");
        assert!(incoming.dropped.is_empty(), "{pairs:?}");
    }
}

#[test]
fn the_first_valid_format_in_the_order_wins() {
    let b3 = format!("{TRACE}-{SPAN}-0");
    let both = headers(&[("traceparent", W3C), ("b3", &b3)]);

    let w3c_first = all().extract(&both);
    assert_eq!(w3c_first.format, Some(Format::TraceContext));
    assert_eq!(w3c_first.dropped.b3, Some(DropReason::Superseded));

    let b3_first = Propagator::from_env_value(Some("b3,tracecontext"))
        .unwrap()
        .extract(&both);
    assert_eq!(b3_first.format, Some(Format::B3));
    assert_eq!(b3_first.parent.unwrap().trace_id().to_string(), TRACE);
    assert!(!b3_first.parent.unwrap().flags().is_sampled());
    assert_eq!(b3_first.dropped.traceparent, Some(DropReason::Superseded));

    // An invalid first format gives way to the next, and is reported.
    let bad_w3c = headers(&[("traceparent", "00-xyz"), ("b3", &b3)]);
    let incoming = all().extract(&bad_w3c);
    assert_eq!(incoming.format, Some(Format::B3));
    assert_eq!(
        incoming.dropped.traceparent,
        Some(DropReason::Invalid(ParseErrorKind::TraceParentLength))
    );

    // The single header comes before the multiple ones, as OpenTelemetry says.
    let single_and_multi = headers(&[
        ("b3", &b3),
        ("x-b3-traceid", "0000000000000001"),
        ("x-b3-spanid", "0000000000000002"),
    ]);
    let incoming = all().extract(&single_and_multi);
    assert_eq!(incoming.format, Some(Format::B3));
    assert_eq!(incoming.parent.unwrap().trace_id().to_string(), TRACE);
    // A bad single header falls back to the multiple ones.
    let bad_single = headers(&[
        ("b3", "nonsense-here"),
        ("x-b3-traceid", TRACE),
        ("x-b3-spanid", SPAN),
    ]);
    let incoming = all().extract(&bad_single);
    assert_eq!(incoming.format, Some(Format::B3Multi));
    assert_eq!(incoming.sampling, CallerSampling::Deferred);
    assert_eq!(
        incoming.dropped.b3,
        Some(DropReason::Invalid(ParseErrorKind::B3TraceId))
    );
}

#[test]
fn a_format_not_configured_is_not_read() {
    let only_w3c = Propagator::default();
    let incoming = only_w3c.extract(&headers(&[("b3", &format!("{TRACE}-{SPAN}-1"))]));
    assert!(incoming.parent.is_none() && incoming.dropped.is_empty());
    let only_b3 = Propagator::from_env_value(Some("b3")).unwrap();
    let incoming = only_b3.extract(&headers(&[("traceparent", W3C), ("tracestate", "a=1")]));
    assert!(incoming.parent.is_none());
    assert!(incoming.trace_state.is_empty());
    assert!(incoming.dropped.is_empty(), "W3C is not read at all");
}

#[test]
fn tracestate_goes_only_with_a_w3c_parent() {
    let incoming = all().extract(&headers(&[
        ("traceparent", "bad"),
        ("tracestate", "congo=1"),
        ("b3", &format!("{TRACE}-{SPAN}-1")),
    ]));
    assert_eq!(incoming.format, Some(Format::B3));
    assert!(incoming.trace_state.is_empty());
    assert_eq!(incoming.dropped.tracestate, Some(DropReason::NoValidParent));
}

#[test]
fn every_format_is_written_with_the_same_ids() {
    let incoming = all().extract(&headers(&[("traceparent", W3C)]));
    let cx = incoming.into_remote_context().unwrap().child();
    let mut out = HeaderMap::new();
    all().inject(&cx, Propagate::ALL, &mut out);
    let (trace, span) = (cx.trace_id().to_string(), cx.span_id().to_string());
    assert_eq!(out["traceparent"], format!("00-{trace}-{span}-01"));
    assert_eq!(out["b3"], format!("{trace}-{span}-1"));
    assert_eq!(out["x-b3-traceid"], trace);
    assert_eq!(out["x-b3-spanid"], span);
    assert_eq!(out["x-b3-sampled"], "1");
    assert_eq!(out["uber-trace-id"], format!("{trace}:{span}:0:1"));
    assert!(!out.contains_key("x-b3-parentspanid"), "never propagated");
    assert!(!out.contains_key("x-b3-flags"));
}

#[test]
fn a_64_bit_trace_id_keeps_its_width_in_b3_and_jaeger() {
    let narrow = &TRACE[16..];
    let incoming = all().extract(&headers(&[("b3", &format!("{narrow}-{SPAN}-1"))]));
    let cx = incoming.into_remote_context().unwrap().child();
    let mut out = HeaderMap::new();
    all().inject(&cx, Propagate::ALL, &mut out);
    let span = cx.span_id().to_string();
    assert_eq!(
        out["traceparent"],
        format!("00-0000000000000000{narrow}-{span}-01"),
        "padded for W3C"
    );
    assert_eq!(out["b3"], format!("{narrow}-{span}-1"));
    assert_eq!(out["x-b3-traceid"], narrow);
    assert_eq!(out["uber-trace-id"], format!("{narrow}:{span}:0:1"));

    // 128 bits whose high half is zero, in 32 digits: written back in 32.
    let padded = format!("0000000000000000{narrow}");
    let incoming = all().extract(&headers(&[(
        "uber-trace-id",
        &format!("{padded}:{SPAN}:0:1"),
    )]));
    let cx = incoming.into_remote_context().unwrap().child();
    let mut out = HeaderMap::new();
    all().inject(&cx, Propagate::ALL, &mut out);
    assert_eq!(out["x-b3-traceid"], padded.as_str(), "as wide as it came");
    assert!(out["b3"].to_str().unwrap().starts_with(&padded));
    // Through a server, as a proxy passes it on.
    let narrow_in = all().extract(&headers(&[("b3", &format!("{narrow}-{SPAN}-1"))]));
    let server = narrow_in
        .start(
            Trust::CONTINUE,
            &ParentBased::new(AlwaysOn),
            "GET /",
            SpanKind::Server,
            &[],
        )
        .context;
    assert!(server.is_narrow_trace_id());
    let mut out = HeaderMap::new();
    all().inject(&server.child(), Propagate::ALL, &mut out);
    assert_eq!(out["x-b3-traceid"], narrow);
}

fn server(
    propagator: &Propagator,
    pairs: &[(&str, &str)],
    trust: Trust,
    sampler: &ParentBased,
) -> trace_core::TraceContext {
    propagator
        .extract(&headers(pairs))
        .start(trust, sampler, "GET /", SpanKind::Server, &[])
        .context
}

#[test]
fn debug_is_kept_and_passed_on() {
    let follow = ParentBased::new(AlwaysOff);
    for pairs in [
        vec![("b3", format!("{TRACE}-{SPAN}-d"))],
        vec![
            ("x-b3-traceid", TRACE.to_owned()),
            ("x-b3-spanid", SPAN.to_owned()),
            ("x-b3-flags", "1".to_owned()),
        ],
        vec![("uber-trace-id", format!("{TRACE}:{SPAN}:0:3"))],
    ] {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let cx = server(&all(), &pairs, Trust::CONTINUE, &follow);
        assert!(
            cx.is_debug() && cx.is_sampled(),
            "{pairs:?}: debug implies sampled"
        );
        let child = cx.child();
        let mut out = HeaderMap::new();
        all().inject(&child, Propagate::ALL, &mut out);
        assert!(out["b3"].to_str().unwrap().ends_with("-d"), "{pairs:?}");
        assert_eq!(out["x-b3-flags"], "1");
        assert!(!out.contains_key("x-b3-sampled"), "debug implies accept");
        assert!(out["uber-trace-id"].to_str().unwrap().ends_with(":3"));
        assert!(out["traceparent"].to_str().unwrap().ends_with("-01"));

        // An untrusted caller's debug is not believed.
        let cx = server(&all(), &pairs, Trust::RESAMPLE, &follow);
        assert!(!cx.is_debug() && !cx.is_sampled(), "{pairs:?}");
    }
}

#[test]
fn a_deferred_decision_is_left_to_our_sampler() {
    let pairs = [("b3", format!("{TRACE}-{SPAN}"))];
    let pairs: Vec<(&str, &str)> = pairs.iter().map(|(n, v)| (*n, v.as_str())).collect();
    let incoming = all().extract(&headers(&pairs));
    assert_eq!(incoming.sampling, CallerSampling::Deferred);
    for (root, sampled) in [
        (ParentBased::new(AlwaysOn), true),
        (ParentBased::new(AlwaysOff), false),
    ] {
        let cx = server(&all(), &pairs, Trust::CONTINUE, &root);
        assert_eq!(cx.trace_id().to_string(), TRACE, "the trace goes on");
        assert_eq!(cx.is_sampled(), sampled, "decided by the root sampler");
    }
}

#[test]
fn a_decision_alone_starts_a_trace_sampled_as_it_says() {
    let follow = ParentBased::new(AlwaysOff).remote_parent_sampled(AlwaysOn);
    for (pairs, sampled, debug) in [
        (vec![("b3", "1")], true, false),
        (vec![("b3", "d")], true, true),
        (vec![("b3", "0")], false, false),
        (vec![("x-b3-sampled", "1")], true, false),
        (vec![("x-b3-flags", "1")], true, true),
    ] {
        let cx = server(&all(), &pairs, Trust::CONTINUE, &follow);
        assert!(cx.parent_span_id().is_none(), "{pairs:?}: a new trace");
        assert_eq!(
            (cx.is_sampled(), cx.is_debug()),
            (sampled, debug),
            "{pairs:?}"
        );
    }
    // Accept under a sampler that never follows remote parents.
    let never = ParentBased::new(AlwaysOn).remote_parent_sampled(AlwaysOff);
    let cx = server(&all(), &[("b3", "1")], Trust::CONTINUE, &never);
    assert!(!cx.is_sampled(), "the sampler's remote-parent rule applies");
    // Not believed: the root sampler decides.
    let cx = server(
        &all(),
        &[("b3", "0")],
        Trust::RESAMPLE,
        &ParentBased::new(AlwaysOn),
    );
    assert!(cx.is_sampled());
    let incoming = all().extract(&headers(&[("traceparent", W3C), ("b3", "0")]));
    assert_eq!(incoming.sampling, CallerSampling::Flag, "W3C came first");
    assert_eq!(incoming.dropped.b3, Some(DropReason::Superseded));
    assert_eq!(
        all().extract(&headers(&[("b3", "1")])).sampling,
        CallerSampling::Alone(B3Sampling::Accept)
    );
}

#[test]
fn the_trust_policy_applies_whatever_the_format() {
    let uber = format!("{TRACE}:{SPAN}:0:1");
    let cx = server(
        &all(),
        &[("uber-trace-id", &uber), ("uberctx-tenant", "acme")],
        Trust::NEW_ROOT.strip_baggage(),
        &ParentBased::new(AlwaysOn),
    );
    assert_ne!(cx.trace_id().to_string(), TRACE, "a new trace");
    assert_eq!(
        cx.link().unwrap().trace_id().to_string(),
        TRACE,
        "linked to the caller's"
    );
    assert!(cx.baggage().is_empty(), "stripped");
}

#[test]
fn jaeger_baggage_maps_to_and_from_w3c_baggage() {
    let uber = format!("{TRACE}:{SPAN}:0:1");
    let incoming = all().extract(&headers(&[
        ("uber-trace-id", &uber),
        ("baggage", "tenant=from-w3c"),
        ("uberctx-tenant", "from-jaeger"),
        ("uberctx-note", "value%201%20%2F%20blah"),
        ("uberctx-utf8", "Am%C3%A9lie"),
    ]));
    let baggage = &incoming.baggage;
    assert_eq!(
        baggage.get("tenant").as_deref(),
        Some("from-w3c"),
        "W3C first; no duplicate"
    );
    assert_eq!(baggage.get("note").as_deref(), Some("value 1 / blah"));
    assert_eq!(baggage.get("utf8").as_deref(), Some("Amélie"));
    assert_eq!(baggage.len(), 3);

    let cx = incoming.into_remote_context().unwrap().child();
    let mut out = headers(&[("uberctx-stale", "1")]);
    all().inject(&cx, Propagate::ALL, &mut out);
    assert_eq!(out["uberctx-note"], "value%201%20%2F%20blah");
    assert_eq!(out["uberctx-utf8"], "Am%C3%A9lie");
    assert!(!out.contains_key("uberctx-stale"), "stale members removed");
    let (w3c, _) = trace_core::Baggage::from_header_values(out.get_all("baggage"));
    assert_eq!(&w3c, baggage_of(&cx), "the same members in W3C's header");

    // Jaeger alone carries its baggage; W3C's header is not written.
    let jaeger = Propagator::from_env_value(Some("jaeger")).unwrap();
    let mut out = HeaderMap::new();
    jaeger.inject(&cx, Propagate::ALL, &mut out);
    assert!(out.contains_key("uberctx-tenant") && !out.contains_key("baggage"));
    assert!(!out.contains_key("traceparent"));
}

fn baggage_of(cx: &trace_core::TraceContext) -> &trace_core::Baggage {
    cx.baggage()
}

#[test]
fn thousands_of_jaeger_baggage_headers_stay_within_the_limits() {
    let mut map = HeaderMap::new();
    for i in 0..5_000 {
        map.append(
            HeaderName::from_bytes(format!("uberctx-k{i}").as_bytes()).unwrap(),
            HeaderValue::from_static("v"),
        );
    }
    let incoming = all().extract(&map);
    assert_eq!(
        incoming.baggage.len(),
        trace_core::limits::BAGGAGE_MAX_MEMBERS
    );
    assert_eq!(
        incoming.dropped.baggage,
        Some(DropReason::Invalid(ParseErrorKind::BaggageLimit))
    );
    let bad = all().extract(&headers(&[("uberctx-bad", "%ff"), ("uberctx-good", "1")]));
    assert_eq!(bad.baggage.get("good").as_deref(), Some("1"));
    assert_eq!(
        bad.dropped.baggage,
        Some(DropReason::Invalid(ParseErrorKind::BaggageValue)),
        "not UTF-8 once decoded"
    );
}

#[test]
fn nothing_blocked_leaves_in_any_format() {
    let cx = all()
        .extract(&headers(&[
            ("traceparent", W3C),
            ("baggage", "tenant=acme"),
        ]))
        .into_remote_context()
        .unwrap()
        .child();
    let copied = || {
        headers(&[
            ("b3", "copied"),
            ("x-b3-traceid", "copied"),
            ("x-b3-spanid", "copied"),
            ("x-b3-parentspanid", "copied"),
            ("x-b3-sampled", "copied"),
            ("x-b3-flags", "copied"),
            ("uber-trace-id", "copied"),
            ("uberctx-tenant", "copied"),
            ("accept", "text/plain"),
        ])
    };
    // Whatever the propagator's formats, blocked headers are removed.
    for propagator in [Propagator::default(), all()] {
        let mut out = copied();
        propagator.inject(&cx, Propagate::CORRELATION_ID, &mut out);
        let mut names: Vec<_> = out.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["accept"], "{propagator:?}");
    }
    let mut out = copied();
    all().inject(&cx, Propagate::ALL & !Propagate::BAGGAGE, &mut out);
    assert!(out.keys().all(|n| !n.as_str().starts_with("uberctx-")));
    assert!(!out.contains_key("baggage"));
    assert_eq!(
        out["uber-trace-id"].to_str().unwrap().split(':').nth(1),
        Some(cx.span_id().to_string().as_str())
    );
}

#[test]
fn otel_propagators_names_every_format() {
    #[rustfmt::skip]
    let cases: &[(&str, &[Format])] = &[
        ("tracecontext,baggage", &[Format::TraceContext, Format::Baggage]),
        ("b3", &[Format::B3]),
        ("B3MULTI, jaeger", &[Format::B3Multi, Format::Jaeger]),
        ("jaeger,tracecontext,jaeger", &[Format::Jaeger, Format::TraceContext]),
        ("none", &[]),
        ("none,b3", &[Format::B3]),
    ];
    for (value, formats) in cases {
        assert_eq!(
            Propagator::from_env_value(Some(value)).unwrap().formats(),
            *formats,
            "{value}"
        );
    }
    for bad in ["xray", "ottrace", "b3single", "tracecontext,zipkin"] {
        let error = Propagator::from_env_value(Some(bad))
            .unwrap_err()
            .to_string();
        assert!(error.starts_with("OTEL_PROPAGATORS names "), "{error}");
        assert_eq!(error.matches("OTEL_PROPAGATORS").count(), 1, "{error}");
    }
    let names = all().header_names().to_vec();
    for name in [
        "traceparent",
        "b3",
        "x-b3-traceid",
        "x-b3-sampled",
        "x-b3-flags",
        "uber-trace-id",
    ] {
        assert!(names.iter().any(|n| n == name), "{name} in {names:?}");
    }
}

#[test]
fn hostile_headers_are_dropped_and_never_fail_the_request() {
    let long = "a".repeat(100_000);
    let mut map = headers(&[
        ("b3", &long),
        ("x-b3-traceid", &long),
        ("x-b3-spanid", SPAN),
        ("uber-trace-id", &format!("{long}:1:0:1")),
    ]);
    for _ in 0..1_000 {
        map.append("b3", HeaderValue::from_static("0"));
        map.append("uber-trace-id", HeaderValue::from_static("1:1:0:1"));
    }
    map.append(
        "x-b3-sampled",
        HeaderValue::from_bytes(b"\xff\r").unwrap_or(HeaderValue::from_static("x")),
    );
    let incoming = all().extract(&map);
    assert!(incoming.parent.is_none());
    assert_eq!(
        incoming.dropped.b3,
        Some(DropReason::Invalid(ParseErrorKind::B3Layout))
    );
    assert_eq!(
        incoming.dropped.jaeger,
        Some(DropReason::Invalid(ParseErrorKind::UberTraceIdTraceId))
    );
}
