//! Discovery beacons: the UDP datagram a node broadcasts so that others of
//! the same room can dial it.
//!
//! A beacon is sealed with the room's beacon key (ChaCha20-Poly1305, a
//! random 12-byte nonce, associated data `flashmesh/beacon/v1`), so only
//! nodes of the same room can read it and nobody can forge one. It carries
//! the sender's node id, TCP port and wall-clock time; the receiver drops
//! beacons outside a time window, exact duplicates (by nonce) within it, and
//! its own. The address to dial is the datagram's source address.
//!
//! Pure code: time comes in as milliseconds since the Unix epoch and the
//! nonce from the caller's RNG.

use std::collections::{BTreeMap, VecDeque};

use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, KeyInit, Nonce};
use serde::{Deserialize, Serialize};

use crate::codec;
use crate::id::NodeId;

/// Associated data of every sealed beacon.
pub const BEACON_AAD: &[u8] = b"flashmesh/beacon/v1";
/// Beacon format version.
pub const BEACON_VERSION: u16 = 1;
/// Bytes of the nonce in front of the ciphertext.
pub const BEACON_NONCE_BYTES: usize = 12;
/// A sealed beacon is exactly this long: nonce, 44-byte body, 16-byte tag.
pub const BEACON_BYTES: usize = BEACON_NONCE_BYTES + 44 + 16;
/// Beacons stamped further than this from the receiver's clock are dropped
/// (replays, or a badly set clock).
pub const BEACON_WINDOW_MS: u64 = 30_000;
/// Nonces remembered to drop duplicates within the window.
pub const BEACON_SEEN_MAX: usize = 4096;

/// What a beacon says.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Beacon {
    /// Format version, [`BEACON_VERSION`]; a receiver drops any other.
    pub version: u16,
    /// The sender's node id: whom the link handshake must authenticate.
    pub node: NodeId,
    /// The port the sender accepts links on; the receiver dials it at the
    /// datagram's source address.
    pub tcp_port: u16,
    /// Sender's wall clock, milliseconds since the Unix epoch.
    pub sent_ms: u64,
}

/// Why a datagram was not accepted as a beacon. Nothing changes; the
/// datagram is dropped (another room's beacons are expected traffic).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum BeaconError {
    /// The datagram is not [`BEACON_BYTES`] long; its length in bytes.
    #[error("{0} bytes is not the size of a beacon")]
    Size(usize),
    /// It does not open with this room's beacon key: another room's beacon,
    /// or tampered.
    #[error("not sealed with this room's beacon key")]
    WrongRoom,
    /// It opened but the body does not decode canonically; the codec's
    /// reason.
    #[error("malformed beacon: {0}")]
    Malformed(String),
    /// The beacon's version is not [`BEACON_VERSION`]; the version found.
    #[error("beacon version {0} is not supported")]
    Version(u16),
    /// `sent_ms` is more than [`BEACON_WINDOW_MS`] from the receiver's
    /// clock: a replay, or a badly set clock.
    #[error("beacon stamped {skew_ms} ms away from this clock")]
    OutOfWindow {
        /// How far apart the two clocks' readings are, in milliseconds.
        skew_ms: u64,
    },
    /// A beacon with this nonce was already accepted (within the last
    /// [`BEACON_SEEN_MAX`] nonces and twice the window).
    #[error("duplicate beacon")]
    Duplicate,
    /// The beacon names this node: its own broadcast came back.
    #[error("this node's own beacon")]
    Own,
}

/// Seals `beacon` with `key` and `nonce` (12 fresh random bytes per beacon).
pub fn seal(key: &[u8; 32], nonce: [u8; BEACON_NONCE_BYTES], beacon: &Beacon) -> Vec<u8> {
    let cipher = ChaCha20Poly1305::new(&Key::from(*key));
    let body = codec::encode_value(beacon).unwrap_or_default();
    let mut out = Vec::with_capacity(BEACON_BYTES);
    out.extend_from_slice(&nonce);
    // Sealing a 44-byte body cannot fail (ChaCha20-Poly1305 only refuses
    // messages of gigabytes).
    if let Ok(ct) = cipher.encrypt(
        &Nonce::from(nonce),
        Payload {
            msg: &body,
            aad: BEACON_AAD,
        },
    ) {
        out.extend_from_slice(&ct);
    }
    out
}

/// Opens sealed beacons for one node: checks size, seal, encoding, version,
/// time window, duplicates and self.
pub struct BeaconOpener {
    key: [u8; 32],
    me: NodeId,
    /// Nonces seen, with when, oldest first (bounded).
    seen: VecDeque<([u8; BEACON_NONCE_BYTES], u64)>,
    seen_set: BTreeMap<[u8; BEACON_NONCE_BYTES], u64>,
}

impl BeaconOpener {
    /// An opener for node `me` with the room's beacon key, remembering no
    /// nonce yet.
    pub fn new(key: [u8; 32], me: NodeId) -> BeaconOpener {
        BeaconOpener {
            key,
            me,
            seen: VecDeque::new(),
            seen_set: BTreeMap::new(),
        }
    }

