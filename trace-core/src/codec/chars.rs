//! Byte tables and hex helpers shared by the codecs.
//!
//! Each grammar's character classes are one `[u8; 256]` lookup, so a parser
//! checks a byte with one load instead of a chain of range comparisons.

/// Value of a lowercase hex digit, or `NOT_HEX`. Uppercase is not hex here:
/// W3C Trace Context only allows `HEXDIGLC`.
pub(crate) const NOT_HEX: u8 = 0xff;

// Built by a `const` loop rather than written out as 256 literals: the
// loop is the grammar, and the tests below check it byte by byte.
pub(crate) static HEX_VALUE: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut digit: u8 = 0;
    while digit < 16 {
        table[HEX_DIGITS[digit as usize] as usize] = digit;
        digit += 1;
    }
    table
};

pub(crate) const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";

/// Decodes exactly `2 * N` lowercase hex digits into `N` bytes: the one
/// hex decoder, for the ids of every request's `traceparent` and, being
/// `const`, for the `from_static` constructors at compile time.
///
/// Lengths that are a multiple of four bytes (the ids) are decoded eight
/// digits at a time in a `u64` ([`decode_hex_word`]); others (the flags)
/// through [`HEX_VALUE`]. Hand-written rather than taken from a hex crate:
/// those accept uppercase, which `HEXDIGLC` does not, and checking that
/// separately would read the input twice.
#[inline]
pub(crate) const fn decode_hex<const N: usize>(src: &[u8]) -> Option<[u8; N]> {
    if src.len() != 2 * N {
        return None;
    }
    let mut out = [0u8; N];
    let mut i = 0;
    if N.is_multiple_of(4) {
        while i < N {
            let d = 2 * i;
            let word = u64::from_le_bytes([
                src[d],
                src[d + 1],
                src[d + 2],
                src[d + 3],
                src[d + 4],
                src[d + 5],
                src[d + 6],
                src[d + 7],
            ]);
            let Some([a, b, c, e]) = decode_hex_word(word) else {
                return None;
            };
            out[i] = a;
            out[i + 1] = b;
            out[i + 2] = c;
            out[i + 3] = e;
            i += 4;
        }
        return Some(out);
    }
    let mut invalid = 0u8;
    while i < N {
        let hi = HEX_VALUE[src[2 * i] as usize];
        let lo = HEX_VALUE[src[2 * i + 1] as usize];
        // NOT_HEX is 0xff: one OR collects every failure, checked once.
        invalid |= (hi | lo) & 0xf0;
        out[i] = (hi << 4) | (lo & 0x0f);
        i += 1;
    }
    if invalid == 0 { Some(out) } else { None }
}

/// Decodes eight lowercase hex digits, read as a little-endian `u64` (the
/// first digit in the low byte), into four bytes; `None` if any byte is not
/// `HEXDIGLC`.
///
/// Each test works on all eight bytes at once ("SWAR"). Adding a constant
/// below `0x80` to a byte below `0x80` cannot carry into the next byte, so
/// after rejecting non-ASCII the high bit of each byte answers the test for
/// that byte alone.
#[inline]
const fn decode_hex_word(word: u64) -> Option<[u8; 4]> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = ONES * 0x80;
    const LANE_NIBBLE: u64 = 0x000f_000f_000f_000f;
    /// High bit set in each byte of `word` that is at least `lo`.
    const fn at_least(word: u64, lo: u8) -> u64 {
        word + ONES * (0x80 - lo as u64)
    }
    /// High bit set in each byte of `word` that is above `hi`.
    const fn above(word: u64, hi: u8) -> u64 {
        word + ONES * (0x7f - hi as u64)
    }
    if word & HIGH != 0 {
        return None;
    }
    let digit = at_least(word, b'0') & !above(word, b'9');
    let letter = at_least(word, b'a') & !above(word, b'f');
    if (digit | letter) & HIGH != HIGH {
        return None;
    }
    // '0'..='9' are 0x30..=0x39 and 'a'..='f' are 0x61..=0x66: a digit's
    // value is its low nibble, a letter's its low nibble plus 9.
    let nibbles = (word & (ONES * 0x0f)) + ((letter & HIGH) >> 7) * 9;
    // Each 16-bit lane holds two digits, the first in its low byte: make
    // it the lane's byte value, then close the gaps between the lanes.
    let bytes = ((nibbles & LANE_NIBBLE) << 4) | ((nibbles >> 8) & LANE_NIBBLE);
    let bytes = (bytes | (bytes >> 8)) & 0x0000_ffff_0000_ffff;
    let bytes = (bytes | (bytes >> 16)) & 0xffff_ffff;
    let [a, b, c, d, ..] = bytes.to_le_bytes();
    Some([a, b, c, d])
}

