//! The pages: what each shows, computed here, and the templates in
//! `templates/viewer/` (askama: every value escaped, no script).

use std::{
    collections::HashSet,
    time::{Duration, SystemTime},
};

use askama::Template;
use trace_core::{FinishedSpan, SpanKind, Value, semconv};

use super::{
    analysis::{critical_path, self_times, slowest_operations},
    model::{Dependency, Trace},
    query::Filter,
    red::Red,
};

/// The list's address: the base, or `/` at the root (nested, axum
/// answers the base without its slash).
fn home(base: &str) -> String {
    if base.is_empty() {
        "/".to_owned()
    } else {
        base.to_owned()
    }
}

/// A duration as the pages show it: `640 µs`, `1.2 ms`, `153 ms`, `2.01 s`.
///
/// # Examples
///
/// ```
/// use std::time::Duration;
/// use trace_tower::viewer::human;
///
/// assert_eq!(human(Duration::from_micros(1_234)), "1.2 ms");
/// assert_eq!(human(Duration::from_millis(153)), "153 ms");
/// ```
#[must_use]
pub fn human(duration: Duration) -> String {
    let micros = duration.as_micros();
    if micros < 1_000 {
        format!("{micros} µs")
    } else if micros < 10_000 {
        format!("{:.1} ms", duration.as_secs_f64() * 1e3)
    } else if micros < 1_000_000 {
        format!("{} ms", micros / 1_000)
    } else {
        format!("{:.2} s", duration.as_secs_f64())
    }
}

/// `2026-12-02 02:41:41.123` (UTC).
pub(crate) fn utc(time: SystemTime) -> String {
    let text = humantime::format_rfc3339_millis(time).to_string();
    text.trim_end_matches('Z').replacen('T', " ", 1)
}

/// Colours a person can tell apart (none red: red marks errors).
const COLOURS: [&str; 10] = [
    "#4e79a7", "#f28e2b", "#59a14f", "#b07aa1", "#76b7b2", "#9c755f", "#ff9da7", "#bcbd22",
    "#17becf", "#8c8c8c",
];

/// A colour per service, the same on every page: the services of the
/// store in name order, each the next colour.
pub(crate) struct Palette(Vec<String>);

impl Palette {
    pub(crate) fn of(all: &[Trace]) -> Self {
        let names: std::collections::BTreeSet<&str> =
            all.iter().flat_map(Trace::services).collect();
        Self(names.into_iter().map(str::to_owned).collect())
    }

    pub(crate) fn colour(&self, service: &str) -> &'static str {
        let index = self
            .0
            .iter()
            .position(|s| s == service)
            .unwrap_or(self.0.len());
        COLOURS[index % COLOURS.len()]
    }

    /// The services, in name order.
    pub(crate) fn services(&self) -> &[String] {
        &self.0
    }
}

fn value(value: &Value<'_>) -> String {
    match value {
        Value::Str(text) => text.to_string(),
        Value::I64(n) => n.to_string(),
        Value::F64(x) => x.to_string(),
        Value::Bool(b) => b.to_string(),
        other => format!("{other:?}"),
    }
}

fn kind(kind: SpanKind) -> &'static str {
    kind.as_str()
}

/// A trace in the list.
pub(crate) struct TraceLine {
    pub(crate) id: String,
    pub(crate) service: String,
    pub(crate) colour: &'static str,
    pub(crate) name: String,
    pub(crate) start: String,
    pub(crate) duration: String,
    pub(crate) spans: usize,
    pub(crate) services: String,
    pub(crate) error: bool,
    /// The bar's width, against the slowest trace listed (percent).
    pub(crate) width: f64,
}

/// An operation in the slowest list.
pub(crate) struct OperationLine {
    pub(crate) service: String,
    pub(crate) name: String,
    pub(crate) count: usize,
    pub(crate) p50: String,
    pub(crate) p99: String,
}

