//! The `tracestate` header (W3C Trace Context §3.3).

use std::fmt;

use http::HeaderValue;

use crate::{
    codec::chars::{TS_KEYCHAR, TS_NBLK, is, trim_ows},
    codec::{ParseError, ParseErrorKind},
};

/// The vendor-specific `tracestate` list that travels with a `traceparent`.
///
/// Reading follows the current W3C Trace Context text:
///
/// - keys are `(lcalpha / DIGIT) 0*255(lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@")`
///   (the 2025 grammar; the older `tenant@system` form is a subset of it);
/// - values are 1 to 256 characters of `0x20..=0x7E` except `,` and `=`,
///   ending in a non-space;
/// - empty and white-space-only list-members are tolerated and dropped;
///   several header lines are combined in order;
/// - any invalid list-member, or more than 32 list-members, makes the whole
///   `tracestate` invalid (the project's choice where the specification
///   allows several); the `traceparent` is still used.
/// - duplicate keys do not make it invalid: they are passed on, and
///   [`get`](Self::get) returns the first.
///
/// What is held, and written, is never longer than 512 characters: longer
/// input is cut by the specification's advice, whole members only, those
/// over 128 characters first, then from the end.
///
/// An unchanged single-line `tracestate` is kept as the [`HeaderValue`] it
/// arrived in, so passing it on is a reference-count increment: no parsing,
/// no copying. An empty `tracestate` has no header value and is never
/// written.
///
/// # Examples
///
/// ```
/// use trace_core::{TraceState, codec::ParseErrorKind};
///
/// let mut state: TraceState = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".parse()?;
/// assert_eq!(state.get("congo"), Some("t61rcWkgMzE"));
///
/// // A new or updated key moves to the front.
/// state.insert("congo", "ucfJifl5GOE")?;
/// assert_eq!(state.to_string(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
///
/// // An invalid member discards the whole list.
/// let err = "rojo=1,Congo=2".parse::<TraceState>().unwrap_err();
/// assert_eq!(err.kind(), ParseErrorKind::TraceStateKey);
///
/// // Empty input is an empty state, which is never written out.
/// let empty: TraceState = " , ".parse()?;
/// assert!(empty.is_empty() && empty.header_value().is_none());
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Clone, Default)]
pub struct TraceState {
    header: Option<HeaderValue>,
}

/// The most list-members a `tracestate` may have.
pub const MAX_MEMBERS: usize = 32;
/// The most characters of `tracestate` this crate propagates.
pub const MAX_LEN: usize = 512;
/// Members longer than this are the first to go when cutting to [`MAX_LEN`].
const LONG_MEMBER: usize = 128;
const MAX_KEY: usize = 256;
const MAX_VALUE: usize = 256;

/// Checks one list-member (already trimmed of OWS and not empty).
fn check_member(member: &[u8]) -> Result<(), ParseError> {
    let eq = member
        .iter()
        .position(|&b| b == b'=')
        .ok_or(ParseError::new(ParseErrorKind::TraceStateMember))?;
    check_key(&member[..eq])?;
    check_value(&member[eq + 1..])
}

fn check_key(key: &[u8]) -> Result<(), ParseError> {
    let ok = match key {
        [first, rest @ ..] => {
            (first.is_ascii_lowercase() || first.is_ascii_digit())
                && key.len() <= MAX_KEY
                && rest.iter().all(|&b| is(b, TS_KEYCHAR))
        }
        [] => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ParseError::new(ParseErrorKind::TraceStateKey))
    }
}

fn check_value(value: &[u8]) -> Result<(), ParseError> {
    // value = 0*255(chr) nblk-chr; chr = %x20 / nblk-chr
    let ok = match value {
        [.., last] => {
            value.len() <= MAX_VALUE
                && is(*last, TS_NBLK)
                && value.iter().all(|&b| b == b' ' || is(b, TS_NBLK))
        }
        [] => false,
    };
    if ok {
        Ok(())
    } else {
        Err(ParseError::new(ParseErrorKind::TraceStateValue))
    }
}

