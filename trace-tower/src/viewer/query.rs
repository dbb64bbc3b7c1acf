//! The filters of the list and of `/api/traces`, from the query string
//! (Jaeger's parameter names where they exist).

use std::{collections::HashMap, time::Duration};

use super::model::{Trace, TraceQuery};

/// The most traces a list or a search returns unless told otherwise.
pub(crate) const DEFAULT_LIMIT: usize = 100;
/// And at most.
const MAX_LIMIT: usize = 10_000;

/// What the query string asked for, kept as typed to fill the form again.
#[derive(Debug, Default)]
pub(crate) struct Filter {
    pub(crate) query: TraceQuery,
    /// A trace id or a correlation ID.
    pub(crate) lookup: String,
    pub(crate) limit: usize,
    pub(crate) service: String,
    pub(crate) operation: String,
    pub(crate) min_duration: String,
    pub(crate) max_duration: String,
}

/// A duration as Jaeger's search takes it (Go's units): `300ms`, `1.5s`,
/// `250us` (or `µs`), `2m`, `1h`; `None` for anything else.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use trace_tower::viewer::parse_duration;
///
/// assert_eq!(parse_duration("1.5s"), Some(Duration::from_millis(1_500)));
/// assert_eq!(parse_duration("soon"), None);
/// ```
#[must_use]
pub fn parse_duration(text: &str) -> Option<Duration> {
    let text = text.trim();
    let split = text.find(|c: char| !c.is_ascii_digit() && c != '.')?;
    let (number, unit) = text.split_at(split);
    let number: f64 = number.parse().ok()?;
    let seconds = match unit {
        "ns" => number / 1e9,
        "us" | "µs" => number / 1e6,
        "ms" => number / 1e3,
        "s" => number,
        "m" => number * 60.0,
        "h" => number * 3600.0,
        _ => return None,
    };
    Duration::try_from_secs_f64(seconds).ok()
}

impl Filter {
    /// From the query string's pairs; a value that cannot apply is an
    /// error that names the parameter.
    pub(crate) fn parse(params: &HashMap<String, String>) -> Result<Self, String> {
        let text = |key: &str| params.get(key).map(|v| v.trim()).filter(|v| !v.is_empty());
        let duration = |key: &str| -> Result<Option<Duration>, String> {
            text(key)
                .map(|v| {
                    parse_duration(v).ok_or_else(|| {
                        format!("{key}: not a duration (like 300ms, 1.5s, 250us): {v:?}")
                    })
                })
                .transpose()
        };
        let errors = match text("errors") {
            None => false,
            Some("true" | "on" | "1") => true,
            Some("false" | "off" | "0") => false,
            Some(other) => return Err(format!("errors: expected true or false: {other:?}")),
        };
        // Jaeger's form: tags={"error":"true"}.
        let tagged = match text("tags") {
            None => false,
            Some(json) => {
                let tags: HashMap<String, String> = serde_json::from_str(json)
                    .map_err(|e| format!("tags: expected a JSON object of strings: {e}"))?;
                match tags.get("error").map(String::as_str) {
                    Some("true") => true,
                    None | Some("false") => false,
                    Some(other) => {
                        return Err(format!("tags: error must be true or false: {other:?}"));
                    }
                }
            }
        };
        let limit = match text("limit") {
            None => DEFAULT_LIMIT,
            Some(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .ok_or_else(|| format!("limit: expected a positive number: {v:?}"))?
                .min(MAX_LIMIT),
        };
        let owned = |key: &str| text(key).unwrap_or_default().to_owned();
        Ok(Self {
            query: TraceQuery {
                service: text("service").map(str::to_owned),
                operation: text("operation").map(str::to_owned),
                min_duration: duration("minDuration")?,
                max_duration: duration("maxDuration")?,
                errors: errors || tagged,
            },
            lookup: owned("lookup"),
            limit,
            service: owned("service"),
            operation: owned("operation"),
            min_duration: owned("minDuration"),
            max_duration: owned("maxDuration"),
        })
    }

    /// Whether `trace` is one to show: the query, and the lookup (its
    /// trace id, or a correlation ID one of its spans carries).
    pub(crate) fn matches(&self, trace: &Trace) -> bool {
        self.query.matches(trace) && (self.lookup.is_empty() || looked_up(trace, &self.lookup))
    }
}

fn looked_up(trace: &Trace, lookup: &str) -> bool {
    trace.trace_id.to_string().eq_ignore_ascii_case(lookup)
        || trace.spans.iter().any(|row| {
            row.span
                .correlation_id
                .as_ref()
                .is_some_and(|id| id.as_str() == lookup)
        })
}
