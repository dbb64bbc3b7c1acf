//! The `traceparent` header (W3C Trace Context §3.2).

use std::fmt;

use http::HeaderValue;

use crate::{
    codec::chars::{HEX_VALUE, NOT_HEX, decode_hex, encode_hex, trim_ows},
    codec::{ParseError, ParseErrorKind, SpanId, TraceFlags, TraceId},
};

/// The `traceparent` of a request: version, trace-id, parent-id and flags.
///
/// Parsing follows W3C Trace Context (Level 2) to the letter:
///
/// - version `00` is exactly 55 characters: `00-{32 hex}-{16 hex}-{2 hex}`,
///   lowercase hex only, and neither id may be all zeros;
/// - version `ff` is forbidden;
/// - a higher version is read by the specification's forward-compatibility
///   rule: at least 55 characters, the same first four fields, and after the
///   flags either the end or a `-` followed by fields that are ignored.
///   It is always written back as version `00`;
/// - anything else is an error whose [kind](ParseError::kind) names the rule.
///
/// Optional white space (space, tab) around the value is not part of an HTTP
/// field value (RFC 9110 §5.5) and is ignored, as the W3C test suite
/// expects; any other surrounding byte is an error.
///
/// Parsing and [`encode`](Self::encode) never allocate.
///
/// # Examples
///
/// ```
/// use trace_core::{TraceParent, codec::ParseErrorKind};
///
/// let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01".parse()?;
/// assert_eq!(tp.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
/// assert!(tp.flags().is_sampled());
/// assert_eq!(tp.to_string(), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
///
/// // A future version is read, and written back as version 00.
/// let future: TraceParent =
///     "cc-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-comes-next".parse()?;
/// assert_eq!(future, tp);
///
/// // Version 00 with trailing data restarts the trace.
/// let err = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-x"
///     .parse::<TraceParent>()
///     .unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::TraceParentLength);
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct TraceParent {
    trace_id: TraceId,
    parent_id: SpanId,
    flags: TraceFlags,
}

// Offsets of the fields in `vv-tttttttttttttttttttttttttttttttt-pppppppppppppppp-ff`.
const TRACE_ID: usize = 3;
const PARENT_ID: usize = 36;
const FLAGS: usize = 53;

impl TraceParent {
    /// The length of a version `00` `traceparent`.
    pub const LEN: usize = 55;

    /// The version this crate writes.
    pub const VERSION: u8 = 0;

    /// A `traceparent` from its parts.
    ///
    /// The ids are taken as given; [`is_valid`](Self::is_valid) tells whether
    /// receivers will accept the result.
    #[must_use]
    pub const fn new(trace_id: TraceId, parent_id: SpanId, flags: TraceFlags) -> Self {
        Self {
            trace_id,
            parent_id,
            flags,
        }
    }

    /// Parses a `traceparent` from a `&'static str` at compile time.
    ///
    /// # Panics
    ///
    /// When `src` is not a valid version `00` `traceparent` of exactly 55
    /// characters; in a `const` this is a compile error.
    ///
    /// ```should_panic
    /// use trace_core::TraceParent;
    ///
    /// let _ = TraceParent::from_static("00-00000000000000000000000000000000-00f067aa0ba902b7-01");
    /// ```
    #[must_use]
    pub const fn from_static(src: &'static str) -> Self {
        let b = src.as_bytes();
        if b.len() != Self::LEN || b[0] != b'0' || b[1] != b'0' {
            panic!("TraceParent::from_static: not a version 00 traceparent");
        }
        if b[2] != b'-' || b[PARENT_ID - 1] != b'-' || b[FLAGS - 1] != b'-' {
            panic!("TraceParent::from_static: misplaced '-'");
        }
        let (trace_id, parent_id, flags) = match (
            decode_hex::<16>(b.split_at(TRACE_ID).1.split_at(32).0),
            decode_hex::<8>(b.split_at(PARENT_ID).1.split_at(16).0),
            decode_hex::<1>(b.split_at(FLAGS).1),
        ) {
            (Some(t), Some(p), Some(f)) => (TraceId::from_bytes(t), SpanId::from_bytes(p), f[0]),
            _ => panic!("TraceParent::from_static: not lowercase hex"),
        };
        if !trace_id.is_valid() || !parent_id.is_valid() {
            panic!("TraceParent::from_static: all-zero id");
        }
        Self::new(trace_id, parent_id, TraceFlags::new(flags))
    }

