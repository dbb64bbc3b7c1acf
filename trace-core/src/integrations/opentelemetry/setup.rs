//! One call: the OpenTelemetry SDK built from the standard environment,
//! with our id generator and a sampler that obeys the decision we
//! propagate.

use std::{fmt, sync::Arc};

use opentelemetry::{
    Context, KeyValue,
    trace::{Link, SpanKind, TraceContextExt as _, TraceId},
};
use opentelemetry_sdk::{
    Resource,
    error::OTelSdkResult,
    trace::{
        SamplingDecision, SamplingResult, SdkTracerProvider, ShouldSample, TracerProviderBuilder,
    },
};

use super::recorder::{OtelIdGenerator, OtelRecorder, is_ours};
use crate::{
    instrument::{ClientTracing, ServerTracing},
    propagation::Propagator,
    record::{NoopRecorder, Recorder},
    sampling::{EnvVarError, Sampler, sampler_from_env},
};

/// The OTLP transport (`OTEL_EXPORTER_OTLP_PROTOCOL`).
///
/// # Examples
///
/// ```
/// use trace_core::{OtelSetup, OtlpProtocol};
///
/// let setup = OtelSetup::from_env().otlp_protocol(OtlpProtocol::Grpc);
/// # let _ = setup;
/// ```
#[cfg(feature = "otlp")]
#[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum OtlpProtocol {
    /// `grpc`: OTLP over gRPC, by default to `http://localhost:4317`.
    Grpc,
    /// `http/protobuf` (the specification's default): protobuf over
    /// HTTP, by default to `http://localhost:4318/v1/traces`.
    HttpProtobuf,
}

type AddExporter = Box<dyn FnOnce(TracerProviderBuilder) -> TracerProviderBuilder + Send>;

