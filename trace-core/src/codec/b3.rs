//! B3, Zipkin's propagation format: the single `b3` header and the
//! `X-B3-*` headers, as the B3 specification says
//! (<https://github.com/openzipkin/b3-propagation>), with the rules
//! OpenTelemetry adds (<https://opentelemetry.io/docs/specs/otel/context/api-propagators/#b3-requirements>).

use std::fmt;

use http::{HeaderName, HeaderValue};

use crate::codec::{
    ParseError, ParseErrorKind, SpanId, TraceId,
    chars::{decode_hex, encode_hex, trim_ows},
};

/// The single B3 header, `b3`.
pub const B3_HEADER: HeaderName = HeaderName::from_static("b3");
/// `X-B3-TraceId` (header names are lowercase in `http`).
pub const X_B3_TRACE_ID: HeaderName = HeaderName::from_static("x-b3-traceid");
/// `X-B3-SpanId`.
pub const X_B3_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-spanid");
/// `X-B3-ParentSpanId`: read for validity, never written (OpenTelemetry
/// does not share a span id between both sides of a call).
pub const X_B3_PARENT_SPAN_ID: HeaderName = HeaderName::from_static("x-b3-parentspanid");
/// `X-B3-Sampled`.
pub const X_B3_SAMPLED: HeaderName = HeaderName::from_static("x-b3-sampled");
/// `X-B3-Flags`: `1` is debug.
pub const X_B3_FLAGS: HeaderName = HeaderName::from_static("x-b3-flags");

/// A B3 sampling state, when the caller sent one (its absence defers the
/// decision to the receiver).
///
/// # Examples
///
/// ```
/// use trace_core::codec::{B3, B3Sampling};
///
/// let deny: B3 = "0".parse()?;
/// assert_eq!(deny.sampling(), Some(B3Sampling::Deny));
/// assert!(B3Sampling::Debug.is_sampled(), "debug implies accept");
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum B3Sampling {
    /// `0`: not sampled.
    Deny,
    /// `1`: sampled.
    Accept,
    /// `d` (or `X-B3-Flags: 1`): sampled, and a debug trace.
    Debug,
}

impl B3Sampling {
    /// Whether the trace is sampled: accept and debug.
    #[must_use]
    pub const fn is_sampled(self) -> bool {
        !matches!(self, Self::Deny)
    }

    const fn from_single(b: u8) -> Option<Self> {
        match b {
            b'0' => Some(Self::Deny),
            b'1' => Some(Self::Accept),
            b'd' => Some(Self::Debug),
            _ => None,
        }
    }

    const fn as_single(self) -> u8 {
        match self {
            Self::Deny => b'0',
            Self::Accept => b'1',
            Self::Debug => b'd',
        }
    }
}

/// What B3 headers carry: a trace id and a span id (absent when only a
/// sampling decision is sent) and the sampling state (absent when the
/// caller defers the decision).
///
/// A 64-bit trace id is kept left-padded with zeros to 128 bits, as W3C
/// Trace Context needs it, and written back in the width it came in (see
/// [`is_narrow`](Self::is_narrow)). Hex is lowercase only, as the specification says
/// ("lower-hex"). The `ParentSpanId` must be valid when present but is
/// not kept: OpenTelemetry's rules forbid propagating it.
///
/// # Examples
///
/// ```
/// use trace_core::codec::{B3, B3Sampling};
///
/// let b3: B3 = "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1-05e3ac9a4f6e3b90".parse()?;
/// assert_eq!(b3.trace_id().unwrap().to_string(), "80f198ee56343ba864fe8b2a57d3eff7");
/// assert_eq!(b3.sampling(), Some(B3Sampling::Accept));
/// assert_eq!(b3.to_header_value(), "80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1");
///
/// let narrow: B3 = "64fe8b2a57d3eff7-e457b5a2e4d86bd1".parse()?;
/// assert_eq!(narrow.trace_id().unwrap().to_string(), "000000000000000064fe8b2a57d3eff7");
/// assert_eq!(narrow.sampling(), None, "deferred");
/// assert_eq!(narrow.to_header_value(), "64fe8b2a57d3eff7-e457b5a2e4d86bd1", "as wide as it came");
///
/// assert!("80F198EE56343BA864FE8B2A57D3EFF7-E457B5A2E4D86BD1".parse::<B3>().is_err(), "lower-hex only");
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct B3 {
    ids: Option<(TraceId, SpanId)>,
    sampling: Option<B3Sampling>,
    /// The trace id is written in 16 digits.
    narrow: bool,
}