#[derive(Template)]
#[template(path = "viewer/list.html")]
pub(crate) struct ListPage<'a> {
    pub(crate) base: &'a str,
    pub(crate) home: String,
    pub(crate) filter: &'a Filter,
    pub(crate) services: Vec<String>,
    pub(crate) traces: Vec<TraceLine>,
    pub(crate) matched: usize,
    pub(crate) stored: usize,
    pub(crate) slowest: Vec<OperationLine>,
}

impl<'a> ListPage<'a> {
    pub(crate) fn new(
        base: &'a str,
        filter: &'a Filter,
        all: &[Trace],
        shown: &[&Trace],
        palette: &Palette,
    ) -> Self {
        let services = palette.services().to_vec();
        let longest = shown
            .iter()
            .map(|t| t.duration())
            .max()
            .unwrap_or_default()
            .as_secs_f64()
            .max(1e-9);
        let traces = shown
            .iter()
            .take(filter.limit)
            .map(|trace| {
                let root = trace.root();
                let service = root
                    .and_then(|r| r.service.as_deref())
                    .unwrap_or("?")
                    .to_owned();
                TraceLine {
                    id: trace.trace_id.to_string(),
                    colour: palette.colour(&service),
                    service,
                    name: root.map(|r| r.name.clone()).unwrap_or_default(),
                    start: utc(trace.start()),
                    duration: human(trace.duration()),
                    spans: trace.spans.len(),
                    services: trace.services().join(", "),
                    error: trace.has_error(),
                    width: (trace.duration().as_secs_f64() / longest * 100.0).max(0.5),
                }
            })
            .collect();
        let slowest = slowest_operations(all, 10)
            .into_iter()
            .map(|op| OperationLine {
                service: op.service,
                name: op.name,
                count: op.count,
                p50: human(op.p50),
                p99: human(op.p99),
            })
            .collect();
        Self {
            home: home(base),
            base,
            filter,
            services,
            traces,
            matched: shown.len(),
            stored: all.len(),
            slowest,
        }
    }
}

/// A span's row in the waterfall.
pub(crate) struct SpanRow {
    pub(crate) id: String,
    pub(crate) parent: String,
    pub(crate) indent: usize,
    pub(crate) name: String,
    pub(crate) service: String,
    pub(crate) colour: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) status: String,
    pub(crate) error: bool,
    pub(crate) error_type: String,
    /// Where the bar starts and how wide it is, in percent of the trace.
    pub(crate) left: f64,
    pub(crate) width: f64,
    pub(crate) duration: String,
    pub(crate) self_time: String,
    pub(crate) critical: bool,
    /// The critical stretches within the bar, in percent of the trace.
    pub(crate) critical_parts: Vec<(f64, f64)>,
    pub(crate) start: String,
    pub(crate) attributes: Vec<(String, String)>,
    pub(crate) links: Vec<TraceLink>,
    pub(crate) events: Vec<EventRow>,
}

/// An event of a span: a mark on its bar, and a line in its details.
pub(crate) struct EventRow {
    pub(crate) name: String,
    /// Where it happened, in percent of the trace.
    pub(crate) at: f64,
    /// When, from the trace's start.
    pub(crate) offset: String,
    /// An `exception` event: shown in red.
    pub(crate) exception: bool,
    pub(crate) attributes: Vec<(String, String)>,
}

/// A trace this one continues or links to.
pub(crate) struct TraceLink {
    pub(crate) trace_id: String,
    pub(crate) span_id: String,
    /// Whether the store holds it (then it is a link).
    pub(crate) stored: bool,
}

#[derive(Template)]
#[template(path = "viewer/trace.html")]
pub(crate) struct TracePage<'a> {
    pub(crate) base: &'a str,
    pub(crate) home: String,
    pub(crate) trace_id: String,
    pub(crate) correlation_id: String,
    pub(crate) start: String,
    pub(crate) duration: String,
    pub(crate) services: Vec<(String, &'static str)>,
    pub(crate) rows: Vec<SpanRow>,
    /// The caller's span this trace continues (a remote parent).
    pub(crate) continues: Option<TraceLink>,
    /// The callers' traces its roots link to (a restarted trace).
    pub(crate) linked: Vec<TraceLink>,
    pub(crate) critical_spans: usize,
}

