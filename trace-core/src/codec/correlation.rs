//! Correlation IDs (`x-request-id`).

use std::{
    fmt,
    hash::{Hash, Hasher},
};

use http::{HeaderMap, HeaderName, HeaderValue};
use rand::Rng;

use crate::{
    codec::chars::{CORRELATION, is},
    codec::{ParseError, ParseErrorKind},
};

/// The header a correlation ID is read from and written to by default.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// Another header a correlation ID is read from when `x-request-id` is absent.
pub const X_CORRELATION_ID: HeaderName = HeaderName::from_static("x-correlation-id");

/// The longest correlation ID accepted, in bytes.
pub const MAX_LEN: usize = 128;
const UUID_LEN: usize = 36;

/// The ID users grep for: one per request, returned to the caller and put on
/// every log line and every call made onward.
///
/// An incoming ID is accepted when it is 1 to 128 bytes of visible ASCII
/// other than `"`, `\` and `,` (so no space, CR, LF or control byte can reach
/// a header or a log line). Anything else is rejected, and the error says
/// which rule failed without echoing the input.
///
/// [`CorrelationId::new`] makes a UUID v7: time-ordered (to the clock tick,
/// 1 to 4 ms on Linux), so log lines sort, with 74 random bits from a
/// per-thread generator: no system call per ID.
///
/// # Examples
///
/// ```
/// use trace_core::{CorrelationId, codec::ParseErrorKind};
///
/// let id: CorrelationId = "req-7f3a9c".parse()?;
/// assert_eq!(id.as_str(), "req-7f3a9c");
///
/// let fresh = CorrelationId::new();
/// assert_eq!(fresh.as_str().len(), 36);
/// assert_eq!(&fresh.as_str()[14..15], "7", "a UUID v7");
///
/// let err = "evil\r\nSet-Cookie: x".parse::<CorrelationId>().unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::CorrelationIdByte);
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Clone)]
pub struct CorrelationId {
    repr: Repr,
}

#[derive(Clone)]
enum Repr {
    /// Generated here: kept inline, so making one does not allocate.
    Uuid([u8; UUID_LEN]),
    /// Received: the request's own header value, a reference-counted handle.
    Header(HeaderValue),
}

/// Milliseconds since the Unix epoch, for the time field of a UUID v7.
///
/// On Linux this reads `CLOCK_REALTIME_COARSE`: about 3 ns from the vDSO,
/// where the precise clock costs about 30 (it was most of the cost of an
/// ID). Its resolution is the kernel's tick, 1 to 4 ms, which RFC 9562
/// allows for the time field: IDs still sort by time, to the tick.
fn unix_millis() -> u64 {
    #[cfg(any(target_os = "linux", target_os = "android"))]
    {
        let now = rustix::time::clock_gettime(rustix::time::ClockId::RealtimeCoarse);
        let secs = u64::try_from(now.tv_sec).unwrap_or(0);
        let millis = u64::try_from(now.tv_nsec).unwrap_or(0) / 1_000_000;
        secs.saturating_mul(1000).saturating_add(millis)
    }
    #[cfg(not(any(target_os = "linux", target_os = "android")))]
    {
        use std::time::{SystemTime, UNIX_EPOCH};

        // A clock before 1970 is a broken clock; the ID is still unique.
        let since_epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        since_epoch
            .as_secs()
            .saturating_mul(1000)
            .saturating_add(u64::from(since_epoch.subsec_millis()))
    }
}

fn check(src: &[u8]) -> Result<(), ParseError> {
    if src.is_empty() {
        return Err(ParseError::new(ParseErrorKind::CorrelationIdEmpty));
    }
    if src.len() > MAX_LEN {
        return Err(ParseError::new(ParseErrorKind::CorrelationIdTooLong));
    }
    if !src.iter().all(|&b| is(b, CORRELATION)) {
        return Err(ParseError::new(ParseErrorKind::CorrelationIdByte));
    }
    Ok(())
}