/// Builds and installs the OpenTelemetry tracer provider from the standard
/// SDK environment variables
/// (<https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/>),
/// every one of which a method here overrides:
///
/// | variable | read by | override |
/// |---|---|---|
/// | `OTEL_SDK_DISABLED` | here: `true` records nothing (propagation goes on) | [`disabled`](Self::disabled) |
/// | `OTEL_SERVICE_NAME`, `OTEL_RESOURCE_ATTRIBUTES` | the SDK's resource detectors | [`service_name`](Self::service_name), [`resource_attribute`](Self::resource_attribute) |
/// | `OTEL_TRACES_SAMPLER`, `OTEL_TRACES_SAMPLER_ARG` | here, as our sampler ([`sampler_from_env`]) | [`sampler`](Self::sampler) |
/// | `OTEL_PROPAGATORS` | here ([`Propagator::from_env`]) | [`propagator`](Self::propagator) |
/// | `OTEL_TRACES_EXPORTER` | here: `otlp` (the default), `console` (standard output, with `opentelemetry-stdout`), `none`, comma-separated; any other name is an error | [`exporter`](Self::exporter) |
/// | `OTEL_EXPORTER_OTLP_PROTOCOL` | here (feature `otlp`): `grpc` or `http/protobuf` (the default) | `otlp_protocol` |
/// | `OTEL_EXPORTER_OTLP_ENDPOINT`, `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` | `opentelemetry-otlp`, checked here first: an `http://` or `https://` URL with a host (gRPC also takes `host:port`, `https` unless `OTEL_EXPORTER_OTLP_INSECURE` is `true`); `https` needs the feature `otlp-tls` | `otlp_endpoint`, or [`exporter`](Self::exporter) |
/// | `OTEL_EXPORTER_OTLP_CERTIFICATE`, `_CLIENT_CERTIFICATE`, `_CLIENT_KEY`, and their `_TRACES_` forms | here (feature `otlp-tls`): PEM files, the CA trusted beside the system's roots and the client identity for mutual TLS, on both transports; set without the feature, an error | [`exporter`](Self::exporter) |
/// | `OTEL_EXPORTER_OTLP_COMPRESSION` | `opentelemetry-otlp` | [`exporter`](Self::exporter) |
/// | `OTEL_EXPORTER_OTLP_TIMEOUT`, `OTEL_EXPORTER_OTLP_HEADERS` and their `_TRACES_` forms | `opentelemetry-otlp`, checked here first: a whole number of milliseconds; `key=value` pairs of header names and (percent-decoded) header values | [`exporter`](Self::exporter) |
/// | `OTEL_BSP_SCHEDULE_DELAY`, `_EXPORT_TIMEOUT`, `_MAX_QUEUE_SIZE`, `_MAX_EXPORT_BATCH_SIZE` | the SDK's batch processor, checked here first: whole numbers | [`exporter`](Self::exporter) |
///
/// The provider always gets [`OtelIdGenerator`], so the ids exported are
/// the ids sent downstream, and a sampler that obeys our decision: a span
/// our layers start is exported exactly when the `sampled` flag they send
/// says so, and a span made through the SDK directly (an `#[instrument]`
/// span under tracing-opentelemetry) follows its parent's flag. The
/// sampling decision itself is [`Telemetry::sampler`], which
/// [`Telemetry::server_tracing`] hands to the server layer: one decision,
/// made once, where the trace enters.
///
/// A value that cannot apply (an unknown sampler or protocol, a malformed
/// ratio) is an error naming the variable, never a silent default.
///
/// # Examples
///
/// ```
/// use opentelemetry_sdk::trace::InMemorySpanExporter;
/// use trace_core::OtelSetup;
///
/// let exporter = InMemorySpanExporter::default();
/// let telemetry = OtelSetup::from_env()
///     .service_name("checkout")
///     .exporter(exporter.clone())
///     .global(false)
///     .install()?;
///
/// // What the server layer does: `TraceContextLayer::from(telemetry.server_tracing())`.
/// let tracing = telemetry.server_tracing();
/// let started = tracing.start(&http::Request::new(()), Some("/"), None);
/// let (mut head, ()) = http::Response::new(()).into_parts();
/// drop(tracing.response(started.span, &started.context, &mut head, String::new()));
///
/// let spans = exporter.get_finished_spans()?; // read before shutdown, which clears it
/// assert_eq!(spans[0].span_context.span_id().to_bytes(), started.context.span_id().to_bytes());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
#[must_use = "nothing is set up until `install` is called"]
pub struct OtelSetup {
    service_name: Option<String>,
    attributes: Vec<KeyValue>,
    sampler: Option<Arc<dyn Sampler>>,
    propagator: Option<Propagator>,
    disabled: Option<bool>,
    exporter: Option<AddExporter>,
    #[cfg(feature = "otlp")]
    protocol: Option<OtlpProtocol>,
    #[cfg(feature = "otlp")]
    endpoint: Option<String>,
    global: bool,
    #[cfg(feature = "subscriber")]
    subscriber: bool,
}

impl OtelSetup {
    /// A set-up that reads the environment when [`install`](Self::install)
    /// is called (nothing is read before).
    pub fn from_env() -> Self {
        Self {
            service_name: None,
            attributes: Vec::new(),
            sampler: None,
            propagator: None,
            disabled: None,
            exporter: None,
            #[cfg(feature = "otlp")]
            protocol: None,
            #[cfg(feature = "otlp")]
            endpoint: None,
            global: true,
            #[cfg(feature = "subscriber")]
            subscriber: false,
        }
    }

    /// Also installs the global `tracing` subscriber: log lines (the fmt
    /// layer) that carry `trace_id`, `span_id` and `correlation_id` from
    /// the request's span, filtered by `RUST_LOG` (targets and levels, as
    /// `info,my_app=debug`; default `info`); and, with the feature
    /// `tracing-opentelemetry`, the tracing-opentelemetry layer on this
    /// provider, with [`TracingRecorder`](crate::TracingRecorder) as the
    /// recorder, so that each request is one span and `#[instrument]`
    /// spans and calls made in them nest under it.
    ///
    /// The lines are text, coloured only when standard output is a
    /// terminal and `NO_COLOR` is unset, or JSON lines (one object a line,
    /// the span fields with the ids inside) with `RUST_LOG_FORMAT=json`.
    #[cfg(feature = "subscriber")]
    #[cfg_attr(docsrs, doc(cfg(feature = "subscriber")))]
    pub fn with_subscriber(mut self) -> Self {
        self.subscriber = true;
        self
    }

