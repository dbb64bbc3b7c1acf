//! The `baggage` header (W3C Baggage).

use std::{borrow::Cow, fmt};

use http::HeaderValue;
use percent_encoding::{AsciiSet, CONTROLS, utf8_percent_encode};

mod member;

use self::member::Redacted;
pub use self::member::{Iter, Member, Properties, Property};
use crate::{
    codec::chars::{BAGGAGE_OCTET, TOKEN, is, is_ows, trim_ows},
    codec::{ParseError, ParseErrorKind},
};

/// The most list-members propagated (the specification's minimum).
pub const MAX_MEMBERS: usize = 64;
/// The most bytes of `baggage-string` propagated (the specification's minimum).
pub const MAX_BYTES: usize = 8192;

/// Bytes a value percent-encodes: everything outside `baggage-octet`, `%`
/// itself, and `=`. The specification allows `=` in a value, but widely
/// deployed parsers (opentelemetry_sdk among them) cut a value at its second
/// `=`; encoding it is allowed and lets them read our values whole.
/// Non-ASCII is always encoded by `utf8_percent_encode`.
const VALUE_ENCODE: &AsciiSet = &CONTROLS
    .add(b'=')
    .add(b' ')
    .add(b'"')
    .add(b',')
    .add(b';')
    .add(b'\\')
    .add(b'%');

/// W3C Baggage: application key-value pairs that travel with a request.
///
/// - Keys are RFC 7230 tokens, never percent-encoded.
/// - Values are percent-decoded to UTF-8 on read (invalid UTF-8 becomes
///   U+FFFD, as the specification says) and percent-encoded on write as
///   RFC 3986 says: a space is `%20`, a `+` is a literal plus. `=` is
///   encoded too, which the specification allows, because common parsers
///   cut a value at a second `=`.
/// - Properties (`;k=v`, `;k`) are kept; member order and duplicate keys
///   are kept; only the grammar's optional white space is trimmed.
/// - Several `baggage` lines are combined, and the limits apply to the
///   combination: at most 64 members and 8192 bytes are kept, whole members
///   only, dropping from the end.
/// - Reading headers with [`from_header_values`](Self::from_header_values),
///   an invalid member is dropped and the rest are kept (the specification
///   leaves this open), and the first reason is reported. `parse` and
///   `TryFrom` are strict instead: any invalid member, or passing a limit,
///   is an error.
///
/// An unchanged single-line `baggage` is kept as the [`HeaderValue`] it
/// arrived in, so passing it on copies nothing.
///
/// `Debug` shows keys but not values: baggage may carry user data. There is
/// no `Display` for the same reason; [`header_value`](Self::header_value) is
/// the wire form.
///
/// # Examples
///
/// ```
/// use trace_core::{Baggage, codec::ParseErrorKind};
///
/// let mut baggage: Baggage = "userId=Am%C3%A9lie,serverNode=DF%2028;region=eu".parse()?;
/// assert_eq!(baggage.get("userId").as_deref(), Some("Amélie"));
/// assert_eq!(baggage.get("serverNode").as_deref(), Some("DF 28"));
/// assert_eq!(format!("{baggage:?}"), r#"Baggage { userId: <redacted>, serverNode: <redacted> }"#);
///
/// baggage.insert("isProduction", "a+b c")?;
/// assert_eq!(
///     baggage.header_value().unwrap(),
///     "userId=Am%C3%A9lie,serverNode=DF%2028;region=eu,isProduction=a+b%20c",
/// );
///
/// // Parsing with `parse` is strict; `from_header_values` drops bad members.
/// let err = "user id=1".parse::<Baggage>().unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::BaggageKey);
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Clone, Default)]
pub struct Baggage {
    header: Option<HeaderValue>,
}

