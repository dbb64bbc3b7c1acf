//! The propagator the standard `OTEL_PROPAGATORS` variable asks for.

use std::fmt;

use super::{Format, Propagator};

impl Propagator {
    /// The propagator `OTEL_PROPAGATORS` asks for.
    ///
    /// Recognised values, comma-separated, in the order extraction tries
    /// them: `tracecontext`, `baggage`, `b3`, `b3multi`, `jaeger` and
    /// `none`, as the OpenTelemetry SDK environment specification names
    /// them (<https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#general-sdk-configuration>);
    /// a name given twice counts once. Unset or empty means the default
    /// (`tracecontext,baggage`). The correlation ID is this crate's own and
    /// is always propagated.
    ///
    /// # Errors
    ///
    /// When the variable names a propagator this crate does not implement
    /// (such as `xray`), or is not Unicode: silently propagating nothing is
    /// the failure this error prevents.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::{Propagate, Propagator, propagation::Format};
    ///
    /// let p = Propagator::from_env_value(Some("tracecontext"))?;
    /// assert!(p.propagates().contains(Propagate::TRACEPARENT));
    /// assert!(!p.propagates().contains(Propagate::BAGGAGE));
    ///
    /// let p = Propagator::from_env_value(Some("b3multi,tracecontext,b3multi"))?;
    /// assert_eq!(p.formats(), [Format::B3Multi, Format::TraceContext]);
    ///
    /// let err = Propagator::from_env_value(Some("tracecontext,xray")).unwrap_err();
    /// assert_eq!(err.to_string(), "OTEL_PROPAGATORS names \"xray\", which trace-core does not implement (it knows tracecontext, baggage, b3, b3multi, jaeger, none)");
    /// # Ok::<(), trace_core::propagation::EnvError>(())
    /// ```
    pub fn from_env() -> Result<Self, EnvError> {
        match std::env::var("OTEL_PROPAGATORS") {
            Ok(value) => Self::from_env_value(Some(&value)),
            Err(std::env::VarError::NotPresent) => Self::from_env_value(None),
            Err(std::env::VarError::NotUnicode(_)) => Err(EnvError { value: None }),
        }
    }

    /// As [`from_env`](Self::from_env), from the variable's value.
    ///
    /// # Errors
    ///
    /// As [`from_env`](Self::from_env).
    pub fn from_env_value(value: Option<&str>) -> Result<Self, EnvError> {
        let names = value.map(str::trim).filter(|v| !v.is_empty());
        let Some(names) = names else {
            return Ok(Self::default());
        };
        let mut formats = Vec::new();
        for name in names.split(',').map(str::trim).filter(|n| !n.is_empty()) {
            if name.eq_ignore_ascii_case("none") {
                continue;
            }
            match Format::from_env_name(name) {
                Some(format) => formats.push(format),
                None => {
                    return Err(EnvError {
                        value: Some(name.to_owned()),
                    });
                }
            }
        }
        Ok(Self::default().with_formats(formats))
    }
}

/// The `OTEL_PROPAGATORS` names this crate implements, for messages.
pub(crate) const KNOWN: &str = "tracecontext, baggage, b3, b3multi, jaeger, none";

/// `OTEL_PROPAGATORS` asks for something this crate cannot do.
///
/// # Examples
///
/// ```
/// use trace_core::Propagator;
///
/// assert!(Propagator::from_env_value(Some("ottrace")).is_err());
/// ```
#[derive(Clone, PartialEq, Eq)]
pub struct EnvError {
    /// The unknown propagator name; `None` when the variable is not Unicode.
    value: Option<String>,
}

impl EnvError {
    /// The propagator name that is not known; `None` when the variable is
    /// not Unicode.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn value(&self) -> Option<&str> {
        self.value.as_deref()
    }
}

impl fmt::Display for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.value {
            // Configuration, not request input: naming it is the point.
            Some(value) => write!(
                f,
                "OTEL_PROPAGATORS names {value:?}, which trace-core does not implement (it knows {KNOWN})"
            ),
            None => f.write_str("OTEL_PROPAGATORS is not valid Unicode"),
        }
    }
}

/// As `Display`: returned from `main`, the error reads as its message
/// (`Error: OTEL_PROPAGATORS names "zipkin", …`).
impl fmt::Debug for EnvError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for EnvError {}
