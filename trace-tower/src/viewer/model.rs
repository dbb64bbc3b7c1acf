//! What the viewer shows, computed from finished spans: traces in tree
//! order, the queries over them, and the calls between services.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, SystemTime},
};

use trace_core::{FinishedSpan, SpanId, SpanKind, TraceId};

/// One trace: its spans in tree order.
///
/// # Examples
///
/// ```
/// use trace_core::{InMemoryRecorder, Recorder as _, SpanKind, Status, TraceContext, record::{SpanEnd, SpanStart}};
/// use trace_tower::viewer::traces;
///
/// let store = InMemoryRecorder::new(100).service("gateway");
/// let cx = TraceContext::new_root(true);
/// store.start(SpanStart::new(&cx, "GET /", SpanKind::Server)).unwrap().end(SpanEnd::new(Status::Unset));
/// let all = traces(store.finished());
/// assert_eq!(all[0].trace_id, cx.trace_id());
/// assert!(all[0].touches("gateway"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Trace {
    /// The trace id.
    pub trace_id: TraceId,
    /// The spans, parents before children, siblings by start time.
    pub spans: Vec<Row>,
}

/// A span of a [`Trace`], with its depth in the tree.
///
/// # Examples
///
/// ```
/// # use trace_core::{InMemoryRecorder, Recorder as _, SpanKind, Status, TraceContext, record::{SpanEnd, SpanStart}};
/// # let store = InMemoryRecorder::new(100);
/// # let cx = TraceContext::new_root(true);
/// # store.start(SpanStart::new(&cx, "GET /", SpanKind::Server)).unwrap().end(SpanEnd::new(Status::Unset));
/// let trace = &trace_tower::viewer::traces(store.finished())[0];
/// let row = &trace.spans[0];
/// assert_eq!((row.depth, row.span.name.as_str()), (0, "GET /"));
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Row {
    /// 0 for a root (a span whose parent is not in the trace).
    pub depth: usize,
    /// The span.
    pub span: FinishedSpan,
}

