//! [`TraceIdRatio`]: consistent probability sampling with the `ot`
//! tracestate entry.

use crate::{
    codec::{TraceId, TraceState},
    sampling::{Decision, Sampler, SamplingInput, SamplingResult},
};

/// 2^56: randomness and thresholds are 56-bit numbers.
const MAX_THRESHOLD: u64 = 1 << 56;
const OT_KEY: &str = "ot";

/// Consistent probability sampling, as the current OpenTelemetry
/// specification defines it.
///
/// The ratio `p` becomes a 56-bit rejection threshold `T = (1 - p) * 2^56`;
/// a span is sampled when its randomness `R` is at least `T`. `R` is the
/// `rv` value of the `ot` tracestate entry when present, otherwise the
/// trace-id's right-most 7 bytes, which W3C Trace Context Level 2 makes
/// random (the `RANDOM` flag; ids made here are fully random). Every service
/// with the same ratio therefore decides the same for the same trace.
///
/// A sampled decision records `T` as `th` in the `ot` tracestate entry (other
/// `ot` sub-keys are kept), so that downstream services and backends can
/// compute adjusted counts; an unsampled one removes `th`.
///
/// # Examples
///
/// ```
/// use trace_core::{Sampler, SpanKind, TraceId, TraceIdRatio, sampling::SamplingInput};
///
/// let sampler = TraceIdRatio::new(0.25);
/// let id = TraceId::from_static("4bf92f3577b34da6a3ce929d0e0e4736");
/// let result = sampler.should_sample(&SamplingInput::new(id, "op", SpanKind::Server));
/// // R, the right-most 7 bytes, is 0xce929d0e0e4736; T for 0.25 is
/// // 0xc0000000000000. R >= T: sampled, and the threshold is recorded.
/// assert!(result.decision.is_sampled());
/// assert_eq!(result.trace_state.unwrap().get("ot"), Some("th:c"));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TraceIdRatio {
    /// The rejection threshold; `MAX_THRESHOLD` never samples.
    threshold: u64,
}

impl TraceIdRatio {
    /// Samples a fraction `ratio` of traces; `ratio` is clamped to `0..=1`
    /// (NaN counts as 0).
    #[must_use]
    pub fn new(ratio: f64) -> Self {
        let ratio = if ratio.is_nan() {
            0.0
        } else {
            ratio.clamp(0.0, 1.0)
        };
        // (1 - p) * 2^56 is at most 2^56, exact in f64 up to rounding of p
        // itself; the cast cannot truncate or lose a sign.
        #[allow(
            clippy::cast_possible_truncation,
            clippy::cast_sign_loss,
            clippy::cast_precision_loss
        )]
        let threshold = ((1.0 - ratio) * MAX_THRESHOLD as f64).round() as u64;
        Self {
            threshold: threshold.min(MAX_THRESHOLD),
        }
    }

    /// The 56-bit rejection threshold.
    #[must_use]
    pub const fn threshold(self) -> u64 {
        self.threshold
    }

    /// The threshold as written in `th`: up to 14 hex digits, trailing zeros
    /// removed; `None` when nothing is sampled.
    fn encoded_threshold(self) -> Option<ThresholdText> {
        if self.threshold >= MAX_THRESHOLD {
            return None;
        }
        let mut text = ThresholdText {
            buf: [0; 14],
            len: 14,
        };
        let mut t = self.threshold;
        for slot in text.buf.iter_mut().rev() {
            *slot = crate::codec::chars::HEX_DIGITS[usize::try_from(t & 0xf).expect("a nibble")];
            t >>= 4;
        }
        while text.len > 1 && text.buf[text.len - 1] == b'0' {
            text.len -= 1;
        }
        Some(text)
    }
}

/// The hex text of a threshold, without allocating.
struct ThresholdText {
    buf: [u8; 14],
    len: usize,
}

impl ThresholdText {
    fn as_str(&self) -> &str {
        std::str::from_utf8(&self.buf[..self.len]).expect("hex digits are ASCII")
    }
}

/// The randomness of a trace: `rv` from the `ot` entry, else the trace-id's
/// right-most 56 bits.
fn randomness(trace_id: TraceId, state: &TraceState) -> u64 {
    let rv = state.get(OT_KEY).and_then(|ot| {
        ot.split(';')
            .find_map(|kv| kv.strip_prefix("rv:"))
            .filter(|rv| rv.len() == 14)
            .and_then(|rv| {
                u64::from_str_radix(rv, 16)
                    .ok()
                    .filter(|_| rv.bytes().all(|b| b.is_ascii_hexdigit()))
            })
    });
    rv.unwrap_or_else(|| {
        let bytes = trace_id.to_bytes();
        let mut low = [0u8; 8];
        low[1..].copy_from_slice(&bytes[9..]);
        u64::from_be_bytes(low)
    })
}

