//! Every set-up that compiles (otel-setup): for the feature set this file is
//! built with, each recorder, with and without a `tracing` subscriber, a
//! user's tracing-opentelemetry layer, `#[instrument]` spans, and our id
//! generator on the user's provider. One request goes from service A
//! (through an `#[instrument]` function when the row says so) to service B
//! (on another thread, as another process would be). A row is either
//! *right* (exactly one exported span per operation, one trace, the ids
//! exported are the ids sent downstream, each span nested where it ran,
//! and nothing said) or *warned* (one warning per problem, with the fix),
//! or a *limit* (see `Expect::Limit`).
//!
//! CI builds this file once per feature set: none, `tracing`,
//! `opentelemetry`, `tracing` + `opentelemetry` (the feature `subscriber`),
//! `tracing-opentelemetry`, and all (`.ci/run`'s feature matrix). Each row runs in a process of its own: the
//! warnings are said once per process, and some rows install the global
//! subscriber.

#![allow(clippy::unwrap_used, missing_docs, unused_imports, dead_code)]

use std::process::Command;

use http::{HeaderMap, Request, Response, StatusCode, Uri};
use trace_core::{
    ClientTracing, InMemoryRecorder, Propagate, ServerTracing, SpanKind, Status, TraceContext,
    TraceParent,
};

/// A span as exported, whichever recorder exported it.
#[derive(Debug, Clone, PartialEq)]
struct Exported {
    name: String,
    kind: &'static str,
    trace: u128,
    id: u64,
    /// 0 at a root.
    parent: u64,
}

/// What went over the wire and what each service's context was.
#[derive(Debug, Clone, Copy)]
struct Sent {
    a: TraceParent,
    /// The `traceparent` the client sent to B.
    to_b: TraceParent,
    b: TraceParent,
}

/// The three services' instrumentation.
struct Stack {
    a: ServerTracing,
    client: ClientTracing,
    b: ServerTracing,
}

impl Stack {
    fn with(recorder: impl trace_core::Recorder) -> Self {
        let recorder = std::sync::Arc::new(recorder);
        Self {
            a: ServerTracing::new().recorder(recorder.clone()),
            client: ClientTracing::default()
                .destinations(Propagate::ALL)
                .recorder(recorder.clone()),
            b: ServerTracing::new().recorder(recorder),
        }
    }

    fn propagation_only() -> Self {
        Self {
            a: ServerTracing::new(),
            client: ClientTracing::default().destinations(Propagate::ALL),
            b: ServerTracing::new(),
        }
    }
}

/// Serves one request at `route` on this thread, as an adapter does: the
/// `tracing` span entered and the context current while `handler` runs,
/// then a 204 (whose span ends at the head).
fn serve<R>(
    server: &ServerTracing,
    request: &Request<()>,
    route: &str,
    handler: impl FnOnce() -> R,
) -> (TraceParent, R) {
    let started = server.start(request, Some(route), None);
    let context = started.context.clone();
    let run = || context.clone().scope(handler).0;
    #[cfg(feature = "tracing")]
    let out = match &started.tracing_span {
        Some(span) => span.in_scope(run),
        None => run(),
    };
    #[cfg(not(feature = "tracing"))]
    let out = run();
    let (mut head, ()) = Response::builder()
        .status(StatusCode::NO_CONTENT)
        .body(())
        .unwrap()
        .into_parts();
    drop(server.response(
        started.span,
        &context,
        &mut head,
        http_body_util::Empty::<&'static [u8]>::new(),
    ));
    (context.traceparent(), out)
}

fn request(stack: &Stack, instrument: bool) -> Sent {
    let request = Request::get("http://a/a").body(()).unwrap();
    let (a, (to_b, b)) = serve(&stack.a, &request, "/a", || {
        if instrument {
            handler(stack)
        } else {
            call_b(stack)
        }
    });
    Sent { a, to_b, b }
}

#[tracing::instrument(skip_all)]
fn handler(stack: &Stack) -> (TraceParent, TraceParent) {
    call_b(stack)
}

