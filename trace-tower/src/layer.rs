//! The layer and its configuration.

use std::sync::Arc;

use tower_layer::Layer;
use trace_core::ServerTracing;

use crate::TraceContextService;

/// Makes every request join the caller's trace: see the [crate docs](crate).
///
/// Its settings are trace-core's [`ServerTracing`], which does everything a
/// server does per request; this layer only drives it. Cheap to clone: the
/// configuration is shared.
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
    tracing: Arc<ServerTracing>,
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
        Self::from(ServerTracing::new_for_grpc())
    }

    fn tracing_mut(&mut self) -> &mut ServerTracing {
        Arc::make_mut(&mut self.tracing)
    }

    trace_core::__server_setters!();

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

impl From<ServerTracing> for TraceContextLayer {
    fn from(tracing: ServerTracing) -> Self {
        Self {
            tracing: Arc::new(tracing),
        }
    }
}

impl<S> Layer<S> for TraceContextLayer {
    type Service = TraceContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TraceContextService::new(inner, Arc::clone(&self.tracing))
    }
}