/// `state` with randomness of this service's own in the `ot` entry
/// (`rv`, 56 random bits), and no threshold (`th`, which described the
/// caller's decision): for a trace whose sampling is decided here as at a
/// root, so that neither the caller's `rv` nor the trace-id it chose steers
/// [`TraceIdRatio`]. Downstream samplers read the same `rv`, so the trace
/// stays consistently sampled from here on. Other `ot` sub-keys and other
/// members are kept; `state` is returned unchanged if the new `ot` value
/// would not fit.
pub(crate) fn with_own_randomness(state: &TraceState) -> TraceState {
    use rand::Rng as _;
    let rv = rand::rng().next_u64() >> 8;
    let old = state.get(OT_KEY).unwrap_or("");
    let mut value = format!("rv:{rv:014x}");
    for kv in old
        .split(';')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("rv:") && !kv.starts_with("th:"))
    {
        value.push(';');
        value.push_str(kv);
    }
    let mut state = state.clone();
    if state.insert(OT_KEY, &value).is_err() {
        return state;
    }
    state
}

/// The `ot` tracestate value with `th` set to `th` (or removed when `None`),
/// other sub-keys kept in order.
fn with_threshold(state: &TraceState, th: Option<&str>) -> Option<TraceState> {
    let old = state.get(OT_KEY).unwrap_or("");
    let others = old
        .split(';')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("th:"));
    let mut value = th.map(|th| format!("th:{th}")).unwrap_or_default();
    for kv in others {
        if !value.is_empty() {
            value.push(';');
        }
        value.push_str(kv);
    }
    if value == old {
        return None;
    }
    let mut state = state.clone();
    if value.is_empty() {
        state.remove(OT_KEY);
    } else if state.insert(OT_KEY, &value).is_err() {
        // A foreign `ot` value that does not fit the grammar once changed:
        // leave the tracestate as it was rather than fail the request.
        return None;
    }
    Some(state)
}

impl Sampler for TraceIdRatio {
    fn should_sample(&self, input: &SamplingInput<'_>) -> SamplingResult {
        let state = input.trace_state();
        let sampled =
            self.threshold < MAX_THRESHOLD && randomness(input.trace_id, state) >= self.threshold;
        let th = self.encoded_threshold().filter(|_| sampled);
        SamplingResult {
            decision: if sampled {
                Decision::RecordAndSample
            } else {
                Decision::Drop
            },
            trace_state: with_threshold(state, th.as_ref().map(ThresholdText::as_str)),
        }
    }
}
#[cfg(test)]
mod tests {
    use super::*;
    use crate::{codec::TraceId, context::TraceContext, record::SpanKind};