impl<'a> TracePage<'a> {
    pub(crate) fn new(
        base: &'a str,
        trace: &Trace,
        stored: &HashSet<String>,
        palette: &Palette,
    ) -> Self {
        let start = trace.start();
        let total = trace.duration().as_secs_f64().max(1e-9);
        let percent = |at: SystemTime| {
            at.duration_since(start).unwrap_or_default().as_secs_f64() / total * 100.0
        };
        let path = critical_path(trace);
        let selves = self_times(trace);
        let link = |trace_id: String, span_id: String| TraceLink {
            stored: stored.contains(&trace_id),
            trace_id,
            span_id,
        };
        let rows: Vec<SpanRow> = trace
            .spans
            .iter()
            .map(|row| {
                let span: &FinishedSpan = &row.span;
                let service = span.service.as_deref().unwrap_or("?").to_owned();
                let parts: Vec<(f64, f64)> = path
                    .iter()
                    .filter(|s| s.span_id == span.span_id)
                    .map(|s| {
                        (
                            percent(s.start),
                            (percent(s.end) - percent(s.start)).max(0.2),
                        )
                    })
                    .collect();
                let left = percent(span.start_time).min(99.5);
                SpanRow {
                    id: span.span_id.to_string(),
                    parent: span
                        .parent_span_id
                        .map(|p| p.to_string())
                        .unwrap_or_default(),
                    indent: row.depth,
                    name: span.name.clone(),
                    colour: palette.colour(&service),
                    service,
                    kind: kind(span.kind),
                    status: match span.status.error_type() {
                        Some(error) => format!("ERROR {error}"),
                        None if span.status == trace_core::Status::Ok => "OK".to_owned(),
                        None => "unset".to_owned(),
                    },
                    error: span.status.is_error(),
                    error_type: span.status.error_type().unwrap_or_default().to_owned(),
                    left,
                    width: (percent(span.end_time) - left).max(0.3),
                    duration: human(span.duration()),
                    self_time: human(selves.get(&span.span_id).copied().unwrap_or_default()),
                    critical: !parts.is_empty(),
                    critical_parts: parts,
                    start: format!(
                        "+{}",
                        human(span.start_time.duration_since(start).unwrap_or_default())
                    ),
                    attributes: {
                        // The last value of a key wins, as it does in export.
                        let mut seen = HashSet::new();
                        let mut attributes: Vec<(String, String)> = span
                            .attributes
                            .iter()
                            .rev()
                            .filter(|a| seen.insert(a.key))
                            .map(|a| (a.key.to_owned(), value(&a.value)))
                            .collect();
                        attributes.sort();
                        attributes
                    },
                    links: span
                        .link
                        .iter()
                        .chain(&span.links)
                        .map(|l| link(l.trace_id().to_string(), l.parent_id().to_string()))
                        .collect(),
                    events: span
                        .events
                        .iter()
                        .map(|event| EventRow {
                            name: event.name.to_string(),
                            at: percent(event.time).clamp(0.0, 100.0),
                            offset: format!(
                                "+{}",
                                human(event.time.duration_since(start).unwrap_or_default())
                            ),
                            exception: event.name == trace_core::semconv::EXCEPTION_EVENT,
                            attributes: event
                                .attributes
                                .iter()
                                .map(|a| (a.key.to_owned(), value(&a.value)))
                                .collect(),
                        })
                        .collect(),
                }
            })
            .collect();
        let roots = trace.spans.iter().filter(|row| row.depth == 0);
        let continues = roots
            .clone()
            .find_map(|row| {
                row.span
                    .parent_span_id
                    .filter(|_| row.span.parent_is_remote)
            })
            .map(|parent| link(trace.trace_id.to_string(), parent.to_string()));
        let linked = roots
            .filter_map(|row| row.span.link)
            .map(|l| link(l.trace_id().to_string(), l.parent_id().to_string()))
            .collect();
        let correlation_id = trace
            .root()
            .and_then(|r| r.correlation_id.as_ref())
            .map(|c| c.as_str().to_owned())
            .unwrap_or_default();
        Self {
            home: home(base),
            base,
            trace_id: trace.trace_id.to_string(),
            correlation_id,
            start: utc(start),
            duration: human(trace.duration()),
            services: trace
                .services()
                .into_iter()
                .map(|s| (s.to_owned(), palette.colour(s)))
                .collect(),
            critical_spans: rows.iter().filter(|r| r.critical).count(),
            rows,
            continues,
            linked,
        }
    }
}

