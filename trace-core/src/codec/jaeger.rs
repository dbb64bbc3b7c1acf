//! Jaeger's propagation format: `uber-trace-id` and `uberctx-{key}`
//! baggage, as the Jaeger client libraries' documentation says
//! (<https://www.jaegertracing.io/docs/1.63/client-libraries/#propagation-format>).

use std::{borrow::Cow, fmt};

use http::{HeaderName, HeaderValue};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode};

use crate::codec::{
    ParseError, ParseErrorKind, SpanId, TraceId,
    b3::write_trace_id,
    chars::{HEX_VALUE, NOT_HEX, encode_hex, trim_ows},
};

/// The `uber-trace-id` header.
pub const UBER_TRACE_ID: HeaderName = HeaderName::from_static("uber-trace-id");
/// The prefix of Jaeger's baggage headers, `uberctx-{key}`.
pub const UBERCTX_PREFIX: &str = "uberctx-";

/// What a baggage value percent-encodes to in an `uberctx-` header: all but
/// RFC 3986's unreserved characters, so `value 1 / blah` is
/// `value%201%20%2F%20blah`, as the format's documentation shows.
pub(crate) const UBERCTX_VALUE_ENCODE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// The longest `uber-trace-id` read, decoded: two 32- and 16-digit ids,
/// a 16-digit parent and two flag digits, with their separators.
const DECODED_MAX: usize = 32 + 1 + 16 + 1 + 16 + 1 + 2;

/// Jaeger's `uber-trace-id`: `{trace-id}:{span-id}:{parent-span-id}:{flags}`.
///
/// - Ids shorter than their width are 0-padded on the left, as receivers
///   must accept; a trace id of 16 digits or fewer (64 bits) is written
///   back in 16 ([`is_narrow`](Self::is_narrow)), a longer one in 32.
///   Hex of either case is read (the format says "base16" and does not
///   restrict the case); lowercase is written.
/// - A zero trace id or span id is invalid; the deprecated parent-span-id
///   is checked and not kept, and `0` is written for it.
/// - Flags: `0x01` sampled and `0x02` debug, kept only with sampled ("debug
///   flag should only be set when the sampled flag is set"), as the
///   OpenTelemetry Jaeger propagators read it; the others (firehose) are
///   not kept.
/// - A URL-encoded value (`%3A` for `:`) is decoded first.
///
/// # Examples
///
/// ```
/// use trace_core::codec::UberTraceId;
///
/// let id: UberTraceId = "abc%3A1f%3A0%3A1".parse()?;
/// assert_eq!(id.trace_id().to_string(), "00000000000000000000000000000abc");
/// assert_eq!(id.span_id().to_string(), "000000000000001f");
/// assert!(id.is_sampled() && !id.is_debug());
/// assert_eq!(id.to_header_value(), "0000000000000abc:000000000000001f:0:1");
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct UberTraceId {
    trace_id: TraceId,
    span_id: SpanId,
    sampled: bool,
    debug: bool,
    narrow: bool,
}

/// The longest `uber-trace-id` written.
const WRITTEN_MAX: usize = 32 + 1 + 16 + 3 + 1;

impl UberTraceId {
    /// These ids with these flags (debug only with sampled).
    #[must_use]
    pub const fn new(trace_id: TraceId, span_id: SpanId, sampled: bool, debug: bool) -> Self {
        Self {
            trace_id,
            span_id,
            sampled,
            debug: debug && sampled,
            narrow: false,
        }
    }

    /// This id with its trace id written in 16 digits (a 64-bit id), when
    /// `narrow` and its high 64 bits are zero; else in 32.
    #[must_use]
    pub fn with_narrow(mut self, narrow: bool) -> Self {
        self.narrow = narrow && self.trace_id.to_bytes()[..8] == [0; 8];
        self
    }

    /// Whether the trace id came (and is written) in 16 digits or fewer: a
    /// 64-bit trace id.
    #[must_use]
    pub const fn is_narrow(&self) -> bool {
        self.narrow
    }