    /// The trace-id.
    #[must_use]
    pub const fn trace_id(&self) -> TraceId {
        self.trace_id
    }

    /// The parent-id: the span id of the caller's span.
    #[must_use]
    pub const fn parent_id(&self) -> SpanId {
        self.parent_id
    }

    /// The trace-flags.
    #[must_use]
    pub const fn flags(&self) -> TraceFlags {
        self.flags
    }

    /// This `traceparent` with other flags.
    #[must_use]
    pub const fn with_flags(self, flags: TraceFlags) -> Self {
        Self { flags, ..self }
    }

    /// This `traceparent` with another parent-id (the span id of a new span).
    #[must_use]
    pub const fn with_parent_id(self, parent_id: SpanId) -> Self {
        Self { parent_id, ..self }
    }

    /// Whether both ids are valid (not all zeros).
    #[must_use]
    pub const fn is_valid(&self) -> bool {
        self.trace_id.is_valid() && self.parent_id.is_valid()
    }

    /// The version `00` text form, in a fixed array: no allocation.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::TraceParent;
    ///
    /// let tp = TraceParent::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    /// assert_eq!(&tp.encode(), b"00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
    /// ```
    #[must_use]
    pub fn encode(&self) -> [u8; Self::LEN] {
        let mut out = [b'-'; Self::LEN];
        out[0] = b'0';
        out[1] = b'0';
        encode_hex(&self.trace_id.to_bytes(), &mut out[TRACE_ID..TRACE_ID + 32]);
        encode_hex(
            &self.parent_id.to_bytes(),
            &mut out[PARENT_ID..PARENT_ID + 16],
        );
        encode_hex(&[self.flags.to_u8()], &mut out[FLAGS..]);
        out
    }

    /// The text form as a header value (the one allocation of writing it).
    #[must_use]
    pub fn to_header_value(&self) -> HeaderValue {
        HeaderValue::from_bytes(&self.encode()).expect("a traceparent is visible ASCII")
    }

    fn parse(src: &[u8]) -> Result<Self, ParseError> {
        use ParseErrorKind as Kind;

        let src = trim_ows(src);
        let err = |kind| Err(ParseError::new(kind));
        // Versioning rule 1: the version is two hex digits followed by '-'.
        let (hi, lo) = match src {
            [hi, lo, b'-', ..] => (HEX_VALUE[usize::from(*hi)], HEX_VALUE[usize::from(*lo)]),
            // Too short to hold a version prefix at all.
            _ if src.len() < 3 => return err(Kind::TraceParentLength),
            _ => return err(Kind::Version),
        };
        if hi == NOT_HEX || lo == NOT_HEX {
            return err(Kind::Version);
        }
        let version = (hi << 4) | lo;
        if version == 0xff {
            return err(Kind::VersionForbidden);
        }
        if src.len() < Self::LEN {
            return err(Kind::TraceParentLength);
        }
        // Each id must be followed by '-'; checking that first reports a
        // too-long id as that id's error rather than as a length error.
        if src[PARENT_ID - 1] != b'-' {
            return err(Kind::TraceId);
        }
        if src[FLAGS - 1] != b'-' {
            return err(Kind::ParentId);
        }
        let trace_id = TraceId::parse(&src[TRACE_ID..PARENT_ID - 1])?;
        if !trace_id.is_valid() {
            return err(Kind::TraceIdZero);
        }
        let parent_id = SpanId::parse(&src[PARENT_ID..FLAGS - 1])?;
        if !parent_id.is_valid() {
            return err(Kind::ParentIdZero);
        }
        let flags = TraceFlags::parse(&src[FLAGS..Self::LEN])?;
        if src.len() > Self::LEN {
            // Version 00 is exactly 55 characters. A future version may
            // carry more fields, after a '-'.
            if version == 0 {
                return err(Kind::TraceParentLength);
            }
            if src[Self::LEN] != b'-' {
                return err(Kind::TraceFlags);
            }
        }
        Ok(Self::new(trace_id, parent_id, flags))
    }
}

