//! What the demo prints: each trace as a waterfall, then a summary.

use std::fmt::Write as _;

use trace_core::{FinishedSpan, SpanKind};
use trace_tower::viewer::{Trace, dependencies, human, red};

/// How to print: colours or not, block characters or not.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Style {
    /// ANSI colours (off with `NO_COLOR`, or when not writing to a terminal).
    pub(crate) color: bool,
}

impl Style {
    fn paint(self, code: &str, text: &str) -> String {
        if self.color {
            format!("\x1b[{code}m{text}\x1b[0m")
        } else {
            text.to_owned()
        }
    }
}

const BAR: usize = 30;

fn bar(trace: &Trace, span: &FinishedSpan, style: Style) -> String {
    let total = trace.duration().as_secs_f64().max(1e-9);
    let offset = span
        .start_time
        .duration_since(trace.start())
        .unwrap_or_default()
        .as_secs_f64();
    let cells = |seconds: f64| {
        // Within 0..=BAR by construction; the cast rounds a small float.
        #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
        let n = (seconds / total * BAR as f64).round() as usize;
        n.min(BAR)
    };
    let start = cells(offset).min(BAR - 1);
    let len = cells(span.duration().as_secs_f64()).clamp(1, BAR - start);
    let fill = if style.color { "█" } else { "=" };
    format!(
        "|{}{}{}|",
        " ".repeat(start),
        fill.repeat(len),
        " ".repeat(BAR - start - len)
    )
}

/// What the client knew of a request: what it was, and the correlation ID
/// the gateway answered with.
#[derive(Debug, Clone)]
pub(crate) struct Label {
    /// What the request was, in words.
    pub(crate) what: String,
    /// The `x-request-id` of the response.
    pub(crate) correlation_id: String,
}

/// One trace as a waterfall.
pub(crate) fn waterfall(trace: &Trace, label: Option<&Label>, style: Style) -> String {
    let mut out = String::new();
    let Some(root) = trace.root() else {
        return out;
    };
    let _ = writeln!(
        out,
        "{} {}  {}  {}",
        style.paint("1", "trace"),
        style.paint("36", &trace.trace_id.to_string()),
        root.name,
        human(trace.duration()),
    );
    if let Some(label) = label {
        let _ = writeln!(
            out,
            "  {}; correlation id {}",
            label.what, label.correlation_id
        );
    }
    if let Some(parent) = root.parent_span_id.filter(|_| root.parent_is_remote) {
        let _ = writeln!(
            out,
            "  continues the caller's span {parent} (a trusted partner)"
        );
    }
    if let Some(link) = root.link {
        let _ = writeln!(
            out,
            "  new trace for an untrusted caller, linked to its trace {} (span {})",
            link.trace_id(),
            link.parent_id()
        );
    }
    let mut sides_differ = false;
    for row in &trace.spans {
        let (depth, span) = (row.depth, &row.span);
        let service = span.service.as_deref().unwrap_or("?");
        // A client span says where it went: the service that answered
        // (the server span under it), else the address it called.
        let callee = (span.kind == SpanKind::Client).then(|| {
            let server = trace
                .spans
                .iter()
                .map(|row| &row.span)
                .find(|s| s.parent_span_id == Some(span.span_id) && s.kind == SpanKind::Server);
            if let Some(server) = server
                && span.status.is_error()
                && !server.status.is_error()
            {
                sides_differ = true;
            }
            server
                .and_then(|s| s.service.as_deref().map(str::to_owned))
                .or_else(
                    || match span.attribute(trace_core::semconv::SERVER_ADDRESS)? {
                        trace_core::Value::Str(host) => Some(host.to_string()),
                        _ => None,
                    },
                )
        });
        // (A gRPC name already says which service it called.)
        let name = match callee.flatten() {
            Some(callee) if !span.name.contains('/') => format!("{} {callee}", span.name),
            _ => span.name.clone(),
        };
        let name = format!("{}{}", "  ".repeat(depth), name);
        let status = match span.status.error_type() {
            Some(error) => style.paint("1;31", &format!("ERROR {error}")),
            None => style.paint("32", "ok"),
        };
        let kind = match span.kind {
            SpanKind::Server => "server",
            SpanKind::Client => "client",
            _ => "internal",
        };
        let _ = writeln!(
            out,
            "  {service:<10} {name:<40} {kind:<7}{:>9}  {}  {status}",
            human(span.duration()),
            bar(trace, span, style),
        );
        // Its events, under it: an exception in red.
        for event in &span.events {
            let at = human(event.time.duration_since(trace.start()).unwrap_or_default());
            let attributes: Vec<String> = event
                .attributes
                .iter()
                .map(|a| format!("{}={}", a.key, a.value))
                .collect();
            let line = format!(
                "{}  * {} +{at} {}",
                "  ".repeat(depth),
                event.name,
                attributes.join(" ")
            );
            let line = if event.name == trace_core::semconv::EXCEPTION_EVENT {
                style.paint("31", &line)
            } else {
                style.paint("2", &line)
            };
            let _ = writeln!(out, "  {:<10} {line}", "");
        }
    }
    if sides_differ {
        let _ = writeln!(
            out,
            "  (NOT_FOUND and the like are the caller's errors, not the server's: the gRPC \
             conventions classify codes per side)"
        );
    }
    out
}

