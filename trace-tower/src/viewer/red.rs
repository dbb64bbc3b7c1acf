//! Rate, errors and duration (RED) per service and operation, over the
//! spans the store holds: what Jaeger's "Monitor" tab shows from metrics,
//! from nothing but the embedded store.

use std::{
    collections::BTreeMap,
    time::{Duration, SystemTime},
};

use trace_core::{FinishedSpan, SpanKind, TraceId, semconv};

use super::model::Trace;

/// The shortest window a rate is taken over, so that a handful of spans
/// recorded within a millisecond do not read as thousands a second.
pub const MIN_WINDOW: Duration = Duration::from_secs(1);

/// RED of every operation the store holds, and the window it covers.
///
/// # Examples
///
/// ```
/// # use trace_core::{InMemoryRecorder, Recorder as _, SpanKind, Status, TraceContext, record::{SpanEnd, SpanStart}};
/// # let store = InMemoryRecorder::new(100).service("gateway");
/// # let cx = TraceContext::new_root(true);
/// # store.start(SpanStart::new(&cx, "GET /", SpanKind::Server)).unwrap().end(SpanEnd::new(Status::Unset));
/// use trace_tower::viewer::{red, traces};
///
/// let report = red(&traces(store.finished()));
/// for op in &report.operations {
///     println!(
///         "{} {}: {:.2} req/s, {:.1}% errors, p99 {:?}",
///         op.service, op.operation, op.rate, op.error_ratio() * 100.0, op.p99
///     );
/// }
/// assert_eq!(report.operations[0].operation, "GET /");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct Red {
    /// From the first span's start to the last span's end. Each
    /// [`rate`](RedOperation::rate) is over this window, or over
    /// [`MIN_WINDOW`] where it is shorter.
    pub window: Duration,
    /// Each operation, by service, then kind (server, client, producer,
    /// consumer, internal), then operation.
    pub operations: Vec<RedOperation>,
}

/// Rate, errors and duration of one operation of one service.
///
/// The operation is the span's name (`GET /users/{id}`: the server's route
/// template, the client's `url.template`, the gRPC method), and for a
/// client span named by its method alone (no `url.template`), the peer it
/// called, so that each downstream service has its row.
///
/// # Examples
///
/// ```
/// # use trace_core::{InMemoryRecorder, Recorder as _, SpanKind, Status, TraceContext, record::{SpanEnd, SpanStart}};
/// # let store = InMemoryRecorder::new(100).service("gateway");
/// # let cx = TraceContext::new_root(true);
/// # store.start(SpanStart::new(&cx, "GET /", SpanKind::Server)).unwrap().end(SpanEnd::new(Status::error("boom")));
/// use trace_tower::viewer::{red, traces};
///
/// let op = &red(&traces(store.finished())).operations[0];
/// assert_eq!((op.count, op.errors), (1, 1));
/// assert_eq!(op.failing, Some(cx.trace_id()), "its failing trace");
/// ```
#[derive(Debug, Clone, PartialEq)]
#[non_exhaustive]
pub struct RedOperation {
    /// The service.
    pub service: String,
    /// The spans' kind.
    pub kind: SpanKind,
    /// The operation: the span name, with the peer where the name is a
    /// client's method alone (`GET users:8080`).
    pub operation: String,
    /// The span name the operation's spans have.
    pub name: String,
    /// The `server.address` (and `:server.port`) the operation is
    /// narrowed to, for a client span named by its method alone.
    pub peer: Option<String>,
    /// How many spans.
    pub count: usize,
    /// How many of them failed (error status).
    pub errors: usize,
    /// Spans a second over the [`Red::window`] (at least [`MIN_WINDOW`]).
    pub rate: f64,
    /// The median duration (nearest rank).
    pub p50: Duration,
    /// The 95th percentile.
    pub p95: Duration,
    /// The 99th percentile.
    pub p99: Duration,
    /// The trace of its slowest span.
    pub slowest: TraceId,
    /// The trace of its latest failed span, if one failed.
    pub failing: Option<TraceId>,
}

impl RedOperation {
    /// The share of its spans that failed, from 0 to 1.
    #[must_use]
    pub fn error_ratio(&self) -> f64 {
        #[allow(clippy::cast_precision_loss)]
        let ratio = self.errors as f64 / self.count.max(1) as f64;
        ratio
    }
}

