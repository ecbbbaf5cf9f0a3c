//! Cryptography: room codes and the keys they derive ([`room`]), a
//! node's persisted identity ([`identity`]), sealed direct messages
//! ([`dm`]) and signed broadcasts ([`broadcast`]).
//!
//! Nothing here is hand-rolled: Argon2id (`argon2`), HKDF-SHA256 (`hkdf`,
//! `sha2`), Ed25519 (`ed25519-dalek`), X25519 (`x25519-dalek`). Key material is wiped on drop (`zeroize`) and never printed.

pub mod broadcast;
pub mod dm;
pub mod identity;
pub mod room;
mod words;

pub use identity::{Identity, IdentityError};
pub use room::{RoomCode, RoomError, RoomKeys};