/// Checks one list-member (trimmed of OWS, not empty) against
/// `key OWS "=" OWS value *( OWS ";" OWS property )`.
fn check_member(member: &[u8]) -> Result<(), ParseError> {
    use ParseErrorKind as Kind;

    let mut cursor = Cursor { rest: member };
    if cursor.token().is_empty() {
        return Err(ParseError::new(Kind::BaggageKey));
    }
    cursor.ows();
    match cursor.next() {
        Some(b'=') => {}
        None => return Err(ParseError::new(Kind::BaggageMember)),
        Some(_) => return Err(ParseError::new(Kind::BaggageKey)),
    }
    cursor.ows();
    cursor.value();
    cursor.ows();
    // A stray byte before the first ';' is the value's fault, after it a property's.
    let mut stray = Kind::BaggageValue;
    loop {
        match cursor.next() {
            None => return Ok(()),
            Some(b';') => stray = Kind::BaggageProperty,
            Some(_) => return Err(ParseError::new(stray)),
        }
        cursor.ows();
        if cursor.token().is_empty() {
            return Err(ParseError::new(Kind::BaggageProperty));
        }
        cursor.ows();
        if cursor.peek() == Some(b'=') {
            cursor.next();
            cursor.ows();
            cursor.value();
            cursor.ows();
        }
    }
}

/// A forward-only reader over a member's bytes.
struct Cursor<'a> {
    rest: &'a [u8],
}

impl<'a> Cursor<'a> {
    fn take_while(&mut self, class: impl Fn(u8) -> bool) -> &'a [u8] {
        let end = self
            .rest
            .iter()
            .position(|&b| !class(b))
            .unwrap_or(self.rest.len());
        let (taken, rest) = self.rest.split_at(end);
        self.rest = rest;
        taken
    }

    fn token(&mut self) -> &'a [u8] {
        self.take_while(|b| is(b, TOKEN))
    }

    fn value(&mut self) -> &'a [u8] {
        self.take_while(|b| is(b, BAGGAGE_OCTET))
    }

    fn ows(&mut self) {
        self.take_while(is_ows);
    }

    fn peek(&self) -> Option<u8> {
        self.rest.first().copied()
    }

    fn next(&mut self) -> Option<u8> {
        let (&first, rest) = self.rest.split_first()?;
        self.rest = rest;
        Some(first)
    }
}

/// Non-empty list-members of one line, trimmed of OWS. A `,` cannot occur
/// inside a member: it is neither a token nor a `baggage-octet`.
fn members(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b',')
        .map(trim_ows)
        .filter(|m| !m.is_empty())
}

/// The members kept from some lines, collected without allocating.
struct Collect<'a> {
    members: [&'a [u8]; MAX_MEMBERS],
    len: usize,
    bytes: usize,
    dropped: Option<ParseError>,
}

impl<'a> Collect<'a> {
    fn new() -> Self {
        Self {
            members: [&[]; MAX_MEMBERS],
            len: 0,
            bytes: 0,
            dropped: None,
        }
    }

    /// Adds a valid member if it fits within the limits.
    fn push(&mut self, member: &'a [u8]) -> Result<(), ParseError> {
        let bytes = self.bytes + usize::from(self.len > 0) + member.len();
        if self.len == MAX_MEMBERS || bytes > MAX_BYTES {
            return Err(ParseError::new(ParseErrorKind::BaggageLimit));
        }
        self.members[self.len] = member;
        self.len += 1;
        self.bytes = bytes;
        Ok(())
    }