/// A's call to B, as the reqwest middleware makes it; B runs on a thread
/// of its own.
fn call_b(stack: &Stack) -> (TraceParent, TraceParent) {
    let uri = Uri::from_static("http://b/b");
    let parent = TraceContext::attached_or_current(None);
    let mut headers = HeaderMap::new();
    let call = stack
        .client
        .start_call(parent.as_ref(), "GET", Some(&uri), &mut headers, Vec::new);
    let to_b: TraceParent = headers["traceparent"].to_str().unwrap().parse().unwrap();
    let downstream = || {
        std::thread::scope(|threads| {
            threads
                .spawn(|| {
                    let mut request = Request::get(uri.clone()).body(()).unwrap();
                    *request.headers_mut() = headers.clone();
                    serve(&stack.b, &request, "/b", || ()).0
                })
                .join()
                .unwrap()
        })
    };
    #[cfg(feature = "tracing")]
    let b = call
        .span
        .tracing_span(&call.context, "GET", SpanKind::Client)
        .in_scope(downstream);
    #[cfg(not(feature = "tracing"))]
    let b = downstream();
    call.span.end(Status::Unset, Vec::new());
    (to_b, b)
}

fn from_memory(recorder: &InMemoryRecorder) -> Vec<Exported> {
    recorder
        .finished()
        .into_iter()
        .map(|span| Exported {
            name: span.name,
            kind: span.kind.as_str(),
            trace: u128::from_be_bytes(span.trace_id.to_bytes()),
            id: u64::from_be_bytes(span.span_id.to_bytes()),
            parent: span
                .parent_span_id
                .map_or(0, |id| u64::from_be_bytes(id.to_bytes())),
        })
        .collect()
}

/// The rows whose spans OpenTelemetry exports.
#[cfg(feature = "opentelemetry")]
mod otel {
    use opentelemetry::trace::{SpanKind as OtelKind, TracerProvider as _};
    use opentelemetry_sdk::trace::{InMemorySpanExporter, SdkTracer, SdkTracerProvider};

    use super::Exported;

    /// A user's own provider, with or without our id generator.
    pub(crate) struct Provider {
        pub(crate) exporter: InMemorySpanExporter,
        pub(crate) provider: SdkTracerProvider,
    }

    impl Provider {
        pub(crate) fn new(our_ids: bool) -> Self {
            Self::with(
                our_ids,
                opentelemetry_sdk::trace::Sampler::ParentBased(Box::new(
                    opentelemetry_sdk::trace::Sampler::AlwaysOn,
                )),
            )
        }

        pub(crate) fn with(our_ids: bool, sampler: opentelemetry_sdk::trace::Sampler) -> Self {
            let exporter = InMemorySpanExporter::default();
            let mut builder = SdkTracerProvider::builder()
                .with_simple_exporter(exporter.clone())
                .with_sampler(sampler);
            if our_ids {
                builder = builder.with_id_generator(trace_core::OtelIdGenerator::default());
            }
            Self {
                exporter,
                provider: builder.build(),
            }
        }

        pub(crate) fn tracer(&self) -> SdkTracer {
            self.provider.tracer("matrix")
        }

        pub(crate) fn exported(&self) -> Vec<Exported> {
            self.exporter
                .get_finished_spans()
                .unwrap()
                .into_iter()
                .map(|span| Exported {
                    name: span.name.to_string(),
                    kind: match span.span_kind {
                        OtelKind::Server => "server",
                        OtelKind::Client => "client",
                        OtelKind::Internal => "internal",
                        OtelKind::Producer => "producer",
                        OtelKind::Consumer => "consumer",
                    },
                    trace: u128::from_be_bytes(span.span_context.trace_id().to_bytes()),
                    id: u64::from_be_bytes(span.span_context.span_id().to_bytes()),
                    parent: u64::from_be_bytes(span.parent_span_id.to_bytes()),
                })
                .collect()
        }
    }
}

/// Installs, for the whole process (B runs on another thread), a `fmt`
/// subscriber on standard error (where the parent reads the warnings),
/// with a tracing-opentelemetry layer on `tracer` when there is one.
#[cfg(feature = "opentelemetry")]
fn subscriber(layer: Option<opentelemetry_sdk::trace::SdkTracer>) {
    use tracing_subscriber::layer::SubscriberExt as _;

    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    let registry = tracing_subscriber::registry().with(fmt);
    match layer {
        Some(tracer) => tracing::subscriber::set_global_default(
            registry.with(tracing_opentelemetry::layer().with_tracer(tracer)),
        ),
        None => tracing::subscriber::set_global_default(registry),
    }
    .unwrap();
}