/// The longest `b3` value written: a 128-bit trace id, a span id and a
/// sampling state.
const SINGLE_MAX: usize = 32 + 1 + 16 + 1 + 1;

impl B3 {
    /// Ids with a sampling state (`None`: deferred).
    #[must_use]
    pub const fn new(trace_id: TraceId, span_id: SpanId, sampling: Option<B3Sampling>) -> Self {
        Self {
            ids: Some((trace_id, span_id)),
            sampling,
            narrow: false,
        }
    }

    /// This B3 with its trace id written in 16 digits (a 64-bit id), when
    /// `narrow` and its high 64 bits are zero; else in 32.
    #[must_use]
    pub fn with_narrow(mut self, narrow: bool) -> Self {
        self.narrow = narrow && self.ids.is_some_and(|(t, _)| t.to_bytes()[..8] == [0; 8]);
        self
    }

    /// Whether the trace id came (and is written) in 16 digits: a 64-bit
    /// trace id.
    #[must_use]
    pub const fn is_narrow(&self) -> bool {
        self.narrow
    }

    /// A sampling decision alone, without ids (`b3: 0`).
    #[must_use]
    pub const fn decision(sampling: B3Sampling) -> Self {
        Self {
            ids: None,
            sampling: Some(sampling),
            narrow: false,
        }
    }

    /// The trace id, left-padded to 128 bits; `None` for a decision alone.
    #[must_use]
    pub fn trace_id(&self) -> Option<TraceId> {
        self.ids.map(|(trace_id, _)| trace_id)
    }

    /// The caller's span id; `None` for a decision alone.
    #[must_use]
    pub fn span_id(&self) -> Option<SpanId> {
        self.ids.map(|(_, span_id)| span_id)
    }

    /// The sampling state; `None` when the caller deferred it.
    #[must_use]
    pub const fn sampling(&self) -> Option<B3Sampling> {
        self.sampling
    }

    /// The single-header form: `{TraceId}-{SpanId}-{SamplingState}`, the
    /// sampling state alone without ids, never a `ParentSpanId`.
    #[must_use]
    pub fn to_header_value(&self) -> HeaderValue {
        let mut out = [0u8; SINGLE_MAX];
        let len = self.encode(&mut out);
        HeaderValue::from_bytes(&out[..len]).expect("b3 is visible ASCII")
    }

    fn encode(&self, out: &mut [u8; SINGLE_MAX]) -> usize {
        let mut len = 0;
        if let Some((trace_id, span_id)) = self.ids {
            len = write_trace_id(trace_id, self.narrow, out);
            out[len] = b'-';
            encode_hex(&span_id.to_bytes(), &mut out[len + 1..len + 17]);
            len += 17;
            if self.sampling.is_some() {
                out[len] = b'-';
                len += 1;
            }
        }
        if let Some(sampling) = self.sampling {
            out[len] = sampling.as_single();
            len += 1;
        }
        len
    }