    /// Reads lines until the limits are reached; invalid members are
    /// skipped. Returns the line that can be passed on as it came: the only
    /// one with members, when nothing was dropped and it is exactly the kept
    /// members joined by `,`.
    fn lines<L, I>(&mut self, lines: I) -> Option<&'a L>
    where
        L: AsRef<[u8]> + ?Sized + 'a,
        I: IntoIterator<Item = &'a L>,
    {
        let mut reusable = None;
        let mut lines_with_members = 0;
        'lines: for line in lines {
            let before = (self.len, self.bytes);
            for member in members(line.as_ref()) {
                if let Err(e) = check_member(member) {
                    self.dropped.get_or_insert(e);
                    continue;
                }
                if let Err(e) = self.push(member) {
                    // Past the limits: this member and all after it are dropped.
                    self.dropped = Some(e);
                    break 'lines;
                }
            }
            if self.len > before.0 {
                lines_with_members += 1;
                let added = self.bytes - before.1 - usize::from(before.0 > 0);
                reusable = (added == line.as_ref().len()).then_some(line);
            }
        }
        if lines_with_members != 1 || self.dropped.is_some() {
            reusable = None;
        }
        reusable
    }

    fn build(&self) -> Option<HeaderValue> {
        if self.len == 0 {
            return None;
        }
        let mut text = Vec::with_capacity(self.bytes);
        for member in &self.members[..self.len] {
            if !text.is_empty() {
                text.push(b',');
            }
            text.extend_from_slice(member);
        }
        // `TryFrom<Vec<u8>>` takes the buffer over without copying it.
        Some(HeaderValue::try_from(text).expect("validated baggage is visible ASCII"))
    }
}

impl Baggage {
    /// The empty baggage.
    pub const EMPTY: Self = Self { header: None };

    /// Combines the `baggage` lines of one request, in order, keeping every
    /// valid member within the limits.
    ///
    /// The second value is the first reason a member was dropped, if any:
    /// [`ParseErrorKind::BaggageLimit`] when the limits cut the list,
    /// otherwise the rule an invalid member broke. Dropping never fails the
    /// request: what is valid is kept.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::HeaderValue;
    /// use trace_core::{Baggage, codec::ParseErrorKind};
    ///
    /// let lines = [
    ///     HeaderValue::from_static("userId=alice"),
    ///     HeaderValue::from_static("bad key=1, serverNode = DF%2028"),
    /// ];
    /// let (baggage, dropped) = Baggage::from_header_values(&lines);
    /// assert_eq!(baggage.len(), 2);
    /// assert_eq!(baggage.get("serverNode").as_deref(), Some("DF 28"));
    /// assert_eq!(dropped.map(|e| e.kind()), Some(ParseErrorKind::BaggageKey));
    /// ```
    pub fn from_header_values<'a, I>(lines: I) -> (Self, Option<ParseError>)
    where
        I: IntoIterator<Item = &'a HeaderValue>,
    {
        // No header at all, the usual case: nothing to scan.
        let mut lines = lines.into_iter();
        let Some(first) = lines.next() else {
            return (Self::EMPTY, None);
        };
        let mut collect = Collect::new();
        let header = match collect.lines(std::iter::once(first).chain(lines)) {
            Some(line) => Some(line.clone()),
            None => collect.build(),
        };
        (Self { header }, collect.dropped)
    }

    fn parse(src: &[u8]) -> Result<Self, ParseError> {
        let mut collect = Collect::new();
        collect.lines([src]);
        match collect.dropped {
            Some(e) => Err(e),
            None => Ok(Self {
                header: collect.build(),
            }),
        }
    }

