//! Room codes and the keys they derive.
//!
//! A room code is what people share ("amber-otter-lunar-pine-river-cloud-4821").
//! It becomes a 32-byte `room_key` through Argon2id — memory-hard, because
//! room codes are short and anyone who gets a member to dial them can guess
//! offline — and the room key becomes four independent subkeys through
//! HKDF-SHA256. Parameters, labels and test vectors: `docs/protocol.md`,
//! "Keys".

use std::fmt;

use argon2::{Algorithm, Argon2, Params, Version};
use hkdf::Hkdf;
use rand::RngExt;
use sha2::Sha256;
use zeroize::{Zeroize, ZeroizeOnDrop};

use super::words::WORDS;

/// Argon2id memory cost: 64 MiB.
pub const ARGON2_MEMORY_KIB: u32 = 64 * 1024;
/// Argon2id passes.
pub const ARGON2_PASSES: u32 = 3;
/// Argon2id lanes.
pub const ARGON2_LANES: u32 = 1;
/// The fixed, domain-separated Argon2id salt. (A per-room random salt would
/// have to travel with the code; the code is all people share.)
pub const ROOM_KEY_SALT: &[u8] = b"flashmesh/room-key/v1";
/// HKDF-SHA256 `info` labels of the subkeys (no HKDF salt).
pub const LINK_PSK_INFO: &[u8] = b"flashmesh/link-psk/v1";
pub const BEACON_KEY_INFO: &[u8] = b"flashmesh/beacon-key/v1";
pub const SEAL_KEY_INFO: &[u8] = b"flashmesh/seal-key/v1";
pub const ROOM_TAG_INFO: &[u8] = b"flashmesh/room-tag/v1";
/// Bytes of the public room tag (shown as hex).
pub const ROOM_TAG_BYTES: usize = 8;
/// Longest accepted room code, in bytes after normalisation.
pub const ROOM_CODE_BYTES_MAX: usize = 256;
/// Codes estimated below this many bits get a warning (generated codes
/// carry at least this much).
pub const ROOM_CODE_BITS_MIN: f64 = 60.0;
/// Words and digits of a generated code: 6 words of 8 bits and 4 digits
/// (13.3 bits) = 61.3 bits.
pub const GENERATED_WORDS: usize = 6;
pub const GENERATED_DIGITS: usize = 4;

/// Why a room code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    #[error("the room code is empty")]
    Empty,
    #[error("the room code is {len} bytes long; at most {ROOM_CODE_BYTES_MAX} are allowed")]
    TooLong { len: usize },
    #[error("the room code has a control character")]
    ControlCharacter,
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

/// A room code, normalised so that what people type the same way derives
/// the same keys: surrounding space trimmed, letters lowercased, and every
/// run of spaces, `-`, `_` or `.` turned into one `-`.
#[derive(Clone, PartialEq, Eq, Zeroize, ZeroizeOnDrop)]
pub struct RoomCode(String);

impl RoomCode {
    /// Normalises and checks a typed code.
    pub fn parse(typed: &str) -> Result<RoomCode, RoomError> {
        if typed.chars().any(char::is_control) {
            return Err(RoomError::ControlCharacter);
        }
        let mut out = String::with_capacity(typed.len());
        let mut pending_sep = false;
        for c in typed.trim().chars() {
            if c.is_whitespace() || matches!(c, '-' | '_' | '.') {
                pending_sep = !out.is_empty();
                continue;
            }
            if pending_sep {
                out.push('-');
                pending_sep = false;
            }
            out.extend(c.to_lowercase());
        }
        if out.is_empty() {
            return Err(RoomError::Empty);
        }
        if out.len() > ROOM_CODE_BYTES_MAX {
            return Err(RoomError::TooLong { len: out.len() });
        }
        Ok(RoomCode(out))
    }

    /// A fresh strong code: six words from a 256-word list and four digits
    /// (61.3 bits), e.g. `amber-otter-lunar-pine-river-cloud-4821`.
    pub fn generate<R: rand::Rng + ?Sized>(rng: &mut R) -> RoomCode {
        let mut parts: Vec<String> = (0..GENERATED_WORDS)
            .map(|_| WORDS[rng.random_range(0..WORDS.len())].to_string())
            .collect();
        let digits: String = (0..GENERATED_DIGITS)
            .map(|_| char::from(b'0' + rng.random_range(0..10u8)))
            .collect();
        parts.push(digits);
        RoomCode(parts.join("-"))
    }

