//! What every request of one layer shares.

use std::{fmt, sync::Arc};

use trace_core::{
    AlwaysOn, CorrelationId, NoopRecorder, ParentBased, Propagator, Recorder, RequestFilter,
    Sampler, Trust, TrustPolicy,
};

/// Whether and how the response tells the caller about the server's span.
///
/// Never carries baggage or `tracestate` back to the caller.
///
/// # Examples
///
/// ```
/// use trace_tower::{ResponseTraceContext, TraceContextLayer};
///
/// let layer = TraceContextLayer::new().response_trace_context(ResponseTraceContext::ServerTiming);
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseTraceContext {
    /// Nothing (the default).
    #[default]
    Off,
    /// `server-timing: trace;desc=00-{trace-id}-{span-id}-{flags}`: the form
    /// of the current W3C Trace Context draft.
    ServerTiming,
    /// `traceresponse: 00-{trace-id}-{span-id}-{flags}`: the earlier draft's
    /// header, for callers that still read it.
    TraceResponse,
}

/// Which protocol's conventions name and classify the server span.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Protocol {
    /// `{METHOD} {route}`, HTTP attributes, an error for 5xx.
    Http,
    /// `package.Service/Method`, `rpc.*` attributes, the status from
    /// `grpc-status` (a trailers-only response's headers, or the trailers).
    Grpc,
}

#[derive(Clone)]
pub(crate) struct Config {
    pub(crate) protocol: Protocol,
    pub(crate) propagator: Propagator,
    pub(crate) trust: Arc<dyn TrustPolicy>,
    pub(crate) sampler: Arc<dyn Sampler>,
    pub(crate) recorder: Arc<dyn Recorder>,
    pub(crate) echo_correlation_id: bool,
    pub(crate) new_correlation_id: fn() -> CorrelationId,
    pub(crate) response_trace_context: ResponseTraceContext,
    pub(crate) filter: Option<RequestFilter>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            protocol: Protocol::Http,
            propagator: Propagator::default(),
            trust: Arc::new(Trust::CONTINUE),
            sampler: Arc::new(ParentBased::new(AlwaysOn)),
            recorder: Arc::new(NoopRecorder),
            echo_correlation_id: true,
            new_correlation_id: CorrelationId::new,
            response_trace_context: ResponseTraceContext::Off,
            filter: None,
        }
    }
}

impl fmt::Debug for Config {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Config")
            .field("protocol", &self.protocol)
            .field("propagator", &self.propagator)
            .field("recording", &self.recorder.is_enabled())
            .field("echo_correlation_id", &self.echo_correlation_id)
            .field("response_trace_context", &self.response_trace_context)
            .field("filter", &self.filter)
            .finish_non_exhaustive()
    }
}