/// Non-empty list-members of one line, trimmed of OWS.
fn members(line: &[u8]) -> impl Iterator<Item = &[u8]> {
    line.split(|&b| b == b',')
        .map(trim_ows)
        .filter(|m| !m.is_empty())
}

/// The list-members of a `tracestate`, collected without allocating.
struct Scan<'a> {
    members: [&'a [u8]; MAX_MEMBERS],
    len: usize,
}

impl<'a> Scan<'a> {
    const EMPTY: Self = Scan {
        members: [&[]; MAX_MEMBERS],
        len: 0,
    };

    fn push(&mut self, member: &'a [u8]) -> Result<(), ParseError> {
        if self.len == MAX_MEMBERS {
            return Err(ParseError::new(ParseErrorKind::TraceStateTooManyMembers));
        }
        self.members[self.len] = member;
        self.len += 1;
        Ok(())
    }

    /// Validates and collects the members of every line, in order.
    ///
    /// Also returns the line that can be passed on as it came: the only line
    /// that held members, when it has no surrounding OWS and fits in
    /// [`MAX_LEN`].
    fn lines<L, I>(lines: I) -> Result<(Self, Option<&'a L>), ParseError>
    where
        L: AsRef<[u8]> + ?Sized + 'a,
        I: IntoIterator<Item = &'a L>,
    {
        let mut scan = Self::EMPTY;
        let mut reusable = None;
        let mut lines_with_members = 0;
        for line in lines {
            let bytes = line.as_ref();
            let before = scan.len;
            for member in members(bytes) {
                check_member(member)?;
                scan.push(member)?;
            }
            if scan.len > before {
                lines_with_members += 1;
                let as_it_came = trim_ows(bytes).len() == bytes.len() && bytes.len() <= MAX_LEN;
                reusable = as_it_came.then_some(line);
            }
        }
        if lines_with_members != 1 {
            reusable = None;
        }
        Ok((scan, reusable))
    }

    /// Joins the members with `,`, first cutting to [`MAX_LEN`] as the
    /// specification advises. Members listed in `keep_first` are kept.
    fn build(&self, keep_first: usize) -> Option<HeaderValue> {
        let members = &self.members[..self.len];
        let mut keep = [true; MAX_MEMBERS];
        let mut total = members
            .iter()
            .map(|m| m.len() + 1)
            .sum::<usize>()
            .saturating_sub(1);
        // Entries over 128 characters go first, then entries from the end.
        let long = (keep_first..members.len())
            .rev()
            .filter(|&i| members[i].len() > LONG_MEMBER);
        for index in long.chain((keep_first..members.len()).rev()) {
            if total <= MAX_LEN {
                break;
            }
            if keep[index] {
                keep[index] = false;
                // The comma goes too (saturating: the last member has none).
                total = total.saturating_sub(members[index].len() + 1);
            }
        }
        let mut text = Vec::with_capacity(total.min(MAX_LEN));
        for (member, _) in members.iter().zip(keep).filter(|(_, kept)| *kept) {
            if !text.is_empty() {
                text.push(b',');
            }
            text.extend_from_slice(member);
        }
        if text.is_empty() {
            return None;
        }
        Some(HeaderValue::from_maybe_shared(text).expect("validated tracestate is visible ASCII"))
    }
}

impl TraceState {
    /// The empty `tracestate`.
    pub const EMPTY: Self = Self { header: None };

