//! The bridge to the OpenTelemetry API (feature `opentelemetry`).
//!
//! - [`Propagator`] is an OpenTelemetry [`TextMapPropagator`]: install it with
//!   `opentelemetry::global::set_text_map_propagator` and every
//!   OpenTelemetry-instrumented library reads and writes headers with this
//!   crate's validation and limits.
//! - [`TraceContext::to_otel_context`] and
//!   [`TraceContext::from_otel_context`] convert both ways. Our context also
//!   rides inside the OpenTelemetry one, so a round trip keeps what the
//!   OpenTelemetry types cannot hold (the correlation ID, baggage order and
//!   duplicate keys).

use http::{HeaderMap, HeaderName, HeaderValue};
use opentelemetry::{
    Context,
    baggage::{Baggage as OtelBaggage, BaggageExt},
    propagation::{Extractor, Injector, TextMapPropagator, text_map_propagator::FieldIter},
    trace::{
        SpanContext, SpanId as OtelSpanId, TraceContextExt, TraceFlags as OtelTraceFlags,
        TraceId as OtelTraceId,
    },
};

use crate::{
    codec::{Baggage, SpanId, TraceFlags, TraceId, TraceState, UBERCTX_PREFIX},
    context::TraceContext,
    policy::Propagate,
    propagation::Propagator,
};

impl From<&TraceContext> for SpanContext {
    /// The OpenTelemetry span context of `cx`: same ids, flags (the Level 2
    /// random flag included), remote flag and tracestate.
    fn from(cx: &TraceContext) -> Self {
        let state = super::recorder::otel_trace_state(cx.trace_state());
        Self::new(
            OtelTraceId::from_bytes(cx.trace_id().to_bytes()),
            OtelSpanId::from_bytes(cx.span_id().to_bytes()),
            OtelTraceFlags::new(cx.flags().to_u8()),
            cx.is_remote(),
            state,
        )
    }
}

pub(crate) fn to_otel_baggage(baggage: &Baggage) -> OtelBaggage {
    let mut out = OtelBaggage::new();
    for member in baggage {
        let properties = member.properties().map(|p| match p.value() {
            Some(value) => format!("{}={value}", p.key()),
            None => p.key().to_owned(),
        });
        let metadata = properties.collect::<Vec<_>>().join(";");
        // Duplicate keys collapse: OpenTelemetry baggage is a map.
        let _ = out.insert_with_metadata(
            member.key().to_owned(),
            member.value().into_owned(),
            metadata,
        );
    }
    out
}

fn from_otel_baggage(baggage: &OtelBaggage) -> Baggage {
    let mut ours = Baggage::default();
    for (key, (value, _)) in baggage {
        // Keys that are not tokens cannot be written by W3C Baggage; skip them.
        let _ = ours.insert(key.as_str(), value.as_str());
    }
    ours
}

impl TraceContext {
    /// This context as an OpenTelemetry `Context`: its span context (remote
    /// or not, as this one is), its baggage, and this context itself.
    ///
    /// # Examples
    ///
    /// ```
    /// use opentelemetry::trace::TraceContextExt;
    /// use trace_core::TraceContext;
    ///
    /// let cx = TraceContext::new_root(true).with_correlation_id("req-1".parse().unwrap());
    /// let otel = cx.to_otel_context();
    /// assert_eq!(otel.span().span_context().span_id().to_bytes(), cx.span_id().to_bytes());
    ///
    /// let back = TraceContext::from_otel_context(&otel).unwrap();
    /// assert_eq!(back.correlation_id(), cx.correlation_id());
    /// ```
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    #[must_use]
    pub fn to_otel_context(&self) -> Context {
        Context::new()
            .with_remote_span_context(SpanContext::from(self))
            .with_baggage(to_otel_baggage(self.baggage()))
            .with_value(self.clone())
    }

    /// The trace context of an OpenTelemetry `Context`: `None` when it has no
    /// valid span context.
    ///
    /// When the context came from [`to_otel_context`](Self::to_otel_context)
    /// and its span is still ours, that exact context comes back; otherwise
    /// one is built from the span context and the baggage (a span started
    /// by OpenTelemetry is a local span of this process).
    #[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
    #[must_use]
    pub fn from_otel_context(cx: &Context) -> Option<Self> {
        let span = cx.span();
        let sc = span.span_context();
        if !sc.is_valid() {
            return None;
        }
        let span_id = SpanId::from_bytes(sc.span_id().to_bytes());
        if let Some(ours) = cx.get::<Self>().filter(|ours| ours.span_id() == span_id) {
            return Some(ours.clone());
        }
        let state = sc
            .trace_state()
            .header()
            .parse::<TraceState>()
            .unwrap_or_default();
        let trace_id = TraceId::from_bytes(sc.trace_id().to_bytes());
        let mut found = Self::from_ids(
            trace_id,
            span_id,
            TraceFlags::new(sc.trace_flags().to_u8()),
            sc.is_remote(),
        )
        .with_trace_state(state)
        .with_baggage(from_otel_baggage(cx.baggage()));
        // A span started under ours (a tracing span whose parent is the
        // request's): the request's correlation ID travels with its trace.
        if let Some(ours) = cx.get::<Self>().filter(|ours| ours.trace_id() == trace_id) {
            found.correlation_id.clone_from(&ours.correlation_id);
        }
        Some(found)
    }
}

