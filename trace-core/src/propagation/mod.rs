//! The propagator: reading and writing the headers of a request.

mod carrier;
mod env;
mod formats;
mod incoming;

use std::{fmt, sync::Arc};

use http::{HeaderName, HeaderValue};

use crate::{
    codec::{
        BAGGAGE, Baggage, CorrelationId, TRACEPARENT, TRACESTATE, TraceParent, TraceState,
        X_CORRELATION_ID, X_REQUEST_ID,
    },
    context::TraceContext,
    policy::Propagate,
};

#[cfg(feature = "opentelemetry")]
pub(crate) use self::env::KNOWN as KNOWN_PROPAGATORS;
use self::formats::Formats;
pub use self::{
    carrier::Carrier,
    env::EnvError,
    formats::Format,
    incoming::{CallerSampling, DropReason, Dropped, Incoming},
};

/// Where a header was seen in a carrier: its first value, and whether it
/// had more than one.
#[derive(Clone, Copy)]
struct Seen<'a> {
    first: Option<&'a HeaderValue>,
    repeated: bool,
}

impl<'a> Seen<'a> {
    const NONE: Self = Self {
        first: None,
        repeated: false,
    };

    fn add(&mut self, value: &'a HeaderValue) {
        if self.first.is_some() {
            self.repeated = true;
        } else {
            self.first = Some(value);
        }
    }
}

/// The headers extraction reads, found in one pass or by lookups.
struct Found<'a> {
    traceparent: Seen<'a>,
    tracestate: Seen<'a>,
    baggage: Seen<'a>,
    /// The first of the correlation-ID names (in the configured order)
    /// that is present, and its index.
    correlation: Option<(usize, Seen<'a>)>,
}

/// Reads and writes trace context, baggage and the correlation ID.
///
/// Built once and shared by every adapter; cloning is a reference-count
/// increment. By default it reads and writes W3C Trace Context, W3C Baggage
/// and `x-request-id` (reading `x-correlation-id` too). B3 and Jaeger are
/// further [`Format`]s of the same propagator
/// ([`with_formats`](Self::with_formats), or `OTEL_PROPAGATORS` through
/// [`from_env`](Self::from_env)): the context comes from the first format
/// in the list that yields a valid one, and every format is written with
/// the same trace id, span id and sampled flag.
///
/// It never depends on a global propagator being installed: adapters
/// propagate through it directly, so propagation cannot silently do
/// nothing.
///
/// # Examples
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use trace_core::{Propagate, Propagator};
///
/// let propagator = Propagator::default();
/// let mut incoming = HeaderMap::new();
/// incoming.insert("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
/// incoming.insert("x-request-id", HeaderValue::from_static("req-42"));
///
/// let cx = propagator.extract(&incoming).into_remote_context().unwrap().child();
/// let mut outgoing = HeaderMap::new();
/// propagator.inject(&cx, Propagate::ALL, &mut outgoing);
/// assert_eq!(outgoing["traceparent"], cx.traceparent().to_string());
/// assert_eq!(outgoing["x-request-id"], "req-42");
/// assert!(outgoing.get("tracestate").is_none(), "an empty tracestate is not sent");
/// ```
///
/// B3 in, W3C and B3 out:
///
/// ```
/// use http::{HeaderMap, HeaderValue};
/// use trace_core::{Propagate, Propagator, propagation::Format};
///
/// let propagator = Propagator::default().with_formats([Format::TraceContext, Format::Baggage, Format::B3]);
/// let mut incoming = HeaderMap::new();
/// incoming.insert("b3", HeaderValue::from_static("80f198ee56343ba864fe8b2a57d3eff7-e457b5a2e4d86bd1-1"));
/// let cx = propagator.extract(&incoming).into_remote_context().unwrap().child();
///
/// let mut outgoing = HeaderMap::new();
/// propagator.inject(&cx, Propagate::ALL, &mut outgoing);
/// assert_eq!(outgoing["traceparent"], format!("00-80f198ee56343ba864fe8b2a57d3eff7-{}-01", cx.span_id()));
/// assert_eq!(outgoing["b3"], format!("80f198ee56343ba864fe8b2a57d3eff7-{}-1", cx.span_id()));
/// ```
#[derive(Clone)]
pub struct Propagator {
    inner: Arc<Config>,
}

