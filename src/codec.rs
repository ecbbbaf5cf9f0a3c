//! The one place bytes become messages and messages become bytes.
//!
//! bincode 2.0.1 (pinned: the crate is no longer maintained, so nothing else
//! in the crate names it) with fixed-width little-endian integers and a byte
//! limit, decoding from a slice. A value is accepted only if it consumes the
//! whole input and encodes back to exactly the same bytes, so every message
//! has one encoding (ids and signatures depend on it).

use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::proto::wire::{FRAME_BYTES_MAX, Wire};

/// Why bytes were refused as a message. Nothing was decoded; the caller drops
/// the bytes (and, for a peer, closes that link).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum WireError {
    /// The input is larger than the limit for this message type.
    #[error("message of {len} bytes exceeds the limit of {max}")]
    TooLarge {
        /// Size of the input (or of the encoding), in bytes.
        len: usize,
        /// The limit, in bytes: [`FRAME_BYTES_MAX`] for a message,
        /// [`STATE_BYTES_MAX`] for an applet state or snapshot.
        max: usize,
    },
    /// bincode could not decode the bytes (truncated, bad tag, bad UTF-8,
    /// a length larger than the limit, ...).
    #[error("malformed message: {0}")]
    Malformed(String),
    /// Bytes were left over after the value.
    #[error("{0} trailing bytes after the message")]
    Trailing(usize),
    /// The value decoded but encodes differently (a second encoding of the
    /// same value).
    #[error("non-canonical encoding")]
    NonCanonical,
    /// The value could not be encoded (too large for its limit).
    #[error("cannot encode: {0}")]
    Encode(String),
}

// The limit is a type parameter in bincode 2; it matches FRAME_BYTES_MAX.
const LIMIT: usize = 60 * 1024;
const _: () = assert!(LIMIT == FRAME_BYTES_MAX);

fn config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<LIMIT>()
}

/// Encodes any protocol value (the limit applies).
pub fn encode_value<T: Serialize>(value: &T) -> Result<Vec<u8>, WireError> {
    let bytes = bincode::serde::encode_to_vec(value, config())
        .map_err(|e| WireError::Encode(e.to_string()))?;
    if bytes.len() > LIMIT {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            max: LIMIT,
        });
    }
    Ok(bytes)
}

/// Decodes any protocol value: size limit first, then bincode with the byte
/// limit, then whole-input and canonical re-encoding checks.
pub fn decode_value<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    if bytes.len() > LIMIT {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            max: LIMIT,
        });
    }
    let (value, used): (T, usize) = bincode::serde::decode_from_slice(bytes, config())
        .map_err(|e| WireError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(WireError::Trailing(bytes.len() - used));
    }
    let again = encode_value(&value)?;
    if again != bytes {
        return Err(WireError::NonCanonical);
    }
    Ok(value)
}

/// Largest encoded applet state or snapshot: states are never sent in one
/// frame, so they get their own, larger limit.
pub const STATE_BYTES_MAX: usize = 256 * 1024 * 1024;

fn state_config() -> impl bincode::config::Config {
    bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding()
        .with_limit::<STATE_BYTES_MAX>()
}

/// Encodes an applet state or snapshot (same encoding as messages, limit
/// [`STATE_BYTES_MAX`]).
pub fn encode_state<T: Serialize>(value: &T) -> Result<Vec<u8>, WireError> {
    bincode::serde::encode_to_vec(value, state_config())
        .map_err(|e| WireError::Encode(e.to_string()))
}

/// Decodes an applet state or snapshot: the limit, whole input, canonical.
pub fn decode_state<T: Serialize + DeserializeOwned>(bytes: &[u8]) -> Result<T, WireError> {
    if bytes.len() > STATE_BYTES_MAX {
        return Err(WireError::TooLarge {
            len: bytes.len(),
            max: STATE_BYTES_MAX,
        });
    }
    let (value, used): (T, usize) = bincode::serde::decode_from_slice(bytes, state_config())
        .map_err(|e| WireError::Malformed(e.to_string()))?;
    if used != bytes.len() {
        return Err(WireError::Trailing(bytes.len() - used));
    }
    if encode_state(&value)? != bytes {
        return Err(WireError::NonCanonical);
    }
    Ok(value)
}

/// Encodes one [`Wire`] message for a frame.
pub fn encode(wire: &Wire) -> Result<Vec<u8>, WireError> {
    encode_value(wire)
}

/// Decodes one frame's bytes into a [`Wire`] message.
pub fn decode(bytes: &[u8]) -> Result<Wire, WireError> {
    decode_value(bytes)
}

