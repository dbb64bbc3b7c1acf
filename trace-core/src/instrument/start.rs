//! Starting the context of a server or client span: trust, sampling and
//! ids in one place, so that adapters only translate types.

use crate::{
    codec::{
        B3Sampling, Baggage, CorrelationId, SpanId, TraceFlags, TraceId, TraceParent, TraceState,
    },
    context::TraceContext,
    policy::{ParentTrust, Trust},
    propagation::{CallerSampling, Incoming},
    record::{Attribute, SpanKind},
    sampling::{Decision, Sampler, SamplingInput, SamplingResult, with_own_randomness},
};

/// A started unit of work: its context and the sampling decision.
///
/// # Examples
///
/// ```
/// use trace_core::{AlwaysOn, SpanKind, TraceContext};
///
/// let started = TraceContext::start_child(None, &AlwaysOn, "GET", SpanKind::Client, &[]);
/// assert!(started.decision.is_sampled() && started.context.is_sampled());
/// ```
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Started {
    /// The new span's context: make it current, inject it downstream.
    pub context: TraceContext,
    /// Whether the span is recorded.
    pub decision: Decision,
}

impl Incoming {
    /// The context of the work a server does for this request.
    ///
    /// The trust decision applies first: a new root keeps the incoming
    /// `traceparent` only as a link and drops its `tracestate` (the
    /// specification ties one to the other); `Resample` keeps the trace but
    /// lets the sampler decide as at a root; baggage and `tracestate` are
    /// stripped when the decision says so. Then the sampler decides, and
    /// the result is a child of the caller's span (or a new root) with its
    /// own span id and the decision in the sampled flag. The Level 2
    /// `random` flag is kept for a continued trace and set for a new one.
    /// A missing correlation ID is made here.
    ///
    /// # Examples
    ///
    /// ```
    /// use http::{HeaderMap, HeaderValue};
    /// use trace_core::{AlwaysOn, Propagator, SpanKind, Trust};
    ///
    /// let mut headers = HeaderMap::new();
    /// headers.insert("traceparent", HeaderValue::from_static("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"));
    /// let incoming = Propagator::default().extract(&headers);
    ///
    /// let started = incoming.clone().start(Trust::CONTINUE, &AlwaysOn, "GET /", SpanKind::Server, &[]);
    /// assert_eq!(started.context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    ///
    /// let restarted = incoming.start(Trust::NEW_ROOT, &AlwaysOn, "GET /", SpanKind::Server, &[]);
    /// assert_ne!(restarted.context.trace_id().to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    /// assert_eq!(restarted.context.link().unwrap().parent_id().to_string(), "00f067aa0ba902b7");
    /// ```
    pub fn start(
        self,
        trust: Trust,
        sampler: &dyn Sampler,
        name: &str,
        kind: SpanKind,
        attributes: &[Attribute<'_>],
    ) -> Started {
        let Self {
            parent,
            trace_state,
            baggage,
            correlation_id,
            sampling,
            narrow_trace_id,
            ..
        } = self;
        let mut parent_trust = trust.parent();
        // What the caller said of sampling beyond the sampled flag (B3,
        // Jaeger), which counts only where its decisions are trusted.
        let said = sampling != CallerSampling::Flag && parent_trust == ParentTrust::Continue;
        if said && sampling == CallerSampling::Deferred && parent.is_some() {
            // B3's defer: "I don't know yet", decided here as at a root.
            parent_trust = ParentTrust::Resample;
        }
        let baggage = if trust.keeps_baggage() {
            baggage
        } else {
            Baggage::EMPTY
        };
        let correlation_id = correlation_id.unwrap_or_default();
        // One context, made whole once and changed in place: from the
        // caller's span (or the new root) into the server's own. It is
        // large enough that each copy of it shows up on the request path.
        let (parent, link) = match parent_trust {
            ParentTrust::NewRoot => (None, parent),
            _ => (parent, None),
        };
        let mut state = match parent {
            Some(_) if trust.keeps_trace_state() => trace_state,
            _ => TraceState::EMPTY,
        };
        if parent.is_some() && parent_trust == ParentTrust::Resample {
            // Decided here as at a root: on randomness of our own, not the
            // caller's `rv` or the trace-id it chose.
            state = with_own_randomness(&state);
        }
        let is_child = parent.is_some();
        let mut context = TraceContext::incoming(parent, link, state, baggage, correlation_id);
        // A decision sent without ids: the sampler sees it as a remote
        // parent's, though the trace is new (there is no span to parent).
        let alone = match sampling {
            CallerSampling::Alone(decision) if said && !is_child => {
                Some(decision_alone(&context, decision))
            }
            _ => None,
        };
        // The sampler sees the caller's span, before it becomes the parent.
        let caller = if is_child {
            Some(&context)
        } else {
            alone.as_ref()
        };
        let result = sample(
            caller,
            context.trace_id(),
            parent_trust,
            sampler,
            name,
            kind,
            attributes,
        );
        if is_child {
            context.become_child();
            // The trace goes on: as wide as it came.
            context.narrow = narrow_trace_id;
        }
        let decision = decide(&mut context, result);
        if said {
            // Debug is passed on while this service samples the trace.
            context.debug = decision.is_sampled()
                && matches!(
                    sampling,
                    CallerSampling::Debug | CallerSampling::Alone(B3Sampling::Debug)
                );
        }
        Started { context, decision }
    }
}

impl TraceContext {
    /// The context of a span started under `parent` (usually
    /// [`TraceContext::current`]), or of a new trace when there is none: a
    /// client call, or internal work.
    ///
    /// A child keeps the parent's tracestate, baggage and correlation ID; a
    /// new trace gets a new correlation ID.
    #[must_use]
    pub fn start_child(
        parent: Option<&Self>,
        sampler: &dyn Sampler,
        name: &str,
        kind: SpanKind,
        attributes: &[Attribute<'_>],
    ) -> Started {
        let mut started = start(
            parent,
            ParentTrust::Continue,
            sampler,
            name,
            kind,
            attributes,
        );
        if parent.is_none() {
            started.context = started.context.with_correlation_id(CorrelationId::new());
        }
        started
    }
}

fn start(
    parent: Option<&TraceContext>,
    trust: ParentTrust,
    sampler: &dyn Sampler,
    name: &str,
    kind: SpanKind,
    attributes: &[Attribute<'_>],
) -> Started {
    let trace_id = parent.map_or_else(TraceId::random, TraceContext::trace_id);
    let result = sample(parent, trace_id, trust, sampler, name, kind, attributes);
    let mut context = match parent {
        Some(parent) => parent.child(),
        // Every byte of a new trace-id is random: the Level 2 flag says so.
        None => TraceContext::root(trace_id, TraceFlags::RANDOM),
    };
    let decision = decide(&mut context, result);
    Started { context, decision }
}

/// A B3 decision sent without ids, as the sampler sees it: a remote parent
/// in the new trace with that decision (there is no span to parent).
#[cold]
#[inline(never)]
fn decision_alone(context: &TraceContext, decision: B3Sampling) -> TraceContext {
    TraceContext::remote(TraceParent::new(
        context.trace_id(),
        SpanId::random(),
        context.flags().with_sampled(decision.is_sampled()),
    ))
}

/// What the sampler decides for a span of `trace_id` under `parent`.
fn sample(
    parent: Option<&TraceContext>,
    trace_id: TraceId,
    trust: ParentTrust,
    sampler: &dyn Sampler,
    name: &str,
    kind: SpanKind,
    attributes: &[Attribute<'_>],
) -> SamplingResult {
    let mut input = SamplingInput::new(trace_id, name, kind)
        .attributes(attributes)
        .trust(trust);
    input.parent = parent;
    sampler.should_sample(&input)
}

/// Puts the sampler's decision in the new span's sampled flag, and its
/// tracestate if it wrote one.
fn decide(context: &mut TraceContext, result: SamplingResult) -> Decision {
    context.set_sampled(result.decision.is_sampled());
    if let Some(state) = result.trace_state {
        context.state = state;
    }
    result.decision
}

#[cfg(test)]
mod tests {
    use http::{HeaderMap, HeaderValue};

    use super::*;
    use crate::{
        codec::TraceParent,
        propagation::Propagator,
        sampling::{AlwaysOff, AlwaysOn, ParentBased, TraceIdRatio},
    };

    const TP: &str = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03";

    fn incoming() -> Incoming {
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static(TP));
        headers.insert("tracestate", HeaderValue::from_static("congo=t61rcWkgMzE"));
        headers.insert("baggage", HeaderValue::from_static("userId=alice"));
        headers.insert("x-request-id", HeaderValue::from_static("req-1"));
        Propagator::default().extract(&headers)
    }

    fn server(trust: Trust, sampler: &dyn Sampler) -> TraceContext {
        incoming()
            .start(trust, sampler, "GET /", SpanKind::Server, &[])
            .context
    }

    #[test]
    fn every_trust_option() {
        let tp = TraceParent::from_static(TP);
        let sampler = ParentBased::new(AlwaysOff);

        let cx = server(Trust::CONTINUE, &sampler);
        assert_eq!(cx.trace_id(), tp.trace_id(), "continue: same trace");
        assert_eq!(
            cx.parent_span_id(),
            Some(tp.parent_id()),
            "the caller's span is the parent"
        );
        assert!(cx.is_parent_remote());
        assert_ne!(cx.span_id(), tp.parent_id(), "a new span id");
        assert!(cx.is_sampled(), "the caller's sampled flag is followed");
        assert!(cx.flags().is_random(), "the random flag is kept");
        assert_eq!(cx.trace_state().get("congo"), Some("t61rcWkgMzE"));
        assert_eq!(cx.baggage().get("userId").as_deref(), Some("alice"));
        assert_eq!(cx.correlation_id().unwrap(), "req-1");
        assert_eq!(cx.link(), None);

        let cx = server(Trust::RESAMPLE, &sampler);
        assert_eq!(cx.trace_id(), tp.trace_id(), "re-sample: same trace");
        assert!(!cx.is_sampled(), "the root sampler decided, not the caller");
        assert!(cx.flags().is_random());

        let cx = server(Trust::NEW_ROOT, &ParentBased::new(AlwaysOn));
        assert_ne!(cx.trace_id(), tp.trace_id(), "new root: new trace");
        assert_eq!(cx.parent_span_id(), None);
        assert_eq!(cx.link(), Some(tp), "the caller kept as a link");
        assert!(
            cx.trace_state().is_empty(),
            "tracestate belongs to the old trace"
        );
        assert_eq!(
            cx.baggage().get("userId").as_deref(),
            Some("alice"),
            "baggage is kept unless stripped"
        );
        assert_eq!(
            cx.correlation_id().unwrap(),
            "req-1",
            "the correlation ID is always kept"
        );

        let cx = server(Trust::CONTINUE.strip_baggage(), &sampler);
        assert!(cx.baggage().is_empty());
        assert_eq!(cx.trace_state().get("congo"), Some("t61rcWkgMzE"));
        let cx = server(Trust::CONTINUE.strip_trace_state(), &sampler);
        assert!(cx.trace_state().is_empty());
        assert_eq!(cx.baggage().len(), 1);
    }

    #[test]
    fn the_sampler_sees_the_callers_span_whole() {
        use std::sync::Mutex;

        use crate::{codec::SpanId, sampling::SamplingResult};

        /// Keeps what it was shown of the parent.
        #[derive(Default)]
        struct Seen(Mutex<Option<(bool, SpanId, Option<String>, usize, bool)>>);
        impl Sampler for Seen {
            fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingResult {
                *self.0.lock().unwrap() = input.parent.map(|p| {
                    (
                        p.is_remote(),
                        p.span_id(),
                        p.correlation_id().map(|id| id.as_str().to_owned()),
                        p.baggage().len(),
                        p.trace_state().is_empty(),
                    )
                });
                Decision::RecordAndSample.into()
            }
        }
        let sampler = Seen::default();
        let cx = server(Trust::CONTINUE, &sampler);
        let tp = TraceParent::from_static(TP);
        let seen = sampler.0.lock().unwrap().take().expect("a parent");
        assert_eq!(
            seen,
            (true, tp.parent_id(), Some("req-1".into()), 1, false),
            "the caller's span, with what travels with it"
        );
        assert!(!cx.is_remote(), "the server's own span after");
        assert_eq!(cx.parent_span_id(), Some(tp.parent_id()));

        let _ = server(Trust::NEW_ROOT, &sampler);
        assert_eq!(*sampler.0.lock().unwrap(), None, "a new root has none");
    }

    #[test]
    fn no_parent_starts_a_random_root_with_a_correlation_id() {
        let started =
            Incoming::default().start(Trust::CONTINUE, &AlwaysOn, "GET /", SpanKind::Server, &[]);
        let cx = started.context;
        assert!(cx.flags().is_random() && cx.is_sampled());
        assert_eq!(cx.parent_span_id(), None);
        assert!(cx.correlation_id().is_some(), "made when missing");
    }

    #[test]
    fn the_sampler_sees_the_trace_id_the_span_gets() {
        // The OpenTelemetry probability-sampling specification: a trace is
        // sampled when its randomness R (the trace-id's last 56 bits, with
        // no `rv`) is at least the threshold T; at 0.5, T = 2^55, written
        // `ot=th:8`. Checked here against the trace-id the context got.
        for _ in 0..64 {
            let started = TraceContext::start_child(
                None,
                &TraceIdRatio::new(0.5),
                "op",
                SpanKind::Client,
                &[],
            );
            let id = started.context.trace_id().to_bytes();
            let r = id[9..].iter().fold(0u64, |r, &b| r << 8 | u64::from(b));
            assert_eq!(started.decision.is_sampled(), r >= 1 << 55, "R = {r:#x}");
            assert_eq!(started.context.is_sampled(), r >= 1 << 55);
            let th = started.context.trace_state().get("ot");
            assert_eq!(th, started.decision.is_sampled().then_some("th:8"));
        }
    }

    #[test]
    fn a_client_child_keeps_what_travels() {
        let server = server(Trust::CONTINUE, &AlwaysOn);
        let client = TraceContext::start_child(
            Some(&server),
            &ParentBased::new(AlwaysOff),
            "GET",
            SpanKind::Client,
            &[],
        )
        .context;
        assert_eq!(client.trace_id(), server.trace_id());
        assert_eq!(client.parent_span_id(), Some(server.span_id()));
        assert!(!client.is_parent_remote());
        assert!(client.is_sampled(), "a sampled local parent is followed");
        assert_eq!(client.correlation_id(), server.correlation_id());
        assert_eq!(client.baggage(), server.baggage());
        // Each call gets its own span id.
        let other =
            TraceContext::start_child(Some(&server), &AlwaysOn, "GET", SpanKind::Client, &[])
                .context;
        assert_ne!(client.span_id(), other.span_id());
    }

    /// A caller that is not trusted cannot force sampling: whatever `rv` it
    /// sends and whatever trace-id it picks, a ratio of 1% samples about 1%
    /// under `RESAMPLE` and `NEW_ROOT`. Binomial, n = 2,000, p = 0.01: mean
    /// 20, sd 4.4; more than 60 fails by chance about once in 10^15 runs.
    #[test]
    fn an_untrusted_caller_cannot_force_sampling() {
        let sampler = ParentBased::new(TraceIdRatio::new(0.01));
        #[rustfmt::skip]
        let hostile: &[(&str, &str)] = &[
            ("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01", "ot=rv:ffffffffffffff"),
            ("00-4bf92f3577b34da6a3ffffffffffffff-00f067aa0ba902b7-01", ""),
            ("00-4bf92f3577b34da6a3ffffffffffffff-00f067aa0ba902b7-03", "ot=th:0;rv:ffffffffffffff,other=1"),
        ];
        for &(tp, ts) in hostile {
            for trust in [Trust::RESAMPLE, Trust::NEW_ROOT] {
                let mut headers = HeaderMap::new();
                headers.insert("traceparent", HeaderValue::from_static(tp));
                if !ts.is_empty() {
                    headers.insert("tracestate", HeaderValue::from_static(ts));
                }
                let sampled = (0..2_000)
                    .filter(|_| {
                        let incoming = Propagator::default().extract(&headers);
                        incoming
                            .start(trust, &sampler, "GET /", SpanKind::Server, &[])
                            .decision
                            .is_sampled()
                    })
                    .count();
                assert!(sampled <= 60, "{trust:?} {tp} {ts}: {sampled} of 2,000");
            }
        }
        // What goes downstream under RESAMPLE: our `rv`, no caller's `th`,
        // the other members kept.
        let mut headers = HeaderMap::new();
        headers.insert("traceparent", HeaderValue::from_static(hostile[2].0));
        headers.insert("tracestate", HeaderValue::from_static(hostile[2].1));
        let cx = Propagator::default()
            .extract(&headers)
            .start(Trust::RESAMPLE, &AlwaysOn, "GET /", SpanKind::Server, &[])
            .context;
        let ot = cx.trace_state().get("ot").unwrap();
        assert!(
            ot.starts_with("rv:") && ot.len() == 17 && ot != "rv:ffffffffffffff",
            "{ot}"
        );
        assert_eq!(cx.trace_state().get("other"), Some("1"));
    }
}