    /// Combines and validates the `tracestate` lines of one request, in order.
    ///
    /// # Errors
    ///
    /// When any list-member is invalid or there are more than 32: the whole
    /// `tracestate` is then to be discarded.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::HeaderValue;
    /// use trace_core::TraceState;
    ///
    /// let lines = [HeaderValue::from_static("foo=1,bar=2"), HeaderValue::from_static("baz=3")];
    /// let state = TraceState::from_header_values(&lines)?;
    /// assert_eq!(state.to_string(), "foo=1,bar=2,baz=3");
    /// # Ok::<(), trace_core::ParseError>(())
    /// ```
    pub fn from_header_values<'a, I>(lines: I) -> Result<Self, ParseError>
    where
        I: IntoIterator<Item = &'a HeaderValue>,
    {
        // No header at all, the usual case: nothing to scan.
        let mut lines = lines.into_iter();
        let Some(first) = lines.next() else {
            return Ok(Self::EMPTY);
        };
        let (scan, reusable) = Scan::lines(std::iter::once(first).chain(lines))?;
        let header = match reusable {
            Some(line) => Some(line.clone()),
            None => scan.build(0),
        };
        Ok(Self { header })
    }

    /// A `tracestate` of these `(key, value)` list-members, the first
    /// first, made in one pass: the way to build or rebuild a whole list
    /// (each [`insert`](Self::insert) rewrites the header, so a list built
    /// by inserts costs the square of its length).
    ///
    /// A key given twice is kept where it first appears, as a list built by
    /// inserts from the last member keeps it. Past 512 characters, members
    /// are dropped as [`from_header_values`](Self::from_header_values) drops
    /// them.
    ///
    /// # Errors
    ///
    /// When a key or a value breaks its grammar, a member alone is longer
    /// than 512 characters, or there are more than 32 keys.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::TraceState;
    ///
    /// let state = TraceState::from_members([("rojo", "00f067aa0ba902b7"), ("congo", "t61rcWkgMzE"), ("rojo", "old")])?;
    /// assert_eq!(state.to_string(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
    /// assert!(TraceState::from_members([("Upper", "1")]).is_err());
    /// # Ok::<(), trace_core::ParseError>(())
    /// ```
    pub fn from_members<'a, I>(members: I) -> Result<Self, ParseError>
    where
        I: IntoIterator<Item = (&'a str, &'a str)>,
    {
        // Keys seen, each with a cheap fingerprint compared first: a full
        // list asks 496 questions, most answered by one integer.
        let mut keys = [(0u64, ""); MAX_MEMBERS];
        let mut count = 0;
        let mut text = Vec::new();
        for (key, value) in members {
            check_key(key.as_bytes())?;
            check_value(value.as_bytes())?;
            let print = fingerprint(key);
            if keys[..count].iter().any(|&(p, k)| p == print && k == key) {
                continue;
            }
            if count == MAX_MEMBERS {
                return Err(ParseError::new(ParseErrorKind::TraceStateTooManyMembers));
            }
            if key.len() + 1 + value.len() > MAX_LEN {
                return Err(ParseError::new(ParseErrorKind::TraceStateTooLong));
            }
            keys[count] = (print, key);
            count += 1;
            if !text.is_empty() {
                text.push(b',');
            }
            text.extend_from_slice(key.as_bytes());
            text.push(b'=');
            text.extend_from_slice(value.as_bytes());
        }
        if text.is_empty() {
            return Ok(Self::EMPTY);
        }
        if text.len() <= MAX_LEN {
            let header = HeaderValue::from_maybe_shared(text).expect("validated tracestate");
            return Ok(Self {
                header: Some(header),
            });
        }
        let mut scan = Scan::EMPTY;
        for member in self::members(&text) {
            scan.push(member)?;
        }
        Ok(Self {
            header: scan.build(0),
        })
    }

    fn parse(src: &[u8]) -> Result<Self, ParseError> {
        let (scan, _) = Scan::lines([src])?;
        Ok(Self {
            header: scan.build(0),
        })
    }

    /// The value of the first list-member with this key.
    #[must_use]
    pub fn get(&self, key: &str) -> Option<&str> {
        self.iter().find_map(|(k, v)| (k == key).then_some(v))
    }

    /// The list-members in order, as `(key, value)`.
    pub fn iter(&self) -> Iter<'_> {
        let text = self
            .header
            .as_ref()
            .map_or("", |h| h.to_str().expect("validated tracestate is ASCII"));
        Iter { rest: Some(text) }
    }