/// A service in the graph.
pub(crate) struct Node {
    pub(crate) name: String,
    pub(crate) colour: &'static str,
    pub(crate) x: f64,
    pub(crate) y: f64,
}

/// A call edge in the graph, from one node's edge to the other's.
pub(crate) struct Edge {
    pub(crate) parent: String,
    pub(crate) child: String,
    pub(crate) protocol: &'static str,
    pub(crate) calls: usize,
    pub(crate) errors: usize,
    pub(crate) x1: f64,
    pub(crate) y1: f64,
    pub(crate) x2: f64,
    pub(crate) y2: f64,
    /// What the label says, and where its text's middle and baseline go.
    pub(crate) label: String,
    pub(crate) label_x: f64,
    pub(crate) label_y: f64,
    pub(crate) own: bool,
}

/// A box on the graph: its left, top, width and height.
#[derive(Clone, Copy, Debug)]
struct Boxed {
    x: f64,
    y: f64,
    w: f64,
    h: f64,
}

impl Boxed {
    fn overlaps(&self, other: &Self) -> bool {
        self.x < other.x + other.w
            && other.x < self.x + self.w
            && self.y < other.y + other.h
            && other.y < self.y + self.h
    }

    /// Whether the segment from `a` to `b` passes through the box (the
    /// segment clipped to it, Liang-Barsky).
    fn crossed_by(&self, (ax, ay): (f64, f64), (bx, by): (f64, f64)) -> bool {
        let (dx, dy) = (bx - ax, by - ay);
        let (mut t0, mut t1) = (0.0_f64, 1.0_f64);
        for (p, q) in [
            (-dx, ax - self.x),
            (dx, self.x + self.w - ax),
            (-dy, ay - self.y),
            (dy, self.y + self.h - ay),
        ] {
            if p == 0.0 {
                if q < 0.0 {
                    return false;
                }
            } else {
                let t = q / p;
                if p < 0.0 {
                    t0 = t0.max(t);
                } else {
                    t1 = t1.min(t);
                }
                if t0 > t1 {
                    return false;
                }
            }
        }
        true
    }
}

/// A label's box as a browser draws 12 px text with a 2 px halo: a
/// generous width per character, so that the real one fits inside.
fn label_box(text: &str, middle: f64, baseline: f64) -> Boxed {
    #[allow(clippy::cast_precision_loss)]
    let w = text.chars().count() as f64 * 7.4 + 8.0;
    Boxed {
        x: middle - w / 2.0,
        y: baseline - 13.0,
        w,
        h: 17.0,
    }
}

/// The segments an edge is drawn with: a line, or a self-call's curve to
/// the right of its node as a few straight pieces.
fn segments(e: &Edge) -> Vec<((f64, f64), (f64, f64))> {
    if !e.own {
        return vec![((e.x1, e.y1), (e.x2, e.y2))];
    }
    // The template's cubic: (x1, y1-10) (x1+40, y1-30) (x1+40, y2+30) (x2, y2).
    let p = [
        (e.x1, e.y1 - 10.0),
        (e.x1 + 40.0, e.y1 - 30.0),
        (e.x1 + 40.0, e.y2 + 30.0),
        (e.x2, e.y2),
    ];
    let at = |t: f64| {
        let u = 1.0 - t;
        let (a, b, c, d) = (u * u * u, 3.0 * u * u * t, 3.0 * u * t * t, t * t * t);
        (
            a * p[0].0 + b * p[1].0 + c * p[2].0 + d * p[3].0,
            a * p[0].1 + b * p[1].1 + c * p[2].1 + d * p[3].1,
        )
    };
    (0..8)
        .map(|i| (at(f64::from(i) / 8.0), at(f64::from(i + 1) / 8.0)))
        .collect()
}

