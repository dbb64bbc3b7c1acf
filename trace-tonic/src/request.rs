//! Reading the request's context in a service method.

use trace_core::{Baggage, CorrelationId, TraceContext};

/// The trace context of a `tonic::Request`, as the server layer
/// (`trace_tower::TraceContextLayer::new_for_grpc()`) left it in the
/// request's extensions.
///
/// [`TraceContext::current`] gives the same context anywhere in the method;
/// this reads it from the request itself.
///
/// # Examples
///
/// ```
/// use trace_core::TraceContext;
/// use trace_tonic::RequestExt;
///
/// let mut request = tonic::Request::new(());
/// assert!(request.trace_context().is_none(), "no layer, no context");
/// request.extensions_mut().insert(TraceContext::new_root(true).with_correlation_id("req-1".parse().unwrap()));
/// assert_eq!(request.correlation_id().unwrap().as_str(), "req-1");
/// ```
pub trait RequestExt {
    /// The request's trace context.
    fn trace_context(&self) -> Option<&TraceContext>;

    /// The request's correlation ID.
    fn correlation_id(&self) -> Option<&CorrelationId> {
        self.trace_context().and_then(TraceContext::correlation_id)
    }

    /// The request's baggage.
    fn baggage(&self) -> Option<&Baggage> {
        self.trace_context().map(TraceContext::baggage)
    }
}

impl<T> RequestExt for tonic::Request<T> {
    fn trace_context(&self) -> Option<&TraceContext> {
        self.extensions().get::<TraceContext>()
    }
}