    /// Parses a `b3` header value.
    fn parse(src: &[u8]) -> Result<Self, ParseError> {
        use ParseErrorKind as Kind;

        let src = trim_ows(src);
        if let [state] = src {
            return B3Sampling::from_single(*state)
                .map(Self::decision)
                .ok_or(ParseError::new(Kind::B3Sampling));
        }
        let mut fields = src.split(|&b| b == b'-');
        let (Some(trace_id), Some(span_id)) = (fields.next(), fields.next()) else {
            return Err(ParseError::new(Kind::B3Layout));
        };
        let narrow = trace_id.len() == 16;
        let trace_id = parse_trace_id(trace_id)?;
        let span_id = parse_span_id(span_id, Kind::B3SpanId)?;
        let sampling = match fields.next() {
            None => None,
            Some(&[state]) => {
                Some(B3Sampling::from_single(state).ok_or(ParseError::new(Kind::B3Sampling))?)
            }
            Some(_) => return Err(ParseError::new(Kind::B3Sampling)),
        };
        if let Some(parent) = fields.next() {
            parse_parent_span_id(parent)?;
        }
        if fields.next().is_some() {
            return Err(ParseError::new(Kind::B3Layout));
        }
        Ok(Self::new(trace_id, span_id, sampling).with_narrow(narrow))
    }

    /// Reads the `X-B3-*` headers' first values: `Ok(None)` when none of
    /// them says anything.
    pub(crate) fn from_multi(headers: &MultiHeaders<'_>) -> Result<Option<Self>, ParseError> {
        use ParseErrorKind as Kind;

        // "Debug is encoded as `X-B3-Flags: 1`. Absent or any other value
        // can be ignored." Debug implies accept, whatever `X-B3-Sampled` says.
        let sampling = if headers.flags.map(trim_ows) == Some(b"1") {
            Some(B3Sampling::Debug)
        } else {
            match headers.sampled.map(trim_ows) {
                None => None,
                // "A lenient implementation may accept" `true` and `false`.
                Some(b"1" | b"true") => Some(B3Sampling::Accept),
                Some(b"0" | b"false") => Some(B3Sampling::Deny),
                Some(_) => return Err(ParseError::new(Kind::B3Sampling)),
            }
        };
        let narrow = headers.trace_id.is_some_and(|t| trim_ows(t).len() == 16);
        let ids = match (headers.trace_id, headers.span_id) {
            (Some(trace_id), Some(span_id)) => Some((
                parse_trace_id(trim_ows(trace_id))?,
                parse_span_id(trim_ows(span_id), Kind::B3SpanId)?,
            )),
            (None, None) if headers.parent_span_id.is_none() => None,
            _ => return Err(ParseError::new(Kind::B3Incomplete)),
        };
        if let Some(parent) = headers.parent_span_id {
            parse_parent_span_id(trim_ows(parent))?;
        }
        Ok(match (ids, sampling) {
            (None, None) => None,
            (ids, sampling) => Some(Self {
                ids,
                sampling,
                narrow: narrow && ids.is_some(),
            }),
        })
    }
}

/// The first value of each `X-B3-*` header, as found in a carrier.
#[derive(Default)]
pub(crate) struct MultiHeaders<'a> {
    pub(crate) trace_id: Option<&'a [u8]>,
    pub(crate) span_id: Option<&'a [u8]>,
    pub(crate) parent_span_id: Option<&'a [u8]>,
    pub(crate) sampled: Option<&'a [u8]>,
    pub(crate) flags: Option<&'a [u8]>,
}

impl MultiHeaders<'_> {
    pub(crate) fn is_empty(&self) -> bool {
        self.trace_id.is_none()
            && self.span_id.is_none()
            && self.parent_span_id.is_none()
            && self.sampled.is_none()
            && self.flags.is_none()
    }
}

/// A 64- or 128-bit B3 trace id, left-padded to 128 bits.
fn parse_trace_id(src: &[u8]) -> Result<TraceId, ParseError> {
    let bytes = match src.len() {
        16 => decode_hex::<8>(src).map(|low| {
            let mut bytes = [0u8; 16];
            bytes[8..].copy_from_slice(&low);
            bytes
        }),
        32 => decode_hex::<16>(src),
        _ => None,
    };
    let trace_id = TraceId::from_bytes(bytes.ok_or(ParseError::new(ParseErrorKind::B3TraceId))?);
    if trace_id.is_valid() {
        Ok(trace_id)
    } else {
        Err(ParseError::new(ParseErrorKind::B3IdZero))
    }
}

