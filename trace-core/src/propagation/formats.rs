//! The formats a [`Propagator`](super::Propagator) reads and writes beside
//! W3C Trace Context and Baggage: B3 (single and multi-header) and Jaeger.

use std::borrow::Cow;

use http::{HeaderName, HeaderValue};
use percent_encoding::utf8_percent_encode;

use super::{CallerSampling, Carrier, DropReason, Incoming};
use crate::{
    codec::{
        B3, B3_HEADER, B3Sampling, Baggage, MultiHeaders, ParseErrorKind, TraceFlags, TraceParent,
        UBER_TRACE_ID, UBERCTX_PREFIX, UBERCTX_VALUE_ENCODE, UberTraceId, X_B3_FLAGS,
        X_B3_PARENT_SPAN_ID, X_B3_SAMPLED, X_B3_SPAN_ID, X_B3_TRACE_ID,
        limits::BAGGAGE_MAX_MEMBERS, uberctx_key, uberctx_value, write_trace_id,
    },
    context::TraceContext,
    policy::Propagate,
};

/// A propagation format, as `OTEL_PROPAGATORS` names it.
///
/// A [`Propagator`](super::Propagator) holds an ordered list of them: it
/// takes the context from the first format that yields a valid one, and
/// writes every format with the same trace id, span id and sampled flag.
///
/// # Examples
///
/// ```
/// use trace_core::propagation::Format;
///
/// assert_eq!(Format::from_env_name("b3multi"), Some(Format::B3Multi));
/// assert_eq!(Format::Jaeger.env_name(), "jaeger");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// W3C Trace Context, `traceparent` and `tracestate`
    /// (<https://www.w3.org/TR/trace-context/>): `tracecontext`.
    TraceContext,
    /// W3C Baggage, `baggage` (<https://www.w3.org/TR/baggage/>): `baggage`.
    Baggage,
    /// B3 written as the single `b3` header
    /// (<https://github.com/openzipkin/b3-propagation>): `b3`. Reads `b3`,
    /// then the `X-B3-*` headers, as OpenTelemetry's B3 rules say.
    B3,
    /// B3 written as the `X-B3-*` headers: `b3multi`. Reads as [`B3`](Self::B3) does.
    B3Multi,
    /// Jaeger's `uber-trace-id` and `uberctx-{key}` baggage
    /// (<https://www.jaegertracing.io/docs/1.63/client-libraries/#propagation-format>):
    /// `jaeger`.
    Jaeger,
}

impl Format {
    /// Every format, in the order `OTEL_PROPAGATORS` lists them.
    pub const ALL: [Self; 5] = [
        Self::TraceContext,
        Self::Baggage,
        Self::B3,
        Self::B3Multi,
        Self::Jaeger,
    ];

    /// Its name in `OTEL_PROPAGATORS`.
    #[must_use]
    pub const fn env_name(self) -> &'static str {
        match self {
            Self::TraceContext => "tracecontext",
            Self::Baggage => "baggage",
            Self::B3 => "b3",
            Self::B3Multi => "b3multi",
            Self::Jaeger => "jaeger",
        }
    }

    /// The format `OTEL_PROPAGATORS` names `name` (ASCII case ignored).
    #[must_use]
    pub fn from_env_name(name: &str) -> Option<Self> {
        Self::ALL
            .into_iter()
            .find(|format| format.env_name().eq_ignore_ascii_case(name))
    }

    /// What this format carries.
    fn fields(self) -> Propagate {
        match self {
            Self::TraceContext => Propagate::TRACEPARENT | Propagate::TRACESTATE,
            Self::Baggage => Propagate::BAGGAGE,
            Self::B3 | Self::B3Multi => Propagate::TRACEPARENT,
            Self::Jaeger => Propagate::TRACEPARENT | Propagate::BAGGAGE,
        }
    }
}

/// Where a trace context can come from, in a propagator's order.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Source {
    TraceContext,
    B3,
    Jaeger,
}

/// A list of formats, deduplicated in order, and what it makes a
/// propagator do.
#[derive(Debug, Clone)]
pub(super) struct Formats {
    pub(super) list: Box<[Format]>,
    /// The trace-context sources, in the order extraction tries them.
    pub(super) order: Box<[Source]>,
    pub(super) fields: Propagate,
    pub(super) trace_context: bool,
    pub(super) baggage: bool,
    pub(super) b3_single: bool,
    pub(super) b3_multi: bool,
    pub(super) jaeger: bool,
}