/// Puts each edge's label where its box crosses no line, no node and no
/// other label: along its line, above or below it by what its slope needs,
/// the middle first; right of a self-call's curve. A label with no free
/// place keeps the first.
fn place_labels(edges: &mut [Edge], nodes: &[Boxed]) {
    let lines: Vec<_> = edges.iter().flat_map(segments).collect();
    let mut placed: Vec<Boxed> = Vec::new();
    for e in edges.iter_mut() {
        let mut candidates = Vec::new();
        if e.own {
            for dy in [0.0, 20.0, -20.0, 40.0] {
                let w = label_box(&e.label, 0.0, 0.0).w;
                candidates.push((e.x1 + 48.0 + w / 2.0, (e.y1 + e.y2) / 2.0 + 4.0 + dy));
            }
        } else {
            let w = label_box(&e.label, 0.0, 0.0).w;
            let slope = if e.x2 == e.x1 {
                0.0
            } else {
                (e.y2 - e.y1) / (e.x2 - e.x1)
            };
            // The line's rise across half the label, and clearance.
            let clear = slope.abs() * w / 2.0 + 3.0;
            // From the middle outwards, in twentieths of the line; each
            // above the line, then below it, then a row further out.
            for step in 0..17 {
                let sign = if step % 2 == 0 { 1.0 } else { -1.0 };
                let t = 0.5 + sign * f64::from((step + 1) / 2) * 0.05;
                let (x, y) = (e.x1 + t * (e.x2 - e.x1), e.y1 + t * (e.y2 - e.y1));
                for further in [0.0, 18.0] {
                    candidates.push((x, y - clear - 4.0 - further));
                    candidates.push((x, y + clear + 13.0 + further));
                }
            }
        }
        let free = |&(x, y): &(f64, f64)| {
            let b = label_box(&e.label, x, y);
            !nodes.iter().any(|n| n.overlaps(&b))
                && !placed.iter().any(|p| p.overlaps(&b))
                && !lines.iter().any(|&(a, c)| b.crossed_by(a, c))
        };
        let (x, y) = candidates
            .iter()
            .copied()
            .find(|c| free(c))
            .unwrap_or(candidates[0]);
        e.label_x = x;
        e.label_y = y;
        placed.push(label_box(&e.label, x, y));
    }
}

#[derive(Template)]
#[template(path = "viewer/dependencies.html")]
pub(crate) struct DependenciesPage<'a> {
    pub(crate) base: &'a str,
    pub(crate) home: String,
    pub(crate) nodes: Vec<Node>,
    pub(crate) edges: Vec<Edge>,
    pub(crate) width: f64,
    pub(crate) height: f64,
}

