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
use crate::id::NodeId;

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
/// HKDF `info` label of the beacon key, which seals and opens beacons
/// (32 bytes).
pub const BEACON_KEY_INFO: &[u8] = b"flashmesh/beacon-key/v1";
/// HKDF `info` label of the seal key, which seals op bodies (32 bytes).
pub const SEAL_KEY_INFO: &[u8] = b"flashmesh/seal-key/v1";
/// HKDF `info` label of the public room tag ([`ROOM_TAG_BYTES`] bytes),
/// used in file names and logs.
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
/// Digits after the words of a generated code, each uniform in `0`–`9`.
pub const GENERATED_DIGITS: usize = 4;

/// Why a room code was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RoomError {
    /// Nothing is left after trimming and dropping separators (white space,
    /// `-`, `_`, `.`).
    #[error("the room code is empty")]
    Empty,
    /// The normalised code is longer than [`ROOM_CODE_BYTES_MAX`].
    #[error("the room code is {len} bytes long; at most {ROOM_CODE_BYTES_MAX} are allowed")]
    TooLong {
        /// Its length in UTF-8 bytes, after normalisation.
        len: usize,
    },
    /// The typed text holds a control character (Unicode category Cc),
    /// anywhere, including a tab or newline at either end.
    #[error("the room code has a control character")]
    ControlCharacter,
    /// Argon2id or HKDF refused its parameters (does not happen with the
    /// built-in constants); the library's reason.
    #[error("key derivation failed: {0}")]
    Kdf(String),
}