    /// The decoded value of the first member with this key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<Cow<'_, str>> {
        self.iter().find(|m| m.key() == key).map(|m| m.value())
    }

    /// The members in order.
    pub fn iter(&self) -> Iter<'_> {
        let text = self
            .header
            .as_ref()
            .map_or("", |h| h.to_str().expect("validated baggage is ASCII"));
        Iter {
            rest: text.split(','),
        }
    }

    /// The number of members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are no members.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.header.is_none()
    }

    /// Sets `key` to `value` (percent-encoded here), removing other members
    /// with this key; the new member goes at the end.
    ///
    /// # Errors
    ///
    /// When `key` is not a token, or the result would pass 64 members or
    /// 8192 bytes. The baggage is then unchanged.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), ParseError> {
        if key.is_empty() || !key.bytes().all(|b| is(b, TOKEN)) {
            return Err(ParseError::new(ParseErrorKind::BaggageKey));
        }
        let member = format!("{key}={}", utf8_percent_encode(value, VALUE_ENCODE));
        let mut collect = Collect::new();
        let old = self.header.as_ref().map_or(&b""[..], HeaderValue::as_bytes);
        let old_members = members(old).filter(|m| member_key(m) != key.as_bytes());
        for m in old_members.chain([member.as_bytes()]) {
            collect.push(m)?;
        }
        self.header = collect.build();
        Ok(())
    }

    /// This baggage with `(key, value)` members added at its end (values
    /// percent-encoded here), as far as the limits allow: for baggage read
    /// from another format (Jaeger's `uberctx-` headers). Returns the first
    /// reason a member was not added.
    pub(crate) fn extended<'a>(
        &self,
        added: impl Iterator<Item = (&'a str, Cow<'a, str>)>,
    ) -> (Self, Option<ParseError>) {
        let mut error = None;
        let added: Vec<String> = added
            .filter_map(|(key, value)| {
                if key.is_empty() || !key.bytes().all(|b| is(b, TOKEN)) {
                    error.get_or_insert(ParseError::new(ParseErrorKind::BaggageKey));
                    return None;
                }
                Some(format!(
                    "{key}={}",
                    utf8_percent_encode(&value, VALUE_ENCODE)
                ))
            })
            .collect();
        let mut collect = Collect::new();
        let old = self.header.as_ref().map_or(&b""[..], HeaderValue::as_bytes);
        for member in members(old).chain(added.iter().map(String::as_bytes)) {
            if let Err(e) = collect.push(member) {
                error = Some(e);
                break;
            }
        }
        (
            Self {
                header: collect.build(),
            },
            error,
        )
    }

    /// Removes every member with this key; returns whether there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        let old = self.header.as_ref().map_or(&b""[..], HeaderValue::as_bytes);
        if !members(old).any(|m| member_key(m) == key.as_bytes()) {
            return false;
        }
        let mut collect = Collect::new();
        for m in members(old).filter(|m| member_key(m) != key.as_bytes()) {
            collect.push(m).expect("a subset of valid baggage fits");
        }
        self.header = collect.build();
        true
    }

    /// The header value to send, `None` when empty.
    #[must_use]
    pub fn header_value(&self) -> Option<&HeaderValue> {
        self.header.as_ref()
    }
}

fn member_key(member: &[u8]) -> &[u8] {
    let end = member
        .iter()
        .position(|&b| !is(b, TOKEN))
        .unwrap_or(member.len());
    &member[..end]
}

impl fmt::Debug for Baggage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Baggage");
        for member in self {
            s.field(member.key(), &Redacted);
        }
        s.finish()
    }
}

impl PartialEq for Baggage {
    /// Equal when the members are equal in order: keys, decoded values and
    /// properties; optional white space and encoding choices do not count.
    fn eq(&self, other: &Self) -> bool {
        fn same(a: Member<'_>, b: Member<'_>) -> bool {
            a.key() == b.key()
                && a.value() == b.value()
                && a.properties()
                    .map(|p| (p.key(), p.value()))
                    .eq(b.properties().map(|p| (p.key(), p.value())))
        }
        self.len() == other.len() && self.iter().zip(other.iter()).all(|(a, b)| same(a, b))
    }
}

impl Eq for Baggage {}

impl_parse!(Baggage);

#[cfg(test)]
mod tests {
    use super::*;
    use ParseErrorKind as K;

    fn kind(input: &str) -> Result<usize, ParseErrorKind> {
        input
            .parse::<Baggage>()
            .map(|b| b.len())
            .map_err(|e| e.kind())
    }