    /// The service's name, in place of `OTEL_SERVICE_NAME`.
    pub fn service_name(mut self, name: impl Into<String>) -> Self {
        self.service_name = Some(name.into());
        self
    }

    /// A resource attribute, beside (and over) `OTEL_RESOURCE_ATTRIBUTES`.
    pub fn resource_attribute(mut self, key: &'static str, value: impl Into<String>) -> Self {
        self.attributes.push(KeyValue::new(key, value.into()));
        self
    }

    /// The sampler, in place of `OTEL_TRACES_SAMPLER`.
    pub fn sampler(mut self, sampler: impl Sampler) -> Self {
        self.sampler = Some(Arc::new(sampler));
        self
    }

    /// The propagator, in place of `OTEL_PROPAGATORS`.
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.propagator = Some(propagator);
        self
    }

    /// Whether the SDK is disabled, in place of `OTEL_SDK_DISABLED`: then
    /// nothing is recorded and propagation goes on.
    pub fn disabled(mut self, disabled: bool) -> Self {
        self.disabled = Some(disabled);
        self
    }

    /// Exports to `exporter` (the SDK's in-memory exporter in tests, a
    /// stdout exporter, your own), each span as it ends (the SDK's simple
    /// processor), instead of OTLP.
    pub fn exporter<E>(mut self, exporter: E) -> Self
    where
        E: opentelemetry_sdk::trace::SpanExporter + 'static,
    {
        self.exporter = Some(Box::new(move |builder| {
            with_processor(
                builder,
                opentelemetry_sdk::trace::SimpleSpanProcessor::new(exporter),
            )
        }));
        self
    }

    /// The OTLP transport, in place of `OTEL_EXPORTER_OTLP_PROTOCOL`.
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    pub fn otlp_protocol(mut self, protocol: OtlpProtocol) -> Self {
        self.protocol = Some(protocol);
        self
    }

    /// The OTLP endpoint, in place of `OTEL_EXPORTER_OTLP_ENDPOINT` and
    /// `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` (for `http/protobuf`, the whole
    /// URL, `/v1/traces` included).
    #[cfg(feature = "otlp")]
    #[cfg_attr(docsrs, doc(cfg(feature = "otlp")))]
    pub fn otlp_endpoint(mut self, endpoint: impl Into<String>) -> Self {
        self.endpoint = Some(endpoint.into());
        self
    }

    /// Whether `install` also makes the provider and the propagator
    /// OpenTelemetry's global ones (default: yes; turn it off for several
    /// services in one process, or in tests).
    pub fn global(mut self, global: bool) -> Self {
        self.global = global;
        self
    }

    /// Reads the environment, builds the provider and, unless told not to,
    /// installs it as the global one. Build it inside a Tokio runtime when
    /// exporting over OTLP/gRPC: the channel lives there.
    ///
    /// # Errors
    ///
    /// A variable whose value cannot apply, named in the error, or an
    /// exporter that cannot be built (an invalid endpoint).
    pub fn install(self) -> Result<Telemetry, SetupError> {
        let disabled = match self.disabled {
            Some(disabled) => disabled,
            None => sdk_disabled(EnvVarError::read("OTEL_SDK_DISABLED")?.as_deref())?,
        };
        let sampler = match self.sampler {
            Some(sampler) => sampler,
            None => sampler_from_env()?,
        };
        let propagator = match self.propagator {
            Some(propagator) => propagator,
            None => Propagator::from_env().map_err(|error| match error.value() {
                Some(value) => EnvVarError::new(
                    "OTEL_PROPAGATORS",
                    Some(value),
                    format!(
                        "trace-core does not implement it (it knows {})",
                        crate::propagation::KNOWN_PROPAGATORS
                    ),
                ),
                None => EnvVarError::new("OTEL_PROPAGATORS", None, "not valid Unicode"),
            })?,
        };
        if disabled {
            #[cfg(feature = "subscriber")]
            if self.subscriber {
                install_fmt_only()?;
            }
            return Ok(Telemetry {
                provider: None,
                recorder: Arc::new(NoopRecorder),
                sampler,
                propagator,
            });
        }

        let mut resource = Resource::builder();
        if let Some(name) = self.service_name {
            resource = resource.with_service_name(name);
        }
        let resource = resource.with_attributes(self.attributes).build();
        let builder = SdkTracerProvider::builder()
            .with_id_generator(OtelIdGenerator::default())
            .with_sampler(ObeyOurDecision)
            .with_resource(resource);
        let builder = match self.exporter {
            Some(add) => add(builder),
            None => {
                let exporters =
                    traces_exporters(EnvVarError::read("OTEL_TRACES_EXPORTER")?.as_deref())?;
                let mut builder = builder;
                if exporters.otlp {
                    check_otlp_env()?;
                    check_batch_env()?;
                    #[cfg(feature = "otlp")]
                    {
                        builder = with_processor(
                            builder,
                            opentelemetry_sdk::trace::BatchSpanProcessor::builder(otlp_exporter(
                                self.protocol,
                                self.endpoint,
                            )?)
                            .build(),
                        );
                    }
                    #[cfg(not(feature = "otlp"))]
                    return Err(SetupError::NoExporter);
                }
                if exporters.console {
                    builder = with_processor(
                        builder,
                        opentelemetry_sdk::trace::SimpleSpanProcessor::new(
                            opentelemetry_stdout::SpanExporter::default(),
                        ),
                    );
                }
                builder
            }
        };
        let provider = builder.build();
        if self.global {
            opentelemetry::global::set_tracer_provider(provider.clone());
            opentelemetry::global::set_text_map_propagator(propagator.clone());
        }
        let tracer = opentelemetry::trace::TracerProvider::tracer(&provider, "trace-rs");
        #[cfg(feature = "subscriber")]
        let recorder = match self.subscriber.then(|| install_subscriber(&tracer)) {
            Some(recorder) => recorder?,
            None => None,
        }
        .unwrap_or_else(|| Arc::new(OtelRecorder::new(tracer)));
        #[cfg(not(feature = "subscriber"))]
        let recorder: Arc<dyn Recorder> = Arc::new(OtelRecorder::new(tracer));
        Ok(Telemetry {
            provider: Some(provider),
            recorder,
            sampler,
            propagator,
        })
    }
}