    /// The normalised code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// A rough, conservative estimate of the code's strength in bits. A code
    /// in the generated shape counts its real 61.3 bits. Otherwise each run
    /// of letters counts as one word from a large dictionary (at most 16
    /// bits, `log2(26)` per letter below that), each digit 3.3 bits and each
    /// other character 5 bits: "hackathon2026" is about 29 bits, four
    /// random words about 64. Only good for a warning.
    pub fn estimated_bits(&self) -> f64 {
        const WORD_BITS_MAX: f64 = 16.0;
        if self.is_generated_shape() {
            return GENERATED_WORDS as f64 * 8.0 + GENERATED_DIGITS as f64 * 10f64.log2();
        }
        let mut bits = 0.0;
        let mut letters = 0usize;
        let flush = |letters: &mut usize, bits: &mut f64| {
            *bits += (*letters as f64 * 26f64.log2()).min(WORD_BITS_MAX);
            *letters = 0;
        };
        for c in self.0.chars() {
            if c.is_alphabetic() {
                letters += 1;
                continue;
            }
            flush(&mut letters, &mut bits);
            if c.is_ascii_digit() {
                bits += 10f64.log2();
            } else if c != '-' {
                bits += 5.0;
            }
        }
        flush(&mut letters, &mut bits);
        bits
    }

    /// Whether people should be warned that the code is easy to guess.
    pub fn is_weak(&self) -> bool {
        self.estimated_bits() < ROOM_CODE_BITS_MIN
    }

    fn is_generated_shape(&self) -> bool {
        let parts: Vec<&str> = self.0.split('-').collect();
        parts.len() == GENERATED_WORDS + 1
            && parts[..GENERATED_WORDS].iter().all(|w| WORDS.contains(w))
            && parts[GENERATED_WORDS].len() == GENERATED_DIGITS
            && parts[GENERATED_WORDS].bytes().all(|b| b.is_ascii_digit())
    }
}

impl fmt::Debug for RoomCode {
    /// Never prints the code itself.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("RoomCode(..)")
    }
}

/// Every key a room code gives. Secret parts are wiped on drop.
#[derive(Clone, Zeroize, ZeroizeOnDrop)]
pub struct RoomKeys {
    /// The Noise `XXpsk3` pre-shared key of every link.
    pub link_psk: [u8; 32],
    /// Seals and opens discovery beacons.
    pub beacon_key: [u8; 32],
    /// Seals op bodies for the room.
    pub seal_key: [u8; 32],
    /// Public-safe tag: names the room's data directory and appears in logs.
    pub room_tag: [u8; ROOM_TAG_BYTES],
}

impl RoomKeys {
    /// Derives the keys. Argon2id takes 64 MiB and a noticeable fraction
    /// of a second: call it once per start, off any latency-sensitive path.
    pub fn derive(code: &RoomCode) -> Result<RoomKeys, RoomError> {
        let mut room_key = room_key(code)?;
        let keys = RoomKeys::from_room_key(&room_key);
        room_key.zeroize();
        keys
    }

    /// The subkeys of a room key (HKDF-SHA256, no salt, one label each).
    pub fn from_room_key(room_key: &[u8; 32]) -> Result<RoomKeys, RoomError> {
        let hk = Hkdf::<Sha256>::new(None, room_key);
        let mut keys = RoomKeys {
            link_psk: [0; 32],
            beacon_key: [0; 32],
            seal_key: [0; 32],
            room_tag: [0; ROOM_TAG_BYTES],
        };
        let kdf = |e: hkdf::InvalidLength| RoomError::Kdf(e.to_string());
        hk.expand(LINK_PSK_INFO, &mut keys.link_psk).map_err(kdf)?;
        hk.expand(BEACON_KEY_INFO, &mut keys.beacon_key)
            .map_err(kdf)?;
        hk.expand(SEAL_KEY_INFO, &mut keys.seal_key).map_err(kdf)?;
        hk.expand(ROOM_TAG_INFO, &mut keys.room_tag).map_err(kdf)?;
        Ok(keys)
    }

    /// The room tag as hex (16 digits).
    pub fn room_tag_hex(&self) -> String {
        crate::id::to_hex(&self.room_tag)
    }
}

impl fmt::Debug for RoomKeys {
    /// Prints only the public tag.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RoomKeys {{ room_tag: {} }}", self.room_tag_hex())
    }
}

