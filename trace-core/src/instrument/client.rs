//! What every outgoing-call adapter does per call, once.

use std::{fmt, sync::Arc};

use http::{HeaderMap, Uri};

use super::Started;
use crate::{
    context::TraceContext,
    instrument::ResponseInfo,
    policy::{DestinationPolicy, Propagate, RequestInfo},
    propagation::Propagator,
    record::{Attribute, NoopRecorder, Recorder, Span, SpanKind, SpanRef, SpanStart},
    sampling::{AlwaysOn, ParentBased, Sampler},
};

/// The configuration the client adapters (HTTP and gRPC) share, and the
/// start of each call: a child of the parent with its own span id, the
/// headers the destination may receive (replacing any already there), and
/// the client span, whose id is the one injected.
///
/// Defaults: the default propagator, parents' sampling followed (new traces
/// sampled), nothing recorded, everything to every destination.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, Uri};
/// use trace_core::{ClientTracing, InMemoryRecorder, TraceContext};
///
/// let recorder = InMemoryRecorder::new(16);
/// let tracing = ClientTracing::default().recorder(recorder.clone());
/// let parent = TraceContext::new_root(true);
/// let mut headers = HeaderMap::new();
/// let call = tracing.start_call(Some(&parent), "GET", Some(&Uri::from_static("http://users/")), &mut headers, Vec::new);
/// assert_eq!(headers["traceparent"], call.context.traceparent().to_string());
/// assert_eq!(call.context.parent_span_id(), Some(parent.span_id()));
/// call.span.end(trace_core::Status::Unset, Vec::new());
/// assert_eq!(recorder.finished()[0].span_id, call.context.span_id());
/// ```
#[derive(Clone)]
pub struct ClientTracing {
    propagator: Propagator,
    sampler: Arc<dyn Sampler>,
    recorder: Arc<dyn Recorder>,
    destinations: Arc<dyn DestinationPolicy>,
    no_context: NoContext,
    hooks: super::Hooks,
    #[cfg(feature = "metrics")]
    metrics: Option<Arc<crate::metrics::Instruments>>,
}

/// What a call made outside any trace does.
///
/// # Examples
///
/// ```
/// use trace_core::{ClientTracing, instrument::NoContext};
///
/// let tracing = ClientTracing::default().without_context(NoContext::SendNothing);
/// assert!(!tracing.starts_call(None), "outside any trace, nothing is sent");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum NoContext {
    /// Start a new trace (the default): the callee still joins something.
    #[default]
    NewRoot,
    /// Send no trace headers and record nothing.
    SendNothing,
}

/// A started outgoing call: its context (already injected) and its span.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, Uri};
/// use trace_core::{ClientTracing, Status, TraceContext};
///
/// let mut headers = HeaderMap::new();
/// let parent = TraceContext::new_root(true);
/// let call = ClientTracing::default().start_call(Some(&parent), "GET", Some(&Uri::from_static("http://users/")), &mut headers, Vec::new);
/// assert_eq!(call.context.parent_span_id(), Some(parent.span_id()));
/// call.span.end(Status::Unset, Vec::new());
/// ```
#[derive(Debug)]
#[non_exhaustive]
pub struct ClientCall {
    /// The call's context: a child of the parent, with its own span id.
    pub context: TraceContext,
    /// The client span, to end when the response does.
    pub span: Span,
}

impl Default for ClientTracing {
    fn default() -> Self {
        Self {
            propagator: Propagator::default(),
            sampler: Arc::new(ParentBased::new(AlwaysOn)),
            recorder: Arc::new(NoopRecorder),
            destinations: Arc::new(Propagate::ALL),
            no_context: NoContext::NewRoot,
            hooks: super::Hooks::default(),
            #[cfg(feature = "metrics")]
            metrics: None,
        }
    }
}

impl ClientTracing {
    /// This configuration with another propagator.
    #[must_use]
    pub fn propagator(mut self, propagator: Propagator) -> Self {
        self.propagator = propagator;
        self
    }

    /// This configuration with another sampler.
    #[must_use]
    pub fn sampler(mut self, sampler: impl Sampler) -> Self {
        self.sampler = Arc::new(sampler);
        self
    }

    /// This configuration with another recorder.
    #[must_use]
    pub fn recorder(mut self, recorder: impl Recorder) -> Self {
        self.recorder = Arc::new(recorder);
        self
    }

    /// This configuration with another destination policy.
    #[must_use]
    pub fn destinations(mut self, policy: impl DestinationPolicy) -> Self {
        self.destinations = Arc::new(policy);
        self
    }

