//! Identifier newtypes: [`NodeId`] (an Ed25519 public key) and [`MessageId`]
//! (a SHA-256 content hash). Both print as lowercase hex; `fmt_short()` gives
//! the first 8 hex digits people read on screen.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Writes `bytes` as lowercase hex.
pub fn to_hex(bytes: &[u8]) -> String {
    const DIGITS: &[u8; 16] = b"0123456789abcdef";
    let mut s = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        s.push(DIGITS[(b >> 4) as usize] as char);
        s.push(DIGITS[(b & 0x0f) as usize] as char);
    }
    s
}

/// Parses exactly `N` bytes of hex (either case).
pub fn from_hex<const N: usize>(s: &str) -> Result<[u8; N], HexError> {
    let s = s.as_bytes();
    if s.len() != N * 2 {
        return Err(HexError::Length {
            expected: N * 2,
            got: s.len(),
        });
    }
    let mut out = [0u8; N];
    for (i, pair) in s.chunks_exact(2).enumerate() {
        let hi = hex_digit(pair[0])?;
        let lo = hex_digit(pair[1])?;
        out[i] = (hi << 4) | lo;
    }
    Ok(out)
}

fn hex_digit(c: u8) -> Result<u8, HexError> {
    match c {
        b'0'..=b'9' => Ok(c - b'0'),
        b'a'..=b'f' => Ok(c - b'a' + 10),
        b'A'..=b'F' => Ok(c - b'A' + 10),
        _ => Err(HexError::Digit(c as char)),
    }
}

/// Why a hex string was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HexError {
    /// The string had the wrong number of digits.
    #[error("expected {expected} hex digits, got {got}")]
    Length {
        /// Digits the type needs (64 for a 32-byte id).
        expected: usize,
        /// Digits (bytes) given.
        got: usize,
    },
    /// A character that is not a hex digit.
    #[error("{0:?} is not a hex digit")]
    Digit(char),
}

macro_rules! id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, Default)]
        pub struct $name(pub [u8; 32]);

        // On the wire (bincode: not human-readable) the 32 bytes; in JSON
        // and other human-readable formats, 64 hex digits.
        impl Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                if s.is_human_readable() {
                    s.serialize_str(&to_hex(&self.0))
                } else {
                    s.serialize_newtype_struct(stringify!($name), &self.0)
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                if d.is_human_readable() {
                    let text = String::deserialize(d)?;
                    Self::from_hex(&text).map_err(serde::de::Error::custom)
                } else {
                    struct Bytes;
                    impl<'de> serde::de::Visitor<'de> for Bytes {
                        type Value = [u8; 32];
                        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                            f.write_str(stringify!($name))
                        }
                        fn visit_newtype_struct<D: serde::Deserializer<'de>>(
                            self,
                            d: D,
                        ) -> Result<[u8; 32], D::Error> {
                            <[u8; 32]>::deserialize(d)
                        }
                    }
                    d.deserialize_newtype_struct(stringify!($name), Bytes).map(Self)
                }
            }
        }

        // Byte-wise order, computed on two big-endian u128 halves: the same
        // order as comparing the bytes, without a memcmp call per lookup
        // (ids are map keys on every hot path).
        impl Ord for $name {
            fn cmp(&self, other: &Self) -> std::cmp::Ordering {
                let halves = |b: &[u8; 32]| {
                    let mut hi = [0u8; 16];
                    let mut lo = [0u8; 16];
                    hi.copy_from_slice(&b[..16]);
                    lo.copy_from_slice(&b[16..]);
                    (u128::from_be_bytes(hi), u128::from_be_bytes(lo))
                };
                halves(&self.0).cmp(&halves(&other.0))
            }
        }

        impl PartialOrd for $name {
            fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl $name {
            /// The raw 32 bytes.
            pub fn as_bytes(&self) -> &[u8; 32] {
                &self.0
            }

            /// The first 8 hex digits, for people.
            pub fn fmt_short(&self) -> String {
                to_hex(&self.0[..4])
            }

            /// Parses 64 hex digits.
            pub fn from_hex(s: &str) -> Result<Self, HexError> {
                from_hex::<32>(s).map(Self)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&to_hex(&self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self.fmt_short())
            }
        }

        impl std::str::FromStr for $name {
            type Err = HexError;
            fn from_str(s: &str) -> Result<Self, HexError> {
                Self::from_hex(s)
            }
        }
    };
}

id_type!(
    /// A node's identity: its Ed25519 public key (32 bytes).
    NodeId
);
id_type!(
    /// An op's id: SHA-256 over a domain tag and the op's canonical
    /// encoding (see `docs/protocol.md`, "Ops").
    OpId
);
id_type!(
    /// A broadcast message's id: SHA-256 over a domain tag, the author, the
    /// author's sequence number and the payload (see `docs/protocol.md`).
    MessageId
);

#[cfg(test)]
mod tests {
    #[test]
    fn ids_are_bytes_on_the_wire_and_hex_in_json() {
        let id = super::NodeId([0xab; 32]);
        let wire = crate::codec::encode_value(&id).expect("encodes");
        assert_eq!(wire, vec![0xab; 32], "bincode: the raw 32 bytes");
        assert_eq!(crate::codec::decode_value::<super::NodeId>(&wire), Ok(id));
        let json = serde_json::to_string(&id).expect("json");
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(
            serde_json::from_str::<super::NodeId>(&json).expect("parses"),
            id
        );
        assert!(serde_json::from_str::<super::NodeId>("\"abc\"").is_err());
    }

    use super::*;

    #[test]
    fn hex_round_trips_and_short_form_is_eight_digits() {
        let id = NodeId([0xab; 32]);
        let s = id.to_string();
        assert_eq!(s.len(), 64);
        assert_eq!(id.fmt_short(), "abababab");
        assert_eq!(NodeId::from_hex(&s.to_uppercase()), Ok(id));
    }

    #[test]
    fn order_is_the_byte_order() {
        let mut a = [0u8; 32];
        let mut b = [0u8; 32];
        for (i, (x, y)) in a.iter_mut().zip(b.iter_mut()).enumerate() {
            *x = (i * 37 % 251) as u8;
            *y = *x;
        }
        for i in [0, 7, 15, 16, 31] {
            let mut c = b;
            c[i] = c[i].wrapping_add(1);
            assert_eq!(NodeId(a).cmp(&NodeId(c)), a.cmp(&c), "byte {i}");
            assert_eq!(NodeId(c).cmp(&NodeId(a)), c.cmp(&a), "byte {i}");
        }
        assert_eq!(NodeId(a).cmp(&NodeId(b)), std::cmp::Ordering::Equal);
    }

    #[test]
    fn bad_hex_is_refused_with_a_reason() {
        assert_eq!(
            NodeId::from_hex("abc"),
            Err(HexError::Length {
                expected: 64,
                got: 3
            })
        );
        let bad = "g".repeat(64);
        assert_eq!(NodeId::from_hex(&bad), Err(HexError::Digit('g')));
    }
}