impl Trace {
    /// When its first span started.
    #[must_use]
    pub fn start(&self) -> SystemTime {
        self.spans
            .iter()
            .map(|row| row.span.start_time)
            .min()
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// When its last span ended.
    #[must_use]
    pub fn end(&self) -> SystemTime {
        self.spans
            .iter()
            .map(|row| row.span.end_time)
            .max()
            .unwrap_or(SystemTime::UNIX_EPOCH)
    }

    /// From the first start to the last end.
    #[must_use]
    pub fn duration(&self) -> Duration {
        self.end().duration_since(self.start()).unwrap_or_default()
    }

    /// The first root: the span the trace is named after.
    #[must_use]
    pub fn root(&self) -> Option<&FinishedSpan> {
        self.spans.first().map(|row| &row.span)
    }

    /// Whether any span failed.
    #[must_use]
    pub fn has_error(&self) -> bool {
        self.spans.iter().any(|row| row.span.status.is_error())
    }

    /// Whether a span of `service` is in it.
    #[must_use]
    pub fn touches(&self, service: &str) -> bool {
        self.spans
            .iter()
            .any(|row| row.span.service.as_deref() == Some(service))
    }

    /// The services it touched, each once, in tree order.
    #[must_use]
    pub fn services(&self) -> Vec<&str> {
        let mut services: Vec<&str> = Vec::new();
        for row in &self.spans {
            if let Some(service) = row.span.service.as_deref()
                && !services.contains(&service)
            {
                services.push(service);
            }
        }
        services
    }
}

/// Groups spans into traces, oldest first, each in tree order.
#[must_use]
pub fn traces(spans: Vec<FinishedSpan>) -> Vec<Trace> {
    let mut by_trace: HashMap<TraceId, Vec<FinishedSpan>> = HashMap::new();
    for span in spans {
        by_trace.entry(span.trace_id).or_default().push(span);
    }
    let mut traces: Vec<Trace> = by_trace
        .into_iter()
        .map(|(trace_id, spans)| Trace {
            trace_id,
            spans: tree(spans),
        })
        .collect();
    traces.sort_by_key(Trace::start);
    traces
}

fn tree(mut spans: Vec<FinishedSpan>) -> Vec<Row> {
    spans.sort_by_key(|s| s.start_time);
    let index: HashMap<SpanId, usize> = spans
        .iter()
        .enumerate()
        .map(|(i, s)| (s.span_id, i))
        .collect();
    let mut children: HashMap<Option<SpanId>, Vec<usize>> = HashMap::new();
    for (i, span) in spans.iter().enumerate() {
        // A parent not in the trace (the caller's, outside) makes a root.
        let parent = span.parent_span_id.filter(|p| index.contains_key(p));
        children.entry(parent).or_default().push(i);
    }
    let mut order = Vec::with_capacity(spans.len());
    let mut stack: Vec<(usize, usize)> = children
        .get(&None)
        .into_iter()
        .flatten()
        .rev()
        .map(|&i| (0, i))
        .collect();
    while let Some((depth, i)) = stack.pop() {
        order.push((depth, i));
        if let Some(kids) = children.get(&Some(spans[i].span_id)) {
            stack.extend(kids.iter().rev().map(|&k| (depth + 1, k)));
        }
    }
    // A cycle of parents (hostile ids) has no root: those spans come last,
    // flat, rather than not at all.
    let mut slots: Vec<Option<FinishedSpan>> = spans.into_iter().map(Some).collect();
    let mut rows: Vec<Row> = order
        .into_iter()
        .filter_map(|(depth, i)| {
            Some(Row {
                depth,
                span: slots[i].take()?,
            })
        })
        .collect();
    rows.extend(
        slots
            .into_iter()
            .flatten()
            .map(|span| Row { depth: 0, span }),
    );
    rows
}

/// The tag that asks for a failed span (`error=true`) or one that did
/// not fail (`error=false`), as Jaeger tags spans.
pub(crate) const ERROR_TAG: &str = "error";

/// Which traces to show: every condition given must hold.
///
/// As in Jaeger's search, the span conditions (`operation`, `tags`, and
/// `service` with either) hold for one span: `service` `users`,
/// `operation` `GET /users/{id}` and the tag `error` `true` find traces
/// where that operation of that service failed.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use trace_tower::viewer::TraceQuery;
///
/// let slow_errors = TraceQuery {
///     min_duration: Some(Duration::from_millis(300)),
///     errors: true,
///     ..TraceQuery::default()
/// };
/// let failed_lookups = TraceQuery {
///     service: Some("users".into()),
///     operation: Some("GET /users/{id}".into()),
///     tags: vec![("error".into(), "true".into())],
///     ..TraceQuery::default()
/// };
/// # let _ = (slow_errors, failed_lookups);
/// ```
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TraceQuery {
    /// A span of this service is in the trace (and is the span the
    /// `operation` and `tags` hold for, when given).
    pub service: Option<String>,
    /// A span of this name is in the trace.
    pub operation: Option<String>,
    /// The trace (first start to last end) lasted at least this long.
    pub min_duration: Option<Duration>,
    /// The trace lasted at most this long.
    pub max_duration: Option<Duration>,
    /// A span of the trace failed.
    pub errors: bool,
    /// The span has every one of these attributes, with these values as
    /// text (`user.id` `7`), as Jaeger's tag search finds them;
    /// `correlation_id` is the span's correlation ID, and `error` `true`
    /// (or `false`) whether the span failed.
    pub tags: Vec<(String, String)>,
}

impl TraceQuery {
    /// Whether `trace` is one to show.
    #[must_use]
    pub fn matches(&self, trace: &Trace) -> bool {
        let service = self.service.as_deref();
        let of_span = self.operation.is_some() || !self.tags.is_empty();
        service.is_none_or(|service| trace.touches(service))
            && (!of_span
                || trace.spans.iter().any(|row| {
                    service.is_none_or(|s| row.span.service.as_deref() == Some(s))
                        && self
                            .operation
                            .as_deref()
                            .is_none_or(|operation| row.span.name == operation)
                        && has_tags(&row.span, &self.tags)
                }))
            && self.min_duration.is_none_or(|d| trace.duration() >= d)
            && self.max_duration.is_none_or(|d| trace.duration() <= d)
            && (!self.errors || trace.has_error())
    }
}

/// Whether `span` has every one of `tags`.
fn has_tags(span: &FinishedSpan, tags: &[(String, String)]) -> bool {
    tags.iter().all(|(key, value)| {
        if key == trace_core::semconv::CORRELATION_ID {
            return span
                .correlation_id
                .as_ref()
                .is_some_and(|id| id.as_str() == value);
        }
        if key == ERROR_TAG {
            return span.status.is_error() == (value == "true");
        }
        // The last value of a key is the one it has.
        span.attributes
            .iter()
            .rev()
            .find(|a| a.key == key)
            .is_some_and(|a| a.value.to_string() == *value)
    })
}

/// Calls from one service to another (or to itself over the network): a
/// client span whose child is a server span.
///
/// # Examples
///
/// ```
/// # use trace_core::{InMemoryRecorder, Recorder as _, SpanKind, Status, TraceContext, record::{SpanEnd, SpanStart}};
/// # let store = InMemoryRecorder::new(100);
/// # let cx = TraceContext::new_root(true);
/// # store.start(SpanStart::new(&cx, "GET /", SpanKind::Server)).unwrap().end(SpanEnd::new(Status::Unset));
/// use trace_tower::viewer::{dependencies, traces};
///
/// for call in dependencies(&traces(store.finished())) {
///     println!("{} -> {} ({}, {} calls)", call.parent, call.child, call.protocol, call.call_count);
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Dependency {
    /// The calling service.
    pub parent: String,
    /// The called service.
    pub child: String,
    /// `HTTP` or `gRPC`.
    pub protocol: &'static str,
    /// How many calls.
    pub call_count: usize,
    /// How many of them failed, as the caller saw them (the client span's
    /// status: a gRPC NOT_FOUND is the caller's error, not the server's).
    pub error_count: usize,
}

/// Who calls whom over `traces`, in order of (parent, child, protocol).
///
/// This counts calls. Jaeger's `/api/dependencies` counts every
/// parent-child pair of spans by their services, so it also shows each
/// service calling itself (its server span above its own client spans);
/// its edges between two services are these.
#[must_use]
pub fn dependencies(traces: &[Trace]) -> Vec<Dependency> {
    let mut calls: BTreeMap<(String, String, &'static str), (usize, usize)> = BTreeMap::new();
    for trace in traces {
        let by_id: HashMap<SpanId, &FinishedSpan> = trace
            .spans
            .iter()
            .map(|row| (row.span.span_id, &row.span))
            .collect();
        for row in &trace.spans {
            let span = &row.span;
            let Some(parent) = span.parent_span_id.and_then(|p| by_id.get(&p)) else {
                continue;
            };
            if parent.kind != SpanKind::Client || span.kind != SpanKind::Server {
                continue;
            }
            let protocol = if span.attribute("rpc.system").is_some() {
                "gRPC"
            } else {
                "HTTP"
            };
            let name = |s: &FinishedSpan| s.service.as_deref().unwrap_or_default().to_owned();
            let entry = calls
                .entry((name(parent), name(span), protocol))
                .or_default();
            entry.0 += 1;
            entry.1 += usize::from(parent.status.is_error());
        }
    }
    calls
        .into_iter()
        .map(
            |((parent, child, protocol), (call_count, error_count))| Dependency {
                parent,
                child,
                protocol,
                call_count,
                error_count,
            },
        )
        .collect()
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use trace_core::{
        InMemoryRecorder, Recorder as _, SpanKind, Status, TraceContext,
        record::{SpanEnd, SpanStart},
    };

    use super::*;

    /// gateway (server) -> gateway (client) -> users (server, failing),
    /// the whole lasting `millis`.
    fn call(store: &InMemoryRecorder, millis: u64, fail: bool) -> TraceId {
        let t0 = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000 + millis);
        let at = |ms: u64| t0 + Duration::from_millis(ms);
        let span = |service: &str, cx: &TraceContext, name: &str, kind, from, to, status| {
            let mut start = SpanStart::new(cx, name, kind);
            start.start_time = at(from);
            let recording = store.service(service).start(start).unwrap();
            let mut end = SpanEnd::new(status);
            end.end_time = at(to);
            recording.end(end);
        };
        let server = TraceContext::new_root(true);
        let client = server.child();
        let users = client.child();
        let status = if fail {
            Status::error("500")
        } else {
            Status::Unset
        };
        span(
            "users",
            &users,
            "GET /users/{id}",
            SpanKind::Server,
            2,
            millis - 2,
            status.clone(),
        );
        span(
            "gateway",
            &client,
            "GET",
            SpanKind::Client,
            1,
            millis - 1,
            status,
        );
        span(
            "gateway",
            &server,
            "GET /checkout",
            SpanKind::Server,
            0,
            millis,
            Status::Unset,
        );
        server.trace_id()
    }

    #[test]
    fn traces_are_trees_and_queries_select_them() {
        let store = InMemoryRecorder::new(100);
        let fast = call(&store, 10, false);
        let slow = call(&store, 500, true);
        let all = traces(store.finished());
        assert_eq!(all.len(), 2);
        let depths: Vec<(usize, &str)> = all[0]
            .spans
            .iter()
            .map(|row| (row.depth, row.span.name.as_str()))
            .collect();
        assert_eq!(
            depths,
            [(0, "GET /checkout"), (1, "GET"), (2, "GET /users/{id}")]
        );
        assert_eq!(all[1].services(), ["gateway", "users"]);
        assert_eq!(all[1].duration(), Duration::from_millis(500));

        let ids = |query: TraceQuery| -> Vec<TraceId> {
            all.iter()
                .filter(|t| query.matches(t))
                .map(|t| t.trace_id)
                .collect()
        };
        assert_eq!(ids(TraceQuery::default()), [fast, slow]);
        let slow_only = TraceQuery {
            min_duration: Some(Duration::from_millis(300)),
            ..TraceQuery::default()
        };
        assert_eq!(ids(slow_only), [slow]);
        let fast_only = TraceQuery {
            max_duration: Some(Duration::from_millis(300)),
            ..TraceQuery::default()
        };
        assert_eq!(ids(fast_only), [fast]);
        assert_eq!(
            ids(TraceQuery {
                errors: true,
                ..TraceQuery::default()
            }),
            [slow]
        );
        let operation = |service: &str, name: &str| TraceQuery {
            service: Some(service.to_owned()),
            operation: Some(name.to_owned()),
            ..TraceQuery::default()
        };
        assert_eq!(ids(operation("users", "GET /users/{id}")).len(), 2);
        assert!(
            ids(operation("gateway", "GET /users/{id}")).is_empty(),
            "of that service"
        );
        assert!(
            ids(TraceQuery {
                service: Some("nobody".into()),
                ..TraceQuery::default()
            })
            .is_empty()
        );
    }

    #[test]
    fn dependencies_count_calls_and_failures() {
        let store = InMemoryRecorder::new(100);
        call(&store, 10, false);
        call(&store, 10, true);
        call(&store, 10, false);
        let deps = dependencies(&traces(store.finished()));
        assert_eq!(
            deps,
            [Dependency {
                parent: "gateway".into(),
                child: "users".into(),
                protocol: "HTTP",
                call_count: 3,
                error_count: 1,
            }]
        );
    }

    #[test]
    fn a_cycle_of_parents_still_shows_every_span() {
        // Two spans naming each other as parent: no root.
        let store = InMemoryRecorder::new(100);
        let a = TraceContext::new_root(true);
        let b = a.child();
        let a_under_b = b.child();
        for cx in [&b, &a_under_b] {
            store
                .start(SpanStart::new(cx, "x", SpanKind::Internal))
                .unwrap()
                .end(SpanEnd::new(Status::Unset));
        }
        let mut spans = store.finished();
        spans[0].parent_span_id = Some(spans[1].span_id);
        spans[1].parent_span_id = Some(spans[0].span_id);
        let all = traces(spans);
        assert_eq!(all[0].spans.len(), 2);
    }
}