#[derive(Clone)]
struct Config {
    /// What the formats carry, within what [`Propagator::propagating`]
    /// allows: the correlation ID always, unless taken away there.
    fields: Propagate,
    /// What [`Propagator::propagating`] allows (all by default).
    allowed: Propagate,
    formats: Formats,
    /// What extraction reads, decided once from the formats and fields.
    reads: Reads,
    correlation_read: Vec<HeaderName>,
    correlation_write: HeaderName,
    /// Every header this propagator reads, kept as text for APIs that
    /// lend the names out (OpenTelemetry's `TextMapPropagator::fields`).
    header_names: Box<[String]>,
}

/// What [`Propagator::extract`] reads: one flag each, so that the default
/// (W3C) path asks one question per header.
#[derive(Clone, Copy)]
struct Reads {
    traceparent: bool,
    tracestate: bool,
    baggage: bool,
    /// B3 or Jaeger trace context.
    foreign: bool,
    /// Jaeger's `uberctx-` baggage.
    uberctx: bool,
}

impl Config {
    fn new(
        allowed: Propagate,
        formats: Formats,
        correlation_read: Vec<HeaderName>,
        correlation_write: HeaderName,
    ) -> Self {
        let fields = allowed & (formats.fields | Propagate::CORRELATION_ID);
        let mut names = Vec::new();
        for (on, name) in [
            (
                formats.trace_context && fields.contains(Propagate::TRACEPARENT),
                TRACEPARENT,
            ),
            (
                formats.trace_context && fields.contains(Propagate::TRACESTATE),
                TRACESTATE,
            ),
            (
                formats.baggage && fields.contains(Propagate::BAGGAGE),
                BAGGAGE,
            ),
        ] {
            if on {
                names.push(name.as_str().to_owned());
            }
        }
        if fields.contains(Propagate::TRACEPARENT) {
            names.extend(formats.header_names().iter().map(|n| n.as_str().to_owned()));
        }
        if fields.contains(Propagate::CORRELATION_ID) {
            names.extend(correlation_read.iter().map(|n| n.as_str().to_owned()));
        }
        let traceparent = formats.trace_context && fields.contains(Propagate::TRACEPARENT);
        let reads = Reads {
            traceparent,
            tracestate: traceparent && fields.contains(Propagate::TRACESTATE),
            baggage: formats.baggage && fields.contains(Propagate::BAGGAGE),
            foreign: formats.foreign() && fields.contains(Propagate::TRACEPARENT),
            uberctx: formats.jaeger && fields.contains(Propagate::BAGGAGE),
        };
        Self {
            fields,
            allowed,
            formats,
            reads,
            correlation_read,
            correlation_write,
            header_names: names.into(),
        }
    }

    /// This configuration with other formats or fields.
    fn with(&self, allowed: Propagate, formats: Formats) -> Self {
        Self::new(
            allowed,
            formats,
            self.correlation_read.clone(),
            self.correlation_write.clone(),
        )
    }
}

impl Default for Propagator {
    fn default() -> Self {
        Self {
            inner: Arc::new(Config::new(
                Propagate::ALL,
                Formats::new([Format::TraceContext, Format::Baggage]),
                vec![X_REQUEST_ID, X_CORRELATION_ID],
                X_REQUEST_ID,
            )),
        }
    }
}

impl Propagator {
    /// This propagator, reading and writing only `fields` (of what its
    /// formats carry).
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::{Propagate, Propagator};
    ///
    /// let no_baggage = Propagator::default().propagating(Propagate::ALL & !Propagate::BAGGAGE);
    /// assert!(!no_baggage.propagates().contains(Propagate::BAGGAGE));
    /// ```
    #[must_use]
    pub fn propagating(self, fields: Propagate) -> Self {
        Self::from_config(self.inner.with(fields, self.inner.formats.clone()))
    }