/// The smallest of the sorted `all` with at least `q` of them at or below
/// it (nearest rank).
pub(crate) fn nearest_rank(all: &[Duration], q: f64) -> Duration {
    #[allow(
        clippy::cast_possible_truncation,
        clippy::cast_sign_loss,
        clippy::cast_precision_loss
    )]
    let rank = (q * all.len() as f64).ceil() as usize;
    all.get(rank.clamp(1, all.len().max(1)) - 1)
        .copied()
        .unwrap_or_default()
}

fn kind_order(kind: SpanKind) -> u8 {
    match kind {
        SpanKind::Server => 0,
        SpanKind::Client => 1,
        SpanKind::Producer => 2,
        SpanKind::Consumer => 3,
        _ => 4,
    }
}

/// The peer a client span named by its method alone called.
fn peer(span: &FinishedSpan) -> Option<String> {
    if span.kind != SpanKind::Client || span.attribute(semconv::URL_TEMPLATE).is_some() {
        return None;
    }
    let address = span.attribute(semconv::SERVER_ADDRESS)?.to_string();
    Some(match span.attribute(semconv::SERVER_PORT) {
        Some(port) => format!("{address}:{port}"),
        None => address,
    })
}

/// One operation's spans while they are gathered.
#[derive(Default)]
struct Gathered {
    durations: Vec<Duration>,
    errors: usize,
    slowest: Option<(Duration, TraceId)>,
    failing: Option<(SystemTime, TraceId)>,
}

