//! The viewer's JSON, in the shape of Jaeger's query API (the
//! `/api/traces` and `/api/dependencies` endpoints its UI reads), so that a
//! script written for Jaeger reads it too.
//!
//! Spans become Jaeger spans as Jaeger's own OTLP translation makes them:
//! times in microseconds since the Unix epoch, the parent as a `CHILD_OF`
//! reference and a link as `FOLLOWS_FROM`, the attributes as tags sorted by
//! key, with `span.kind`, and for a failed span `error` (`true`),
//! `otel.status_code` (`ERROR`) and `otel.status_description` (its
//! `error.type`); one process per service.

use std::time::{SystemTime, UNIX_EPOCH};

use serde::Serialize;
use trace_core::{FinishedSpan, Status, Value};

use super::model::{Dependency, Trace};

/// A response of Jaeger's query API: `data`, and the fields beside it.
#[derive(Debug, Serialize)]
pub(crate) struct Response<T> {
    data: T,
    total: usize,
    limit: usize,
    offset: usize,
    errors: Option<()>,
}

impl<T> Response<T> {
    pub(crate) fn new(data: T) -> Self {
        Self {
            data,
            total: 0,
            limit: 0,
            offset: 0,
            errors: None,
        }
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct JaegerTrace {
    #[serde(rename = "traceID")]
    trace_id: String,
    spans: Vec<JaegerSpan>,
    processes: std::collections::BTreeMap<String, Process>,
    warnings: Option<()>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct JaegerSpan {
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
    operation_name: String,
    references: Vec<Reference>,
    start_time: u64,
    duration: u64,
    tags: Vec<Tag>,
    logs: Vec<Log>,
    #[serde(rename = "processID")]
    process_id: String,
    warnings: Option<()>,
}

/// An event, as Jaeger shows a span's logs: its name as the `event`
/// field, then its attributes.
#[derive(Debug, Serialize)]
struct Log {
    timestamp: u64,
    fields: Vec<Tag>,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Reference {
    ref_type: &'static str,
    #[serde(rename = "traceID")]
    trace_id: String,
    #[serde(rename = "spanID")]
    span_id: String,
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
struct Process {
    service_name: String,
    tags: Vec<Tag>,
}

#[derive(Debug, Serialize)]
struct Tag {
    key: String,
    #[serde(rename = "type")]
    kind: &'static str,
    value: serde_json::Value,
}

impl Tag {
    fn new(key: impl Into<String>, value: &Value<'_>) -> Self {
        let (kind, value) = match value {
            Value::Str(text) => ("string", serde_json::Value::from(text.as_ref())),
            Value::I64(n) => ("int64", serde_json::Value::from(*n)),
            Value::F64(x) => ("float64", serde_json::Value::from(*x)),
            Value::Bool(b) => ("bool", serde_json::Value::from(*b)),
            // A kind of value added later: its text.
            other => ("string", serde_json::Value::from(format!("{other:?}"))),
        };
        Self {
            key: key.into(),
            kind,
            value,
        }
    }
}

fn micros(time: SystemTime) -> u64 {
    let since = time.duration_since(UNIX_EPOCH).unwrap_or_default();
    u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
}

/// A trace as Jaeger's `/api/traces` lists it.
pub(crate) fn trace(trace: &Trace) -> JaegerTrace {
    let mut processes = std::collections::BTreeMap::new();
    let mut process_of = |service: &str| -> String {
        let next = format!("p{}", processes.len() + 1);
        processes.entry(service.to_owned()).or_insert(next).clone()
    };
    let spans = trace
        .spans
        .iter()
        .map(|row| {
            span(
                &row.span,
                process_of(row.span.service.as_deref().unwrap_or("unknown")),
            )
        })
        .collect();
    JaegerTrace {
        trace_id: trace.trace_id.to_string(),
        spans,
        processes: processes
            .into_iter()
            .map(|(service_name, id)| {
                (
                    id,
                    Process {
                        service_name,
                        tags: Vec::new(),
                    },
                )
            })
            .collect(),
        warnings: None,
    }
}

fn span(span: &FinishedSpan, process_id: String) -> JaegerSpan {
    let trace_id = span.trace_id.to_string();
    let mut references = Vec::new();
    if let Some(parent) = span.parent_span_id {
        references.push(Reference {
            ref_type: "CHILD_OF",
            trace_id: trace_id.clone(),
            span_id: parent.to_string(),
        });
    }
    for link in span.link.iter().chain(&span.links) {
        references.push(Reference {
            ref_type: "FOLLOWS_FROM",
            trace_id: link.trace_id().to_string(),
            span_id: link.parent_id().to_string(),
        });
    }
    // The last value of a key wins, as attributes set later replace.
    let mut tags: Vec<Tag> = Vec::with_capacity(span.attributes.len() + 4);
    for attribute in span.attributes.iter().rev() {
        if !tags.iter().any(|t| t.key == attribute.key) {
            tags.push(Tag::new(attribute.key, &attribute.value));
        }
    }
    // As `OtelRecorder` exports it: a backend shows the same tags.
    if let Some(id) = &span.correlation_id
        && !tags
            .iter()
            .any(|t| t.key == trace_core::semconv::CORRELATION_ID)
    {
        tags.push(Tag::new(
            trace_core::semconv::CORRELATION_ID,
            &Value::from(id.as_str()),
        ));
    }
    // Every kind, `internal` too, as Jaeger shows an OTLP span's.
    tags.push(Tag::new("span.kind", &Value::from(span.kind.as_str())));
    if let Some(error_type) = span.status.error_type() {
        tags.push(Tag::new("error", &Value::Bool(true)));
        tags.push(Tag::new("otel.status_code", &Value::from("ERROR")));
        tags.push(Tag::new(
            "otel.status_description",
            &Value::from(error_type),
        ));
    } else if span.status == Status::Ok {
        tags.push(Tag::new("otel.status_code", &Value::from("OK")));
    }
    tags.sort_by(|a, b| a.key.cmp(&b.key));
    let start = micros(span.start_time);
    JaegerSpan {
        trace_id,
        span_id: span.span_id.to_string(),
        operation_name: span.name.clone(),
        references,
        start_time: start,
        duration: u64::try_from(span.duration().as_micros()).unwrap_or(u64::MAX),
        tags,
        logs: span
            .events
            .iter()
            .map(|event| Log {
                timestamp: micros(event.time),
                fields: std::iter::once(Tag::new("event", &Value::from(event.name.as_ref())))
                    .chain(event.attributes.iter().map(|a| Tag::new(a.key, &a.value)))
                    .collect(),
            })
            .collect(),
        process_id,
        warnings: None,
    }
}

#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct Link<'a> {
    parent: &'a str,
    child: &'a str,
    call_count: usize,
    /// Ours, beside Jaeger's fields.
    error_count: usize,
    /// Ours, beside Jaeger's fields.
    protocol: &'static str,
}

pub(crate) fn link(dependency: &Dependency) -> Link<'_> {
    Link {
        parent: &dependency.parent,
        child: &dependency.child,
        call_count: dependency.call_count,
        error_count: dependency.error_count,
        protocol: dependency.protocol,
    }
}

/// `traces` as Jaeger's `/api/traces` answers.
#[must_use]
pub fn traces_json(traces: &[Trace]) -> serde_json::Value {
    serde_json::to_value(Response::new(traces.iter().map(trace).collect::<Vec<_>>()))
        .unwrap_or_default()
}

/// `dependencies` as Jaeger's `/api/dependencies` answers, with each edge's
/// `errorCount` and `protocol` beside its fields.
#[must_use]
pub fn dependencies_json(dependencies: &[Dependency]) -> serde_json::Value {
    serde_json::to_value(Response::new(
        dependencies.iter().map(link).collect::<Vec<_>>(),
    ))
    .unwrap_or_default()
}
