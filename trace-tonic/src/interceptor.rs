//! The client interceptor.

use tonic::{Request, Status, service::Interceptor};
use trace_core::{Propagate, Propagator, TraceContext};

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
#[derive(Debug, Clone, Default)]
pub struct TraceInterceptor {
    propagator: Propagator,
    propagate: Option<Propagate>,
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
        self.propagator = propagator;
        self
    }

    /// This interceptor, sending only `fields` (the channel has one
    /// destination, so one decision serves every call).
    #[must_use]
    pub fn propagate(mut self, fields: Propagate) -> Self {
        self.propagate = Some(fields);
        self
    }
}

impl Interceptor for TraceInterceptor {
    fn call(&mut self, mut request: Request<()>) -> Result<Request<()>, Status> {
        let parent = request
            .extensions()
            .get::<TraceContext>()
            .cloned()
            .or_else(TraceContext::current);
        if let Some(parent) = parent {
            let child = parent.child();
            let fields = self.propagate.unwrap_or(Propagate::ALL);
            // gRPC metadata is an HTTP/2 header map underneath.
            self.propagator
                .inject(&child, fields, request.metadata_mut().as_mut());
        }
        Ok(request)
    }
}
