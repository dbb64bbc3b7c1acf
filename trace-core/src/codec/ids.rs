//! `TraceId`, `SpanId` and `TraceFlags`.

use std::{fmt, ops};

use rand::Rng;

use crate::{
    codec::chars::{decode_hex, encode_hex},
    codec::{ParseError, ParseErrorKind},
};

/// Fills `bytes` from the thread's generator until they are not all zero.
///
/// `rand`'s `ThreadRng` is a per-thread ChaCha generator seeded and reseeded
/// from the OS: a user-space draw costs a few nanoseconds and takes no lock,
/// and its output is not predictable from earlier ids (W3C Trace Context §8.3
/// asks ids not to leak information).
///
/// Ids are whole words (8 or 16 bytes), drawn a word at a time: cheaper than
/// `fill_bytes`, which copies through the generator's buffer byte-wise.
fn fill_nonzero(bytes: &mut [u8]) {
    let mut rng = rand::rng();
    loop {
        for word in bytes.chunks_mut(8) {
            let draw = rng.next_u64().to_ne_bytes();
            word.copy_from_slice(&draw[..word.len()]);
        }
        // All-zero ids are invalid; the chance of drawing one is 2^-64 or less.
        if bytes.iter().any(|&b| b != 0) {
            return;
        }
    }
}

macro_rules! id_type {
    (
        $(#[$doc:meta])*
        $name:ident, $len:literal, $hex_len:literal, $kind:ident
    ) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
        pub struct $name([u8; $len]);

        impl $name {
            /// The all-zero id, which W3C Trace Context declares invalid.
            pub const INVALID: Self = Self([0; $len]);

            /// The number of hex digits in the text form.
            pub const HEX_LEN: usize = $hex_len;

            /// An id from its bytes, most significant first (as written in hex).
            #[must_use]
            pub const fn from_bytes(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }

            /// The id's bytes, most significant first.
            #[must_use]
            pub const fn to_bytes(self) -> [u8; $len] {
                self.0
            }

            /// Whether the id is not all zeros.
            #[must_use]
            pub const fn is_valid(&self) -> bool {
                let mut i = 0;
                while i < $len {
                    if self.0[i] != 0 {
                        return true;
                    }
                    i += 1;
                }
                false
            }

            /// A fresh random id, never [`INVALID`](Self::INVALID).
            ///
            /// Every byte is drawn from a per-thread cryptographically seeded
            /// generator, so the id is fully random.
            #[must_use]
            pub fn random() -> Self {
                let mut bytes = [0; $len];
                fill_nonzero(&mut bytes);
                Self(bytes)
            }

            /// Parses an id from a `&'static str` at compile time.
            ///
            /// # Panics
            ///
            /// When `src` is not exactly the right number of lowercase hex
            /// digits; in a `const` this is a compile error.
            ///
            /// ```should_panic
            #[doc = concat!("use trace_core::", stringify!($name), ";")]
            ///
            #[doc = concat!("let _ = ", stringify!($name), "::from_static(\"not hex\");")]
            /// ```
            #[must_use]
            pub const fn from_static(src: &'static str) -> Self {
                match decode_hex::<$len>(src.as_bytes()) {
                    Some(bytes) => Self(bytes),
                    None => panic!(concat!(
                        stringify!($name),
                        "::from_static: not ",
                        stringify!($hex_len),
                        " lowercase hex digits"
                    )),
                }
            }

            /// The id as lowercase hex, without allocating.
            #[must_use]
            pub fn to_hex(self) -> [u8; $hex_len] {
                let mut out = [0; $hex_len];
                encode_hex(&self.0, &mut out);
                out
            }

            pub(crate) fn parse(src: &[u8]) -> Result<Self, ParseError> {
                decode_hex::<$len>(src)
                    .map(Self)
                    .ok_or(ParseError::new(ParseErrorKind::$kind))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                let hex = self.to_hex();
                f.write_str(std::str::from_utf8(&hex).expect("hex digits are ASCII"))
            }
        }

        impl fmt::LowerHex for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Display::fmt(self, f)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, concat!(stringify!($name), "({})"), self)
            }
        }

        impl_parse!($name);

        impl From<[u8; $len]> for $name {
            fn from(bytes: [u8; $len]) -> Self {
                Self(bytes)
            }
        }

        impl From<$name> for [u8; $len] {
            fn from(id: $name) -> Self {
                id.0
            }
        }
    };
}

id_type! {
    /// The 16-byte id of a whole trace, shared by every span in it.
    ///
    /// Its text form is exactly 32 lowercase hex digits (W3C Trace Context
    /// §3.2.2.3); uppercase, a sign, or any other length is an error.
    /// [`TraceId::INVALID`] (all zeros) can be held but is never valid on the
    /// wire.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::{TraceId, codec::ParseErrorKind};
    ///
    /// let id: TraceId = "4bf92f3577b34da6a3ce929d0e0e4736".parse()?;
    /// assert!(id.is_valid());
    /// assert_eq!(id.to_string(), "4bf92f3577b34da6a3ce929d0e0e4736");
    ///
    /// // Uppercase and short ids are errors, not numbers.
    /// let err = "4BF92F3577B34DA6A3CE929D0E0E4736".parse::<TraceId>().unwrap_err();
    /// assert_eq!(err.kind(), ParseErrorKind::TraceId);
    /// assert!("abc".parse::<TraceId>().is_err());
    ///
    /// assert!(!TraceId::INVALID.is_valid());
    /// assert!(TraceId::random().is_valid());
    /// # Ok::<(), trace_core::ParseError>(())
    /// ```
    TraceId, 16, 32, TraceId
}