fn parse_span_id(src: &[u8], kind: ParseErrorKind) -> Result<SpanId, ParseError> {
    let span_id = SpanId::from_bytes(decode_hex::<8>(src).ok_or(ParseError::new(kind))?);
    if span_id.is_valid() {
        Ok(span_id)
    } else {
        Err(ParseError::new(ParseErrorKind::B3IdZero))
    }
}

/// Checked, then dropped: a `ParentSpanId` is never propagated.
fn parse_parent_span_id(src: &[u8]) -> Result<(), ParseError> {
    decode_hex::<8>(src)
        .map(|_| ())
        .ok_or(ParseError::new(ParseErrorKind::B3ParentSpanId))
}

/// Writes a trace id as B3 and Jaeger write it: 16 digits for a `narrow`
/// (64-bit) id whose high 64 bits are zero, else 32. Returns the length
/// written.
pub(crate) fn write_trace_id(trace_id: TraceId, narrow: bool, out: &mut [u8]) -> usize {
    let bytes = trace_id.to_bytes();
    let bytes = if narrow && bytes[..8] == [0; 8] {
        &bytes[8..]
    } else {
        &bytes[..]
    };
    encode_hex(bytes, &mut out[..2 * bytes.len()]);
    2 * bytes.len()
}

impl fmt::Display for B3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; SINGLE_MAX];
        let len = self.encode(&mut out);
        f.write_str(std::str::from_utf8(&out[..len]).expect("b3 is ASCII"))
    }
}

impl fmt::Debug for B3 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("B3")
            .field("trace_id", &self.trace_id())
            .field("span_id", &self.span_id())
            .field("sampling", &self.sampling)
            .finish()
    }
}

impl_parse!(B3);

#[cfg(test)]
mod tests {
    use super::*;

    const TRACE: &str = "80f198ee56343ba864fe8b2a57d3eff7";
    const SPAN: &str = "e457b5a2e4d86bd1";
    const PARENT: &str = "05e3ac9a4f6e3b90";

    fn kind(src: &str) -> ParseErrorKind {
        src.parse::<B3>().unwrap_err().kind()
    }

    #[test]
    fn every_form_of_the_single_header() {
        use B3Sampling::*;
        #[rustfmt::skip]
        let cases: &[(String, Option<B3Sampling>, bool)] = &[
            (format!("{TRACE}-{SPAN}"), None, true),
            (format!("{TRACE}-{SPAN}-1"), Some(Accept), true),
            (format!("{TRACE}-{SPAN}-0"), Some(Deny), true),
            (format!("{TRACE}-{SPAN}-d"), Some(Debug), true),
            (format!("{TRACE}-{SPAN}-1-{PARENT}"), Some(Accept), true),
            (format!(" {TRACE}-{SPAN}-1 "), Some(Accept), true),
            ("0".to_owned(), Some(Deny), false),
            ("1".to_owned(), Some(Accept), false),
            ("d".to_owned(), Some(Debug), false),
        ];
        for (src, sampling, has_ids) in cases {
            let b3: B3 = src.parse().unwrap_or_else(|e| panic!("{src}: {e}"));
            assert_eq!(b3.sampling(), *sampling, "{src}");
            assert_eq!(b3.trace_id().is_some(), *has_ids, "{src}");
            if *has_ids {
                assert_eq!(b3.trace_id().unwrap().to_string(), TRACE);
                assert_eq!(b3.span_id().unwrap().to_string(), SPAN);
            }
        }
    }

