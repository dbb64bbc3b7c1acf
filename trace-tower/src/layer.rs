//! The layer and its configuration.

use std::{fmt, marker::PhantomData, sync::Arc};

use tower_layer::Layer;
use trace_core::{Recorder, ServerTracing};

use crate::{
    TraceContextService,
    mode::{Mode, PropagationOnly, Recording},
};

/// Makes every request join the caller's trace: see the [crate docs](crate).
///
/// Its settings are trace-core's [`ServerTracing`], which does everything a
/// server does per request; this layer only drives it. Cheap to clone: the
/// configuration is shared.
///
/// `M` says whether it records spans ([`mode`](crate::mode)): a layer made
/// by [`new`](Self::new) propagates only and returns the inner service's
/// response body as it is; [`recorder`](Self::recorder) makes it
/// [`Recording`], whose body ends the server span.
///
/// # Examples
///
/// ```
/// use trace_core::{InMemoryRecorder, RequestFilter, Trust};
/// use trace_tower::TraceContextLayer;
///
/// let layer = TraceContextLayer::new()
///     .trust(Trust::NEW_ROOT.strip_baggage())
///     .recorder(InMemoryRecorder::new(1000))
///     .filter(RequestFilter::path("/health"));
/// # let _ = layer;
/// ```
pub struct TraceContextLayer<M = PropagationOnly> {
    tracing: Arc<ServerTracing>,
    mode: PhantomData<fn() -> M>,
}

impl Default for TraceContextLayer {
    fn default() -> Self {
        Self::with(ServerTracing::new())
    }
}

impl<M> Clone for TraceContextLayer<M> {
    fn clone(&self) -> Self {
        Self {
            tracing: Arc::clone(&self.tracing),
            mode: PhantomData,
        }
    }
}

impl<M> fmt::Debug for TraceContextLayer<M> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceContextLayer")
            .field("tracing", &self.tracing)
            .finish()
    }
}

impl TraceContextLayer {
    /// A layer with the defaults: W3C Trace Context, Baggage and
    /// `x-request-id`; callers trusted; parents' sampling followed and new
    /// traces sampled; nothing recorded (propagation only); the correlation
    /// ID echoed on the response.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A layer for a gRPC server (tonic's `Server::builder().layer(..)`):
    /// see [`ServerTracing::new_for_grpc`]. Propagation is the same as for
    /// HTTP.
    ///
    /// A filtered request is recorded when it fails only if the failure is in
    /// a trailers-only response (known when the headers are sent).
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::RequestFilter;
    /// use trace_tower::TraceContextLayer;
    ///
    /// let layer = TraceContextLayer::new_for_grpc().filter(RequestFilter::grpc_service("grpc.health.v1.Health"));
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn new_for_grpc() -> Self {
        Self::with(ServerTracing::new_for_grpc())
    }
}

impl<M> TraceContextLayer<M> {
    fn with(tracing: ServerTracing) -> Self {
        Self {
            tracing: Arc::new(tracing),
            mode: PhantomData,
        }
    }

    fn tracing_mut(&mut self) -> &mut ServerTracing {
        Arc::make_mut(&mut self.tracing)
    }

    trace_core::__server_setters!();

    /// Where spans are recorded. The layer becomes [`Recording`]: its
    /// response body ends the server span when it has been sent. The same
    /// as `ServerTracing::recorder` in trace-core.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::InMemoryRecorder;
    /// use trace_tower::TraceContextLayer;
    ///
    /// let layer = TraceContextLayer::new().recorder(InMemoryRecorder::new(1000));
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn recorder(self, recorder: impl Recorder) -> TraceContextLayer<Recording> {
        let tracing = Arc::unwrap_or_clone(self.tracing).recorder(recorder);
        TraceContextLayer::with(tracing)
    }

    /// Measures every request (feature `metrics`): the duration to the
    /// end of the response body, the requests in flight and the body
    /// sizes, through the OpenTelemetry metrics API (the instruments are
    /// listed in trace-core's `metrics` module). The layer becomes
    /// [`Recording`]: its response body ends the measurement when it has
    /// been sent. The same as `ServerTracing::metrics` in trace-core.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use trace_core::metrics::Metrics;
    /// use trace_tower::TraceContextLayer;
    ///
    /// let provider = SdkMeterProvider::builder().build();
    /// let layer = TraceContextLayer::new().metrics(&Metrics::new(&provider));
    /// # let _ = layer;
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn metrics(self, metrics: &trace_core::metrics::Metrics) -> TraceContextLayer<Recording> {
        let tracing = Arc::unwrap_or_clone(self.tracing).metrics(metrics);
        TraceContextLayer::with(tracing)
    }

    /// An INFO event per request when its response's head is ready, as
    /// tower-http's `on_response`: status, latency and the ids (default:
    /// off). The same as `ServerTracing::log_responses` in trace-core.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_tower::TraceContextLayer;
    ///
    /// let layer = TraceContextLayer::new().log_responses(true);
    /// # let _ = layer;
    /// ```
    #[cfg(feature = "tracing")]
    #[cfg_attr(docsrs, doc(cfg(feature = "tracing")))]
    #[must_use]
    pub fn log_responses(mut self, log: bool) -> Self {
        let tracing = self.tracing_mut();
        *tracing = std::mem::take(tracing).log_responses(log);
        self
    }
}

/// A layer over settings made in trace-core (an `OtelSetup`'s
/// `server_tracing()`, say): [`Recording`], since they may set a recorder.
impl From<ServerTracing> for TraceContextLayer<Recording> {
    fn from(tracing: ServerTracing) -> Self {
        Self::with(tracing)
    }
}

impl<S, M: Mode> Layer<S> for TraceContextLayer<M> {
    type Service = TraceContextService<S, M>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceContextService::new(inner, Arc::clone(&self.tracing))
    }
}