    /// The number of list-members.
    #[must_use]
    pub fn len(&self) -> usize {
        self.iter().count()
    }

    /// Whether there are no list-members.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.header.is_none()
    }

    /// Sets `key` to `value` and moves it to the front, as the specification
    /// requires of a modified key; other members with this key are removed.
    ///
    /// When the list would then pass 32 members or 512 characters, members are
    /// dropped from the end (those over 128 characters first); the new one is
    /// always kept.
    ///
    /// # Errors
    ///
    /// When the key or value breaks the grammar, or the new member alone is
    /// over 512 characters. The state is then unchanged.
    pub fn insert(&mut self, key: &str, value: &str) -> Result<(), ParseError> {
        check_key(key.as_bytes())?;
        check_value(value.as_bytes())?;
        let member = [key.as_bytes(), b"=", value.as_bytes()].concat();
        if member.len() > MAX_LEN {
            return Err(ParseError::new(ParseErrorKind::TraceStateTooLong));
        }
        let old = self.header.as_ref().map_or(&b""[..], HeaderValue::as_bytes);
        let mut scan = Scan::EMPTY;
        // The list held at most 32 members, so after the new one at most 31
        // of them fit: the right-most goes, as the specification says.
        let kept = std::iter::once(&member[..]).chain(members(old).filter(|m| !has_key(m, key)));
        for member in kept.take(MAX_MEMBERS) {
            scan.push(member)?;
        }
        self.header = scan.build(1);
        Ok(())
    }

    /// Removes every list-member with this key; returns whether there was one.
    pub fn remove(&mut self, key: &str) -> bool {
        let old = self.header.as_ref().map_or(&b""[..], HeaderValue::as_bytes);
        if !members(old).any(|m| has_key(m, key)) {
            return false;
        }
        let mut scan = Scan::EMPTY;
        for member in members(old).filter(|m| !has_key(m, key)) {
            // Fewer members than the valid list held: cannot overflow.
            scan.push(member).expect("a subset of a valid list fits");
        }
        self.header = scan.build(0);
        true
    }

    /// The header value to send, `None` when empty.
    #[must_use]
    pub fn header_value(&self) -> Option<&HeaderValue> {
        self.header.as_ref()
    }
}

/// A key's length and its first and last eight bytes in one number: equal
/// for equal keys, and different for nearly all keys that differ.
fn fingerprint(key: &str) -> u64 {
    let bytes = key.as_bytes();
    let word = |chunk: &[u8]| {
        let mut word = [0u8; 8];
        word[..chunk.len()].copy_from_slice(chunk);
        u64::from_le_bytes(word)
    };
    let head = word(&bytes[..bytes.len().min(8)]);
    let tail = word(&bytes[bytes.len().saturating_sub(8)..]);
    head ^ tail.rotate_left(29) ^ (bytes.len() as u64).rotate_left(55)
}

fn has_key(member: &[u8], key: &str) -> bool {
    member
        .strip_prefix(key.as_bytes())
        .is_some_and(|rest| rest.first() == Some(&b'='))
}

/// Iterator over the `(key, value)` list-members of a [`TraceState`].
///
/// # Examples
///
/// ```
/// use trace_core::TraceState;
///
/// let state: TraceState = "rojo=1, congo=2".parse()?;
/// let members: Vec<_> = state.iter().collect();
/// assert_eq!(members, [("rojo", "1"), ("congo", "2")]);
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    rest: Option<&'a str>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = (&'a str, &'a str);

    fn next(&mut self) -> Option<Self::Item> {
        loop {
            let rest = self.rest?;
            let (member, next) = match rest.split_once(',') {
                Some((member, next)) => (member, Some(next)),
                None => (rest, None),
            };
            self.rest = next;
            let member = member.trim_matches([' ', '\t']);
            if let Some(pair) = member.split_once('=') {
                return Some(pair);
            }
        }
    }
}