id_type! {
    /// The 8-byte id of one span; in a `traceparent` it is the parent-id.
    ///
    /// Its text form is exactly 16 lowercase hex digits (W3C Trace Context
    /// §3.2.2.4). [`SpanId::INVALID`] (all zeros) can be held but is never
    /// valid on the wire.
    ///
    /// # Examples
    ///
    /// ```
    /// use trace_core::{SpanId, codec::ParseErrorKind};
    ///
    /// let id: SpanId = "00f067aa0ba902b7".parse()?;
    /// assert_eq!(id.to_bytes(), [0x00, 0xf0, 0x67, 0xaa, 0x0b, 0xa9, 0x02, 0xb7]);
    /// assert_eq!(id, SpanId::from_static("00f067aa0ba902b7"));
    ///
    /// let err = "+0f067aa0ba902b7".parse::<SpanId>().unwrap_err();
    /// assert_eq!(err.kind(), ParseErrorKind::ParentId);
    /// assert_ne!(SpanId::random(), SpanId::INVALID);
    /// # Ok::<(), trace_core::ParseError>(())
    /// ```
    SpanId, 8, 16, ParentId
}

impl TraceId {
    /// The id as a big-endian integer (the OpenTelemetry API's form).
    #[must_use]
    pub const fn to_u128(self) -> u128 {
        u128::from_be_bytes(self.0)
    }

    /// An id from a big-endian integer.
    #[must_use]
    pub const fn from_u128(value: u128) -> Self {
        Self(value.to_be_bytes())
    }
}

impl SpanId {
    /// The id as a big-endian integer (the OpenTelemetry API's form).
    #[must_use]
    pub const fn to_u64(self) -> u64 {
        u64::from_be_bytes(self.0)
    }

    /// An id from a big-endian integer.
    #[must_use]
    pub const fn from_u64(value: u64) -> Self {
        Self(value.to_be_bytes())
    }
}

/// The `trace-flags` of a `traceparent`: sampled and (Level 2) random.
///
/// Only the bits this crate knows are kept: W3C Trace Context §3.2.2.5.3 says
/// the others are reserved and vendors MUST set them to zero, so a value
/// built from `0xff` holds `0x03`. The random flag survives a pass through
/// a service, as Level 2 requires of anyone continuing a trace.
///
/// # Examples
///
/// ```
/// use trace_core::TraceFlags;
///
/// let flags: TraceFlags = "03".parse()?;
/// assert!(flags.is_sampled() && flags.is_random());
/// assert_eq!(flags, TraceFlags::SAMPLED | TraceFlags::RANDOM);
///
/// // Reserved bits are dropped, never passed on.
/// assert_eq!(TraceFlags::new(0xff).to_u8(), 0x03);
/// assert_eq!("ff".parse::<TraceFlags>()?.to_string(), "03");
///
/// assert!("0x".parse::<TraceFlags>().is_err());
/// # Ok::<(), trace_core::ParseError>(())
/// ```
#[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
pub struct TraceFlags(u8);

impl TraceFlags {
    /// No flag set.
    pub const NONE: Self = Self(0);
    /// The caller may have recorded trace data (bit 0).
    pub const SAMPLED: Self = Self(0x01);
    /// At least the right-most 7 bytes of the trace-id are random (bit 1,
    /// W3C Trace Context Level 2).
    pub const RANDOM: Self = Self(0x02);

    const KNOWN: u8 = Self::SAMPLED.0 | Self::RANDOM.0;

    /// Flags from a byte, keeping only the known bits.
    #[must_use]
    pub const fn new(bits: u8) -> Self {
        Self(bits & Self::KNOWN)
    }

    /// The flags as a byte.
    #[must_use]
    pub const fn to_u8(self) -> u8 {
        self.0
    }

    /// Whether the sampled flag is set.
    #[must_use]
    pub const fn is_sampled(self) -> bool {
        self.0 & Self::SAMPLED.0 != 0
    }

    /// Whether the random trace-id flag is set.
    #[must_use]
    pub const fn is_random(self) -> bool {
        self.0 & Self::RANDOM.0 != 0
    }

    /// These flags with the sampled flag set or cleared.
    #[must_use]
    pub const fn with_sampled(self, sampled: bool) -> Self {
        if sampled {
            Self(self.0 | Self::SAMPLED.0)
        } else {
            Self(self.0 & !Self::SAMPLED.0)
        }
    }