impl fmt::Display for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let text = self.encode();
        f.write_str(std::str::from_utf8(&text).expect("a traceparent is ASCII"))
    }
}

impl fmt::Debug for TraceParent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceParent")
            .field("trace_id", &format_args!("{}", self.trace_id))
            .field("parent_id", &format_args!("{}", self.parent_id))
            .field("flags", &self.flags)
            .finish()
    }
}

impl_parse!(TraceParent);

impl From<TraceParent> for HeaderValue {
    fn from(tp: TraceParent) -> Self {
        tp.to_header_value()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use ParseErrorKind as K;

    const VALID: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn kind(input: &str) -> Result<(), ParseErrorKind> {
        input.parse::<TraceParent>().map(drop).map_err(|e| e.kind())
    }

    #[test]
    fn spec_examples_parse() {
        // W3C Trace Context §3.2.4, sampled and not sampled.
        let tp: TraceParent = VALID.parse().unwrap();
        assert_eq!(
            tp.trace_id(),
            TraceId::from_static("4bf92f3577b34da6a3ce929d0e0e4736")
        );
        assert_eq!(tp.parent_id(), SpanId::from_static("00f067aa0ba902b7"));
        assert_eq!(tp.flags(), TraceFlags::SAMPLED);
        let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"
            .parse()
            .unwrap();
        assert!(!tp.flags().is_sampled());
    }

    #[test]
    fn version_00_rules() {
        #[rustfmt::skip]
        let cases: &[(&str, Result<(), ParseErrorKind>, &str)] = &[
            (VALID, Ok(()), "spec example"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03", Ok(()), "sampled + random"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff", Ok(()), "reserved flags are read, then dropped"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01.", Err(K::TraceParentLength), "version 00 is exactly 55"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-what-the-future", Err(K::TraceParentLength), "no extra fields in 00"),
            ("00-00000000000000000000000000000000-00f067aa0ba902b7-01", Err(K::TraceIdZero), "all-zero trace-id"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01", Err(K::ParentIdZero), "all-zero parent-id"),
            ("00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01", Err(K::TraceId), "uppercase trace-id"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01", Err(K::ParentId), "uppercase parent-id"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A", Err(K::TraceFlags), "uppercase flags"),
            ("0A-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Err(K::Version), "uppercase version"),
            (".0-12345678901234567890123456789012-1234567890123456-01", Err(K::Version), "illegal version char"),
            ("0.-12345678901234567890123456789012-1234567890123456-01", Err(K::Version), "illegal version char"),
            ("000-12345678901234567890123456789012-1234567890123456-01", Err(K::Version), "3-digit version"),
            ("0-12345678901234567890123456789012-1234567890123456-01", Err(K::Version), "1-digit version"),
            ("00-.2345678901234567890123456789012-1234567890123456-01", Err(K::TraceId), "illegal trace-id char"),
            ("00-1234567890123456789012345678901.-1234567890123456-01", Err(K::TraceId), "illegal trace-id char"),
            ("00-123456789012345678901234567890123-1234567890123456-01", Err(K::TraceId), "33-digit trace-id"),
            ("00-1234567890123456789012345678901-1234567890123456-01", Err(K::TraceParentLength), "31-digit trace-id"),
            ("00-12345678901234567890123456789012-.234567890123456-01", Err(K::ParentId), "illegal parent-id char"),
            ("00-12345678901234567890123456789012-12345678901234567-01", Err(K::ParentId), "17-digit parent-id"),
            ("00-12345678901234567890123456789012-123456789012345-01", Err(K::TraceParentLength), "15-digit parent-id"),
            ("00-12345678901234567890123456789012-1234567890123456-.0", Err(K::TraceFlags), "illegal flags char"),
            ("00-12345678901234567890123456789012-1234567890123456-001", Err(K::TraceParentLength), "3-digit flags"),
            ("00-12345678901234567890123456789012-1234567890123456-1", Err(K::TraceParentLength), "1-digit flags"),
            ("00_4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7_01", Err(K::Version), "wrong separators"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01", Err(K::TraceId), "wrong second separator"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01", Err(K::ParentId), "wrong third separator"),
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0é", Err(K::TraceFlags), "non-ASCII in the flags"),
            ("00-4bf92f3577b34da6a3ce929d0e0e473é-00f067aa0ba902b7-01", Err(K::TraceId), "non-ASCII in the trace-id"),
            ("x00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", Err(K::Version), "leading garbage"),
            ("", Err(K::TraceParentLength), "empty"),
            ("00-", Err(K::TraceParentLength), "truncated"),
        ];
        for &(input, expected, reason) in cases {
            assert_eq!(kind(input), expected, "{reason}: {input:?}");
        }
    }

    #[test]
    fn versioning_rules() {
        #[rustfmt::skip]
        let cases: &[(&str, Result<(), ParseErrorKind>, &str)] = &[
            ("ff-12345678901234567890123456789012-1234567890123456-01", Err(K::VersionForbidden), "ff is forbidden"),
            ("cc-12345678901234567890123456789012-1234567890123456-01", Ok(()), "future version, 55 chars"),
            ("cc-12345678901234567890123456789012-1234567890123456-01-what-the-future-will-be-like", Ok(()), "future fields ignored"),
            ("cc-12345678901234567890123456789012-1234567890123456-01-", Ok(()), "an empty future field"),
            ("cc-12345678901234567890123456789012-1234567890123456-01.what-the-future-will-be-like", Err(K::TraceFlags), "flags not followed by '-'"),
            ("cc-12345678901234567890123456789012-1234567890123456-0", Err(K::TraceParentLength), "future version under 55"),
            ("01-12345678901234567890123456789012-1234567890123456-01", Ok(()), "version 01"),
            ("cc-00000000000000000000000000000000-1234567890123456-01", Err(K::TraceIdZero), "zero ids are invalid in every version"),
            ("cc-1234567890123456789012345678901X-1234567890123456-01", Err(K::TraceId), "hex checked in every version"),
        ];
        for &(input, expected, reason) in cases {
            assert_eq!(kind(input), expected, "{reason}: {input:?}");
        }
        let future: TraceParent = "cc-12345678901234567890123456789012-1234567890123456-01-xyz"
            .parse()
            .unwrap();
        assert_eq!(
            future.to_string(),
            "00-12345678901234567890123456789012-1234567890123456-01",
            "a future version is written back as 00"
        );
    }

    #[test]
    fn optional_white_space_around_the_value_is_ignored() {
        // The W3C test suite's test_traceparent_ows_handling.
        for input in [
            format!(" {VALID}"),
            format!("\t{VALID}"),
            format!("{VALID} "),
            format!("{VALID}\t"),
            format!("\t {VALID} \t"),
        ] {
            assert!(input.parse::<TraceParent>().is_ok(), "{input:?}");
        }
        assert!(
            format!("\n{VALID}").parse::<TraceParent>().is_err(),
            "LF is not OWS"
        );
    }

    #[test]
    fn flags_round_trip_without_reserved_bits() {
        let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-ff"
            .parse()
            .unwrap();
        assert_eq!(
            tp.to_string(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03"
        );
        let tp: TraceParent = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02"
            .parse()
            .unwrap();
        assert!(tp.flags().is_random(), "Level 2 random flag survives");
        assert_eq!(
            tp.to_string(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-02"
        );
    }

    #[test]
    fn every_input_form_agrees() {
        let tp = TraceParent::from_static(VALID);
        assert_eq!(TraceParent::try_from(VALID), Ok(tp));
        assert_eq!(TraceParent::try_from(VALID.as_bytes()), Ok(tp));
        assert_eq!(
            TraceParent::try_from(&HeaderValue::from_static(VALID)),
            Ok(tp)
        );
        assert_eq!(HeaderValue::from(tp), VALID);
    }
}
