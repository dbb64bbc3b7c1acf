//! What a trace's timing says: each span's self time, the critical path,
//! and the slowest operations across the store.

use std::{
    collections::{BTreeMap, HashMap},
    time::{Duration, SystemTime},
};

use trace_core::{FinishedSpan, SpanId};

use super::{model::Trace, red::nearest_rank};

/// A stretch of the critical path: `span` alone determined the trace's
/// duration from `start` to `end`.
///
/// # Examples
///
/// ```
/// # use trace_core::{InMemoryRecorder, Recorder as _, SpanKind, Status, TraceContext, record::{SpanEnd, SpanStart}};
/// # let store = InMemoryRecorder::new(100);
/// # let cx = TraceContext::new_root(true);
/// # store.start(SpanStart::new(&cx, "GET /", SpanKind::Server)).unwrap().end(SpanEnd::new(Status::Unset));
/// use trace_tower::viewer::{critical_path, traces};
///
/// let trace = &traces(store.finished())[0];
/// let path = critical_path(trace);
/// assert_eq!(path[0].span_id, cx.span_id(), "a lone span is the whole path");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Segment {
    /// The span on the path.
    pub span_id: SpanId,
    /// Where the stretch starts.
    pub start: SystemTime,
    /// Where it ends.
    pub end: SystemTime,
}

/// The critical path: the chain of spans that determined the trace's
/// duration, as stretches in time order.
///
/// From the end of each root (the last to end first), walking back in
/// time: the child still running latest before the current instant is on
/// the path (its own path, up to that instant), then the walk goes on from
/// where that child started; where no child runs, the span itself is. So
/// a span waiting on two overlapping children owes its time to the one
/// that finished last, and the earlier one only for the part before the
/// later one started (the rule of Jaeger UI's critical path: the last
/// child to finish, then back in time).
#[must_use]
pub fn critical_path(trace: &Trace) -> Vec<Segment> {
    let spans: HashMap<SpanId, &FinishedSpan> = trace
        .spans
        .iter()
        .map(|row| (row.span.span_id, &row.span))
        .collect();
    let mut children: HashMap<SpanId, Vec<&FinishedSpan>> = HashMap::new();
    let mut roots = Vec::new();
    for row in &trace.spans {
        match row.span.parent_span_id.filter(|p| spans.contains_key(p)) {
            Some(parent) if row.depth > 0 => children.entry(parent).or_default().push(&row.span),
            _ => roots.push(&row.span),
        }
    }
    let mut path = Vec::new();
    // Roots of a trace with several (a caller outside the store) follow
    // each other as children of the trace would.
    let mut cursor = trace.end();
    roots.sort_by_key(|s| s.end_time);
    while let Some(root) = roots.iter().rev().find(|s| s.start_time < cursor).copied() {
        walk(root, cursor.min(root.end_time), &children, &mut path);
        cursor = root.start_time;
    }
    path.reverse();
    path
}

/// Appends, latest first, the path of `span` up to `until`.
fn walk(
    span: &FinishedSpan,
    until: SystemTime,
    children: &HashMap<SpanId, Vec<&FinishedSpan>>,
    path: &mut Vec<Segment>,
) {
    let mut cursor = until;
    let kids = children.get(&span.span_id).map_or(&[][..], Vec::as_slice);
    loop {
        // The child running latest before the cursor (started before it).
        let next = kids
            .iter()
            .filter(|c| c.start_time < cursor && c.start_time >= span.start_time)
            .max_by_key(|c| c.end_time.min(cursor));
        let Some(child) = next else {
            push(path, span.span_id, span.start_time.min(cursor), cursor);
            return;
        };
        let child_end = child.end_time.min(cursor);
        push(path, span.span_id, child_end, cursor);
        walk(child, child_end, children, path);
        cursor = child.start_time;
    }
}

fn push(path: &mut Vec<Segment>, span_id: SpanId, start: SystemTime, end: SystemTime) {
    if start < end {
        path.push(Segment {
            span_id,
            start,
            end,
        });
    }
}

/// Each span's self time: its duration less the time some child of it
/// was running (within it).
#[must_use]
pub fn self_times(trace: &Trace) -> HashMap<SpanId, Duration> {
    let mut children: HashMap<SpanId, Vec<(SystemTime, SystemTime)>> = HashMap::new();
    for row in trace.spans.iter().filter(|row| row.depth > 0) {
        if let Some(parent) = row.span.parent_span_id {
            children
                .entry(parent)
                .or_default()
                .push((row.span.start_time, row.span.end_time));
        }
    }
    trace
        .spans
        .iter()
        .map(|row| {
            let span = &row.span;
            let mut busy = children.remove(&span.span_id).unwrap_or_default();
            busy.sort();
            let mut covered = Duration::ZERO;
            let mut reach = span.start_time;
            for (start, end) in busy {
                let (start, end) = (start.max(reach), end.min(span.end_time));
                if start < end {
                    covered += end.duration_since(start).unwrap_or_default();
                    reach = end;
                }
            }
            (span.span_id, span.duration().saturating_sub(covered))
        })
        .collect()
}

/// How long one operation (a service's span name) takes across the store.
///
/// # Examples
///
/// ```
/// # use trace_core::{InMemoryRecorder, Recorder as _, SpanKind, Status, TraceContext, record::{SpanEnd, SpanStart}};
/// # let store = InMemoryRecorder::new(100).service("gateway");
/// # let cx = TraceContext::new_root(true);
/// # store.start(SpanStart::new(&cx, "GET /", SpanKind::Server)).unwrap().end(SpanEnd::new(Status::Unset));
/// use trace_tower::viewer::{slowest_operations, traces};
///
/// for op in slowest_operations(&traces(store.finished()), 10) {
///     println!("{} {}: p50 {:?}, p99 {:?} over {}", op.service, op.name, op.p50, op.p99, op.count);
/// }
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Operation {
    /// The service.
    pub service: String,
    /// The span name.
    pub name: String,
    /// How many spans.
    pub count: usize,
    /// The median duration.
    pub p50: Duration,
    /// The 99th percentile (nearest rank).
    pub p99: Duration,
}

/// The `n` operations with the highest p99, slowest first.
#[must_use]
pub fn slowest_operations(traces: &[Trace], n: usize) -> Vec<Operation> {
    let mut durations: BTreeMap<(&str, &str), Vec<Duration>> = BTreeMap::new();
    for row in traces.iter().flat_map(|t| &t.spans) {
        let service = row.span.service.as_deref().unwrap_or_default();
        durations
            .entry((service, &row.span.name))
            .or_default()
            .push(row.span.duration());
    }
    let mut operations: Vec<Operation> = durations
        .into_iter()
        .map(|((service, name), mut all)| {
            all.sort();
            Operation {
                service: service.to_owned(),
                name: name.to_owned(),
                count: all.len(),
                p50: nearest_rank(&all, 0.50),
                p99: nearest_rank(&all, 0.99),
            }
        })
        .collect();
    operations.sort_by(|a, b| b.p99.cmp(&a.p99).then_with(|| a.name.cmp(&b.name)));
    operations.truncate(n);
    operations
}
