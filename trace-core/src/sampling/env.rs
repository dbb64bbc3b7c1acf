//! The sampler the standard `OTEL_TRACES_SAMPLER` and
//! `OTEL_TRACES_SAMPLER_ARG` variables ask for.

use std::{fmt, sync::Arc};

use super::{AlwaysOff, AlwaysOn, ParentBased, Sampler, TraceIdRatio};

/// The sampler named by `OTEL_TRACES_SAMPLER` (with its ratio in
/// `OTEL_TRACES_SAMPLER_ARG`), as the OpenTelemetry SDK environment
/// specification defines them
/// (<https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/>):
///
/// | `OTEL_TRACES_SAMPLER` | sampler |
/// |---|---|
/// | unset, empty, `parentbased_always_on` | `ParentBased::new(AlwaysOn)` (the SDK's default) |
/// | `always_on` / `always_off` | `AlwaysOn` / `AlwaysOff` |
/// | `traceidratio` | `TraceIdRatio::new(arg)` |
/// | `parentbased_always_off` | `ParentBased::new(AlwaysOff)` |
/// | `parentbased_traceidratio` | `ParentBased::new(TraceIdRatio::new(arg))` |
///
/// The ratio is 1.0 when `OTEL_TRACES_SAMPLER_ARG` is unset, as the
/// specification says.
///
/// # Errors
///
/// A sampler this crate does not implement (`jaeger_remote`, `xray`, …),
/// a ratio that is not a number from 0 to 1, or a value that is not
/// Unicode: the error names the variable and the value. (The SDK logs and
/// falls back to sampling everything; a setting that silently does not
/// apply is what this error prevents.)
///
/// # Examples
///
/// ```
/// use trace_core::sampling::sampler_from_env_values;
///
/// assert!(sampler_from_env_values(Some("parentbased_traceidratio"), Some("0.25")).is_ok());
/// let error = sampler_from_env_values(Some("traceidratio"), Some("half")).err().unwrap();
/// assert_eq!(
///     error.to_string(),
///     "OTEL_TRACES_SAMPLER_ARG=\"half\": not a sampling ratio (a number from 0 to 1)"
/// );
/// ```
pub fn sampler_from_env() -> Result<Arc<dyn Sampler>, EnvVarError> {
    let sampler = EnvVarError::read("OTEL_TRACES_SAMPLER")?;
    let arg = EnvVarError::read("OTEL_TRACES_SAMPLER_ARG")?;
    sampler_from_env_values(sampler.as_deref(), arg.as_deref())
}

/// As [`sampler_from_env`], from the two variables' values.
///
/// # Errors
///
/// As [`sampler_from_env`].
pub fn sampler_from_env_values(
    sampler: Option<&str>,
    arg: Option<&str>,
) -> Result<Arc<dyn Sampler>, EnvVarError> {
    let ratio = || -> Result<TraceIdRatio, EnvVarError> {
        let Some(arg) = arg.map(str::trim).filter(|a| !a.is_empty()) else {
            return Ok(TraceIdRatio::new(1.0));
        };
        match arg.parse::<f64>() {
            Ok(ratio) if (0.0..=1.0).contains(&ratio) => Ok(TraceIdRatio::new(ratio)),
            _ => Err(EnvVarError::new(
                "OTEL_TRACES_SAMPLER_ARG",
                Some(arg),
                "not a sampling ratio (a number from 0 to 1)",
            )),
        }
    };
    let name = sampler.map(str::trim).unwrap_or_default();
    Ok(match name.to_ascii_lowercase().as_str() {
        "" | "parentbased_always_on" => Arc::new(ParentBased::new(AlwaysOn)),
        "always_on" => Arc::new(AlwaysOn),
        "always_off" => Arc::new(AlwaysOff),
        "traceidratio" => Arc::new(ratio()?),
        "parentbased_always_off" => Arc::new(ParentBased::new(AlwaysOff)),
        "parentbased_traceidratio" => Arc::new(ParentBased::new(ratio()?)),
        _ => {
            return Err(EnvVarError::new(
                "OTEL_TRACES_SAMPLER",
                Some(name),
                "trace-core implements always_on, always_off, traceidratio, \
                 parentbased_always_on, parentbased_always_off and parentbased_traceidratio",
            ));
        }
    })
}