impl TraceContext {
    /// This context, as the parent of work done under the current
    /// OpenTelemetry span: that span's id when it is a span of this trace
    /// other than this context's own (one the app started with the
    /// OpenTelemetry API inside the request), else unchanged.
    pub(crate) fn under_current_otel_span(self) -> Self {
        let inner = Context::map_current(|current| {
            let span = current.span();
            let sc = span.span_context();
            (sc.is_valid() && sc.trace_id().to_bytes() == self.trace_id().to_bytes())
                .then(|| SpanId::from_bytes(sc.span_id().to_bytes()))
        });
        match inner {
            Some(id) if id != self.span_id() => self.with_span_id(id),
            _ => self,
        }
    }

    /// The context of the current OpenTelemetry span, for work that has
    /// no context of ours (a span the app started outside any request).
    pub(crate) fn of_current_otel_span() -> Option<Self> {
        Context::map_current(Self::from_otel_context)
    }
}

/// Reads the headers this propagator handles out of an OpenTelemetry
/// extractor into a `HeaderMap`, so extraction runs through the one parser.
fn headers_from(extractor: &dyn Extractor, propagator: &Propagator) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let names = propagator.header_names().iter().map(String::as_str);
    let uberctx = propagator.reads_uberctx().then(|| {
        extractor
            .keys()
            .into_iter()
            .filter(|key| key.len() <= 256 && key.to_ascii_lowercase().starts_with(UBERCTX_PREFIX))
    });
    for name in names.chain(uberctx.into_iter().flatten()) {
        let Ok(header) = HeaderName::from_bytes(name.as_bytes()) else {
            continue;
        };
        for value in extractor.get_all(name).unwrap_or_default() {
            // A value that is not a valid header value is dropped, as an
            // HTTP server would have dropped it.
            if let Ok(value) = HeaderValue::from_str(value) {
                headers.append(header.clone(), value);
            }
        }
    }
    headers
}

#[cfg_attr(docsrs, doc(cfg(feature = "opentelemetry")))]
impl TextMapPropagator for Propagator {
    fn inject_context(&self, cx: &Context, injector: &mut dyn Injector) {
        let mut headers = HeaderMap::new();
        match TraceContext::from_otel_context(cx) {
            Some(ours) => self.inject(&ours, Propagate::ALL, &mut headers),
            // Baggage travels without a trace: W3C Baggage is independent.
            None => self.inject_baggage(&from_otel_baggage(cx.baggage()), &mut headers),
        }
        for (name, value) in &headers {
            if let Ok(value) = value.to_str() {
                injector.set(name.as_str(), value.to_owned());
            }
        }
    }

    fn extract_with_context(&self, cx: &Context, extractor: &dyn Extractor) -> Context {
        let headers = headers_from(extractor, self);
        let incoming = self.extract(&headers);
        let baggage = incoming.baggage.clone();
        let mut out = cx.clone();
        if !baggage.is_empty() {
            out = out.with_baggage(to_otel_baggage(&baggage));
        }
        match incoming.into_remote_context() {
            Some(remote) => out
                .with_remote_span_context(SpanContext::from(&remote))
                .with_value(remote),
            None => out,
        }
    }

