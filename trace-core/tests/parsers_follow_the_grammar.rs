//! Property tests: every value survives a round trip through its text form,
//! and on arbitrary bytes each parser accepts exactly what the grammar
//! accepts (checked against regular expressions written straight from the
//! ABNF, independently of the parsers' own code) and never panics.

use std::sync::LazyLock;

use http::HeaderValue;
use proptest::prelude::*;
use regex::bytes::Regex;
use trace_core::{Baggage, CorrelationId, SpanId, TraceFlags, TraceId, TraceParent, TraceState};

// === Reference grammars ===

/// W3C Trace Context §3.2.2 and the versioning rules of §3.2.4, after OWS
/// (which is not part of a field value) is removed. Zero ids are checked
/// apart: a regular expression says that badly.
static TRACEPARENT: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(
        r"(?s-u)^(?:00-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}|(?:0[1-9a-f]|[1-9a-e][0-9a-f]|f[0-9a-e])-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}(?:-.*)?)$",
    )
    .unwrap()
});

/// `list-member = key "=" value` of W3C Trace Context §3.3.1.3.
static TRACESTATE_MEMBER: LazyLock<Regex> = LazyLock::new(|| {
    Regex::new(r"(?-u)^[a-z0-9][a-z0-9_\-*/@]{0,255}=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]$")
        .unwrap()
});

/// `list-member` of W3C Baggage, with `token` from RFC 7230 §3.2.6.
static BAGGAGE_MEMBER: LazyLock<Regex> = LazyLock::new(|| {
    let token = r"[!#$%&'*+\-.^_`|~0-9A-Za-z]+";
    let value = r"[\x21\x23-\x2b\x2d-\x3a\x3c-\x5b\x5d-\x7e]*";
    let ows = r"[ \t]*";
    let property = format!("{token}(?:{ows}={ows}{value})?");
    Regex::new(&format!(
        r"(?-u)^{token}{ows}={ows}{value}(?:{ows};{ows}{property})*$"
    ))
    .unwrap()
});

fn trim_ows(s: &[u8]) -> &[u8] {
    let start = s
        .iter()
        .position(|b| !b" \t".contains(b))
        .unwrap_or(s.len());
    let end = s
        .iter()
        .rposition(|b| !b" \t".contains(b))
        .map_or(start, |i| i + 1);
    &s[start..end]
}

fn reference_traceparent(s: &[u8]) -> bool {
    let s = trim_ows(s);
    TRACEPARENT.is_match(s)
        && &s[3..35] != b"00000000000000000000000000000000"
        && &s[36..52] != b"0000000000000000"
}

fn list_members(s: &[u8]) -> impl Iterator<Item = &[u8]> {
    s.split(|&b| b == b',')
        .map(trim_ows)
        .filter(|m| !m.is_empty())
}

fn reference_tracestate(s: &[u8]) -> bool {
    list_members(s).all(|m| TRACESTATE_MEMBER.is_match(m)) && list_members(s).count() <= 32
}

fn reference_baggage(s: &[u8]) -> bool {
    list_members(s).all(|m| BAGGAGE_MEMBER.is_match(m))
        && list_members(s).count() <= 64
        && list_members(s).map(|m| m.len() + 1).sum::<usize>() <= 8193
}

fn reference_correlation_id(s: &[u8]) -> bool {
    (1..=128).contains(&s.len())
        && s.iter()
            .all(|&b| (0x21..=0x7e).contains(&b) && !b"\"\\,".contains(&b))
}

// === Strategies ===

/// Bytes near the traceparent grammar, so that mutations hit every rule.
fn traceparent_like() -> impl Strategy<Value = Vec<u8>> {
    // Made from the grammar (`HEXDIGLC` runs), not by our own `Display`:
    // a broken formatter cannot hide a broken parser.
    let valid = (
        "[0-9a-e][0-9a-f]|f[0-9a-e]",
        "[0-9a-f]{32}",
        "[0-9a-f]{16}",
        "[0-9a-f]{2}",
    )
        .prop_map(|(version, trace_id, parent_id, flags)| {
            format!("{version}-{trace_id}-{parent_id}-{flags}").into_bytes()
        });
    let mutated = (
        valid.clone(),
        any::<prop::sample::Index>(),
        any::<u8>(),
        0..4u8,
    )
        .prop_map(|(mut s, at, byte, how)| {
            let i = at.index(s.len());
            match how {
                0 => s[i] = byte,
                1 => s.insert(i, byte),
                2 => {
                    s.remove(i);
                }
                _ => s.extend_from_slice(b"-x"),
            }
            s
        });
    prop_oneof![valid, mutated, prop::collection::vec(any::<u8>(), 0..80)]
}