    /// These flags with the random flag set or cleared.
    #[must_use]
    pub const fn with_random(self, random: bool) -> Self {
        if random {
            Self(self.0 | Self::RANDOM.0)
        } else {
            Self(self.0 & !Self::RANDOM.0)
        }
    }

    pub(crate) fn parse(src: &[u8]) -> Result<Self, ParseError> {
        decode_hex::<1>(src)
            .map(|[bits]| Self::new(bits))
            .ok_or(ParseError::new(ParseErrorKind::TraceFlags))
    }
}

impl ops::BitOr for TraceFlags {
    type Output = Self;

    fn bitor(self, rhs: Self) -> Self {
        Self(self.0 | rhs.0)
    }
}

impl ops::BitAnd for TraceFlags {
    type Output = Self;

    fn bitand(self, rhs: Self) -> Self {
        Self(self.0 & rhs.0)
    }
}

impl_parse!(TraceFlags);

impl fmt::Display for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02x}", self.0)
    }
}

impl fmt::Debug for TraceFlags {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TraceFlags")
            .field("sampled", &self.is_sampled())
            .field("random", &self.is_random())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trace_id_text_form_is_strict() {
        #[rustfmt::skip]
        let cases: &[(&str, bool, &str)] = &[
            ("4bf92f3577b34da6a3ce929d0e0e4736", true, "spec example"),
            ("00000000000000000000000000000000", true, "INVALID parses; is_valid says no"),
            ("4BF92F3577B34DA6A3CE929D0E0E4736", false, "uppercase is not HEXDIGLC"),
            ("4bf92f3577b34da6a3ce929d0e0e473", false, "31 digits"),
            ("4bf92f3577b34da6a3ce929d0e0e47360", false, "33 digits"),
            ("+bf92f3577b34da6a3ce929d0e0e4736", false, "a sign, which from_str_radix takes"),
            ("abc", false, "short input, which from_str_radix takes"),
            ("4bf92f3577b34da6a3ce929d0e0e473g", false, "non-hex letter"),
            ("4bf92f3577b34da6a3ce929d0e0e473é", false, "non-ASCII"),
            (" 4bf92f3577b34da6a3ce929d0e0e4736", false, "surrounding space"),
        ];
        for &(input, ok, reason) in cases {
            assert_eq!(input.parse::<TraceId>().is_ok(), ok, "{reason}: {input:?}");
        }
    }

    #[test]
    fn span_id_text_form_is_strict() {
        #[rustfmt::skip]
        let cases: &[(&str, bool, &str)] = &[
            ("00f067aa0ba902b7", true, "spec example"),
            ("00F067AA0BA902B7", false, "uppercase"),
            ("00f067aa0ba902b", false, "15 digits"),
            ("00f067aa0ba902b77", false, "17 digits"),
            ("-0f067aa0ba902b7", false, "a sign"),
        ];
        for &(input, ok, reason) in cases {
            assert_eq!(input.parse::<SpanId>().is_ok(), ok, "{reason}: {input:?}");
        }
    }

    #[test]
    fn ids_round_trip_through_text_and_integers() {
        let id = TraceId::from_static("4bf92f3577b34da6a3ce929d0e0e4736");
        assert_eq!(id.to_string().parse::<TraceId>(), Ok(id));
        assert_eq!(TraceId::from_u128(id.to_u128()), id);
        assert_eq!(id.to_u128(), 0x4bf9_2f35_77b3_4da6_a3ce_929d_0e0e_4736);
        assert_eq!(
            format!("{id:?}"),
            "TraceId(4bf92f3577b34da6a3ce929d0e0e4736)"
        );

        let span = SpanId::from_static("00f067aa0ba902b7");
        assert_eq!(SpanId::from_u64(span.to_u64()), span);
        assert_eq!(span.to_u64(), 0x00f0_67aa_0ba9_02b7);
    }

    #[test]
    fn random_ids_are_valid_and_differ() {
        let a = TraceId::random();
        let b = TraceId::random();
        assert!(a.is_valid() && b.is_valid());
        assert_ne!(a, b, "two 128-bit draws collide with probability 2^-128");
        assert_ne!(SpanId::random(), SpanId::random());
    }

    #[test]
    fn flags_keep_only_known_bits() {
        assert_eq!(TraceFlags::new(0x01), TraceFlags::SAMPLED);
        assert_eq!(TraceFlags::new(0x02), TraceFlags::RANDOM);
        assert_eq!(
            TraceFlags::new(0x04),
            TraceFlags::NONE,
            "reserved bit 2 is dropped"
        );
        assert_eq!(TraceFlags::new(0xff).to_u8(), 0x03);
        assert_eq!(TraceFlags::parse(b"09"), Ok(TraceFlags::SAMPLED));
        assert!(TraceFlags::parse(b"0A").is_err(), "uppercase");
        assert!(TraceFlags::parse(b"1").is_err(), "one digit");
        let flags = TraceFlags::NONE.with_sampled(true).with_random(true);
        assert!(flags.is_sampled() && flags.is_random());
        assert!(!flags.with_sampled(false).is_sampled());
        assert!(
            flags.with_sampled(false).is_random(),
            "clearing sampled keeps random"
        );
    }
}