    /// Opens one datagram received at `now_ms` (Unix milliseconds).
    pub fn open(&mut self, datagram: &[u8], now_ms: u64) -> Result<Beacon, BeaconError> {
        if datagram.len() != BEACON_BYTES {
            return Err(BeaconError::Size(datagram.len()));
        }
        let mut nonce = [0u8; BEACON_NONCE_BYTES];
        nonce.copy_from_slice(&datagram[..BEACON_NONCE_BYTES]);
        let cipher = ChaCha20Poly1305::new(&Key::from(self.key));
        let body = cipher
            .decrypt(
                &Nonce::from(nonce),
                Payload {
                    msg: &datagram[BEACON_NONCE_BYTES..],
                    aad: BEACON_AAD,
                },
            )
            .map_err(|_| BeaconError::WrongRoom)?;
        let beacon: Beacon =
            codec::decode_value(&body).map_err(|e| BeaconError::Malformed(e.to_string()))?;
        if beacon.version != BEACON_VERSION {
            return Err(BeaconError::Version(beacon.version));
        }
        let skew_ms = beacon.sent_ms.abs_diff(now_ms);
        if skew_ms > BEACON_WINDOW_MS {
            return Err(BeaconError::OutOfWindow { skew_ms });
        }
        if beacon.node == self.me {
            return Err(BeaconError::Own);
        }
        self.expire(now_ms);
        if self.seen_set.contains_key(&nonce) {
            return Err(BeaconError::Duplicate);
        }
        if self.seen.len() >= BEACON_SEEN_MAX
            && let Some((old, _)) = self.seen.pop_front()
        {
            self.seen_set.remove(&old);
        }
        self.seen.push_back((nonce, now_ms));
        self.seen_set.insert(nonce, now_ms);
        Ok(beacon)
    }

    /// Forgets nonces older than twice the window: a replay that old is
    /// already out of the window.
    fn expire(&mut self, now_ms: u64) {
        while let Some(&(nonce, at)) = self.seen.front() {
            if now_ms.saturating_sub(at) <= 2 * BEACON_WINDOW_MS {
                break;
            }
            self.seen.pop_front();
            self.seen_set.remove(&nonce);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: u64 = 1_800_000_000_000;

    fn beacon(node: u8) -> Beacon {
        Beacon {
            version: BEACON_VERSION,
            node: NodeId([node; 32]),
            tcp_port: 9000,
            sent_ms: T,
        }
    }

    #[test]
    fn a_sealed_beacon_opens_in_the_same_room() {
        let sealed = seal(&[1; 32], [9; 12], &beacon(2));
        assert_eq!(sealed.len(), BEACON_BYTES);
        let mut o = BeaconOpener::new([1; 32], NodeId([3; 32]));
        assert_eq!(o.open(&sealed, T + 5), Ok(beacon(2)));
    }

    #[test]
    fn another_rooms_or_tampered_beacon_is_refused() {
        let sealed = seal(&[1; 32], [9; 12], &beacon(2));
        let mut other_room = BeaconOpener::new([2; 32], NodeId([3; 32]));
        assert_eq!(other_room.open(&sealed, T), Err(BeaconError::WrongRoom));
        let mut o = BeaconOpener::new([1; 32], NodeId([3; 32]));
        for i in [0, 12, 40, BEACON_BYTES - 1] {
            let mut bad = sealed.clone();
            bad[i] ^= 1;
            assert_eq!(o.open(&bad, T), Err(BeaconError::WrongRoom), "byte {i}");
        }
        assert_eq!(o.open(&sealed[..10], T), Err(BeaconError::Size(10)));
        assert_eq!(o.open(&[], T), Err(BeaconError::Size(0)));
    }

    #[test]
    fn stale_duplicate_and_own_beacons_are_dropped() {
        let mut o = BeaconOpener::new([1; 32], NodeId([3; 32]));
        let sealed = seal(&[1; 32], [9; 12], &beacon(2));
        assert_eq!(
            o.open(&sealed, T + BEACON_WINDOW_MS + 1),
            Err(BeaconError::OutOfWindow {
                skew_ms: BEACON_WINDOW_MS + 1
            })
        );
        assert_eq!(
            o.open(&sealed, T - BEACON_WINDOW_MS - 7),
            Err(BeaconError::OutOfWindow {
                skew_ms: BEACON_WINDOW_MS + 7
            })
        );
        assert!(o.open(&sealed, T).is_ok());
        assert_eq!(o.open(&sealed, T + 1), Err(BeaconError::Duplicate));
        // A fresh nonce is a new beacon.
        assert!(o.open(&seal(&[1; 32], [8; 12], &beacon(2)), T + 1).is_ok());
        let own = seal(&[1; 32], [7; 12], &beacon(3));
        assert_eq!(o.open(&own, T), Err(BeaconError::Own));
    }

    #[test]
    fn the_duplicate_memory_is_bounded() {
        let mut o = BeaconOpener::new([1; 32], NodeId([3; 32]));
        for i in 0..(BEACON_SEEN_MAX as u32 + 10) {
            let mut nonce = [0u8; 12];
            nonce[..4].copy_from_slice(&i.to_le_bytes());
            assert!(o.open(&seal(&[1; 32], nonce, &beacon(2)), T).is_ok());
        }
        assert_eq!(o.seen.len(), BEACON_SEEN_MAX);
        assert_eq!(o.seen_set.len(), BEACON_SEEN_MAX);
    }

    /// The vector in `docs/protocol.md` ("Beacons").
    #[test]
    fn documented_beacon_vector_holds() {
        let sealed = seal(&[0x42; 32], [0x24; 12], &beacon(0x11));
        assert_eq!(
            crate::id::to_hex(&sealed),
            concat!(
                "242424242424242424242424",
                "e507941ffacf49b9947a999af5060c89eed858a0b7324526c72b993b6679a3c0",
                "43fd4a86a377de5a48f280e1cab6ab9a2f5dec91e5917061dc9740dd"
            )
        );
    }
}