    /// This configuration with another rule for calls made outside any
    /// trace.
    #[must_use]
    pub fn without_context(mut self, no_context: NoContext) -> Self {
        self.no_context = no_context;
        self
    }

    /// Runs `hook` at each call whose span records, with the request (its
    /// headers as they leave) and the span: the app's attributes from the
    /// call. Adapters run it through [`record_request`](Self::record_request).
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::ClientTracing;
    ///
    /// let tracing = ClientTracing::default().on_request(|request, span| {
    ///     span.set_attribute("peer.service", request.uri.host().unwrap_or("unknown").to_owned());
    /// });
    /// # let _ = tracing;
    /// ```
    #[must_use]
    pub fn on_request(
        mut self,
        hook: impl Fn(&RequestInfo<'_>, &SpanRef) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.set_request(hook);
        self
    }

    /// Runs `hook` when a call's response head arrives, for a span that
    /// records. Adapters run it through
    /// [`record_response`](Self::record_response).
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::ClientTracing;
    ///
    /// let tracing = ClientTracing::default().on_response(|response, span| {
    ///     if let Some(region) = response.headers.get("x-served-by").and_then(|v| v.to_str().ok()) {
    ///         span.set_attribute("served_by", region.to_owned());
    ///     }
    /// });
    /// # let _ = tracing;
    /// ```
    #[must_use]
    pub fn on_response(
        mut self,
        hook: impl Fn(&ResponseInfo<'_>, &SpanRef) + Send + Sync + 'static,
    ) -> Self {
        self.hooks.set_response(hook);
        self
    }

    /// Runs the request hook (see [`on_request`](Self::on_request)) for a
    /// call's span: what an adapter calls once the call's headers are
    /// written.
    #[inline]
    pub fn record_request(&self, request: &RequestInfo<'_>, span: &Span) {
        self.hooks.request(request, span);
    }

    /// Runs the response hook (see [`on_response`](Self::on_response)) for
    /// a call's span: what an adapter calls when the response head arrives.
    #[inline]
    pub fn record_response(&self, response: &ResponseInfo<'_>, span: &Span) {
        self.hooks.response(response, span);
    }

    /// Measures every call (feature `metrics`): `http.client.request.duration`
    /// or `rpc.client.call.duration` for `protocol`, through the
    /// OpenTelemetry metrics API (see [`metrics`](crate::metrics)). The
    /// adapters start each measurement with [`measure_call`](Self::measure_call).
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry_sdk::metrics::SdkMeterProvider;
    /// use trace_core::{ClientTracing, instrument::Protocol, metrics::Metrics};
    ///
    /// let provider = SdkMeterProvider::builder().build();
    /// let tracing = ClientTracing::default().metrics(&Metrics::new(&provider), Protocol::Grpc);
    /// # let _ = tracing;
    /// ```
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn metrics(mut self, metrics: &crate::metrics::Metrics, protocol: super::Protocol) -> Self {
        self.metrics = Some(metrics.client(protocol));
        self
    }

    /// Starts measuring one call (each attempt is one), when metrics are
    /// on: its `method`, its `destination` (scheme, `server.address`,
    /// `server.port`), and `operation`: the caller's `url.template` for
    /// HTTP, the path (`/package.Service/Method`) for gRPC.
    #[cfg(feature = "metrics")]
    #[cfg_attr(docsrs, doc(cfg(feature = "metrics")))]
    #[must_use]
    pub fn measure_call(
        &self,
        method: &http::Method,
        destination: Option<&Uri>,
        operation: Option<&str>,
    ) -> Option<crate::metrics::Measurement> {
        Some(
            self.metrics
                .as_ref()?
                .start_call(method, destination, operation),
        )
    }

    /// Whether a call under `parent` is traced at all: always under a
    /// parent; outside any trace, unless [`NoContext::SendNothing`] says to
    /// send it untouched (no headers, no span).
    #[must_use]
    pub fn starts_call(&self, parent: Option<&TraceContext>) -> bool {
        parent.is_some() || self.no_context == NoContext::NewRoot
    }

    /// The propagator.
    #[must_use]
    pub fn propagator_ref(&self) -> &Propagator {
        &self.propagator
    }

    /// Starts a call under `parent` (a new trace when `None`) to
    /// `destination` (when unknown, only what the destination policy sends
    /// everywhere: nothing by default, fail closed), writing
    /// its headers into `headers` and starting its client span named `name`.
    /// `attributes` are computed only if the span records.
    pub fn start_call<F>(
        &self,
        parent: Option<&TraceContext>,
        name: &str,
        destination: Option<&Uri>,
        headers: &mut HeaderMap,
        attributes: F,
    ) -> ClientCall
    where
        F: FnOnce() -> Vec<Attribute<'static>>,
    {
        let started = self.propagate(parent, name, destination, headers);
        let span = Span::start_with(
            &self.recorder,
            started.decision,
            || SpanStart::new(&started.context, name, SpanKind::Client),
            attributes,
        );
        ClientCall {
            context: started.context,
            span,
        }
    }

    /// The propagation half of [`start_call`](Self::start_call), for an
    /// adapter that never sees the call's outcome and so records no span
    /// (an interceptor, a helper that only writes headers): the call's
    /// context, written into `headers`.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::HeaderMap;
    /// use trace_core::{ClientTracing, Propagate, TraceContext};
    ///
    /// let tracing = ClientTracing::default().destinations(Propagate::TRACEPARENT);
    /// let parent = TraceContext::new_root(true);
    /// let mut headers = HeaderMap::new();
    /// let call = tracing.propagate(Some(&parent), "call", None, &mut headers);
    /// assert_eq!(headers["traceparent"], call.context.traceparent().to_string());
    /// assert!(!headers.contains_key("x-request-id"), "only what the policy sends everywhere");
    /// ```
    pub fn propagate(
        &self,
        parent: Option<&TraceContext>,
        name: &str,
        destination: Option<&Uri>,
        headers: &mut HeaderMap,
    ) -> Started {
        let started =
            TraceContext::start_child(parent, &*self.sampler, name, SpanKind::Client, &[]);
        let fields = self.fields_for(destination);
        self.propagator.inject(&started.context, fields, headers);
        started
    }

    /// The fields the destination policy lets `destination` receive (when
    /// unknown, what it sends everywhere: nothing by default).
    ///
    /// # Examples
    ///
    /// ```
    /// use http::Uri;
    /// use trace_core::{AllowHosts, ClientTracing, Propagate};
    ///
    /// let tracing = ClientTracing::default()
    ///     .destinations(AllowHosts::new(["users"]).otherwise(Propagate::TRACEPARENT));
    /// assert_eq!(tracing.fields_for(Some(&Uri::from_static("http://users/"))), Propagate::ALL);
    /// assert_eq!(tracing.fields_for(Some(&Uri::from_static("http://else/"))), Propagate::TRACEPARENT);
    /// assert_eq!(tracing.fields_for(None), Propagate::NONE);
    /// assert!(!tracing.same_everywhere());
    /// ```
    #[must_use]
    pub fn fields_for(&self, destination: Option<&Uri>) -> Propagate {
        destination.map_or_else(
            || self.destinations.decide_unknown(),
            |uri| self.destinations.decide(uri),
        )
    }

    /// Whether every destination receives the same fields (see
    /// [`DestinationPolicy::same_everywhere`]): then following a redirect
    /// needs no decision of ours.
    #[must_use]
    pub fn same_everywhere(&self) -> bool {
        self.destinations.same_everywhere().is_some()
    }
}

impl fmt::Debug for ClientTracing {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientTracing")
            .field("propagator", &self.propagator)
            .field("recording", &self.recorder.is_enabled())
            .field("no_context", &self.no_context)
            .finish_non_exhaustive()
    }
}

impl TraceContext {
    /// The context an outgoing call continues: the one attached to the
    /// request, else [`TraceContext::current`].
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::TraceContext;
    ///
    /// assert!(TraceContext::attached_or_current(None).is_none());
    /// let cx = TraceContext::new_root(true);
    /// assert_eq!(TraceContext::attached_or_current(Some(&cx)).unwrap().span_id(), cx.span_id());
    /// ```
    ///
    /// With the feature `tracing-opentelemetry`, a call made inside a
    /// `tracing` span of the same trace (an `#[instrument]` function under
    /// a tracing-opentelemetry layer) is that span's child, as its log
    /// lines are.
    #[must_use]
    pub fn attached_or_current(attached: Option<&Self>) -> Option<Self> {
        let cx = attached.cloned().or_else(Self::current);
        // Under a span the app started with the OpenTelemetry API.
        #[cfg(feature = "opentelemetry")]
        let cx = match cx {
            Some(cx) => Some(cx.under_current_otel_span()),
            None => Self::of_current_otel_span(),
        };
        #[cfg(feature = "tracing-opentelemetry")]
        let cx = match cx {
            Some(cx) => Some(cx.under_current_tracing_span()),
            // A task spawned with tracing's `.in_current_span()` only: the
            // tracing span carries the trace.
            None => Self::of_current_tracing_span(),
        };
        cx
    }
}