impl fmt::Debug for OtelSetup {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OtelSetup")
            .field("service_name", &self.service_name)
            .field("disabled", &self.disabled)
            .field("global", &self.global)
            .finish_non_exhaustive()
    }
}

/// The `RUST_LOG` filter: targets and levels (`info,my_app=debug`),
/// `info` when unset.
#[cfg(feature = "subscriber")]
fn rust_log() -> Result<tracing_subscriber::filter::Targets, SetupError> {
    let value = EnvVarError::read("RUST_LOG")?.filter(|v| !v.trim().is_empty());
    let value = value.as_deref().unwrap_or("info");
    value.parse().map_err(|_| {
        EnvVarError::new(
            "RUST_LOG",
            Some(value),
            "expected targets and levels, such as info,my_app=debug",
        )
        .into()
    })
}

/// The log lines' layer: text, coloured only on a terminal (and not under
/// `NO_COLOR`), or JSON lines for log shippers, as `RUST_LOG_FORMAT` says.
#[cfg(feature = "subscriber")]
fn log_lines() -> Result<
    Box<dyn tracing_subscriber::Layer<tracing_subscriber::Registry> + Send + Sync>,
    SetupError,
> {
    use std::io::IsTerminal as _;

    let value = EnvVarError::read("RUST_LOG_FORMAT")?;
    match value.as_deref().map(str::trim) {
        None | Some("" | "text") => {
            let colour = std::io::stdout().is_terminal()
                && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty());
            Ok(Box::new(tracing_subscriber::fmt::layer().with_ansi(colour)))
        }
        Some("json") => Ok(Box::new(tracing_subscriber::fmt::layer().json())),
        Some(other) => Err(EnvVarError::new(
            "RUST_LOG_FORMAT",
            Some(other),
            "expected text (the default) or json",
        )
        .into()),
    }
}