impl<'a> DependenciesPage<'a> {
    /// Services in layers by call depth (callers left of what they call),
    /// stacked within a layer.
    pub(crate) fn new(base: &'a str, dependencies: &[Dependency], palette: &Palette) -> Self {
        let mut names: Vec<&str> = Vec::new();
        for d in dependencies {
            for name in [d.parent.as_str(), d.child.as_str()] {
                if !names.contains(&name) {
                    names.push(name);
                }
            }
        }
        // A service's layer: one more than its callers' (cycles stop at
        // the number of services).
        let mut layer = vec![0_usize; names.len()];
        for _ in 0..names.len() {
            for d in dependencies.iter().filter(|d| d.parent != d.child) {
                let p = names
                    .iter()
                    .position(|n| *n == d.parent)
                    .unwrap_or_default();
                let c = names.iter().position(|n| *n == d.child).unwrap_or_default();
                if layer[c] <= layer[p] && layer[p] + 1 < names.len() {
                    layer[c] = layer[p] + 1;
                }
            }
        }
        let (column, row_height, node_width) = (420.0, 90.0, 150.0);
        let mut in_layer = vec![0_usize; names.len() + 1];
        #[allow(clippy::cast_precision_loss)]
        let nodes: Vec<Node> = names
            .iter()
            .zip(&layer)
            .map(|(name, &l)| {
                let row = in_layer[l];
                in_layer[l] += 1;
                Node {
                    name: (*name).to_owned(),
                    colour: palette.colour(name),
                    x: 20.0 + l as f64 * column,
                    y: 30.0 + row as f64 * row_height,
                }
            })
            .collect();
        let at = |name: &str| nodes.iter().find(|n| n.name == name);
        let mut edges: Vec<Edge> = dependencies
            .iter()
            .filter_map(|d| {
                let (from, to) = (at(&d.parent)?, at(&d.child)?);
                let own = d.parent == d.child;
                let (x1, y1) = (from.x + node_width, from.y + 20.0);
                let (x2, y2) = if own {
                    (from.x + node_width, from.y + 36.0)
                } else {
                    (to.x, to.y + 20.0)
                };
                let mut label = format!("{} · {} calls", d.protocol, d.call_count);
                if d.error_count > 0 {
                    label.push_str(&format!(" · {} failed", d.error_count));
                }
                Some(Edge {
                    parent: d.parent.clone(),
                    child: d.child.clone(),
                    protocol: d.protocol,
                    calls: d.call_count,
                    errors: d.error_count,
                    x1,
                    y1,
                    x2,
                    y2,
                    label,
                    label_x: 0.0,
                    label_y: 0.0,
                    own,
                })
            })
            .collect();
        let boxes: Vec<Boxed> = nodes
            .iter()
            .map(|n| Boxed {
                x: n.x - 4.0,
                y: n.y - 4.0,
                w: node_width + 8.0,
                h: 48.0,
            })
            .collect();
        place_labels(&mut edges, &boxes);
        // Room for every node and label.
        let right = edges
            .iter()
            .map(|e| label_box(&e.label, e.label_x, e.label_y))
            .map(|b| b.x + b.w)
            .chain(nodes.iter().map(|n| n.x + node_width))
            .fold(0.0_f64, f64::max);
        let bottom = edges
            .iter()
            .map(|e| label_box(&e.label, e.label_x, e.label_y))
            .map(|b| b.y + b.h)
            .chain(nodes.iter().map(|n| n.y + 40.0))
            .fold(0.0_f64, f64::max);
        Self {
            home: home(base),
            base,
            nodes,
            edges,
            width: right + 30.0,
            height: bottom + 30.0,
        }
    }
}

/// An operation's row on the RED page.
pub(crate) struct RedLine {
    pub(crate) service: String,
    pub(crate) colour: &'static str,
    pub(crate) kind: &'static str,
    pub(crate) operation: String,
    pub(crate) count: usize,
    pub(crate) rate: String,
    pub(crate) errors: usize,
    pub(crate) error_percent: String,
    pub(crate) p50: String,
    pub(crate) p95: String,
    pub(crate) p99: String,
    pub(crate) slowest: String,
    /// The list's search for the operation's failed traces.
    pub(crate) failing: String,
}

#[derive(Template)]
#[template(path = "viewer/red.html")]
pub(crate) struct RedPage<'a> {
    pub(crate) base: &'a str,
    pub(crate) home: String,
    pub(crate) window: String,
    pub(crate) min_window: String,
    pub(crate) rows: Vec<RedLine>,
}

