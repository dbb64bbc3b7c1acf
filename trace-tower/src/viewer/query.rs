//! The filters of the list and of `/api/traces`, from the query string
//! (Jaeger's parameter names where they exist).

use std::{collections::HashMap, time::Duration};

use super::model::{ERROR_TAG, Trace, TraceQuery};

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
    pub(crate) tags: String,
}

/// The most tags one search takes.
const MAX_TAGS: usize = 32;

/// Tags as Jaeger takes them: a JSON object of strings (its API,
/// `{"user.id":"7"}`) or `key=value` pairs separated by spaces (its search
/// form, `user.id=7 http.response.status_code=500`). `error=true` asks for
/// a failed span, `error=false` for one that did not fail, as Jaeger tags
/// them.
fn parse_tags(text: &str) -> Result<Vec<(String, String)>, String> {
    let pairs: Vec<(String, String)> = if text.starts_with('{') {
        let tags: std::collections::BTreeMap<String, String> = serde_json::from_str(text)
            .map_err(|e| format!("tags: expected a JSON object of strings: {e}"))?;
        tags.into_iter().collect()
    } else {
        text.split_ascii_whitespace()
            .map(|pair| {
                pair.split_once('=')
                    .filter(|(key, _)| !key.is_empty())
                    .map(|(key, value)| (key.to_owned(), value.trim_matches('"').to_owned()))
                    .ok_or_else(|| format!("tags: expected key=value, got {pair:?}"))
            })
            .collect::<Result<_, _>>()?
    };
    if pairs.len() > MAX_TAGS {
        return Err(format!("tags: at most {MAX_TAGS} at once"));
    }
    if let Some((_, other)) = pairs
        .iter()
        .find(|(key, value)| key == ERROR_TAG && value != "true" && value != "false")
    {
        return Err(format!("tags: error must be true or false: {other:?}"));
    }
    Ok(pairs)
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
        let tags = match text("tags") {
            None => Vec::new(),
            Some(text) => parse_tags(text)?,
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
                errors,
                tags,
            },
            lookup: owned("lookup"),
            limit,
            service: owned("service"),
            operation: owned("operation"),
            min_duration: owned("minDuration"),
            max_duration: owned("maxDuration"),
            tags: owned("tags"),
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