    #[test]
    fn grammar() {
        #[rustfmt::skip]
        let cases: &[(&str, Result<usize, ParseErrorKind>, &str)] = &[
            ("key1=value1;property1;property2, key2 = value2, key3=value3; propertyKey=propertyValue", Ok(3), "spec example"),
            ("userId=alice,serverNode=DF%2028,isProduction=false", Ok(3), "spec example"),
            ("userId =   alice", Ok(1), "OWS around '='"),
            ("k=", Ok(1), "a value may be empty"),
            ("k=a=b", Ok(1), "'=' is a baggage-octet"),
            ("k=%zz", Ok(1), "'%' is a baggage-octet; a bad escape stays literal"),
            ("!#$%&'*+-.^_`|~09AZaz=1", Ok(1), "every tchar in a key"),
            ("k=v;p", Ok(1), "property without value"),
            ("k=v ; p = x ; q", Ok(1), "OWS around properties"),
            ("a=1,,b=2,", Ok(2), "empty members are skipped"),
            ("", Ok(0), "empty"),
            ("user id=1", Err(K::BaggageKey), "space inside a key"),
            ("k(=1", Err(K::BaggageKey), "'(' is not a tchar"),
            ("=1", Err(K::BaggageKey), "empty key"),
            ("é=1", Err(K::BaggageKey), "non-ASCII key"),
            ("key", Err(K::BaggageMember), "no '='"),
            ("k=a b", Err(K::BaggageValue), "space inside a value"),
            ("k=a\"b", Err(K::BaggageValue), "DQUOTE"),
            ("k=a\\b", Err(K::BaggageValue), "backslash"),
            ("k=é", Err(K::BaggageValue), "raw non-ASCII must be percent-encoded"),
            ("k=v;", Err(K::BaggageProperty), "empty property"),
            ("k=v;p=a b", Err(K::BaggageProperty), "space inside a property value"),
            ("k=v;(p)", Err(K::BaggageProperty), "property key not a token"),
        ];
        for &(input, expected, reason) in cases {
            assert_eq!(kind(input), expected, "{reason}: {input:?}");
        }
    }

    #[test]
    fn values_are_decoded_and_not_trimmed_beyond_ows() {
        let b: Baggage = "userId=Am%C3%A9lie, serverNode = DF%2028 ,bad=%FF%FE,plus=a+b"
            .parse()
            .unwrap();
        assert_eq!(b.get("userId").unwrap(), "Amélie");
        assert_eq!(b.get("serverNode").unwrap(), "DF 28");
        assert_eq!(
            b.get("bad").unwrap(),
            "\u{FFFD}\u{FFFD}",
            "invalid UTF-8 becomes U+FFFD"
        );
        assert_eq!(b.get("plus").unwrap(), "a+b", "'+' is a plus, not a space");
        let b: Baggage = "k=%20x%20".parse().unwrap();
        assert_eq!(
            b.get("k").unwrap(),
            " x ",
            "encoded spaces are part of the value"
        );
    }

    #[test]
    fn insert_encodes_by_rfc_3986() {
        let mut b = Baggage::default();
        let value = "a b+c%d,e;f\"g\\h\u{7f}é=";
        b.insert("k", value).unwrap();
        assert_eq!(
            b.header_value().unwrap(),
            "k=a%20b+c%25d%2Ce%3Bf%22g%5Ch%7F%C3%A9%3D"
        );
        assert_eq!(b.get("k").unwrap(), value);
        assert_eq!(b.insert("bad key", "v").unwrap_err().kind(), K::BaggageKey);
    }

    #[test]
    fn order_duplicates_and_properties_are_kept() {
        let line = HeaderValue::from_static("a=1;p=x,b=2,a=3");
        let (b, dropped) = Baggage::from_header_values([&line]);
        assert!(dropped.is_none());
        let members: Vec<_> = b
            .iter()
            .map(|m| (m.key(), m.value().into_owned()))
            .collect();
        assert_eq!(
            members,
            [("a", "1".into()), ("b", "2".into()), ("a", "3".into())]
        );
        assert_eq!(b.get("a").unwrap(), "1", "get returns the first");
        assert_eq!(
            b.header_value().unwrap().as_bytes().as_ptr(),
            line.as_bytes().as_ptr(),
            "passed on as it came"
        );
    }

