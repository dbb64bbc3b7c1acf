//! The parts of a `baggage` value: members, their properties, and the
//! iterators over them.

use std::{borrow::Cow, fmt};

use percent_encoding::percent_decode_str;

use super::Baggage;

pub(super) fn decode(raw: &str) -> Cow<'_, str> {
    percent_decode_str(raw).decode_utf8_lossy()
}

/// One `baggage` list-member, read from validated text.
///
/// # Examples
///
/// ```
/// use trace_core::Baggage;
///
/// let baggage: Baggage = "k = v%2C1 ; p1 ; p2 = x".parse()?;
/// let member = baggage.iter().next().unwrap();
/// assert_eq!(member.key(), "k");
/// assert_eq!(member.value(), "v,1");
/// assert_eq!(member.raw_value(), "v%2C1");
/// let props: Vec<_> = member.properties().map(|p| (p.key(), p.value())).collect();
/// assert_eq!(props, [("p1", None), ("p2", Some("x".into()))]);
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Member<'a> {
    key: &'a str,
    raw_value: &'a str,
    properties: &'a str,
}

impl<'a> Member<'a> {
    fn parse(text: &'a str) -> Self {
        let (key, rest) = text.split_once('=').expect("validated member has '='");
        let (raw_value, properties) = rest.split_once(';').unwrap_or((rest, ""));
        Self {
            key: key.trim_end_matches([' ', '\t']),
            raw_value: raw_value.trim_matches([' ', '\t']),
            properties,
        }
    }

    /// The key.
    #[must_use]
    pub fn key(&self) -> &'a str {
        self.key
    }

    /// The value, percent-decoded; invalid UTF-8 becomes U+FFFD.
    #[must_use]
    pub fn value(&self) -> Cow<'a, str> {
        decode(self.raw_value)
    }

    /// The value as it is written in the header.
    #[must_use]
    pub fn raw_value(&self) -> &'a str {
        self.raw_value
    }

    /// The member's properties, in order.
    #[must_use]
    pub fn properties(&self) -> Properties<'a> {
        Properties {
            rest: (!self.properties.is_empty()).then(|| self.properties.split(';')),
        }
    }
}

impl fmt::Debug for Member<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Member")
            .field("key", &self.key)
            .field("value", &Redacted)
            .finish()
    }
}

/// One property of a [`Member`]: `key` or `key=value`.
///
/// # Examples
///
/// ```
/// use trace_core::Baggage;
///
/// let baggage: Baggage = "k=v;ttl=60;internal".parse()?;
/// let member = baggage.iter().next().unwrap();
/// let mut props = member.properties();
/// let ttl = props.next().unwrap();
/// assert_eq!((ttl.key(), ttl.value().as_deref()), ("ttl", Some("60")));
/// assert_eq!(props.next().unwrap().value(), None);
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Clone, Copy)]
pub struct Property<'a> {
    key: &'a str,
    raw_value: Option<&'a str>,
}

impl<'a> Property<'a> {
    /// The key.
    #[must_use]
    pub fn key(&self) -> &'a str {
        self.key
    }

    /// The value, percent-decoded, if the property has one.
    #[must_use]
    pub fn value(&self) -> Option<Cow<'a, str>> {
        self.raw_value.map(decode)
    }
}

impl fmt::Debug for Property<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut s = f.debug_struct("Property");
        s.field("key", &self.key);
        if self.raw_value.is_some() {
            s.field("value", &Redacted);
        }
        s.finish()
    }
}

/// Iterator over the members of a [`Baggage`], in order.
///
/// # Examples
///
/// ```
/// use trace_core::Baggage;
///
/// let baggage: Baggage = "a=1,b=2,a=3".parse()?;
/// let keys: Vec<_> = baggage.iter().map(|m| m.key()).collect();
/// assert_eq!(keys, ["a", "b", "a"], "order and duplicates are kept");
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Iter<'a> {
    pub(super) rest: std::str::Split<'a, char>,
}

impl<'a> Iterator for Iter<'a> {
    type Item = Member<'a>;

    fn next(&mut self) -> Option<Member<'a>> {
        self.rest.find_map(|m| {
            let m = m.trim_matches([' ', '\t']);
            (!m.is_empty()).then(|| Member::parse(m))
        })
    }
}

/// Iterator over the properties of a [`Member`]; see [`Property`].
///
/// # Examples
///
/// ```
/// use trace_core::Baggage;
///
/// let baggage: Baggage = "k=v;p1;p2=x".parse()?;
/// assert_eq!(baggage.iter().next().unwrap().properties().count(), 2);
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Debug, Clone)]
pub struct Properties<'a> {
    rest: Option<std::str::Split<'a, char>>,
}

impl<'a> Iterator for Properties<'a> {
    type Item = Property<'a>;

    fn next(&mut self) -> Option<Property<'a>> {
        let text = self.rest.as_mut()?.next()?;
        let (key, raw_value) = match text.split_once('=') {
            Some((key, value)) => (key, Some(value.trim_matches([' ', '\t']))),
            None => (text, None),
        };
        Some(Property {
            key: key.trim_matches([' ', '\t']),
            raw_value,
        })
    }
}

impl<'a> IntoIterator for &'a Baggage {
    type Item = Member<'a>;
    type IntoIter = Iter<'a>;

    fn into_iter(self) -> Iter<'a> {
        self.iter()
    }
}

/// Stands for a value in `Debug` output.
pub(super) struct Redacted;

impl fmt::Debug for Redacted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}