impl<'a> IntoIterator for &'a TraceState {
    type Item = (&'a str, &'a str);
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

impl PartialEq for TraceState {
    /// Equal when the list-members are equal, in order; optional white space
    /// and empty members do not count.
    fn eq(&self, other: &Self) -> bool {
        self.iter().eq(other.iter())
    }
}

impl Eq for TraceState {}

impl fmt::Display for TraceState {
    /// The header text; empty for an empty state.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.header {
            Some(h) => f.write_str(h.to_str().expect("validated tracestate is ASCII")),
            None => Ok(()),
        }
    }
}

impl fmt::Debug for TraceState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl_parse!(TraceState, |value| Self::from_header_values([value]));

#[cfg(test)]
mod tests {
    use super::*;
    use ParseErrorKind as K;

    fn parse(input: &str) -> Result<Vec<(String, String)>, ParseErrorKind> {
        input
            .parse::<TraceState>()
            .map(|s| {
                s.iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect()
            })
            .map_err(|e| e.kind())
    }

    fn lines(values: &[&'static str]) -> Result<TraceState, ParseError> {
        let values: Vec<_> = values.iter().map(|v| HeaderValue::from_static(v)).collect();
        TraceState::from_header_values(&values)
    }

    #[test]
    fn grammar() {
        let all_key_chars = "abcdefghijklmnopqrstuvwxyz0123456789_-*/@";
        let all_value_chars: String = (0x20u8..=0x7e)
            .filter(|&b| b != b',' && b != b'=')
            .map(char::from)
            .collect();
        let key_256 = format!("{}=1", "z".repeat(256));
        let key_257 = format!("{}=1", "z".repeat(257));
        let value_256 = format!("foo={}", "v".repeat(256));
        let value_257 = format!("foo={}", "v".repeat(257));
        let every = format!("{all_key_chars}={all_value_chars}");
        #[rustfmt::skip]
        let cases: &[(&str, Result<usize, ParseErrorKind>, &str)] = &[
            ("rojo=00f067aa0ba902b7,congo=t61rcWkgMzE", Ok(2), "spec example"),
            (&every, Ok(1), "every allowed key and value character"),
            ("foo@=1,bar=2", Ok(2), "2025 key grammar: '@' anywhere after the first char"),
            ("foo@@bar=1", Ok(1), "2025 key grammar: several '@'"),
            ("0foo=1", Ok(1), "a key may start with a digit"),
            ("@foo=1,bar=2", Err(K::TraceStateKey), "a key starts with lcalpha or DIGIT"),
            ("_foo=1", Err(K::TraceStateKey), "a key starts with lcalpha or DIGIT"),
            ("FOO=1", Err(K::TraceStateKey), "uppercase key"),
            ("foo.bar=1", Err(K::TraceStateKey), "'.' is not a keychar"),
            ("foo =1", Err(K::TraceStateKey), "space inside the member before '='"),
            ("=1", Err(K::TraceStateKey), "empty key"),
            (&key_256, Ok(1), "256-character key"),
            (&key_257, Err(K::TraceStateKey), "257-character key"),
            (&value_256, Ok(1), "256-character value"),
            (&value_257, Err(K::TraceStateValue), "257-character value"),
            ("foo=bar=baz", Err(K::TraceStateValue), "'=' in a value"),
            ("foo=,bar=3", Err(K::TraceStateValue), "empty value"),
            ("foo=a\tb", Err(K::TraceStateValue), "tab inside a value"),
            ("foo=é", Err(K::TraceStateValue), "non-ASCII value"),
            ("foo= 1", Ok(1), "leading spaces are part of the value"),
            ("foo", Err(K::TraceStateMember), "no '='"),
            ("foo=1 \t , \t bar=2, \t baz=3", Ok(3), "OWS around members"),
            ("foo=1,,,bar=2,", Ok(2), "empty members are tolerated"),
            ("", Ok(0), "empty header"),
            (" \t ", Ok(0), "white space only"),
            ("foo=1,foo=2", Ok(2), "duplicate keys are passed on, not an error"),
        ];
        for &(input, expected, reason) in cases {
            assert_eq!(
                parse(input).map(|m| m.len()),
                expected,
                "{reason}: {input:?}"
            );
        }
        assert_eq!(parse("foo= 1").unwrap()[0].1, " 1", "leading space kept");
        assert_eq!(parse("foo=1 ").unwrap()[0].1, "1", "trailing space is OWS");
    }

    #[test]
    fn member_count_limit_applies_to_combined_lines() {
        let many = |n: usize| {
            (1..=n)
                .map(|i| format!("bar{i:02}={i:02}"))
                .collect::<Vec<_>>()
        };
        let lines_32 = many(32);
        let (first, second) = lines_32.split_at(10);
        let values = [first.join(","), second.join(",")].map(|s| HeaderValue::try_from(s).unwrap());
        let state = TraceState::from_header_values(&values).unwrap();
        assert_eq!(state.len(), 32);
        assert_eq!(state.get("bar01"), Some("01"));

        let values =
            [first.join(","), many(33)[10..].join(",")].map(|s| HeaderValue::try_from(s).unwrap());
        assert_eq!(
            TraceState::from_header_values(&values).unwrap_err().kind(),
            K::TraceStateTooManyMembers
        );
    }

    #[test]
    fn lines_are_combined_in_order() {
        let state = lines(&["foo=1,bar=2", "rojo=1,congo=2", "baz=3"]).unwrap();
        assert_eq!(state.to_string(), "foo=1,bar=2,rojo=1,congo=2,baz=3");
        let state = lines(&["", "foo=1"]).unwrap();
        assert_eq!(state.to_string(), "foo=1", "an empty line adds nothing");
        let state = lines(&["foo=1", ""]).unwrap();
        assert_eq!(state.get("foo"), Some("1"));
        assert_eq!(
            lines(&["foo=1", "BAR=2"]).unwrap_err().kind(),
            K::TraceStateKey
        );
        assert!(lines(&[]).unwrap().is_empty());
    }

    #[test]
    fn an_unchanged_line_is_reused_not_copied() {
        let line = HeaderValue::from_static("rojo=00f067aa0ba902b7, congo=t61rcWkgMzE");
        let state = TraceState::from_header_values([&line]).unwrap();
        let out = state.header_value().unwrap();
        // `from_static` values point at the static text: same pointer = no copy.
        assert_eq!(out.as_bytes().as_ptr(), line.as_bytes().as_ptr());
        assert_eq!(state.get("congo"), Some("t61rcWkgMzE"));
    }

    #[test]
    fn never_longer_than_512() {
        // 4 members of 150 characters, then short ones: the long ones go first,
        // from the end, until the rest fits.
        let long = |c: char| format!("{c}={}", c.to_string().repeat(148));
        let input = format!(
            "{},{},{},{},s1=1,s2=2",
            long('a'),
            long('b'),
            long('c'),
            long('d')
        );
        let state: TraceState = input.parse().unwrap();
        let text = state.to_string();
        assert!(text.len() <= MAX_LEN, "{}", text.len());
        assert_eq!(
            text,
            format!("{},{},{},s1=1,s2=2", long('a'), long('b'), long('c'))
        );

        // Short members only: dropped from the end.
        let input = (0..32)
            .map(|i| format!("k{i:02}={}", "v".repeat(20)))
            .collect::<Vec<_>>()
            .join(",");
        let state: TraceState = input.parse().unwrap();
        let text = state.to_string();
        assert!(text.len() <= MAX_LEN);
        assert_eq!(state.iter().next().unwrap().0, "k00", "the front is kept");
        assert_eq!(state.len(), 20, "24 characters each + comma: 20 fit in 512");
    }

    #[test]
    fn insert_moves_the_key_to_the_front() {
        let mut state: TraceState = "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE".parse().unwrap();
        state.insert("rojo", "00f067aa0ba902b7").unwrap();
        assert_eq!(state.to_string(), "rojo=00f067aa0ba902b7,congo=t61rcWkgMzE");
        state.insert("congo", "ucfJifl5GOE").unwrap();
        assert_eq!(state.to_string(), "congo=ucfJifl5GOE,rojo=00f067aa0ba902b7");
        state.insert("new", "1").unwrap();
        assert_eq!(
            state.iter().map(|(k, _)| k).collect::<Vec<_>>(),
            ["new", "congo", "rojo"]
        );

        let mut dup: TraceState = "foo=1,bar=2,foo=3".parse().unwrap();
        dup.insert("foo", "4").unwrap();
        assert_eq!(
            dup.to_string(),
            "foo=4,bar=2",
            "no key twice after an insert"
        );
    }

    #[test]
    fn insert_rejects_bad_input_and_keeps_the_state() {
        let mut state: TraceState = "a=1".parse().unwrap();
        assert_eq!(state.insert("A", "1").unwrap_err().kind(), K::TraceStateKey);
        assert_eq!(
            state.insert("b", "x,y").unwrap_err().kind(),
            K::TraceStateValue
        );
        assert_eq!(
            state.insert("b", "").unwrap_err().kind(),
            K::TraceStateValue
        );
        assert_eq!(state.to_string(), "a=1");
    }

    #[test]
    fn insert_drops_the_right_most_past_32() {
        let input = (0..32)
            .map(|i| format!("k{i}=1"))
            .collect::<Vec<_>>()
            .join(",");
        let mut state: TraceState = input.parse().unwrap();
        state.insert("new", "1").unwrap();
        assert_eq!(state.len(), 32);
        assert_eq!(state.get("k31"), None, "the right-most went");
        assert_eq!(state.get("k30"), Some("1"));
    }

    #[test]
    fn remove_and_empty() {
        let mut state: TraceState = "a=1,b=2,a=3".parse().unwrap();
        assert!(state.remove("a"));
        assert_eq!(state.to_string(), "b=2");
        assert!(!state.remove("a"));
        assert!(state.remove("b"));
        assert!(state.is_empty() && state.header_value().is_none());
        assert_eq!(state, TraceState::EMPTY);
    }

    #[test]
    fn equality_ignores_white_space() {
        let a: TraceState = "a=1, b=2".parse().unwrap();
        let b: TraceState = "a=1,b=2".parse().unwrap();
        assert_eq!(a, b);
        assert_eq!(format!("{a:?}"), r#"{"a": "1", "b": "2"}"#);
    }

    proptest::proptest! {
        /// One pass or one insert at a time from the last: the same list,
        /// the same cut at 512 characters, the same errors.
        #[test]
        fn from_members_equals_inserts_from_the_last(
            members in proptest::collection::vec(("[a-e][a-z0-9_-]{0,3}|Bad", "[a-z0-9]{1,200}"), 0..40),
        ) {
            let members: Vec<(&str, &str)> = members.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
            let one_pass = TraceState::from_members(members.iter().copied());
            let mut distinct: Vec<&str> = members.iter().map(|(k, _)| *k).collect();
            distinct.sort_unstable();
            distinct.dedup();
            let mut by_inserts = TraceState::EMPTY;
            let inserted = members.iter().rev().try_for_each(|(k, v)| by_inserts.insert(k, v));
            match one_pass {
                Ok(state) => {
                    proptest::prop_assert!(inserted.is_ok());
                    // Inserts cut as they go; one pass cuts once: equal
                    // while nothing is cut.
                    if state.to_string().len() + 1 < MAX_LEN - 256 {
                        proptest::prop_assert_eq!(state.to_string(), by_inserts.to_string());
                    }
                    proptest::prop_assert!(state.to_string().len() <= MAX_LEN);
                }
                Err(e) if e.kind() == K::TraceStateTooManyMembers => {
                    proptest::prop_assert!(distinct.len() > MAX_MEMBERS);
                }
                Err(e) => {
                    proptest::prop_assert_eq!(e.kind(), K::TraceStateKey);
                    proptest::prop_assert!(inserted.is_err());
                }
            }
        }
    }
}