impl<'a> RedPage<'a> {
    pub(crate) fn new(base: &'a str, red: &Red, palette: &Palette) -> Self {
        let rows = red
            .operations
            .iter()
            .map(|op| {
                let mut search = form_urlencoded::Serializer::new(String::new());
                // The operation's failed spans: the span's name, its peer
                // where the row is narrowed to one, and `error=true`.
                let mut tags = "error=true".to_owned();
                if let Some(peer) = &op.peer {
                    let (address, port) = peer.rsplit_once(':').unwrap_or((peer, ""));
                    tags.push_str(&format!(" {}={address}", semconv::SERVER_ADDRESS));
                    if !port.is_empty() {
                        tags.push_str(&format!(" {}={port}", semconv::SERVER_PORT));
                    }
                }
                search
                    .append_pair("service", &op.service)
                    .append_pair("operation", &op.name)
                    .append_pair("tags", &tags);
                RedLine {
                    colour: palette.colour(&op.service),
                    service: op.service.clone(),
                    kind: kind(op.kind),
                    operation: op.operation.clone(),
                    count: op.count,
                    rate: rate(op.rate),
                    errors: op.errors,
                    error_percent: format!("{:.1}%", op.error_ratio() * 100.0),
                    p50: human(op.p50),
                    p95: human(op.p95),
                    p99: human(op.p99),
                    slowest: op.slowest.to_string(),
                    failing: format!("{}/?{}", base, search.finish()),
                }
            })
            .collect();
        Self {
            home: home(base),
            base,
            window: human(red.window),
            min_window: human(super::red::MIN_WINDOW),
            rows,
        }
    }
}

/// Requests a second as the RED page shows them: `0.25/s`, `12/s`.
pub(crate) fn rate(per_second: f64) -> String {
    if per_second >= 10.0 {
        format!("{per_second:.0}/s")
    } else if per_second >= 1.0 {
        format!("{per_second:.1}/s")
    } else {
        format!("{per_second:.2}/s")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dependency(parent: &str, child: &str, calls: usize, errors: usize) -> Dependency {
        Dependency {
            parent: parent.to_owned(),
            child: child.to_owned(),
            protocol: if child == "inventory" { "gRPC" } else { "HTTP" },
            call_count: calls,
            error_count: errors,
        }
    }

    /// Fan-out, fan-in, a chain, a self-call and long labels: no label box
    /// crosses a line, a node or another label.
    #[test]
    fn labels_keep_clear_of_lines_nodes_and_each_other() {
        let graphs = [
            vec![
                dependency("gateway", "users", 120, 3),
                dependency("gateway", "inventory", 95, 0),
            ],
            vec![
                dependency("gateway", "users", 1200, 30),
                dependency("gateway", "inventory", 950, 12),
                dependency("gateway", "orders", 800, 0),
                dependency("gateway", "gateway", 10, 0),
                dependency("orders", "users", 400, 7),
                dependency("orders", "inventory", 390, 0),
                dependency("users", "db", 5000, 100),
                dependency("inventory", "db", 4000, 0),
            ],
        ];
        for dependencies in graphs {
            let page = DependenciesPage::new("", &dependencies, &Palette(Vec::new()));
            let boxes: Vec<_> = page
                .edges
                .iter()
                .map(|e| label_box(&e.label, e.label_x, e.label_y))
                .collect();
            let lines: Vec<_> = page.edges.iter().flat_map(segments).collect();
            for (i, (e, b)) in page.edges.iter().zip(&boxes).enumerate() {
                let what = format!("{} -> {} at {b:?}", e.parent, e.child);
                for n in &page.nodes {
                    let node = Boxed {
                        x: n.x,
                        y: n.y,
                        w: 150.0,
                        h: 40.0,
                    };
                    assert!(!node.overlaps(b), "{what} over node {}", n.name);
                }
                for (j, other) in boxes.iter().enumerate() {
                    assert!(i == j || !other.overlaps(b), "{what} over another label");
                }
                for &(a, c) in &lines {
                    assert!(!b.crossed_by(a, c), "{what} over a line {a:?} {c:?}");
                }
                assert!(
                    b.x >= 0.0 && b.x + b.w <= page.width && b.y >= 0.0 && b.y + b.h <= page.height,
                    "{what} inside the picture"
                );
            }
        }
    }
}