    #[test]
    fn each_rule_has_its_error() {
        use ParseErrorKind as K;
        let zeros = "0".repeat(32);
        #[rustfmt::skip]
        let cases: &[(String, ParseErrorKind)] = &[
            (String::new(), K::B3Layout),
            ("2".to_owned(), K::B3Sampling),
            ("D".to_owned(), K::B3Sampling),
            (TRACE.to_owned(), K::B3Layout),
            (format!("{TRACE}-{SPAN}-1-{PARENT}-x"), K::B3Layout),
            (format!("{}-{SPAN}", TRACE.to_uppercase()), K::B3TraceId),
            (format!("{}-{SPAN}", &TRACE[..31]), K::B3TraceId),
            (format!("{}-{SPAN}", &TRACE[..20]), K::B3TraceId),
            (format!("{TRACE}-{}", &SPAN[..15]), K::B3SpanId),
            (format!("{TRACE}-{SPAN}-true"), K::B3Sampling),
            (format!("{TRACE}-{SPAN}-2"), K::B3Sampling),
            (format!("{TRACE}-{SPAN}--{PARENT}"), K::B3Sampling),
            (format!("{TRACE}-{SPAN}-1-{}", &PARENT[..15]), K::B3ParentSpanId),
            (format!("{zeros}-{SPAN}"), K::B3IdZero),
            (format!("{TRACE}-{}", "0".repeat(16)), K::B3IdZero),
        ];
        for (src, expected) in cases {
            assert_eq!(kind(src), *expected, "{src:?}");
        }
    }

    #[test]
    fn a_64_bit_trace_id_is_padded_and_written_back_narrow() {
        let b3: B3 = format!("{}-{SPAN}-1", &TRACE[16..]).parse().unwrap();
        assert_eq!(
            b3.trace_id().unwrap().to_string(),
            format!("{}{}", "0".repeat(16), &TRACE[16..])
        );
        assert_eq!(b3.to_string(), format!("{}-{SPAN}-1", &TRACE[16..]));
        let wide: B3 = format!("{TRACE}-{SPAN}").parse().unwrap();
        assert_eq!(wide.to_string(), format!("{TRACE}-{SPAN}"));
        // 128 bits whose high half is zero: written back as they came.
        let padded = format!("{}{}-{SPAN}", "0".repeat(16), &TRACE[16..]);
        let b3: B3 = padded.parse().unwrap();
        assert!(!b3.is_narrow());
        assert_eq!(b3.to_string(), padded);
    }

    #[test]
    fn the_parent_span_id_is_never_written() {
        let b3: B3 = format!("{TRACE}-{SPAN}-d-{PARENT}").parse().unwrap();
        assert_eq!(b3.to_header_value(), format!("{TRACE}-{SPAN}-d").as_str());
        assert_eq!(B3::decision(B3Sampling::Deny).to_header_value(), "0");
    }