impl Formats {
    pub(super) fn new(formats: impl IntoIterator<Item = Format>) -> Self {
        let mut list: Vec<Format> = Vec::new();
        for format in formats {
            if !list.contains(&format) {
                list.push(format);
            }
        }
        let mut order = Vec::new();
        let mut fields = Propagate::NONE;
        for format in &list {
            fields = fields | format.fields();
            let source = match format {
                Format::TraceContext => Some(Source::TraceContext),
                Format::B3 | Format::B3Multi => Some(Source::B3),
                Format::Jaeger => Some(Source::Jaeger),
                Format::Baggage => None,
            };
            if let Some(source) = source
                && !order.contains(&source)
            {
                order.push(source);
            }
        }
        let has = |format| list.contains(&format);
        Self {
            trace_context: has(Format::TraceContext),
            baggage: has(Format::Baggage),
            b3_single: has(Format::B3),
            b3_multi: has(Format::B3Multi),
            jaeger: has(Format::Jaeger),
            order: order.into(),
            fields,
            list: list.into(),
        }
    }

    /// Whether any format beyond W3C's is on.
    pub(super) fn foreign(&self) -> bool {
        self.b3_single || self.b3_multi || self.jaeger
    }

    /// The headers each format reads, for APIs that list them.
    pub(super) fn header_names(&self) -> Vec<HeaderName> {
        let mut names = Vec::new();
        if self.b3_single || self.b3_multi {
            names.extend(B3_HEADERS);
        }
        if self.jaeger {
            names.push(UBER_TRACE_ID);
        }
        names
    }
}

/// Every B3 header, in the order they are read.
const B3_HEADERS: [HeaderName; 6] = [
    B3_HEADER,
    X_B3_TRACE_ID,
    X_B3_SPAN_ID,
    X_B3_PARENT_SPAN_ID,
    X_B3_SAMPLED,
    X_B3_FLAGS,
];

/// The B3 and Jaeger headers of a carrier: each one's first value, found
/// in one pass.
#[derive(Default)]
pub(super) struct Found<'a> {
    b3: Option<&'a HeaderValue>,
    multi: MultiHeaders<'a>,
    uber_trace_id: Option<&'a HeaderValue>,
}

impl<'a> Found<'a> {
    pub(super) fn find<C: Carrier + ?Sized>(carrier: &'a C, formats: &Formats) -> Self {
        let mut found = Self::default();
        let b3 = formats.b3_single || formats.b3_multi;
        for (name, value) in carrier.headers() {
            let first = |slot: &mut Option<&'a [u8]>| {
                slot.get_or_insert(value.as_bytes());
            };
            if b3 {
                // "When extracting state headers, the first value wins."
                if *name == B3_HEADER {
                    found.b3.get_or_insert(value);
                } else if *name == X_B3_TRACE_ID {
                    first(&mut found.multi.trace_id);
                } else if *name == X_B3_SPAN_ID {
                    first(&mut found.multi.span_id);
                } else if *name == X_B3_PARENT_SPAN_ID {
                    first(&mut found.multi.parent_span_id);
                } else if *name == X_B3_SAMPLED {
                    first(&mut found.multi.sampled);
                } else if *name == X_B3_FLAGS {
                    first(&mut found.multi.flags);
                }
            }
            if formats.jaeger && *name == UBER_TRACE_ID {
                found.uber_trace_id.get_or_insert(value);
            }
        }
        found
    }

    fn has(&self, source: Source) -> bool {
        match source {
            // Not asked: W3C's presence is known to the caller.
            Source::TraceContext => false,
            Source::B3 => self.b3.is_some() || !self.multi.is_empty(),
            Source::Jaeger => self.uber_trace_id.is_some(),
        }
    }
}

/// The context as one source gives it: the parent, its format and what
/// the caller said of sampling.
type Candidate = (TraceParent, Format, CallerSampling, bool);

