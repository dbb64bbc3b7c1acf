//! What a span says: its kind, its attributes and how it ended.

use std::{borrow::Cow, fmt, time::SystemTime};

/// The role of a span, as the OpenTelemetry API defines it.
///
/// # Examples
///
/// ```
/// use trace_core::SpanKind;
///
/// assert_eq!(SpanKind::Server.as_str(), "server");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SpanKind {
    /// Handles a request from a remote client.
    Server,
    /// Makes a request to a remote server.
    Client,
    /// Work inside this process.
    Internal,
    /// Sends a message for later processing.
    Producer,
    /// Receives a message sent by a producer.
    Consumer,
}

impl SpanKind {
    /// The lowercase name of the kind.
    #[must_use]
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::Server => "server",
            Self::Client => "client",
            Self::Internal => "internal",
            Self::Producer => "producer",
            Self::Consumer => "consumer",
        }
    }
}

/// An attribute value.
///
/// # Examples
///
/// ```
/// use trace_core::Value;
///
/// assert_eq!(Value::from("GET"), Value::Str("GET".into()));
/// assert_eq!(Value::from(200_i64).to_string(), "200");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub enum Value<'a> {
    /// Text.
    Str(Cow<'a, str>),
    /// A whole number.
    I64(i64),
    /// A floating-point number.
    F64(f64),
    /// A truth value.
    Bool(bool),
}

impl Value<'_> {
    /// The value, owning its text.
    #[must_use]
    pub fn into_owned(self) -> Value<'static> {
        match self {
            Value::Str(s) => Value::Str(Cow::Owned(s.into_owned())),
            Value::I64(v) => Value::I64(v),
            Value::F64(v) => Value::F64(v),
            Value::Bool(v) => Value::Bool(v),
        }
    }
}

impl fmt::Display for Value<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Str(s) => f.write_str(s),
            Value::I64(v) => write!(f, "{v}"),
            Value::F64(v) => write!(f, "{v}"),
            Value::Bool(v) => write!(f, "{v}"),
        }
    }
}

impl<'a> From<&'a str> for Value<'a> {
    fn from(s: &'a str) -> Self {
        Value::Str(Cow::Borrowed(s))
    }
}

impl<'a> From<Cow<'a, str>> for Value<'a> {
    fn from(s: Cow<'a, str>) -> Self {
        Value::Str(s)
    }
}

impl From<String> for Value<'_> {
    fn from(s: String) -> Self {
        Value::Str(Cow::Owned(s))
    }
}

impl From<i64> for Value<'_> {
    fn from(v: i64) -> Self {
        Value::I64(v)
    }
}

impl From<f64> for Value<'_> {
    fn from(v: f64) -> Self {
        Value::F64(v)
    }
}

impl From<bool> for Value<'_> {
    fn from(v: bool) -> Self {
        Value::Bool(v)
    }
}

/// A span attribute: a semantic-convention name and a value.
///
/// # Examples
///
/// ```
/// use trace_core::Attribute;
///
/// let attr = Attribute::new("http.request.method", "GET");
/// assert_eq!(attr.key, "http.request.method");
/// ```
#[derive(Debug, Clone, PartialEq)]
pub struct Attribute<'a> {
    /// The attribute's name, from the semantic conventions.
    pub key: &'static str,
    /// The attribute's value.
    pub value: Value<'a>,
}

impl<'a> Attribute<'a> {
    /// An attribute from a name and anything that converts to a value.
    pub fn new(key: &'static str, value: impl Into<Value<'a>>) -> Self {
        Self {
            key,
            value: value.into(),
        }
    }

    /// The attribute, owning its text.
    #[must_use]
    pub fn into_owned(self) -> Attribute<'static> {
        Attribute {
            key: self.key,
            value: self.value.into_owned(),
        }
    }
}

/// Something that happened at a moment during a span: a cache miss, a
/// retry, an `exception` (see [`SpanRef::record_error`](crate::SpanRef::record_error)).
///
/// # Examples
///
/// ```
/// use trace_core::{Attribute, record::Event};
///
/// let event = Event::new("cache.miss", vec![Attribute::new("cache.key", "user:7")]);
/// assert_eq!(event.name, "cache.miss");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Event {
    /// The event's name.
    pub name: Cow<'static, str>,
    /// When it happened.
    pub time: SystemTime,
    /// What it says.
    pub attributes: Vec<Attribute<'static>>,
}

impl Event {
    /// An event happening now.
    pub fn new(name: impl Into<Cow<'static, str>>, attributes: Vec<Attribute<'static>>) -> Self {
        Self {
            name: name.into(),
            time: SystemTime::now(),
            attributes,
        }
    }
}

/// How a span ended.
///
/// # Examples
///
/// ```
/// use trace_core::Status;
///
/// let status = Status::error("timeout");
/// assert!(status.is_error());
/// assert_eq!(status.error_type(), Some("timeout"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Status {
    /// No statement: the default, and what a successful request gets.
    #[default]
    Unset,
    /// Explicitly successful.
    Ok,
    /// Failed; `error_type` is the `error.type` attribute (a status code,
    /// an exception type, `cancelled`…).
    Error {
        /// Low-cardinality description of the error class.
        error_type: Cow<'static, str>,
    },
}

impl Status {
    /// An error of this type.
    pub fn error(error_type: impl Into<Cow<'static, str>>) -> Self {
        Self::Error {
            error_type: error_type.into(),
        }
    }

    /// Whether this is an error.
    #[must_use]
    pub fn is_error(&self) -> bool {
        matches!(self, Self::Error { .. })
    }

    /// The error type, for an error.
    #[must_use]
    pub fn error_type(&self) -> Option<&str> {
        match self {
            Self::Error { error_type } => Some(error_type),
            _ => None,
        }
    }
}