/// Traces, spans, errors, the slowest span, who calls whom, and each
/// service's operations: rate, errors and duration (the viewer's RED page).
pub(crate) fn summary(traces: &[Trace], style: Style) -> String {
    let spans: Vec<&FinishedSpan> = traces
        .iter()
        .flat_map(|t| t.spans.iter().map(|row| &row.span))
        .collect();
    let errors = spans.iter().filter(|s| s.status.is_error()).count();
    let mut out = String::new();
    let _ = writeln!(out, "{}", style.paint("1", "summary"));
    let _ = writeln!(
        out,
        "  {} traces, {} spans, {} errors ({} traces with an error)",
        traces.len(),
        spans.len(),
        errors,
        traces.iter().filter(|t| t.has_error()).count()
    );
    if let Some(slowest) = spans.iter().max_by_key(|s| s.duration()) {
        let _ = writeln!(
            out,
            "  slowest span: {} {} ({})",
            slowest.service.as_deref().unwrap_or("?"),
            slowest.name,
            human(slowest.duration())
        );
    }
    let _ = writeln!(out, "  dependencies:");
    for call in dependencies(traces) {
        let n = call.call_count;
        let plural = if n == 1 { "call" } else { "calls" };
        let _ = writeln!(
            out,
            "    {} -> {} ({}, {n} {plural})",
            call.parent, call.child, call.protocol
        );
    }
    let report = red(traces);
    let _ = writeln!(
        out,
        "  rate, errors, duration (over the {} the store holds; rates over at least {}):",
        human(report.window),
        human(trace_tower::viewer::MIN_WINDOW)
    );
    let width = report
        .operations
        .iter()
        .map(|op| op.operation.chars().count())
        .max()
        .unwrap_or_default();
    let mut service = None;
    for op in &report.operations {
        if service != Some(&op.service) {
            let _ = writeln!(out, "    {}", op.service);
            service = Some(&op.service);
        }
        let errors = format!("{:.0}% errors", op.error_ratio() * 100.0);
        let errors = if op.errors > 0 {
            style.paint("31", &errors)
        } else {
            errors
        };
        let _ = writeln!(
            out,
            "      {:<8} {:<width$}  {:>3} spans  {:>6.1}/s  {errors}  p50 {}  p95 {}  p99 {}",
            op.kind.as_str(),
            op.operation,
            op.count,
            op.rate,
            human(op.p50),
            human(op.p95),
            human(op.p99),
        );
    }
    out
}