/// Argon2id(code, ROOM_KEY_SALT) → 32 bytes.
pub fn room_key(code: &RoomCode) -> Result<[u8; 32], RoomError> {
    let params = Params::new(ARGON2_MEMORY_KIB, ARGON2_PASSES, ARGON2_LANES, Some(32))
        .map_err(|e| RoomError::Kdf(e.to_string()))?;
    let mut out = [0u8; 32];
    Argon2::new(Algorithm::Argon2id, Version::V0x13, params)
        .hash_password_into(code.as_str().as_bytes(), ROOM_KEY_SALT, &mut out)
        .map_err(|e| RoomError::Kdf(e.to_string()))?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::id::to_hex;
    use rand::SeedableRng;

    #[test]
    fn typing_variations_normalise_to_one_code() {
        let a = RoomCode::parse("  Amber Otter--lunar_pine.4821 ").expect("valid");
        assert_eq!(a.as_str(), "amber-otter-lunar-pine-4821");
        assert_eq!(RoomCode::parse("amber-otter-lunar-pine-4821"), Ok(a));
    }

    #[test]
    fn bad_codes_are_refused_with_a_reason() {
        assert_eq!(RoomCode::parse("   "), Err(RoomError::Empty));
        assert_eq!(RoomCode::parse("-_-"), Err(RoomError::Empty));
        assert_eq!(
            RoomCode::parse("a\tb\u{7}"),
            Err(RoomError::ControlCharacter)
        );
        assert_eq!(
            RoomCode::parse(&"x".repeat(300)),
            Err(RoomError::TooLong { len: 300 })
        );
    }

    #[test]
    fn generated_codes_are_strong_and_typed_demo_codes_are_weak() {
        let mut rng = crate::proto::EngineRng::seed_from_u64(7);
        for _ in 0..50 {
            let code = RoomCode::generate(&mut rng);
            assert!(!code.is_weak(), "{} is weak", code.as_str());
            assert!(code.estimated_bits() >= ROOM_CODE_BITS_MIN);
            // A generated code survives being retyped.
            assert_eq!(RoomCode::parse(&code.as_str().to_uppercase()), Ok(code));
        }
        for weak in [
            "demo-room",
            "hackathon2026",
            "1234",
            "password",
            "DEMO ROOM 42",
        ] {
            let code = RoomCode::parse(weak).expect("valid");
            assert!(code.is_weak(), "{weak} should be weak");
        }
        for strong in [
            "correct horse battery staple",
            "tulip-9931-orbit-7702-kayak-15",
        ] {
            let code = RoomCode::parse(strong).expect("valid");
            assert!(!code.is_weak(), "{strong} should pass");
        }
    }

    #[test]
    fn the_word_list_has_256_distinct_lowercase_words() {
        let set: std::collections::BTreeSet<&str> = WORDS.iter().copied().collect();
        assert_eq!(set.len(), 256);
        assert!(
            WORDS
                .iter()
                .all(|w| w.bytes().all(|b| b.is_ascii_lowercase()))
        );
    }

    #[test]
    fn debug_output_never_shows_secrets() {
        let code = RoomCode::parse("secret-words-here").expect("valid");
        assert_eq!(format!("{code:?}"), "RoomCode(..)");
        let keys = RoomKeys::from_room_key(&[7; 32]).expect("derives");
        let shown = format!("{keys:?}");
        assert!(!shown.contains(&to_hex(&keys.link_psk)));
        assert!(shown.contains(&keys.room_tag_hex()));
    }

    /// The vectors in `docs/protocol.md` ("Keys"); a change here is a
    /// protocol change.
    #[test]
    fn documented_key_vectors_hold() {
        let code = RoomCode::parse("demo-room").expect("valid");
        let room_key = room_key(&code).expect("derives");
        assert_eq!(
            to_hex(&room_key),
            "f02e881c814436437344d7a098aece601823198e7aebd770d41f3430fe23c8ab"
        );
        let keys = RoomKeys::derive(&code).expect("derives");
        assert_eq!(
            to_hex(&keys.link_psk),
            "af5773cf492404d62efd42e693ce0e845ce13852f116268f767e1f34c3d50b9d"
        );
        assert_eq!(
            to_hex(&keys.beacon_key),
            "29cadf940dbf77ce51dcb1e6981cc7c8e3dff6d8bafc6f8c82c0d2c5464a4a94"
        );
        assert_eq!(
            to_hex(&keys.seal_key),
            "1916f326b488c2684e3532c64eea68baf6ad5465162c2121e526d615b780f949"
        );
        assert_eq!(keys.room_tag_hex(), "f73fea14db28b23d");
        let other =
            RoomKeys::derive(&RoomCode::parse("demo-room-2").expect("valid")).expect("derives");
        assert_ne!(other.link_psk, keys.link_psk);
        assert_ne!(other.room_tag, keys.room_tag);
    }
}