#[cfg(not(feature = "opentelemetry"))]
fn subscriber(layer: Option<()>) {
    use tracing_subscriber::layer::SubscriberExt as _;

    let _ = layer;
    let fmt = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_ansi(false);
    tracing::subscriber::set_global_default(tracing_subscriber::registry().with(fmt)).unwrap();
}

/// What a row must show.
enum Expect {
    /// One exported span per operation, these, in one trace with the ids
    /// sent, each nested where it ran; no warning.
    Right(&'static [(&'static str, &'static str)]),
    /// A warning containing each of these, once.
    Warned(&'static [&'static str]),
    /// A set-up that trace-core cannot see, so cannot warn about: without
    /// the feature that connects the user's tracing-opentelemetry layer,
    /// trace-core depends on neither `tracing-opentelemetry` nor (without
    /// `opentelemetry`) OpenTelemetry. The row checks what happens, as the
    /// README describes it: the layer's spans are traces of their own.
    Limit,
}

const THREE: &[(&str, &str)] = &[
    ("GET /a", "server"),
    ("GET", "client"),
    ("GET /b", "server"),
];
const FOUR: &[(&str, &str)] = &[
    ("GET /a", "server"),
    ("handler", "internal"),
    ("GET", "client"),
    ("GET /b", "server"),
];

/// Runs the row in a process of its own and checks what it said there.
fn row(name: &str, expect: &Expect, run: impl FnOnce() -> (Sent, Vec<Exported>)) {
    if std::env::var_os("SETUP_MATRIX_ROW").is_some() {
        let (sent, exported) = run();
        check(&sent, &exported, expect);
        let traces: std::collections::BTreeSet<u128> = exported.iter().map(|s| s.trace).collect();
        println!(
            "ROW {name}: {} spans exported in {} traces",
            exported.len(),
            traces.len()
        );
        return;
    }
    let out = Command::new(std::env::current_exe().unwrap())
        .args([name, "--exact", "--nocapture", "--test-threads=1"])
        .env("SETUP_MATRIX_ROW", "1")
        .output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert!(out.status.success(), "{name}:\n{stdout}\n{stderr}");
    assert!(
        stdout.contains(&format!("ROW {name}:")),
        "{name} ran: {stdout}"
    );
    // `OtelSetup::with_subscriber` logs to standard output.
    let warnings: Vec<&str> = stderr
        .lines()
        .chain(stdout.lines())
        .filter(|l| l.contains("trace-core: "))
        .collect();
    let said = stdout
        .lines()
        .find_map(|l| l.find("ROW ").map(|at| &l[at..]))
        .unwrap_or_default();
    println!(
        "{said}; {}",
        match expect {
            Expect::Right(_) => "right, nothing said".to_owned(),
            Expect::Warned(fragments) => format!("warned: {fragments:?}"),
            Expect::Limit => "limit: the layer's spans are traces of their own".to_owned(),
        }
    );
    match expect {
        Expect::Right(_) | Expect::Limit => {
            assert!(warnings.is_empty(), "{name}: nothing to say: {warnings:#?}");
        }
        Expect::Warned(fragments) => {
            assert_eq!(warnings.len(), fragments.len(), "{name}: {warnings:#?}");
            for fragment in *fragments {
                assert_eq!(
                    warnings.iter().filter(|w| w.contains(fragment)).count(),
                    1,
                    "{name}: once, {fragment:?}: {warnings:#?}"
                );
            }
        }
    }
}