    /// This propagator, reading and writing these formats: extraction
    /// takes the context from the first of them that yields a valid one
    /// (and says in [`Dropped`] which it did not use); injection writes
    /// them all, with the same trace id, span id and sampled flag. A
    /// format named twice counts once, where it first appears.
    ///
    /// B3 and Jaeger each carry one sampled flag and a debug flag, and no
    /// `tracestate`: a context taken from them has an empty one. A 64-bit
    /// trace id is padded to 128 bits for W3C, and written back in 16 digits
    /// in B3 and Jaeger. B3's `ParentSpanId` is never written, as
    /// OpenTelemetry's rules say.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue};
    /// use trace_core::{Propagator, propagation::{DropReason, Format}};
    ///
    /// let propagator = Propagator::default().with_formats([Format::Jaeger, Format::TraceContext]);
    /// let mut headers = HeaderMap::new();
    /// headers.insert("uber-trace-id", HeaderValue::from_static("abc:def:0:1"));
    /// headers.insert("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"));
    /// let incoming = propagator.extract(&headers);
    /// assert_eq!(incoming.format, Some(Format::Jaeger), "the first in the list");
    /// assert_eq!(incoming.dropped.traceparent, Some(DropReason::Superseded));
    /// ```
    #[must_use]
    pub fn with_formats(self, formats: impl IntoIterator<Item = Format>) -> Self {
        Self::from_config(self.inner.with(self.inner.allowed, Formats::new(formats)))
    }

    /// The formats, in the order extraction tries them.
    #[must_use]
    pub fn formats(&self) -> &[Format] {
        &self.inner.formats.list
    }

    fn from_config(config: Config) -> Self {
        Self {
            inner: Arc::new(config),
        }
    }

    /// This propagator, reading and writing the correlation ID in `name`
    /// (and reading nothing else for it).
    #[must_use]
    pub fn correlation_header(self, name: HeaderName) -> Self {
        let Config {
            allowed, formats, ..
        } = &*self.inner;
        Self::from_config(Config::new(
            *allowed,
            formats.clone(),
            vec![name.clone()],
            name,
        ))
    }

    /// This propagator, also reading the correlation ID from `name` when the
    /// headers before it are absent.
    #[must_use]
    pub fn also_read_correlation_from(self, name: HeaderName) -> Self {
        let Config {
            allowed,
            formats,
            correlation_read,
            correlation_write,
            ..
        } = &*self.inner;
        let mut read = correlation_read.clone();
        read.push(name);
        Self::from_config(Config::new(
            *allowed,
            formats.clone(),
            read,
            correlation_write.clone(),
        ))
    }

    /// What this propagator reads and writes.
    #[must_use]
    pub fn propagates(&self) -> Propagate {
        self.inner.fields
    }

    /// Every header this propagator reads, in the order it prefers them.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::Propagator;
    ///
    /// assert_eq!(Propagator::default().header_names(), ["traceparent", "tracestate", "baggage", "x-request-id", "x-correlation-id"]);
    /// ```
    #[must_use]
    pub fn header_names(&self) -> &[String] {
        &self.inner.header_names
    }

    /// The header the correlation ID is written to.
    #[must_use]
    pub fn correlation_header_name(&self) -> &HeaderName {
        &self.inner.correlation_write
    }

