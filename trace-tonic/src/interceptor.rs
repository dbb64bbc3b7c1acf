//! The client interceptor.

use tonic::{Request, Status, service::Interceptor};
use trace_core::{ClientTracing, Propagate, Propagator, TraceContext};

/// Writes the current trace context into each outgoing call's metadata.
///
/// The context is the one attached to the request (a [`TraceContext`]
/// extension) or else [`TraceContext::current`]; each call gets a child of
/// it with its own span id, as W3C Trace Context asks. Outside any trace
/// nothing is written.
///
/// An interceptor runs before the call and never sees its outcome, so it
/// records no span and cannot tell a failed call from a good one: it is
/// propagation only.
///
/// # Examples
///
/// ```
/// use tonic::service::Interceptor;
/// use trace_core::TraceContext;
/// use trace_tonic::TraceInterceptor;
///
/// let cx = TraceContext::new_root(true);
/// let _guard = cx.clone().attach();
/// let request = TraceInterceptor::new().call(tonic::Request::new(())).unwrap();
/// let sent = request.metadata().get("traceparent").unwrap().to_str().unwrap();
/// assert!(sent.contains(&cx.trace_id().to_string()));
/// assert!(!sent.contains(&cx.span_id().to_string()), "a child's span id, not the caller's");
/// ```
#[derive(Debug, Clone)]
pub struct TraceInterceptor {
    tracing: ClientTracing,
}

impl Default for TraceInterceptor {
    fn default() -> Self {
        Self {
            tracing: ClientTracing::default().destinations(Propagate::ALL),
        }
    }
}

impl TraceInterceptor {
    /// Propagates everything with the default propagator.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// This interceptor with another propagator.
    #[must_use]
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.tracing = self.tracing.propagator(propagator);
        self
    }

    /// This interceptor, sending only `fields` (the channel has one
    /// destination, so one decision serves every call).
    #[must_use]
    pub fn propagate(mut self, fields: Propagate) -> Self {
        self.tracing = self.tracing.destinations(fields);
        self
    }
}

impl Interceptor for TraceInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        if let Some(parent) =
            TraceContext::attached_or_current(request.extensions().get::<TraceContext>())
        {
            // gRPC metadata is an HTTP/2 header map underneath.
            let headers = request.metadata_mut().as_mut();
            self.tracing.propagate(Some(&parent), "grpc", None, headers);
        }
        Ok(request)
    }
}