fn tracestate_like() -> impl Strategy<Value = Vec<u8>> {
    let member = (
        "[a-z0-9][a-z0-9_*/@-]{0,8}|[A-Z.@ ]{1,3}",
        "[ -+\\--<>-~]{0,6}[!-+\\--<>-~]|[=,\\t\u{80}]{0,2}",
    )
        .prop_map(|(k, v)| format!("{k}={v}"));
    let list = prop::collection::vec(member, 0..36).prop_map(|m| m.join(",").into_bytes());
    prop_oneof![list, prop::collection::vec(any::<u8>(), 0..80)]
}

fn baggage_like() -> impl Strategy<Value = Vec<u8>> {
    let member = (
        "[!#$%&'*+.^_`|~0-9A-Za-z-]{1,6}|[ (\"é]{1,2}",
        "[ \t]{0,1}",
        "[!#-+\\--:<-\\[\\]-~]{0,6}|[ \",;\\\\]{0,2}",
        "(;[ ]?[a-z]{1,3}(=[a-z%0-9]{0,3})?){0,2}|;",
    )
        .prop_map(|(k, ows, v, props)| format!("{k}{ows}={ows}{v}{props}"));
    let list = prop::collection::vec(member, 0..8).prop_map(|m| m.join(",").into_bytes());
    prop_oneof![list, prop::collection::vec(any::<u8>(), 0..80)]
}