    fn fields(&self) -> FieldIter<'_> {
        FieldIter::new(self.header_names())
    }
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use super::*;
    use crate::codec::TraceParent;

    #[test]
    fn span_context_conversion_keeps_everything() {
        let tp =
            TraceParent::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
        let remote = TraceContext::remote(tp).with_trace_state("congo=1,rojo=2".parse().unwrap());
        let sc = SpanContext::from(&remote);
        assert_eq!(sc.trace_id().to_bytes(), tp.trace_id().to_bytes());
        assert_eq!(sc.span_id().to_bytes(), tp.parent_id().to_bytes());
        assert_eq!(sc.trace_flags().to_u8(), 0x03, "the random flag survives");
        assert!(sc.is_remote());
        assert_eq!(sc.trace_state().header(), "congo=1,rojo=2");

        let local = remote.child();
        assert!(!SpanContext::from(&local).is_remote());
    }

    #[test]
    fn round_trip_through_an_otel_context() {
        let cx = TraceContext::new_root(true)
            .with_trace_state("congo=1".parse().unwrap())
            .with_baggage("a=1;p=x,b=2,a=3".parse().unwrap())
            .with_correlation_id("req-1".parse().unwrap());
        let back = TraceContext::from_otel_context(&cx.to_otel_context()).unwrap();
        assert_eq!(back.span_id(), cx.span_id());
        assert_eq!(back.baggage(), cx.baggage(), "order and duplicates kept");
        assert_eq!(back.correlation_id(), cx.correlation_id());
        assert_eq!(back.trace_state(), cx.trace_state());
    }

    #[test]
    fn a_context_made_by_opentelemetry_converts() {
        let sc = SpanContext::new(
            OtelTraceId::from(0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736),
            OtelSpanId::from(0x00f0_67aa_0ba9_02b7),
            OtelTraceFlags::SAMPLED,
            false,
            "rojo=1".parse().unwrap(),
        );
        let otel = Context::new()
            .with_remote_span_context(sc)
            .with_baggage([opentelemetry::KeyValue::new("userId", "Amélie")]);
        let ours = TraceContext::from_otel_context(&otel).unwrap();
        assert_eq!(
            ours.trace_id().to_string(),
            "4bf92f3577b34da6a3ce929d0e0e4736"
        );
        assert_eq!(ours.span_id().to_string(), "00f067aa0ba902b7");
        assert!(ours.is_sampled() && !ours.is_remote());
        assert_eq!(ours.trace_state().get("rojo"), Some("1"));
        assert_eq!(ours.baggage().get("userId").as_deref(), Some("Amélie"));
        assert!(TraceContext::from_otel_context(&Context::new()).is_none());
    }

    #[test]
    fn as_a_text_map_propagator() {
        let propagator = Propagator::default();
        let mut carrier = HashMap::new();
        carrier.insert(
            "traceparent".to_owned(),
            "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03".to_owned(),
        );
        carrier.insert("tracestate".to_owned(), "congo=1".to_owned());
        carrier.insert("baggage".to_owned(), "userId=alice".to_owned());
        carrier.insert("x-request-id".to_owned(), "req-9".to_owned());
        let cx = TextMapPropagator::extract(&propagator, &carrier);
        let span = cx.span();
        let sc = span.span_context();
        assert!(sc.is_valid() && sc.is_remote());
        assert_eq!(sc.trace_flags().to_u8(), 0x03);
        assert_eq!(
            cx.baggage().get("userId").map(|v| v.as_str().to_owned()),
            Some("alice".to_owned())
        );

        let mut out = HashMap::new();
        propagator.inject_context(&cx, &mut out);
        assert_eq!(
            out["traceparent"], carrier["traceparent"],
            "what came in goes out"
        );
        assert_eq!(out["tracestate"], "congo=1");
        assert_eq!(out["baggage"], "userId=alice");
        assert_eq!(out["x-request-id"], "req-9");

        let mut fields: Vec<_> = TextMapPropagator::fields(&propagator).collect();
        fields.sort_unstable();
        assert_eq!(
            fields,
            [
                "baggage",
                "traceparent",
                "tracestate",
                "x-correlation-id",
                "x-request-id"
            ]
        );
    }

    #[test]
    fn our_validation_applies_to_opentelemetry_users() {
        // The SDK's own propagator accepts this (see the cross-check tests).
        let mut carrier = HashMap::new();
        carrier.insert("traceparent".to_owned(), "00-abc-def-01".to_owned());
        let cx = TextMapPropagator::extract(&Propagator::default(), &carrier);
        assert!(!cx.span().span_context().is_valid());

        // Baggage alone is injected without a trace.
        let cx = Context::new().with_baggage([opentelemetry::KeyValue::new("k", "v w")]);
        let mut out = HashMap::new();
        Propagator::default().inject_context(&cx, &mut out);
        assert_eq!(out.get("baggage").map(String::as_str), Some("k=v%20w"));
        assert!(!out.contains_key("traceparent"));
    }

    #[test]
    fn b3_and_jaeger_as_a_text_map_propagator() {
        use crate::propagation::Format;

        let propagator = Propagator::default().with_formats([Format::B3, Format::Jaeger]);
        let fields: Vec<&str> = propagator.fields().collect();
        assert!(
            fields.contains(&"b3") && fields.contains(&"uber-trace-id"),
            "{fields:?}"
        );

        let mut carrier = HashMap::new();
        carrier.insert(
            "uber-trace-id".to_owned(),
            "4bf92f3577b34da6a3ce929d0e0e4736:00f067aa0ba902b7:0:1".to_owned(),
        );
        carrier.insert("uberctx-tenant".to_owned(), "acme%20eu".to_owned());
        let cx = TextMapPropagator::extract(&propagator, &carrier);
        let span = cx.span();
        assert!(span.span_context().is_valid() && span.span_context().is_sampled());
        assert_eq!(
            cx.baggage().get("tenant").map(|v| v.as_str().to_owned()),
            Some("acme eu".to_owned()),
            "uberctx- keys found among the extractor's keys"
        );
        let mut out = HashMap::new();
        propagator.inject_context(&cx, &mut out);
        assert_eq!(
            out["b3"],
            "4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1"
        );
        assert_eq!(out["uberctx-tenant"], "acme%20eu");

        // Baggage alone, in the format that carries it.
        let alone = Context::new().with_baggage([opentelemetry::KeyValue::new("k", "v w")]);
        let mut out = HashMap::new();
        propagator.inject_context(&alone, &mut out);
        assert_eq!(out.get("uberctx-k").map(String::as_str), Some("v%20w"));
        assert!(!out.contains_key("baggage") && !out.contains_key("b3"));
    }
}
