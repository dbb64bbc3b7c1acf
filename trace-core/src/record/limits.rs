//! [`Limits`]: how much of a span is kept, so that nothing a request sends
//! is kept whole however large it is.

use std::borrow::Cow;

use crate::record::{Attribute, Value};

/// How much of each span is recorded, in the spirit of OpenTelemetry's
/// attribute limits (`OTEL_ATTRIBUTE_VALUE_LENGTH_LIMIT`,
/// `OTEL_ATTRIBUTE_COUNT_LIMIT`,
/// <https://opentelemetry.io/docs/specs/otel/common/#attribute-limits>).
///
/// Text values longer than [`attribute_value_length`](Self::attribute_value_length)
/// bytes are cut (at a character boundary); attributes past
/// [`attribute_count`](Self::attribute_count) are dropped, and so are
/// events past [`event_count`](Self::event_count) and links past
/// [`link_count`](Self::link_count) (an event's attributes have the
/// attribute limits). Values come from requests (paths, user agents, hosts, gRPC
/// names): the defaults keep a span of a hostile request small.
///
/// Defaults: 2,048 bytes per value (OpenTelemetry's default is no limit,
/// which a server recording request data cannot afford), 128 attributes,
/// 128 events and 128 links (OpenTelemetry's defaults).
///
/// # Examples
///
/// ```
/// use trace_core::{Attribute, record::Limits};
///
/// let limits = Limits::default().attribute_value_length(4);
/// let mut attributes = vec![Attribute::new("user_agent.original", "curl/8.5.0")];
/// limits.apply(&mut attributes, 0);
/// assert_eq!(attributes[0].value.to_string(), "curl");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    value_length: usize,
    count: usize,
    events: usize,
    links: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            value_length: 2048,
            count: 128,
            events: 128,
            links: 128,
        }
    }
}

impl Limits {
    /// These limits, keeping at most `bytes` of each text value.
    #[must_use]
    pub const fn attribute_value_length(mut self, bytes: usize) -> Self {
        self.value_length = bytes;
        self
    }

    /// These limits, keeping at most `count` attributes per span.
    #[must_use]
    pub const fn attribute_count(mut self, count: usize) -> Self {
        self.count = count;
        self
    }

    /// These limits, keeping at most `count` events per span.
    #[must_use]
    pub const fn event_count(mut self, count: usize) -> Self {
        self.events = count;
        self
    }

    /// These limits, keeping at most `count` links per span.
    #[must_use]
    pub const fn link_count(mut self, count: usize) -> Self {
        self.links = count;
        self
    }

    /// The most events kept per span.
    #[must_use]
    pub const fn events(&self) -> usize {
        self.events
    }

    /// The most links kept per span.
    #[must_use]
    pub const fn links(&self) -> usize {
        self.links
    }

    /// The most bytes kept of a text value.
    #[must_use]
    pub const fn value_length(&self) -> usize {
        self.value_length
    }

    /// The most attributes kept per span.
    #[must_use]
    pub const fn count(&self) -> usize {
        self.count
    }

    /// Applies the limits to `attributes`, the next ones of a span that
    /// has `kept` already: values cut, and what is past the count dropped.
    /// Returns how many are kept now.
    #[inline]
    pub fn apply(&self, attributes: &mut Vec<Attribute<'static>>, kept: usize) -> usize {
        attributes.truncate(self.count.saturating_sub(kept));
        for attribute in attributes.iter_mut() {
            self.cut(&mut attribute.value);
        }
        kept + attributes.len()
    }

    /// `text`, cut to the length limit at a character boundary.
    #[must_use]
    pub fn cut_str<'t>(&self, text: &'t str) -> &'t str {
        if text.len() <= self.value_length {
            return text;
        }
        let mut end = self.value_length;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        &text[..end]
    }

    /// Cuts one text value to the length limit.
    #[inline]
    pub fn cut(&self, value: &mut Value<'static>) {
        if let Value::Str(text) = value
            && text.len() > self.value_length
        {
            self.cut_text(text);
        }
    }

    #[cold]
    fn cut_text(&self, text: &mut Cow<'static, str>) {
        let mut end = self.value_length;
        while !text.is_char_boundary(end) {
            end -= 1;
        }
        match text {
            Cow::Borrowed(s) => *s = &s[..end],
            Cow::Owned(s) => {
                s.truncate(end);
                s.shrink_to_fit();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_are_cut_at_a_character_boundary_and_the_count_is_kept() {
        let limits = Limits::default()
            .attribute_value_length(5)
            .attribute_count(3);
        let mut attributes = vec![
            Attribute::new("a", "short"),
            Attribute::new("b", String::from("caffè latte")),
            Attribute::new("c", 7_i64),
            Attribute::new("d", "dropped"),
        ];
        assert_eq!(limits.apply(&mut attributes, 0), 3);
        let values: Vec<_> = attributes.iter().map(|a| a.value.to_string()).collect();
        assert_eq!(
            values,
            ["short", "caff", "7"],
            "`è` is bytes 4 and 5: cut before it"
        );
        let mut more = vec![Attribute::new("e", "x")];
        assert_eq!(limits.apply(&mut more, 3), 3, "the span is full");
        assert!(more.is_empty());
    }
}