impl CorrelationId {
    /// A fresh UUID v7, in lowercase hyphenated form.
    #[must_use]
    pub fn new() -> Self {
        let millis = unix_millis();
        // Two word-sized draws are cheaper than a 10-byte fill.
        let mut rng = rand::rng();
        let mut random = [0u8; 10];
        random[..8].copy_from_slice(&rng.next_u64().to_ne_bytes());
        random[8..].copy_from_slice(&rng.next_u32().to_ne_bytes()[..2]);
        let uuid = uuid::Builder::from_unix_timestamp_millis(millis, &random).into_uuid();
        let mut text = [0u8; UUID_LEN];
        uuid.hyphenated().encode_lower(&mut text);
        Self {
            repr: Repr::Uuid(text),
        }
    }

    /// Reads the correlation ID of a request: `x-request-id`, or else
    /// `x-correlation-id`.
    ///
    /// Returns `Ok(None)` when neither header is present.
    ///
    /// # Errors
    ///
    /// When the header is present but not a valid ID, or is present more
    /// than once (which one would be the caller's is unknowable): the caller
    /// then makes a new ID.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue};
    /// use trace_core::CorrelationId;
    ///
    /// let mut headers = HeaderMap::new();
    /// assert_eq!(CorrelationId::from_headers(&headers), Ok(None));
    /// headers.insert("x-correlation-id", HeaderValue::from_static("abc-123"));
    /// assert_eq!(CorrelationId::from_headers(&headers)?.unwrap().as_str(), "abc-123");
    /// # Ok::<(), trace_core::ParseError>(())
    /// ```
    pub fn from_headers(headers: &HeaderMap) -> Result<Option<Self>, ParseError> {
        Self::from_header(headers, &X_REQUEST_ID)?.map_or_else(
            || Self::from_header(headers, &X_CORRELATION_ID),
            |id| Ok(Some(id)),
        )
    }

    /// Reads the correlation ID from one header name.
    ///
    /// # Errors
    ///
    /// As [`from_headers`](Self::from_headers).
    pub fn from_header(headers: &HeaderMap, name: &HeaderName) -> Result<Option<Self>, ParseError> {
        let mut values = headers.get_all(name).iter();
        let Some(first) = values.next() else {
            return Ok(None);
        };
        if values.next().is_some() {
            return Err(ParseError::new(ParseErrorKind::CorrelationIdRepeated));
        }
        Self::try_from(first).map(Some)
    }

    fn parse(src: &[u8]) -> Result<Self, ParseError> {
        check(src)?;
        let value = HeaderValue::from_bytes(src).expect("checked bytes are visible ASCII");
        Ok(Self {
            repr: Repr::Header(value),
        })
    }

    /// The ID as text.
    #[must_use]
    pub fn as_str(&self) -> &str {
        let bytes = match &self.repr {
            Repr::Uuid(text) => &text[..],
            Repr::Header(value) => value.as_bytes(),
        };
        std::str::from_utf8(bytes).expect("a correlation ID is visible ASCII")
    }

    /// The ID as a header value: a reference-count increment for a received
    /// ID, one allocation for a generated one.
    #[must_use]
    pub fn to_header_value(&self) -> HeaderValue {
        match &self.repr {
            Repr::Uuid(text) => HeaderValue::from_bytes(text).expect("a UUID is visible ASCII"),
            Repr::Header(value) => value.clone(),
        }
    }
}

impl Default for CorrelationId {
    /// Same as [`CorrelationId::new`].
    fn default() -> Self {
        Self::new()
    }
}

impl PartialEq for CorrelationId {
    fn eq(&self, other: &Self) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for CorrelationId {}

impl Hash for CorrelationId {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.as_str().hash(state);
    }
}

impl PartialEq<str> for CorrelationId {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for CorrelationId {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl fmt::Debug for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("CorrelationId")
            .field(&self.as_str())
            .finish()
    }
}

// Keeps a handle to the header value: no copy.
impl_parse!(CorrelationId, |value: &HeaderValue| {
    check(value.as_bytes())?;
    Ok(Self {
        repr: Repr::Header(value.clone()),
    })
});

impl From<&CorrelationId> for HeaderValue {
    fn from(id: &CorrelationId) -> Self {
        id.to_header_value()
    }
}

#[cfg(test)]
mod tests {
    use std::time::{SystemTime, UNIX_EPOCH};