/// The encoded size of a message, without allocating it (the simulator uses
/// this for its byte counts).
pub fn encoded_len<T: Serialize>(value: &T) -> usize {
    struct Count(usize);
    impl bincode::enc::write::Writer for Count {
        fn write(&mut self, bytes: &[u8]) -> Result<(), bincode::error::EncodeError> {
            self.0 += bytes.len();
            Ok(())
        }
    }
    let mut count = Count(0);
    // The limit does not apply to counting: a too-large value reports its size.
    let cfg = bincode::config::standard()
        .with_little_endian()
        .with_fixed_int_encoding();
    match bincode::serde::encode_into_writer(value, &mut count, cfg) {
        Ok(()) => count.0,
        Err(_) => usize::MAX,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::NodeId;
    use crate::proto::{plumtree, topology};

    #[test]
    fn wire_round_trips_and_len_matches() {
        let w = Wire::Plumtree(plumtree::Message::Gossip(plumtree::Gossip {
            id: crate::id::MessageId([7; 32]),
            author: NodeId([1; 32]),
            seq: 9,
            round: 2,
            payload: b"hello".to_vec(),
        }));
        let bytes = encode(&w).unwrap();
        assert_eq!(encoded_len(&w), bytes.len());
        assert_eq!(decode(&bytes).unwrap(), w);
    }

    #[test]
    fn trailing_bytes_are_refused() {
        let mut bytes = encode(&Wire::Topology(topology::Message::Degree(3))).unwrap();
        bytes.push(0);
        assert_eq!(decode(&bytes), Err(WireError::Trailing(1)));
    }

    #[test]
    fn truncated_and_garbage_frames_are_refused() {
        let bytes = encode(&Wire::Topology(topology::Message::Degree(3))).unwrap();
        assert!(matches!(
            decode(&bytes[..bytes.len() - 1]),
            Err(WireError::Malformed(_))
        ));
        assert!(matches!(decode(&[0xff; 8]), Err(WireError::Malformed(_))));
        assert!(matches!(decode(&[]), Err(WireError::Malformed(_))));
    }

    #[test]
    fn a_length_prefix_asking_for_terabytes_is_refused_without_allocating() {
        // Plumtree::IHave(Vec) with a length of 2^40 entries in 12 bytes.
        let mut bytes = vec![2, 0, 0, 0, 1, 0, 0, 0];
        bytes.extend_from_slice(&(1u64 << 40).to_le_bytes());
        assert!(matches!(decode(&bytes), Err(WireError::Malformed(_))));
    }

    #[test]
    fn oversized_input_is_refused_before_decoding() {
        let bytes = vec![0u8; FRAME_BYTES_MAX + 1];
        assert_eq!(
            decode(&bytes),
            Err(WireError::TooLarge {
                len: FRAME_BYTES_MAX + 1,
                max: FRAME_BYTES_MAX
            })
        );
    }

    #[test]
    fn an_option_tag_of_two_is_malformed() {
        // Option<MessageId> tag must be 0 or 1; bincode rejects 2 outright,
        // so build a non-canonical value another way: a bool byte of 2.
        let mut bytes = encode(&Wire::Plumtree(plumtree::Message::Graft {
            id: None,
            round: 1,
        }))
        .unwrap();
        // variant(4) variant(4) option-tag(1) round(2): set the tag to 2.
        bytes[8] = 2;
        assert!(matches!(decode(&bytes), Err(WireError::Malformed(_))));
    }

    #[test]
    fn a_decodable_but_non_canonical_encoding_is_refused() {
        // A map sent out of order (or with a repeated key) decodes, since
        // serde sorts it, but re-encodes to other bytes: two encodings of
        // one value would give one op two ids.
        use std::collections::BTreeMap;
        let map: BTreeMap<u8, u8> = [(1, 10), (2, 20)].into();
        let bytes = encode_value(&map).expect("encodes");
        // length (u64 LE) then (key, value) pairs: swap the two pairs.
        assert_eq!(bytes[8..], [1, 10, 2, 20]);
        let mut swapped = bytes.clone();
        swapped[8..].copy_from_slice(&[2, 20, 1, 10]);
        assert_eq!(
            decode_value::<BTreeMap<u8, u8>>(&swapped),
            Err(WireError::NonCanonical)
        );
        let mut repeated = bytes.clone();
        repeated[8..].copy_from_slice(&[1, 10, 1, 11]);
        assert_eq!(
            decode_value::<BTreeMap<u8, u8>>(&repeated),
            Err(WireError::NonCanonical)
        );
        assert_eq!(decode_value::<BTreeMap<u8, u8>>(&bytes), Ok(map.clone()));
        // The same check guards states and snapshots.
        let state = encode_state(&map).expect("encodes");
        let mut swapped = state.clone();
        swapped[8..].copy_from_slice(&[2, 20, 1, 10]);
        assert_eq!(
            decode_state::<BTreeMap<u8, u8>>(&swapped),
            Err(WireError::NonCanonical)
        );
    }

    #[test]
    fn random_and_mutated_frames_never_panic_or_decode_to_other_bytes() {
        // A seeded fuzz-style sweep: random bytes, and valid frames with
        // one byte changed, one byte cut or one byte added. Whatever
        // decodes must re-encode to exactly its input.
        use rand::{RngExt, SeedableRng};
        let mut rng = crate::proto::EngineRng::seed_from_u64(7);
        let valid: Vec<Vec<u8>> = [
            Wire::Plumtree(plumtree::Message::Graft { id: None, round: 1 }),
            Wire::Plumtree(plumtree::Message::Prune),
        ]
        .iter()
        .map(|w| encode(w).expect("encodes"))
        .collect();
        for i in 0..20_000 {
            let bytes: Vec<u8> = if i % 2 == 0 {
                let len = rng.random_range(0..64);
                (0..len).map(|_| rng.random()).collect()
            } else {
                let mut b = valid[i % valid.len()].clone();
                match rng.random_range(0..3) {
                    0 => {
                        let at = rng.random_range(0..b.len());
                        b[at] ^= rng.random_range(1..=255u8);
                    }
                    1 => {
                        b.pop();
                    }
                    _ => b.push(rng.random()),
                }
                b
            };
            if let Ok(w) = decode(&bytes) {
                assert_eq!(encode(&w).expect("encodes"), bytes, "input {bytes:?}");
            }
        }
    }
}

/// Test vectors printed in `docs/protocol.md` ("Encoding"); a change here is
/// a protocol change.
#[cfg(test)]
mod vectors {
    use super::*;
    use crate::id::{MessageId, NodeId};
    use crate::proto::{membership, plumtree, topology};

    fn hex(w: &Wire) -> String {
        crate::id::to_hex(&encode(w).expect("encodes"))
    }

    #[test]
    fn documented_test_vectors_hold() {
        assert_eq!(
            hex(&Wire::Topology(topology::Message::Degree(5))),
            "01000000000000000500"
        );
        assert_eq!(
            hex(&Wire::Plumtree(plumtree::Message::Graft {
                id: Some(MessageId([0xaa; 32])),
                round: 3
            })),
            format!("020000000200000001{}0300", "aa".repeat(32))
        );
        assert_eq!(
            hex(&Wire::Plumtree(plumtree::Message::Prune)),
            "0200000003000000"
        );
        assert_eq!(
            hex(&Wire::Membership(membership::Message::SynAck {
                delta: vec![membership::NodeDelta {
                    node: NodeId([0x22; 32]),
                    generation: 1,
                    heartbeat: 2,
                    entries: vec![membership::KvEntry {
                        key: "k".into(),
                        value: b"v".to_vec(),
                        version: 3,
                    }],
                }],
                requests: vec![membership::DigestEntry {
                    node: NodeId([0x33; 32]),
                    generation: 1,
                    heartbeat: 5,
                    max_version: 0,
                }],
            })),
            [
                "00000000",
                "01000000",
                "0100000000000000",
                &"22".repeat(32),
                "0100000000000000",
                "0200000000000000",
                "0100000000000000",
                "0100000000000000",
                "6b",
                "0100000000000000",
                "76",
                "0300000000000000",
                "0100000000000000",
                &"33".repeat(32),
                "0100000000000000",
                "0500000000000000",
                "0000000000000000",
            ]
            .concat()
        );
        assert_eq!(
            hex(&Wire::Membership(membership::Message::Ack {
                delta: vec![]
            })),
            "00000000020000000000000000000000"
        );
        assert_eq!(
            hex(&Wire::Plumtree(plumtree::Message::IHave(vec![
                plumtree::IHave {
                    id: MessageId([0xaa; 32]),
                    round: 3
                }
            ]))),
            format!("02000000010000000100000000000000{}0300", "aa".repeat(32))
        );
        assert_eq!(
            hex(&Wire::Plumtree(plumtree::Message::Graft {
                id: None,
                round: 3
            })),
            "0200000002000000000300"
        );
        let author = NodeId([0x11; 32]);
        let id = MessageId::for_broadcast(&author, 1, b"hi");
        assert_eq!(
            hex(&Wire::Plumtree(plumtree::Message::Gossip(
                plumtree::Gossip {
                    id,
                    author,
                    seq: 1,
                    round: 2,
                    payload: b"hi".to_vec(),
                }
            ))),
            format!(
                "0200000000000000{}{}010000000000000002000200000000000000{}",
                id,
                "11".repeat(32),
                "6869"
            )
        );
        assert_eq!(
            id.to_string(),
            "1fe4ead83849b652775bf1c991e18106beefa98be0a2a7c35e56b21fa7186d89"
        );
        assert_eq!(
            hex(&Wire::Membership(membership::Message::Syn {
                digest: membership::Digest {
                    start: NodeId([0; 32]),
                    end: None,
                    entries: vec![membership::DigestEntry {
                        node: NodeId([0x22; 32]),
                        generation: 1,
                        heartbeat: 2,
                        max_version: 3
                    }]
                }
            })),
            format!(
                "00000000{}{}{}{}{}{}{}{}",
                "00000000",         // Membership, Syn
                "00".repeat(32),    // digest.start
                "00",               // digest.end: None
                "0100000000000000", // one entry
                "22".repeat(32),    // node
                "0100000000000000", // generation
                "0200000000000000", // heartbeat
                "0300000000000000"  // max_version
            )
        );
    }
}