/// A standard `OTEL_*` variable with a value this crate cannot apply: it
/// names the variable, the value and what was expected.
///
/// # Examples
///
/// ```
/// use trace_core::sampling::sampler_from_env_values;
///
/// let error = sampler_from_env_values(Some("xray"), None).err().unwrap();
/// assert_eq!(error.variable(), "OTEL_TRACES_SAMPLER");
/// assert!(error.to_string().starts_with("OTEL_TRACES_SAMPLER=\"xray\": "));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EnvVarError {
    variable: &'static str,
    value: Option<String>,
    reason: String,
}

impl EnvVarError {
    /// An error about `variable`, whose value is `value` (`None`: not
    /// Unicode, or not the value's fault).
    #[must_use]
    pub fn new(variable: &'static str, value: Option<&str>, reason: impl Into<String>) -> Self {
        Self {
            variable,
            value: value.map(str::to_owned),
            reason: reason.into(),
        }
    }

    /// Reads `variable`: `None` when unset, an error when not Unicode.
    ///
    /// # Errors
    ///
    /// When the value is not Unicode.
    pub fn read(variable: &'static str) -> Result<Option<String>, Self> {
        match std::env::var(variable) {
            Ok(value) => Ok(Some(value)),
            Err(std::env::VarError::NotPresent) => Ok(None),
            Err(std::env::VarError::NotUnicode(_)) => {
                Err(Self::new(variable, None, "not valid Unicode"))
            }
        }
    }

    /// The variable.
    #[must_use]
    pub fn variable(&self) -> &'static str {
        self.variable
    }
}

impl fmt::Display for EnvVarError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Configuration, not request input: naming the value is the point.
        match &self.value {
            Some(value) => write!(f, "{}={value:?}: {}", self.variable, self.reason),
            None => write!(f, "{}: {}", self.variable, self.reason),
        }
    }
}

impl std::error::Error for EnvVarError {}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{
        codec::TraceId,
        record::SpanKind,
        sampling::{Decision, SamplingInput},
    };

    /// Sampled roots out of `n` trace ids spread over the ratio's range.
    fn sampled_roots(sampler: &dyn Sampler, n: u64) -> u64 {
        (0..n)
            .filter(|i| {
                // Ids whose low 56 bits spread evenly over [0, 2^56).
                let low = (i * ((1 << 56) / n)).to_be_bytes();
                let mut bytes = [0x11; 16];
                bytes[8..].copy_from_slice(&low);
                let id = TraceId::from_bytes(bytes);
                sampler
                    .should_sample(&SamplingInput::new(id, "GET /", SpanKind::Server))
                    .decision
                    == Decision::RecordAndSample
            })
            .count() as u64
    }

    #[test]
    fn the_standard_names_map_onto_our_samplers() {
        #[rustfmt::skip]
        let cases: &[(Option<&str>, Option<&str>, u64)] = &[
            (None, None, 1000),
            (Some(""), None, 1000),
            (Some("always_on"), None, 1000),
            (Some("ALWAYS_OFF"), None, 0),
            (Some("traceidratio"), Some("0.25"), 250),
            (Some("traceidratio"), None, 1000),
            (Some("parentbased_traceidratio"), Some("0.5"), 500),
            (Some(" parentbased_always_off "), None, 0),
            (Some("parentbased_always_on"), Some("ignored"), 1000),
        ];
        for &(name, arg, roots) in cases {
            let sampler = sampler_from_env_values(name, arg).unwrap();
            let got = sampled_roots(&*sampler, 1000);
            assert!(got.abs_diff(roots) <= 2, "{name:?} {arg:?}: {got} of 1000");
        }
    }

    #[test]
    fn what_cannot_apply_is_an_error_naming_the_variable() {
        for (name, arg, variable) in [
            ("jaeger_remote", None, "OTEL_TRACES_SAMPLER"),
            ("xray", None, "OTEL_TRACES_SAMPLER"),
            ("traceidratio", Some("1.5"), "OTEL_TRACES_SAMPLER_ARG"),
            (
                "parentbased_traceidratio",
                Some("-0.1"),
                "OTEL_TRACES_SAMPLER_ARG",
            ),
            ("traceidratio", Some("NaN"), "OTEL_TRACES_SAMPLER_ARG"),
        ] {
            let error = sampler_from_env_values(Some(name), arg).err().unwrap();
            assert_eq!(error.variable(), variable, "{name} {arg:?}");
        }
    }
}
