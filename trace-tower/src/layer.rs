//! The layer and its configuration.

use std::sync::Arc;

use tower_layer::Layer;
use trace_core::{CorrelationId, Propagator, Recorder, RequestFilter, Sampler, TrustPolicy};

use crate::{
    ResponseTraceContext, TraceContextService,
    config::{Config, Protocol},
};

/// Makes every request join the caller's trace: see the [crate docs](crate).
///
/// Cheap to clone: the configuration is shared.
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
#[derive(Debug, Clone, Default)]
pub struct TraceContextLayer {
    config: Arc<Config>,
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
    /// spans named `package.Service/Method` with the `rpc.*` attributes, and
    /// a status read from `grpc-status` (in a trailers-only response, or in
    /// the trailers after the last message), where UNKNOWN,
    /// DEADLINE_EXCEEDED, UNIMPLEMENTED, INTERNAL, UNAVAILABLE and DATA_LOSS
    /// are errors. Propagation is the same as for HTTP.
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
        let mut layer = Self::default();
        layer.config().protocol = Protocol::Grpc;
        layer
    }

    fn config(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// The propagator: which headers are read and written, and the
    /// correlation-ID header's name.
    #[must_use]
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.config().propagator = propagator;
        self
    }

    /// What to believe from callers, decided per request.
    #[must_use]
    pub fn trust(mut self, policy: impl TrustPolicy) -> Self {
        self.config().trust = Arc::new(policy);
        self
    }

    /// The sampler.
    #[must_use]
    pub fn sampler(mut self, sampler: impl Sampler) -> Self {
        self.config().sampler = Arc::new(sampler);
        self
    }

    /// Where spans are recorded.
    #[must_use]
    pub fn recorder(mut self, recorder: impl Recorder) -> Self {
        self.config().recorder = Arc::new(recorder);
        self
    }

    /// Whether the response carries the correlation ID (default: yes).
    #[must_use]
    pub fn echo_correlation_id(mut self, echo: bool) -> Self {
        self.config().echo_correlation_id = echo;
        self
    }

    /// How a correlation ID is made when the request has none (default: a
    /// UUID v7).
    #[must_use]
    pub fn correlation_id_generator(mut self, generate: fn() -> CorrelationId) -> Self {
        self.config().new_correlation_id = generate;
        self
    }

    /// Whether the response tells the caller about the server span.
    #[must_use]
    pub fn response_trace_context(mut self, mode: ResponseTraceContext) -> Self {
        self.config().response_trace_context = mode;
        self
    }

    /// Requests that make no span (they still propagate and get their
    /// correlation ID).
    #[must_use]
    pub fn filter(mut self, filter: RequestFilter) -> Self {
        self.config().filter = Some(filter);
        self
    }
}

impl<S> Layer<S> for TraceContextLayer {
    type Service = TraceContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceContextService::new(inner, Arc::clone(&self.config))
    }
}