    #[test]
    fn multi_headers() {
        use B3Sampling::*;
        use ParseErrorKind as K;
        let multi = |trace: Option<&'static str>,
                     span: Option<&'static str>,
                     parent: Option<&'static str>,
                     sampled: Option<&'static str>,
                     flags: Option<&'static str>| {
            B3::from_multi(&MultiHeaders {
                trace_id: trace.map(str::as_bytes),
                span_id: span.map(str::as_bytes),
                parent_span_id: parent.map(str::as_bytes),
                sampled: sampled.map(str::as_bytes),
                flags: flags.map(str::as_bytes),
            })
        };
        let ids = (Some(TRACE), Some(SPAN));
        assert_eq!(multi(None, None, None, None, None), Ok(None));
        let b3 = multi(ids.0, ids.1, Some(PARENT), Some("1"), None)
            .unwrap()
            .unwrap();
        assert_eq!(
            (b3.trace_id().unwrap().to_string(), b3.sampling()),
            (TRACE.to_owned(), Some(Accept))
        );
        assert_eq!(
            multi(ids.0, ids.1, None, None, None)
                .unwrap()
                .unwrap()
                .sampling(),
            None,
            "deferred"
        );
        assert_eq!(
            multi(ids.0, ids.1, None, Some("true"), None)
                .unwrap()
                .unwrap()
                .sampling(),
            Some(Accept),
            "lenient"
        );
        assert_eq!(
            multi(ids.0, ids.1, None, Some("false"), None)
                .unwrap()
                .unwrap()
                .sampling(),
            Some(Deny)
        );
        assert_eq!(
            multi(ids.0, ids.1, None, Some("0"), Some("1"))
                .unwrap()
                .unwrap()
                .sampling(),
            Some(Debug),
            "debug implies accept"
        );
        assert_eq!(
            multi(ids.0, ids.1, None, Some("1"), Some("0"))
                .unwrap()
                .unwrap()
                .sampling(),
            Some(Accept),
            "other flags are ignored"
        );
        let alone = multi(None, None, None, Some("0"), None).unwrap().unwrap();
        assert_eq!(
            (alone.trace_id(), alone.sampling()),
            (None, Some(Deny)),
            "a decision alone"
        );
        assert_eq!(
            multi(ids.0, None, None, Some("1"), None)
                .unwrap_err()
                .kind(),
            K::B3Incomplete
        );
        assert_eq!(
            multi(None, ids.1, None, None, None).unwrap_err().kind(),
            K::B3Incomplete
        );
        assert_eq!(
            multi(None, None, Some(PARENT), None, None)
                .unwrap_err()
                .kind(),
            K::B3Incomplete
        );
        assert_eq!(
            multi(ids.0, ids.1, None, Some(""), None)
                .unwrap_err()
                .kind(),
            K::B3Sampling,
            "empty is malformed"
        );
        assert_eq!(
            multi(ids.0, ids.1, Some("-"), None, None)
                .unwrap_err()
                .kind(),
            K::B3ParentSpanId,
            "nonsense is malformed"
        );
    }

    proptest::proptest! {
        #[test]
        fn what_is_written_reads_back(
            trace in proptest::array::uniform16(proptest::num::u8::ANY),
            narrow in proptest::bool::ANY,
            span in 1u64..,
            sampling in proptest::option::of(proptest::sample::select(vec![B3Sampling::Deny, B3Sampling::Accept, B3Sampling::Debug])),
        ) {
            let mut trace = trace;
            if narrow {
                trace[..8].fill(0);
            }
            trace[15] |= 1;
            let b3 = B3::new(TraceId::from_bytes(trace), SpanId::from_bytes(span.to_be_bytes()), sampling).with_narrow(narrow);
            let text = b3.to_string();
            proptest::prop_assert_eq!(text.parse::<B3>(), Ok(b3));
            proptest::prop_assert_eq!(text.split('-').next().unwrap().len(), if narrow { 16 } else { 32 });
        }

        #[test]
        fn any_input_parses_or_fails_without_panicking(src in proptest::collection::vec(proptest::num::u8::ANY, 0..80)) {
            let _ = B3::try_from(&src[..]);
        }

        #[test]
        fn the_grammar_accepts_exactly_its_language(
            trace in "[0-9a-f]{16}|[0-9a-f]{32}|[0-9a-fA-F]{1,33}",
            span in "[0-9a-f]{16}|[0-9a-fA-F]{1,17}",
            state in proptest::option::of("[01d]|[0-9a-z]{1,2}"),
            parent in proptest::option::of("[0-9a-f]{16}|[0-9a-fA-F]{1,17}"),
        ) {
            let lower_hex = |s: &str, lens: &[usize]| lens.contains(&s.len()) && s.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
            let mut src = format!("{trace}-{span}");
            if let Some(state) = &state {
                src = format!("{src}-{state}");
                if let Some(parent) = &parent {
                    src = format!("{src}-{parent}");
                }
            }
            let valid = lower_hex(&trace, &[16, 32])
                && trace.bytes().any(|b| b != b'0')
                && lower_hex(&span, &[16])
                && span.bytes().any(|b| b != b'0')
                && state.as_deref().is_none_or(|s| matches!(s, "0" | "1" | "d"))
                && (state.is_none() || parent.as_deref().is_none_or(|p| lower_hex(p, &[16])));
            proptest::prop_assert_eq!(src.parse::<B3>().is_ok(), valid, "{}", src);
        }
    }
}
