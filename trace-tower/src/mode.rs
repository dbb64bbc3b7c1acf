//! Whether the layer records spans: a type parameter of
//! [`TraceContextLayer`](crate::TraceContextLayer), so that a layer that
//! records nothing hands the response back as it is.
//!
//! [`TraceContextLayer::new`](crate::TraceContextLayer::new) makes a
//! [`PropagationOnly`] layer; setting a recorder makes it [`Recording`].
//! Nobody names these types unless they store a layer in a field.

use http::Response;
use trace_core::{ServerTracing, TraceContext, instrument::ServerSpan};

use crate::ResponseBody;

mod sealed {
    pub trait Sealed {}
}

/// What the layer does with a response: see the [module docs](self).
/// Implemented by [`PropagationOnly`] and [`Recording`] only.
///
/// # Examples
///
/// ```
/// use trace_tower::{TraceContextLayer, mode::{Mode, PropagationOnly, Recording}};
///
/// fn records<M: Mode>(_: &TraceContextLayer<M>) -> bool {
///     std::any::TypeId::of::<M>() == std::any::TypeId::of::<Recording>()
/// }
/// assert!(!records(&TraceContextLayer::new()));
/// assert!(records(&TraceContextLayer::new().recorder(trace_core::InMemoryRecorder::new(8))));
/// # let _: TraceContextLayer<PropagationOnly> = TraceContextLayer::new();
/// ```
pub trait Mode: sealed::Sealed + Send + Sync + 'static {
    /// The response body the layer returns for an inner body `B`: its
    /// frames and errors are `B`'s.
    type Body<B: http_body::Body>: http_body::Body<Data = B::Data, Error = B::Error>;

    /// Writes the response headers and decides how the span ends.
    #[doc(hidden)]
    fn respond<B: http_body::Body>(
        tracing: &ServerTracing,
        span: ServerSpan,
        context: &TraceContext,
        response: Response<B>,
    ) -> Response<Self::Body<B>>;
}

/// Nothing is recorded: the response's body is the inner service's own.
///
/// The request still gets everything else: the trust policy, the sampler
/// (its decision goes downstream in the sampled flag), the context in the
/// extensions and current while the handler runs, `tracestate`, baggage and
/// the correlation ID. Since no span outlives the head, the body is not
/// wrapped, and axum does not box it again.
///
/// # Examples
///
/// ```
/// use trace_tower::{TraceContextLayer, mode::PropagationOnly};
///
/// let layer: TraceContextLayer<PropagationOnly> = TraceContextLayer::new();
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct PropagationOnly;

/// Spans are recorded: the response's body is a [`ResponseBody`], which
/// ends the server span when the body has been sent.
///
/// # Examples
///
/// ```
/// use trace_core::InMemoryRecorder;
/// use trace_tower::{TraceContextLayer, mode::Recording};
///
/// let layer: TraceContextLayer<Recording> = TraceContextLayer::new().recorder(InMemoryRecorder::new(8));
/// # let _ = layer;
/// ```
#[derive(Debug, Clone, Copy, Default)]
pub struct Recording;

impl sealed::Sealed for PropagationOnly {}
impl sealed::Sealed for Recording {}

impl Mode for PropagationOnly {
    type Body<B: http_body::Body> = B;

    fn respond<B: http_body::Body>(
        tracing: &ServerTracing,
        span: ServerSpan,
        context: &TraceContext,
        mut response: Response<B>,
    ) -> Response<B> {
        tracing.response_head(span, context, &mut response);
        response
    }
}

impl Mode for Recording {
    type Body<B: http_body::Body> = ResponseBody<B>;

    fn respond<B: http_body::Body>(
        tracing: &ServerTracing,
        span: ServerSpan,
        context: &TraceContext,
        response: Response<B>,
    ) -> Response<ResponseBody<B>> {
        let (mut head, body) = response.into_parts();
        let body = tracing.response(span, context, &mut head, body);
        Response::from_parts(head, body)
    }
}