/// Takes the context from the first source, in `formats`' order, that
/// yields a valid one (`traceparent`: the W3C one, already read), and
/// says in `incoming.dropped` why each other present source was not used.
pub(super) fn choose(
    formats: &Formats,
    found: &Found<'_>,
    traceparent: Option<TraceParent>,
    traceparent_present: bool,
    incoming: &mut Incoming,
) {
    let mut chosen: Option<Candidate> = None;
    let mut alone = None;
    for &source in &formats.order {
        let present = match source {
            Source::TraceContext => traceparent_present,
            _ => found.has(source),
        };
        if chosen.is_some() {
            if present {
                let slot = match source {
                    Source::TraceContext => &mut incoming.dropped.traceparent,
                    Source::B3 => &mut incoming.dropped.b3,
                    Source::Jaeger => &mut incoming.dropped.jaeger,
                };
                slot.get_or_insert(DropReason::Superseded);
            }
            continue;
        }
        chosen = match source {
            Source::TraceContext => {
                traceparent.map(|p| (p, Format::TraceContext, CallerSampling::Flag, false))
            }
            Source::B3 => match b3(found, &mut incoming.dropped.b3) {
                Some((b3, format)) => match (b3.trace_id(), b3.span_id(), b3.sampling()) {
                    (Some(trace_id), Some(span_id), sampling) => {
                        let sampled = sampling.is_some_and(B3Sampling::is_sampled);
                        let parent = TraceParent::new(
                            trace_id,
                            span_id,
                            TraceFlags::NONE.with_sampled(sampled),
                        );
                        let said = match sampling {
                            None => CallerSampling::Deferred,
                            Some(B3Sampling::Debug) => CallerSampling::Debug,
                            Some(_) => CallerSampling::Flag,
                        };
                        Some((parent, format, said, b3.is_narrow()))
                    }
                    (_, _, sampling) => {
                        alone = alone.or(sampling);
                        None
                    }
                },
                None => None,
            },
            Source::Jaeger => {
                found
                    .uber_trace_id
                    .and_then(|value| match UberTraceId::try_from(value) {
                        Ok(id) => {
                            let flags = TraceFlags::NONE.with_sampled(id.is_sampled());
                            let parent = TraceParent::new(id.trace_id(), id.span_id(), flags);
                            let said = if id.is_debug() {
                                CallerSampling::Debug
                            } else {
                                CallerSampling::Flag
                            };
                            Some((parent, Format::Jaeger, said, id.is_narrow()))
                        }
                        Err(e) => {
                            incoming.dropped.jaeger = Some(DropReason::Invalid(e.kind()));
                            None
                        }
                    })
            }
        };
    }
    match chosen {
        Some((parent, format, sampling, narrow)) => {
            incoming.parent = Some(parent);
            incoming.format = Some(format);
            incoming.sampling = sampling;
            incoming.narrow_trace_id = narrow;
        }
        None => {
            if let Some(sampling) = alone {
                incoming.sampling = CallerSampling::Alone(sampling);
            }
        }
    }
}

/// B3 as OpenTelemetry reads it: the single header first, then the
/// multiple headers; the first that parses, with the format it came in.
fn b3(found: &Found<'_>, dropped: &mut Option<DropReason>) -> Option<(B3, Format)> {
    if let Some(value) = found.b3 {
        match B3::try_from(value) {
            Ok(b3) => return Some((b3, Format::B3)),
            Err(e) => *dropped = Some(DropReason::Invalid(e.kind())),
        }
    }
    match B3::from_multi(&found.multi) {
        Ok(Some(b3)) => {
            // The multi-header context is used; a bad single header stays
            // reported.
            Some((b3, Format::B3Multi))
        }
        Ok(None) => None,
        Err(e) => {
            dropped.get_or_insert(DropReason::Invalid(e.kind()));
            None
        }
    }
}

