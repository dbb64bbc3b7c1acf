//! Cross-check with the OpenTelemetry Rust propagators users compose by
//! hand today: `opentelemetry-zipkin`'s B3 `Propagator` (0.33) and
//! `opentelemetry-jaeger-propagator` (0.32, which brings opentelemetry 0.32),
//! compared through plain header maps.
//!
//! Where both accept, both read the same ids, sampled flag and debug flag,
//! and write the same headers. Where they differ, each difference is listed
//! below with the specification's words, and asserted on both sides so the
//! list stays true when they change.

// Both crates are deprecated upstream (OTLP and W3C are their successors),
// which is the point: they are what services still speaking B3 or Jaeger use.
#![allow(deprecated)]

use std::collections::HashMap;

use http::{HeaderMap, HeaderName, HeaderValue};
use trace_core::{
    Propagate, Propagator, TraceContext,
    propagation::{CallerSampling, Format},
};

/// What a propagator read: (trace id, span id, sampled, debug).
type Read = Option<(String, String, bool, bool)>;

fn map(pairs: &[(&str, &str)]) -> HashMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

fn header_map(pairs: &[(&str, &str)]) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for (name, value) in pairs {
        headers.insert(
            HeaderName::from_bytes(name.as_bytes()).unwrap(),
            HeaderValue::from_str(value).unwrap(),
        );
    }
    headers
}

fn ours(format: Format, pairs: &[(&str, &str)]) -> Read {
    let incoming = Propagator::default()
        .with_formats([format])
        .extract(&header_map(pairs));
    let debug = incoming.sampling == CallerSampling::Debug;
    incoming.parent.map(|p| {
        (
            p.trace_id().to_string(),
            p.parent_id().to_string(),
            p.flags().is_sampled(),
            debug,
        )
    })
}

mod zipkin {
    use opentelemetry::{
        Context,
        propagation::TextMapPropagator,
        trace::{SpanContext, TraceContextExt, TraceFlags},
    };
    use opentelemetry_zipkin::{B3Encoding, Propagator};

    use super::*;

    /// The crate's own debug flag, which it keeps among the trace flags.
    const DEBUG: TraceFlags = TraceFlags::new(0x04);

    pub(super) fn read(pairs: &[(&str, &str)]) -> Read {
        let propagator = Propagator::with_encoding(B3Encoding::SingleAndMultiHeader);
        let cx = propagator.extract(&map(pairs));
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| {
            (
                sc.trace_id().to_string(),
                sc.span_id().to_string(),
                sc.is_sampled(),
                sc.trace_flags() & DEBUG == DEBUG,
            )
        })
    }

    pub(super) fn write(encoding: B3Encoding, cx: &TraceContext) -> HashMap<String, String> {
        let mut flags = TraceFlags::default().with_sampled(cx.is_sampled());
        if cx.is_debug() {
            flags = flags | DEBUG;
        }
        let sc = SpanContext::new(
            opentelemetry::trace::TraceId::from_bytes(cx.trace_id().to_bytes()),
            opentelemetry::trace::SpanId::from_bytes(cx.span_id().to_bytes()),
            flags,
            false,
            Default::default(),
        );
        let mut out = HashMap::new();
        Propagator::with_encoding(encoding)
            .inject_context(&Context::new().with_remote_span_context(sc), &mut out);
        out
    }
}

mod jaeger {
    use opentelemetry_032::{
        Context,
        propagation::TextMapPropagator,
        trace::{SpanContext, SpanId, TraceContextExt, TraceFlags, TraceId},
    };
    use opentelemetry_jaeger_propagator::Propagator;

    use super::*;

    const DEBUG: TraceFlags = TraceFlags::new(0x04);

    pub(super) fn read(pairs: &[(&str, &str)]) -> Read {
        let cx = Propagator::new().extract(&map(pairs));
        let span = cx.span();
        let sc = span.span_context();
        sc.is_valid().then(|| {
            (
                sc.trace_id().to_string(),
                sc.span_id().to_string(),
                sc.is_sampled(),
                sc.trace_flags() & DEBUG == DEBUG,
            )
        })
    }