/// Writes `src` as lowercase hex into `dst`, which must be twice as long.
pub(crate) fn encode_hex(src: &[u8], dst: &mut [u8]) {
    debug_assert_eq!(dst.len(), 2 * src.len());
    for (byte, pair) in src.iter().zip(dst.chunks_exact_mut(2)) {
        pair[0] = HEX_DIGITS[usize::from(byte >> 4)];
        pair[1] = HEX_DIGITS[usize::from(byte & 0x0f)];
    }
}

/// Optional white space as HTTP defines it (RFC 9110 §5.6.3): space and tab.
pub(crate) const fn is_ows(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// `src` without leading and trailing OWS.
pub(crate) fn trim_ows(src: &[u8]) -> &[u8] {
    let start = src.iter().position(|&b| !is_ows(b)).unwrap_or(src.len());
    let end = src
        .iter()
        .rposition(|&b| !is_ows(b))
        .map_or(start, |i| i + 1);
    &src[start..end]
}

/// Bit flags of [`CLASS`].
pub(crate) const TOKEN: u8 = 1 << 0;
/// `baggage-octet`: `%x21 / %x23-2B / %x2D-3A / %x3C-5B / %x5D-7E`.
pub(crate) const BAGGAGE_OCTET: u8 = 1 << 1;
/// tracestate `keychar`: `lcalpha / DIGIT / "_" / "-" / "*" / "/" / "@"`.
pub(crate) const TS_KEYCHAR: u8 = 1 << 2;
/// tracestate `nblk-chr`: `%x21-2B / %x2D-3C / %x3E-7E`.
pub(crate) const TS_NBLK: u8 = 1 << 3;
/// A correlation ID byte: visible ASCII except `"`, `\` and `,`.
pub(crate) const CORRELATION: u8 = 1 << 4;

/// One table for every character class; a byte's entry is the set of classes
/// it belongs to. Every byte >= 0x80 maps to 0: none of the grammars admit
/// anything but ASCII.
pub(crate) static CLASS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut c: u8 = 0;
    loop {
        let mut class = 0;
        // RFC 7230 tchar: "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-"
        // / "." / "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
        if c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            )
        {
            class |= TOKEN;
        }
        if matches!(c, 0x21 | 0x23..=0x2b | 0x2d..=0x3a | 0x3c..=0x5b | 0x5d..=0x7e) {
            class |= BAGGAGE_OCTET;
        }
        if c.is_ascii_lowercase()
            || c.is_ascii_digit()
            || matches!(c, b'_' | b'-' | b'*' | b'/' | b'@')
        {
            class |= TS_KEYCHAR;
        }
        if matches!(c, 0x21..=0x2b | 0x2d..=0x3c | 0x3e..=0x7e) {
            class |= TS_NBLK;
        }
        if matches!(c, 0x21..=0x7e) && !matches!(c, b'"' | b'\\' | b',') {
            class |= CORRELATION;
        }
        table[c as usize] = class;
        if c == u8::MAX {
            break;
        }
        c += 1;
    }
    table
};