fn valid_tracestate() -> impl Strategy<Value = String> {
    let member = (
        "[a-z0-9][a-z0-9_*/@-]{0,20}",
        "[ -+\\--<>-~]{0,20}[!-+\\--<>-~]",
    )
        .prop_map(|(k, v)| format!("{k}={v}"));
    prop::collection::vec(member, 0..=32).prop_map(|m| m.join(","))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn ids_round_trip(t in any::<[u8; 16]>(), s in any::<[u8; 8]>(), f in any::<u8>()) {
        let trace_id = TraceId::from_bytes(t);
        let span_id = SpanId::from_bytes(s);
        let flags = TraceFlags::new(f);
        // The text form is lowercase hex of the spec's length, byte by byte.
        let hex = |bytes: &[u8]| bytes.iter().map(|b| format!("{b:02x}")).collect::<String>();
        prop_assert_eq!(trace_id.to_string(), hex(&t));
        prop_assert_eq!(span_id.to_string(), hex(&s));
        // Only the flags Level 2 defines (sampled, random) are kept.
        prop_assert_eq!(flags.to_string(), hex(&[f & 0x03]));
        prop_assert_eq!(trace_id.to_string().parse::<TraceId>(), Ok(trace_id));
        prop_assert_eq!(span_id.to_string().parse::<SpanId>(), Ok(span_id));
        prop_assert_eq!(flags.to_string().parse::<TraceFlags>(), Ok(flags));
        let tp = TraceParent::new(trace_id, span_id, flags);
        let parsed = tp.to_string().parse::<TraceParent>();
        if tp.is_valid() {
            prop_assert_eq!(parsed, Ok(tp));
        } else {
            prop_assert!(parsed.is_err(), "an all-zero id is never accepted");
        }
    }

    #[test]
    fn traceparent_accepts_exactly_the_grammar(input in traceparent_like()) {
        let ours = TraceParent::try_from(&input[..]);
        prop_assert_eq!(ours.is_ok(), reference_traceparent(&input), "{:?}", String::from_utf8_lossy(&input));
        if let Ok(tp) = ours {
            // What is accepted is written back as version 00, same fields.
            let text = tp.to_string();
            prop_assert_eq!(&text[3..52], std::str::from_utf8(&trim_ows(&input)[3..52]).unwrap());
            prop_assert_eq!(text.parse::<TraceParent>(), Ok(tp));
        }
    }

    #[test]
    fn tracestate_accepts_exactly_the_grammar(input in tracestate_like()) {
        let ours = TraceState::try_from(&input[..]);
        prop_assert_eq!(ours.is_ok(), reference_tracestate(&input), "{:?}", String::from_utf8_lossy(&input));
        if let Ok(state) = ours {
            let text = state.to_string();
            prop_assert!(text.len() <= 512);
            prop_assert_eq!(text.parse::<TraceState>(), Ok(state));
        }
    }

    #[test]
    fn tracestate_round_trips(input in valid_tracestate()) {
        let state: TraceState = input.parse().unwrap();
        let again: TraceState = state.to_string().parse().unwrap();
        prop_assert_eq!(&again, &state);
        // Under 512 characters nothing is cut.
        if input.len() <= 512 {
            prop_assert_eq!(state.len(), input.split(',').filter(|m| !m.is_empty()).count());
        }
    }

    #[test]
    fn baggage_accepts_exactly_the_grammar(input in baggage_like()) {
        let strict = Baggage::try_from(&input[..]);
        prop_assert_eq!(strict.is_ok(), reference_baggage(&input), "{:?}", String::from_utf8_lossy(&input));
        if let Ok(baggage) = strict {
            let again = Baggage::try_from(baggage.header_value().map_or(&b""[..], HeaderValue::as_bytes));
            prop_assert_eq!(again, Ok(baggage));
        }
        // The lenient reader keeps exactly the valid members.
        if let Ok(line) = HeaderValue::from_bytes(&input) {
            let (baggage, _) = Baggage::from_header_values([&line]);
            let valid = list_members(&input).filter(|m| BAGGAGE_MEMBER.is_match(m)).count();
            prop_assert_eq!(baggage.len(), valid.min(64));
        }
    }

    #[test]
    fn baggage_values_round_trip(entries in prop::collection::vec(("[!#$%&'*+.^_`|~0-9A-Za-z-]{1,8}", any::<String>()), 0..10)) {
        let mut baggage = Baggage::default();
        for (key, value) in &entries {
            baggage.insert(key, value).unwrap();
        }
        let text = baggage.header_value().map_or("", |h| h.to_str().unwrap()).to_owned();
        let parsed: Baggage = text.parse().unwrap();
        prop_assert_eq!(&parsed, &baggage);
        // The last value inserted for a key is the one read back.
        for (key, _) in &entries {
            let last = entries.iter().rev().find(|(k, _)| k == key).map(|(_, v)| v.as_str());
            let got = parsed.get(key);
            prop_assert_eq!(got.as_deref(), last);
        }
    }

    #[test]
    fn correlation_id_accepts_exactly_its_rule(input in prop_oneof![
        "[!#-+\\--\\[\\]-~]{1,130}".prop_map(String::into_bytes),
        prop::collection::vec(any::<u8>(), 0..140),
    ]) {
        let ours = CorrelationId::try_from(&input[..]);
        prop_assert_eq!(ours.is_ok(), reference_correlation_id(&input));
        if let Ok(id) = ours {
            prop_assert_eq!(id.as_str().as_bytes(), &input[..]);
            prop_assert_eq!(id.as_str().parse::<CorrelationId>(), Ok(id));
        }
    }
}

#[test]
fn hostile_inputs_are_bounded_and_never_panic() {
    // Large inputs: each parser does one linear pass and gives a plain answer.
    let huge = vec![b'a'; 1 << 20];
    assert!(TraceParent::try_from(&huge[..]).is_err());
    assert!(CorrelationId::try_from(&huge[..]).is_err());
    let commas = vec![b','; 1 << 20];
    assert!(TraceState::try_from(&commas[..]).unwrap().is_empty());
    assert!(Baggage::try_from(&commas[..]).unwrap().is_empty());

    // Thousands of members: tracestate gives up after 32, baggage keeps 64.
    let members: String = (0..10_000).map(|i| format!("k{i}=v,")).collect();
    assert!(TraceState::try_from(members.as_str()).is_err());
    let line = HeaderValue::try_from(members).unwrap();
    let (baggage, dropped) = Baggage::from_header_values([&line]);
    assert_eq!(baggage.len(), 64);
    assert!(dropped.is_some());
}