    /// The header a response answers a correlation ID under: the one it
    /// came in (`Incoming::correlation_header`), else
    /// [`correlation_header_name`](Self::correlation_header_name).
    ///
    /// # Examples
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue};
    /// use trace_core::Propagator;
    ///
    /// let propagator = Propagator::default();
    /// let mut headers = HeaderMap::new();
    /// headers.insert("x-correlation-id", HeaderValue::from_static("corr-42"));
    /// let incoming = propagator.extract(&headers);
    /// assert_eq!(propagator.correlation_header_in(incoming.correlation_header), "x-correlation-id");
    /// assert_eq!(propagator.correlation_header_in(None), "x-request-id");
    /// ```
    #[must_use]
    pub fn correlation_header_in(&self, came_in: Option<u8>) -> &HeaderName {
        came_in
            .and_then(|index| self.inner.correlation_read.get(usize::from(index)))
            .unwrap_or(&self.inner.correlation_write)
    }

    /// Reads a request's headers.
    ///
    /// Several `traceparent` lines, or an invalid one, leave no parent (the
    /// trace restarts), and then `tracestate` is not read, as W3C Trace
    /// Context says. Baggage is read regardless. With several formats, the
    /// first in the propagator's order that yields a valid context gives
    /// it; `tracestate` is read only with a W3C parent.
    pub fn extract<C: Carrier + ?Sized>(&self, carrier: &C) -> Incoming {
        let config = &*self.inner;
        let fields = config.fields;
        let mut incoming = Incoming::default();
        if fields.is_empty() {
            return incoming;
        }
        let found = self.find(carrier);
        let reads = config.reads;

        if reads.traceparent {
            let seen = found.traceparent;
            incoming.parent = match seen.first {
                None => None,
                Some(_) if seen.repeated => {
                    incoming.dropped.traceparent = Some(DropReason::Repeated);
                    None
                }
                Some(line) => TraceParent::try_from(line)
                    .map_err(|e| incoming.dropped.traceparent = Some(DropReason::Invalid(e.kind())))
                    .ok(),
            };
            if incoming.parent.is_some() {
                incoming.format = Some(Format::TraceContext);
            }
        }
        if reads.foreign {
            self.choose_format(carrier, found.traceparent.first.is_some(), &mut incoming);
        }

        if reads.tracestate && found.tracestate.first.is_some() {
            if incoming.format != Some(Format::TraceContext) {
                incoming.dropped.tracestate = Some(DropReason::NoValidParent);
            } else {
                let state = if found.tracestate.repeated {
                    TraceState::from_header_values(carrier.get_all_values(&TRACESTATE))
                } else {
                    TraceState::from_header_values(found.tracestate.first)
                };
                match state {
                    Ok(state) => incoming.trace_state = state,
                    Err(e) => incoming.dropped.tracestate = Some(DropReason::Invalid(e.kind())),
                }
            }
        }

        if reads.baggage && found.baggage.first.is_some() {
            let (baggage, dropped) = if found.baggage.repeated {
                Baggage::from_header_values(carrier.get_all_values(&BAGGAGE))
            } else {
                Baggage::from_header_values(found.baggage.first)
            };
            incoming.baggage = baggage;
            incoming.dropped.baggage = dropped.map(|e| DropReason::Invalid(e.kind()));
        }
        if reads.uberctx {
            incoming.baggage = formats::with_jaeger_baggage(
                std::mem::take(&mut incoming.baggage),
                carrier,
                &mut incoming.dropped.baggage,
            );
        }

        if let Some((index, seen)) = found.correlation
            && let Some(line) = seen.first
        {
            if seen.repeated {
                incoming.dropped.correlation_id = Some(DropReason::Repeated);
            } else {
                let id = CorrelationId::try_from(line);
                incoming.dropped.correlation_id =
                    id.as_ref().err().map(|e| DropReason::Invalid(e.kind()));
                if id.is_ok() {
                    incoming.correlation_header = u8::try_from(index).ok();
                }
                incoming.correlation_id = id.ok();
            }
        }
        incoming
    }

    /// Where B3 or Jaeger is on: the context from the first format, in
    /// order, that yields one (the W3C one, if any, already in
    /// `incoming.parent`). Out of line: the W3C path does not pay for it.
    #[cold]
    #[inline(never)]
    fn choose_format<C: Carrier + ?Sized>(
        &self,
        carrier: &C,
        traceparent_present: bool,
        incoming: &mut Incoming,
    ) {
        let formats = &self.inner.formats;
        let others = formats::Found::find(carrier, formats);
        let traceparent = incoming.parent.take();
        incoming.format = None;
        let present = self.inner.reads.traceparent && traceparent_present;
        formats::choose(formats, &others, traceparent, present, incoming);
    }

    /// The headers `extract` reads, found in one pass over the carrier.
    fn find<'a, C: Carrier + ?Sized>(&self, carrier: &'a C) -> Found<'a> {
        let names = if self.inner.fields.contains(Propagate::CORRELATION_ID) {
            &self.inner.correlation_read[..]
        } else {
            &[]
        };
        let mut found = Found {
            traceparent: Seen::NONE,
            tracestate: Seen::NONE,
            baggage: Seen::NONE,
            correlation: None,
        };
        for (name, value) in carrier.headers() {
            // Most request headers are standard ones (`host`, `accept`, …),
            // which no name compared here is: each comparison fails on the
            // representation, without reading bytes.
            if *name == TRACEPARENT {
                found.traceparent.add(value);
            } else if *name == TRACESTATE {
                found.tracestate.add(value);
            } else if *name == BAGGAGE {
                found.baggage.add(value);
            } else if let Some(i) = names.iter().position(|n| n == name) {
                match &mut found.correlation {
                    Some((best, seen)) if *best == i => seen.add(value),
                    Some((best, _)) if *best < i => {}
                    // None yet, or only a later name: this one wins.
                    other => {
                        let mut seen = Seen::NONE;
                        seen.add(value);
                        *other = Some((i, seen));
                    }
                }
            }
        }
        found
    }

    /// Writes `cx` into a request's headers: those of `destination` that
    /// this propagator handles.
    ///
    /// Every header written replaces any value already there (a header set
    /// by hand included), and a handled header with nothing to say
    /// (`tracestate`, `baggage` when empty) is removed rather than sent
    /// empty, so the headers always describe `cx`. The `traceparent` is
    /// always version `00`.
    ///
    /// What `destination` does not allow is removed, whoever set it (by
    /// hand, copied from the incoming request, or by another middleware):
    /// a blocked `traceparent` takes `tracestate` with it, and a blocked
    /// correlation ID removes every header this propagator reads it from.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue};
    /// use trace_core::{Propagate, Propagator, TraceContext};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("baggage", HeaderValue::from_static("copied=from-the-caller"));
    /// headers.insert("x-request-id", HeaderValue::from_static("set-by-hand"));
    /// let cx = TraceContext::new_root(true);
    /// Propagator::default().inject(&cx, Propagate::TRACEPARENT, &mut headers);
    /// assert!(headers.contains_key("traceparent"));
    /// assert!(!headers.contains_key("baggage") && !headers.contains_key("x-request-id"));
    /// ```
    pub fn inject<C: Carrier + ?Sized>(
        &self,
        cx: &TraceContext,
        destination: Propagate,
        carrier: &mut C,
    ) {
        let blocked = !destination;
        let formats = &self.inner.formats;
        if blocked.contains(Propagate::TRACEPARENT) {
            carrier.remove(&TRACEPARENT);
            carrier.remove(&TRACESTATE);
            // Nothing blocked leaves in any format, configured or not.
            formats::remove_trace(carrier);
        } else if blocked.contains(Propagate::TRACESTATE) {
            carrier.remove(&TRACESTATE);
        }
        if blocked.contains(Propagate::BAGGAGE) {
            carrier.remove(&BAGGAGE);
            formats::remove_uberctx(carrier, |_| true);
        }
        if blocked.contains(Propagate::CORRELATION_ID) {
            carrier.remove(&self.inner.correlation_write);
            for name in &self.inner.correlation_read {
                carrier.remove(name);
            }
        }
        let fields = self.inner.fields & destination;
        if fields.contains(Propagate::TRACEPARENT) {
            if formats.trace_context {
                carrier.set(TRACEPARENT, cx.traceparent().to_header_value());
                if fields.contains(Propagate::TRACESTATE) {
                    match cx.trace_state().header_value() {
                        Some(value) => carrier.set(TRACESTATE, value.clone()),
                        None => carrier.remove(&TRACESTATE),
                    }
                }
            }
            if formats.foreign() {
                formats::inject_trace(formats, cx, carrier);
            }
        }
        if fields.contains(Propagate::BAGGAGE) {
            if formats.baggage {
                match cx.baggage().header_value() {
                    Some(value) => carrier.set(BAGGAGE, value.clone()),
                    None => carrier.remove(&BAGGAGE),
                }
            }
            if formats.jaeger {
                formats::inject_jaeger_baggage(cx.baggage(), carrier);
            }
        }
        if fields.contains(Propagate::CORRELATION_ID)
            && let Some(id) = cx.correlation_id()
        {
            carrier.set(self.inner.correlation_write.clone(), id.to_header_value());
        }
    }
}

