//! The one error type of the codecs.

use std::fmt;

/// The error returned when a `traceparent`, `tracestate`, `baggage`, id,
/// correlation ID, `b3` or `uber-trace-id` does not follow its grammar.
///
/// It is `Copy` and allocation-free, and its message names the rule that
/// failed, never the offending input: header values come from strangers and
/// must not reach logs unchecked.
///
/// # Examples
///
/// ```
/// use trace_core::{TraceParent, codec::ParseErrorKind};
///
/// let err = "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01"
///     .parse::<TraceParent>()
///     .unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::TraceId);
/// assert_eq!(
///     err.to_string(),
///     "traceparent trace-id is not 32 lowercase hex digits followed by '-'",
/// );
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct ParseError {
    kind: ParseErrorKind,
}

/// Which rule a value broke; see [`ParseError::kind`].
///
/// New kinds may be added as the specifications grow, so match with a
/// wildcard arm.
///
/// # Examples
///
/// ```
/// use trace_core::{TraceParent, codec::ParseErrorKind};
///
/// let error = "00-00000000000000000000000000000000-00f067aa0ba902b7-01".parse::<TraceParent>().unwrap_err();
/// assert_eq!(error.kind(), ParseErrorKind::TraceIdZero);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ParseErrorKind {
    /// A `traceparent` shorter than 55 characters, or a version `00` one
    /// that is not exactly 55.
    TraceParentLength,
    /// The `traceparent` version is not two lowercase hex digits followed by `-`.
    Version,
    /// The `traceparent` version is `ff`, which the specification forbids.
    VersionForbidden,
    /// A trace-id is not 32 lowercase hex digits (followed by `-` in a `traceparent`).
    TraceId,
    /// The trace-id is all zeros.
    TraceIdZero,
    /// A parent-id (span id) is not 16 lowercase hex digits (followed by `-` in a `traceparent`).
    ParentId,
    /// The parent-id is all zeros.
    ParentIdZero,
    /// The trace-flags are not two lowercase hex digits, or in a future
    /// version they are followed by something other than `-`.
    TraceFlags,
    /// A `tracestate` list-member has no `=`.
    TraceStateMember,
    /// A `tracestate` key breaks the key grammar or is longer than 256 characters.
    TraceStateKey,
    /// A `tracestate` value is empty, longer than 256 characters, or holds a
    /// character outside the value grammar.
    TraceStateValue,
    /// A `tracestate` has more than 32 list-members.
    TraceStateTooManyMembers,
    /// A `tracestate` list-member cannot fit in the 512 characters that are
    /// propagated.
    TraceStateTooLong,
    /// A `baggage` key is not an RFC 7230 token.
    BaggageKey,
    /// A `baggage` list-member has no `=`.
    BaggageMember,
    /// A `baggage` value holds a character outside `baggage-octet`.
    BaggageValue,
    /// A `baggage` property breaks the property grammar.
    BaggageProperty,
    /// Adding to the `baggage` would pass 64 members or 8192 bytes.
    BaggageLimit,
    /// A correlation ID is empty.
    CorrelationIdEmpty,
    /// A correlation ID is longer than 128 bytes.
    CorrelationIdTooLong,
    /// A correlation ID holds a byte that is not visible ASCII, or is `"`,
    /// `\` or `,`.
    CorrelationIdByte,
    /// The correlation ID header is present more than once.
    CorrelationIdRepeated,
    /// A `b3` value is not `{TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]]`
    /// or a sampling state alone.
    B3Layout,
    /// A B3 trace id is not 16 or 32 lowercase hex digits.
    B3TraceId,
    /// A B3 span id is not 16 lowercase hex digits.
    B3SpanId,
    /// A B3 parent span id is not 16 lowercase hex digits.
    B3ParentSpanId,
    /// A B3 trace id or span id is all zeros.
    B3IdZero,
    /// A B3 sampling state is not `0`, `1` or `d` (`X-B3-Sampled`: `0`,
    /// `1`, `true` or `false`).
    B3Sampling,
    /// `X-B3-TraceId` and `X-B3-SpanId` do not come together, or a
    /// `X-B3-ParentSpanId` comes without them.
    B3Incomplete,
    /// An `uber-trace-id` is not four fields separated by `:`, or is longer
    /// than the longest one.
    UberTraceIdLayout,
    /// An `uber-trace-id` trace id is not 1 to 32 hex digits.
    UberTraceIdTraceId,
    /// An `uber-trace-id` span id is not 1 to 16 hex digits.
    UberTraceIdSpanId,
    /// An `uber-trace-id` parent span id is not 1 to 16 hex digits.
    UberTraceIdParentId,
    /// `uber-trace-id` flags are not 1 or 2 hex digits.
    UberTraceIdFlags,
    /// An `uber-trace-id` trace id or span id is zero.
    UberTraceIdZero,
    /// An `uber-trace-id` holds a `%` that is not followed by two hex digits.
    UberTraceIdEncoding,
}