    /// The trace id, left-padded to 128 bits.
    #[must_use]
    pub const fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The caller's span id.
    #[must_use]
    pub const fn span_id(&self) -> SpanId {
        self.span_id
    }

    /// The sampled flag.
    #[must_use]
    pub const fn is_sampled(&self) -> bool {
        self.sampled
    }

    /// The debug flag (never without sampled).
    #[must_use]
    pub const fn is_debug(&self) -> bool {
        self.debug
    }

    /// The header value: `{trace-id}:{span-id}:0:{flags}`.
    #[must_use]
    pub fn to_header_value(&self) -> HeaderValue {
        let mut out = [0u8; WRITTEN_MAX];
        let len = self.encode(&mut out);
        HeaderValue::from_bytes(&out[..len]).expect("uber-trace-id is visible ASCII")
    }

    fn encode(&self, out: &mut [u8; WRITTEN_MAX]) -> usize {
        let mut len = write_trace_id(self.trace_id, self.narrow, out);
        out[len] = b':';
        encode_hex(&self.span_id.to_bytes(), &mut out[len + 1..len + 17]);
        len += 17;
        let flags = match (self.sampled, self.debug) {
            (_, true) => b'3',
            (true, false) => b'1',
            (false, false) => b'0',
        };
        out[len..len + 4].copy_from_slice(&[b':', b'0', b':', flags]);
        len + 4
    }

    fn parse(src: &[u8]) -> Result<Self, ParseError> {
        use ParseErrorKind as Kind;

        let src = trim_ows(src);
        let mut decoded = [0u8; DECODED_MAX];
        let src = if src.contains(&b'%') {
            let len = url_decode(src, &mut decoded)?;
            &decoded[..len]
        } else {
            src
        };
        let mut fields = src.split(|&b| b == b':');
        let (Some(trace_id), Some(span_id), Some(parent), Some(flags), None) = (
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
            fields.next(),
        ) else {
            return Err(ParseError::new(Kind::UberTraceIdLayout));
        };
        let fields_trace_len = trace_id.len();
        let trace_id = hex_u128(trace_id, 32).ok_or(ParseError::new(Kind::UberTraceIdTraceId))?;
        let span_id = hex_u128(span_id, 16).ok_or(ParseError::new(Kind::UberTraceIdSpanId))?;
        hex_u128(parent, 16).ok_or(ParseError::new(Kind::UberTraceIdParentId))?;
        let flags = hex_u128(flags, 2).ok_or(ParseError::new(Kind::UberTraceIdFlags))?;
        if trace_id == 0 || span_id == 0 {
            return Err(ParseError::new(Kind::UberTraceIdZero));
        }
        let span_id = u64::try_from(span_id).expect("at most 16 digits");
        Ok(Self::new(
            TraceId::from_bytes(trace_id.to_be_bytes()),
            SpanId::from_bytes(span_id.to_be_bytes()),
            flags & 0x01 != 0,
            flags & 0x02 != 0,
        )
        .with_narrow(fields_trace_len <= 16))
    }
}

/// One to `max` hex digits of either case, as a number: no sign, no prefix.
fn hex_u128(src: &[u8], max: usize) -> Option<u128> {
    if src.is_empty() || src.len() > max {
        return None;
    }
    src.iter().try_fold(0u128, |n, &b| {
        let digit = HEX_VALUE[usize::from(b.to_ascii_lowercase())];
        (digit != NOT_HEX).then(|| (n << 4) | u128::from(digit))
    })
}

/// Decodes `%XX` escapes into `out`; an escape that is not two hex digits,
/// or a result longer than `out`, is an error.
fn url_decode(src: &[u8], out: &mut [u8; DECODED_MAX]) -> Result<usize, ParseError> {
    let bad = ParseError::new(ParseErrorKind::UberTraceIdEncoding);
    let (mut i, mut len) = (0, 0);
    while i < src.len() {
        let byte = if src[i] == b'%' {
            let digits = src.get(i + 1..i + 3).ok_or(bad)?;
            let value = hex_u128(digits, 2).ok_or(bad)?;
            i += 3;
            u8::try_from(value).expect("two digits")
        } else {
            i += 1;
            src[i - 1]
        };
        *out.get_mut(len)
            .ok_or(ParseError::new(ParseErrorKind::UberTraceIdLayout))? = byte;
        len += 1;
    }
    Ok(len)
}