    #[test]
    fn lines_are_combined_and_bad_members_dropped() {
        let lines = [
            HeaderValue::from_static("userId=alice"),
            HeaderValue::from_static("serverNode=DF%2028, bad key=1,isProduction=false"),
        ];
        let (b, dropped) = Baggage::from_header_values(&lines);
        assert_eq!(
            b.header_value().unwrap(),
            "userId=alice,serverNode=DF%2028,isProduction=false"
        );
        assert_eq!(dropped.unwrap().kind(), K::BaggageKey);
    }

    #[test]
    fn limits_drop_whole_members_from_the_end() {
        let many: Vec<String> = (0..70).map(|i| format!("k{i}=v")).collect();
        let line = HeaderValue::try_from(many.join(",")).unwrap();
        let (b, dropped) = Baggage::from_header_values([&line]);
        assert_eq!(b.len(), MAX_MEMBERS);
        assert_eq!(b.iter().last().unwrap().key(), "k63");
        assert_eq!(dropped.unwrap().kind(), K::BaggageLimit);

        // 8192 bytes across two lines: 3 members of 3000 bytes, the third does not fit.
        let big = |k: &str| format!("{k}={}", "v".repeat(2998));
        let lines = [
            HeaderValue::try_from(big("a")).unwrap(),
            HeaderValue::try_from(format!("{},{}", big("b"), big("c"))).unwrap(),
        ];
        let (b, dropped) = Baggage::from_header_values(&lines);
        assert_eq!(b.iter().map(|m| m.key()).collect::<Vec<_>>(), ["a", "b"]);
        assert!(b.header_value().unwrap().len() <= MAX_BYTES);
        assert_eq!(dropped.unwrap().kind(), K::BaggageLimit);

        // Exactly 8192 bytes is kept.
        let exact = format!("k={}", "v".repeat(MAX_BYTES - 2));
        assert_eq!(kind(&exact), Ok(1));
        assert_eq!(kind(&format!("{exact}x")), Err(K::BaggageLimit));
    }

    #[test]
    fn insert_respects_limits_and_replaces() {
        let mut b: Baggage = "a=1,b=2,a=3".parse().unwrap();
        b.insert("a", "4").unwrap();
        assert_eq!(b.header_value().unwrap(), "b=2,a=4");
        let mut full: Baggage = (0..64)
            .map(|i| format!("k{i}=v"))
            .collect::<Vec<_>>()
            .join(",")
            .parse()
            .unwrap();
        assert_eq!(full.insert("new", "v").unwrap_err().kind(), K::BaggageLimit);
        assert_eq!(full.len(), 64, "unchanged");
        full.insert("k0", "w").unwrap();
        assert_eq!(full.len(), 64, "replacing fits");
    }

    #[test]
    fn remove_and_empty() {
        let mut b: Baggage = "a=1,b=2,a=3".parse().unwrap();
        assert!(b.remove("a"));
        assert_eq!(b.header_value().unwrap(), "b=2");
        assert!(!b.remove("zz"));
        assert!(b.remove("b"));
        assert!(b.is_empty() && b.header_value().is_none());
        assert_eq!(b, Baggage::EMPTY);
    }

    #[test]
    fn debug_redacts_values() {
        let b: Baggage = "secret=hunter2;p=also-secret".parse().unwrap();
        let debug = format!("{b:?} {:?}", b.iter().next().unwrap());
        assert!(
            !debug.contains("hunter2") && !debug.contains("also-secret"),
            "{debug}"
        );
        assert!(debug.contains("secret"));
    }
}