    /// The uberctx- baggage it read, which it keeps in the tracestate.
    pub(super) fn baggage_in_trace_state(pairs: &[(&str, &str)]) -> String {
        let cx = Propagator::new().extract(&map(pairs));
        cx.span().span_context().trace_state().header()
    }

    pub(super) fn write(cx: &TraceContext) -> HashMap<String, String> {
        let mut flags = TraceFlags::default().with_sampled(cx.is_sampled());
        if cx.is_debug() {
            flags = flags | DEBUG;
        }
        let sc = SpanContext::new(
            TraceId::from_bytes(cx.trace_id().to_bytes()),
            SpanId::from_bytes(cx.span_id().to_bytes()),
            flags,
            false,
            Default::default(),
        );
        let mut out = HashMap::new();
        Propagator::new().inject_context(&Context::new().with_remote_span_context(sc), &mut out);
        out
    }
}

const T: &str = "80f198ee56343ba864fe8b2a57d3eff7";
const S: &str = "e457b5a2e4d86bd1";
const P: &str = "05e3ac9a4f6e3b90";

#[test]
fn both_read_valid_b3_alike() {
    let single = |v: String| vec![("b3", v)];
    fn multi(extra: &[(&'static str, &str)]) -> Vec<(&'static str, String)> {
        let mut pairs = vec![
            ("x-b3-traceid", T.to_owned()),
            ("x-b3-spanid", S.to_owned()),
        ];
        pairs.extend(extra.iter().map(|(k, v)| (*k, (*v).to_owned())));
        pairs
    }
    let cases: Vec<Vec<(&str, String)>> = vec![
        single(format!("{T}-{S}-1")),
        single(format!("{T}-{S}-0")),
        single(format!("{T}-{S}-1-{P}")),
        single(format!("{}-{S}-1", &T[16..])),
        multi(&[("x-b3-sampled", "1")]),
        multi(&[("x-b3-sampled", "0")]),
        multi(&[("x-b3-sampled", "false")]),
        multi(&[("x-b3-flags", "1")]),
        multi(&[("x-b3-sampled", "1"), ("x-b3-parentspanid", P)]),
        // Invalid alike: uppercase, wrong lengths, zeros, bad states.
        single(format!("{}-{S}-1", T.to_uppercase())),
        single(format!("{}-{S}-1", &T[1..])),
        single(format!("{T}-{}-1", &S[1..])),
        single(format!("{}-{S}-1", "0".repeat(32))),
        single(format!("{T}-{S}-x")),
        single(format!("{T}-{S}-1-{P}-1")),
        multi(&[("x-b3-sampled", "yes")]),
    ];
    for pairs in cases {
        let pairs: Vec<(&str, &str)> = pairs.iter().map(|(k, v)| (*k, v.as_str())).collect();
        let format = if pairs[0].0 == "b3" {
            Format::B3
        } else {
            Format::B3Multi
        };
        assert_eq!(ours(format, &pairs), zipkin::read(&pairs), "{pairs:?}");
    }
}

/// Where the B3 readers differ, with the specification's words.
#[test]
fn b3_differences() {
    // 1. "b3: 0" alone: "A deny decision may omit identifiers and look like
    //    this: b3: 0". We keep the decision; the crate reads nothing.
    let pairs = [("b3", "0")];
    let incoming = Propagator::default()
        .with_formats([Format::B3])
        .extract(&header_map(&pairs));
    assert!(matches!(incoming.sampling, CallerSampling::Alone(_)));
    assert_eq!(zipkin::read(&pairs), None);

    // 2. Deferred ("Defer is the absence of sampling state"): both read the
    //    ids unsampled; the crate marks them with a private flag, 0x02 (the
    //    W3C `random` bit), we as `CallerSampling::Deferred`, and our
    //    sampler decides.
    let deferred = format!("{T}-{S}");
    let pairs = [("b3", deferred.as_str())];
    assert_eq!(ours(Format::B3, &pairs), zipkin::read(&pairs));

    // 3. A trailing "-" ("b3: {T}-{S}-"): an empty sampling state is
    //    malformed ("An empty header ... [is an example] of malformed
    //    data"). The crate's `split_terminator` accepts it as deferred.
    let trailing = format!("{T}-{S}-");
    let pairs = [("b3", trailing.as_str())];
    assert_eq!(ours(Format::B3, &pairs), None);
    assert!(zipkin::read(&pairs).is_some());

    // 4. A nonsense X-B3-ParentSpanId ("an arbitrary nonsense value (ex
    //    X-B3-ParentSpanId: -) [is an example] of malformed data"): we drop
    //    the headers; the crate ignores the parent's error.
    let pairs = [
        ("x-b3-traceid", T),
        ("x-b3-spanid", S),
        ("x-b3-parentspanid", "-"),
    ];
    assert_eq!(ours(Format::B3Multi, &pairs), None);
    assert!(zipkin::read(&pairs).is_some());

    // 5. Debug in the single header ("Debug is an emphasized accept
    //    decision that implies accept"; OpenTelemetry "MUST set the sampled
    //    trace flag when the debug flag is set"): we read it sampled; the
    //    crate reads `d` as debug and not sampled (it does for
    //    `X-B3-Flags: 1`).
    let debug = format!("{T}-{S}-d");
    let pairs = [("b3", debug.as_str())];
    assert_eq!(
        ours(Format::B3, &pairs).map(|r| (r.2, r.3)),
        Some((true, true))
    );
    assert_eq!(
        zipkin::read(&pairs).map(|r| (r.2, r.3)),
        Some((false, true))
    );

    // 6. "X-B3-Sampled: true" ("a lenient implementation may accept them"):
    //    we accept it; the crate only when it injects multi-header alone.
    let pairs = [
        ("x-b3-traceid", T),
        ("x-b3-spanid", S),
        ("x-b3-sampled", "true"),
    ];
    assert_eq!(ours(Format::B3Multi, &pairs).map(|r| r.2), Some(true));
    assert_eq!(zipkin::read(&pairs), None, "with SingleAndMultiHeader");
}

#[test]
fn both_write_b3_alike() {
    use opentelemetry_zipkin::B3Encoding;

    for (sampled, debug) in [(true, false), (false, false), (true, true)] {
        let cx = TraceContext::new_root(sampled).with_debug(debug);
        for (format, encoding) in [
            (Format::B3, B3Encoding::SingleHeader),
            (Format::B3Multi, B3Encoding::MultipleHeader),
        ] {
            let mut ours = HeaderMap::new();
            Propagator::default()
                .with_formats([format])
                .inject(&cx, Propagate::ALL, &mut ours);
            let ours: HashMap<String, String> = ours
                .iter()
                .filter(|(name, _)| name.as_str() != "x-request-id")
                .map(|(k, v)| (k.as_str().to_owned(), v.to_str().unwrap().to_owned()))
                .collect();
            let theirs = zipkin::write(encoding, &cx);
            if format == Format::B3 {
                // 7. The crate's `SingleHeader` writes the multiple headers
                //    too (its bit test against `UnSpecified`, 0, always
                //    holds); OpenTelemetry's B3 "MUST default to injecting
                //    B3 using the single-header format". Compared: `b3`.
                assert_eq!(ours.len(), 1);
                assert_eq!(ours["b3"], theirs["b3"], "{sampled} {debug}");
                assert!(theirs.contains_key("x-b3-traceid"));
            } else {
                assert_eq!(ours, theirs, "{format:?} {sampled} {debug}");
            }
        }
    }
    // Where they differ: a 64-bit trace id. "The TraceId is 64 or 128-bit":
    // we write it back in 16 digits, as it came; the crate always writes 32.
    let narrow = Propagator::default()
        .with_formats([Format::B3])
        .extract(&header_map(&[("b3", &format!("{}-{S}-1", &T[16..]))]))
        .into_remote_context()
        .unwrap();
    let mut ours = HeaderMap::new();
    Propagator::default()
        .with_formats([Format::B3])
        .inject(&narrow, Propagate::ALL, &mut ours);
    assert_eq!(ours["b3"], format!("{}-{S}-1", &T[16..]));
    assert_eq!(
        zipkin::write(B3Encoding::SingleHeader, &narrow)["b3"],
        format!("0000000000000000{}-{S}-1", &T[16..])
    );
}

#[test]
fn both_read_valid_jaeger_alike() {
    let cases = [
        format!("{T}:{S}:0:1"),
        format!("{T}:{S}:0:0"),
        format!("{T}:{S}:0:3"),
        format!("{T}:{S}:{P}:1"),
        format!("{T}:{S}:0:01"),
        "abc:17c29:0:1".to_owned(),
        format!("{}:{S}:0:1", T.to_uppercase()),
        format!("{T}%3A{S}%3A0%3A1"),
        // Invalid alike.
        format!("{T}:{S}:0"),
        format!("{T}:{S}:0:1:1"),
        format!("1{T}:{S}:0:1"),
        format!("{T}:1{S}:0:1"),
        format!("{T}:xyz:0:1"),
        format!("{T}:{S}:0:100"),
    ];
    for value in &cases {
        let pairs = [("uber-trace-id", value.as_str())];
        assert_eq!(
            ours(Format::Jaeger, &pairs),
            jaeger::read(&pairs),
            "{value}"
        );
    }
}

/// Where the Jaeger readers differ, with the format's words.
#[test]
fn jaeger_differences() {
    // 1. Flags: "One byte bitmap, as one or two hex digits". We read hex;
    //    the crate reads decimal, so `0a` is refused and `10` is debug
    //    without sampled.
    let pairs = [("uber-trace-id", &*format!("{T}:{S}:0:0b"))];
    assert_eq!(ours(Format::Jaeger, &pairs).map(|r| r.2), Some(true));
    assert_eq!(jaeger::read(&pairs), None);

    // 2. URL encoding ("the baggage values are URL-encoded when using the
    //    HTTP_HEADERS propagation format"; clients encode the whole value):
    //    we decode any `%XX`, of either case; the crate replaces `%3A` only.
    let lower = format!("{T}%3a{S}%3a0%3a1");
    let pairs = [("uber-trace-id", lower.as_str())];
    assert!(ours(Format::Jaeger, &pairs).is_some());
    assert_eq!(jaeger::read(&pairs), None);

    // 3. A sign: "{trace-id} ... in base16 format". `+abc` is not base16; the
    //    crate's `from_str_radix` accepts it.
    let signed = format!("+abc:{S}:0:1");
    let pairs = [("uber-trace-id", signed.as_str())];
    assert_eq!(ours(Format::Jaeger, &pairs), None);
    assert!(jaeger::read(&pairs).is_some());

    // 4. Baggage: "Key: uberctx-{baggage-key}". We map it to W3C baggage
    //    (so the app and the W3C `baggage` header see it); the crate keeps
    //    it in the tracestate, under the header's name.
    let id = format!("{T}:{S}:0:1");
    let pairs = [("uber-trace-id", id.as_str()), ("uberctx-tenant", "acme")];
    let incoming = Propagator::default()
        .with_formats([Format::Jaeger])
        .extract(&header_map(&pairs));
    assert_eq!(incoming.baggage.get("tenant").as_deref(), Some("acme"));
    assert!(incoming.trace_state.is_empty());
    assert_eq!(
        jaeger::baggage_in_trace_state(&pairs),
        "uberctx-tenant=acme"
    );
}

#[test]
fn both_write_jaeger_alike() {
    for (sampled, debug) in [(true, false), (false, false), (true, true)] {
        let cx = TraceContext::new_root(sampled).with_debug(debug);
        let mut ours = HeaderMap::new();
        Propagator::default()
            .with_formats([Format::Jaeger])
            .inject(&cx, Propagate::ALL, &mut ours);
        assert_eq!(
            ours["uber-trace-id"],
            jaeger::write(&cx)["uber-trace-id"].as_str(),
            "{sampled} {debug}"
        );
    }
}