/// A room code, normalised so that what people type the same way derives
/// the same keys: surrounding space trimmed, letters lowercased, and every
/// run of spaces, `-`, `_` or `.` turned into one `-`.
///
/// Lowercasing is per character, each char's [`char::to_lowercase`] in
/// order, with no context-dependent mapping: `ΟΔΟΣ` becomes `οδοσ` (every
/// Σ a σ), not `οδος` as [`str::to_lowercase`]'s final-sigma rule would
/// give, and a typed `ς` stays `ς`. The exact rule, and its dependence on
/// the Unicode version of the standard library, is in `docs/protocol.md`
/// ("Room code").
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
    /// of letters (`char::is_alphabetic`) counts as one word from a large
    /// dictionary (at most 16 bits, `log2(26)` per letter below that), each
    /// ASCII digit `log2(10)` bits, each `-` (the one separator left after
    /// normalisation) nothing, and each other character 5 bits:
    /// "hackathon2026" is about 29 bits, four random words 64. Only good
    /// for a warning. Vectors: `docs/protocol.md` ("Room code").
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
    /// The Noise `XXpsk0` pre-shared key of every link.
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
        RoomKeys::derive_rooted(code, None)
    }

    /// Derives the keys of the room with this code and, if given, this
    /// root (the node that runs the room): the root's 32 bytes are the
    /// HKDF salt, so a rooted room's keys differ from the open room's of
    /// the same code.
    pub fn derive_rooted(code: &RoomCode, root: Option<&NodeId>) -> Result<RoomKeys, RoomError> {
        let mut room_key = room_key(code)?;
        let keys = RoomKeys::from_room_key_rooted(&room_key, root);
        room_key.zeroize();
        keys
    }

    /// The subkeys of a room key (HKDF-SHA256, no salt, one label each).
    pub fn from_room_key(room_key: &[u8; 32]) -> Result<RoomKeys, RoomError> {
        RoomKeys::from_room_key_rooted(room_key, None)
    }

    /// The subkeys of a room key: HKDF-SHA256 with the root's 32 bytes as
    /// salt (no salt for a room without a root), one label each.
    pub fn from_room_key_rooted(
        room_key: &[u8; 32],
        root: Option<&NodeId>,
    ) -> Result<RoomKeys, RoomError> {
        let hk = Hkdf::<Sha256>::new(root.map(|r| r.as_bytes().as_slice()), room_key);
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
    fn capital_sigma_lowercases_per_character_without_the_final_sigma_rule() {
        let code = RoomCode::parse("ΟΔΟΣ").expect("valid");
        assert_eq!(
            code.as_str().as_bytes(),
            b"\xce\xbf\xce\xb4\xce\xbf\xcf\x83"
        );
        assert_eq!(code.as_str(), "οδοσ");
        // A typed final sigma is kept as it is: another room.
        let typed_final = RoomCode::parse("οδος").expect("valid");
        assert_eq!(
            typed_final.as_str().as_bytes(),
            b"\xce\xbf\xce\xb4\xce\xbf\xcf\x82"
        );
        assert_ne!(typed_final, code);
        // Context-free, unconditional mappings only: İ (U+0130) becomes
        // i + U+0307 whatever surrounds it.
        assert_eq!(RoomCode::parse("İ").expect("valid").as_str(), "i\u{307}");
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

    /// The vectors in `docs/protocol.md` ("Room code"): code, estimated
    /// bits (to 2 decimals), weak or not.
    #[test]
    fn estimated_bits_follow_the_documented_vectors() {
        for (typed, bits, weak) in [
            ("demo-room", 32.0, true),
            ("hackathon2026", 29.29, true),
            ("DEMO ROOM 42", 38.64, true),
            ("p@ss w0rd!", 41.52, true),
            ("ΟΔΟΣ", 16.0, true),
            ("a b c d e f g h i j k l m", 61.11, false),
            ("correct horse battery staple", 64.0, false),
            ("amber-otter-lunar-pine-river-cloud", 96.0, false),
            ("amber-otter-lunar-pine-river-cloud-4821", 61.29, false),
            ("amber-otter-lunar-pine-river-cloud-482", 105.97, false),
        ] {
            let code = RoomCode::parse(typed).expect("valid");
            let got = (code.estimated_bits() * 100.0).round() / 100.0;
            assert_eq!((got, code.is_weak()), (bits, weak), "{typed}");
        }
    }

    /// `docs/protocol.md` ("Room code") lists the words and gives this
    /// checksum: SHA-256 of the words in order, joined by `\n`, no final
    /// newline.
    #[test]
    fn the_word_list_matches_the_documented_checksum() {
        use sha2::Digest;
        let digest = Sha256::digest(WORDS.join("\n").as_bytes());
        assert_eq!(
            to_hex(&digest),
            "6541a086520736c1360c5fd7ee1c626e1a590ea464b6ab6dbe8731fdcd5b0a3f"
        );
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

    /// The `ΟΔΟΣ` vector in `docs/protocol.md` ("Keys"), computed
    /// independently with Python's `argon2-cffi` and `hmac` from the bytes
    /// `cebfceb4cebfcf83`.
    #[test]
    fn documented_capital_sigma_vector_holds() {
        let code = RoomCode::parse("ΟΔΟΣ").expect("valid");
        let room_key = room_key(&code).expect("derives");
        assert_eq!(
            to_hex(&room_key),
            "b5cd65086a126bec63208007a86dfd9de39f4c1c96ba46ffe9546fba31b22ccd"
        );
        let keys = RoomKeys::from_room_key(&room_key).expect("derives");
        assert_eq!(
            to_hex(&keys.link_psk),
            "e712844f368f15e37c444f3c4f066ea78c050e97bf9449feb49ccf332fd898b4"
        );
        assert_eq!(
            to_hex(&keys.beacon_key),
            "b8be15c6f36f9591f3d97a247b90ff045d524977bef3933f6b0962b834732d60"
        );
        assert_eq!(
            to_hex(&keys.seal_key),
            "cdf3227960c3a7f663f928a3ef2079d9ac58ba5bb5a65593a884277eee448ac2"
        );
        assert_eq!(keys.room_tag_hex(), "82143af2efdfe3f0");
    }

    /// The rooted vector in `docs/protocol.md` ("Keys"): `demo-room` with
    /// root `ab` × 32, computed independently with Python's `hmac` from
    /// the room key above (HKDF-SHA256, the root as salt).
    #[test]
    fn documented_rooted_vector_holds() {
        let code = RoomCode::parse("demo-room").expect("valid");
        let root = NodeId([0xab; 32]);
        let keys = RoomKeys::derive_rooted(&code, Some(&root)).expect("derives");
        assert_eq!(
            to_hex(&keys.link_psk),
            "6c09ac887a1e8f7a76d00d34131634cb7f1b655480ab86ed51101edd75ae5667"
        );
        assert_eq!(
            to_hex(&keys.beacon_key),
            "b19457d809f8b3f50e4a2fca8240f69a7d92cb2640c1a54a7775bf6e6f8cc448"
        );
        assert_eq!(
            to_hex(&keys.seal_key),
            "a142aa90ca8f6418d46bdb3424691aec1fe8bc316bf67302cf59cb63b6fbe0f2"
        );
        assert_eq!(keys.room_tag_hex(), "dcac675980d3ca59");
        let open = RoomKeys::derive_rooted(&code, None).expect("derives");
        assert_eq!(
            open.link_psk,
            RoomKeys::derive(&code).expect("derives").link_psk
        );
    }
}