#[cfg(feature = "subscriber")]
fn install_fmt_only() -> Result<(), SetupError> {
    use tracing_subscriber::layer::SubscriberExt as _;

    let subscriber = tracing_subscriber::registry()
        .with(log_lines()?)
        .with(rust_log()?);
    tracing::subscriber::set_global_default(subscriber).map_err(|_| SetupError::SubscriberSet)
}

/// Installs the global subscriber; returns the recorder it needs, if not
/// `OtelRecorder` (with the tracing-opentelemetry layer, `TracingRecorder`).
#[cfg(feature = "subscriber")]
fn install_subscriber(
    tracer: &opentelemetry_sdk::trace::SdkTracer,
) -> Result<Option<Arc<dyn Recorder>>, SetupError> {
    #[cfg(feature = "tracing-opentelemetry")]
    {
        use tracing_subscriber::layer::SubscriberExt as _;

        let subscriber = tracing_subscriber::registry()
            .with(log_lines()?)
            .with(tracing_opentelemetry::layer().with_tracer(tracer.clone()))
            .with(rust_log()?);
        tracing::subscriber::set_global_default(subscriber)
            .map_err(|_| SetupError::SubscriberSet)?;
        Ok(Some(Arc::new(crate::TracingRecorder)))
    }
    #[cfg(not(feature = "tracing-opentelemetry"))]
    {
        let _ = tracer;
        install_fmt_only()?;
        Ok(None)
    }
}

/// Adds `processor`; with `tracing-opentelemetry`, behind [`LeanSpans`]
/// (the spans `TracingRecorder` records carry fields only logs need).
///
/// [`LeanSpans`]: crate::LeanSpans
fn with_processor(
    builder: TracerProviderBuilder,
    processor: impl opentelemetry_sdk::trace::SpanProcessor + 'static,
) -> TracerProviderBuilder {
    #[cfg(feature = "tracing-opentelemetry")]
    let processor = crate::LeanSpans::new(processor);
    builder.with_span_processor(processor)
}

/// The exporters `OTEL_TRACES_EXPORTER` asks for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Exporters {
    otlp: bool,
    console: bool,
}

/// `OTEL_TRACES_EXPORTER`, as the SDK environment specification defines it
/// (<https://opentelemetry.io/docs/specs/otel/configuration/sdk-environment-variables/#exporter-selection>):
/// a comma-separated list of `otlp` (the default), `console` and `none`;
/// any other name is refused, never silently exported with OTLP instead.
fn traces_exporters(value: Option<&str>) -> Result<Exporters, EnvVarError> {
    let names = value.map(str::trim).filter(|v| !v.is_empty());
    let Some(names) = names else {
        return Ok(Exporters {
            otlp: true,
            console: false,
        });
    };
    let mut exporters = Exporters {
        otlp: false,
        console: false,
    };
    for name in names.split(',').map(str::trim) {
        match name {
            "otlp" => exporters.otlp = true,
            "console" => exporters.console = true,
            "none" => {}
            _ => {
                return Err(EnvVarError::new(
                    "OTEL_TRACES_EXPORTER",
                    Some(names),
                    format!(
                        "trace-core exports with otlp, console or none, not {name:?} (for \
                         another exporter, give it with OtelSetup::exporter)"
                    ),
                ));
            }
        }
    }
    Ok(exporters)
}

/// Reads `variable`, which the SDK or the exporter reads itself, and checks
/// it by the specification's rules (`check`), so that a value that cannot
/// apply is an error naming it, not ignored.
fn check_env(
    variable: &'static str,
    check: impl Fn(&str) -> Result<(), String>,
) -> Result<(), EnvVarError> {
    match EnvVarError::read(variable)? {
        Some(value) if !value.trim().is_empty() => {
            check(value.trim()).map_err(|reason| EnvVarError::new(variable, Some(&value), reason))
        }
        _ => Ok(()),
    }
}

/// A whole number of milliseconds (or items), as the specification's
/// timeouts, delays and sizes are.
fn whole_number(value: &str) -> Result<(), String> {
    value
        .parse::<u64>()
        .map(drop)
        .map_err(|_| "expected a whole number (of milliseconds, for a time)".to_owned())
}