fn check(sent: &Sent, exported: &[Exported], expect: &Expect) {
    let trace = u128::from_be_bytes(sent.a.trace_id().to_bytes());
    let id = |tp: &TraceParent| u64::from_be_bytes(tp.parent_id().to_bytes());
    // Downstream continues the trace whatever is recorded.
    assert_eq!(sent.to_b.trace_id(), sent.a.trace_id());
    assert_eq!(sent.b.trace_id(), sent.a.trace_id());
    match expect {
        Expect::Right(operations) => {
            let names: Vec<_> = exported.iter().map(|s| (s.name.as_str(), s.kind)).collect();
            assert_eq!(
                exported.len(),
                operations.len(),
                "one span per operation: {names:?}"
            );
            let find = |name: &str, kind: &str| {
                exported
                    .iter()
                    .find(|s| s.name == name && s.kind == kind)
                    .unwrap_or_else(|| panic!("{name} {kind} in {names:?}"))
            };
            for &(name, kind) in *operations {
                assert_eq!(find(name, kind).trace, trace, "one trace: {exported:#?}");
            }
            if operations.is_empty() {
                return;
            }
            let a = find("GET /a", "server");
            let call = find("GET", "client");
            let b = find("GET /b", "server");
            assert_eq!(a.id, id(&sent.a), "A exported with its ids");
            assert_eq!(
                call.id,
                id(&sent.to_b),
                "the client span is the parent B was sent"
            );
            assert_eq!(b.parent, call.id);
            assert_eq!(b.id, id(&sent.b));
            if operations.len() == 4 {
                let handler = find("handler", "internal");
                assert_eq!(handler.parent, a.id, "the handler under A");
                assert_eq!(call.parent, handler.id, "the call where it ran");
            } else {
                assert_eq!(call.parent, a.id);
            }
        }
        Expect::Warned(_) => {}
        Expect::Limit => {
            assert!(
                exported.iter().any(|s| s.trace != trace && s.parent == 0),
                "the layer's spans are traces of their own: {exported:#?}"
            );
        }
    }
}