/// Whether `b` is in every class of `class`.
#[inline]
pub(crate) fn is(b: u8, class: u8) -> bool {
    CLASS[usize::from(b)] & class == class
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the decoder must do, written the slow and obvious way: each
    /// pair of `HEXDIGLC` (`0-9`, `a-f`) is one byte.
    fn reference<const N: usize>(src: &[u8]) -> Option<[u8; N]> {
        let digit = |b: u8| match b {
            b'0'..=b'9' => Some(b - b'0'),
            b'a'..=b'f' => Some(b - b'a' + 10),
            _ => None,
        };
        if src.len() != 2 * N {
            return None;
        }
        let mut out = [0; N];
        for (byte, pair) in out.iter_mut().zip(src.chunks(2)) {
            *byte = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(out)
    }

    #[test]
    fn hex_is_lowercase_only() {
        assert_eq!(decode_hex::<1>(b"af"), Some([0xaf]));
        assert_eq!(decode_hex::<1>(b"AF"), None, "uppercase is not HEXDIGLC");
        assert_eq!(decode_hex::<1>(b"+f"), None, "a sign is not a digit");
        assert_eq!(decode_hex::<1>(b"f"), None, "short input");
        assert_eq!(decode_hex::<1>(b"fff"), None, "long input");
    }

    #[test]
    fn both_decoders_agree_on_every_pair() {
        for a in 0..=255u8 {
            for b in 0..=255u8 {
                let pair = [a, b];
                assert_eq!(decode_hex::<1>(&pair), reference::<1>(&pair), "{pair:?}");
            }
        }
        assert_eq!(decode_hex::<2>(b"0aFf"), None);
        assert_eq!(decode_hex::<2>(b"0aff"), Some([0x0a, 0xff]));
    }

    #[test]
    fn word_decoder_agrees_with_the_table_on_every_byte_in_every_place() {
        // Every byte value at every place of an id, the others valid: the
        // word decoder's carries and ranges checked against the table.
        let valid = b"0123456789abcdef0f1e2d3c4b5a6978";
        for place in 0..valid.len() {
            for b in 0..=255u8 {
                let mut id = *valid;
                id[place] = b;
                assert_eq!(
                    decode_hex::<16>(&id),
                    reference::<16>(&id),
                    "{b:#x} at {place}"
                );
            }
        }
        assert_eq!(
            decode_hex::<16>(valid),
            Some(*b"\x01\x23\x45\x67\x89\xab\xcd\xef\x0f\x1e\x2d\x3c\x4b\x5a\x69\x78")
        );
        assert_eq!(decode_hex::<8>(&valid[1..]), None, "too long by one");
        assert_eq!(decode_hex::<8>(&valid[..15]), None, "too short by one");
    }

    proptest::proptest! {
        #[test]
        fn word_decoder_agrees_with_the_table(id in proptest::collection::vec(
            proptest::prop_oneof![
                proptest::sample::select(HEX_DIGITS.to_vec()),
                proptest::num::u8::ANY,
            ],
            16,
        )) {
            proptest::prop_assert_eq!(decode_hex::<8>(&id), reference::<8>(&id));
        }
    }

    #[test]
    fn classes_admit_no_byte_above_ascii() {
        assert!((0x80..=0xff).all(|b| CLASS[b] == 0));
    }

    #[test]
    fn classes_follow_the_grammars() {
        // Compared with the ABNF written out as plain predicates.
        for b in 0u8..=0x7f {
            let baggage = b == 0x21
                || (0x23..=0x2b).contains(&b)
                || (0x2d..=0x3a).contains(&b)
                || (0x3c..=0x5b).contains(&b)
                || (0x5d..=0x7e).contains(&b);
            assert_eq!(is(b, BAGGAGE_OCTET), baggage, "baggage-octet {b:#x}");
            let nblk = (0x21..=0x2b).contains(&b)
                || (0x2d..=0x3c).contains(&b)
                || (0x3e..=0x7e).contains(&b);
            assert_eq!(is(b, TS_NBLK), nblk, "nblk-chr {b:#x}");
        }
        assert!(is(b'@', TS_KEYCHAR) && !is(b'A', TS_KEYCHAR));
        assert!(is(b'!', TOKEN) && !is(b'(', TOKEN) && !is(b'=', TOKEN));
        assert!(!is(b' ', CORRELATION) && !is(b',', CORRELATION) && is(b'~', CORRELATION));
    }

    #[test]
    fn trim_ows_removes_space_and_tab_only() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
        assert_eq!(trim_ows(b"\na\r"), b"\na\r");
    }
}
