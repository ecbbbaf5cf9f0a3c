//! Cryptography: room codes and the keys they derive ([`room`]).
//!
//! Nothing here is hand-rolled: Argon2id (`argon2`), HKDF-SHA256 (`hkdf`,
//! `sha2`). Key material is wiped on drop (`zeroize`) and never printed.

pub mod room;
mod words;

pub use room::{RoomCode, RoomError, RoomKeys};