/// Declares a row: its name is its test's.
macro_rules! rows {
    ($( $(#[$cfg:meta])* $name:ident: $expect:expr => $run:expr; )*) => {$(
        $(#[$cfg])*
        #[test]
        fn $name() {
            row(stringify!($name), &$expect, $run);
        }
    )*};
}

// Any feature set: propagation only, and the in-memory store.
rows! {
    propagation_only: Expect::Right(&[]) => || {
        (request(&Stack::propagation_only(), false), Vec::new())
    };
    in_memory: Expect::Right(THREE) => || {
        let memory = InMemoryRecorder::new(100);
        (request(&Stack::with(memory.clone()), false), from_memory(&memory))
    };
}

// `tracing` without OpenTelemetry: the ids in every log line.
rows! {
    #[cfg(feature = "tracing")]
    tracing_propagation_only_with_a_subscriber: Expect::Right(&[]) => || {
        subscriber(None);
        (request(&Stack::propagation_only(), true), Vec::new())
    };
    #[cfg(feature = "tracing")]
    tracing_in_memory_with_instrument: Expect::Right(THREE) => || {
        subscriber(None);
        let memory = InMemoryRecorder::new(100);
        (request(&Stack::with(memory.clone()), true), from_memory(&memory))
    };
}

// A tracing-opentelemetry layer that trace-core has no feature to see.
rows! {
    #[cfg(all(not(feature = "opentelemetry"), feature = "tracing"))]
    tracing_and_a_layer_trace_core_cannot_see: Expect::Limit => || {
        layer_limit()
    };
    #[cfg(not(any(feature = "opentelemetry", feature = "tracing")))]
    instrument_and_a_layer_trace_core_cannot_see: Expect::Limit => || {
        layer_limit()
    };
}

/// The user's layer on a provider of their own, trace-core without the
/// features to see it; the request recorded in memory.
#[cfg(not(feature = "opentelemetry"))]
fn layer_limit() -> (Sent, Vec<Exported>) {
    use opentelemetry::trace::{SpanKind as OtelKind, TracerProvider as _};
    use tracing_subscriber::layer::SubscriberExt as _;

    let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
    let provider = opentelemetry_sdk::trace::SdkTracerProvider::builder()
        .with_simple_exporter(exporter.clone())
        .build();
    tracing::subscriber::set_global_default(
        tracing_subscriber::registry()
            .with(tracing_opentelemetry::layer().with_tracer(provider.tracer("user"))),
    )
    .unwrap();
    let memory = InMemoryRecorder::new(100);
    let sent = request(&Stack::with(memory.clone()), true);
    let mut exported = from_memory(&memory);
    exported.extend(
        exporter
            .get_finished_spans()
            .unwrap()
            .into_iter()
            .map(|span| Exported {
                name: span.name.to_string(),
                kind: if span.span_kind == OtelKind::Internal {
                    "internal"
                } else {
                    "other"
                },
                trace: u128::from_be_bytes(span.span_context.trace_id().to_bytes()),
                id: u64::from_be_bytes(span.span_context.span_id().to_bytes()),
                parent: u64::from_be_bytes(span.parent_span_id.to_bytes()),
            }),
    );
    (sent, exported)
}

// OpenTelemetry: OtelRecorder on the user's provider, and the one call.
#[cfg(feature = "opentelemetry")]
use otel::Provider;

/// `OtelSetup`, in one call, with its subscriber or not.
#[cfg(feature = "opentelemetry")]
fn one_call_row(with_subscriber: bool) -> impl FnOnce() -> (Sent, Vec<Exported>) {
    move || {
        let exporter = opentelemetry_sdk::trace::InMemorySpanExporter::default();
        let setup = trace_core::OtelSetup::from_env()
            .exporter(exporter.clone())
            .sampler(trace_core::AlwaysOn)
            .global(false);
        #[cfg(feature = "subscriber")]
        let setup = if with_subscriber {
            setup.with_subscriber()
        } else {
            setup
        };
        #[cfg(not(feature = "subscriber"))]
        let _ = with_subscriber;
        let telemetry = setup.install().unwrap();
        let stack = Stack {
            a: telemetry.server_tracing(),
            client: telemetry.client_tracing().destinations(Propagate::ALL),
            b: telemetry.server_tracing(),
        };
        let sent = request(&stack, true);
        let provider = Provider {
            exporter,
            provider: telemetry.provider().unwrap().clone(),
        };
        (sent, provider.exported())
    }
}

const IDS: &str = "chose its own ids";
const SAMPLER: &str = "sampler dropped a span";
const SPLIT: &str = "built without its feature `tracing-opentelemetry`";
const TWICE: &str = "exported twice";
const OWN_IDS: &str = "with ids of its own";

fn otel_row(
    our_ids: bool,
    with_subscriber: bool,
    layer: bool,
    instrument: bool,
) -> impl FnOnce() -> (Sent, Vec<Exported>) {
    move || {
        #[cfg(feature = "opentelemetry")]
        {
            let provider = Provider::new(our_ids);
            if with_subscriber {
                subscriber(layer.then(|| provider.tracer()));
            }
            let recorder = trace_core::OtelRecorder::new(provider.tracer());
            let sent = request(&Stack::with(recorder), instrument);
            (sent, provider.exported())
        }
        #[cfg(not(feature = "opentelemetry"))]
        {
            let _ = (our_ids, with_subscriber, layer, instrument);
            unreachable!()
        }
    }
}

rows! {
    #[cfg(feature = "opentelemetry")]
    otel_recorder: Expect::Right(THREE) => otel_row(true, false, false, false);
    #[cfg(feature = "opentelemetry")]
    otel_recorder_without_our_id_generator: Expect::Warned(&[IDS]) =>
        otel_row(false, false, false, false);
    #[cfg(feature = "opentelemetry")]
    otel_recorder_under_a_sampler_that_disagrees: Expect::Warned(&[SAMPLER]) => || {
        let provider = Provider::with(true, opentelemetry_sdk::trace::Sampler::AlwaysOff);
        let recorder = trace_core::OtelRecorder::new(provider.tracer());
        (request(&Stack::with(recorder), false), provider.exported())
    };
    #[cfg(feature = "opentelemetry")]
    one_call: Expect::Right(THREE) => one_call_row(false);
}

// OpenTelemetry without `tracing`: `OtelRecorder` makes the request's span
// OpenTelemetry's current one, which the user's layer takes as the parent
// of an `#[instrument]` span that has no `tracing` parent: one tree.
rows! {
    #[cfg(all(feature = "opentelemetry", not(feature = "tracing")))]
    otel_recorder_and_a_layer: Expect::Right(FOUR) => otel_row(true, true, true, true);
    #[cfg(all(feature = "opentelemetry", not(feature = "tracing")))]
    otel_recorder_and_a_layer_without_our_id_generator: Expect::Warned(&[IDS]) =>
        otel_row(false, true, true, true);
}

// `tracing` + OpenTelemetry without `tracing-opentelemetry`.
rows! {
    #[cfg(all(feature = "opentelemetry", feature = "tracing", not(feature = "tracing-opentelemetry")))]
    tracing_otel_recorder_with_instrument: Expect::Right(THREE) =>
        otel_row(true, true, false, true);
    #[cfg(all(feature = "opentelemetry", feature = "tracing", not(feature = "tracing-opentelemetry")))]
    tracing_otel_recorder_and_a_layer: Expect::Warned(&[SPLIT]) =>
        otel_row(true, true, true, true);
    #[cfg(all(feature = "opentelemetry", feature = "tracing", not(feature = "tracing-opentelemetry")))]
    tracing_otel_recorder_and_a_layer_without_our_id_generator: Expect::Warned(&[IDS, SPLIT]) =>
        otel_row(false, true, true, true);
    #[cfg(all(feature = "opentelemetry", feature = "tracing", not(feature = "tracing-opentelemetry")))]
    tracing_in_memory_and_a_layer: Expect::Warned(&[SPLIT]) => || {
        let provider = Provider::new(true);
        subscriber(Some(provider.tracer()));
        let memory = InMemoryRecorder::new(100);
        (request(&Stack::with(memory.clone()), true), from_memory(&memory))
    };
    #[cfg(all(feature = "opentelemetry", feature = "tracing", not(feature = "tracing-opentelemetry")))]
    tracing_propagation_only_and_a_layer: Expect::Warned(&[SPLIT]) => || {
        let provider = Provider::new(true);
        subscriber(Some(provider.tracer()));
        (request(&Stack::propagation_only(), true), Vec::new())
    };
}

// `tracing-opentelemetry`: TracingRecorder, and what else a user may pick.
#[cfg(feature = "tracing-opentelemetry")]
fn tracing_recorder_row(our_ids: bool, layer: bool) -> impl FnOnce() -> (Sent, Vec<Exported>) {
    move || {
        let provider = Provider::new(our_ids);
        subscriber(layer.then(|| provider.tracer()));
        let sent = request(&Stack::with(trace_core::TracingRecorder), true);
        (sent, provider.exported())
    }
}

rows! {
    #[cfg(feature = "tracing-opentelemetry")]
    tracing_recorder_and_a_layer: Expect::Right(FOUR) => tracing_recorder_row(true, true);
    #[cfg(feature = "tracing-opentelemetry")]
    tracing_recorder_and_a_layer_without_our_id_generator: Expect::Warned(&[IDS]) =>
        tracing_recorder_row(false, true);
    #[cfg(feature = "tracing-opentelemetry")]
    tracing_recorder_without_a_layer: Expect::Right(&[]) => tracing_recorder_row(true, false);
    #[cfg(feature = "tracing-opentelemetry")]
    otel_recorder_beside_a_layer: Expect::Warned(&[TWICE]) => otel_row(true, true, true, true);
    #[cfg(feature = "tracing-opentelemetry")]
    otel_recorder_with_a_subscriber_without_a_layer: Expect::Right(THREE) =>
        otel_row(true, true, false, true);
    #[cfg(feature = "tracing-opentelemetry")]
    in_memory_beside_a_layer: Expect::Warned(&[TWICE]) => || {
        let provider = Provider::new(true);
        subscriber(Some(provider.tracer()));
        let memory = InMemoryRecorder::new(100);
        (request(&Stack::with(memory.clone()), true), from_memory(&memory))
    };
    #[cfg(feature = "tracing-opentelemetry")]
    propagation_only_and_a_layer: Expect::Warned(&[OWN_IDS]) => || {
        let provider = Provider::new(true);
        subscriber(Some(provider.tracer()));
        (request(&Stack::propagation_only(), true), Vec::new())
    };
    #[cfg(all(feature = "tracing-opentelemetry", feature = "subscriber"))]
    one_call_with_the_subscriber: Expect::Right(FOUR) => one_call_row(true);
}
