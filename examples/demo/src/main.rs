//! Run: `cargo run -p demo` (add `-- --help` for the options).
//!
//! Starts three services on 127.0.0.1 (`gateway` over HTTP, which calls
//! `users` over HTTP and `inventory` over gRPC), sends a short scripted
//! workload through the gateway, and prints every trace it collected as a
//! waterfall, then a summary. Nothing to install: the spans are collected
//! in this process. `--otlp` also sends them to a Collector, Jaeger or
//! Tempo.

mod report;
mod services;

use std::{
    collections::HashMap,
    io::IsTerminal as _,
    process::ExitCode,
    sync::Arc,
    time::{Duration, Instant},
};

use report::{Label, Style};
use services::{PARTNER_KEY, PARTNER_SECRET, Recorders, Services};
use trace_core::{
    AlwaysOn, InMemoryRecorder, OtelSetup, OtlpProtocol, ParentBased, Recorder, Telemetry, TraceId,
    TraceParent,
    record::{RecordingSpan, SpanEnd, SpanStart},
};
use trace_tower::viewer::{self, TraceQuery};

const HELP: &str = "\
demo: three services, one process, one trace per request

USAGE: cargo run -p demo -- [OPTIONS]

OPTIONS:
  --service NAME        only traces that touch this service (gateway, users, inventory)
  --min-duration TIME   only traces at least this long (e.g. 50ms, 1s, 200us)
  --errors              only traces with an error
  --json FILE           also write the traces shown to FILE, as Jaeger's /api/traces answers
                        (\"data\"), with the dependencies as its /api/dependencies answers
                        (\"dependencies\")
  --otlp                also export over OTLP, set up from the standard OTEL_* variables:
                        gRPC unless OTEL_EXPORTER_OTLP_PROTOCOL=http/protobuf, to
                        OTEL_EXPORTER_OTLP_ENDPOINT (default http://localhost:4317, or
                        :4318 for http/protobuf); also on when that variable is set.
                        Every trace is sampled, so the backend holds what the demo prints.
                        Jaeger's dependency graph also shows gateway -> gateway: it counts
                        every parent-child pair of spans (the gateway's server span above its
                        own client spans); the demo counts calls. The edges between two
                        services are the same. Jaeger v1.76.0's memory storage finds nothing
                        for the tag error=true (its bug, jaegertracing/jaeger#8217);
                        --errors selects the traces its UI marks as failed.
  --serve               after the workload, keep serving, with the trace viewer on a port of
                        its own (its URL is printed), and print curl lines; Ctrl-C prints
  -h, --help            this text

Colours are off when NO_COLOR is set or the output is not a terminal.";

/// The command line.
#[derive(Debug, Default)]
struct Options {
    service: Option<String>,
    min_duration: Option<Duration>,
    errors: bool,
    json: Option<std::path::PathBuf>,
    otlp: bool,
    serve: bool,
}

/// A hand-written parser: six flags do not need a dependency.
fn parse(args: impl IntoIterator<Item = String>) -> Result<Options, String> {
    let mut options = Options::default();
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--service" => options.service = Some(args.next().ok_or("--service needs a NAME")?),
            "--min-duration" => {
                let value = args.next().ok_or("--min-duration needs a TIME")?;
                options.min_duration =
                    Some(viewer::parse_duration(&value).ok_or(format!("not a duration: {value}"))?);
            }
            "--errors" => options.errors = true,
            "--json" => options.json = Some(args.next().ok_or("--json needs a FILE")?.into()),
            "--otlp" => options.otlp = true,
            "--serve" => options.serve = true,
            "-h" | "--help" => return Err(HELP.to_owned()),
            other => return Err(format!("unknown option {other}\n\n{HELP}")),
        }
    }
    Ok(options)
}

/// Records into two recorders: the in-process store, and OpenTelemetry.
struct Both<A, B>(A, B);

impl<A: Recorder, B: Recorder> Recorder for Both<A, B> {
    fn start(&self, span: SpanStart<'_>) -> Option<Box<dyn RecordingSpan>> {
        let second = self.1.start(span.clone());
        match (self.0.start(span), second) {
            (Some(a), Some(b)) => Some(Box::new(BothSpans(a, b))),
            (a, b) => a.or(b),
        }
    }
}

struct BothSpans(Box<dyn RecordingSpan>, Box<dyn RecordingSpan>);

impl RecordingSpan for BothSpans {
    fn set_attribute(&mut self, attribute: trace_core::Attribute<'static>) {
        self.1.set_attribute(attribute.clone());
        self.0.set_attribute(attribute);
    }

    fn set_name(&mut self, name: &str) {
        self.1.set_name(name);
        self.0.set_name(name);
    }

    fn add_event(&mut self, event: trace_core::record::Event) {
        self.1.add_event(event.clone());
        self.0.add_event(event);
    }

    fn end(self: Box<Self>, end: SpanEnd) {
        self.1.end(end.clone());
        self.0.end(end);
    }

    // The OpenTelemetry span's, so the OpenTelemetry API nests under it.
    fn otel_context(&self) -> Option<opentelemetry::Context> {
        self.1.otel_context().or_else(|| self.0.otel_context())
    }
}

/// One step of the workload.
struct Step {
    what: &'static str,
    path: &'static str,
    headers: &'static [(&'static str, &'static str)],
}

/// Stands for the outside caller's `traceparent`, new in each run (so that
/// runs into one backend do not share a trace).
const OUTSIDE: &str = "(the caller's traceparent)";

const WORKLOAD: &[Step] = &[
    Step {
        what: "a checkout",
        path: "/checkout/42",
        headers: &[],
    },
    Step {
        what: "another item",
        path: "/checkout/43",
        headers: &[],
    },
    Step {
        what: "the users service fails",
        path: "/checkout/42?user=broken",
        headers: &[],
    },
    Step {
        what: "an item inventory does not know",
        path: "/checkout/404",
        headers: &[],
    },
    Step {
        what: "a slow user lookup",
        path: "/checkout/43?slow=400",
        headers: &[],
    },
    Step {
        what: "a partner continues its own trace, with baggage",
        path: "/checkout/42",
        headers: &[
            ("traceparent", OUTSIDE),
            ("baggage", "tenant=acme"),
            ("x-partner-key", PARTNER_SECRET),
        ],
    },
    Step {
        what: "an untrusted caller sends a traceparent: new trace, linked",
        path: "/checkout/42",
        headers: &[("traceparent", OUTSIDE), ("baggage", "tenant=spoofed")],
    },
];

/// One service's OpenTelemetry set-up: the standard environment, with
/// the service's name, gRPC unless `OTEL_EXPORTER_OTLP_PROTOCOL` says
/// otherwise, and every trace sampled (the demo shows them all).
fn telemetry(service: &'static str) -> Result<Telemetry, Box<dyn std::error::Error>> {
    let mut setup = OtelSetup::from_env()
        .service_name(service)
        .sampler(ParentBased::new(AlwaysOn))
        .global(false);
    if std::env::var_os("OTEL_EXPORTER_OTLP_PROTOCOL").is_none() {
        setup = setup.otlp_protocol(OtlpProtocol::Grpc);
    }
    Ok(setup.install()?)
}

async fn run_workload(
    gateway: std::net::SocketAddr,
    style: Style,
) -> Result<HashMap<TraceId, Label>, Box<dyn std::error::Error>> {
    let client = reqwest::Client::new();
    let mut labels = HashMap::new();
    let outside = trace_core::TraceContext::new_root(true)
        .traceparent()
        .to_string();
    println!("workload:");
    for step in WORKLOAD {
        let mut request = client.get(format!("http://{gateway}{}", step.path));
        for &(name, value) in step.headers {
            let value = if value == OUTSIDE { &outside } else { value };
            request = request.header(name, value);
        }
        let started = Instant::now();
        let response = request.send().await?;
        let status = response.status();
        let header = |name: &str| {
            let value = response.headers().get(name).and_then(|v| v.to_str().ok());
            value.unwrap_or_default().to_owned()
        };
        let correlation_id = header("x-request-id");
        // server-timing: trace;desc=00-{trace-id}-{span-id}-{flags}
        let trace = header("server-timing")
            .strip_prefix("trace;desc=")
            .and_then(|tp| tp.parse::<TraceParent>().ok());
        let body = response.text().await?;
        let shown = if status.is_success() {
            style_status(status.as_str(), "32", style)
        } else {
            style_status(status.as_str(), "1;31", style)
        };
        println!(
            "  GET {:<28} {shown} {:>8}  {}",
            step.path,
            viewer::human(started.elapsed()),
            step.what
        );
        // What the edge's trust policy let through of the baggage sent.
        if step.headers.iter().any(|(name, _)| *name == "baggage") {
            let tenant = body
                .rsplit_once("tenant ")
                .map_or("", |(_, rest)| rest.trim_end().trim_end_matches(')'));
            if tenant.is_empty() {
                println!("      baggage sent, dropped at the edge: the services saw no tenant");
            } else {
                println!("      baggage sent and kept: the services saw tenant {tenant}");
            }
        }
        if let Some(trace) = trace {
            labels.insert(
                trace.trace_id(),
                Label {
                    what: step.what.to_owned(),
                    correlation_id,
                },
            );
        }
    }
    println!();
    Ok(labels)
}

fn style_status(text: &str, code: &str, style: Style) -> String {
    if style.color {
        format!("\x1b[{code}m{text}\x1b[0m")
    } else {
        text.to_owned()
    }
}

async fn run(options: Options) -> Result<(), Box<dyn std::error::Error>> {
    let style = Style {
        color: std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty())
            && std::io::stdout().is_terminal(),
    };
    let store = InMemoryRecorder::new(10_000);
    let otlp = options.otlp || std::env::var_os("OTEL_EXPORTER_OTLP_ENDPOINT").is_some();
    let providers: HashMap<&'static str, Arc<Telemetry>> = if otlp {
        ["gateway", "users", "inventory"]
            .into_iter()
            .map(|service| Ok((service, Arc::new(telemetry(service)?))))
            .collect::<Result<_, Box<dyn std::error::Error>>>()?
    } else {
        HashMap::new()
    };
    let recorders: Recorders = {
        let store = store.clone();
        let providers = providers.clone();
        Arc::new(move |service| -> Arc<dyn Recorder> {
            let memory = store.service(service);
            match providers.get(service) {
                Some(telemetry) => Arc::new(Both(memory, telemetry.recorder())),
                None => Arc::new(memory),
            }
        })
    };

    let services = Services::start(&recorders).await?;
    println!(
        "gateway http://{}  users http://{}  inventory grpc://{}{}\n",
        services.gateway,
        services.users,
        services.inventory,
        if otlp {
            "  (also exporting over OTLP)"
        } else {
            ""
        }
    );
    let labels = run_workload(services.gateway, style).await?;

    if options.serve {
        let gateway = services.gateway;
        // The trace viewer over the demo's store, on a port of its own.
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        let viewer = listener.local_addr()?;
        let router = viewer::Viewer::new(store.clone()).router();
        tokio::spawn(async move { axum::serve(listener, router).await });
        println!("the traces in a browser: http://{viewer}/");
        println!("serving; try:");
        println!("  curl -i http://{gateway}/checkout/42");
        println!("  curl -i 'http://{gateway}/checkout/42?user=broken'");
        println!(
            "  curl -i -H 'traceparent: {}' -H '{PARTNER_KEY}: {PARTNER_SECRET}' http://{gateway}/checkout/43",
            // A trace id of its own, so that it does not join the workload's.
            trace_core::TraceContext::new_root(true).traceparent()
        );
        println!("Ctrl-C prints every trace collected.\n");
        tokio::signal::ctrl_c().await?;
    }
    // Every service stopped: every span has ended and is in the store.
    let first_at_users = services.first_at_users.get().cloned().unwrap_or_default();
    services.stop().await;

    let query = TraceQuery {
        service: options.service.clone(),
        min_duration: options.min_duration,
        errors: options.errors,
        ..TraceQuery::default()
    };
    let shown: Vec<_> = viewer::traces(store.finished())
        .into_iter()
        .filter(|t| query.matches(t))
        .collect();
    // How propagation works, once: what the gateway sent users for the
    // first request, as it went over the wire.
    let wire_trace = first_at_users
        .iter()
        .find(|(name, _)| name == "traceparent")
        .and_then(|(_, value)| value.parse::<TraceParent>().ok())
        .map(|traceparent| traceparent.trace_id());
    for trace in &shown {
        print!(
            "{}",
            report::waterfall(trace, labels.get(&trace.trace_id), style)
        );
        if wire_trace == Some(trace.trace_id) {
            println!("  on the wire, gateway -> users:");
            for (name, value) in &first_at_users {
                println!("    {name}: {value}");
            }
        }
        println!();
    }
    print!("{}", report::summary(&shown, style));
    if let Some(path) = &options.json {
        let mut json = viewer::traces_json(&shown);
        json["dependencies"] =
            viewer::dependencies_json(&viewer::dependencies(&shown))["data"].take();
        std::fs::write(path, serde_json::to_vec_pretty(&json)?)?;
        println!("traces written to {}", path.display());
    }

    if !providers.is_empty() {
        // The closure holds the other handles to each set-up.
        drop(recorders);
        let result = tokio::task::spawn_blocking(move || {
            providers
                .into_values()
                .filter_map(Arc::into_inner)
                .try_for_each(Telemetry::shutdown)
        })
        .await?;
        match result {
            Ok(()) => println!("spans sent over OTLP"),
            Err(error) => println!("OTLP export failed: {error}"),
        }
    }
    Ok(())
}

#[tokio::main]
async fn main() -> ExitCode {
    let options = match parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            println!("{message}");
            return if message == HELP {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(2)
            };
        }
    };
    match run(options).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("demo: {error}");
            ExitCode::FAILURE
        }
    }
}