/// The baggage key of an `uberctx-{key}` header, if `name` is one.
pub(crate) fn uberctx_key(name: &HeaderName) -> Option<&str> {
    name.as_str()
        .strip_prefix(UBERCTX_PREFIX)
        .filter(|key| !key.is_empty())
}

/// An `uberctx-` header's value, URL-decoded; `None` when it is not UTF-8
/// once decoded.
pub(crate) fn uberctx_value(value: &HeaderValue) -> Option<Cow<'_, str>> {
    percent_decode(trim_ows(value.as_bytes()))
        .decode_utf8()
        .ok()
}

impl fmt::Display for UberTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut out = [0u8; WRITTEN_MAX];
        let len = self.encode(&mut out);
        f.write_str(std::str::from_utf8(&out[..len]).expect("uber-trace-id is ASCII"))
    }
}

impl fmt::Debug for UberTraceId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UberTraceId")
            .field("trace_id", &self.trace_id)
            .field("span_id", &self.span_id)
            .field("sampled", &self.sampled)
            .field("debug", &self.debug)
            .finish()
    }
}

impl_parse!(UberTraceId);

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(src: &str) -> ParseErrorKind {
        src.parse::<UberTraceId>().unwrap_err().kind()
    }

    #[test]
    fn the_documented_forms() {
        let full: UberTraceId =
            "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:05e3ac9a4f6e3b90:01"
                .parse()
                .unwrap();
        assert_eq!(
            full.trace_id().to_string(),
            "80f198ee56343ba864fe8b2a57d3eff7"
        );
        assert_eq!(full.span_id().to_string(), "e457b5a2e4d86bd1");
        assert!(full.is_sampled() && !full.is_debug());
        assert_eq!(
            full.to_string(),
            "80f198ee56343ba864fe8b2a57d3eff7:e457b5a2e4d86bd1:0:1"
        );

        let short: UberTraceId = "1:2:0:0".parse().unwrap();
        assert_eq!(short.trace_id().to_string(), format!("{}1", "0".repeat(31)));
        assert_eq!(short.to_string(), "0000000000000001:0000000000000002:0:0");
        assert!(!short.is_sampled());

        let debug: UberTraceId = "ABC:DEF:0:3".parse().unwrap();
        assert!(debug.is_debug() && debug.is_sampled());
        assert_eq!(debug.to_string(), "0000000000000abc:0000000000000def:0:3");
        let alone: UberTraceId = "abc:def:0:2".parse().unwrap();
        assert!(
            !alone.is_debug() && !alone.is_sampled(),
            "debug only with sampled"
        );

        let firehose: UberTraceId = "abc:def:0:9".parse().unwrap();
        assert!(firehose.is_sampled() && !firehose.is_debug());

        let encoded: UberTraceId = "abc%3adef%3A0%3A1".parse().unwrap();
        assert_eq!(encoded, "abc:def:0:1".parse().unwrap());
        assert_eq!(" abc:def:0:1 ".parse::<UberTraceId>().unwrap(), encoded);
    }

    #[test]
    fn each_rule_has_its_error() {
        use ParseErrorKind as K;
        #[rustfmt::skip]
        let cases: &[(&str, ParseErrorKind)] = &[
            ("", K::UberTraceIdLayout),
            ("abc:def:0", K::UberTraceIdLayout),
            ("abc:def:0:1:2", K::UberTraceIdLayout),
            ("abc-def-0-1", K::UberTraceIdLayout),
            (":def:0:1", K::UberTraceIdTraceId),
            ("+abc:def:0:1", K::UberTraceIdTraceId),
            ("0x1:def:0:1", K::UberTraceIdTraceId),
            ("180f198ee56343ba864fe8b2a57d3eff7:def:0:1", K::UberTraceIdTraceId),
            ("abc:1e457b5a2e4d86bd1:0:1", K::UberTraceIdSpanId),
            ("abc:xyz:0:1", K::UberTraceIdSpanId),
            ("abc:def::1", K::UberTraceIdParentId),
            ("abc:def:0:", K::UberTraceIdFlags),
            ("abc:def:0:100", K::UberTraceIdFlags),
            ("0:def:0:1", K::UberTraceIdZero),
            ("abc:0000:0:1", K::UberTraceIdZero),
            ("abc%3gdef:0:1", K::UberTraceIdEncoding),
            ("abc%3", K::UberTraceIdEncoding),
            ("abc%zz", K::UberTraceIdEncoding),
        ];
        for (src, expected) in cases {
            assert_eq!(kind(src), *expected, "{src:?}");
        }
        let long = format!("{}%3A1:0:1", "%31".repeat(80));
        assert_eq!(
            kind(&long),
            K::UberTraceIdLayout,
            "bounded, however it is encoded"
        );
    }

    #[test]
    fn baggage_headers() {
        assert_eq!(
            uberctx_key(&HeaderName::from_static("uberctx-key1")),
            Some("key1")
        );
        assert_eq!(uberctx_key(&HeaderName::from_static("uberctx-")), None);
        assert_eq!(uberctx_key(&HeaderName::from_static("x-uberctx-a")), None);
        let value = HeaderValue::from_static("value%201%20%2F%20blah");
        assert_eq!(uberctx_value(&value).as_deref(), Some("value 1 / blah"));
        assert_eq!(
            uberctx_value(&HeaderValue::from_static("%ff")),
            None,
            "not UTF-8"
        );
        let encoded = percent_encoding::utf8_percent_encode("value 1 / blah", UBERCTX_VALUE_ENCODE);
        assert_eq!(
            encoded.to_string(),
            "value%201%20%2F%20blah",
            "as the documentation shows"
        );
    }

    proptest::proptest! {
        #[test]
        fn what_is_written_reads_back(
            trace in 1u128..,
            narrow in proptest::bool::ANY,
            span in 1u64..,
            sampled in proptest::bool::ANY,
            debug in proptest::bool::ANY,
        ) {
            let trace = if narrow { trace & u128::from(u64::MAX) | 1 } else { trace };
            let id = UberTraceId::new(TraceId::from_bytes(trace.to_be_bytes()), SpanId::from_bytes(span.to_be_bytes()), sampled, debug).with_narrow(narrow);
            let text = id.to_string();
            proptest::prop_assert_eq!(text.parse::<UberTraceId>(), Ok(id));
        }

        #[test]
        fn any_input_parses_or_fails_without_panicking(src in proptest::collection::vec(proptest::num::u8::ANY, 0..120)) {
            let _ = UberTraceId::try_from(&src[..]);
        }

        #[test]
        fn the_grammar_accepts_exactly_its_language(
            trace in "[0-9a-fA-F]{1,33}|",
            span in "[0-9a-fA-F]{1,17}|x",
            parent in "[0-9a-f]{1,17}",
            flags in "[0-9a-f]{1,3}",
        ) {
            let src = format!("{trace}:{span}:{parent}:{flags}");
            let nonzero = |s: &str| s.bytes().any(|b| b != b'0');
            let valid = (1..=32).contains(&trace.len()) && nonzero(&trace)
                && (1..=16).contains(&span.len()) && span != "x" && nonzero(&span)
                && parent.len() <= 16
                && flags.len() <= 2;
            proptest::prop_assert_eq!(src.parse::<UberTraceId>().is_ok(), valid, "{}", src);
            // URL-encoding the separators changes nothing.
            proptest::prop_assert_eq!(src.replace(':', "%3A").parse::<UberTraceId>().ok(), src.parse().ok());
        }
    }
}