/// RED per service and operation over `traces`.
#[must_use]
pub fn red(traces: &[Trace]) -> Red {
    let mut first = None::<SystemTime>;
    let mut last = None::<SystemTime>;
    let mut gathered: BTreeMap<(String, u8, String, Option<String>), (SpanKind, Gathered)> =
        BTreeMap::new();
    for trace in traces {
        for span in trace.spans.iter().map(|row| &row.span) {
            first = Some(first.map_or(span.start_time, |t| t.min(span.start_time)));
            last = Some(last.map_or(span.end_time, |t| t.max(span.end_time)));
            let service = span.service.as_deref().unwrap_or_default().to_owned();
            let key = (
                service,
                kind_order(span.kind),
                span.name.clone(),
                peer(span),
            );
            let (_, op) = gathered
                .entry(key)
                .or_insert_with(|| (span.kind, Gathered::default()));
            let duration = span.duration();
            op.durations.push(duration);
            if op.slowest.is_none_or(|(d, _)| duration > d) {
                op.slowest = Some((duration, trace.trace_id));
            }
            if span.status.is_error() {
                op.errors += 1;
                if op.failing.is_none_or(|(t, _)| span.end_time >= t) {
                    op.failing = Some((span.end_time, trace.trace_id));
                }
            }
        }
    }
    let window = match (first, last) {
        (Some(first), Some(last)) => last.duration_since(first).unwrap_or_default(),
        _ => Duration::ZERO,
    };
    let over = window.max(MIN_WINDOW).as_secs_f64();
    let operations = gathered
        .into_iter()
        .filter_map(|((service, _, name, peer), (kind, mut op))| {
            op.durations.sort_unstable();
            #[allow(clippy::cast_precision_loss)]
            let rate = op.durations.len() as f64 / over;
            Some(RedOperation {
                operation: match &peer {
                    Some(peer) => format!("{name} {peer}"),
                    None => name.clone(),
                },
                service,
                kind,
                name,
                peer,
                count: op.durations.len(),
                errors: op.errors,
                rate,
                p50: nearest_rank(&op.durations, 0.50),
                p95: nearest_rank(&op.durations, 0.95),
                p99: nearest_rank(&op.durations, 0.99),
                slowest: op.slowest?.1,
                failing: op.failing.map(|(_, id)| id),
            })
        })
        .collect();
    Red { window, operations }
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime};

    use trace_core::{
        Attribute, InMemoryRecorder, Recorder as _, SpanKind, Status, TraceContext,
        record::{SpanEnd, SpanStart},
    };

    use super::*;
    use crate::viewer::traces;

    fn record(
        store: &InMemoryRecorder,
        name: &str,
        kind: SpanKind,
        millis: u64,
        status: Status,
        attributes: Vec<Attribute<'static>>,
    ) -> TraceContext {
        let cx = TraceContext::new_root(true);
        let start = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let mut begin = SpanStart::new(&cx, name, kind);
        begin.start_time = start;
        let mut span = store.start(begin).unwrap();
        for attribute in attributes {
            span.set_attribute(attribute);
        }
        let mut end = SpanEnd::new(status);
        end.end_time = start + Duration::from_millis(millis);
        span.end(end);
        cx
    }

    #[test]
    fn counts_rates_errors_and_percentiles_per_operation() {
        let store = InMemoryRecorder::new(1_000);
        let gateway = store.service("gateway");
        let mut failed = None;
        for i in 1..=100u64 {
            let status = if i % 10 == 0 {
                Status::error("boom")
            } else {
                Status::Unset
            };
            let cx = record(
                &gateway,
                "GET /checkout/{id}",
                SpanKind::Server,
                i,
                status,
                vec![],
            );
            if i == 100 {
                failed = Some(cx.trace_id());
            }
        }
        record(
            &gateway,
            "GET /health",
            SpanKind::Server,
            1,
            Status::Unset,
            vec![],
        );
        let report = red(&traces(store.finished()));
        // Every span starts at the same instant; the longest lasts 100 ms:
        // the rates are over the floor.
        assert_eq!(report.window, Duration::from_millis(100));
        let checkout = &report.operations[0];
        assert_eq!(checkout.operation, "GET /checkout/{id}");
        assert_eq!((checkout.count, checkout.errors), (100, 10));
        assert!((checkout.error_ratio() - 0.1).abs() < 1e-9);
        assert!((checkout.rate - 100.0).abs() < 1e-9);
        assert_eq!(checkout.p50, Duration::from_millis(50));
        assert_eq!(checkout.p95, Duration::from_millis(95));
        assert_eq!(checkout.p99, Duration::from_millis(99));
        assert_eq!(checkout.slowest, failed.unwrap(), "the 100 ms one");
        assert_eq!(checkout.failing, failed);
        let health = &report.operations[1];
        assert_eq!(
            (health.operation.as_str(), health.count),
            ("GET /health", 1)
        );
        assert_eq!(health.failing, None);
    }

    #[test]
    fn a_client_named_by_its_method_alone_gets_a_row_per_peer() {
        let store = InMemoryRecorder::new(100);
        let gateway = store.service("gateway");
        let to = |host: &'static str| {
            vec![
                Attribute::new(semconv::SERVER_ADDRESS, host),
                Attribute::new(semconv::SERVER_PORT, 8080_i64),
            ]
        };
        record(
            &gateway,
            "GET",
            SpanKind::Client,
            5,
            Status::Unset,
            to("users"),
        );
        record(
            &gateway,
            "GET",
            SpanKind::Client,
            5,
            Status::Unset,
            to("prices"),
        );
        record(
            &gateway,
            "GET",
            SpanKind::Client,
            5,
            Status::Unset,
            to("prices"),
        );
        let mut templated = to("users");
        templated.push(Attribute::new(semconv::URL_TEMPLATE, "/users/{id}"));
        record(
            &gateway,
            "GET /users/{id}",
            SpanKind::Client,
            5,
            Status::Unset,
            templated,
        );
        record(
            &gateway,
            "GET /",
            SpanKind::Server,
            5,
            Status::Unset,
            vec![],
        );
        let report = red(&traces(store.finished()));
        let rows: Vec<(SpanKind, &str, usize)> = report
            .operations
            .iter()
            .map(|op| (op.kind, op.operation.as_str(), op.count))
            .collect();
        assert_eq!(
            rows,
            [
                (SpanKind::Server, "GET /", 1),
                (SpanKind::Client, "GET prices:8080", 2),
                (SpanKind::Client, "GET users:8080", 1),
                (SpanKind::Client, "GET /users/{id}", 1),
            ]
        );
        assert_eq!(report.operations[1].peer.as_deref(), Some("prices:8080"));
        assert_eq!(report.operations[3].peer, None, "its template names it");
    }

    #[test]
    fn nothing_stored_is_no_row() {
        let report = red(&[]);
        assert!(report.operations.is_empty());
        assert_eq!(report.window, Duration::ZERO);
    }
}