impl ParseError {
    pub(crate) const fn new(kind: ParseErrorKind) -> Self {
        Self { kind }
    }

    /// The rule that failed.
    #[must_use]
    pub const fn kind(self) -> ParseErrorKind {
        self.kind
    }

    const fn as_str(self) -> &'static str {
        match self.kind {
            ParseErrorKind::TraceParentLength => {
                "traceparent is shorter than 55 characters, or version 00 is not exactly 55"
            }
            ParseErrorKind::Version => {
                "traceparent version is not two lowercase hex digits followed by '-'"
            }
            ParseErrorKind::VersionForbidden => "traceparent version ff is forbidden",
            ParseErrorKind::TraceId => {
                "traceparent trace-id is not 32 lowercase hex digits followed by '-'"
            }
            ParseErrorKind::TraceIdZero => "traceparent trace-id is all zeros",
            ParseErrorKind::ParentId => {
                "traceparent parent-id is not 16 lowercase hex digits followed by '-'"
            }
            ParseErrorKind::ParentIdZero => "traceparent parent-id is all zeros",
            ParseErrorKind::TraceFlags => {
                "traceparent trace-flags are not two lowercase hex digits at the end or before '-'"
            }
            ParseErrorKind::TraceStateMember => "tracestate list-member has no '='",
            ParseErrorKind::TraceStateKey => "tracestate key breaks the key grammar",
            ParseErrorKind::TraceStateValue => "tracestate value breaks the value grammar",
            ParseErrorKind::TraceStateTooManyMembers => "tracestate has more than 32 list-members",
            ParseErrorKind::TraceStateTooLong => {
                "tracestate list-member does not fit in 512 characters"
            }
            ParseErrorKind::BaggageKey => "baggage key is not a token",
            ParseErrorKind::BaggageMember => "baggage list-member has no '='",
            ParseErrorKind::BaggageValue => "baggage value holds a character outside baggage-octet",
            ParseErrorKind::BaggageProperty => "baggage property breaks the property grammar",
            ParseErrorKind::BaggageLimit => "baggage would exceed 64 members or 8192 bytes",
            ParseErrorKind::CorrelationIdEmpty => "correlation ID is empty",
            ParseErrorKind::CorrelationIdTooLong => "correlation ID is longer than 128 bytes",
            ParseErrorKind::CorrelationIdByte => {
                "correlation ID holds a byte that is not visible ASCII, or is '\"', '\\' or ','"
            }
            ParseErrorKind::CorrelationIdRepeated => {
                "correlation ID header is present more than once"
            }
            ParseErrorKind::B3Layout => {
                "b3 is not {TraceId}-{SpanId}[-{SamplingState}[-{ParentSpanId}]] or a sampling state alone"
            }
            ParseErrorKind::B3TraceId => "B3 trace id is not 16 or 32 lowercase hex digits",
            ParseErrorKind::B3SpanId => "B3 span id is not 16 lowercase hex digits",
            ParseErrorKind::B3ParentSpanId => "B3 parent span id is not 16 lowercase hex digits",
            ParseErrorKind::B3IdZero => "B3 trace id or span id is all zeros",
            ParseErrorKind::B3Sampling => "B3 sampling state is not 0, 1 or d",
            ParseErrorKind::B3Incomplete => "X-B3-TraceId and X-B3-SpanId do not come together",
            ParseErrorKind::UberTraceIdLayout => {
                "uber-trace-id is not {trace-id}:{span-id}:{parent-span-id}:{flags}"
            }
            ParseErrorKind::UberTraceIdTraceId => {
                "uber-trace-id trace-id is not 1 to 32 hex digits"
            }
            ParseErrorKind::UberTraceIdSpanId => "uber-trace-id span-id is not 1 to 16 hex digits",
            ParseErrorKind::UberTraceIdParentId => {
                "uber-trace-id parent-span-id is not 1 to 16 hex digits"
            }
            ParseErrorKind::UberTraceIdFlags => "uber-trace-id flags are not 1 or 2 hex digits",
            ParseErrorKind::UberTraceIdZero => "uber-trace-id trace-id or span-id is zero",
            ParseErrorKind::UberTraceIdEncoding => {
                "uber-trace-id holds a '%' not followed by two hex digits"
            }
        }
    }
}

impl From<ParseErrorKind> for ParseError {
    fn from(kind: ParseErrorKind) -> Self {
        Self::new(kind)
    }
}

impl fmt::Debug for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("ParseError").field(&self.kind).finish()
    }
}

impl fmt::Display for ParseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::error::Error for ParseError {}