/// `key=value` pairs separated by commas, values percent-encoded, as the
/// specification's `OTEL_EXPORTER_OTLP_HEADERS` is.
fn headers_list(value: &str) -> Result<(), String> {
    for pair in value.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let Some((key, value)) = pair.split_once('=') else {
            return Err(format!(
                "expected key=value pairs separated by commas, got {pair:?}"
            ));
        };
        let key = key.trim();
        if http::HeaderName::from_bytes(key.as_bytes()).is_err() {
            return Err(format!("{key:?} is not a header name"));
        }
        let decoded = percent_encoding::percent_decode_str(value.trim()).decode_utf8_lossy();
        if http::HeaderValue::from_str(&decoded).is_err() {
            return Err(format!("the value of {key:?} is not a header value"));
        }
    }
    Ok(())
}

/// The OTLP exporter's variables that `opentelemetry-otlp` reads itself.
fn check_otlp_env() -> Result<(), EnvVarError> {
    for variable in [
        "OTEL_EXPORTER_OTLP_TIMEOUT",
        "OTEL_EXPORTER_OTLP_TRACES_TIMEOUT",
    ] {
        check_env(variable, whole_number)?;
    }
    for variable in [
        "OTEL_EXPORTER_OTLP_HEADERS",
        "OTEL_EXPORTER_OTLP_TRACES_HEADERS",
    ] {
        check_env(variable, headers_list)?;
    }
    Ok(())
}

/// The batch span processor's variables, which the SDK reads itself.
fn check_batch_env() -> Result<(), EnvVarError> {
    for variable in [
        "OTEL_BSP_SCHEDULE_DELAY",
        "OTEL_BSP_EXPORT_TIMEOUT",
        "OTEL_BSP_MAX_QUEUE_SIZE",
        "OTEL_BSP_MAX_EXPORT_BATCH_SIZE",
    ] {
        check_env(variable, whole_number)?;
    }
    Ok(())
}

fn sdk_disabled(value: Option<&str>) -> Result<bool, EnvVarError> {
    match value.map(str::trim) {
        None | Some("") => Ok(false),
        Some(v) if v.eq_ignore_ascii_case("true") => Ok(true),
        Some(v) if v.eq_ignore_ascii_case("false") => Ok(false),
        Some(v) => Err(EnvVarError::new(
            "OTEL_SDK_DISABLED",
            Some(v),
            "expected true or false",
        )),
    }
}

#[cfg(feature = "otlp")]
fn otlp_protocol(value: Option<&str>) -> Result<OtlpProtocol, EnvVarError> {
    match value.map(str::trim) {
        None | Some("" | "http/protobuf") => Ok(OtlpProtocol::HttpProtobuf),
        Some("grpc") => Ok(OtlpProtocol::Grpc),
        Some(v) => Err(EnvVarError::new(
            "OTEL_EXPORTER_OTLP_PROTOCOL",
            Some(v),
            "trace-core exports over grpc or http/protobuf",
        )),
    }
}

#[cfg(feature = "otlp")]
fn otlp_exporter(
    protocol: Option<OtlpProtocol>,
    endpoint: Option<String>,
) -> Result<opentelemetry_otlp::SpanExporter, SetupError> {
    let protocol = match protocol {
        Some(protocol) => protocol,
        None => otlp_protocol(EnvVarError::read("OTEL_EXPORTER_OTLP_PROTOCOL")?.as_deref())?,
    };
    super::otlp::exporter(protocol, endpoint)
}

/// The SDK's sampler under [`OtelSetup`]: a span our recorder starts was
/// sampled by us (it is only started when our decision records), so the
/// SDK records it; any other span follows its parent's sampled flag, and a
/// root made through the SDK alone is recorded.
#[derive(Debug, Clone, Copy)]
struct ObeyOurDecision;