    use super::*;
    use ParseErrorKind as K;

    #[test]
    fn accepted_bytes() {
        let long_ok = "a".repeat(128);
        let too_long = "a".repeat(129);
        #[rustfmt::skip]
        let cases: &[(&[u8], Result<(), ParseErrorKind>, &str)] = &[
            (b"abc-123", Ok(()), "plain"),
            (b"0190a5b4-6f2c-7d1e-8a3b-9c4d5e6f7a8b", Ok(()), "a UUID"),
            (b"!#$%&'()*+-./:;<=>?@[]^_`{|}~", Ok(()), "visible punctuation"),
            (long_ok.as_bytes(), Ok(()), "128 bytes"),
            (too_long.as_bytes(), Err(K::CorrelationIdTooLong), "129 bytes"),
            (b"", Err(K::CorrelationIdEmpty), "empty"),
            (b"a b", Err(K::CorrelationIdByte), "space"),
            (b"a\r\nb", Err(K::CorrelationIdByte), "CR LF"),
            (b"a\0b", Err(K::CorrelationIdByte), "NUL"),
            (b"a\x7fb", Err(K::CorrelationIdByte), "DEL"),
            (b"a\tb", Err(K::CorrelationIdByte), "tab"),
            (b"\"quoted\"", Err(K::CorrelationIdByte), "DQUOTE breaks JSON and quoted logs"),
            (b"a\\b", Err(K::CorrelationIdByte), "backslash"),
            (b"a,b", Err(K::CorrelationIdByte), "comma splits header lists"),
            ("é".as_bytes(), Err(K::CorrelationIdByte), "non-ASCII"),
            (b"\xff\xfe", Err(K::CorrelationIdByte), "not UTF-8"),
        ];
        for &(input, expected, reason) in cases {
            let got = CorrelationId::try_from(input)
                .map(drop)
                .map_err(|e| e.kind());
            assert_eq!(got, expected, "{reason}");
        }
    }

    #[test]
    fn new_is_a_time_ordered_uuid_v7() {
        let a = CorrelationId::new();
        let parsed = uuid::Uuid::parse_str(a.as_str()).unwrap();
        assert_eq!(parsed.get_version_num(), 7);
        assert_eq!(a.as_str(), a.as_str().to_ascii_lowercase());
        assert!(
            CorrelationId::try_from(a.as_str()).is_ok(),
            "a generated ID is a valid ID"
        );
        let b = CorrelationId::new();
        assert_ne!(a, b);
        // The first 48 bits are the millisecond timestamp: b is not older,
        // and both are now (within the coarse clock's tick and this test).
        assert!(b.as_str()[..13] >= a.as_str()[..13]);
        let (secs, nanos) = parsed.get_timestamp().unwrap().to_unix();
        let stamped = u128::from(secs) * 1000 + u128::from(nanos / 1_000_000);
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_millis();
        assert!(now.abs_diff(stamped) < 60_000, "{stamped} vs {now}");
    }

    #[test]
    fn headers_are_read_in_order_of_preference() {
        let mut headers = HeaderMap::new();
        headers.insert(X_CORRELATION_ID, HeaderValue::from_static("second"));
        assert_eq!(
            CorrelationId::from_headers(&headers).unwrap().unwrap(),
            "second"
        );
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("first"));
        assert_eq!(
            CorrelationId::from_headers(&headers).unwrap().unwrap(),
            "first"
        );
        headers.append(X_REQUEST_ID, HeaderValue::from_static("again"));
        assert!(
            CorrelationId::from_headers(&headers).is_err(),
            "two lines are ambiguous"
        );
        headers.insert(X_REQUEST_ID, HeaderValue::from_static("a b"));
        assert!(
            CorrelationId::from_headers(&headers).is_err(),
            "invalid is not skipped"
        );
    }

    #[test]
    fn received_ids_are_not_copied() {
        let value = HeaderValue::from_static("abc");
        let id = CorrelationId::try_from(&value).unwrap();
        assert_eq!(
            id.to_header_value().as_bytes().as_ptr(),
            value.as_bytes().as_ptr()
        );
    }
}