/// `baggage` with Jaeger's `uberctx-{key}` members added after its own,
/// skipping keys it has in any case (one service writing both formats
/// would otherwise double each member), within the baggage limits.
pub(super) fn with_jaeger_baggage<C: Carrier + ?Sized>(
    baggage: Baggage,
    carrier: &C,
    dropped: &mut Option<DropReason>,
) -> Baggage {
    let mut members: Vec<(&str, Cow<'_, str>)> = Vec::new();
    for (name, value) in carrier.headers() {
        let Some(key) = uberctx_key(name) else {
            continue;
        };
        // Header names have no case: `uberctx-userid` is W3C's `userId`.
        let known = |k: &str| k.eq_ignore_ascii_case(key);
        if members.iter().any(|(k, _)| known(k)) || baggage.iter().any(|m| known(m.key())) {
            continue;
        }
        if members.len() == BAGGAGE_MAX_MEMBERS {
            // No more can be kept: the work stays bounded however many
            // headers came.
            dropped.get_or_insert(DropReason::Invalid(ParseErrorKind::BaggageLimit));
            break;
        }
        match uberctx_value(value) {
            Some(value) => members.push((key, value)),
            None => {
                dropped.get_or_insert(DropReason::Invalid(ParseErrorKind::BaggageValue));
            }
        }
    }
    if members.is_empty() {
        return baggage;
    }
    let (baggage, error) = baggage.extended(members.into_iter());
    if let Some(e) = error {
        dropped.get_or_insert(DropReason::Invalid(e.kind()));
    }
    baggage
}

/// Writes the B3 and Jaeger trace headers of `cx`, and removes what is
/// stale of the B3 encodings not written.
pub(super) fn inject_trace<C: Carrier + ?Sized>(
    formats: &Formats,
    cx: &TraceContext,
    carrier: &mut C,
) {
    let sampled = cx.is_sampled();
    // Debug only while this service samples: "debug implies accept".
    let debug = cx.is_debug() && sampled;
    if formats.b3_single || formats.b3_multi {
        let sampling = match (debug, sampled) {
            (true, _) => B3Sampling::Debug,
            (false, true) => B3Sampling::Accept,
            (false, false) => B3Sampling::Deny,
        };
        let b3 = B3::new(cx.trace_id(), cx.span_id(), Some(sampling))
            .with_narrow(cx.is_narrow_trace_id());
        if formats.b3_single {
            carrier.set(B3_HEADER, b3.to_header_value());
        } else {
            carrier.remove(&B3_HEADER);
        }
        // OpenTelemetry "MUST NOT propagate X-B3-ParentSpanId".
        carrier.remove(&X_B3_PARENT_SPAN_ID);
        if formats.b3_multi {
            let mut trace_id = [0u8; 32];
            let len = write_trace_id(cx.trace_id(), b3.is_narrow(), &mut trace_id);
            let value = |hex: &[u8]| HeaderValue::from_bytes(hex).expect("hex is a header value");
            carrier.set(X_B3_TRACE_ID, value(&trace_id[..len]));
            carrier.set(X_B3_SPAN_ID, value(&cx.span_id().to_hex()));
            if debug {
                // "Debug implies an accept decision, so don't also send
                // the X-B3-Sampled header."
                carrier.set(X_B3_FLAGS, HeaderValue::from_static("1"));
                carrier.remove(&X_B3_SAMPLED);
            } else {
                let value = if sampled { "1" } else { "0" };
                carrier.set(X_B3_SAMPLED, HeaderValue::from_static(value));
                carrier.remove(&X_B3_FLAGS);
            }
        } else {
            for name in [&X_B3_TRACE_ID, &X_B3_SPAN_ID, &X_B3_SAMPLED, &X_B3_FLAGS] {
                carrier.remove(name);
            }
        }
    }
    if formats.jaeger {
        let id = UberTraceId::new(cx.trace_id(), cx.span_id(), sampled, debug)
            .with_narrow(cx.is_narrow_trace_id());
        carrier.set(UBER_TRACE_ID, id.to_header_value());
    }
}

/// Writes `uberctx-{key}` for each baggage member, and removes those of
/// other keys (stale, whoever set them).
pub(super) fn inject_jaeger_baggage<C: Carrier + ?Sized>(baggage: &Baggage, carrier: &mut C) {
    remove_uberctx(carrier, |key| baggage.get(key).is_none());
    for member in baggage {
        let Ok(name) =
            HeaderName::from_bytes(format!("{UBERCTX_PREFIX}{}", member.key()).as_bytes())
        else {
            continue;
        };
        let value = utf8_percent_encode(&member.value(), UBERCTX_VALUE_ENCODE).to_string();
        if let Ok(value) = HeaderValue::from_str(&value) {
            carrier.set(name, value);
        }
    }
}

/// Removes every `uberctx-` header whose key `stale` says to.
pub(super) fn remove_uberctx<C: Carrier + ?Sized>(carrier: &mut C, stale: impl Fn(&str) -> bool) {
    let names: Vec<HeaderName> = carrier
        .headers()
        .filter(|(name, _)| uberctx_key(name).is_some_and(&stale))
        .map(|(name, _)| name.clone())
        .collect();
    for name in &names {
        carrier.remove(name);
    }
}

/// Removes every B3 and Jaeger trace header, whoever set it: for a
/// destination that may not receive the trace context.
pub(super) fn remove_trace<C: Carrier + ?Sized>(carrier: &mut C) {
    let names: Vec<HeaderName> = carrier
        .headers()
        .map(|(name, _)| name)
        .filter(|name| B3_HEADERS.contains(name) || **name == UBER_TRACE_ID)
        .cloned()
        .collect();
    for name in &names {
        carrier.remove(name);
    }
}