impl ShouldSample for ObeyOurDecision {
    fn should_sample(
        &self,
        parent_context: Option<&Context>,
        _: TraceId,
        _: &str,
        _: &SpanKind,
        _: &[KeyValue],
        _: &[Link],
    ) -> SamplingResult {
        let parent = parent_context
            .filter(|cx| cx.has_active_span())
            .map(|cx| cx.span().span_context().clone());
        let sampled = is_ours() || parent.as_ref().is_none_or(|p| p.is_sampled());
        SamplingResult {
            decision: if sampled {
                SamplingDecision::RecordAndSample
            } else {
                SamplingDecision::Drop
            },
            attributes: Vec::new(),
            trace_state: parent.map(|p| p.trace_state().clone()).unwrap_or_default(),
        }
    }
}

/// What [`OtelSetup::install`] made: the provider, and the recorder, the
/// sampler and the propagator for the layers. Dropping it flushes the
/// spans not exported yet and shuts the provider down.
///
/// # Examples
///
/// ```
/// use trace_core::OtelSetup;
///
/// // `OTEL_SDK_DISABLED=true` (here set in code): propagation only.
/// let telemetry = OtelSetup::from_env().disabled(true).global(false).install()?;
/// assert!(telemetry.provider().is_none());
/// let _layer_config = telemetry.server_tracing();
/// # Ok::<(), trace_core::SetupError>(())
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
pub struct Telemetry {
    provider: Option<SdkTracerProvider>,
    recorder: Arc<dyn Recorder>,
    sampler: Arc<dyn Sampler>,
    propagator: Propagator,
}

impl Telemetry {
    /// The server configuration: our propagator, sampler and recorder
    /// (`TraceContextLayer::from(telemetry.server_tracing())`).
    #[must_use]
    pub fn server_tracing(&self) -> ServerTracing {
        self.configure(ServerTracing::new())
    }

    /// As [`server_tracing`](Self::server_tracing), for a gRPC server.
    #[must_use]
    pub fn grpc_server_tracing(&self) -> ServerTracing {
        self.configure(ServerTracing::new_for_grpc())
    }

    fn configure(&self, tracing: ServerTracing) -> ServerTracing {
        tracing
            .propagator(self.propagator.clone())
            .sampler(Arc::clone(&self.sampler))
            .recorder(Arc::clone(&self.recorder))
    }

    /// The client configuration: our propagator and recorder; client
    /// spans follow their parent's sampling
    /// (`TraceMiddleware::from(telemetry.client_tracing())`).
    #[must_use]
    pub fn client_tracing(&self) -> ClientTracing {
        ClientTracing::default()
            .propagator(self.propagator.clone())
            .recorder(Arc::clone(&self.recorder))
    }

    /// The recorder: spans exported through the provider (records nothing
    /// when the SDK is disabled).
    #[must_use]
    pub fn recorder(&self) -> Arc<dyn Recorder> {
        Arc::clone(&self.recorder)
    }

    /// The sampler `OTEL_TRACES_SAMPLER` (or the override) asked for.
    #[must_use]
    pub fn sampler(&self) -> Arc<dyn Sampler> {
        Arc::clone(&self.sampler)
    }

    /// The propagator `OTEL_PROPAGATORS` (or the override) asked for.
    #[must_use]
    pub fn propagator(&self) -> &Propagator {
        &self.propagator
    }

    /// The provider (`None` when the SDK is disabled).
    #[must_use]
    pub fn provider(&self) -> Option<&SdkTracerProvider> {
        self.provider.as_ref()
    }

    /// Flushes and shuts down now, with the SDK's answer (dropping does
    /// the same and ignores it).
    ///
    /// # Errors
    ///
    /// What the SDK's shutdown reports (an exporter that failed).
    pub fn shutdown(mut self) -> OTelSdkResult {
        match self.provider.take() {
            Some(provider) => {
                let flushed = provider.force_flush();
                provider.shutdown().and(flushed)
            }
            None => Ok(()),
        }
    }
}

impl Drop for Telemetry {
    fn drop(&mut self) {
        if let Some(provider) = self.provider.take() {
            let _ = provider.force_flush();
            let _ = provider.shutdown();
        }
    }
}

impl fmt::Debug for Telemetry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Telemetry")
            .field("enabled", &self.provider.is_some())
            .field("propagator", &self.propagator)
            .finish_non_exhaustive()
    }
}