impl Propagator {
    /// Whether Jaeger's `uberctx-` headers are read: their names are a
    /// prefix, which [`header_names`](Self::header_names) cannot list.
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn reads_uberctx(&self) -> bool {
        self.inner.formats.jaeger && self.inner.fields.contains(Propagate::BAGGAGE)
    }

    /// Writes baggage alone, in each format that carries it: for baggage
    /// that travels without a trace (W3C Baggage is independent of it).
    #[cfg(feature = "opentelemetry")]
    pub(crate) fn inject_baggage<C: Carrier + ?Sized>(&self, baggage: &Baggage, carrier: &mut C) {
        if !self.inner.fields.contains(Propagate::BAGGAGE) {
            return;
        }
        if self.inner.formats.baggage
            && let Some(value) = baggage.header_value()
        {
            carrier.set(BAGGAGE, value.clone());
        }
        if self.inner.formats.jaeger {
            formats::inject_jaeger_baggage(baggage, carrier);
        }
    }
}

impl fmt::Debug for Propagator {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Propagator")
            .field("fields", &self.inner.fields)
            .field("formats", &self.inner.formats.list)
            .field("correlation_read", &self.inner.correlation_read)
            .field("correlation_write", &self.inner.correlation_write)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use http::HeaderMap;

    use super::*;
    use crate::codec::ParseErrorKind;

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in pairs {
            map.append(
                HeaderName::from_bytes(name.as_bytes()).unwrap(),
                HeaderValue::from_str(value).unwrap(),
            );
        }
        map
    }

    #[test]
    fn extract_reads_every_header() {
        let incoming = Propagator::default().extract(&headers(&[
            ("traceparent", TP),
            ("tracestate", "congo=1"),
            ("tracestate", "rojo=2"),
            ("baggage", "a=1"),
            ("baggage", "b=2"),
            ("x-request-id", "req-1"),
        ]));
        assert_eq!(incoming.parent, Some(TraceParent::from_static(TP)));
        assert_eq!(incoming.trace_state.to_string(), "congo=1,rojo=2");
        assert_eq!(incoming.baggage.len(), 2);
        assert_eq!(incoming.correlation_id.unwrap(), "req-1");
        assert!(incoming.dropped.is_empty());
    }

    #[test]
    fn extract_reports_what_it_drops() {
        use ParseErrorKind as K;
        #[rustfmt::skip]
        let cases: &[(&[(&str, &str)], Dropped, &str)] = &[
            (&[("traceparent", TP), ("traceparent", TP)], Dropped { traceparent: Some(DropReason::Repeated), ..Dropped::default() }, "two traceparent lines restart the trace"),
            (&[("traceparent", "00-xyz")], Dropped { traceparent: Some(DropReason::Invalid(K::TraceParentLength)), ..Dropped::default() }, "invalid traceparent"),
            (&[("tracestate", "a=1")], Dropped { tracestate: Some(DropReason::NoValidParent), ..Dropped::default() }, "tracestate without traceparent"),
            (&[("traceparent", "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01"), ("tracestate", "a=1")], Dropped { traceparent: Some(DropReason::Invalid(K::VersionForbidden)), tracestate: Some(DropReason::NoValidParent), ..Dropped::default() }, "tracestate with an invalid traceparent is not parsed"),
            (&[("traceparent", TP), ("tracestate", "A=1")], Dropped { tracestate: Some(DropReason::Invalid(K::TraceStateKey)), ..Dropped::default() }, "invalid tracestate, traceparent kept"),
            (&[("baggage", "a=1,b c=2")], Dropped { baggage: Some(DropReason::Invalid(K::BaggageKey)), ..Dropped::default() }, "a bad baggage member"),
            (&[("x-request-id", "a b")], Dropped { correlation_id: Some(DropReason::Invalid(K::CorrelationIdByte)), ..Dropped::default() }, "bad correlation ID"),
            (&[("x-request-id", "a"), ("x-request-id", "b")], Dropped { correlation_id: Some(DropReason::Repeated), ..Dropped::default() }, "repeated correlation ID"),
        ];
        for (pairs, expected, reason) in cases {
            let incoming = Propagator::default().extract(&headers(pairs));
            assert_eq!(incoming.dropped, *expected, "{reason}");
        }
        // The traceparent is still used when only the tracestate is bad.
        let incoming =
            Propagator::default().extract(&headers(&[("traceparent", TP), ("tracestate", "A=1")]));
        assert!(incoming.parent.is_some());
    }

    #[test]
    fn baggage_is_independent_of_the_traceparent() {
        let incoming =
            Propagator::default().extract(&headers(&[("traceparent", "bad"), ("baggage", "a=1")]));
        assert!(incoming.parent.is_none());
        assert_eq!(incoming.baggage.get("a").as_deref(), Some("1"));
    }

    #[test]
    fn correlation_header_preference() {
        let incoming = Propagator::default().extract(&headers(&[("x-correlation-id", "second")]));
        assert_eq!(incoming.correlation_id.unwrap(), "second");
        let incoming = Propagator::default().extract(&headers(&[
            ("x-correlation-id", "second"),
            ("x-request-id", "first"),
        ]));
        assert_eq!(incoming.correlation_id.unwrap(), "first");
        let custom =
            Propagator::default().correlation_header(HeaderName::from_static("x-trace-me"));
        let incoming = custom.extract(&headers(&[
            ("x-request-id", "ignored"),
            ("x-trace-me", "mine"),
        ]));
        assert_eq!(incoming.correlation_id.unwrap(), "mine");
    }

    #[test]
    fn inject_replaces_and_removes() {
        let propagator = Propagator::default();
        let cx = TraceContext::new_root(true).with_correlation_id("id-1".parse().unwrap());
        let mut out = headers(&[
            ("traceparent", TP),
            ("traceparent", TP),
            ("tracestate", "stale=1"),
            ("baggage", "stale=1"),
            ("x-request-id", "stale"),
        ]);
        propagator.inject(&cx, Propagate::ALL, &mut out);
        assert_eq!(out.get_all("traceparent").iter().count(), 1);
        assert_eq!(out["traceparent"], cx.traceparent().to_string());
        assert!(
            out.get("tracestate").is_none(),
            "stale tracestate removed, empty not sent"
        );
        assert!(out.get("baggage").is_none());
        assert_eq!(out["x-request-id"], "id-1");
    }

    #[test]
    fn inject_honours_the_destination_and_the_configuration() {
        let cx = TraceContext::new_root(true)
            .with_trace_state("a=1".parse().unwrap())
            .with_baggage("b=2".parse().unwrap())
            .with_correlation_id("id".parse().unwrap());
        let mut out = HeaderMap::new();
        Propagator::default().inject(&cx, Propagate::TRACEPARENT, &mut out);
        assert_eq!(out.keys().collect::<Vec<_>>(), ["traceparent"]);

        let mut out = HeaderMap::new();
        Propagator::default().inject(&cx, Propagate::NONE, &mut out);
        assert!(out.is_empty());

        let mut out = HeaderMap::new();
        Propagator::default().inject(&cx, Propagate::TRACESTATE | Propagate::BAGGAGE, &mut out);
        assert_eq!(
            out.keys().collect::<Vec<_>>(),
            ["baggage"],
            "tracestate never without traceparent"
        );

        let mut out = HeaderMap::new();
        Propagator::from_env_value(Some("baggage"))
            .unwrap()
            .inject(&cx, Propagate::ALL, &mut out);
        let mut names: Vec<_> = out.keys().map(HeaderName::as_str).collect();
        names.sort_unstable();
        assert_eq!(names, ["baggage", "x-request-id"]);
    }

    #[test]
    fn what_the_destination_blocks_is_removed_whoever_set_it() {
        let cx = TraceContext::new_root(true).with_correlation_id("ours".parse().unwrap());
        // Set by hand, copied from an incoming request, or by another
        // middleware: all of it there before the propagator runs.
        let preset = || {
            headers(&[
                ("traceparent", TP),
                ("tracestate", "vendor=copied"),
                ("baggage", "tenant=copied"),
                ("x-request-id", "copied"),
                ("x-correlation-id", "copied"),
                ("accept", "text/plain"),
            ])
        };
        #[rustfmt::skip]
        let cases: &[(Propagate, &[&str], &str)] = &[
            (Propagate::NONE, &["accept"], "nothing of ours goes out"),
            (Propagate::TRACEPARENT, &["accept", "traceparent"], "our traceparent only"),
            // Allowed, the correlation ID is ours in the header we write;
            // a copy under another name we only read is not ours to drop.
            (Propagate::TRACEPARENT | Propagate::CORRELATION_ID, &["accept", "traceparent", "x-correlation-id", "x-request-id"], "no copied tracestate or baggage"),
            (Propagate::TRACESTATE | Propagate::BAGGAGE, &["accept"], "no tracestate without traceparent; our baggage is empty"),
            (Propagate::ALL & !Propagate::CORRELATION_ID, &["accept", "traceparent"], "every correlation header removed"),
        ];
        for &(destination, left, why) in cases {
            let mut out = preset();
            Propagator::default().inject(&cx, destination, &mut out);
            let mut names: Vec<_> = out.keys().map(HeaderName::as_str).collect();
            names.sort_unstable();
            assert_eq!(names, left, "{why}");
            if let Some(tp) = out.get("traceparent") {
                assert_eq!(
                    tp,
                    &cx.traceparent().to_string(),
                    "{why}: ours, not the copy"
                );
            }
            if let Some(id) = out.get("x-request-id") {
                assert_eq!(id, "ours", "{why}");
            }
        }
    }

    #[test]
    fn round_trip_through_headers() {
        let propagator = Propagator::default();
        let cx = TraceContext::new_root(true)
            .with_trace_state("congo=t61rcWkgMzE".parse().unwrap())
            .with_baggage("userId=Am%C3%A9lie;p=1".parse().unwrap())
            .with_correlation_id("req-7".parse().unwrap());
        let mut wire = HeaderMap::new();
        propagator.inject(&cx, Propagate::ALL, &mut wire);
        let back = propagator.extract(&wire);
        assert_eq!(back.parent, Some(cx.traceparent()));
        assert_eq!(&back.trace_state, cx.trace_state());
        assert_eq!(&back.baggage, cx.baggage());
        assert_eq!(back.correlation_id.as_ref(), cx.correlation_id());
    }

    #[test]
    fn env_configuration() {
        #[rustfmt::skip]
        let cases: &[(Option<&str>, Result<Propagate, &str>)] = &[
            (None, Ok(Propagate::ALL)),
            (Some(""), Ok(Propagate::ALL)),
            (Some(" tracecontext , baggage "), Ok(Propagate::ALL)),
            (Some("TraceContext"), Ok(Propagate::TRACEPARENT | Propagate::TRACESTATE | Propagate::CORRELATION_ID)),
            (Some("none"), Ok(Propagate::CORRELATION_ID)),
            (Some("tracecontext,xray"), Err("\"xray\"")),
        ];
        for (value, expected) in cases {
            let got = Propagator::from_env_value(*value);
            match expected {
                Ok(fields) => assert_eq!(got.unwrap().propagates(), *fields, "{value:?}"),
                Err(name) => assert!(got.unwrap_err().to_string().contains(name), "{value:?}"),
            }
        }
    }
}