    fn input(trace_id: TraceId) -> SamplingInput<'static> {
        SamplingInput::new(trace_id, "op", SpanKind::Server)
    }

    #[test]
    fn ratio_thresholds_follow_the_specification() {
        #[rustfmt::skip]
        let cases: &[(f64, u64, Option<&str>)] = &[
            (1.0, 0, Some("0")),
            (0.5, 0x0080_0000_0000_0000, Some("8")),
            (0.25, 0x00c0_0000_0000_0000, Some("c")),
            (0.125, 0x00e0_0000_0000_0000, Some("e")),
            (0.0, MAX_THRESHOLD, None),
            (2.0, 0, Some("0")),
            (-1.0, MAX_THRESHOLD, None),
            (f64::NAN, MAX_THRESHOLD, None),
        ];
        for &(ratio, threshold, th) in cases {
            let sampler = TraceIdRatio::new(ratio);
            assert_eq!(sampler.threshold(), threshold, "{ratio}");
            assert_eq!(
                sampler
                    .encoded_threshold()
                    .as_ref()
                    .map(ThresholdText::as_str),
                th,
                "{ratio}"
            );
        }
        // An exact encoding: parsing `th` back gives the same threshold.
        let sampler = TraceIdRatio::new(0.1);
        let th = sampler.encoded_threshold().unwrap();
        let digits = format!("{:0<14}", th.as_str());
        assert_eq!(
            u64::from_str_radix(&digits, 16).unwrap(),
            sampler.threshold()
        );
    }

    /// The table of 1-in-N thresholds in the OpenTelemetry specification
    /// ("Converting floating-point probability to threshold value", at
    /// precision 3, 4 and 5): our exact threshold, rounded as that
    /// algorithm rounds, gives the specification's digits.
    #[test]
    fn thresholds_round_to_the_specifications_table() {
        #[rustfmt::skip]
        let table: &[(f64, [&str; 3])] = &[
            (1.0, ["0", "0", "0"]),
            (0.5, ["8", "8", "8"]),
            (1.0 / 3.0, ["aab", "aaab", "aaaab"]),
            (0.25, ["c", "c", "c"]),
            (0.2, ["ccd", "cccd", "ccccd"]),
            (0.125, ["e", "e", "e"]),
            (0.1, ["e66", "e666", "e6666"]),
            (0.0625, ["f", "f", "f"]),
            (0.01, ["fd71", "fd70a", "fd70a4"]),
            (0.001, ["ffbe7", "ffbe77", "ffbe76d"]),
            (0.0001, ["fff972", "fff9724", "fff97247"]),
            (0.00001, ["ffff584", "ffff583a", "ffff583a5"]),
            (0.000001, ["ffffef4", "ffffef39", "ffffef391"]),
        ];
        // The specification's rounding: `precision` significant digits
        // after the leading `f`s (one more per factor of 16 below 1), half
        // up, trailing zeros removed.
        fn rounded(threshold: u64, probability: f64, precision: i32) -> String {
            if threshold == 0 {
                return "0".to_owned();
            }
            let bits = probability.to_bits();
            let exp = i32::try_from((bits >> 52) & 0x7ff).unwrap() - 1022;
            let digits = (precision + (-exp).div_euclid(4)).clamp(1, 12);
            let unit = 1u128 << (4 * (14 - digits));
            let kept = (u128::from(threshold) + unit / 2) / unit;
            let text = format!("{kept:0width$x}", width = usize::try_from(digits).unwrap());
            text.trim_end_matches('0').to_owned()
        }
        for &(probability, expected) in table {
            let threshold = TraceIdRatio::new(probability).threshold();
            for (precision, th) in (3..=5).zip(expected) {
                assert_eq!(
                    rounded(threshold, probability, precision),
                    th,
                    "p = {probability}, precision {precision}"
                );
            }
        }
        // The specification's worked example: 1% rejects
        // (1 - 0.01) * 2^56, about 0xfd70a400000000 at five digits.
        let t = TraceIdRatio::new(0.01).threshold();
        assert!(t.abs_diff(0x00fd_70a4_0000_0000) < 1 << 36, "{t:#x}");
    }

    #[test]
    fn ratio_is_within_statistical_bounds() {
        // 100k random ids at p = 0.1: mean 10,000, sd ~ 95. Six sd either
        // side fails by chance about once in 500 million runs.
        let sampler = TraceIdRatio::new(0.1);
        let n = 100_000;
        let sampled = (0..n)
            .filter(|_| {
                sampler
                    .should_sample(&input(TraceId::random()))
                    .decision
                    .is_sampled()
            })
            .count();
        assert!((9_430..=10_570).contains(&sampled), "{sampled}");
    }

    #[test]
    fn ratio_is_consistent_across_services() {
        // Two services, same ratio, same trace: same decision, every time.
        let a = TraceIdRatio::new(0.3);
        let b = TraceIdRatio::new(0.3);
        for _ in 0..10_000 {
            let id = TraceId::random();
            let first = a.should_sample(&input(id)).decision;
            assert_eq!(first, b.should_sample(&input(id)).decision);
            assert_eq!(first, a.should_sample(&input(id)).decision);
        }
        // And a lower ratio samples a subset of a higher one's traces.
        let low = TraceIdRatio::new(0.1);
        for _ in 0..10_000 {
            let id = TraceId::random();
            if low.should_sample(&input(id)).decision.is_sampled() {
                assert!(a.should_sample(&input(id)).decision.is_sampled());
            }
        }
    }

    #[test]
    fn ratio_uses_rv_and_keeps_other_ot_keys() {
        let sampler = TraceIdRatio::new(0.5);
        // The trace-id's bits say "drop" (R = 0), rv says "sample".
        let id = TraceId::from_static("ffffffffffffffffff00000000000000");
        let parent = TraceContext::new_root(true).with_trace_state(
            "ot=rv:ffffffffffffff;xy:1,congo=t61rcWkgMzE"
                .parse()
                .unwrap(),
        );
        let mut i = input(id);
        i.parent = Some(&parent);
        let result = sampler.should_sample(&i);
        assert!(result.decision.is_sampled());
        assert_eq!(
            result.trace_state.unwrap().to_string(),
            "ot=th:8;rv:ffffffffffffff;xy:1,congo=t61rcWkgMzE"
        );

        // Unsampled: th is removed, the rest stays.
        let parent = TraceContext::new_root(true)
            .with_trace_state("ot=th:0;rv:00000000000000".parse().unwrap());
        let mut i = input(id);
        i.parent = Some(&parent);
        let result = sampler.should_sample(&i);
        assert!(!result.decision.is_sampled());
        assert_eq!(
            result.trace_state.unwrap().to_string(),
            "ot=rv:00000000000000"
        );
        assert!(
            sampler.should_sample(&input(id)).trace_state.is_none(),
            "nothing to write"
        );
    }
}