/// Why [`OtelSetup::install`] failed.
///
/// # Examples
///
/// ```
/// use trace_core::{OtelSetup, TraceIdRatio};
///
/// let error = OtelSetup::from_env().disabled(true).sampler(TraceIdRatio::new(0.5)).install();
/// assert!(error.is_ok());
/// ```
#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
#[non_exhaustive]
pub enum SetupError {
    /// A standard variable whose value cannot apply.
    Env(EnvVarError),
    /// The exporter could not be built.
    Exporter(String),
    /// No exporter: without the `otlp` feature, give one with
    /// [`OtelSetup::exporter`].
    NoExporter,
    /// `with_subscriber`, but a global `tracing` subscriber was already
    /// set.
    SubscriberSet,
}

impl fmt::Display for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env(error) => error.fmt(f),
            Self::Exporter(error) => write!(f, "the OTLP exporter: {error}"),
            Self::NoExporter => f.write_str(
                "no exporter: enable trace-core's `otlp` feature, or give one with OtelSetup::exporter",
            ),
            Self::SubscriberSet => f.write_str(
                "a global tracing subscriber is already set: drop OtelSetup::with_subscriber, or add \
                 its layers to yours",
            ),
        }
    }
}

/// As `Display`: returned from `main`, the error reads as its message
/// (`Error: OTEL_TRACES_SAMPLER="bogus": …`).
impl fmt::Debug for SetupError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl std::error::Error for SetupError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Env(error) => Some(error),
            _ => None,
        }
    }
}

impl From<EnvVarError> for SetupError {
    fn from(error: EnvVarError) -> Self {
        Self::Env(error)
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn traces_exporter_names_are_read_or_refused() {
        let exporters = |v| super::traces_exporters(v).map(|e| (e.otlp, e.console));
        assert_eq!(exporters(None).unwrap(), (true, false), "OTLP by default");
        assert_eq!(exporters(Some(" ")).unwrap(), (true, false));
        assert_eq!(exporters(Some("console")).unwrap(), (false, true));
        assert_eq!(exporters(Some("otlp,console")).unwrap(), (true, true));
        assert_eq!(exporters(Some("none")).unwrap(), (false, false));
        for refused in ["zipkin", "otlp,jaeger", "OTLP"] {
            let error = exporters(Some(refused)).unwrap_err().to_string();
            assert!(error.starts_with("OTEL_TRACES_EXPORTER="), "{error}");
            assert_eq!(
                error.matches("OTEL_TRACES_EXPORTER").count(),
                1,
                "named once: {error}"
            );
            assert!(error.contains("otlp, console or none"), "{error}");
        }
    }

    #[test]
    fn timeouts_sizes_and_headers_follow_the_specification() {
        assert!(super::whole_number("10000").is_ok());
        for bad in ["abc", "-1", "1.5", "10s"] {
            assert!(super::whole_number(bad).is_err(), "{bad}");
        }
        assert!(super::headers_list("api-key=secret,tenant=acme%20corp").is_ok());
        assert!(super::headers_list("").is_ok());
        for bad in ["bad", "=value", "a b=c", "key=line%0Abreak"] {
            assert!(super::headers_list(bad).is_err(), "{bad}");
        }
    }

    use super::*;

    #[test]
    fn values_that_cannot_apply_name_their_variable() {
        assert_eq!(sdk_disabled(Some("TRUE")), Ok(true));
        assert_eq!(sdk_disabled(None), Ok(false));
        assert_eq!(
            sdk_disabled(Some("yes")).unwrap_err().variable(),
            "OTEL_SDK_DISABLED"
        );
        #[cfg(feature = "otlp")]
        {
            assert_eq!(otlp_protocol(None), Ok(OtlpProtocol::HttpProtobuf));
            assert_eq!(otlp_protocol(Some("grpc")), Ok(OtlpProtocol::Grpc));
            let error = otlp_protocol(Some("http/json")).unwrap_err();
            assert_eq!(
                error.to_string(),
                "OTEL_EXPORTER_OTLP_PROTOCOL=\"http/json\": trace-core exports over grpc or http/protobuf"
            );
        }
    }
}
